// coordinator/group room: the server-side assignors of KIP-848 consumer groups
// (group.consumer.assignors): `uniform` (balanced and sticky, as Kafka's UniformAssignor) and
// `range` (per topic, contiguous ranges over the members sorted by id, as Kafka's RangeAssignor).
import type { Assignment, SubscribedTopic } from './consumer-group.js';

export interface AssignorMember {
  memberId: string;
  /** Topic names the member subscribes to (resolved, regex included). */
  topics: ReadonlySet<string>;
  /** The member's current target assignment, for stickiness. */
  current: Assignment;
}

function bucket(result: Map<string, Assignment>, memberId: string): Assignment {
  let a = result.get(memberId);
  if (a === undefined) {
    a = new Map();
    result.set(memberId, a);
  }
  return a;
}

export type Assignor = (members: readonly AssignorMember[], topics: ReadonlyMap<string, SubscribedTopic>) => Map<string, Assignment>;

function put(a: Assignment, topicId: string, p: number): void {
  let ps = a.get(topicId);
  if (ps === undefined) {
    ps = new Set();
    a.set(topicId, ps);
  }
  ps.add(p);
}

/**
 * Uniform: every member ends with as many partitions as the others it shares subscriptions with,
 * ±1, moving as few partitions as possible. Partitions are dealt in (topic, partition) order; a
 * partition stays with its current owner while that owner is below its share, else it goes to the
 * subscribed member with the fewest partitions (ties: member id order).
 */
export const uniformAssignor: Assignor = (members, topics) => {
  const result = new Map<string, Assignment>(members.map((m) => [m.memberId, new Map()]));
  const counts = new Map<string, number>(members.map((m) => [m.memberId, 0]));
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const partitions: Array<{ topic: SubscribedTopic; p: number; eligible: AssignorMember[]; eligibleIds: ReadonlySet<string> }> = [];
  // A member's share: the partitions it can take, spread over everyone who can take them too —
  // summed per topic (numPartitions / subscribers), so one pass over topics × members.
  const shareSum = new Map<string, number>();
  let homogeneous = true;
  for (const topic of [...topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const eligible = sorted.filter((m) => m.topics.has(topic.name));
    if (eligible.length === 0) continue;
    if (eligible.length !== sorted.length) homogeneous = false;
    const eligibleIds = new Set(eligible.map((m) => m.memberId));
    for (const m of eligible) shareSum.set(m.memberId, (shareSum.get(m.memberId) ?? 0) + topic.numPartitions / eligible.length);
    for (let p = 0; p < topic.numPartitions; p++) partitions.push({ topic, p, eligible, eligibleIds });
  }
  const share = (memberId: string): number => Math.ceil((shareSum.get(memberId) ?? 0) - 1e-9);
  // Homogeneous groups get an exact quota: floor(n/m) each, the first n%m owners one more.
  let extra = homogeneous && sorted.length > 0 ? partitions.length % sorted.length : 0;
  const base = homogeneous && sorted.length > 0 ? Math.floor(partitions.length / sorted.length) : 0;
  // Current owners by partition (one pass over the current assignments).
  const currentOwner = new Map<string, AssignorMember>();
  for (const m of sorted) for (const [topicId, ps] of m.current) for (const p of ps) if (!currentOwner.has(`${topicId}:${p}`)) currentOwner.set(`${topicId}:${p}`, m);
  const unassigned: typeof partitions = [];
  // Pass 1: stickiness within the share.
  for (const x of partitions) {
    const candidate = currentOwner.get(`${x.topic.topicId}:${x.p}`);
    const owner = candidate !== undefined && x.eligibleIds.has(candidate.memberId) ? candidate : undefined;
    if (owner !== undefined) {
      const n = counts.get(owner.memberId) ?? 0;
      const limit = homogeneous ? base + (n >= base && extra > 0 ? 1 : 0) : share(owner.memberId);
      if (n < limit) {
        if (homogeneous && n >= base) extra--;
        put(bucket(result, owner.memberId), x.topic.topicId, x.p);
        counts.set(owner.memberId, n + 1);
        continue;
      }
    }
    unassigned.push(x);
  }
  // Pass 2: the rest to the least loaded eligible member.
  for (const x of unassigned) {
    let best = x.eligible[0];
    for (const m of x.eligible) if ((counts.get(m.memberId) ?? 0) < (counts.get(best.memberId) ?? 0)) best = m;
    put(bucket(result, best.memberId), x.topic.topicId, x.p);
    counts.set(best.memberId, (counts.get(best.memberId) ?? 0) + 1);
  }
  return result;
};

/**
 * Range: for each topic, its subscribers sorted by member id get contiguous ranges of
 * numPartitions / subscribers partitions, the first numPartitions % subscribers one more.
 */
export const rangeAssignor: Assignor = (members, topics) => {
  const result = new Map<string, Assignment>(members.map((m) => [m.memberId, new Map()]));
  for (const topic of topics.values()) {
    const subscribers = members.filter((m) => m.topics.has(topic.name)).sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
    if (subscribers.length === 0) continue;
    const per = Math.floor(topic.numPartitions / subscribers.length);
    const extra = topic.numPartitions % subscribers.length;
    let next = 0;
    subscribers.forEach((m, i) => {
      const n = per + (i < extra ? 1 : 0);
      for (let k = 0; k < n; k++) put(bucket(result, m.memberId), topic.topicId, next++);
    });
  }
  return result;
};

export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([
  ['uniform', uniformAssignor],
  ['range', rangeAssignor],
]);

/** A group.consumer.assignors entry: a short name or Kafka's class name. */
export function assignorName(entry: string): string {
  const e = entry.trim();
  if (e === 'org.apache.kafka.coordinator.group.assignor.UniformAssignor') return 'uniform';
  if (e === 'org.apache.kafka.coordinator.group.assignor.RangeAssignor') return 'range';
  return e;
}
