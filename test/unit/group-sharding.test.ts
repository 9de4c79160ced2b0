// coordinator/group room tests: the group coordinator as one shard per __consumer_offsets
// partition — independent partitions, leadership changes per partition, reload by replay, and
// commits answered only once committed — on an in-memory log and a manual clock.
import t from 'tap';
import { KafkaError } from '../../src/errors.js';
import { GroupCoordinator, type JoinGroupParams, type OffsetCommitParams } from '../../src/coordinator/group/coordinator.js';
import { GroupErrorCode as E } from '../../src/coordinator/group/errors.js';
import { ManualClock, MemoryOffsetsLog } from '../../src/coordinator/group/memory-log.js';
import { defaultGroupCoordinatorConfig, type GroupLogger } from '../../src/coordinator/group/ports.js';
import { partitionForGroup } from '../../src/coordinator/group/records.js';
import { encodeSubscription } from '../../src/coordinator/group/consumer-protocol.js';

const silent: GroupLogger = { debug() {}, info() {}, warn() {}, error() {} };
const NUM_PARTITIONS = 4;

/** A group id that maps to `partition` of __consumer_offsets. */
function groupOn(partition: number): string {
  for (let i = 0; i < 10_000; i++) if (partitionForGroup(`group-${i}`, NUM_PARTITIONS) === partition) return `group-${i}`;
  throw new Error(`no group id found for partition ${partition}`);
}
const A = groupOn(1);
const B = groupOn(2);
const pA = 1;

async function setup(log = new MemoryOffsetsLog(NUM_PARTITIONS), clock = new ManualClock()) {
  const coordinator = new GroupCoordinator({
    log,
    numPartitions: NUM_PARTITIONS,
    clock,
    logger: silent,
    config: { ...defaultGroupCoordinatorConfig, groupInitialRebalanceDelayMs: 0 },
  });
  for (let p = 0; p < NUM_PARTITIONS; p++) coordinator.onElection(p, 0);
  for (let p = 0; p < NUM_PARTITIONS; p++) {
    const err = await coordinator.awaitLoaded(p, 1000);
    if (err !== E.NONE) throw new Error(`partition ${p} did not load: ${err}`);
  }
  return { coordinator, log, clock };
}

function joinParams(groupId: string, overrides: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 30000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    supportSkipAssignment: false,
    ...overrides,
  };
}

function commit(groupId: string, offset: number, partitionIndex = 0): OffsetCommitParams {
  return {
    groupId,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
  };
}

function committed(coordinator: GroupCoordinator, groupId: string, partitionIndex = 0): number {
  const r = coordinator.fetchOffsets(groupId, [{ name: 'orders', partitionIndexes: [partitionIndex] }]);
  return r.errorCode !== E.NONE ? -100 - r.errorCode : r.topics[0].partitions[0].committedOffset;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  await flush();
  return Promise.race([p, Promise.resolve('pending' as const)]);
}

/** One member joins and syncs: a Stable group of one. */
async function stableGroup(coordinator: GroupCoordinator, groupId: string) {
  const j = await coordinator.joinGroup(joinParams(groupId));
  const s = await coordinator.syncGroup({ groupId, generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  return { memberId: j.memberId, generationId: j.generationId, syncError: s.errorCode };
}

t.test('an OffsetCommit whose append is held is not answered until the append resolves', async (t) => {
  const { coordinator, log } = await setup();
  log.heldPartitions.add(pA);
  const pending = coordinator.commitOffsets(commit(A, 42));
  t.equal(await settled(pending), 'pending', 'not answered while the append is in flight');
  t.equal(committed(coordinator, A), -1, 'not visible before it is committed');
  t.equal(coordinator.groupState(A), null, 'the simple group appears by replay, not before');
  log.releaseHeld(pA);
  t.same((await pending)[0].partitions, [{ partitionIndex: 0, errorCode: E.NONE }]);
  t.equal(committed(coordinator, A), 42);
  t.equal(coordinator.groupState(A), 'Empty');
  coordinator.close();
});

t.test('a held OffsetCommit whose append then fails answers the error and keeps the previous offset', async (t) => {
  const { coordinator, log } = await setup();
  await coordinator.commitOffsets(commit(A, 1));
  log.heldPartitions.add(pA);
  const pending = coordinator.commitOffsets(commit(A, 2));
  await flush();
  log.failHeld(new KafkaError(E.NOT_ENOUGH_REPLICAS, 'below min.insync.replicas'), pA);
  t.equal((await pending)[0].partitions[0].errorCode, E.COORDINATOR_NOT_AVAILABLE);
  t.equal(committed(coordinator, A), 1);
  log.failNextAppend = new KafkaError(E.RECORD_LIST_TOO_LARGE, 'batch too large');
  t.equal((await coordinator.commitOffsets(commit(A, 3)))[0].partitions[0].errorCode, E.INVALID_COMMIT_OFFSET_SIZE);
  log.failNextAppend = new KafkaError(E.NOT_LEADER_OR_FOLLOWER, 'lost leadership');
  t.equal((await coordinator.commitOffsets(commit(A, 4)))[0].partitions[0].errorCode, E.NOT_COORDINATOR);
  t.equal(committed(coordinator, A), 1);
  coordinator.close();
});

t.test('groups on different partitions are independent: a held write on one does not delay the other', async (t) => {
  const { coordinator, log } = await setup();
  t.not(partitionForGroup(A, NUM_PARTITIONS), partitionForGroup(B, NUM_PARTITIONS));
  log.heldPartitions.add(pA);
  const heldA = coordinator.commitOffsets(commit(A, 10));
  t.same((await coordinator.commitOffsets(commit(B, 20)))[0].partitions[0].errorCode, E.NONE, 'B commits while A waits');
  const b = await stableGroup(coordinator, B);
  t.equal(b.syncError, E.NONE, 'B rebalances while A waits');
  t.equal(await settled(heldA), 'pending');
  t.equal(committed(coordinator, B), 20);
  log.releaseHeld(pA);
  await heldA;
  t.equal(committed(coordinator, A), 10);
  t.same(log.partitions[pA].length, 1, "A's records are in A's partition only");
  t.same(
    coordinator.listGroups([]).groups.map((g) => g.groupId).sort(),
    [A, B].sort(),
    'ListGroups gathers the groups of every shard',
  );
  coordinator.close();
});

t.test("after resignation of a partition its groups answer NOT_COORDINATOR while other partitions' groups work", async (t) => {
  const { coordinator } = await setup();
  const a = await stableGroup(coordinator, A);
  const b = await stableGroup(coordinator, B);
  // A second member parks in JoinGroup on A: resignation must answer it.
  const parked = coordinator.joinGroup(joinParams(A));
  t.equal(await settled(parked), 'pending');
  coordinator.onResignation(pA, 1);
  t.equal((await parked).errorCode, E.NOT_COORDINATOR, 'a parked JoinGroup is answered at resignation');
  t.equal(coordinator.coordinatorErrorFor(A), E.NOT_COORDINATOR);
  t.equal(coordinator.heartbeat({ groupId: A, memberId: a.memberId, generationId: a.generationId, groupInstanceId: null }), E.NOT_COORDINATOR);
  t.equal((await coordinator.joinGroup(joinParams(A))).errorCode, E.NOT_COORDINATOR);
  t.equal((await coordinator.syncGroup({ groupId: A, generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })).errorCode, E.NOT_COORDINATOR);
  t.equal((await coordinator.commitOffsets(commit(A, 5)))[0].partitions[0].errorCode, E.NOT_COORDINATOR);
  t.equal(coordinator.fetchOffsets(A, null).errorCode, E.NOT_COORDINATOR);
  t.equal((await coordinator.deleteOffsets(A, [])).errorCode, E.NOT_COORDINATOR);
  t.equal(coordinator.leaveGroup(A, [{ memberId: a.memberId, groupInstanceId: null }]).errorCode, E.NOT_COORDINATOR);
  t.equal(coordinator.describeGroups([A])[0].errorCode, E.NOT_COORDINATOR);
  t.same(await coordinator.deleteGroups([A]), [{ groupId: A, errorCode: E.NOT_COORDINATOR }]);

  t.equal(coordinator.coordinatorErrorFor(B), E.NONE);
  t.equal(coordinator.heartbeat({ groupId: B, memberId: b.memberId, generationId: b.generationId, groupInstanceId: null }), E.NONE);
  t.equal((await coordinator.commitOffsets({ ...commit(B, 7), generationId: b.generationId, memberId: b.memberId }))[0].partitions[0].errorCode, E.NONE);
  t.equal(committed(coordinator, B), 7);
  t.same(coordinator.listGroups([]).groups.map((g) => g.groupId), [B], 'ListGroups covers only partitions still led here');
  const described = coordinator.describeGroups([A, B]);
  t.same(described.map((d) => [d.errorCode, d.groupState]), [[E.NOT_COORDINATOR, 'Dead'], [E.NONE, 'Stable']]);
  coordinator.close();
});

t.test('re-election reloads committed offsets and groups by replaying the partition', async (t) => {
  const { coordinator, log } = await setup();
  const a = await stableGroup(coordinator, A);
  const withMember = (offset: number, partitionIndex: number) => ({ ...commit(A, offset, partitionIndex), generationId: a.generationId, memberId: a.memberId });
  await coordinator.commitOffsets(withMember(100, 0));
  await coordinator.commitOffsets(withMember(200, 1));
  await coordinator.commitOffsets(withMember(300, 2));
  await coordinator.commitOffsets(withMember(101, 0));
  coordinator.leaveGroup(A, [{ memberId: a.memberId, groupInstanceId: null }]);
  t.equal((await coordinator.deleteOffsets(A, [{ name: 'orders', partitions: [{ partitionIndex: 1 }] }])).errorCode, E.NONE);
  t.equal(committed(coordinator, A, 1), -1);

  coordinator.onResignation(pA, 0);
  t.equal(coordinator.coordinatorErrorFor(A), E.NOT_COORDINATOR);
  coordinator.onElection(pA, 1);
  t.equal(coordinator.coordinatorErrorFor(A), E.COORDINATOR_NOT_AVAILABLE, 'FindCoordinator: not available while loading');
  t.equal(coordinator.fetchOffsets(A, null).errorCode, E.COORDINATOR_LOAD_IN_PROGRESS);
  t.equal(coordinator.heartbeat({ groupId: A, memberId: 'm', generationId: 1, groupInstanceId: null }), E.COORDINATOR_LOAD_IN_PROGRESS);
  t.equal(await coordinator.awaitLoaded(pA, 1000), E.NONE);
  t.equal(coordinator.coordinatorErrorFor(A), E.NONE);
  t.same([0, 1, 2].map((p) => committed(coordinator, A, p)), [101, -1, 300], 'latest commits, deletes included');
  t.equal(coordinator.groupState(A), 'Empty', 'the group comes back as it was last stored');
  t.equal(coordinator.describeGroups([A])[0].protocolType, 'consumer');
  const before = log.appendEpochs.length;
  await coordinator.commitOffsets(commit(A, 500, 3));
  t.same(log.appendEpochs.slice(before), [{ partition: pA, leaderEpoch: 1 }], 'writes after re-election carry the new epoch');
  coordinator.close();
});

t.test('a commit in flight when its partition resigns is answered NOT_COORDINATOR', async (t) => {
  const { coordinator, log } = await setup();
  log.heldPartitions.add(pA);
  const pending = coordinator.commitOffsets(commit(A, 9));
  await flush();
  coordinator.onResignation(pA, null);
  t.equal((await pending)[0].partitions[0].errorCode, E.NOT_COORDINATOR);
  coordinator.close();
});

t.test('ListGroups answers LOAD_IN_PROGRESS while any owned shard loads', async (t) => {
  const { coordinator } = await setup();
  await coordinator.commitOffsets(commit(B, 1));
  coordinator.onElection(pA, 5);
  t.equal(coordinator.listGroups([]).errorCode, E.COORDINATOR_LOAD_IN_PROGRESS);
  t.equal(await coordinator.awaitLoaded(pA, 1000), E.NONE);
  t.same(coordinator.listGroups([]), { errorCode: E.NONE, groups: [{ groupId: B, protocolType: '', groupState: 'Empty' }] });
  coordinator.close();
});

t.test('a DeleteGroups whose tombstones fail to be written leaves the group and its offsets in place', async (t) => {
  const { coordinator, log } = await setup();
  await coordinator.commitOffsets(commit(A, 3));
  log.failNextAppend = new Error('disk full');
  t.same(await coordinator.deleteGroups([A]), [{ groupId: A, errorCode: E.COORDINATOR_NOT_AVAILABLE }]);
  t.equal(coordinator.groupState(A), 'Empty', 'not left Dead');
  t.equal(committed(coordinator, A), 3);
  t.same(await coordinator.deleteGroups([A]), [{ groupId: A, errorCode: E.NONE }]);
  t.equal(coordinator.groupState(A), null);
  t.equal(committed(coordinator, A), -1);
  coordinator.close();
});
