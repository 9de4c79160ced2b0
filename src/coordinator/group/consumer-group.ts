// coordinator/group room: the in-memory model of a KIP-848 consumer group ("consumer" protocol) —
// group epoch, target assignment and its epoch, members with their member epochs — and Kafka's
// reconciliation (CurrentAssignmentBuilder): a member first revokes what it must give up, keeping
// its epoch, and gets a partition only once no other member still owns it. No timers or I/O here.
import { RE2JS } from 're2js';
import type { TimerHandle } from '../runtime/ports.js';

/** ConsumerGroupMemberMetadataValue.ClassicMemberMetadata: what a classic member joined with. */
export interface ClassicMemberMetadata {
  sessionTimeoutMs: number;
  supportedProtocols: Array<{ name: string; metadata: Buffer }>;
}

/** topic id → partitions. */
export type Assignment = Map<string, Set<number>>;

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** Kafka's MemberState byte values (CurrentMemberAssignment's State). */
export type MemberState = 'STABLE' | 'UNREVOKED_PARTITIONS' | 'UNRELEASED_PARTITIONS' | 'UNKNOWN';
export const MEMBER_STATE_CODES: Readonly<Record<MemberState, number>> = { STABLE: 1, UNREVOKED_PARTITIONS: 2, UNRELEASED_PARTITIONS: 3, UNKNOWN: 127 };

export const LEAVE_GROUP_MEMBER_EPOCH = -1;
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;

/** A topic the group subscribes to, as the group last saw it in the metadata. */
export interface SubscribedTopic {
  topicId: string;
  name: string;
  numPartitions: number;
}

export function cloneAssignment(a: Assignment): Assignment {
  return new Map([...a].map(([t, ps]) => [t, new Set(ps)]));
}

export function assignmentEquals(a: Assignment, b: Assignment): boolean {
  const nonEmpty = (x: Assignment) => [...x].filter(([, ps]) => ps.size > 0);
  const ea = nonEmpty(a);
  if (ea.length !== nonEmpty(b).length) return false;
  for (const [t, ps] of ea) {
    const other = b.get(t);
    if (other?.size !== ps.size) return false;
    for (const p of ps) if (!other.has(p)) return false;
  }
  return true;
}

export function assignmentSize(a: Assignment): number {
  let n = 0;
  for (const ps of a.values()) n += ps.size;
  return n;
}

/** `owned` (a heartbeat's topicPartitions) has nothing outside `assigned`. */
export function isSubset(owned: Assignment, assigned: Assignment): boolean {
  for (const [t, ps] of owned) {
    const a = assigned.get(t);
    for (const p of ps) if (a?.has(p) !== true) return false;
  }
  return true;
}

/** Do `owned` and `b` share a partition? */
function intersects(owned: Assignment, b: Assignment): boolean {
  for (const [t, ps] of owned) {
    const x = b.get(t);
    if (x === undefined) continue;
    for (const p of ps) if (x.has(p)) return true;
  }
  return false;
}

export class ConsumerGroupMember {
  instanceId: string | null = null;
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  subscribedTopicNames: string[] = [];
  subscribedTopicRegex: string | null = null;
  serverAssignor: string | null = null;
  rebalanceTimeoutMs = 300000;
  memberEpoch = 0;
  previousMemberEpoch = 0;
  /** Epoch before a static member's leave (-2), restored when its instance comes back. */
  state: MemberState = 'STABLE';
  assigned: Assignment = new Map();
  pendingRevocation: Assignment = new Map();
  sessionTimer: TimerHandle | null = null;
  rebalanceTimer: TimerHandle | null = null;
  /**
   * Set for a member that uses the classic protocol (JoinGroup/SyncGroup/Heartbeat) inside this
   * consumer group (KIP-848 online migration): its session timeout and the protocols it joined
   * with; null for a consumer-protocol member. Persisted as the member record's tag 0.
   */
  classic: ClassicMemberMetadata | null = null;
  /** Classic members: fenced unless they rejoin (JoinGroup) / sync (SyncGroup) within the rebalance timeout. */
  joinTimer: TimerHandle | null = null;
  syncTimer: TimerHandle | null = null;
  /**
   * The topics this member may describe (its latest heartbeat's principal and the authorizer);
   * regex matches are filtered by it, as Kafka's filterTopicDescribeAuthorizedTopics. Absent = all.
   * Not persisted: after a reload it comes back with the member's next heartbeat.
   */
  canDescribe: ((topic: string) => boolean) | null = null;

  constructor(public memberId: string) {}

  /**
   * Topics this member subscribes to: its names, and the existing topics its regex matches
   * (`regexMatches`, resolved per group and pattern) that its principal may describe.
   */
  subscribedTopics(regexMatches: Iterable<string> | null): Set<string> {
    const out = new Set(this.subscribedTopicNames);
    if (regexMatches !== null) {
      const allowed = this.canDescribe;
      for (const name of regexMatches) if (allowed === null || allowed(name)) out.add(name);
    }
    return out;
  }
}

/** A compiled subscription regex: `matches` is true when the whole topic name matches. */
export interface TopicRegex {
  matches(input: string): boolean;
}

const regexCache = new Map<string, TopicRegex | Error>();
const REGEX_CACHE_MAX = 1024;

/**
 * A subscription regex compiled as Kafka does (RE2/J, `matches()`: the whole topic name must
 * match), with re2js — RE2's syntax and linear-time matching, so no pattern can make the broker
 * backtrack. Throws for a pattern RE2 rejects (backreferences, lookarounds, bad syntax).
 * Compilations are cached (bounded), so heartbeats do not recompile their pattern.
 */
export function compileTopicRegex(pattern: string): TopicRegex {
  let cached = regexCache.get(pattern);
  if (cached === undefined) {
    try {
      const re = RE2JS.compile(pattern);
      cached = { matches: (input: string) => re.matches(input) };
    } catch (err) {
      cached = err instanceof Error ? err : new Error(String(err));
    }
    if (regexCache.size >= REGEX_CACHE_MAX) regexCache.clear();
    regexCache.set(pattern, cached);
  }
  if (cached instanceof Error) throw cached;
  return cached;
}

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerGroupMember>();
  /** instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** member id → target assignment. */
  readonly targetAssignment = new Map<string, Assignment>();
  /** Subscribed topics by name, as last resolved (ConsumerGroupPartitionMetadata). */
  subscriptionMetadata = new Map<string, SubscribedTopic>();
  /**
   * What each subscribed regex matched, before any member's DESCRIBE filter, and the metadata
   * version of the topic set it was matched against: a heartbeat at the same version reuses it,
   * so a steady group does no regex work (Kafka resolves regexes when the topics change too).
   */
  readonly resolvedRegexes = new Map<string, { version: number; topics: readonly string[] }>();
  /** topic id → partition → epoch of the member that owns it (assigned or being revoked). */
  readonly partitionEpochs = new Map<string, Map<number, number>>();
  /** Set when the group was deleted or converted; requests then see a missing group. */
  dead = false;
  /** Records of this group not yet written: group-level and per member. */
  dirtyGroup = false;
  dirtyPartitionMetadata = false;
  dirtyTarget = false;
  readonly dirtyMembers = new Set<string>();
  readonly dirtyTargets = new Set<string>();
  readonly dirtyCurrent = new Set<string>();
  readonly removedMembers = new Set<string>();
  /** When the group last turned Empty (offset expiry), ms. */
  emptySince: number;
  /** When the group epoch last moved, and the last epoch reported Stable (rebalance time). */
  epochBumpedAt: number;
  lastStableEpoch = -1;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.emptySince = now;
    this.epochBumpedAt = now;
  }

  get state(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) continue;
      if (m.state !== 'STABLE' || m.memberEpoch !== this.assignmentEpoch) return 'Reconciling';
    }
    return 'Stable';
  }

  currentPartitionEpoch(topicId: string, partition: number): number {
    return this.partitionEpochs.get(topicId)?.get(partition) ?? -1;
  }

  private addPartitionEpochs(a: Assignment, epoch: number): void {
    for (const [t, ps] of a) {
      let byPartition = this.partitionEpochs.get(t);
      if (byPartition === undefined) {
        byPartition = new Map();
        this.partitionEpochs.set(t, byPartition);
      }
      for (const p of ps) byPartition.set(p, epoch);
    }
  }

  private removePartitionEpochs(a: Assignment): void {
    for (const [t, ps] of a) {
      const byPartition = this.partitionEpochs.get(t);
      if (byPartition === undefined) continue;
      for (const p of ps) byPartition.delete(p);
      if (byPartition.size === 0) this.partitionEpochs.delete(t);
    }
  }

  /** Adds or replaces a member, keeping partition epochs and static ids in step. */
  putMember(member: ConsumerGroupMember): void {
    const previous = this.members.get(member.memberId);
    if (previous !== undefined) {
      this.removePartitionEpochs(previous.assigned);
      this.removePartitionEpochs(previous.pendingRevocation);
    }
    this.members.set(member.memberId, member);
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId);
    this.addPartitionEpochs(member.assigned, member.memberEpoch);
    this.addPartitionEpochs(member.pendingRevocation, member.memberEpoch);
  }

  /** Re-registers a member's partitions after its assignment or epoch changed in place. */
  updateMemberAssignment(member: ConsumerGroupMember, assigned: Assignment, pendingRevocation: Assignment, epoch: number): void {
    this.removePartitionEpochs(member.assigned);
    this.removePartitionEpochs(member.pendingRevocation);
    member.assigned = assigned;
    member.pendingRevocation = pendingRevocation;
    if (epoch !== member.memberEpoch) {
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = epoch;
    }
    this.addPartitionEpochs(assigned, member.memberEpoch);
    this.addPartitionEpochs(pendingRevocation, member.memberEpoch);
  }

  removeMember(memberId: string, now: number): ConsumerGroupMember | undefined {
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.removePartitionEpochs(member.assigned);
    this.removePartitionEpochs(member.pendingRevocation);
    this.members.delete(memberId);
    this.targetAssignment.delete(memberId);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === memberId) this.staticMembers.delete(member.instanceId);
    if (this.members.size === 0) this.emptySince = now;
    return member;
  }

  staticMember(instanceId: string): ConsumerGroupMember | undefined {
    const id = this.staticMembers.get(instanceId);
    return id === undefined ? undefined : this.members.get(id);
  }

  /** The server assignor: the one most members ask for, else the first configured. */
  preferredAssignor(defaultAssignor: string): string {
    const votes = new Map<string, number>();
    for (const m of this.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    for (const [name, n] of votes) if (best === null || n > (votes.get(best) ?? 0)) best = name;
    return best ?? defaultAssignor;
  }

  /** Every topic name any member subscribes to (names and regex matches, `resolve` per pattern). */
  subscribedTopicNames(resolve: (pattern: string) => readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) {
      for (const t of m.subscribedTopics(m.subscribedTopicRegex === null ? null : resolve(m.subscribedTopicRegex))) out.add(t);
    }
    return out;
  }

  markAllDirty(): void {
    this.dirtyGroup = true;
    this.dirtyPartitionMetadata = true;
    this.dirtyTarget = true;
    for (const id of this.members.keys()) {
      this.dirtyMembers.add(id);
      this.dirtyTargets.add(id);
      this.dirtyCurrent.add(id);
    }
  }
}

export interface ReconcileResult {
  state: MemberState;
  memberEpoch: number;
  assigned: Assignment;
  pendingRevocation: Assignment;
}

/**
 * Kafka's CurrentAssignmentBuilder: the member's next step towards its target assignment.
 * `owned` is what the member's heartbeat says it owns (null: not sent, nothing learned).
 */
export function reconcile(
  member: { state: MemberState; memberEpoch: number; assigned: Assignment; pendingRevocation: Assignment },
  targetEpoch: number,
  target: Assignment,
  owned: Assignment | null,
  currentPartitionEpoch: (topicId: string, partition: number) => number,
): ReconcileResult {
  const unchanged = { state: member.state, memberEpoch: member.memberEpoch, assigned: member.assigned, pendingRevocation: member.pendingRevocation };
  switch (member.state) {
    case 'STABLE':
    case 'UNKNOWN':
      if (member.memberEpoch !== targetEpoch) return computeNext(member.memberEpoch, member.assigned, targetEpoch, target, owned, currentPartitionEpoch);
      return unchanged;
    case 'UNRELEASED_PARTITIONS':
      return computeNext(member.memberEpoch, member.assigned, targetEpoch, target, owned, currentPartitionEpoch);
    case 'UNREVOKED_PARTITIONS':
      // Still owns partitions it must give up: wait for a heartbeat showing them revoked.
      if (owned === null || intersects(owned, member.pendingRevocation)) return unchanged;
      return computeNext(member.memberEpoch, member.assigned, targetEpoch, target, owned, currentPartitionEpoch);
  }
}

function computeNext(
  memberEpoch: number,
  assigned: Assignment,
  targetEpoch: number,
  target: Assignment,
  owned: Assignment | null,
  currentPartitionEpoch: (topicId: string, partition: number) => number,
): ReconcileResult {
  const newAssigned: Assignment = new Map();
  const newRevoking: Assignment = new Map();
  let unreleased = false;
  const topics = new Set([...assigned.keys(), ...target.keys()]);
  for (const t of topics) {
    const targetPs = target.get(t) ?? new Set<number>();
    const currentPs = assigned.get(t) ?? new Set<number>();
    const keep = new Set<number>();
    const revoke = new Set<number>();
    for (const p of currentPs) (targetPs.has(p) ? keep : revoke).add(p);
    const add = new Set(keep);
    for (const p of targetPs) {
      if (currentPs.has(p)) continue;
      // Given only once nobody else owns it (its previous owner revoked it).
      if (currentPartitionEpoch(t, p) === -1) add.add(p);
      else unreleased = true;
    }
    if (keep.size > 0) newAssigned.set(t, keep);
    if (revoke.size > 0) newRevoking.set(t, revoke);
    if (add.size > 0) newAssigned.set(t, add);
  }
  // Revocation first, unless the member says it no longer owns any of those partitions (a classic
  // eager member revoked everything before rejoining): then they are released at once, as Kafka.
  if (newRevoking.size > 0 && (owned === null || intersects(owned, newRevoking))) {
    // Revocation first: the member keeps its epoch and only the partitions it keeps.
    const kept: Assignment = new Map();
    for (const [t, ps] of assigned) {
      const tp = target.get(t);
      const k = new Set([...ps].filter((p) => tp?.has(p) === true));
      if (k.size > 0) kept.set(t, k);
    }
    return { state: 'UNREVOKED_PARTITIONS', memberEpoch, assigned: kept, pendingRevocation: newRevoking };
  }
  return { state: unreleased ? 'UNRELEASED_PARTITIONS' : 'STABLE', memberEpoch: targetEpoch, assigned: newAssigned, pendingRevocation: new Map() };
}
