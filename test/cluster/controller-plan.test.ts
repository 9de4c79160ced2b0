// cluster/ room tests: the controller's pure decisions (leader election from the ISR, ISR shrink
// on broker loss, unclean election, offline partitions) and Kafka's replica placement.
import t from 'tap';
import { applyPlannedChange, assignReplicas, planPartitionChange, uncleanElectionEnabled, type PartitionState } from '../../src/cluster/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';

function state(replicas: number[], isr: number[], leader: number, leaderEpoch = 3, partitionEpoch = 7): PartitionState {
  return { topic: 't', topicId: 'id', partition: 0, replicas, isr, leader, leaderEpoch, partitionEpoch };
}
const live = (...ids: number[]): Set<number> => new Set(ids);

t.test('planPartitionChange', async (t) => {
  t.equal(planPartitionChange(state([1, 2, 3], [1, 2, 3], 1), live(1, 2, 3), false), null, 'nothing to do');
  t.same(planPartitionChange(state([1, 2, 3], [1, 2, 3], 1), live(1, 2), false), { leader: 1, isr: [1, 2], leaderChanged: false, unclean: false }, 'a dead follower leaves the ISR');
  t.same(planPartitionChange(state([1, 2, 3], [1, 2, 3], 1), live(2, 3), false), { leader: 2, isr: [2, 3], leaderChanged: true, unclean: false }, 'first live ISR member in replica order');
  t.same(planPartitionChange(state([1, 2, 3], [1, 3], 1), live(2, 3), false), { leader: 3, isr: [3], leaderChanged: true, unclean: false }, 'never a replica outside the ISR');
  t.same(planPartitionChange(state([1, 2, 3], [3, 1], 1), live(2, 3), false)?.leader, 3);
  t.same(planPartitionChange(state([1, 2, 3], [1], 1), live(2, 3), false), { leader: -1, isr: [1], leaderChanged: true, unclean: false }, 'offline, ISR kept');
  t.same(planPartitionChange(state([1, 2, 3], [1, 3], 1), live(2), false), { leader: -1, isr: [1, 3], leaderChanged: true, unclean: false }, 'offline keeps every ISR member');
  t.equal(planPartitionChange(state([1, 2, 3], [1], -1), live(2, 3), false), null, 'already offline');
  t.same(planPartitionChange(state([1, 2, 3], [1], -1), live(1, 2), false), { leader: 1, isr: [1], leaderChanged: true, unclean: false }, 'an ISR member comes back and leads');
  t.same(planPartitionChange(state([1, 2, 3], [1], 1), live(3, 2), true), { leader: 2, isr: [2], leaderChanged: true, unclean: true }, 'unclean: first live replica');
  t.same(planPartitionChange(state([1, 2, 3], [1], -1), live(3), true), { leader: 3, isr: [3], leaderChanged: true, unclean: true }, 'unclean from offline');
  t.equal(planPartitionChange(state([1, 2, 3], [1], -1), live(), true), null, 'nobody alive');
});

t.test('applyPlannedChange bumps the epochs', async (t) => {
  const s = state([1, 2, 3], [1, 2, 3], 1);
  const moved = applyPlannedChange(s, { leader: 2, isr: [2, 3], leaderChanged: true, unclean: false });
  t.same([moved.leader, moved.leaderEpoch, moved.partitionEpoch, moved.isr], [2, 4, 8, [2, 3]]);
  const shrunk = applyPlannedChange(s, { leader: 1, isr: [1, 2], leaderChanged: false, unclean: false });
  t.same([shrunk.leader, shrunk.leaderEpoch, shrunk.partitionEpoch], [1, 3, 8]);
});

t.test('uncleanElectionEnabled: topic override over the broker default', async (t) => {
  t.equal(uncleanElectionEnabled({}, false), false);
  t.equal(uncleanElectionEnabled({}, true), true);
  t.equal(uncleanElectionEnabled({ 'unclean.leader.election.enable': 'true' }, false), true);
  t.equal(uncleanElectionEnabled({ 'unclean.leader.election.enable': 'false' }, true), false);
});

t.test("assignReplicas follows Kafka's AdminUtils", async (t) => {
  const brokers = [0, 1, 2, 3, 4].map((nodeId) => ({ nodeId, rack: null }));
  // Kafka's AdminUtilsTest.testReplicaAssignment (fixed start index 0).
  t.same(assignReplicas(brokers, 10, 3, { fixedStartIndex: 0 }), [
    [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
    [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
  ]);
  // Adding partitions continues from partition 10 (the follower shift steps at every full round).
  t.same(assignReplicas(brokers, 2, 3, { fixedStartIndex: 0, startPartitionId: 10 }), [[0, 2, 3], [1, 3, 4]]);
  const random = assignReplicas(brokers, 50, 3);
  t.ok(random.every((r) => new Set(r).size === 3), 'distinct replicas');
  const leaders = new Map<number, number>();
  for (const r of random) leaders.set(r[0], (leaders.get(r[0]) ?? 0) + 1);
  t.same([...leaders.values()], [10, 10, 10, 10, 10], 'leaders balanced');
  t.throws(() => assignReplicas(brokers, 1, 6), new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Unable to replicate the partition 6 time(s): The target replication factor of 6 cannot be reached because only 5 broker(s) are registered.'));
});

t.test('assignReplicas spreads replicas over racks', async (t) => {
  const racks: Record<number, string> = { 0: 'rack1', 1: 'rack2', 2: 'rack2', 3: 'rack3', 4: 'rack3', 5: 'rack1' };
  const brokers = Object.entries(racks).map(([id, rack]) => ({ nodeId: Number(id), rack }));
  const assignment = assignReplicas(brokers, 6, 3, { fixedStartIndex: 2 });
  for (const replicas of assignment) t.equal(new Set(replicas.map((r) => racks[r])).size, 3, `${replicas.join(',')} spans 3 racks`);
  const load = new Map<number, number>();
  for (const r of assignment.flat()) load.set(r, (load.get(r) ?? 0) + 1);
  t.same([...load.values()], [3, 3, 3, 3, 3, 3], 'every broker holds 3 replicas');
  t.equal(new Set(assignment.map((r) => r[0])).size, 6, 'every broker leads one partition');
  const two = assignReplicas(brokers, 12, 2);
  t.ok(two.every((r) => racks[r[0]] !== racks[r[1]]), 'RF 2: two racks');
  // A broker without a rack: rack-unaware placement.
  t.equal(assignReplicas([...brokers, { nodeId: 6, rack: null }], 7, 3).length, 7);
});
