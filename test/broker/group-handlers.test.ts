// api/ room tests (groups): the group handlers' per-version translation, against a fake broker
// whose __consumer_offsets partitions keep batches in memory (exercising the batch encoder and
// decoder used for the real topic).
import t from 'tap';
import pino from 'pino';
import { groupApis } from '../../src/api/group-handlers.js';
import type { ApiServices } from '../../src/api/services.js';
import type { RequestContext } from '../../src/api/types.js';
import { encodeSubscription } from '../../src/coordinator/group/consumer-protocol.js';
import { GroupCoordinator } from '../../src/coordinator/group/coordinator.js';
import { decodeOffsetsBatches, encodeOffsetsBatch } from '../../src/coordinator/group/offsets-topic.js';
import { defaultGroupCoordinatorConfig, systemClock } from '../../src/coordinator/group/ports.js';
import type { CoordinatorRecord } from '../../src/coordinator/runtime/ports.js';
import { plaintextSecurity } from '../../src/security/index.js';

const OFFSETS_PARTITIONS = 5;

/** In-memory __consumer_offsets partitions: appended batches get consecutive offsets. */
class FakeOffsetsLog {
  private readonly batches: Buffer[][] = Array.from({ length: OFFSETS_PARTITIONS }, () => []);
  private readonly ends: number[] = Array.from({ length: OFFSETS_PARTITIONS }, () => 0);

  append(partition: number, _leaderEpoch: number, records: CoordinatorRecord[]): Promise<{ lastOffset: number }> {
    const copy = Buffer.from(encodeOffsetsBatch(records, Date.now()));
    copy.writeBigInt64BE(BigInt(this.ends[partition]), 0);
    this.ends[partition] += copy.readInt32BE(23) + 1;
    this.batches[partition].push(copy);
    return Promise.resolve({ lastOffset: this.ends[partition] - 1 });
  }

  appendMarker(): Promise<void> {
    return Promise.reject(new Error('no transactions in this test'));
  }

  read(partition: number): Iterable<CoordinatorRecord> {
    return decodeOffsetsBatches(Buffer.concat(this.batches[partition]), { decompress: (_c, d) => d }).records;
  }
}

/** The services the group handlers use: node 7 leads every __consumer_offsets partition. */
async function fakeServices(topics: Record<string, number>): Promise<ApiServices & { groupCoordinator: GroupCoordinator }> {
  const groupCoordinator = new GroupCoordinator({
    log: new FakeOffsetsLog(),
    numPartitions: OFFSETS_PARTITIONS,
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    config: { ...defaultGroupCoordinatorConfig, groupInitialRebalanceDelayMs: 0 },
  });
  for (let p = 0; p < OFFSETS_PARTITIONS; p++) groupCoordinator.onElection(p, 0);
  await Promise.all(Array.from({ length: OFFSETS_PARTITIONS }, (_, p) => groupCoordinator.awaitLoaded(p, 5000)));
  const partitionState = (topic: string, partition: number) => {
    const count = topic === '__consumer_offsets' ? OFFSETS_PARTITIONS : (topics as Partial<Record<string, number>>)[topic];
    if (count === undefined || partition < 0 || partition >= count) return undefined;
    return { topic, topicId: 'x', partition, replicas: [7], isr: [7], leader: 7, leaderEpoch: 0, partitionEpoch: 0 };
  };
  const fake = {
    nodeId: 7,
    logger: pino({ level: 'silent' }),
    groupCoordinator,
    metadata: {
      topic: (name: string) => (name === '__consumer_offsets' || name in topics ? { name } : undefined),
      partition: partitionState,
      brokers: () => [{ nodeId: 7, host: 'spool.local', port: 9099, rack: null, epoch: 0 }],
    },
    // No share groups here: ListGroups/DescribeGroups ask the share coordinator too.
    share: {
      groups: { groupIds: () => [], stateOf: () => undefined, hasGroup: () => false },
      state: { statesOfGroup: () => [] },
    },
  };
  return fake as unknown as ApiServices & { groupCoordinator: GroupCoordinator };
}

function call<Res>(services: ApiServices, apiKey: number, apiVersion: number, req: unknown): Promise<Res> {
  const handler = groupApis.find((a) => a.apiKey === apiKey)!.handler as unknown as (r: unknown, c: RequestContext) => Promise<Res>;
  const ctx: RequestContext = { services, apiKey, apiVersion, correlationId: 1, clientId: 'cli', clientHost: '10.0.0.5:40000', connectionId: 1, security: plaintextSecurity() };
  return handler(req, ctx);
}

const protocols = [{ name: 'range', metadata: encodeSubscription(['orders']) }];
const join = (memberId: string) => ({
  groupId: 'g',
  sessionTimeoutMs: 10000,
  rebalanceTimeoutMs: 10000,
  memberId,
  groupInstanceId: null,
  protocolType: 'consumer',
  protocols,
  reason: null,
});

t.test('the batch encoder round-trips keys, values and tombstones', async (t) => {
  const records = [
    { key: Buffer.from('k1'), value: Buffer.from('v1') },
    { key: Buffer.from('k2'), value: null },
    { key: Buffer.alloc(300, 1), value: Buffer.alloc(70000, 2) },
  ];
  const batch = encodeOffsetsBatch(records, 1234);
  t.equal(batch.readInt8(16), 2, 'magic 2');
  t.equal(batch.readInt32BE(57), 3, 'record count');
  const { records: back, nextOffset } = decodeOffsetsBatches(batch, { decompress: (_c, d) => d });
  t.same(back, records);
  t.equal(nextOffset, 3);
});

t.test('group handlers translate every version', async (t) => {
  const broker = await fakeServices({ orders: 3 });
  t.teardown(() => broker.groupCoordinator.close());

  const v3 = await call<{ errorCode: number; nodeId: number; host: string; port: number }>(broker, 10, 3, { key: 'g', keyType: 0, coordinatorKeys: [] });
  t.same([v3.errorCode, v3.nodeId, v3.host, v3.port], [0, 7, 'spool.local', 9099], 'FindCoordinator v3: this broker');
  const v4 = await call<{ coordinators: Array<{ key: string; errorCode: number; nodeId: number }> }>(broker, 10, 4, { key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
  t.same(v4.coordinators.map((c) => [c.key, c.errorCode, c.nodeId]), [['a', 0, 7], ['b', 0, 7]], 'FindCoordinator v4: batched keys');
  const badType = await call<{ coordinators: Array<{ errorCode: number }> }>(broker, 10, 4, { key: '', keyType: 5, coordinatorKeys: ['x'] });
  t.equal(badType.coordinators[0].errorCode, 42, 'an unknown key type: INVALID_REQUEST');

  const required = await call<{ errorCode: number; memberId: string; protocolName: string | null }>(broker, 11, 4, join(''));
  t.equal(required.errorCode, 79, 'JoinGroup v4: MEMBER_ID_REQUIRED');
  t.equal(required.protocolName, '', 'protocolName is not nullable before v7');
  const joined = await call<{ errorCode: number; memberId: string; leader: string; generationId: number; members: unknown[] }>(broker, 11, 4, join(required.memberId));
  t.equal(joined.errorCode, 0);
  t.equal(joined.leader, joined.memberId);
  t.equal(joined.members.length, 1);
  const synced = await call<{ errorCode: number; assignment: Buffer }>(broker, 14, 5, {
    groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null,
    protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: joined.memberId, assignment: Buffer.from([1]) }],
  });
  t.same([synced.errorCode, [...synced.assignment]], [0, [1]]);
  const hb = await call<{ errorCode: number }>(broker, 12, 4, { groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null });
  t.equal(hb.errorCode, 0);

  const commit = await call<{ topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> }>(broker, 8, 8, {
    groupId: 'g', generationIdOrMemberEpoch: joined.generationId, memberId: joined.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [
      { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: 2, committedMetadata: 'm' }, { partitionIndex: 9, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] },
      { name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] },
    ],
  });
  const errors = commit.topics.flatMap((x) => x.partitions.map((p) => `${x.name}-${p.partitionIndex}:${p.errorCode}`)).sort();
  t.same(errors, ['nope-0:3', 'orders-0:0', 'orders-9:3'], 'OffsetCommit: unknown partitions get UNKNOWN_TOPIC_OR_PARTITION');

  type Fetched = Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string | null }> }>;
  const f1 = await call<{ topics: Fetched }>(broker, 9, 1, { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 1] }], groups: [], requireStable: false });
  t.same(f1.topics[0].partitions.map((p) => [p.committedOffset, p.metadata]), [[10, 'm'], [-1, '']], 'OffsetFetch v1');
  const f7 = await call<{ topics: Fetched; errorCode: number }>(broker, 9, 7, { groupId: 'g', topics: null, groups: [], requireStable: true });
  t.same(f7.topics.map((x) => [x.name, x.partitions[0].committedOffset, x.partitions[0].committedLeaderEpoch]), [['orders', 10, 2]], 'OffsetFetch v7: null topics = all, require_stable accepted');
  const f8 = await call<{ groups: Array<{ groupId: string; topics: Fetched; errorCode: number }> }>(broker, 9, 8, {
    groupId: '', topics: [], requireStable: false,
    groups: [{ groupId: 'g', topics: null }, { groupId: 'other', topics: [{ name: 'orders', partitionIndexes: [0] }] }],
  });
  t.same(f8.groups.map((g) => [g.groupId, g.errorCode, g.topics[0]?.partitions[0]?.committedOffset]), [['g', 0, 10], ['other', 0, -1]], 'OffsetFetch v8: several groups');

  const described = await call<{ groups: Array<{ groupState: string; protocolData: string; members: Array<{ clientHost: string; clientId: string }>; authorizedOperations: number }> }>(broker, 15, 5, { groups: ['g'], includeAuthorizedOperations: true });
  t.same([described.groups[0].groupState, described.groups[0].protocolData], ['Stable', 'range']);
  t.same([described.groups[0].members[0].clientHost, described.groups[0].members[0].clientId], ['/10.0.0.5', 'cli'], 'clientHost without the port, as Kafka prints it');
  t.ok(described.groups[0].authorizedOperations > 0, 'authorized operations when asked');

  const listed = await call<{ groups: Array<{ groupId: string; groupState: string; groupType: string }> }>(broker, 16, 5, { statesFilter: ['STABLE'], typesFilter: [] });
  t.same(listed.groups, [{ groupId: 'g', protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' }]);
  const consumerType = await call<{ groups: unknown[] }>(broker, 16, 5, { statesFilter: [], typesFilter: ['consumer'] });
  t.same(consumerType.groups, [], 'no KIP-848 groups');

  const offsetDelete = await call<{ errorCode: number; topics: Array<{ partitions: Array<{ errorCode: number }> }> }>(broker, 47, 0, { groupId: 'g', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] });
  t.equal(offsetDelete.topics[0].partitions[0].errorCode, 86, 'OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC');
  const nonEmpty = await call<{ results: Array<{ errorCode: number }> }>(broker, 42, 2, { groupsNames: ['g'] });
  t.equal(nonEmpty.results[0].errorCode, 68, 'DeleteGroups: NON_EMPTY_GROUP');

  const leaveOld = await call<{ errorCode: number; members: unknown[] }>(broker, 13, 2, { groupId: 'g', memberId: 'ghost', members: [] });
  t.equal(leaveOld.errorCode, 25, 'LeaveGroup v2: the member error is the top-level error');
  const leave = await call<{ errorCode: number; members: Array<{ memberId: string; errorCode: number }> }>(broker, 13, 5, {
    groupId: 'g', memberId: '', members: [{ memberId: joined.memberId, groupInstanceId: null, reason: 'bye' }],
  });
  t.same([leave.errorCode, leave.members.map((m) => m.errorCode)], [0, [0]], 'LeaveGroup v5: per-member results');
  const deleted = await call<{ results: Array<{ groupId: string; errorCode: number }> }>(broker, 42, 2, { groupsNames: ['g', 'missing'] });
  t.same(deleted.results.map((r) => r.errorCode), [0, 69], 'DeleteGroups: deleted, GROUP_ID_NOT_FOUND');
});

t.test('JoinGroup v0 uses the session timeout as the rebalance timeout; v1 sends its own', async (t) => {
  const broker = await fakeServices({ orders: 3 });
  const coordinator = broker.groupCoordinator;
  t.teardown(() => coordinator.close());
  const seen: Array<{ groupId: string; sessionTimeoutMs: number; rebalanceTimeoutMs: number }> = [];
  const joinGroup = coordinator.joinGroup.bind(coordinator);
  coordinator.joinGroup = (p) => {
    seen.push({ groupId: p.groupId, sessionTimeoutMs: p.sessionTimeoutMs, rebalanceTimeoutMs: p.rebalanceTimeoutMs });
    return joinGroup(p);
  };
  // As decoded at v0: rebalanceTimeoutMs is absent, so it holds its -1 placeholder.
  const v0 = await call<{ errorCode: number; memberId: string; leader: string }>(broker, 11, 0, { ...join(''), groupId: 'g0', sessionTimeoutMs: 7000, rebalanceTimeoutMs: -1 });
  t.equal(v0.errorCode, 0, 'v0 joins without MEMBER_ID_REQUIRED (that is v4+)');
  t.equal(v0.leader, v0.memberId);
  const v1 = await call<{ errorCode: number }>(broker, 11, 1, { ...join(''), groupId: 'g1', sessionTimeoutMs: 7000, rebalanceTimeoutMs: 45000 });
  t.equal(v1.errorCode, 0);
  t.same(seen, [
    { groupId: 'g0', sessionTimeoutMs: 7000, rebalanceTimeoutMs: 7000 },
    { groupId: 'g1', sessionTimeoutMs: 7000, rebalanceTimeoutMs: 45000 },
  ]);
});
