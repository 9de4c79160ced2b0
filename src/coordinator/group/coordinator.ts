// coordinator/group room: the classic-protocol group coordinator (JoinGroup/SyncGroup/Heartbeat/
// LeaveGroup, committed offsets, group administration). Kafka's state machine: Empty →
// PreparingRebalance → CompletingRebalance → Stable, Dead when deleted. State lives in memory and
// is written to __consumer_offsets through the OffsetsLog port, and rebuilt from it by start().
import { randomUUID } from 'node:crypto';
import { GroupErrorCode as E } from './errors.js';
import {
  ClassicGroup,
  EMPTY_BYTES,
  GROUP_STATES,
  MemberMetadata,
  type CommittedOffset,
  type GroupProtocol,
  type GroupState,
  type JoinGroupResult,
  type SyncGroupResult,
} from './group.js';
import type { Clock, GroupCoordinatorConfig, GroupLogger, OffsetsLog, OffsetsRecord } from './ports.js';
import {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  partitionForGroup,
  type GroupMetadataValue,
  type OffsetCommitValue,
} from './records.js';
import { subscribedTopics } from './consumer-protocol.js';

export const UNKNOWN_MEMBER_ID = '';
/** A commit with this generation is a simple (standalone) commit, outside group membership. */
export const NO_GENERATION = -1;

export interface JoinGroupParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+ (KIP-394): a new dynamic member first gets MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+ (KIP-814): a rejoining static leader is told to skip the assignment. */
  supportSkipAssignment: boolean;
  reason?: string | null;
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: (MemberIdentity & { errorCode: number })[];
}

export interface OffsetCommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4 retentionTimeMs; -1 = offsets.retention.minutes. */
  retentionTimeMs: number;
  topics: {
    name: string;
    partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }[];
  }[];
}

export interface TopicPartitionErrors {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedOffsets {
  errorCode: number;
  topics: {
    name: string;
    partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string | null; errorCode: number }[];
  }[];
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: GroupState;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: GroupState;
}

/** What a generation settled on: reported once per generation when the group becomes Stable. */
export interface StableGeneration {
  groupId: string;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  /** ms from the start of PreparingRebalance to Stable. */
  rebalanceMs: number;
  assignments: { memberId: string; groupInstanceId: string | null; assignment: Buffer }[];
}

export interface GroupCoordinatorDeps {
  log: OffsetsLog;
  clock: Clock;
  logger: GroupLogger;
  config: GroupCoordinatorConfig;
}

function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private loaded = false;
  private closed = false;
  private expiryTimer: { cancel(): void } | null = null;
  private readonly stableListeners = new Set<(g: StableGeneration) => void>();

  constructor(private readonly deps: GroupCoordinatorDeps) {}

  get numPartitions(): number {
    return this.deps.log.numPartitions;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.deps.log.numPartitions);
  }

  /** The error a request must get before it reaches a group, if any (loading / shut down). */
  private availability(): number {
    if (this.closed) return E.NOT_COORDINATOR;
    if (!this.loaded) return E.COORDINATOR_LOAD_IN_PROGRESS;
    return E.NONE;
  }

  /** For FindCoordinator: NONE when this coordinator serves groups now. */
  coordinatorError(): number {
    const err = this.availability();
    return err === E.COORDINATOR_LOAD_IN_PROGRESS ? E.COORDINATOR_NOT_AVAILABLE : err;
  }

  /** Observes every generation that becomes Stable (metrics, tests); returns the unsubscribe. */
  onStableGeneration(listener: (g: StableGeneration) => void): () => void {
    this.stableListeners.add(listener);
    return () => this.stableListeners.delete(listener);
  }

  groupState(groupId: string): GroupState | null {
    return this.groups.get(groupId)?.state ?? null;
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up and shutdown

  /** Rebuilds every group and committed offset from __consumer_offsets, then starts expiry. */
  async start(): Promise<void> {
    const groupValues = new Map<string, GroupMetadataValue | null>();
    const offsetValues = new Map<string, Map<string, OffsetCommitValue | null>>();
    for (let p = 0; p < this.deps.log.numPartitions; p++) {
      for await (const record of this.deps.log.read(p)) {
        let key;
        try {
          key = decodeKey(record.key);
        } catch (err) {
          this.deps.logger.warn({ partition: p, err: String(err) }, 'skipping unreadable __consumer_offsets key');
          continue;
        }
        if (key.type === 'group') {
          groupValues.set(key.group, record.value === null ? null : decodeGroupMetadataValue(record.value));
        } else {
          let perGroup = offsetValues.get(key.group);
          if (perGroup === undefined) {
            perGroup = new Map();
            offsetValues.set(key.group, perGroup);
          }
          perGroup.set(`${key.partition}:${key.topic}`, record.value === null ? null : decodeOffsetCommitValue(record.value));
        }
      }
    }
    const now = this.deps.clock.now();
    for (const [groupId, value] of groupValues) {
      if (value === null) continue;
      this.groups.set(groupId, this.groupFromRecord(groupId, value, now));
    }
    for (const [groupId, perGroup] of offsetValues) {
      for (const [k, v] of perGroup) {
        if (v === null) continue;
        let group = this.groups.get(groupId);
        if (group === undefined) {
          // Offsets without group metadata: standalone commits, expired per commit timestamp.
          group = new ClassicGroup(groupId);
          this.groups.set(groupId, group);
        }
        const sep = k.indexOf(':');
        group.setOffset(k.slice(sep + 1), Number(k.slice(0, sep)), {
          committedOffset: v.offset,
          leaderEpoch: v.leaderEpoch,
          metadata: v.metadata,
          commitTimestamp: v.commitTimestamp,
          expireTimestamp: v.expireTimestamp,
        });
      }
    }
    this.loaded = true;
    this.deps.logger.info({ groups: this.groups.size }, 'group coordinator loaded __consumer_offsets');
    this.scheduleExpiry();
  }

  private groupFromRecord(groupId: string, value: GroupMetadataValue, now: number): ClassicGroup {
    const group = new ClassicGroup(groupId);
    group.generationId = value.generation;
    group.protocolType = value.protocolType.length > 0 ? value.protocolType : null;
    group.protocolName = value.protocol;
    group.currentStateTimestamp = value.currentStateTimestamp;
    for (const m of value.members) {
      const member = new MemberMetadata(
        m.memberId,
        m.groupInstanceId,
        m.clientId,
        m.clientHost,
        m.rebalanceTimeout,
        m.sessionTimeout,
        value.protocolType,
        [{ name: value.protocol ?? '', metadata: m.subscription }],
      );
      member.assignment = m.assignment;
      group.add(member);
    }
    group.leaderId = value.leader;
    // A group with members comes back Stable; members that are gone expire by session timeout.
    group.state = group.members.size > 0 ? 'Stable' : 'Empty';
    if (group.currentStateTimestamp < 0) group.currentStateTimestamp = now;
    for (const member of group.members.values()) this.scheduleHeartbeatExpiry(group, member);
    return group;
  }

  /** Cancels every timer and answers every waiting request with NOT_COORDINATOR. */
  close(): void {
    this.closed = true;
    this.expiryTimer?.cancel();
    this.expiryTimer = null;
    for (const group of this.groups.values()) {
      group.joinTimer?.cancel();
      group.syncTimer?.cancel();
      for (const t of group.pendingMembers.values()) t.cancel();
      group.pendingMembers.clear();
      for (const m of group.members.values()) {
        m.heartbeatTimer?.cancel();
        m.heartbeatTimer = null;
        this.respondJoin(m, joinError(m.memberId, E.NOT_COORDINATOR));
        this.respondSync(m, syncError(E.NOT_COORDINATOR));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // JoinGroup

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return Promise.resolve(joinError(p.memberId, unavailable));
    if (p.groupId.length === 0) return Promise.resolve(joinError(p.memberId, E.INVALID_GROUP_ID));
    const cfg = this.deps.config;
    if (p.sessionTimeoutMs < cfg.groupMinSessionTimeoutMs || p.sessionTimeoutMs > cfg.groupMaxSessionTimeoutMs) {
      return Promise.resolve(joinError(p.memberId, E.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === UNKNOWN_MEMBER_ID;
    let group = this.groups.get(p.groupId);
    if (group === undefined) {
      if (!isUnknownMember) return Promise.resolve(joinError(p.memberId, E.UNKNOWN_MEMBER_ID));
      group = new ClassicGroup(p.groupId);
      group.currentStateTimestamp = this.deps.clock.now();
      this.groups.set(p.groupId, group);
    }
    if (group.is('Dead')) return Promise.resolve(joinError(p.memberId, E.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols)) {
      this.removeIfUnused(group);
      return Promise.resolve(joinError(p.memberId, E.INCONSISTENT_GROUP_PROTOCOL));
    }
    return new Promise<JoinGroupResult>((resolve) => {
      if (isUnknownMember) this.joinUnknownMember(group, p, resolve);
      else this.joinKnownMember(group, p, resolve);
    });
  }

  private removeIfUnused(group: ClassicGroup): void {
    if (group.is('Empty') && group.members.size === 0 && group.generationId === 0 && !group.hasOffsets()) {
      this.groups.delete(group.groupId);
    }
  }

  private joinUnknownMember(group: ClassicGroup, p: JoinGroupParams, resolve: (r: JoinGroupResult) => void): void {
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = group.staticMembers.get(p.groupInstanceId);
      if (oldMemberId !== undefined) {
        this.rejoinStaticMember(group, p, oldMemberId, newMemberId, resolve);
        return;
      }
    } else if (p.requireKnownMemberId) {
      // KIP-394: remember the id we hand out; the member must come back with it within its session.
      const timer = this.deps.clock.schedule(p.sessionTimeoutMs, () => {
        if (group.pendingMembers.delete(newMemberId)) this.maybeCompleteJoin(group);
      });
      group.pendingMembers.set(newMemberId, timer);
      resolve(joinError(newMemberId, E.MEMBER_ID_REQUIRED));
      return;
    }
    if (group.members.size >= this.deps.config.groupMaxSize) {
      resolve(joinError(UNKNOWN_MEMBER_ID, E.GROUP_MAX_SIZE_REACHED));
      return;
    }
    this.addMemberAndRebalance(group, p, newMemberId, resolve);
  }

  private joinKnownMember(group: ClassicGroup, p: JoinGroupParams, resolve: (r: JoinGroupResult) => void): void {
    const pending = group.pendingMembers.get(p.memberId);
    if (pending !== undefined) {
      pending.cancel();
      group.pendingMembers.delete(p.memberId);
      if (group.members.size >= this.deps.config.groupMaxSize) {
        resolve(joinError(p.memberId, E.GROUP_MAX_SIZE_REACHED));
        this.maybeCompleteJoin(group);
        return;
      }
      this.addMemberAndRebalance(group, p, p.memberId, resolve);
      return;
    }
    if (group.isStaticMemberFenced(p.memberId, p.groupInstanceId)) {
      resolve(joinError(p.memberId, E.FENCED_INSTANCE_ID));
      return;
    }
    const member = group.members.get(p.memberId);
    if (member === undefined || (p.groupInstanceId !== null && member.groupInstanceId !== p.groupInstanceId)) {
      resolve(joinError(p.memberId, E.UNKNOWN_MEMBER_ID));
      return;
    }
    switch (group.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(group, member, p, resolve);
        return;
      case 'CompletingRebalance':
        if (member.matches(p.protocols)) {
          // The member lost our JoinGroup response: send the same one again.
          resolve(this.currentJoinResult(group, member.memberId, group.leaderId === member.memberId));
        } else {
          this.updateMemberAndRebalance(group, member, p, resolve);
        }
        return;
      case 'Stable':
        if (group.leaderId === member.memberId || !member.matches(p.protocols)) {
          // The leader rejoining, or a changed subscription, means a new assignment is needed.
          this.updateMemberAndRebalance(group, member, p, resolve);
        } else {
          this.scheduleHeartbeatExpiry(group, member);
          resolve(this.currentJoinResult(group, member.memberId, false));
        }
        return;
      case 'Empty':
      case 'Dead':
        resolve(joinError(p.memberId, E.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  private currentJoinResult(group: ClassicGroup, memberId: string, withMembers: boolean): JoinGroupResult {
    return {
      errorCode: E.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      skipAssignment: false,
      memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  private addMemberAndRebalance(group: ClassicGroup, p: JoinGroupParams, memberId: string, resolve: (r: JoinGroupResult) => void): void {
    const member = new MemberMetadata(
      memberId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.rebalanceTimeoutMs,
      p.sessionTimeoutMs,
      p.protocolType,
      p.protocols,
    );
    member.isNew = true;
    member.awaitingJoin = resolve;
    // A member joining while the initial delay runs extends that delay (group.initial.rebalance.delay.ms).
    if (group.is('PreparingRebalance') && group.initialJoinInProgress) group.newMemberAdded = true;
    group.add(member);
    this.deps.logger.debug({ groupId: group.groupId, memberId, groupInstanceId: p.groupInstanceId }, 'member joined group');
    this.maybePrepareRebalance(group, `new member ${memberId} joined`);
  }

  private updateMemberAndRebalance(group: ClassicGroup, member: MemberMetadata, p: JoinGroupParams, resolve: (r: JoinGroupResult) => void): void {
    member.protocols = p.protocols;
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    // A duplicate JoinGroup from the same member replaces the older one, which can only be retried.
    this.respondJoin(member, joinError(member.memberId, E.REBALANCE_IN_PROGRESS));
    member.awaitingJoin = resolve;
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
  }

  private rejoinStaticMember(
    group: ClassicGroup,
    p: JoinGroupParams,
    oldMemberId: string,
    newMemberId: string,
    resolve: (r: JoinGroupResult) => void,
  ): void {
    const oldMember = group.members.get(oldMemberId)!;
    const protocolsUnchanged = oldMember.matches(p.protocols);
    const previousLeader = group.leaderId;
    // The old incarnation is fenced: whatever it still waits for is answered FENCED_INSTANCE_ID.
    this.respondJoin(oldMember, joinError(oldMemberId, E.FENCED_INSTANCE_ID));
    this.respondSync(oldMember, syncError(E.FENCED_INSTANCE_ID));
    const member = group.replaceStaticMember(oldMemberId, newMemberId);
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    this.deps.logger.info({ groupId: group.groupId, groupInstanceId: p.groupInstanceId, oldMemberId, newMemberId }, 'static member rejoined');

    if (group.is('Stable') && protocolsUnchanged) {
      // Same subscription within the session timeout: keep the assignment, no rebalance. The new
      // member id must be durable before we answer, or a coordinator restart would fence it.
      this.scheduleHeartbeatExpiry(group, member);
      const generationId = group.generationId;
      void this.storeGroup(group).then((err) => {
        if (err !== E.NONE) {
          if (group.members.get(newMemberId) === member) {
            group.replaceStaticMember(newMemberId, oldMemberId);
          }
          resolve(joinError(UNKNOWN_MEMBER_ID, err));
          return;
        }
        const isLeader = group.leaderId === newMemberId;
        resolve({
          errorCode: E.NONE,
          generationId,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          // Before KIP-814 a rejoining static leader must not learn it leads, or it would reassign.
          leader: (p.supportSkipAssignment ? group.leaderId : previousLeader) ?? '',
          skipAssignment: isLeader && p.supportSkipAssignment,
          memberId: newMemberId,
          members: isLeader && p.supportSkipAssignment ? group.currentMemberMetadata() : [],
        });
      });
      return;
    }
    this.updateMemberAndRebalance(group, member, p, resolve);
  }

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is('Stable', 'CompletingRebalance', 'Empty')) this.prepareRebalance(group, reason);
    else if (group.is('PreparingRebalance')) this.maybeCompleteJoin(group);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(group, E.REBALANCE_IN_PROGRESS);
    group.syncTimer?.cancel();
    group.syncTimer = null;
    group.pendingSyncMembers.clear();
    const wasEmpty = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.deps.clock.now());
    group.rebalanceStartedAt = group.currentStateTimestamp;
    this.deps.logger.info({ groupId: group.groupId, generationId: group.generationId, reason }, 'preparing to rebalance group');
    group.joinTimer?.cancel();
    const delay = this.deps.config.groupInitialRebalanceDelayMs;
    if (wasEmpty && delay > 0) {
      // A new group waits a little for more members so the first generation is not wasted.
      group.initialJoinInProgress = true;
      group.newMemberAdded = false;
      this.scheduleInitialJoin(group, delay, Math.max(group.maxRebalanceTimeoutMs() - delay, 0));
    } else {
      group.initialJoinInProgress = false;
      group.joinTimer = this.deps.clock.schedule(group.maxRebalanceTimeoutMs(), () => {
        group.joinTimer = null;
        this.completeJoin(group);
      });
      this.maybeCompleteJoin(group);
    }
  }

  private scheduleInitialJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.joinTimer = this.deps.clock.schedule(delayMs, () => {
      group.joinTimer = null;
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const configured = this.deps.config.groupInitialRebalanceDelayMs;
        this.scheduleInitialJoin(group, Math.min(configured, remainingMs), Math.max(remainingMs - configured, 0));
      } else {
        group.initialJoinInProgress = false;
        this.completeJoin(group);
      }
    });
  }

  private maybeCompleteJoin(group: ClassicGroup): void {
    if (!group.is('PreparingRebalance') || group.initialJoinInProgress) return;
    if (group.allMembersJoined()) {
      group.joinTimer?.cancel();
      group.joinTimer = null;
      this.completeJoin(group);
    }
  }

  private completeJoin(group: ClassicGroup): void {
    if (!group.is('PreparingRebalance')) return;
    // Dynamic members that did not rejoin in time are out; static members keep their place.
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin === null && member.groupInstanceId === null) {
        this.deps.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'removing member that did not rejoin');
        member.heartbeatTimer?.cancel();
        group.remove(member.memberId);
      }
    }
    for (const t of group.pendingMembers.values()) t.cancel();
    group.pendingMembers.clear();
    const now = this.deps.clock.now();
    group.generationId += 1;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.transitionTo('Empty', now);
      void this.storeGroup(group);
      this.deps.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group is empty');
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo('CompletingRebalance', now);
    const leader = group.leaderId === null ? undefined : group.members.get(group.leaderId);
    if (leader === undefined || leader.awaitingJoin === null) {
      const joined = [...group.members.values()].find((m) => m.awaitingJoin !== null);
      group.leaderId = (joined ?? group.members.values().next().value!).memberId;
    }
    this.deps.logger.info(
      { groupId: group.groupId, generationId: group.generationId, protocol: group.protocolName, members: group.members.size },
      'group rebalanced: waiting for the leader assignment',
    );
    for (const member of group.members.values()) {
      const isLeader = member.memberId === group.leaderId;
      this.respondJoin(member, this.currentJoinResult(group, member.memberId, isLeader));
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
      this.scheduleHeartbeatExpiry(group, member);
    }
    this.scheduleSyncTimeout(group);
  }

  /** Members that never send SyncGroup within the rebalance timeout are removed (Kafka 2.8+). */
  private scheduleSyncTimeout(group: ClassicGroup): void {
    group.syncTimer?.cancel();
    const generationId = group.generationId;
    group.syncTimer = this.deps.clock.schedule(group.maxRebalanceTimeoutMs(), () => {
      group.syncTimer = null;
      if (group.generationId !== generationId || !group.is('CompletingRebalance', 'Stable')) return;
      const missing = [...group.pendingSyncMembers];
      group.pendingSyncMembers.clear();
      if (missing.length === 0) return;
      for (const memberId of missing) {
        const member = group.members.get(memberId);
        if (member === undefined) continue;
        member.heartbeatTimer?.cancel();
        this.respondJoin(member, joinError(memberId, E.UNKNOWN_MEMBER_ID));
        group.remove(memberId);
      }
      this.deps.logger.info({ groupId: group.groupId, missing }, 'members did not sync in time');
      if (group.is('Stable', 'CompletingRebalance')) this.prepareRebalance(group, 'members did not send SyncGroup in time');
    });
  }

  private respondJoin(member: MemberMetadata, result: JoinGroupResult): void {
    const cb = member.awaitingJoin;
    if (cb === null) return;
    member.awaitingJoin = null;
    cb(result);
  }

  private respondSync(member: MemberMetadata, result: SyncGroupResult): void {
    const cb = member.awaitingSync;
    if (cb === null) return;
    member.awaitingSync = null;
    cb(result);
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) {
      m.assignment = EMPTY_BYTES;
      this.respondSync(m, syncError(errorCode));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // SyncGroup

  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return Promise.resolve(syncError(unavailable));
    const group = this.groups.get(p.groupId);
    if (group === undefined) return Promise.resolve(syncError(E.UNKNOWN_MEMBER_ID));
    if (group.is('Dead')) return Promise.resolve(syncError(E.COORDINATOR_NOT_AVAILABLE));
    if (group.isStaticMemberFenced(p.memberId, p.groupInstanceId)) return Promise.resolve(syncError(E.FENCED_INSTANCE_ID));
    const member = group.members.get(p.memberId);
    if (member === undefined) return Promise.resolve(syncError(E.UNKNOWN_MEMBER_ID));
    if (p.generationId !== group.generationId) return Promise.resolve(syncError(E.ILLEGAL_GENERATION));
    if ((p.protocolType !== null && p.protocolType !== group.protocolType) || (p.protocolName !== null && p.protocolName !== group.protocolName)) {
      return Promise.resolve(syncError(E.INCONSISTENT_GROUP_PROTOCOL));
    }
    switch (group.state) {
      case 'Empty':
        return Promise.resolve(syncError(E.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(E.REBALANCE_IN_PROGRESS));
      case 'Stable':
        group.pendingSyncMembers.delete(member.memberId);
        this.scheduleHeartbeatExpiry(group, member);
        return Promise.resolve(this.syncResult(group, member));
      case 'Dead':
        return Promise.resolve(syncError(E.COORDINATOR_NOT_AVAILABLE));
      case 'CompletingRebalance':
        break;
    }
    return new Promise<SyncGroupResult>((resolve) => {
      this.respondSync(member, syncError(E.REBALANCE_IN_PROGRESS));
      member.awaitingSync = resolve;
      group.pendingSyncMembers.delete(member.memberId);
      this.scheduleHeartbeatExpiry(group, member);
      if (member.memberId !== group.leaderId) return;
      // The leader's assignment: members it left out get an empty assignment, which is valid.
      const assignments = new Map<string, Buffer>();
      for (const a of p.assignments) assignments.set(a.memberId, a.assignment);
      const generationId = group.generationId;
      void this.storeGroup(group, assignments).then((err) => {
        if (group.generationId !== generationId || !group.is('CompletingRebalance')) return;
        if (err !== E.NONE) {
          this.resetAndPropagateAssignmentError(group, err);
          this.prepareRebalance(group, 'failed to store the group assignment');
          return;
        }
        for (const m of group.members.values()) m.assignment = assignments.get(m.memberId) ?? EMPTY_BYTES;
        group.transitionTo('Stable', this.deps.clock.now());
        this.deps.logger.info({ groupId: group.groupId, generationId }, 'group is stable');
        const stable: StableGeneration = {
          groupId: group.groupId,
          generationId,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          leaderId: group.leaderId,
          rebalanceMs: group.currentStateTimestamp - group.rebalanceStartedAt,
          assignments: [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, assignment: m.assignment })),
        };
        for (const listener of this.stableListeners) listener(stable);
        for (const m of group.members.values()) this.respondSync(m, this.syncResult(group, m));
      });
    });
  }

  private syncResult(group: ClassicGroup, member: MemberMetadata): SyncGroupResult {
    return { errorCode: E.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
  }

  // ---------------------------------------------------------------------------------------------
  // Heartbeat, session expiry and LeaveGroup

  heartbeat(p: HeartbeatParams): number {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return unavailable;
    const group = this.groups.get(p.groupId);
    if (group === undefined) return E.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return E.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(p.memberId, p.groupInstanceId)) return E.FENCED_INSTANCE_ID;
    const member = group.members.get(p.memberId);
    if (member === undefined || group.is('Empty')) return E.UNKNOWN_MEMBER_ID;
    if (p.generationId !== group.generationId) return E.ILLEGAL_GENERATION;
    this.scheduleHeartbeatExpiry(group, member);
    // In PreparingRebalance the heartbeat is how members learn they must rejoin.
    return group.is('PreparingRebalance') ? E.REBALANCE_IN_PROGRESS : E.NONE;
  }

  private scheduleHeartbeatExpiry(group: ClassicGroup, member: MemberMetadata): void {
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = this.deps.clock.schedule(member.sessionTimeoutMs, () => {
      member.heartbeatTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      // A member parked in JoinGroup or SyncGroup is alive; the rebalance timeout bounds the wait.
      if (member.awaitingJoin !== null || member.awaitingSync !== null) {
        this.scheduleHeartbeatExpiry(group, member);
        return;
      }
      this.deps.logger.info({ groupId: group.groupId, memberId: member.memberId, sessionTimeoutMs: member.sessionTimeoutMs }, 'member session expired');
      this.removeMemberAndUpdateGroup(group, member, 'session timeout');
    });
  }

  private removeMemberAndUpdateGroup(group: ClassicGroup, member: MemberMetadata, reason: string): void {
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = null;
    this.respondJoin(member, joinError(UNKNOWN_MEMBER_ID, E.UNKNOWN_MEMBER_ID));
    this.respondSync(member, syncError(E.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    switch (group.state) {
      case 'Dead':
      case 'Empty':
        return;
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(group, `removing member ${member.memberId}: ${reason}`);
        return;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(group);
        return;
    }
  }

  /** LeaveGroup; v0-2 send one member id, v3+ a batch of members by member id or group.instance.id. */
  leaveGroup(groupId: string, members: MemberIdentity[]): LeaveGroupResult {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return { errorCode: unavailable, members: [] };
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) {
      // Kafka answers an unknown group at the top level, so old clients see it too.
      return { errorCode: group === undefined ? E.UNKNOWN_MEMBER_ID : E.COORDINATOR_NOT_AVAILABLE, members: [] };
    }
    const results: LeaveGroupResult['members'] = [];
    for (const identity of members) {
      results.push({ ...identity, errorCode: this.leaveOne(group, identity) });
    }
    return { errorCode: E.NONE, members: results };
  }

  private leaveOne(group: ClassicGroup, identity: MemberIdentity): number {
    let member: MemberMetadata | undefined;
    if (identity.groupInstanceId !== null) {
      const current = group.staticMembers.get(identity.groupInstanceId);
      if (current === undefined) return E.UNKNOWN_MEMBER_ID;
      if (identity.memberId !== UNKNOWN_MEMBER_ID && identity.memberId !== current) return E.FENCED_INSTANCE_ID;
      member = group.members.get(current);
    } else {
      const pending = group.pendingMembers.get(identity.memberId);
      if (pending !== undefined) {
        pending.cancel();
        group.pendingMembers.delete(identity.memberId);
        this.maybeCompleteJoin(group);
        return E.NONE;
      }
      member = group.members.get(identity.memberId);
    }
    if (member === undefined) return E.UNKNOWN_MEMBER_ID;
    this.deps.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'member left group');
    this.removeMemberAndUpdateGroup(group, member, 'left the group');
    return E.NONE;
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets

  async commitOffsets(p: OffsetCommitParams): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] =>
      p.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((x) => ({ partitionIndex: x.partitionIndex, errorCode })) }));
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return all(unavailable);
    if (p.groupId.length === 0) return all(E.INVALID_GROUP_ID);
    if (p.topics.every((t) => t.partitions.length === 0)) return all(E.NONE);
    let group = this.groups.get(p.groupId);
    if (group === undefined) {
      if (p.generationId >= 0) return all(E.ILLEGAL_GENERATION);
      // A standalone commit (no membership) creates an Empty group that only holds offsets.
      group = new ClassicGroup(p.groupId);
      group.currentStateTimestamp = this.deps.clock.now();
      this.groups.set(p.groupId, group);
    }
    if (group.is('Dead')) return all(E.COORDINATOR_NOT_AVAILABLE);
    if (group.isStaticMemberFenced(p.memberId, p.groupInstanceId)) return all(E.FENCED_INSTANCE_ID);
    if (!(p.generationId < 0 && group.is('Empty'))) {
      if (group.is('CompletingRebalance')) return all(E.REBALANCE_IN_PROGRESS);
      const member = group.members.get(p.memberId);
      if (member === undefined) return all(E.UNKNOWN_MEMBER_ID);
      if (p.generationId !== group.generationId) return all(E.ILLEGAL_GENERATION);
      this.scheduleHeartbeatExpiry(group, member);
    }
    const now = this.deps.clock.now();
    const expireTimestamp = p.retentionTimeMs > 0 ? now + p.retentionTimeMs : -1;
    const records: OffsetsRecord[] = [];
    const accepted: { topic: string; partition: number; value: CommittedOffset }[] = [];
    const results: TopicPartitionErrors[] = [];
    for (const t of p.topics) {
      const partitions: TopicPartitionErrors['partitions'] = [];
      for (const x of t.partitions) {
        const metadata = x.committedMetadata ?? '';
        if (Buffer.byteLength(metadata, 'utf8') > this.deps.config.offsetMetadataMaxBytes) {
          partitions.push({ partitionIndex: x.partitionIndex, errorCode: E.OFFSET_METADATA_TOO_LARGE });
          continue;
        }
        const value: CommittedOffset = {
          committedOffset: x.committedOffset,
          leaderEpoch: x.committedLeaderEpoch,
          metadata,
          commitTimestamp: now,
          expireTimestamp,
        };
        records.push({
          key: encodeOffsetCommitKey(p.groupId, t.name, x.partitionIndex),
          value: encodeOffsetCommitValue({ offset: value.committedOffset, leaderEpoch: value.leaderEpoch, metadata, commitTimestamp: now, expireTimestamp }),
        });
        accepted.push({ topic: t.name, partition: x.partitionIndex, value });
        partitions.push({ partitionIndex: x.partitionIndex, errorCode: E.NONE });
      }
      results.push({ name: t.name, partitions });
    }
    if (records.length === 0) return results;
    const err = await this.append(p.groupId, records, E.INVALID_REQUEST);
    if (err !== E.NONE) {
      for (const r of results) for (const x of r.partitions) if (x.errorCode === E.NONE) x.errorCode = err;
      return results;
    }
    if (group.is('Dead')) return results;
    for (const a of accepted) group.setOffset(a.topic, a.partition, a.value);
    return results;
  }

  /** OffsetFetch for one group; `topics` null means every committed partition. */
  fetchOffsets(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null): FetchedOffsets {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return { errorCode: unavailable, topics: [] };
    // Without transactions no commit is ever pending, so require_stable never needs UNSTABLE_OFFSET_COMMIT.
    const group = this.groups.get(groupId);
    const live = group !== undefined && !group.is('Dead') ? group : undefined;
    if (topics === null) {
      const out: FetchedOffsets['topics'] = [];
      if (live !== undefined) {
        for (const [name, byPartition] of live.offsets) {
          out.push({
            name,
            partitions: [...byPartition].map(([partitionIndex, o]) => ({
              partitionIndex,
              committedOffset: o.committedOffset,
              committedLeaderEpoch: o.leaderEpoch,
              metadata: o.metadata,
              errorCode: E.NONE,
            })),
          });
        }
      }
      return { errorCode: E.NONE, topics: out };
    }
    return {
      errorCode: E.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const o = live?.offset(t.name, partitionIndex);
          return o === undefined
            ? { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: E.NONE }
            : { partitionIndex, committedOffset: o.committedOffset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: E.NONE };
        }),
      })),
    };
  }

  /** Topics the group's members subscribe to, or null when the group's protocol is not "consumer". */
  private subscribedTopics(group: ClassicGroup): Set<string> | null {
    if (group.protocolType !== 'consumer' || group.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of group.members.values()) {
      const p = m.protocols.find((x) => x.name === group.protocolName);
      const subscribed = p === undefined ? null : subscribedTopics(p.metadata);
      if (subscribed === null) return null;
      for (const t of subscribed) topics.add(t);
    }
    return topics;
  }

  async deleteOffsets(
    groupId: string,
    topics: { name: string; partitions: { partitionIndex: number }[] }[],
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return { errorCode: unavailable, topics: [] };
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) return { errorCode: E.GROUP_ID_NOT_FOUND, topics: [] };
    let subscribed: Set<string> = new Set();
    if (!group.is('Empty')) {
      const s = this.subscribedTopics(group);
      if (s === null) return { errorCode: E.NON_EMPTY_GROUP, topics: [] };
      subscribed = s;
    }
    const records: OffsetsRecord[] = [];
    const deletions: { topic: string; partition: number }[] = [];
    const results = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map(({ partitionIndex }) => {
        if (subscribed.has(t.name)) return { partitionIndex, errorCode: E.GROUP_SUBSCRIBED_TO_TOPIC as number };
        if (group.offset(t.name, partitionIndex) !== undefined) {
          records.push({ key: encodeOffsetCommitKey(groupId, t.name, partitionIndex), value: null });
          deletions.push({ topic: t.name, partition: partitionIndex });
        }
        return { partitionIndex, errorCode: E.NONE as number };
      }),
    }));
    if (records.length > 0) {
      const err = await this.append(groupId, records);
      if (err !== E.NONE) return { errorCode: err, topics: [] };
      for (const d of deletions) group.deleteOffset(d.topic, d.partition);
    }
    return { errorCode: E.NONE, topics: results };
  }

  // ---------------------------------------------------------------------------------------------
  // Administration

  describeGroups(groupIds: string[]): DescribedGroup[] {
    const unavailable = this.availability();
    return groupIds.map((groupId) => {
      const group = this.groups.get(groupId);
      if (unavailable !== E.NONE || group === undefined) {
        // Kafka describes an unknown group as Dead with no error; tools print "does not exist".
        return { errorCode: unavailable, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
      }
      const stable = group.is('Stable');
      return {
        errorCode: E.NONE,
        groupId,
        groupState: group.state,
        protocolType: group.protocolType ?? '',
        // Kafka only reveals the protocol and member metadata of a Stable group.
        protocolData: stable ? (group.protocolName ?? '') : '',
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable && group.protocolName !== null ? m.metadataFor(group.protocolName) : EMPTY_BYTES,
          memberAssignment: stable ? m.assignment : EMPTY_BYTES,
        })),
      };
    });
  }

  /** ListGroups; `statesFilter` empty means all, names compare case-insensitively as in Kafka. */
  listGroups(statesFilter: string[]): { errorCode: number; groups: ListedGroup[] } {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return { errorCode: unavailable, groups: [] };
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    const groups: ListedGroup[] = [];
    for (const g of this.groups.values()) {
      if (g.is('Dead')) continue;
      if (wanted.size > 0 && !wanted.has(g.state.toLowerCase())) continue;
      groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state });
    }
    return { errorCode: E.NONE, groups };
  }

  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const out: { groupId: string; errorCode: number }[] = [];
    for (const groupId of groupIds) out.push({ groupId, errorCode: await this.deleteGroup(groupId) });
    return out;
  }

  private async deleteGroup(groupId: string): Promise<number> {
    const unavailable = this.availability();
    if (unavailable !== E.NONE) return unavailable;
    if (groupId.length === 0) return E.INVALID_GROUP_ID;
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) return E.GROUP_ID_NOT_FOUND;
    if (!group.is('Empty')) return E.NON_EMPTY_GROUP;
    const err = await this.removeGroup(group);
    return err;
  }

  /** Tombstones every offset and the group itself, then marks it Dead and forgets it. */
  private async removeGroup(group: ClassicGroup): Promise<number> {
    const records: OffsetsRecord[] = [];
    for (const [topic, byPartition] of group.offsets) {
      for (const partition of byPartition.keys()) records.push({ key: encodeOffsetCommitKey(group.groupId, topic, partition), value: null });
    }
    records.push({ key: encodeGroupMetadataKey(group.groupId), value: null });
    group.transitionTo('Dead', this.deps.clock.now());
    const err = await this.append(group.groupId, records);
    if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
    return err;
  }

  // ---------------------------------------------------------------------------------------------
  // Offset expiry (offsets.retention.minutes)

  private scheduleExpiry(): void {
    if (this.closed) return;
    this.expiryTimer = this.deps.clock.schedule(this.deps.config.offsetsRetentionCheckIntervalMs, () => {
      this.expiryTimer = null;
      void this.expireOffsets().finally(() => this.scheduleExpiry());
    });
  }

  /**
   * Kafka's rule: an Empty group's offsets expire `retention` after the group became Empty; a group
   * that never had members (standalone commits) expires each offset `retention` after its commit;
   * an active consumer group only loses offsets of topics it no longer subscribes to. A commit
   * with its own retention expires at its expireTimestamp.
   */
  async expireOffsets(): Promise<number> {
    if (this.availability() !== E.NONE) return 0;
    const now = this.deps.clock.now();
    const retention = this.deps.config.offsetsRetentionMs;
    let expiredCount = 0;
    for (const group of [...this.groups.values()]) {
      if (group.is('Dead')) continue;
      let isExpired: ((topic: string, o: CommittedOffset) => boolean) | null = null;
      if (group.protocolType === null) {
        isExpired = (_t, o) => o.commitTimestamp + retention <= now;
      } else if (group.is('Empty')) {
        const base = group.currentStateTimestamp;
        isExpired = (_t, o) => (base >= 0 ? base : o.commitTimestamp) + retention <= now;
      } else if (group.is('Stable')) {
        const subscribed = this.subscribedTopics(group);
        if (subscribed !== null) isExpired = (t, o) => !subscribed.has(t) && o.commitTimestamp + retention <= now;
      }
      const expired: { topic: string; partition: number }[] = [];
      for (const [topic, byPartition] of group.offsets) {
        for (const [partition, o] of byPartition) {
          const hit = o.expireTimestamp >= 0 ? now >= o.expireTimestamp : isExpired !== null && isExpired(topic, o);
          if (hit) expired.push({ topic, partition });
        }
      }
      if (expired.length > 0) {
        const err = await this.append(
          group.groupId,
          expired.map((e) => ({ key: encodeOffsetCommitKey(group.groupId, e.topic, e.partition), value: null })),
        );
        if (err !== E.NONE) continue;
        for (const e of expired) group.deleteOffset(e.topic, e.partition);
        expiredCount += expired.length;
        this.deps.logger.info({ groupId: group.groupId, expired: expired.length }, 'expired committed offsets');
      }
      if (group.is('Empty') && !group.hasOffsets() && group.members.size === 0) await this.removeGroup(group);
    }
    return expiredCount;
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence

  private async append(groupId: string, records: OffsetsRecord[], tooLargeError: number = E.UNKNOWN_SERVER_ERROR): Promise<number> {
    try {
      await this.deps.log.append(this.partitionFor(groupId), records);
      return E.NONE;
    } catch (err) {
      this.deps.logger.error({ groupId, err: String(err) }, 'failed to write __consumer_offsets');
      const code = (err as { code?: unknown }).code;
      // MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE: Kafka reports INVALID_COMMIT_OFFSET_SIZE for commits.
      if (code === 10 || code === 18) return tooLargeError === E.INVALID_REQUEST ? 28 : tooLargeError;
      return E.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** Writes the group metadata record; `assignments` overrides members' current assignments. */
  private storeGroup(group: ClassicGroup, assignments?: Map<string, Buffer>): Promise<number> {
    const value: GroupMetadataValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: group.currentStateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: group.protocolName !== null && m.protocols.some((x) => x.name === group.protocolName) ? m.metadataFor(group.protocolName) : EMPTY_BYTES,
        assignment: assignments?.get(m.memberId) ?? (assignments === undefined ? m.assignment : EMPTY_BYTES),
      })),
    };
    return this.append(group.groupId, [{ key: encodeGroupMetadataKey(group.groupId), value: encodeGroupMetadataValue(value) }]);
  }
}

export { GROUP_STATES };
