// cluster/ room: replica placement of new partitions, as Kafka's AdminUtils.assignReplicasToBrokers
// does it: round-robin over the brokers sorted by id from a random start, the followers shifted so
// that the leaders and the followers of consecutive partitions land on different brokers; when
// every broker has a rack, over a rack-alternating broker list so a partition's replicas span racks.
import { notEnoughBrokers } from './topic-rules.js';

export interface AssignableBroker {
  nodeId: number;
  rack: string | null;
}

export interface AssignmentOptions {
  /** First partition id to place (CreatePartitions continues the existing ones). */
  startPartitionId?: number;
  /** Fixed start index into the broker list (Kafka: -1 = random). */
  fixedStartIndex?: number;
  /** Random integer in [0, n); injectable for tests. */
  random?: (n: number) => number;
}

const defaultRandom = (n: number): number => Math.floor(Math.random() * n);

/** Replica lists of `partitions` new partitions (index i = partition startPartitionId + i). */
export function assignReplicas(brokers: readonly AssignableBroker[], partitions: number, replicationFactor: number, options: AssignmentOptions = {}): number[][] {
  if (replicationFactor > brokers.length) throw notEnoughBrokers(replicationFactor, brokers.length);
  const sorted = [...brokers].sort((a, b) => a.nodeId - b.nodeId);
  const rackAware = sorted.length > 0 && sorted.every((b) => b.rack !== null);
  return rackAware ? assignRackAware(sorted, partitions, replicationFactor, options) : assignRackUnaware(sorted.map((b) => b.nodeId), partitions, replicationFactor, options);
}

/** Kafka's replicaIndex: the j-th follower of a partition whose leader is at `first`. */
function replicaIndex(first: number, secondReplicaShift: number, j: number, n: number): number {
  const shift = 1 + ((secondReplicaShift + j) % (n - 1));
  return (first + shift) % n;
}

function assignRackUnaware(ids: number[], partitions: number, rf: number, options: AssignmentOptions): number[][] {
  const random = options.random ?? defaultRandom;
  const n = ids.length;
  const fixed = options.fixedStartIndex ?? -1;
  const startIndex = fixed >= 0 ? fixed : random(n);
  let nextReplicaShift = fixed >= 0 ? fixed : random(n);
  let partitionId = Math.max(0, options.startPartitionId ?? 0);
  const out: number[][] = [];
  for (let i = 0; i < partitions; i++, partitionId++) {
    if (partitionId > 0 && partitionId % n === 0) nextReplicaShift++;
    const first = (partitionId + startIndex) % n;
    const replicas = [ids[first]];
    for (let j = 0; j < rf - 1; j++) replicas.push(ids[replicaIndex(first, nextReplicaShift, j, n)]);
    out.push(replicas);
  }
  return out;
}

/** Brokers ordered rack by rack (racks sorted, brokers by id within a rack): r1b1, r2b1, r1b2, … */
function rackAlternated(brokers: readonly AssignableBroker[]): AssignableBroker[] {
  const byRack = new Map<string, AssignableBroker[]>();
  for (const b of brokers) {
    const rack = b.rack ?? '';
    const list = byRack.get(rack) ?? [];
    list.push(b);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const cursors = racks.map(() => 0);
  const out: AssignableBroker[] = [];
  for (let r = 0; out.length < brokers.length; r = (r + 1) % racks.length) {
    const list = byRack.get(racks[r]) ?? [];
    if (cursors[r] < list.length) out.push(list[cursors[r]++]);
  }
  return out;
}

function assignRackAware(brokers: readonly AssignableBroker[], partitions: number, rf: number, options: AssignmentOptions): number[][] {
  const random = options.random ?? defaultRandom;
  const arranged = rackAlternated(brokers);
  const n = arranged.length;
  const numRacks = new Set(arranged.map((b) => b.rack)).size;
  const fixed = options.fixedStartIndex ?? -1;
  const startIndex = fixed >= 0 ? fixed : random(n);
  let nextReplicaShift = fixed >= 0 ? fixed : random(n);
  let partitionId = Math.max(0, options.startPartitionId ?? 0);
  const out: number[][] = [];
  for (let i = 0; i < partitions; i++, partitionId++) {
    if (partitionId > 0 && partitionId % n === 0) nextReplicaShift++;
    const first = (partitionId + startIndex) % n;
    const leader = arranged[first];
    const replicas = [leader.nodeId];
    const racksWithReplicas = new Set([leader.rack]);
    const brokersWithReplicas = new Set([leader.nodeId]);
    let k = 0;
    for (let j = 0; j < rf - 1; j++) {
      for (;;) {
        const candidate = arranged[replicaIndex(first, nextReplicaShift * numRacks, k, n)];
        k++;
        // A rack gets a second replica only once every rack has one; likewise a broker.
        if (
          (!racksWithReplicas.has(candidate.rack) || racksWithReplicas.size === numRacks) &&
          (!brokersWithReplicas.has(candidate.nodeId) || brokersWithReplicas.size === n)
        ) {
          replicas.push(candidate.nodeId);
          racksWithReplicas.add(candidate.rack);
          brokersWithReplicas.add(candidate.nodeId);
          break;
        }
      }
    }
    out.push(replicas);
  }
  return out;
}

/**
 * Kafka's start index for partitions added to a topic: the position of the current first replica
 * of partition 0 among the sorted brokers, so new partitions continue the existing round-robin.
 */
export function continuationStartIndex(brokers: readonly AssignableBroker[], partition0Replicas: readonly number[]): number {
  const ids = brokers.map((b) => b.nodeId).sort((a, b) => a - b);
  const head = partition0Replicas[0] ?? 0;
  return Math.max(0, ids.findIndex((id) => id >= head));
}
