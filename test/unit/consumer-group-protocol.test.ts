// coordinator/group room tests: KIP-848 consumer groups (ConsumerGroupHeartbeat) driven by a
// manual clock and an in-memory __consumer_offsets: epochs, revocation before assignment, the
// uniform and range assignors, regex subscriptions, static members, timeouts, offsets with member
// epochs, group conversion, and state rebuilt from the records after a restart.
import t from 'tap';
import { GroupCoordinator } from '../../src/coordinator/group/coordinator.js';
import type { ConsumerHeartbeatParams, ConsumerHeartbeatResult, TopicsView } from '../../src/coordinator/group/consumer-coordinator.js';
import { rangeAssignor, uniformAssignor, type AssignorMember } from '../../src/coordinator/group/assignors.js';
import { reconcile, compileTopicRegex, type Assignment } from '../../src/coordinator/group/consumer-group.js';
import { GroupErrorCode as E } from '../../src/coordinator/group/errors.js';
import { ManualClock, MemoryOffsetsLog } from '../../src/coordinator/group/memory-log.js';
import { defaultGroupCoordinatorConfig, type GroupCoordinatorConfig, type GroupLogger } from '../../src/coordinator/group/ports.js';
import { encodeSubscription } from '../../src/coordinator/group/consumer-protocol.js';

const silent: GroupLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** 22-char base64url topic ids. */
const idOf = (n: number) => Buffer.alloc(16, n).toString('base64url');

class Topics implements TopicsView {
  readonly map = new Map<string, { topicId: string; numPartitions: number }>();
  add(name: string, numPartitions: number, id = this.map.size + 1): this {
    this.map.set(name, { topicId: idOf(id), numPartitions });
    return this;
  }
  names() {
    return [...this.map.keys()];
  }
  byName(name: string) {
    return this.map.get(name);
  }
  nameOf(topicId: string) {
    for (const [name, t] of this.map) if (t.topicId === topicId) return name;
    return undefined;
  }
}

function newCoordinator(log: MemoryOffsetsLog, clock: ManualClock, config: GroupCoordinatorConfig): GroupCoordinator {
  return new GroupCoordinator({ log, numPartitions: log.numPartitions, clock, logger: silent, config });
}

async function electAll(coordinator: GroupCoordinator): Promise<void> {
  const partitions = Array.from({ length: coordinator.numPartitions }, (_, p) => p);
  for (const p of partitions) coordinator.onElection(p, 0);
  await Promise.all(partitions.map((p) => coordinator.awaitLoaded(p, 60_000)));
}

async function setup(overrides: Partial<GroupCoordinatorConfig> = {}, log = new MemoryOffsetsLog(4), clock = new ManualClock()) {
  const config = { ...defaultGroupCoordinatorConfig, groupInitialRebalanceDelayMs: 0, ...overrides };
  const coordinator = newCoordinator(log, clock, config);
  await electAll(coordinator);
  return { coordinator, clock, log, config };
}

/** One member as a client: it keeps its id and epoch and owns what the coordinator gave it. */
class Member {
  memberId: string;
  epoch = 0;
  owned: Assignment = new Map();
  last: ConsumerHeartbeatResult | null = null;
  constructor(
    private readonly coordinator: GroupCoordinator,
    readonly topics: Topics,
    readonly opts: { names?: string[]; regex?: string; instanceId?: string; assignor?: string; group?: string } = {},
    id = `m-${Math.random().toString(36).slice(2)}`,
  ) {
    this.memberId = id;
  }
  private params(): ConsumerHeartbeatParams {
    const full = this.epoch === 0;
    return {
      groupId: this.opts.group ?? 'g',
      memberId: this.memberId,
      memberEpoch: this.epoch,
      instanceId: this.opts.instanceId ?? null,
      rackId: null,
      rebalanceTimeoutMs: full ? 30000 : -1,
      subscribedTopicNames: full ? (this.opts.names ?? (this.opts.regex === undefined ? ['orders'] : [])) : null,
      subscribedTopicRegex: full ? (this.opts.regex ?? null) : null,
      serverAssignor: full ? (this.opts.assignor ?? null) : null,
      topicPartitions: [...this.owned].map(([topicId, ps]) => ({ topicId, partitions: [...ps] })),
      clientId: 'client',
      clientHost: '/127.0.0.1',
      topics: this.topics,
    };
  }
  /** One heartbeat; the client adopts the assignment it is given (revoking what is not in it). */
  async beat(): Promise<ConsumerHeartbeatResult> {
    const r = await this.coordinator.consumerGroupHeartbeat(this.params());
    this.last = r;
    if (r.errorCode === E.NONE) {
      if (r.memberId !== null) this.memberId = r.memberId;
      this.epoch = r.memberEpoch;
      if (r.assignment !== null) this.owned = new Map(r.assignment.topicPartitions.map((x) => [x.topicId, new Set(x.partitions)]));
    }
    return r;
  }
  async leave(epoch = -1): Promise<ConsumerHeartbeatResult> {
    return this.coordinator.consumerGroupHeartbeat({ ...this.params(), memberEpoch: epoch });
  }
  count(): number {
    let n = 0;
    for (const ps of this.owned.values()) n += ps.size;
    return n;
  }
  partitions(topicId = idOf(1)): number[] {
    return [...(this.owned.get(topicId) ?? [])].sort((a, b) => a - b);
  }
}

/** Heartbeats every member in turn until nothing changes (bounded); checks no partition has two owners at any point. */
async function converge(t: { fail(msg: string): unknown }, members: Member[], rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    for (const m of members) {
      await m.beat();
      const seen = new Map<string, string>();
      for (const x of members) {
        for (const [topic, ps] of x.owned) {
          for (const p of ps) {
            const key = `${topic}-${p}`;
            const other = seen.get(key);
            if (other !== undefined) t.fail(`partition ${key} owned by ${other} and ${x.memberId}`);
            seen.set(key, x.memberId);
          }
        }
      }
    }
  }
}

t.test('assignors', async (t) => {
  const topics = new Map([
    ['a', { topicId: idOf(1), name: 'a', numPartitions: 6 }],
    ['b', { topicId: idOf(2), name: 'b', numPartitions: 3 }],
  ]);
  const m = (id: string, ts: string[], current: Assignment = new Map()): AssignorMember => ({ memberId: id, topics: new Set(ts), current });
  const range = rangeAssignor([m('m2', ['a', 'b']), m('m1', ['a', 'b'])], topics);
  t.same([...(range.get('m1')?.get(idOf(1)) ?? [])], [0, 1, 2], 'range: the first member by id gets the first range');
  t.same([...(range.get('m2')?.get(idOf(1)) ?? [])], [3, 4, 5]);
  t.same([...(range.get('m1')?.get(idOf(2)) ?? [])], [0, 1], 'range: the remainder goes to the first members');
  t.same([...(range.get('m2')?.get(idOf(2)) ?? [])], [2]);

  const first = uniformAssignor([m('x', ['a', 'b']), m('y', ['a', 'b']), m('z', ['a', 'b'])], topics);
  const sizes = [...first.values()].map((a) => [...a.values()].reduce((n, s) => n + s.size, 0));
  t.same(sizes, [3, 3, 3], 'uniform: 9 partitions over 3 members, 3 each');
  // A fourth member: balanced, and the others keep most of what they had.
  const second = uniformAssignor([m('x', ['a', 'b'], first.get('x')), m('y', ['a', 'b'], first.get('y')), m('z', ['a', 'b'], first.get('z')), m('w', ['a', 'b'])], topics);
  const sizes2 = [...second.values()].map((a) => [...a.values()].reduce((n, s) => n + s.size, 0)).sort();
  t.same(sizes2, [2, 2, 2, 3], 'uniform: balanced within one');
  let moved = 0;
  for (const id of ['x', 'y', 'z']) {
    for (const [topic, ps] of first.get(id) ?? new Map<string, Set<number>>()) for (const p of ps) if (second.get(id)?.get(topic)?.has(p) !== true) moved++;
  }
  t.equal(moved, 2, 'uniform is sticky: only the partitions the new member needs move');
  // Heterogeneous subscriptions: only subscribers get a topic's partitions.
  const hetero = uniformAssignor([m('x', ['a']), m('y', ['a', 'b'])], topics);
  t.equal(hetero.get('x')?.get(idOf(2)), undefined, 'a member not subscribed to b gets none of it');
  t.equal([...(hetero.get('y')?.get(idOf(2)) ?? [])].length, 3);

  // A large group (500 members, 5,000 partitions): the share is computed per topic, not per
  // member × partition × member, and current owners are looked up once.
  const big = new Map([
    ['big', { topicId: idOf(9), name: 'big', numPartitions: 4000 }],
    ['side', { topicId: idOf(10), name: 'side', numPartitions: 1000 }],
  ]);
  const many = Array.from({ length: 500 }, (_, i) => m(`m${String(i).padStart(3, '0')}`, i % 2 === 0 ? ['big', 'side'] : ['big']));
  const bigOut = uniformAssignor(many, big);
  const bigSizes = [...bigOut.values()].map((a) => [...a.values()].reduce((n, s) => n + s.size, 0));
  t.equal(bigSizes.reduce((a, b) => a + b, 0), 5000, 'every partition is assigned once');
  const odd = bigSizes.filter((_, i) => i % 2 === 1);
  t.ok(Math.max(...odd) - Math.min(...odd) <= 1, 'members with the same subscription are balanced within one');
  const again = uniformAssignor(many.map((x) => ({ ...x, current: bigOut.get(x.memberId) ?? new Map<string, Set<number>>() })), big);
  t.same([...again.entries()].map(([id, a]) => [id, [...a].map(([tp, ps]) => [tp, [...ps].sort((x, y) => x - y)])]), [...bigOut.entries()].map(([id, a]) => [id, [...a].map(([tp, ps]) => [tp, [...ps].sort((x, y) => x - y)])]), 'unchanged members keep everything');
});

t.test('reconciliation revokes before it assigns', async (t) => {
  const tid = idOf(1);
  const owner = { state: 'STABLE' as const, memberEpoch: 1, assigned: new Map([[tid, new Set([0, 1, 2, 3])]]), pendingRevocation: new Map() };
  const step = reconcile(owner, 2, new Map([[tid, new Set([0, 1])]]), null, () => -1);
  t.equal(step.state, 'UNREVOKED_PARTITIONS');
  t.equal(step.memberEpoch, 1, 'the epoch stays until the revocation is acknowledged');
  t.same([...(step.pendingRevocation.get(tid) ?? [])], [2, 3]);
  const still = reconcile({ ...step }, 2, new Map([[tid, new Set([0, 1])]]), new Map([[tid, new Set([0, 1, 2, 3])]]), () => -1);
  t.equal(still.state, 'UNREVOKED_PARTITIONS', 'a heartbeat still owning them changes nothing');
  const done = reconcile({ ...step }, 2, new Map([[tid, new Set([0, 1])]]), new Map([[tid, new Set([0, 1])]]), () => -1);
  t.equal(done.state, 'STABLE');
  t.equal(done.memberEpoch, 2);
  const newcomer = reconcile({ state: 'STABLE', memberEpoch: 0, assigned: new Map(), pendingRevocation: new Map() }, 2, new Map([[tid, new Set([2, 3])]]), new Map(), (_t, p) => (p === 2 ? 1 : -1));
  t.equal(newcomer.state, 'UNRELEASED_PARTITIONS', 'a partition still owned elsewhere is not given yet');
  t.same([...(newcomer.assigned.get(tid) ?? [])], [3]);
  t.equal(newcomer.memberEpoch, 2);
  t.ok(compileTopicRegex('orders-.*').matches('orders-eu'));
  t.notOk(compileTopicRegex('orders').matches('orders-eu'), 'the whole name must match, as RE2/J matches()');
});

t.test('members join, share, and hand over partitions one owner at a time', async (t) => {
  const { coordinator, clock } = await setup();
  const topics = new Topics().add('orders', 6);
  const a = new Member(coordinator, topics, {}, 'a');
  const r = await a.beat();
  t.equal(r.errorCode, E.NONE);
  t.equal(r.memberEpoch, 1, 'the first member gets epoch 1');
  t.equal(r.heartbeatIntervalMs, 5000);
  t.same(a.partitions(), [0, 1, 2, 3, 4, 5]);
  const b = new Member(coordinator, topics, {}, 'b');
  await b.beat();
  t.equal(b.epoch, 2, 'the joiner is at the new group epoch');
  t.equal(b.count(), 0, 'it gets nothing until a revokes');
  await a.beat();
  t.equal(a.epoch, 1, 'a keeps its epoch while revoking');
  t.equal(a.count(), 3, 'a is told to keep 3');
  const [d1] = coordinator.describeConsumerGroups(['g'], topics);
  t.equal(d1.groupState, 'Reconciling');
  await converge(t, [a, b]);
  t.equal(a.count() + b.count(), 6);
  t.equal(b.count(), 3);
  t.equal(a.epoch, 2);
  const [d2] = coordinator.describeConsumerGroups(['g'], topics);
  t.equal(d2.groupState, 'Stable');
  t.equal(d2.groupEpoch, 2);
  t.equal(d2.assignmentEpoch, 2);
  t.equal(d2.assignorName, 'uniform');
  t.same(d2.members.map((m) => m.assignment.topicPartitions[0]?.topicName), ['orders', 'orders']);

  // Epoch errors.
  const stale = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'a', memberEpoch: 7 });
  t.equal(stale.errorCode, E.FENCED_MEMBER_EPOCH);
  const unknown = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'nobody', memberEpoch: 3 });
  t.equal(unknown.errorCode, E.UNKNOWN_MEMBER_ID);
  const badAssignor = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'c', memberEpoch: 0, serverAssignor: 'sticky' });
  t.equal(badAssignor.errorCode, E.UNSUPPORTED_ASSIGNOR);
  const badRegex = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'c', memberEpoch: 0, subscribedTopicRegex: '(' });
  t.equal(badRegex.errorCode, E.INVALID_REGULAR_EXPRESSION);

  // Offsets with member epochs.
  const commit = (memberId: string, epoch: number, apiVersion = 9) =>
    coordinator.commitOffsets({
      groupId: 'g', generationId: epoch, memberId, groupInstanceId: null, retentionTimeMs: -1, apiVersion,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
  t.equal((await commit('a', 2))[0].partitions[0].errorCode, E.NONE);
  t.equal((await commit('a', 1))[0].partitions[0].errorCode, E.STALE_MEMBER_EPOCH);
  t.equal((await commit('zz', 2))[0].partitions[0].errorCode, E.UNKNOWN_MEMBER_ID);
  t.equal((await commit('a', 2, 8))[0].partitions[0].errorCode, E.UNSUPPORTED_VERSION);
  t.equal(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }], false, { memberId: 'a', memberEpoch: 1 }).errorCode, E.STALE_MEMBER_EPOCH);
  t.equal(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }], false, { memberId: 'a', memberEpoch: 2 }).topics[0].partitions[0].committedOffset, 42);
  t.equal(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }], false, { memberId: 'a', memberEpoch: -1 }).errorCode, E.STALE_MEMBER_EPOCH, 'a member id with no epoch is checked');
  t.equal(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }], false, { memberId: null, memberEpoch: 2 }).errorCode, E.UNKNOWN_MEMBER_ID, 'an epoch with no member id is checked');
  t.equal(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }], false, { memberId: null, memberEpoch: -1 }).topics[0].partitions[0].committedOffset, 42, 'no member (admin) is not checked');

  // b's session ends: a gets everything back.
  clock.advance(30000);
  await a.beat();
  clock.advance(20000);
  await converge(t, [a], 3);
  t.equal(a.count(), 6, 'the session timeout removed b and a owns all six');
  t.equal(a.epoch, 3);
  const listed = coordinator.listGroups([]);
  t.same(listed.groups.map((g) => [g.groupId, g.groupType, g.protocolType, g.groupState]), [['g', 'consumer', 'consumer', 'Stable']]);
  t.equal(coordinator.describeGroups(['g'])[0].errorCode, E.GROUP_ID_NOT_FOUND, 'DescribeGroups: not a classic group');

  // Leaving: the group becomes Empty and can be deleted.
  t.equal((await a.leave()).memberEpoch, -1);
  t.equal(coordinator.listGroups(['empty']).groups.length, 1);
  t.same(await coordinator.deleteGroups(['g']), [{ groupId: 'g', errorCode: E.NONE }]);
  coordinator.close();
});

function baseParams(topics: Topics): ConsumerHeartbeatParams {
  return {
    groupId: 'g', memberId: '', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 30000, subscribedTopicNames: ['orders'],
    subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [], clientId: 'c', clientHost: '/h', topics,
  };
}

t.test('regex subscriptions, topic creation and partition growth rebalance the group', async (t) => {
  const { coordinator } = await setup();
  const topics = new Topics().add('orders-eu', 2).add('payments', 2);
  const a = new Member(coordinator, topics, { regex: 'orders-.*', assignor: 'range' }, 'a');
  const b = new Member(coordinator, topics, { regex: 'orders-.*', assignor: 'range' }, 'b');
  await converge(t, [a, b], 4);
  t.equal(a.count() + b.count(), 2, 'payments is not matched');
  topics.add('orders-us', 4, 3);
  await converge(t, [a, b], 4);
  t.equal(a.count() + b.count(), 6, 'a created topic matching the regex is assigned');
  t.same(a.partitions(idOf(3)), [0, 1], 'range: a gets the first half of orders-us');
  topics.map.set('orders-eu', { topicId: idOf(1), numPartitions: 4 });
  await converge(t, [a, b], 4);
  t.equal(a.count() + b.count(), 8, 'new partitions are assigned');
  topics.map.delete('orders-us');
  await converge(t, [a, b], 4);
  t.equal(a.count() + b.count(), 4, 'a deleted topic is revoked');
  const [d] = coordinator.describeConsumerGroups(['g'], topics);
  t.equal(d.assignorName, 'range');
  t.equal(d.members[0].subscribedTopicRegex, 'orders-.*');
  coordinator.close();
});

t.test('regexes are RE2 (linear time, RE2 syntax) and regex matches are filtered by DESCRIBE', async (t) => {
  // Patterns that make a backtracking engine run for ages against a long non-matching name.
  const long = 'a'.repeat(5000);
  t.notOk(compileTopicRegex('(.*)*x').matches(long), 'nested quantifiers do not backtrack');
  t.notOk(compileTopicRegex('(.|.|.|.)*!').matches(long), 'overlapping alternation does not backtrack');
  t.throws(() => compileTopicRegex('(a)\\1'), 'backreferences are not RE2');
  t.throws(() => compileTopicRegex('(?=a)a'), 'lookaheads are not RE2');
  t.ok(compileTopicRegex('(?P<x>o)rders').matches('orders'), 'RE2 named groups');
  const { coordinator } = await setup();
  const topics = new Topics().add('orders-eu', 2).add('orders-secret', 2).add(long, 1);
  const look = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'm', subscribedTopicNames: null, subscribedTopicRegex: '(?=x)x' });
  t.equal(look.errorCode, E.INVALID_REGULAR_EXPRESSION, 'a pattern RE2 rejects');
  const heavy = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), groupId: 'h', memberId: 'h', subscribedTopicNames: null, subscribedTopicRegex: '(.|.|.|.)*!' });
  t.equal(heavy.errorCode, E.NONE, 'a pathological pattern resolves against a long topic name');
  const canDescribe = (topic: string) => topic !== 'orders-secret';
  const r = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), groupId: 'acl', memberId: 'x', subscribedTopicNames: null, subscribedTopicRegex: 'orders-.*', canDescribe });
  t.equal(r.errorCode, E.NONE);
  t.same(r.assignment?.topicPartitions.map((tp) => topics.nameOf(tp.topicId)), ['orders-eu'], 'a matched topic the member may not describe is left out');
  const r2 = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), groupId: 'acl', memberId: 'x', memberEpoch: r.memberEpoch, subscribedTopicNames: null, subscribedTopicRegex: null, topicPartitions: null, rebalanceTimeoutMs: -1 });
  t.equal(r2.errorCode, E.NONE);
  const [d] = coordinator.describeConsumerGroups(['acl'], topics);
  t.same(d.members[0].targetAssignment.topicPartitions.map((tp) => tp.topicName).sort(), ['orders-eu', 'orders-secret'], 'the latest heartbeat (no predicate = all allowed) decides');
  coordinator.close();
});

t.test('a failed write leaves the group to be written again, so a restart sees what members were told', async (t) => {
  const log = new MemoryOffsetsLog(4);
  const clock = new ManualClock();
  const { coordinator } = await setup({}, log, clock);
  const topics = new Topics().add('orders', 4);
  const a = new Member(coordinator, topics, {}, 'a');
  t.equal((await a.beat()).errorCode, E.NONE);
  log.failNextAppend = new Error('disk full');
  const b = new Member(coordinator, topics, {}, 'b');
  t.not((await b.beat()).errorCode, E.NONE, 'the join whose records were not written fails');
  await b.beat();
  await converge(t, [a, b], 4);
  const before = coordinator.describeConsumerGroups(['g'], topics)[0];
  t.equal(before.members.length, 2);
  coordinator.close();
  const restarted = newCoordinator(log, clock, { ...defaultGroupCoordinatorConfig });
  await electAll(restarted);
  t.same(restarted.describeConsumerGroups(['g'], topics)[0], before, 'every record of the group reached the log in the end');
  restarted.close();
});

t.test('a heartbeat at the previous epoch without topicPartitions is fenced (Kafka isSubset(null) = false)', async (t) => {
  const { coordinator } = await setup();
  const topics = new Topics().add('orders', 4);
  const a = new Member(coordinator, topics, {}, 'a');
  const b = new Member(coordinator, topics, {}, 'b');
  await converge(t, [a, b], 4);
  const prev = a.epoch;
  topics.map.set('orders', { topicId: idOf(1), numPartitions: 8 });
  await converge(t, [a, b], 4);
  t.ok(a.epoch > prev, 'a moved to a new epoch');
  const stale = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'a', memberEpoch: a.epoch - 1, topicPartitions: null, rebalanceTimeoutMs: -1, subscribedTopicNames: null });
  t.equal(stale.errorCode, E.FENCED_MEMBER_EPOCH);
  const lost = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'a', memberEpoch: a.epoch - 1, topicPartitions: [], rebalanceTimeoutMs: -1, subscribedTopicNames: null });
  t.equal(lost.errorCode, E.NONE, 'the same epoch with owned partitions (a lost response) is accepted');
  coordinator.close();
});

t.test('static members: temporary leave keeps partitions, a new incarnation takes them over', async (t) => {
  const { coordinator } = await setup();
  const topics = new Topics().add('orders', 4);
  const s1 = new Member(coordinator, topics, { instanceId: 'i1' }, 's1');
  const s2 = new Member(coordinator, topics, { instanceId: 'i2' }, 's2');
  await converge(t, [s1, s2], 4);
  const before = s2.partitions();
  t.equal(before.length, 2);
  const dup = new Member(coordinator, topics, { instanceId: 'i2' }, 's2-dup');
  t.equal((await dup.beat()).errorCode, E.UNRELEASED_INSTANCE_ID, 'an instance id in use cannot join twice');
  t.equal((await s2.leave(-2)).memberEpoch, -2);
  const epochBefore = coordinator.describeConsumerGroups(['g'], topics)[0].groupEpoch;
  await converge(t, [s1], 2);
  t.equal(s1.count(), 2, 's1 does not get the partitions of the static member that is away');
  const s2b = new Member(coordinator, topics, { instanceId: 'i2' }, 's2-new');
  await converge(t, [s1, s2b], 2);
  t.same(s2b.partitions(), before, 'the new incarnation gets the same partitions');
  t.equal(coordinator.describeConsumerGroups(['g'], topics)[0].groupEpoch, epochBefore, 'without a rebalance');
  const old = await coordinator.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 's2', memberEpoch: 2, instanceId: 'i2' });
  t.equal(old.errorCode, E.FENCED_INSTANCE_ID);
  coordinator.close();
});

t.test('state survives a restart; an empty classic group is converted; a busy one is refused', async (t) => {
  const log = new MemoryOffsetsLog(4);
  const clock = new ManualClock();
  const { coordinator } = await setup({}, log, clock);
  const topics = new Topics().add('orders', 4);
  // An empty classic group (standalone commits) converts on the first consumer-protocol member.
  await coordinator.commitOffsets({
    groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  const a = new Member(coordinator, topics, {}, 'a');
  const b = new Member(coordinator, topics, {}, 'b');
  await converge(t, [a, b], 4);
  t.equal(a.count() + b.count(), 4);
  t.equal(coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [1] }]).topics[0].partitions[0].committedOffset, 7, 'offsets are kept');
  // A classic member of another protocol type cannot join it (consumer ones can: see consumer-group-migration.test.ts).
  const join = await coordinator.joinGroup({
    groupId: 'g', memberId: '', groupInstanceId: null, sessionTimeoutMs: 10000, rebalanceTimeoutMs: 10000, protocolType: 'connect',
    protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }], clientId: 'c', clientHost: '/h', requireKnownMemberId: false, supportSkipAssignment: false,
  });
  t.equal(join.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  const describedBefore = coordinator.describeConsumerGroups(['g'], topics)[0];
  coordinator.close();

  const restarted = newCoordinator(log, clock, { ...defaultGroupCoordinatorConfig, groupConsumerMigrationPolicy: 'downgrade' });
  await electAll(restarted);
  const describedAfter = restarted.describeConsumerGroups(['g'], topics)[0];
  t.same(describedAfter, describedBefore, 'epochs, members, assignments and targets are rebuilt from the records');
  const again = await restarted.consumerGroupHeartbeat({ ...baseParams(topics), memberId: 'a', memberEpoch: a.epoch, topicPartitions: [...a.owned].map(([topicId, ps]) => ({ topicId, partitions: [...ps] })), rebalanceTimeoutMs: -1, subscribedTopicNames: null });
  t.equal(again.errorCode, E.NONE, 'a member carries on with its epoch after the restart');
  t.equal(again.memberEpoch, a.epoch);

  // A busy classic group refuses a consumer-protocol member when group.consumer.migration.policy forbids the upgrade.
  // (The join waits for group.initial.rebalance.delay.ms; the group has its member meanwhile.)
  void restarted.joinGroup({
    groupId: 'classic', memberId: '', groupInstanceId: null, sessionTimeoutMs: 10000, rebalanceTimeoutMs: 10000, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }], clientId: 'c', clientHost: '/h', requireKnownMemberId: false, supportSkipAssignment: false,
  });
  const refused = await restarted.consumerGroupHeartbeat({ ...baseParams(topics), groupId: 'classic', memberId: 'x' });
  t.equal(refused.errorCode, E.GROUP_ID_NOT_FOUND);
  restarted.close();
});
