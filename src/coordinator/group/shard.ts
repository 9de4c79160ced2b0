// coordinator/group room: one shard of the group coordinator — the groups and committed offsets of
// one __consumer_offsets partition, on the coordinator runtime. Offsets, offset deletes, offset
// expiry and group tombstones change state only by replaying their records (at load and live);
// classic group membership follows Kafka's state machine (Empty → PreparingRebalance →
// CompletingRebalance → Stable, Dead when deleted) in memory and is persisted with records that
// are replayed only at load, as Kafka does for classic groups.
import { randomUUID } from 'node:crypto';
import { ErrorCode as E, KafkaError, assert } from '../../errors.js';
import type { CoordinatorRecord, TimerHandle, TransactionalProducer, TransactionMarker } from '../runtime/ports.js';
import type { CoordinatorResult, CoordinatorShard, CoordinatorShardContext } from '../runtime/runtime.js';
import { ConsumerGroupManager, type ClassicGroupSnapshot, type ConsumerHeartbeatParams, type ConsumerHeartbeatResult, type DescribedConsumerGroup, type TopicsView } from './consumer-coordinator.js';
import { subscribedTopics } from './consumer-protocol.js';
import { consumerGroupKeyType } from './consumer-records.js';
import { ClassicGroup, EMPTY_BYTES, MemberMetadata, type CommittedOffset, type GroupState, type JoinGroupResult, type SyncGroupResult } from './group.js';
import { OffsetStore } from './offset-store.js';
import type { Clock, GroupCoordinatorConfig, GroupLogger } from './ports.js';
import {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  type GroupMetadataValue,
} from './records.js';
import {
  UNKNOWN_MEMBER_ID,
  joinError,
  syncError,
  type DescribedGroup,
  type FetchedOffsets,
  type HeartbeatParams,
  type JoinGroupParams,
  type LeaveGroupResult,
  type ListedGroup,
  type MemberIdentity,
  type OffsetCommitParams,
  type StableGeneration,
  type SyncGroupParams,
  type TopicPartitionErrors,
} from './requests.js';

/**
 * The error code a group request answers with when its write (or the runtime) failed, as Kafka's
 * group coordinator maps them: leadership lost → NOT_COORDINATOR, a too large batch → `tooLarge`
 * (INVALID_COMMIT_OFFSET_SIZE for commits), anything else → COORDINATOR_NOT_AVAILABLE so the client
 * looks the coordinator up again and retries.
 */
export function writeErrorCode(err: unknown, tooLarge: number = E.UNKNOWN_SERVER_ERROR): number {
  if (!(err instanceof KafkaError)) return E.COORDINATOR_NOT_AVAILABLE;
  switch (err.code) {
    case E.NOT_COORDINATOR:
    case E.COORDINATOR_LOAD_IN_PROGRESS:
    case E.COORDINATOR_NOT_AVAILABLE:
    case E.UNKNOWN_SERVER_ERROR:
      return err.code;
    case E.NOT_LEADER_OR_FOLLOWER:
    case E.FENCED_LEADER_EPOCH:
    case E.KAFKA_STORAGE_ERROR:
      return E.NOT_COORDINATOR;
    case E.MESSAGE_TOO_LARGE:
    case E.RECORD_LIST_TOO_LARGE:
    case E.INVALID_FETCH_SIZE:
      return tooLarge;
    default:
      return E.COORDINATOR_NOT_AVAILABLE;
  }
}

export interface GroupShardDeps {
  context: CoordinatorShardContext<GroupCoordinatorShard>;
  clock: Clock;
  logger: GroupLogger;
  config: GroupCoordinatorConfig;
  /** Called once per generation that becomes Stable. */
  onStableGeneration(generation: StableGeneration): void;
}

/** Groups being deleted by a write in flight: restored if the tombstones are not written. */
type Removals = Array<{ group: ClassicGroup; previous: GroupState }>;

export class GroupCoordinatorShard implements CoordinatorShard {
  private readonly groups = new Map<string, ClassicGroup>();
  /** Committed offsets, apart from group state so KIP-848 groups can share them. */
  private readonly offsets = new OffsetStore();
  /**
   * Offset commits written in a producer's open transaction (TxnOffsetCommit), by producer id then
   * group/topic/partition: they become committed offsets when that producer's COMMIT marker is
   * replayed and are dropped at ABORT (Kafka's pendingTransactionalOffsets).
   */
  private readonly pendingTxnOffsets = new Map<number, Map<string, { group: string; topic: string; partition: number; record: CoordinatorRecord }>>();
  /** Every live timer of this shard, so unloading cancels them all. */
  private readonly timers = new Set<TimerHandle>();
  private expiryTimer: TimerHandle | null = null;
  private unloaded = false;
  /** KIP-848 consumer groups ("consumer" protocol) of this partition; classic ones are in `groups`. */
  private readonly consumer: ConsumerGroupManager;

  constructor(private readonly deps: GroupShardDeps) {
    this.consumer = new ConsumerGroupManager({
      clock: deps.clock,
      logger: deps.logger,
      config: deps.config,
      partition: deps.context.partition,
      schedule: (delayMs, fn) => this.schedule(delayMs, fn),
      write: (name, records) => this.writeRecords(name, records),
      classicGroupStatus: (groupId) => {
        const group = this.groups.get(groupId);
        if (group === undefined || group.is('Dead')) return 'none';
        return group.is('Empty') && group.members.size === 0 && group.pendingMembers.size === 0 ? 'empty' : 'active';
      },
      onStableGeneration: (g) => deps.onStableGeneration(g),
      convertClassicGroup: (groupId, errorCode = E.COORDINATOR_NOT_AVAILABLE) => {
        const group = this.groups.get(groupId);
        if (group === undefined) return [];
        this.groups.delete(groupId);
        this.closeGroup(group, errorCode);
        // Only a group that was written has a record to delete; its offsets stay (shared).
        return group.generationId > 0 || group.protocolType !== null ? [{ key: encodeGroupMetadataKey(groupId), value: null }] : [];
      },
      classicGroup: (groupId) => {
        const group = this.groups.get(groupId);
        if (group === undefined || group.is('Dead')) return null;
        return {
          groupId,
          generationId: group.generationId,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          members: [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            instanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            rebalanceTimeoutMs: m.rebalanceTimeoutMs,
            sessionTimeoutMs: m.sessionTimeoutMs,
            protocols: m.protocols,
            assignment: m.assignment,
          })),
        };
      },
      installClassicGroup: (snapshot, rebalance) => this.installClassicGroup(snapshot, rebalance),
    });
  }

  /**
   * Online downgrade: the consumer group's classic members become a classic group, Stable at the
   * consumer group's epoch with their target assignments, which then rebalances unless told not to (Kafka's
   * ClassicGroup.fromConsumerGroup and convertToClassicGroup). Returns its GroupMetadata record,
   * and how to encode it again for a retried write while it is still the group of its id.
   */
  private installClassicGroup(snapshot: ClassicGroupSnapshot, rebalance: boolean): { records: CoordinatorRecord[]; current(): CoordinatorRecord[] | null } {
    const now = this.deps.clock.now();
    const group = new ClassicGroup(snapshot.groupId);
    group.generationId = snapshot.generationId;
    group.protocolType = snapshot.protocolType;
    group.currentStateTimestamp = now;
    for (const m of snapshot.members) {
      const member = new MemberMetadata(m.memberId, m.instanceId, m.clientId, m.clientHost, m.rebalanceTimeoutMs, m.sessionTimeoutMs, snapshot.protocolType ?? '', m.protocols);
      member.assignment = m.assignment;
      group.add(member);
    }
    group.protocolName = group.members.size > 0 ? group.selectProtocol() : null;
    group.state = group.members.size > 0 ? 'Stable' : 'Empty';
    const record = this.groupRecord(group);
    this.groups.set(group.groupId, group);
    for (const member of group.members.values()) this.scheduleHeartbeatExpiry(group, member);
    if (rebalance && group.is('Stable')) this.prepareRebalance(group, `Downgrade group ${group.groupId} from consumer to classic.`);
    const current = (): CoordinatorRecord[] | null => {
      if (this.unloaded || this.groups.get(group.groupId) !== group || group.is('Dead')) return null;
      // Completing a rebalance, the members' new assignments are not known yet: none is written.
      return [this.groupRecord(group, group.is('CompletingRebalance') ? new Map<string, Buffer>() : undefined)];
    };
    return { records: [record], current };
  }

  /** Writes records the state already reflects (not replayed); resolves with an error code. */
  private writeRecords(name: string, records: CoordinatorRecord[]): Promise<number> {
    return this.deps.context
      .scheduleWriteOperation(name, () => ({ records, response: E.NONE, replay: false }))
      .catch((err: unknown) => {
        if (!this.unloaded) this.deps.logger.error({ partition: this.partition, err: String(err) }, 'failed to write consumer group records to __consumer_offsets');
        return writeErrorCode(err);
      });
  }

  get partition(): number {
    return this.deps.context.partition;
  }

  groupState(groupId: string): GroupState | null {
    return this.groups.get(groupId)?.state ?? null;
  }

  // ---------------------------------------------------------------------------------------------
  // Replay, load and unload

  replay(record: CoordinatorRecord, txn?: TransactionalProducer): void {
    if (consumerGroupKeyType(record.key) !== null) {
      try {
        const groupId = this.consumer.replay(record.key, record.value);
        // Offsets replayed before the group's records made a simple classic group: it is this one.
        const simple = this.groups.get(groupId);
        if (simple !== undefined && this.consumer.get(groupId) !== undefined && simple.members.size === 0 && simple.is('Empty')) this.groups.delete(groupId);
      } catch (err) {
        this.deps.logger.warn({ partition: this.partition, err: String(err) }, 'skipping unreadable consumer group record');
      }
      return;
    }
    let key;
    try {
      key = decodeKey(record.key);
    } catch (err) {
      this.deps.logger.warn({ partition: this.partition, err: String(err) }, 'skipping unreadable __consumer_offsets key');
      return;
    }
    if (txn !== undefined && key.type !== 'group') {
      let pending = this.pendingTxnOffsets.get(txn.producerId);
      if (pending === undefined) {
        pending = new Map();
        this.pendingTxnOffsets.set(txn.producerId, pending);
      }
      pending.set(`${key.group}\u0000${key.topic}\u0000${key.partition}`, { group: key.group, topic: key.topic, partition: key.partition, record });
      return;
    }
    if (key.type === 'group') {
      if (record.value === null) this.replayGroupTombstone(key.group);
      else this.replayGroupMetadata(key.group, decodeGroupMetadataValue(record.value));
      return;
    }
    if (record.value === null) {
      this.offsets.delete(key.group, key.topic, key.partition);
      return;
    }
    const v = decodeOffsetCommitValue(record.value);
    if (!this.groups.has(key.group) && this.consumer.get(key.group) === undefined) {
      // Offsets without a group: a simple group (standalone commits), as Kafka creates on replay.
      const group = new ClassicGroup(key.group);
      group.currentStateTimestamp = this.deps.clock.now();
      this.groups.set(key.group, group);
    }
    this.offsets.put(key.group, key.topic, key.partition, {
      committedOffset: v.offset,
      leaderEpoch: v.leaderEpoch,
      metadata: v.metadata,
      commitTimestamp: v.commitTimestamp,
      expireTimestamp: v.expireTimestamp,
    });
  }

  /** A transaction marker: the producer's pending offset commits become committed (COMMIT) or vanish (ABORT). */
  replayEndTransactionMarker(marker: TransactionMarker): void {
    const pending = this.pendingTxnOffsets.get(marker.producerId);
    if (pending === undefined) return;
    this.pendingTxnOffsets.delete(marker.producerId);
    if (!marker.commit) return;
    for (const p of pending.values()) this.replay(p.record);
  }

  /** True while some open transaction holds an offset commit for this group partition (OffsetFetch require_stable). */
  hasPendingTxnOffset(groupId: string, topic: string, partition: number): boolean {
    const key = `${groupId}\u0000${topic}\u0000${partition}`;
    for (const pending of this.pendingTxnOffsets.values()) if (pending.has(key)) return true;
    return false;
  }

  /** Groups with offsets in an open transaction (they are not empty for deletion). */
  private hasPendingTxnOffsets(groupId: string): boolean {
    for (const pending of this.pendingTxnOffsets.values()) for (const p of pending.values()) if (p.group === groupId) return true;
    return false;
  }

  private replayGroupMetadata(groupId: string, value: GroupMetadataValue): void {
    const previous = this.groups.get(groupId);
    if (previous !== undefined) this.closeGroup(previous, E.NOT_COORDINATOR);
    this.groups.set(groupId, this.groupFromRecord(groupId, value));
  }

  private replayGroupTombstone(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    this.groups.delete(groupId);
    if (!group.is('Dead')) group.transitionTo('Dead', this.deps.clock.now());
    this.closeGroup(group, E.COORDINATOR_NOT_AVAILABLE);
  }

  private groupFromRecord(groupId: string, value: GroupMetadataValue): ClassicGroup {
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
    if (group.currentStateTimestamp < 0) group.currentStateTimestamp = this.deps.clock.now();
    return group;
  }

  onLoaded(): void {
    // Session timers start now, not at the member's last heartbeat before the load: a member
    // gets a full session to find the new coordinator.
    for (const group of this.groups.values()) {
      for (const member of group.members.values()) this.scheduleHeartbeatExpiry(group, member);
    }
    this.consumer.onLoaded();
    this.scheduleExpiry();
    this.deps.logger.info({ partition: this.partition, groups: this.groups.size, consumerGroups: this.consumer.groups.size }, 'group coordinator shard loaded');
  }

  /** Cancels every timer and answers every waiting request with NOT_COORDINATOR. */
  onUnloaded(): void {
    this.unloaded = true;
    for (const group of this.groups.values()) this.closeGroup(group, E.NOT_COORDINATOR);
    this.consumer.onUnloaded();
    for (const timer of [...this.timers]) timer.cancel();
    this.expiryTimer = null;
  }

  /** Stops a group's timers and answers its waiting members with `errorCode`. */
  private closeGroup(group: ClassicGroup, errorCode: number): void {
    group.joinTimer?.cancel();
    group.joinTimer = null;
    group.syncTimer?.cancel();
    group.syncTimer = null;
    for (const t of group.pendingMembers.values()) t.cancel();
    group.pendingMembers.clear();
    for (const m of group.members.values()) {
      m.heartbeatTimer?.cancel();
      m.heartbeatTimer = null;
      this.respondJoin(m, joinError(m.memberId, errorCode));
      this.respondSync(m, syncError(errorCode));
    }
  }

  /** The clock's timer, dropped when the shard unloads; a timer never fires on an unloaded shard. */
  private schedule(delayMs: number, fn: () => void): TimerHandle {
    // Nothing to cancel: no timer was started.
    if (this.unloaded) return { cancel: () => undefined };
    const handle: TimerHandle = {
      cancel: () => {
        this.timers.delete(handle);
        inner.cancel();
      },
    };
    const inner = this.deps.clock.schedule(delayMs, () => {
      this.timers.delete(handle);
      if (!this.unloaded) fn();
    });
    this.timers.add(handle);
    return handle;
  }

  // ---------------------------------------------------------------------------------------------
  // JoinGroup

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    if (p.groupId.length === 0) return Promise.resolve(joinError(p.memberId, E.INVALID_GROUP_ID));
    const cfg = this.deps.config;
    if (p.sessionTimeoutMs < cfg.groupMinSessionTimeoutMs || p.sessionTimeoutMs > cfg.groupMaxSessionTimeoutMs) {
      return Promise.resolve(joinError(p.memberId, E.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === UNKNOWN_MEMBER_ID;
    const consumerGroup = this.consumer.get(p.groupId);
    if (consumerGroup !== undefined) {
      // A classic member of a consumer group with members is served by the consumer group (KIP-848
      // online migration); an empty consumer group becomes a classic group again, as in Kafka.
      if (consumerGroup.members.size > 0) return this.consumer.classicJoin(p);
      void this.writeRecords('ConvertToClassicGroup', this.consumer.deleteGroupRecords(consumerGroup));
      this.deps.logger.info({ groupId: p.groupId }, 'converted an empty consumer group to a classic group');
    }
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
    if (group.is('Empty') && group.members.size === 0 && group.generationId === 0 && !this.offsets.hasOffsets(group.groupId) && !this.hasPendingTxnOffsets(group.groupId)) {
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
      const timer = this.schedule(p.sessionTimeoutMs, () => {
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
    const oldMember = group.members.get(oldMemberId);
    assert(oldMember !== undefined, 'a static member being replaced is in its group', { groupId: group.groupId, memberId: oldMemberId });
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
      group.joinTimer = this.schedule(group.maxRebalanceTimeoutMs(), () => {
        group.joinTimer = null;
        this.completeJoin(group);
      });
      this.maybeCompleteJoin(group);
    }
  }

  private scheduleInitialJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.joinTimer = this.schedule(delayMs, () => {
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
      const first = group.members.values().next();
      group.leaderId = joined?.memberId ?? (first.done === true ? null : first.value.memberId);
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
    group.syncTimer = this.schedule(group.maxRebalanceTimeoutMs(), () => {
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
    if (this.consumer.get(p.groupId) !== undefined) return Promise.resolve(this.consumer.classicSync(p));
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
        // Unloaded: every waiter already got NOT_COORDINATOR, and the state is no longer served.
        if (this.unloaded) return;
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
        this.deps.onStableGeneration(stable);
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
    if (this.consumer.get(p.groupId) !== undefined) return this.consumer.classicHeartbeat(p);
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
    member.heartbeatTimer = this.schedule(member.sessionTimeoutMs, () => {
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
    if (this.consumer.get(groupId) !== undefined) return this.consumer.classicLeave(groupId, members);
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

  /** OffsetCommit: answered once the records are committed; the offsets change by their replay. */
  async commitOffsets(p: OffsetCommitParams): Promise<TopicPartitionErrors[]> {
    if (p.groupId.length === 0) return allPartitions(p, E.INVALID_GROUP_ID);
    if (p.topics.every((t) => t.partitions.length === 0)) return allPartitions(p, E.NONE);
    const validated: { response: TopicPartitionErrors[] | null } = { response: null };
    try {
      return await this.deps.context.scheduleWriteOperation('OffsetCommit', (shard) => {
        const result = shard.commitOffsetsOp(p, false);
        validated.response = result.response;
        return result;
      });
    } catch (err) {
      const code = writeErrorCode(err, E.INVALID_COMMIT_OFFSET_SIZE);
      if (validated.response === null) return allPartitions(p, code);
      // Partitions refused by validation keep their own error; the rest failed with the write.
      return validated.response.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((x) => ({ partitionIndex: x.partitionIndex, errorCode: x.errorCode === E.NONE ? code : x.errorCode })),
      }));
    }
  }

  /**
   * TxnOffsetCommit: the offsets are written as a transactional batch of the producer and count
   * only once its transaction commits (the marker's replay). Answered once written.
   */
  async commitTransactionalOffsets(p: OffsetCommitParams, txn: TransactionalProducer): Promise<TopicPartitionErrors[]> {
    if (p.groupId.length === 0) return allPartitions(p, E.INVALID_GROUP_ID);
    if (p.topics.every((t) => t.partitions.length === 0)) return allPartitions(p, E.NONE);
    try {
      return await this.deps.context.scheduleWriteOperation('TxnOffsetCommit', (shard) => {
        const result = shard.commitOffsetsOp(p, true);
        return { ...result, transactional: txn };
      });
    } catch (err) {
      return allPartitions(p, writeErrorCode(err, E.INVALID_COMMIT_OFFSET_SIZE));
    }
  }

  /** WriteTxnMarkers for this partition: writes the marker; its replay settles the pending offsets. */
  completeTransaction(marker: TransactionMarker): Promise<number> {
    return this.deps.context.scheduleWriteOperation('WriteTxnMarkers', () => ({ records: [], response: E.NONE, marker }));
  }

  private commitOffsetsOp(p: OffsetCommitParams, transactional: boolean): CoordinatorResult<TopicPartitionErrors[]> {
    const refuse = (errorCode: number): CoordinatorResult<TopicPartitionErrors[]> => ({ records: [], response: allPartitions(p, errorCode) });
    const group = this.groups.get(p.groupId);
    const consumerGroup = this.consumer.get(p.groupId);
    if (consumerGroup !== undefined) {
      // A consumer group: the commit carries the member epoch (OffsetCommit v9+).
      const err = this.consumer.validateOffsetCommit(consumerGroup, p.memberId, p.generationId, p.apiVersion, transactional);
      if (err !== E.NONE) return refuse(err);
    } else if (group === undefined) {
      // Without a generation it is a standalone commit; replaying it creates a simple group.
      if (p.generationId >= 0) return refuse(E.ILLEGAL_GENERATION);
    } else {
      if (group.is('Dead')) return refuse(E.COORDINATOR_NOT_AVAILABLE);
      if (group.isStaticMemberFenced(p.memberId, p.groupInstanceId)) return refuse(E.FENCED_INSTANCE_ID);
      if (!(p.generationId < 0 && group.is('Empty'))) {
        if (group.is('CompletingRebalance')) return refuse(E.REBALANCE_IN_PROGRESS);
        const member = group.members.get(p.memberId);
        if (member === undefined) return refuse(E.UNKNOWN_MEMBER_ID);
        if (p.generationId !== group.generationId) return refuse(E.ILLEGAL_GENERATION);
        this.scheduleHeartbeatExpiry(group, member);
      }
    }
    const now = this.deps.clock.now();
    const expireTimestamp = p.retentionTimeMs > 0 ? now + p.retentionTimeMs : -1;
    const records: CoordinatorRecord[] = [];
    const response: TopicPartitionErrors[] = [];
    for (const t of p.topics) {
      const partitions: TopicPartitionErrors['partitions'] = [];
      for (const x of t.partitions) {
        const metadata = x.committedMetadata ?? '';
        if (Buffer.byteLength(metadata, 'utf8') > this.deps.config.offsetMetadataMaxBytes) {
          partitions.push({ partitionIndex: x.partitionIndex, errorCode: E.OFFSET_METADATA_TOO_LARGE });
          continue;
        }
        records.push({
          key: encodeOffsetCommitKey(p.groupId, t.name, x.partitionIndex),
          value: encodeOffsetCommitValue({ offset: x.committedOffset, leaderEpoch: x.committedLeaderEpoch, metadata, commitTimestamp: now, expireTimestamp }),
        });
        partitions.push({ partitionIndex: x.partitionIndex, errorCode: E.NONE });
      }
      response.push({ name: t.name, partitions });
    }
    return { records, response };
  }

  /** OffsetFetch for one group; `topics` null means every committed partition. */
  fetchOffsets(
    groupId: string,
    topics: Array<{ name: string; partitionIndexes: number[] }> | null,
    member?: { memberId: string | null; memberEpoch: number },
  ): FetchedOffsets {
    const consumerGroup = this.consumer.get(groupId);
    if (consumerGroup !== undefined && member !== undefined) {
      const err = this.consumer.validateOffsetFetch(consumerGroup, member.memberId, member.memberEpoch);
      if (err !== E.NONE) return { errorCode: err, topics: [] };
    }
    const live = this.groups.get(groupId)?.is('Dead') !== true;
    const offsetOf = (topic: string, partition: number): CommittedOffset | undefined => (live ? this.offsets.offset(groupId, topic, partition) : undefined);
    if (topics === null) {
      const out: FetchedOffsets['topics'] = [];
      if (live) {
        for (const [name, byPartition] of this.offsets.offsetsOf(groupId)) {
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
          const o = offsetOf(t.name, partitionIndex);
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
    topics: Array<{ name: string; partitions: Array<{ partitionIndex: number }> }>,
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    try {
      return await this.deps.context.scheduleWriteOperation('OffsetDelete', (shard) => shard.deleteOffsetsOp(groupId, topics));
    } catch (err) {
      return { errorCode: writeErrorCode(err), topics: [] };
    }
  }

  private deleteOffsetsOp(
    groupId: string,
    topics: Array<{ name: string; partitions: Array<{ partitionIndex: number }> }>,
  ): CoordinatorResult<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    const group = this.groups.get(groupId);
    const consumerGroup = this.consumer.get(groupId);
    let subscribed = new Set<string>();
    if (consumerGroup !== undefined) {
      if (consumerGroup.members.size > 0) subscribed = this.consumer.subscribedTopics(consumerGroup);
    } else if (group === undefined || group.is('Dead')) {
      return { records: [], response: { errorCode: E.GROUP_ID_NOT_FOUND, topics: [] } };
    } else if (!group.is('Empty')) {
      const s = this.subscribedTopics(group);
      if (s === null) return { records: [], response: { errorCode: E.NON_EMPTY_GROUP, topics: [] } };
      subscribed = s;
    }
    const records: CoordinatorRecord[] = [];
    const results = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map(({ partitionIndex }) => {
        if (subscribed.has(t.name)) return { partitionIndex, errorCode: E.GROUP_SUBSCRIBED_TO_TOPIC };
        if (this.offsets.offset(groupId, t.name, partitionIndex) !== undefined) {
          records.push({ key: encodeOffsetCommitKey(groupId, t.name, partitionIndex), value: null });
        }
        return { partitionIndex, errorCode: E.NONE };
      }),
    }));
    return { records, response: { errorCode: E.NONE, topics: results } };
  }

  // ---------------------------------------------------------------------------------------------
  // KIP-848 consumer groups

  /** ConsumerGroupHeartbeat: answered once the group's changed records are written. */
  consumerGroupHeartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    return this.consumer.heartbeat(p);
  }

  /** ConsumerGroupDescribe for one group of this shard. */
  describeConsumerGroup(groupId: string, topics: TopicsView): DescribedConsumerGroup {
    const classic = this.groups.get(groupId);
    return this.consumer.describe(groupId, topics, classic !== undefined && !classic.is('Dead'));
  }

  // ---------------------------------------------------------------------------------------------
  // Administration

  /** DescribeGroups for one group of this shard. */
  describeGroup(groupId: string): DescribedGroup {
    if (this.consumer.get(groupId) !== undefined) {
      // DescribeGroups is for classic groups; Kafka answers a consumer group's id as not found.
      return { errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a classic group.`, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
    }
    const group = this.groups.get(groupId);
    if (group === undefined) {
      // Kafka describes an unknown group as Dead with no error; tools print "does not exist".
      return { errorCode: E.NONE, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
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
  }

  /** The live groups of this shard whose state is in `states` (lower case; empty means all). */
  listGroups(states: ReadonlySet<string>): ListedGroup[] {
    const groups: ListedGroup[] = [];
    for (const g of this.groups.values()) {
      if (g.is('Dead')) continue;
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue;
      groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state });
    }
    for (const g of this.consumer.groups.values()) {
      if (g.dead) continue;
      const state = g.state;
      if (states.size > 0 && !states.has(state.toLowerCase())) continue;
      groups.push({ groupId: g.groupId, protocolType: 'consumer', groupState: state, groupType: 'consumer' });
    }
    return groups;
  }

  /** DeleteGroups for one group: tombstones its offsets and itself; replaying them removes it. */
  async deleteGroup(groupId: string): Promise<number> {
    if (groupId.length === 0) return E.INVALID_GROUP_ID;
    const removals: Removals = [];
    try {
      return await this.deps.context.scheduleWriteOperation('DeleteGroups', (shard) => shard.deleteGroupOp(groupId, removals));
    } catch (err) {
      this.restore(removals);
      return writeErrorCode(err);
    }
  }

  private deleteGroupOp(groupId: string, removals: Removals): CoordinatorResult<number> {
    const consumerGroup = this.consumer.get(groupId);
    if (consumerGroup !== undefined) {
      if (consumerGroup.members.size > 0) return { records: [], response: E.NON_EMPTY_GROUP };
      const records: CoordinatorRecord[] = [];
      for (const [topic, byPartition] of this.offsets.offsetsOf(groupId)) {
        for (const partition of byPartition.keys()) records.push({ key: encodeOffsetCommitKey(groupId, topic, partition), value: null });
      }
      records.push(...this.consumer.deleteGroupRecords(consumerGroup));
      return { records, response: E.NONE };
    }
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) return { records: [], response: E.GROUP_ID_NOT_FOUND };
    if (!group.is('Empty')) return { records: [], response: E.NON_EMPTY_GROUP };
    return { records: this.removeGroupRecords(group, removals), response: E.NONE };
  }

  /**
   * Tombstones for every offset of `group` and for the group. The group turns Dead at once, so
   * no member joins it while the tombstones are written; replaying them removes it.
   */
  private removeGroupRecords(group: ClassicGroup, removals: Removals): CoordinatorRecord[] {
    const records: CoordinatorRecord[] = [];
    for (const [topic, byPartition] of this.offsets.offsetsOf(group.groupId)) {
      for (const partition of byPartition.keys()) records.push({ key: encodeOffsetCommitKey(group.groupId, topic, partition), value: null });
    }
    records.push({ key: encodeGroupMetadataKey(group.groupId), value: null });
    removals.push({ group, previous: group.state });
    group.transitionTo('Dead', this.deps.clock.now());
    return records;
  }

  /** The tombstones were not written: the groups live on in the state they had. */
  private restore(removals: Removals): void {
    for (const { group, previous } of removals) {
      // Dead has no legal way back in the state machine; this undoes a transition that never committed.
      if (this.groups.get(group.groupId) === group && group.is('Dead')) group.state = previous;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Offset expiry (offsets.retention.minutes)

  private scheduleExpiry(): void {
    this.expiryTimer = this.schedule(this.deps.config.offsetsRetentionCheckIntervalMs, () => {
      this.expiryTimer = null;
      void this.expireOffsets().finally(() => this.scheduleExpiry());
    });
  }

  /** Runs one expiry pass now; resolves with the number of offsets expired. */
  async expireOffsets(): Promise<number> {
    const removals: Removals = [];
    try {
      const expired = await this.deps.context.scheduleWriteOperation('ExpireOffsets', (shard) => shard.expireOffsetsOp(removals));
      if (expired > 0 || removals.length > 0) {
        this.deps.logger.info({ partition: this.partition, expired, groupsRemoved: removals.length }, 'expired committed offsets');
      }
      return expired;
    } catch (err) {
      this.restore(removals);
      if (!this.unloaded) this.deps.logger.warn({ partition: this.partition, err: String(err) }, 'offset expiry failed; retrying at the next check');
      return 0;
    }
  }

  /**
   * Kafka's rule: an Empty group's offsets expire `retention` after the group became Empty; a group
   * that never had members (standalone commits) expires each offset `retention` after its commit;
   * an active consumer group only loses offsets of topics it no longer subscribes to. A commit
   * with its own retention expires at its expireTimestamp. An Empty group left without offsets is
   * removed in the same batch.
   */
  private expireOffsetsOp(removals: Removals): CoordinatorResult<number> {
    const now = this.deps.clock.now();
    const retention = this.deps.config.offsetsRetentionMs;
    const records: CoordinatorRecord[] = [];
    let expiredCount = 0;
    for (const group of this.groups.values()) {
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
      const expired: CoordinatorRecord[] = [];
      let total = 0;
      for (const [topic, byPartition] of this.offsets.offsetsOf(group.groupId)) {
        for (const [partition, o] of byPartition) {
          total++;
          const hit = o.expireTimestamp >= 0 ? now >= o.expireTimestamp : isExpired?.(topic, o) === true;
          if (hit) expired.push({ key: encodeOffsetCommitKey(group.groupId, topic, partition), value: null });
        }
      }
      expiredCount += expired.length;
      if (group.is('Empty') && group.members.size === 0 && expired.length === total) {
        records.push(...this.removeGroupRecords(group, removals));
      } else {
        records.push(...expired);
      }
    }
    for (const group of [...this.consumer.groups.values()]) {
      if (group.dead) continue;
      const empty = group.members.size === 0;
      const subscribed = this.consumer.subscribedTopics(group);
      const expired: CoordinatorRecord[] = [];
      let total = 0;
      for (const [topic, byPartition] of this.offsets.offsetsOf(group.groupId)) {
        for (const [partition, o] of byPartition) {
          total++;
          const base = empty ? Math.max(group.emptySince, o.commitTimestamp) : o.commitTimestamp;
          const hit = o.expireTimestamp >= 0 ? now >= o.expireTimestamp : (empty || !subscribed.has(topic)) && base + retention <= now;
          if (hit) expired.push({ key: encodeOffsetCommitKey(group.groupId, topic, partition), value: null });
        }
      }
      expiredCount += expired.length;
      records.push(...expired);
      // An empty consumer group without offsets left is deleted, as Kafka does.
      if (empty && expired.length === total && group.emptySince + retention <= now) records.push(...this.consumer.deleteGroupRecords(group));
    }
    return { records, response: expiredCount };
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence of classic group metadata

  /**
   * Writes the group metadata record (persisted, not replayed: the state machine already changed
   * the group); `assignments` overrides members' current assignments. Resolves with an error code.
   */
  private storeGroup(group: ClassicGroup, assignments?: Map<string, Buffer>): Promise<number> {
    // Encoded now: the record is the group as it is at this point, whenever its turn to be written comes.
    const record = this.groupRecord(group, assignments);
    return this.deps.context
      .scheduleWriteOperation('StoreGroup', () => ({ records: [record], response: E.NONE, replay: false }))
      .catch((err: unknown) => {
        if (!this.unloaded) this.deps.logger.error({ groupId: group.groupId, err: String(err) }, 'failed to write __consumer_offsets');
        return writeErrorCode(err);
      });
  }

  /** The GroupMetadata record of `group`; `assignments` overrides members' current assignments. */
  private groupRecord(group: ClassicGroup, assignments?: Map<string, Buffer>): CoordinatorRecord {
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
    return { key: encodeGroupMetadataKey(group.groupId), value: encodeGroupMetadataValue(value) };
  }
}

function allPartitions(p: OffsetCommitParams, errorCode: number): TopicPartitionErrors[] {
  return p.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((x) => ({ partitionIndex: x.partitionIndex, errorCode })) }));
}
