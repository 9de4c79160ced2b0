// coordinator/group room tests: fixes to the KIP-848 online migration — the ClassicMemberMetadata
// tag written byte for byte as Kafka 4.4 writes it, a static classic member restarted with the
// consumer protocol no longer kept classic, a classic JoinGroup whose write failed still timed
// out, and a failed downgrade write retried with the classic group as it is at the retry.
import t, { type Test } from 'tap';
import { GroupCoordinator } from '../../src/coordinator/group/coordinator.js';
import type { ConsumerHeartbeatResult, TopicsView } from '../../src/coordinator/group/consumer-coordinator.js';
import { decodeAssignment, encodeAssignment } from '../../src/coordinator/group/consumer-protocol.js';
import {
  CONSUMER_GROUP_MEMBER_METADATA,
  decodeConsumerGroupKey,
  decodeMemberMetadataValue,
  encodeMemberMetadataValue,
} from '../../src/coordinator/group/consumer-records.js';
import { GroupErrorCode as E } from '../../src/coordinator/group/errors.js';
import type { JoinGroupResult } from '../../src/coordinator/group/group.js';
import { ManualClock, MemoryOffsetsLog } from '../../src/coordinator/group/memory-log.js';
import { defaultGroupCoordinatorConfig, type GroupCoordinatorConfig, type GroupLogger } from '../../src/coordinator/group/ports.js';

const tick = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};
const silent: GroupLogger = { debug() {}, info() {}, warn() {}, error() {} };
const TOPIC = 'orders';
const TOPIC_ID = Buffer.alloc(16, 1).toString('base64url');

const topics: TopicsView = {
  names: () => [TOPIC],
  byName: (name) => (name === TOPIC ? { topicId: TOPIC_ID, numPartitions: 4 } : undefined),
  nameOf: (topicId) => (topicId === TOPIC_ID ? TOPIC : undefined),
};

/** ConsumerProtocolSubscription v1: one topic, no user data, owned partitions. */
function subscription(owned: number[]): Buffer {
  const parts: Buffer[] = [];
  const i16 = (v: number) => parts.push(Buffer.from([(v >> 8) & 0xff, v & 0xff]));
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    parts.push(b);
  };
  const str = (s: string) => {
    i16(Buffer.byteLength(s));
    parts.push(Buffer.from(s));
  };
  i16(1);
  i32(1);
  str(TOPIC);
  i32(-1);
  if (owned.length === 0) i32(0);
  else {
    i32(1);
    str(TOPIC);
    i32(owned.length);
    for (const p of owned) i32(p);
  }
  return Buffer.concat(parts);
}

async function start(log: MemoryOffsetsLog, clock: ManualClock, overrides: Partial<GroupCoordinatorConfig> = {}): Promise<GroupCoordinator> {
  const config = { ...defaultGroupCoordinatorConfig, groupInitialRebalanceDelayMs: 100, ...overrides };
  const c = new GroupCoordinator({ log, numPartitions: log.numPartitions, clock, logger: silent, config });
  const partitions = Array.from({ length: c.numPartitions }, (_, p) => p);
  for (const p of partitions) c.onElection(p, 0);
  await Promise.all(partitions.map((p) => c.awaitLoaded(p, 60_000)));
  return c;
}

class ClassicClient {
  memberId = '';
  generation = -1;
  owned: number[] = [];
  constructor(
    public coordinator: GroupCoordinator,
    readonly name: string,
    readonly instanceId: string | null = null,
  ) {}
  async join(): Promise<JoinGroupResult> {
    this.owned = [];
    const r = await this.coordinator.joinGroup({
      groupId: 'g', memberId: this.memberId, groupInstanceId: this.instanceId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(this.owned) }], clientId: this.name, clientHost: '/127.0.0.1', requireKnownMemberId: false, supportSkipAssignment: false, topics,
    });
    if (r.errorCode === E.NONE) {
      this.memberId = r.memberId;
      this.generation = r.generationId;
    }
    return r;
  }
  async sync(assignments: Array<{ memberId: string; assignment: Buffer }> = []): Promise<number> {
    const r = await this.coordinator.syncGroup({ groupId: 'g', generationId: this.generation, memberId: this.memberId, groupInstanceId: this.instanceId, protocolType: 'consumer', protocolName: 'range', assignments, topics });
    if (r.errorCode === E.NONE) this.owned = decodeAssignment(r.assignment)?.[TOPIC] ?? [];
    return r.errorCode;
  }
  heartbeat(): number {
    return this.coordinator.heartbeat({ groupId: 'g', generationId: this.generation, memberId: this.memberId, groupInstanceId: this.instanceId });
  }
}

class ConsumerClient {
  epoch = 0;
  owned: number[] = [];
  constructor(
    public coordinator: GroupCoordinator,
    readonly memberId: string,
    readonly instanceId: string | null = null,
  ) {}
  async beat(epoch = this.epoch): Promise<ConsumerHeartbeatResult> {
    const full = epoch === 0;
    const r = await this.coordinator.consumerGroupHeartbeat({
      groupId: 'g', memberId: this.memberId, memberEpoch: epoch, instanceId: this.instanceId, rackId: null,
      rebalanceTimeoutMs: full ? 20_000 : -1, subscribedTopicNames: full ? [TOPIC] : null, subscribedTopicRegex: null, serverAssignor: null,
      topicPartitions: this.owned.length === 0 && !full ? [] : [{ topicId: TOPIC_ID, partitions: this.owned }], clientId: 'consumer', clientHost: '/127.0.0.1', topics,
    });
    if (r.errorCode === E.NONE && epoch >= 0) {
      this.epoch = r.memberEpoch;
      if (r.assignment !== null) this.owned = r.assignment.topicPartitions.flatMap((x) => x.partitions);
    }
    return r;
  }
}

/** Two classic members in a Stable classic group: A owns 0-1, B owns 2-3. */
async function stableClassicGroup(t: Test, coordinator: GroupCoordinator, clock: ManualClock, instanceIds: [string | null, string | null] = [null, null]) {
  const a = new ClassicClient(coordinator, 'A', instanceIds[0]);
  const b = new ClassicClient(coordinator, 'B', instanceIds[1]);
  const joins = [a.join(), b.join()];
  await tick(1);
  clock.advance(1000);
  const [ja] = await Promise.all(joins);
  const leader = ja.leader === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  const syncs = [
    leader.sync([
      { memberId: a.memberId, assignment: encodeAssignment({ [TOPIC]: [0, 1] }) },
      { memberId: b.memberId, assignment: encodeAssignment({ [TOPIC]: [2, 3] }) },
    ]),
    follower.sync(),
  ];
  t.same(await Promise.all(syncs), [E.NONE, E.NONE], 'the classic group is stable');
  return { a, b };
}

/** The last member metadata record of `memberId` in the log. */
function lastMemberRecord(log: MemoryOffsetsLog, memberId: string): Buffer | null | undefined {
  let found: Buffer | null | undefined;
  for (const entries of log.partitions) {
    for (const e of entries) {
      if (e.key.length < 2 || e.key.readInt16BE(0) !== CONSUMER_GROUP_MEMBER_METADATA) continue;
      if (decodeConsumerGroupKey(e.key).member === memberId) found = e.value;
    }
  }
  return found;
}

t.test('ClassicMemberMetadata (tag 0) is written and read as Kafka 4.4 does', async (t) => {
  // Produced with Kafka 4.4.0's generated class (kafka-group-coordinator-4.4.0.jar) in jshell:
  //   var p = new ConsumerGroupMemberMetadataValue.ClassicProtocol().setName("range").setMetadata(new byte[]{1,2,3});
  //   var c = new ConsumerGroupMemberMetadataValue.ClassicMemberMetadata().setSessionTimeoutMs(45000).setSupportedProtocols(List.of(p));
  //   var v = new ConsumerGroupMemberMetadataValue().setInstanceId("i1").setRackId(null).setClientId("c").setClientHost("/h")
  //     .setSubscribedTopicNames(List.of("t")).setSubscribedTopicRegex(null).setRebalanceTimeoutMs(30000).setServerAssignor(null).setClassicMemberMetadata(c);
  //   HexFormat.of().formatHex(MessageUtil.toVersionPrefixedBytes((short) 0, v));            // classic
  //   ... v.duplicate().setClassicMemberMetadata(null) ...                                     // consumer protocol
  // Tag 0 holds uvarint(size + 1), a presence byte 1, then the struct; null is the tag with the single byte 0.
  const classicHex = '0000036931000263032f68020274000000753000010012010000afc8020672616e6765040102030000';
  const consumerHex = '0000036931000263032f6802027400000075300001000100';
  const base = { instanceId: 'i1', rackId: null, clientId: 'c', clientHost: '/h', subscribedTopicNames: ['t'], subscribedTopicRegex: null, rebalanceTimeoutMs: 30_000, serverAssignor: null };
  const classic = { sessionTimeoutMs: 45_000, supportedProtocols: [{ name: 'range', metadata: Buffer.from([1, 2, 3]) }] };
  t.equal(encodeMemberMetadataValue({ ...base, classicMemberMetadata: classic }).toString('hex'), classicHex, 'a classic member: the bytes Kafka writes');
  t.equal(encodeMemberMetadataValue({ ...base, classicMemberMetadata: null }).toString('hex'), consumerHex, 'a consumer-protocol member: the bytes Kafka writes');
  t.same(decodeMemberMetadataValue(Buffer.from(classicHex, 'hex')), { ...base, classicMemberMetadata: classic }, 'Kafka\'s classic member record is read');
  t.same(decodeMemberMetadataValue(Buffer.from(consumerHex, 'hex')), { ...base, classicMemberMetadata: null }, 'Kafka\'s consumer member record is read');
  // A record without the tag (older Spool records) is a consumer-protocol member.
  t.equal(decodeMemberMetadataValue(Buffer.from('0000036931000263032f680202740000007530' + '0000', 'hex')).classicMemberMetadata, null);
});

t.test('a static classic member restarted with the consumer protocol is no longer a classic member', async (t) => {
  const log = new MemoryOffsetsLog(4);
  const clock = new ManualClock();
  let coordinator = await start(log, clock);
  const { b } = await stableClassicGroup(t, coordinator, clock, ['i1', 'i2']);
  // A's next incarnation (same group.instance.id, group.protocol=consumer) upgrades the group and replaces A.
  const a2 = new ConsumerClient(coordinator, 'a2', 'i1');
  t.equal((await a2.beat()).errorCode, E.NONE, 'the consumer-protocol incarnation joins');
  const members = coordinator.describeConsumerGroups(['g'], topics)[0].members;
  t.same(members.map((m) => [m.instanceId, m.memberType]).sort(), [['i1', 1], ['i2', 0]], 'memberType 1 (consumer) for the new incarnation, 0 for B');
  const record = lastMemberRecord(log, 'a2');
  t.ok(record, 'its member record was written');
  if (record) t.equal(decodeMemberMetadataValue(record).classicMemberMetadata, null, 'with ClassicMemberMetadata null');

  // Its session is group.consumer.session.timeout.ms (45 s), not the classic member's 10 s.
  for (let i = 0; i < 6; i++) {
    clock.advance(2_000);
    b.heartbeat();
  }
  t.ok(coordinator.describeConsumerGroups(['g'], topics)[0].members.some((m) => m.memberId === 'a2'), 'still a member after 12 s without heartbeats');

  // B's session ends: A2 is a consumer-protocol member, so the group is not downgraded.
  for (let i = 0; i < 6; i++) {
    clock.advance(2_000);
    t.equal((await a2.beat()).errorCode, E.NONE);
  }
  const described = coordinator.describeConsumerGroups(['g'], topics)[0];
  t.equal(described.errorCode, E.NONE, 'still a consumer group');
  t.same(described.members.map((m) => m.memberId), ['a2'], 'of the consumer-protocol member alone');
  t.equal(b.heartbeat(), E.UNKNOWN_MEMBER_ID, 'B is gone');

  // After a restart it is still a consumer-protocol member.
  coordinator.close();
  coordinator = await start(log, clock);
  t.same(coordinator.describeConsumerGroups(['g'], topics)[0].members.map((m) => m.memberType), [1], 'rebuilt as a consumer-protocol member');
  coordinator.close();
});

t.test('a classic member whose JoinGroup write failed is fenced when it does not come back', async (t) => {
  const log = new MemoryOffsetsLog(4);
  const clock = new ManualClock();
  const coordinator = await start(log, clock);
  const c = new ConsumerClient(coordinator, 'c-1');
  t.equal((await c.beat()).errorCode, E.NONE);
  t.same(c.owned, [0, 1, 2, 3]);
  log.failNextAppend = new Error('disk full');
  const d = new ClassicClient(coordinator, 'D');
  t.not((await d.join()).errorCode, E.NONE, 'the JoinGroup fails with its write');
  // The client never returns; the consumer-protocol member keeps heartbeating past the timeouts.
  for (let i = 0; i < 12; i++) {
    clock.advance(2_000);
    await c.beat();
  }
  const described = coordinator.describeConsumerGroups(['g'], topics)[0];
  t.same(described.members.map((m) => m.memberId), ['c-1'], 'the member whose join was not written is gone');
  t.same(c.owned, [0, 1, 2, 3], 'and holds no partitions');
  coordinator.close();
});

t.test('a failed downgrade write is retried with the classic group as it is then', async (t) => {
  const log = new MemoryOffsetsLog(4);
  const clock = new ManualClock();
  let coordinator = await start(log, clock);
  const { a, b } = await stableClassicGroup(t, coordinator, clock);
  const c = new ConsumerClient(coordinator, 'c-1');
  t.equal((await c.beat()).errorCode, E.NONE, 'upgraded');
  // Let the classic members reconcile once (they rejoin inside the consumer group).
  for (const x of [a, b]) {
    if (x.heartbeat() !== E.NONE && (await x.join()).errorCode === E.NONE) await x.sync();
  }
  await c.beat();

  // The last consumer-protocol member leaves: the downgrade's write fails.
  log.failNextAppend = new Error('disk full');
  t.not((await c.beat(-1)).errorCode, E.NONE, 'the leave fails with its write');
  const downgraded = coordinator.describeGroups(['g'])[0];
  t.equal(downgraded.groupState, 'PreparingRebalance', 'the classic group rebalances in memory');
  // The classic rebalance completes (and is written) before the retry.
  const [ja, jb] = await Promise.all([a.join(), b.join()]);
  t.same([ja.errorCode, jb.errorCode], [E.NONE, E.NONE]);
  const generation = ja.generationId;
  const leader = ja.leader === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  t.same(
    await Promise.all([
      leader.sync([
        { memberId: a.memberId, assignment: encodeAssignment({ [TOPIC]: [0, 2] }) },
        { memberId: b.memberId, assignment: encodeAssignment({ [TOPIC]: [1, 3] }) },
      ]),
      follower.sync(),
    ]),
    [E.NONE, E.NONE],
  );
  t.equal(coordinator.describeGroups(['g'])[0].groupState, 'Stable');
  // The retry (1 s later).
  clock.advance(1_000);
  await tick();

  coordinator.close();
  coordinator = await start(log, clock);
  const reloaded = coordinator.describeGroups(['g'])[0];
  t.equal(reloaded.groupState, 'Stable', 'the classic group is rebuilt');
  a.coordinator = coordinator;
  t.equal(a.generation, generation);
  t.equal(a.heartbeat(), E.NONE, `at the generation of its rebalance (${generation}), not the downgrade's`);
  t.equal(coordinator.describeConsumerGroups(['g'], topics)[0].errorCode, E.GROUP_ID_NOT_FOUND, 'the consumer group records were tombstoned by the retry');
  coordinator.close();
});
