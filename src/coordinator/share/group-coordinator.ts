// coordinator/share room: share groups (KIP-932) as their group coordinator keeps them: members
// join, heartbeat and leave with ShareGroupHeartbeat; the coordinator assigns partitions itself
// (no client-side assignor, no revocation: records, not partitions, are what members own).
// The group epoch moves on every membership, subscription or partition-count change; a member
// takes the new epoch and its new assignment on its next heartbeat. A member that does not
// heartbeat within group.share.session.timeout.ms is removed.
//
// Membership is kept in memory: after a restart members rejoin (UNKNOWN_MEMBER_ID sends the
// Java client back to epoch 0), which is all a share member needs, since its records' state is
// durable in __share_group_state, not in the group.
import { ErrorCode, KafkaError } from '../../errors.js';
import type { Clock, TimerHandle } from '../runtime/ports.js';

export interface ShareGroupConfig {
  /** group.share.session.timeout.ms */
  sessionTimeoutMs: number;
  /** group.share.heartbeat.interval.ms */
  heartbeatIntervalMs: number;
  /** group.share.max.size */
  maxSize: number;
}

export interface TopicInfo {
  name: string;
  topicId: string;
  numPartitions: number;
}

export interface ShareGroupDeps {
  clock: Clock;
  config: ShareGroupConfig;
  /** The topic as the metadata image knows it now. */
  topicByName(name: string): TopicInfo | undefined;
  /** A group id already used by another kind of group (classic or consumer). */
  otherGroupExists(groupId: string): boolean;
  /** Each group's share.session.timeout.ms / share.heartbeat.interval.ms (ConfigResource GROUP); absent: `config`. */
  groupSettings?: (groupId: string) => { sessionTimeoutMs: number; heartbeatIntervalMs: number };
}

export interface HeartbeatInput {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  rackId: string | null;
  subscribedTopicNames: string[] | null;
  clientId: string;
  clientHost: string;
}

export interface HeartbeatOutput {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: Array<{ topicId: string; partitions: number[] }> } | null;
}

interface ShareMember {
  memberId: string;
  memberEpoch: number;
  /** The epoch before the last one given; a heartbeat whose response was lost carries it. */
  previousMemberEpoch: number;
  clientId: string;
  clientHost: string;
  rackId: string | null;
  subscribedTopicNames: string[];
  /** topicId → partitions, as last sent to the member. */
  assignment: Map<string, number[]>;
  sessionTimer: TimerHandle | null;
}

interface ShareGroup {
  groupId: string;
  groupEpoch: number;
  assignmentEpoch: number;
  members: Map<string, ShareMember>;
  /** memberId → topicId → partitions, computed at assignmentEpoch. */
  targetAssignment: Map<string, Map<string, number[]>>;
  /** Topic ids and partition counts the target assignment was computed from. */
  subscriptionMetadata: string;
  /** "topicId:partition" of the share-partitions whose state this coordinator initialized or found (in memory). */
  initialized: Set<string>;
}

export interface DescribedShareMember {
  memberId: string;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  assignment: Array<{ topicId: string; topicName: string; partitions: number[] }>;
}

export interface DescribedShareGroup {
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: DescribedShareMember[];
}

/** Listeners for members leaving (their acquired records go back, their share sessions close). */
export type MemberRemovedListener = (groupId: string, memberId: string) => void;

export const SHARE_ASSIGNOR_NAME = 'simple';
const LEAVE_GROUP_EPOCH = -1;

export class ShareGroupCoordinator {
  private readonly groups = new Map<string, ShareGroup>();
  private readonly removedListeners: MemberRemovedListener[] = [];

  constructor(private readonly deps: ShareGroupDeps) {}

  onMemberRemoved(listener: MemberRemovedListener): void {
    this.removedListeners.push(listener);
  }

  hasGroup(groupId: string): boolean {
    return this.groups.has(groupId);
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /** Ensures the group exists (a share group is created by its first member or by state written for it). */
  ensureGroup(groupId: string): void {
    this.getOrCreate(groupId);
  }

  memberCount(groupId: string): number {
    return this.groups.get(groupId)?.members.size ?? 0;
  }

  /**
   * The topic-partitions of the topics the group's members subscribe to whose state was not
   * initialized yet (Kafka's group coordinator sends InitializeShareGroupState for them).
   */
  uninitializedPartitions(groupId: string): Array<{ topicId: string; partition: number }> {
    const g = this.groups.get(groupId);
    if (g === undefined) return [];
    const names = new Set<string>();
    for (const m of g.members.values()) for (const n of m.subscribedTopicNames) names.add(n);
    const out: Array<{ topicId: string; partition: number }> = [];
    for (const name of names) {
      const t = this.deps.topicByName(name);
      if (t === undefined) continue;
      for (let partition = 0; partition < t.numPartitions; partition++) if (!g.initialized.has(`${t.topicId}:${partition}`)) out.push({ topicId: t.topicId, partition });
    }
    return out;
  }

  /** Records that a share-partition of the group has state (initialized, or found). */
  markInitialized(groupId: string, topicId: string, partition: number): void {
    this.groups.get(groupId)?.initialized.add(`${topicId}:${partition}`);
  }

  /** Forgets a share-partition's state (DeleteShareGroupOffsets). */
  markUninitialized(groupId: string, topicId: string, partition: number): void {
    this.groups.get(groupId)?.initialized.delete(`${topicId}:${partition}`);
  }

  /** The share-partitions of the group known to have state. */
  initializedPartitions(groupId: string): Array<{ topicId: string; partition: number }> {
    const g = this.groups.get(groupId);
    if (g === undefined) return [];
    return [...g.initialized].map((id) => {
      const at = id.lastIndexOf(':');
      return { topicId: id.slice(0, at), partition: Number(id.slice(at + 1)) };
    });
  }

  /** Whether `memberId` is a current member of `groupId` (ShareFetch checks this). */
  isMember(groupId: string, memberId: string): boolean {
    return this.groups.get(groupId)?.members.has(memberId) ?? false;
  }

  heartbeat(req: HeartbeatInput): HeartbeatOutput {
    const { config } = this.deps;
    const fail = (errorCode: number, errorMessage: string): HeartbeatOutput => ({
      errorCode,
      errorMessage,
      memberId: null,
      memberEpoch: 0,
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (req.groupId.length === 0) return fail(ErrorCode.INVALID_REQUEST, 'GroupId can not be empty.');
    if (req.memberId.length === 0) return fail(ErrorCode.INVALID_REQUEST, 'MemberId can not be empty.');
    if (req.memberEpoch < LEAVE_GROUP_EPOCH) return fail(ErrorCode.INVALID_REQUEST, `MemberEpoch is invalid: ${req.memberEpoch}.`);
    if (req.memberEpoch === 0 && (req.subscribedTopicNames === null || req.subscribedTopicNames.length === 0)) {
      return fail(ErrorCode.INVALID_REQUEST, 'SubscribedTopicNames must be set in first request.');
    }
    if (!this.groups.has(req.groupId) && this.deps.otherGroupExists(req.groupId)) {
      return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a share group.`);
    }
    const group = this.getOrCreate(req.groupId);
    let member = group.members.get(req.memberId);
    if (req.memberEpoch === LEAVE_GROUP_EPOCH) {
      if (member !== undefined) this.removeMember(group, member);
      return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: req.memberId, memberEpoch: LEAVE_GROUP_EPOCH, heartbeatIntervalMs: 0, assignment: null };
    }
    if (member === undefined) {
      if (req.memberEpoch !== 0) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
      if (group.members.size >= config.maxSize) return fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `The share group has reached its maximum capacity of ${config.maxSize} members.`);
      member = {
        memberId: req.memberId,
        memberEpoch: 0,
        previousMemberEpoch: 0,
        clientId: req.clientId,
        clientHost: req.clientHost,
        rackId: req.rackId,
        subscribedTopicNames: [...(req.subscribedTopicNames ?? [])].sort(),
        assignment: new Map(),
        sessionTimer: null,
      };
      group.members.set(member.memberId, member);
      group.groupEpoch++;
    } else if (req.memberEpoch !== 0 && req.memberEpoch !== member.memberEpoch && (req.memberEpoch > member.memberEpoch || req.memberEpoch !== member.previousMemberEpoch)) {
      // As Kafka: a greater epoch, or a smaller one that is not the previous (whose response may
      // have been lost), is fenced.
      return fail(ErrorCode.FENCED_MEMBER_EPOCH, `The share group member has a member epoch (${req.memberEpoch}) which is not equal to the current epoch (${member.memberEpoch}).`);
    } else {
      if (req.subscribedTopicNames !== null) {
        const subscribed = [...req.subscribedTopicNames].sort();
        if (subscribed.join('\0') !== member.subscribedTopicNames.join('\0')) {
          member.subscribedTopicNames = subscribed;
          group.groupEpoch++;
        }
      }
      if (req.rackId !== null) member.rackId = req.rackId;
      member.clientId = req.clientId;
      member.clientHost = req.clientHost;
    }
    this.resetSessionTimer(group, member);
    // Topics created, deleted or grown since the last assignment move the group epoch too.
    const metadata = this.subscriptionMetadata(group);
    if (metadata !== group.subscriptionMetadata) {
      group.subscriptionMetadata = metadata;
      group.groupEpoch++;
    }
    if (group.assignmentEpoch !== group.groupEpoch) this.computeAssignment(group);
    let assignment: HeartbeatOutput['assignment'] = null;
    if (member.memberEpoch !== group.assignmentEpoch || req.memberEpoch === 0 || req.memberEpoch !== member.memberEpoch) {
      // (A request at the previous epoch missed its assignment: it is sent again.)
      if (member.memberEpoch !== group.assignmentEpoch) member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = group.assignmentEpoch;
      member.assignment = group.targetAssignment.get(member.memberId) ?? new Map<string, number[]>();
      assignment = { topicPartitions: [...member.assignment].map(([topicId, partitions]) => ({ topicId, partitions: [...partitions] })) };
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.deps.groupSettings?.(group.groupId).heartbeatIntervalMs ?? config.heartbeatIntervalMs,
      assignment,
    };
  }

  describe(groupId: string, topicName: (topicId: string) => string): DescribedShareGroup | null {
    const g = this.groups.get(groupId);
    if (g === undefined) return null;
    return {
      groupId,
      groupState: g.members.size === 0 ? 'Empty' : 'Stable',
      groupEpoch: g.groupEpoch,
      assignmentEpoch: g.assignmentEpoch,
      assignorName: SHARE_ASSIGNOR_NAME,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: [...m.subscribedTopicNames],
        assignment: [...m.assignment].map(([topicId, partitions]) => ({ topicId, topicName: topicName(topicId), partitions: [...partitions] })),
      })),
    };
  }

  /** Kafka's share group states: Empty, Stable (Dead once deleted). */
  stateOf(groupId: string): string | null {
    const g = this.groups.get(groupId);
    if (g === undefined) return null;
    return g.members.size === 0 ? 'Empty' : 'Stable';
  }

  /** Deletes an empty group; NON_EMPTY_GROUP while it has members. */
  deleteGroup(groupId: string): number {
    const g = this.groups.get(groupId);
    if (g === undefined) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }

  close(): void {
    for (const g of this.groups.values()) for (const m of g.members.values()) m.sessionTimer?.cancel();
    this.groups.clear();
  }

  private getOrCreate(groupId: string): ShareGroup {
    let g = this.groups.get(groupId);
    if (g === undefined) {
      if (groupId.length === 0) throw new KafkaError(ErrorCode.INVALID_GROUP_ID, 'empty share group id');
      g = { groupId, groupEpoch: 0, assignmentEpoch: 0, members: new Map(), targetAssignment: new Map(), subscriptionMetadata: '', initialized: new Set() };
      this.groups.set(groupId, g);
    }
    return g;
  }

  private resetSessionTimer(group: ShareGroup, member: ShareMember): void {
    member.sessionTimer?.cancel();
    const sessionTimeoutMs = this.deps.groupSettings?.(group.groupId).sessionTimeoutMs ?? this.deps.config.sessionTimeoutMs;
    member.sessionTimer = this.deps.clock.schedule(sessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) === member) this.removeMember(group, member);
    });
  }

  private removeMember(group: ShareGroup, member: ShareMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = null;
    group.members.delete(member.memberId);
    group.groupEpoch++;
    if (group.members.size > 0) this.computeAssignment(group);
    else {
      group.targetAssignment.clear();
      group.assignmentEpoch = group.groupEpoch;
    }
    for (const l of this.removedListeners) l(group.groupId, member.memberId);
  }

  private subscriptionMetadata(group: ShareGroup): string {
    const names = new Set<string>();
    for (const m of group.members.values()) for (const t of m.subscribedTopicNames) names.add(t);
    return [...names]
      .sort()
      .map((n) => {
        const t = this.deps.topicByName(n);
        return t === undefined ? `${n}:-` : `${n}:${t.topicId}:${t.numPartitions}`;
      })
      .join(',');
  }

  /**
   * Kafka's SimpleAssignor for share groups, homogeneous or not: per topic, with the members
   * subscribed to it sorted by id, every partition goes to at least one member; when there are
   * more members than partitions the partitions are shared (member i gets partition i mod P),
   * otherwise partitions are dealt round-robin.
   */
  private computeAssignment(group: ShareGroup): void {
    const target = new Map<string, Map<string, number[]>>();
    const members = [...group.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
    for (const m of members) target.set(m.memberId, new Map());
    const topics = new Set<string>();
    for (const m of members) for (const t of m.subscribedTopicNames) topics.add(t);
    for (const name of [...topics].sort()) {
      const topic = this.deps.topicByName(name);
      if (topic === undefined || topic.numPartitions === 0) continue;
      const subscribers = members.filter((m) => m.subscribedTopicNames.includes(name));
      const give = (m: ShareMember, partition: number): void => {
        const mine = target.get(m.memberId);
        if (mine === undefined) return;
        const list = mine.get(topic.topicId) ?? [];
        list.push(partition);
        mine.set(topic.topicId, list);
      };
      if (subscribers.length >= topic.numPartitions) subscribers.forEach((m, i) => give(m, i % topic.numPartitions));
      else for (let p = 0; p < topic.numPartitions; p++) give(subscribers[p % subscribers.length], p);
    }
    group.targetAssignment = target;
    group.assignmentEpoch = group.groupEpoch;
  }
}
