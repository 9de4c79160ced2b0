// coordinator/group room tests: the classic group state machine, driven by a manual clock and an
// in-memory __consumer_offsets, without a broker.
import t from 'tap';
import { GroupCoordinator, type JoinGroupParams } from '../../src/coordinator/group/coordinator.js';
import { GroupErrorCode as E } from '../../src/coordinator/group/errors.js';
import { ManualClock, MemoryOffsetsLog } from '../../src/coordinator/group/memory-log.js';
import { defaultGroupCoordinatorConfig, type GroupCoordinatorConfig, type GroupLogger } from '../../src/coordinator/group/ports.js';
import { encodeAssignment, encodeSubscription } from '../../src/coordinator/group/consumer-protocol.js';
import type { JoinGroupResult } from '../../src/coordinator/group/group.js';

const silent: GroupLogger = { debug() {}, info() {}, warn() {}, error() {} };

function newCoordinator(log: MemoryOffsetsLog, clock: ManualClock, config: GroupCoordinatorConfig): GroupCoordinator {
  return new GroupCoordinator({ log, numPartitions: log.numPartitions, clock, logger: silent, config });
}

/** This broker becomes leader of every __consumer_offsets partition; resolves when all are loaded. */
async function electAll(coordinator: GroupCoordinator, leaderEpoch = 0): Promise<void> {
  const partitions = Array.from({ length: coordinator.numPartitions }, (_, p) => p);
  for (const p of partitions) coordinator.onElection(p, leaderEpoch);
  const errors = await Promise.all(partitions.map((p) => coordinator.awaitLoaded(p, 60_000)));
  if (errors.some((e) => e !== E.NONE)) throw new Error(`shards failed to load: ${errors.join(',')}`);
}

async function setup(overrides: Partial<GroupCoordinatorConfig> = {}, log = new MemoryOffsetsLog(), clock = new ManualClock()) {
  const config = { ...defaultGroupCoordinatorConfig, groupInitialRebalanceDelayMs: 0, ...overrides };
  const coordinator = newCoordinator(log, clock, config);
  await electAll(coordinator);
  return { coordinator, clock, log, config };
}

const sub = encodeSubscription(['orders']);

function joinParams(overrides: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 30000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: sub }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    supportSkipAssignment: false,
    ...overrides,
  };
}

/** Lets promise callbacks (storage appends, pending responses) run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  await flush();
  return Promise.race([p, Promise.resolve('pending' as const)]);
}

/** Three members join a new group inside the initial delay: one generation, three members. */
async function stableGroupOfThree(coordinator: GroupCoordinator, clock: ManualClock) {
  const joins = [1, 2, 3].map((i) => coordinator.joinGroup(joinParams({ clientId: `c${i}` })));
  clock.advance(1000); // initial delay, extended once per newcomer
  const results = await Promise.all(joins);
  const leader = results.find((r) => r.members.length > 0)!;
  const assignments = results.map((r, i) => ({ memberId: r.memberId, assignment: encodeAssignment({ orders: [i * 2, i * 2 + 1] }) }));
  const syncs = results.map((r) =>
    coordinator.syncGroup({
      groupId: 'g',
      generationId: r.generationId,
      memberId: r.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: r.memberId === leader.memberId ? assignments : [],
    }),
  );
  const synced = await Promise.all(syncs);
  return { results, leader, synced, assignments };
}

t.test('three members rebalance into one generation; the leader assignment reaches everyone', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const { results, leader, synced, assignments } = await stableGroupOfThree(coordinator, clock);
  t.same(results.map((r) => r.errorCode), [0, 0, 0]);
  t.same(new Set(results.map((r) => r.generationId)), new Set([1]));
  t.equal(new Set(results.map((r) => r.memberId)).size, 3, 'distinct member ids');
  t.ok(results.every((r) => r.leader === leader.memberId), 'all agree on the leader');
  t.equal(leader.members.length, 3, 'the leader sees all members with their metadata');
  t.ok(leader.members.every((m) => m.metadata.equals(sub)));
  t.equal(results.filter((r) => r.members.length > 0).length, 1, 'followers get no member list');
  t.same(results.map((r) => r.protocolName), ['range', 'range', 'range']);
  t.same(synced.map((s) => s.errorCode), [0, 0, 0]);
  for (let i = 0; i < 3; i++) t.ok(synced[i].assignment.equals(assignments[i].assignment), `member ${i} got its assignment`);
  t.equal(coordinator.groupState('g'), 'Stable');
  const [described] = coordinator.describeGroups(['g']);
  t.equal(described.groupState, 'Stable');
  t.equal(described.protocolData, 'range');
  t.equal(described.members.length, 3);
  t.ok(described.members.every((m) => m.memberAssignment.length > 0 && m.clientHost === '/127.0.0.1'));
  coordinator.close();
});

t.test('JoinGroup v4+: a new member gets MEMBER_ID_REQUIRED with an id, then joins with it', async (t) => {
  const { coordinator } = await setup();
  const first = await coordinator.joinGroup(joinParams({ requireKnownMemberId: true }));
  t.equal(first.errorCode, E.MEMBER_ID_REQUIRED);
  t.match(first.memberId, /^client-[0-9a-f-]{36}$/);
  const second = await coordinator.joinGroup(joinParams({ requireKnownMemberId: true, memberId: first.memberId }));
  t.equal(second.errorCode, E.NONE);
  t.equal(second.memberId, first.memberId);
  t.equal(second.leader, first.memberId);
  t.equal(second.generationId, 1);
  const unknown = await coordinator.joinGroup(joinParams({ memberId: 'nobody' }));
  t.equal(unknown.errorCode, E.UNKNOWN_MEMBER_ID);
  coordinator.close();
});

t.test('session timeout outside group.min/max.session.timeout.ms is INVALID_SESSION_TIMEOUT', async (t) => {
  const { coordinator } = await setup();
  t.equal((await coordinator.joinGroup(joinParams({ sessionTimeoutMs: 5999 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  t.equal((await coordinator.joinGroup(joinParams({ sessionTimeoutMs: 1800001 }))).errorCode, E.INVALID_SESSION_TIMEOUT);
  t.equal((await coordinator.joinGroup(joinParams({ groupId: '' }))).errorCode, E.INVALID_GROUP_ID);
  coordinator.close();
});

t.test('protocol selection: the protocol all members support with the most first-choice votes', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const p = (name: string) => ({ name, metadata: Buffer.from(name) });
  const joins = [
    coordinator.joinGroup(joinParams({ protocols: [p('range'), p('roundrobin'), p('sticky')] })),
    coordinator.joinGroup(joinParams({ protocols: [p('roundrobin'), p('range')] })),
    coordinator.joinGroup(joinParams({ protocols: [p('sticky'), p('roundrobin'), p('range')] })),
    coordinator.joinGroup(joinParams({ protocols: [p('roundrobin'), p('sticky'), p('range')] })),
  ];
  clock.advance(1000); // initial delay, extended once per newcomer
  const results = await Promise.all(joins);
  t.same(results.map((r) => r.protocolName), ['roundrobin', 'roundrobin', 'roundrobin', 'roundrobin']);
  const leader = results.find((r) => r.members.length > 0)!;
  t.ok(leader.members.every((m) => m.metadata.equals(Buffer.from('roundrobin'))), 'leader gets metadata of the chosen protocol');

  const noCommon = await coordinator.joinGroup(joinParams({ protocols: [p('cooperative-sticky')] }));
  t.equal(noCommon.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  const otherType = await coordinator.joinGroup(joinParams({ protocolType: 'connect', protocols: [p('range')] }));
  t.equal(otherType.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  const emptyProtocols = await coordinator.joinGroup(joinParams({ groupId: 'other', protocols: [] }));
  t.equal(emptyProtocols.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);
  coordinator.close();
});

t.test('fencing: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const { results } = await stableGroupOfThree(coordinator, clock);
  const [a, b] = results as [JoinGroupResult, JoinGroupResult, JoinGroupResult];
  const hb = (memberId: string, generationId: number) => coordinator.heartbeat({ groupId: 'g', memberId, generationId, groupInstanceId: null });
  t.equal(hb(a.memberId, 1), E.NONE);
  t.equal(hb(a.memberId, 0), E.ILLEGAL_GENERATION);
  t.equal(hb('ghost', 1), E.UNKNOWN_MEMBER_ID);
  t.equal(coordinator.heartbeat({ groupId: 'nope', memberId: a.memberId, generationId: 1, groupInstanceId: null }), E.UNKNOWN_MEMBER_ID);

  const staleSync = await coordinator.syncGroup({ groupId: 'g', generationId: 9, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  t.equal(staleSync.errorCode, E.ILLEGAL_GENERATION);
  const wrongProtocol = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [] });
  t.equal(wrongProtocol.errorCode, E.INCONSISTENT_GROUP_PROTOCOL);

  // A subscription change from member b starts a rebalance: others learn it from their heartbeat.
  const rejoinB = coordinator.joinGroup(joinParams({ memberId: b.memberId, protocols: [{ name: 'range', metadata: encodeSubscription(['orders', 'more']) }] }));
  t.equal(coordinator.groupState('g'), 'PreparingRebalance');
  t.equal(hb(a.memberId, 1), E.REBALANCE_IN_PROGRESS);
  const syncDuringJoin = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  t.equal(syncDuringJoin.errorCode, E.REBALANCE_IN_PROGRESS);
  // Commits with the current generation are still allowed while members rejoin.
  const commitDuringJoin = await coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  t.equal(commitDuringJoin[0].partitions[0].errorCode, E.NONE);

  const rejoins = [rejoinB, ...[results[0], results[2]].map((r) => coordinator.joinGroup(joinParams({ memberId: r.memberId })))];
  const second = await Promise.all(rejoins);
  t.same(second.map((r) => r.generationId), [2, 2, 2]);
  t.equal(coordinator.groupState('g'), 'CompletingRebalance');
  t.equal(hb(a.memberId, 1), E.ILLEGAL_GENERATION, 'old generation is fenced');
  t.equal(hb(a.memberId, 2), E.NONE, 'heartbeats during CompletingRebalance are fine');
  const commitWhileCompleting = await coordinator.commitOffsets({
    groupId: 'g', generationId: 2, memberId: a.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 6, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  t.equal(commitWhileCompleting[0].partitions[0].errorCode, E.REBALANCE_IN_PROGRESS);
  const staleCommit = await coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: 'ghost', groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 6, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  t.equal(staleCommit[0].partitions[0].errorCode, E.REBALANCE_IN_PROGRESS);
  coordinator.close();
});

t.test('a member that stops heartbeating is evicted after its session timeout', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const { results } = await stableGroupOfThree(coordinator, clock);
  const [a, b, dead] = results as [JoinGroupResult, JoinGroupResult, JoinGroupResult];
  // a and b heartbeat every 3 s; the third member is silent.
  for (let i = 0; i < 3; i++) {
    clock.advance(3000);
    coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1, groupInstanceId: null });
    coordinator.heartbeat({ groupId: 'g', memberId: b.memberId, generationId: 1, groupInstanceId: null });
  }
  t.equal(coordinator.groupState('g'), 'Stable', 'still stable at 9 s');
  clock.advance(1500);
  t.equal(coordinator.groupState('g'), 'PreparingRebalance', 'eviction started a rebalance');
  t.equal(coordinator.heartbeat({ groupId: 'g', memberId: dead.memberId, generationId: 1, groupInstanceId: null }), E.UNKNOWN_MEMBER_ID);
  t.equal(coordinator.heartbeat({ groupId: 'g', memberId: a.memberId, generationId: 1, groupInstanceId: null }), E.REBALANCE_IN_PROGRESS);
  const rejoined = await Promise.all([a, b].map((r) => coordinator.joinGroup(joinParams({ memberId: r.memberId }))));
  t.same(rejoined.map((r) => r.generationId), [2, 2]);
  const leader = rejoined.find((r) => r.members.length > 0)!;
  t.equal(leader.members.length, 2);
  t.notOk(leader.members.some((m) => m.memberId === dead.memberId));
  coordinator.close();
});

t.test('a member that does not rejoin within the rebalance timeout is dropped from the generation', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const { results } = await stableGroupOfThree(coordinator, clock);
  const [a, b] = results as [JoinGroupResult, JoinGroupResult, JoinGroupResult];
  const joinA = coordinator.joinGroup(joinParams({ memberId: a.memberId, protocols: [{ name: 'range', metadata: encodeSubscription(['x']) }] }));
  clock.advance(2000);
  const joinB = coordinator.joinGroup(joinParams({ memberId: b.memberId }));
  t.equal(await settled(joinA), 'pending');
  // Keep a and b alive through heartbeats is unnecessary: members parked in JoinGroup stay alive.
  clock.advance(28000);
  const [ra, rb] = await Promise.all([joinA, joinB]);
  t.equal(ra.generationId, 2);
  t.equal(rb.generationId, 2);
  t.equal((ra.members.length || rb.members.length), 2, 'the third member is gone');
  coordinator.close();
});

t.test('LeaveGroup removes several members at once (v3+), by member id or group.instance.id', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const joins = [
    coordinator.joinGroup(joinParams({ groupInstanceId: 'i-1' })),
    coordinator.joinGroup(joinParams({})),
    coordinator.joinGroup(joinParams({})),
  ];
  clock.advance(1000); // initial delay, extended once per newcomer
  const [s, d1, d2] = await Promise.all(joins);
  const res = coordinator.leaveGroup('g', [
    { memberId: '', groupInstanceId: 'i-1' },
    { memberId: d1.memberId, groupInstanceId: null },
    { memberId: 'ghost', groupInstanceId: null },
    { memberId: 'wrong-id', groupInstanceId: 'i-2' },
  ]);
  t.equal(res.errorCode, E.NONE);
  t.same(res.members.map((m) => m.errorCode), [E.NONE, E.NONE, E.UNKNOWN_MEMBER_ID, E.UNKNOWN_MEMBER_ID]);
  t.equal(coordinator.groupState('g'), 'PreparingRebalance');
  const last = await coordinator.joinGroup(joinParams({ memberId: d2.memberId }));
  t.equal(last.errorCode, E.NONE);
  t.equal(last.members.length, 1);
  t.equal(last.leader, d2.memberId, 'leadership moves to a remaining member');
  t.equal(coordinator.heartbeat({ groupId: 'g', memberId: s.memberId, generationId: 2, groupInstanceId: 'i-1' }), E.UNKNOWN_MEMBER_ID);
  t.equal(coordinator.leaveGroup('missing', [{ memberId: 'x', groupInstanceId: null }]).errorCode, E.UNKNOWN_MEMBER_ID);
  // Everyone leaves: the group becomes Empty with a new generation.
  coordinator.leaveGroup('g', [{ memberId: d2.memberId, groupInstanceId: null }]);
  t.equal(coordinator.groupState('g'), 'Empty');
  coordinator.close();
});

t.test('static member rejoining within its session gets its assignment back without a rebalance', async (t) => {
  const { coordinator, clock, log } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const joins = [
    coordinator.joinGroup(joinParams({ groupInstanceId: 'inst-a', clientId: 'a' })),
    coordinator.joinGroup(joinParams({ groupInstanceId: 'inst-b', clientId: 'b' })),
  ];
  clock.advance(1000); // initial delay, extended once per newcomer
  const [ja, jb] = (await Promise.all(joins)) as [JoinGroupResult, JoinGroupResult];
  const leader = ja.members.length > 0 ? ja : jb;
  const follower = leader === ja ? jb : ja;
  const assignments = [
    { memberId: leader.memberId, assignment: encodeAssignment({ orders: [0, 1, 2] }) },
    { memberId: follower.memberId, assignment: encodeAssignment({ orders: [3, 4, 5] }) },
  ];
  await Promise.all([
    coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: leader === ja ? 'inst-a' : 'inst-b', protocolType: null, protocolName: null, assignments }),
    coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: follower === ja ? 'inst-a' : 'inst-b', protocolType: null, protocolName: null, assignments: [] }),
  ]);
  t.equal(coordinator.groupState('g'), 'Stable');
  const followerInstance = follower === ja ? 'inst-a' : 'inst-b';

  // The follower restarts: it has no member id, only its group.instance.id.
  clock.advance(5000);
  const rejoin = await coordinator.joinGroup(joinParams({ groupInstanceId: followerInstance, clientId: follower === ja ? 'a' : 'b' }));
  t.equal(rejoin.errorCode, E.NONE);
  t.not(rejoin.memberId, follower.memberId, 'a new member id');
  t.equal(rejoin.generationId, 1, 'same generation: no rebalance');
  t.equal(coordinator.groupState('g'), 'Stable');
  t.same(rejoin.members, [], 'a follower gets no member list');
  const sync = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: rejoin.memberId, groupInstanceId: followerInstance, protocolType: null, protocolName: null, assignments: [] });
  t.equal(sync.errorCode, E.NONE);
  t.ok(sync.assignment.equals(assignments[1].assignment), 'its old assignment');
  t.equal(coordinator.heartbeat({ groupId: 'g', memberId: follower.memberId, generationId: 1, groupInstanceId: followerInstance }), E.FENCED_INSTANCE_ID, 'old id fenced');
  const fencedCommit = await coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: followerInstance, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 3, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  t.equal(fencedCommit[0].partitions[0].errorCode, E.FENCED_INSTANCE_ID);

  // A static leader on JoinGroup v9+ learns it leads but is told to skip the assignment.
  const leaderInstance = leader === ja ? 'inst-a' : 'inst-b';
  const leaderRejoin = await coordinator.joinGroup(joinParams({ groupInstanceId: leaderInstance, supportSkipAssignment: true }));
  t.equal(leaderRejoin.errorCode, E.NONE);
  t.equal(leaderRejoin.leader, leaderRejoin.memberId);
  t.equal(leaderRejoin.skipAssignment, true);
  t.equal(leaderRejoin.members.length, 2);
  t.equal(coordinator.groupState('g'), 'Stable');

  // The new member id survives a coordinator restart.
  coordinator.close();
  const restarted = newCoordinator(log, clock, { ...defaultGroupCoordinatorConfig });
  await electAll(restarted);
  t.equal(restarted.heartbeat({ groupId: 'g', memberId: rejoin.memberId, generationId: 1, groupInstanceId: followerInstance }), E.NONE);
  const [d] = restarted.describeGroups(['g']);
  t.equal(d.groupState, 'Stable');
  t.same(d.members.map((m) => m.groupInstanceId).sort(), ['inst-a', 'inst-b']);
  restarted.close();
});

t.test('a static member rejoining with a different subscription triggers a rebalance', async (t) => {
  const { coordinator } = await setup();
  const j1 = await coordinator.joinGroup(joinParams({ groupInstanceId: 's1' }));
  await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j1.memberId, groupInstanceId: 's1', protocolType: null, protocolName: null, assignments: [] });
  const j2 = await coordinator.joinGroup(joinParams({ groupInstanceId: 's1', protocols: [{ name: 'range', metadata: encodeSubscription(['other']) }] }));
  t.equal(j2.errorCode, E.NONE);
  t.equal(j2.generationId, 2);
  t.equal(coordinator.heartbeat({ groupId: 'g', memberId: j1.memberId, generationId: 2, groupInstanceId: 's1' }), E.FENCED_INSTANCE_ID);
  coordinator.close();
});

t.test('SyncGroup with an empty assignment for a member is a valid, empty response', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 100 });
  const joins = [1, 2].map(() => coordinator.joinGroup(joinParams()));
  clock.advance(1000); // initial delay, extended once per newcomer
  const results = await Promise.all(joins);
  const leader = results.find((r) => r.members.length > 0)!;
  const follower = results.find((r) => r !== leader)!;
  const followerSync = coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  t.equal(await settled(followerSync), 'pending', 'a follower waits for the leader');
  const leaderSync = await coordinator.syncGroup({
    groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range',
    assignments: [{ memberId: leader.memberId, assignment: encodeAssignment({ orders: [0] }) }],
  });
  const fs = await followerSync;
  t.equal(leaderSync.errorCode, E.NONE);
  t.equal(fs.errorCode, E.NONE);
  t.equal(fs.assignment.length, 0);
  t.equal(fs.protocolType, 'consumer');
  t.equal(fs.protocolName, 'range');
  coordinator.close();
});

t.test('a storage failure while storing the assignment fails the sync and restarts the rebalance', async (t) => {
  const { coordinator, log } = await setup();
  const j = await coordinator.joinGroup(joinParams());
  log.failNextAppend = new Error('disk full');
  const s = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  t.equal(s.errorCode, E.COORDINATOR_NOT_AVAILABLE);
  t.equal(coordinator.groupState('g'), 'PreparingRebalance');
  coordinator.close();
});

t.test('offsets: commit with metadata, fetch, standalone commits, restart reload', async (t) => {
  const { coordinator, log, clock } = await setup();
  const simple = await coordinator.commitOffsets({
    groupId: 'standalone', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 't', partitions: [
      { partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: 3, committedMetadata: 'checkpoint-a' },
      { partitionIndex: 1, committedOffset: 200, committedLeaderEpoch: -1, committedMetadata: null },
      { partitionIndex: 2, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(5000) },
    ] }],
  });
  t.same(simple[0].partitions.map((p) => p.errorCode), [E.NONE, E.NONE, E.OFFSET_METADATA_TOO_LARGE]);
  t.equal(coordinator.groupState('standalone'), 'Empty');
  const notMember = await coordinator.commitOffsets({
    groupId: 'never-joined', generationId: 3, memberId: 'm', groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  t.equal(notMember[0].partitions[0].errorCode, E.ILLEGAL_GENERATION);

  const fetched = coordinator.fetchOffsets('standalone', [{ name: 't', partitionIndexes: [0, 1, 2] }, { name: 'u', partitionIndexes: [0] }]);
  t.same(fetched.topics[0].partitions, [
    { partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: 3, metadata: 'checkpoint-a', errorCode: 0 },
    { partitionIndex: 1, committedOffset: 200, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
    { partitionIndex: 2, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
  ]);
  t.same(fetched.topics[1].partitions[0].committedOffset, -1);
  const all = coordinator.fetchOffsets('standalone', null);
  t.equal(all.topics.length, 1);
  t.equal(all.topics[0].partitions.length, 2);
  t.same(coordinator.fetchOffsets('unknown-group', null).topics, []);

  // Everything lands in the group's __consumer_offsets partition.
  const partition = coordinator.partitionFor('standalone');
  t.equal(log.partitions[partition].length, 2);
  coordinator.close();

  const restarted = newCoordinator(log, clock, defaultGroupCoordinatorConfig);
  const loading = electAll(restarted);
  t.equal(restarted.fetchOffsets('standalone', null).errorCode, E.COORDINATOR_LOAD_IN_PROGRESS);
  await loading;
  const again = restarted.fetchOffsets('standalone', [{ name: 't', partitionIndexes: [0, 1] }]);
  t.same(again.topics[0].partitions.map((p) => [p.committedOffset, p.metadata, p.committedLeaderEpoch]), [[100, 'checkpoint-a', 3], [200, '', -1]]);
  t.same(restarted.listGroups([]).groups, [{ groupId: 'standalone', protocolType: '', groupState: 'Empty' }]);
  restarted.close();
});

t.test('OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC while active and subscribed; deleted offsets stay deleted', async (t) => {
  const { coordinator, log, clock } = await setup();
  const j = await coordinator.joinGroup(joinParams());
  await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  await coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [
      { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: -1, committedMetadata: null }] },
      { name: 'old-topic', partitions: [{ partitionIndex: 0, committedOffset: 20, committedLeaderEpoch: -1, committedMetadata: null }] },
    ],
  });
  const res = await coordinator.deleteOffsets('g', [
    { name: 'orders', partitions: [{ partitionIndex: 0 }] },
    { name: 'old-topic', partitions: [{ partitionIndex: 0 }] },
  ]);
  t.equal(res.errorCode, E.NONE);
  t.same(res.topics.map((x) => x.partitions[0].errorCode), [E.GROUP_SUBSCRIBED_TO_TOPIC, E.NONE]);
  t.equal(coordinator.fetchOffsets('g', [{ name: 'old-topic', partitionIndexes: [0] }]).topics[0].partitions[0].committedOffset, -1);
  t.equal((await coordinator.deleteOffsets('nope', [])).errorCode, E.GROUP_ID_NOT_FOUND);
  coordinator.close();
  const restarted = newCoordinator(log, clock, defaultGroupCoordinatorConfig);
  await electAll(restarted);
  t.equal(restarted.fetchOffsets('g', [{ name: 'old-topic', partitionIndexes: [0] }]).topics[0].partitions[0].committedOffset, -1);
  t.equal(restarted.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }]).topics[0].partitions[0].committedOffset, 10);
  restarted.close();
});

t.test('DeleteGroups: NON_EMPTY_GROUP while members remain, then the group and offsets are gone', async (t) => {
  const { coordinator, log, clock } = await setup();
  const j = await coordinator.joinGroup(joinParams());
  await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  await coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  t.same(await coordinator.deleteGroups(['g', 'missing', '']), [
    { groupId: 'g', errorCode: E.NON_EMPTY_GROUP },
    { groupId: 'missing', errorCode: E.GROUP_ID_NOT_FOUND },
    { groupId: '', errorCode: E.INVALID_GROUP_ID },
  ]);
  coordinator.leaveGroup('g', [{ memberId: j.memberId, groupInstanceId: null }]);
  t.equal(coordinator.groupState('g'), 'Empty');
  t.same(coordinator.listGroups(['empty']).groups.map((g) => g.groupId), ['g']);
  t.same(coordinator.listGroups(['Stable']).groups, []);
  t.same(await coordinator.deleteGroups(['g']), [{ groupId: 'g', errorCode: E.NONE }]);
  t.equal(coordinator.groupState('g'), null);
  t.same(coordinator.describeGroups(['g'])[0].groupState, 'Dead');
  coordinator.close();
  const restarted = newCoordinator(log, clock, defaultGroupCoordinatorConfig);
  await electAll(restarted);
  t.equal(restarted.groupState('g'), null);
  t.same(restarted.fetchOffsets('g', null).topics, []);
  restarted.close();
});

t.test('offsets.retention.minutes expires the offsets of an Empty group, then the group', async (t) => {
  const { coordinator, clock } = await setup({ offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 });
  const j = await coordinator.joinGroup(joinParams());
  await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  await coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  // While the member keeps heartbeating, the offsets of a subscribed topic never expire.
  for (let i = 0; i < 12; i++) {
    clock.advance(9000);
    coordinator.heartbeat({ groupId: 'g', memberId: j.memberId, generationId: 1, groupInstanceId: null });
    await flush();
  }
  t.equal(coordinator.fetchOffsets('g', null).topics.length, 1, 'kept while Stable');
  coordinator.leaveGroup('g', [{ memberId: j.memberId, groupInstanceId: null }]);
  t.equal(coordinator.groupState('g'), 'Empty');
  clock.advance(50_000);
  await flush();
  t.equal(coordinator.fetchOffsets('g', null).topics.length, 1, 'kept before the retention passes');
  clock.advance(20_000);
  await flush();
  await flush();
  t.same(coordinator.fetchOffsets('g', null).topics, [], 'expired');
  t.equal(coordinator.groupState('g'), null, 'the empty group without offsets is gone');
  coordinator.close();
});

t.test('the initial rebalance delay waits for more members, bounded by the rebalance timeout', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 3000 });
  const first = coordinator.joinGroup(joinParams({ rebalanceTimeoutMs: 10000 }));
  clock.advance(2000);
  t.equal(await settled(first), 'pending');
  const second = coordinator.joinGroup(joinParams({ rebalanceTimeoutMs: 10000 }));
  clock.advance(1000);
  t.equal(await settled(first), 'pending', 'a newcomer extended the delay');
  clock.advance(3000);
  const [a, b] = await Promise.all([first, second]);
  t.equal(a.generationId, 1);
  t.equal(b.generationId, 1);
  t.equal((a.members.length || b.members.length), 2);
  coordinator.close();
});

t.test('close answers parked requests with NOT_COORDINATOR and leaves no timers behind', async (t) => {
  const { coordinator, clock } = await setup({ groupInitialRebalanceDelayMs: 3000 });
  const parked = coordinator.joinGroup(joinParams());
  coordinator.close();
  t.equal((await parked).errorCode, E.NOT_COORDINATOR);
  t.equal(coordinator.heartbeat({ groupId: 'g', memberId: 'x', generationId: 1, groupInstanceId: null }), E.NOT_COORDINATOR);
  t.equal(clock.pendingTimers, 0);
});
