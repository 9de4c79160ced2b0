// coordinator/group room: the KIP-848 consumer groups of one __consumer_offsets partition —
// ConsumerGroupHeartbeat (join, heartbeat, reconcile, leave), session and rebalance timeouts,
// target assignment by the server-side assignors, ConsumerGroupDescribe, and the records of
// consumer-group-records.ts. As for classic groups, the state changes in memory and its records
// are written (not replayed); replay happens at load. Owned by GroupCoordinatorShard. Also KIP-848
// online migration (group.consumer.migration.policy): a busy classic group upgraded by its first
// consumer-protocol member, classic members served inside the consumer group (classicJoin/Sync/
// Heartbeat/Leave), and the downgrade back to a classic group when only classic members are left.
import { randomUUID } from 'node:crypto';
import { ErrorCode as E } from '../../errors.js';
import type { CoordinatorRecord, TimerHandle } from '../runtime/ports.js';
import { ASSIGNORS, type AssignorMember } from './assignors.js';
import {
  ConsumerGroup,
  ConsumerGroupMember,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  MEMBER_STATE_CODES,
  assignmentEquals,
  compileTopicRegex,
  isSubset,
  reconcile,
  type Assignment,
  type MemberState,
  type SubscribedTopic,
  type TopicRegex,
} from './consumer-group.js';
import {
  CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT,
  CONSUMER_GROUP_MEMBER_METADATA,
  CONSUMER_GROUP_METADATA,
  CONSUMER_GROUP_PARTITION_METADATA,
  CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER,
  CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA,
  decodeConsumerGroupKey,
  decodeCurrentAssignmentValue,
  decodeEpochValue,
  decodeMemberMetadataValue,
  decodePartitionMetadataValue,
  decodeTargetAssignmentMemberValue,
  encodeConsumerGroupKey,
  encodeCurrentAssignmentValue,
  encodeEpochValue,
  encodeMemberMetadataValue,
  encodePartitionMetadataValue,
  encodeTargetAssignmentMemberValue,
} from './consumer-records.js';
import { encodeGroupMetadataKey } from './records.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeAssignmentVersion } from './consumer-protocol.js';
import type { GroupProtocol, JoinGroupResult, SyncGroupResult } from './group.js';
import { downgradeEnabled, upgradeEnabled, type Clock, type GroupCoordinatorConfig, type GroupLogger } from './ports.js';
import {
  UNKNOWN_MEMBER_ID,
  joinError,
  syncError,
  type HeartbeatParams,
  type JoinGroupParams,
  type LeaveGroupResult,
  type MemberIdentity,
  type StableGeneration,
  type SyncGroupParams,
  type TopicsView,
} from './requests.js';

export type { TopicsView } from './requests.js';

export interface TopicPartitionsById {
  topicId: string;
  partitions: number[];
}

export interface ConsumerHeartbeatParams {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: TopicPartitionsById[] | null;
  clientId: string;
  clientHost: string;
  topics: TopicsView;
  /** The topics the member's principal may describe (regex matches are filtered by it); absent = all. */
  canDescribe?: ((topic: string) => boolean) | null;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: TopicPartitionsById[] } | null;
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: Array<{
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    assignment: { topicPartitions: Array<{ topicId: string; topicName: string; partitions: number[] }> };
    targetAssignment: { topicPartitions: Array<{ topicId: string; topicName: string; partitions: number[] }> };
    memberType: number;
  }>;
}

/** A classic group's members, as an online conversion hands them from one protocol to the other. */
export interface ClassicGroupSnapshot {
  groupId: string;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  members: Array<{
    memberId: string;
    instanceId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    sessionTimeoutMs: number;
    protocols: GroupProtocol[];
    /** The member's ConsumerProtocolAssignment. */
    assignment: Buffer;
  }>;
}

const CONSUMER_PROTOCOL_TYPE = 'consumer';

interface HeartbeatOutcome {
  group: ConsumerGroup | null;
  records: CoordinatorRecord[];
  result: ConsumerHeartbeatResult;
}

/** What the consumer groups need of their shard. */
export interface ConsumerGroupHost {
  clock: Clock;
  logger: GroupLogger;
  config: GroupCoordinatorConfig;
  partition: number;
  schedule(delayMs: number, fn: () => void): TimerHandle;
  /** Writes records (persist only); resolves with an error code (NONE once committed). */
  write(name: string, records: CoordinatorRecord[]): Promise<number>;
  /** The classic group of this id: absent, empty (convertible) or in use. */
  classicGroupStatus(groupId: string): 'none' | 'empty' | 'active';
  /**
   * Removes a classic group being converted (its waiting members are answered `errorCode`);
   * returns the records that delete it.
   */
  convertClassicGroup(groupId: string, errorCode?: number): CoordinatorRecord[];
  /** The live classic group of this id with its members (online upgrade), or null. */
  classicGroup(groupId: string): ClassicGroupSnapshot | null;
  /**
   * Online downgrade: makes `snapshot` a classic group (Stable, then rebalancing) and returns its
   * GroupMetadata record, written after the consumer group's tombstones, and `current`: that
   * group's record as it is at the time of the call (for a retried write), or null once another
   * group (or none) has its id.
   */
  installClassicGroup(snapshot: ClassicGroupSnapshot, rebalance: boolean): { records: CoordinatorRecord[]; current(): CoordinatorRecord[] | null };
  /** Called once per group epoch whose assignment every member has reconciled. */
  onStableGeneration(g: StableGeneration): void;
}

const errorResult = (errorCode: number, errorMessage: string | null, memberEpoch = -1): ConsumerHeartbeatResult => ({
  errorCode,
  errorMessage,
  memberId: null,
  memberEpoch,
  heartbeatIntervalMs: 0,
  assignment: null,
});

function toAssignment(tps: TopicPartitionsById[]): Assignment {
  const a: Assignment = new Map();
  for (const tp of tps) {
    const set = a.get(tp.topicId) ?? new Set<number>();
    for (const p of tp.partitions) set.add(p);
    a.set(tp.topicId, set);
  }
  return a;
}

function fromAssignment(a: Assignment): TopicPartitionsById[] {
  return [...a].filter(([, ps]) => ps.size > 0).map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((x, y) => x - y) }));
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function sameClassic(a: ConsumerGroupMember['classic'], b: ConsumerGroupMember['classic']): boolean {
  if (a === null || b === null) return a === b;
  if (a.sessionTimeoutMs !== b.sessionTimeoutMs || a.supportedProtocols.length !== b.supportedProtocols.length) return false;
  return a.supportedProtocols.every((p, i) => p.name === b.supportedProtocols[i].name && p.metadata.equals(b.supportedProtocols[i].metadata));
}

function sameMetadata(a: ReadonlyMap<string, SubscribedTopic>, b: ReadonlyMap<string, SubscribedTopic>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, t] of a) {
    const o = b.get(name);
    if (o?.topicId !== t.topicId || o.numPartitions !== t.numPartitions) return false;
  }
  return true;
}

/** topic name → partitions of an assignment by topic id (topics it cannot name are left out). */
function byTopicName(a: Assignment, nameOf: (topicId: string) => string | undefined): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [topicId, ps] of a) {
    const name = nameOf(topicId);
    if (name === undefined || ps.size === 0) continue;
    out[name] = [...ps].sort((x, y) => x - y);
  }
  return out;
}

/** An assignment by topic name as one by topic id (topics that no longer exist are left out). */
function byTopicId(a: Record<string, number[]>, topics: TopicsView): Assignment {
  const out: Assignment = new Map();
  for (const [name, ps] of Object.entries(a)) {
    const t = topics.byName(name);
    if (t === undefined || ps.length === 0) continue;
    out.set(t.topicId, new Set(ps));
  }
  return out;
}

const MEMBER_STATE_BY_CODE = new Map<number, MemberState>(Object.entries(MEMBER_STATE_CODES).map(([k, v]) => [v, k as MemberState]));

export class ConsumerGroupManager {
  readonly groups = new Map<string, ConsumerGroup>();
  /** Groups converted from a classic group by this coordinator, and those whose classic tombstone is still to be written. */
  private readonly upgradedGroups = new WeakSet<ConsumerGroup>();
  private readonly classicTombstonePending = new WeakSet<ConsumerGroup>();
  /**
   * A downgrade's records → those records as they are to be written by a retry: the consumer
   * group's tombstones with the classic group's record as it is then, or null when the classic
   * group installed by the downgrade is no longer the group of that id.
   */
  private readonly conversionRetries = new WeakMap<CoordinatorRecord[], () => CoordinatorRecord[] | null>();

  constructor(private readonly host: ConsumerGroupHost) {}

  private get cfg(): GroupCoordinatorConfig {
    return this.host.config;
  }

  get(groupId: string): ConsumerGroup | undefined {
    const g = this.groups.get(groupId);
    return g === undefined || g.dead ? undefined : g;
  }

  // ---------------------------------------------------------------------------------------------
  // Heartbeat

  async heartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    const outcome = this.heartbeatInMemory(p);
    if (outcome.group === null) {
      // A leave that downgraded the group: its records must be written.
      if (outcome.records.length > 0) {
        const err = await this.writeConversion(p.groupId, 'ConsumerGroupHeartbeat', outcome.records);
        if (err !== E.NONE) return errorResult(err, null);
      }
      return outcome.result;
    }
    if (outcome.result.errorCode !== E.NONE) {
      if (outcome.records.length > 0) {
        const removed = [...outcome.group.removedMembers];
        const err = await this.host.write('ConsumerGroupHeartbeat', outcome.records);
        if (err !== E.NONE) this.unwritten(outcome.group, removed, err);
      }
      return outcome.result;
    }
    this.maybeReportStable(outcome.group);
    const group = outcome.group;
    const removed = [...group.removedMembers];
    const records = [...outcome.records, ...this.flush(group)];
    if (records.length === 0) return outcome.result;
    const err = await this.host.write('ConsumerGroupHeartbeat', records);
    if (err !== E.NONE) this.unwritten(group, removed, err);
    return err === E.NONE ? outcome.result : errorResult(err, null);
  }

  /**
   * A write of `group`'s records failed: what it held is not durable, so the whole group is
   * written again by the next flush (heartbeat or timer) instead of being taken as written.
   */
  private unwritten(group: ConsumerGroup, removed: readonly string[], err: number): void {
    if (this.groups.get(group.groupId) !== group) return;
    for (const m of removed) if (!group.members.has(m)) group.removedMembers.add(m);
    group.markAllDirty();
    // An upgraded group writes the classic group's tombstone again with its records.
    if (this.upgradedGroups.has(group)) this.classicTombstonePending.add(group);
    this.host.logger.warn({ groupId: group.groupId, errorCode: err }, 'writing consumer group records failed; the group is written again on its next change');
  }

  private heartbeatInMemory(p: ConsumerHeartbeatParams): { group: ConsumerGroup | null; records: CoordinatorRecord[]; result: ConsumerHeartbeatResult } {
    let fail = (code: number, message: string | null, group: ConsumerGroup | null = null): HeartbeatOutcome => ({ group, records: [], result: errorResult(code, message) });
    if (!this.cfg.consumerProtocolEnabled) return fail(E.UNSUPPORTED_VERSION, 'The consumer group protocol is not enabled (group.coordinator.rebalance.protocols).');
    if (p.groupId.length === 0) return fail(E.INVALID_REQUEST, 'GroupId can\'t be empty.');
    if (p.instanceId !== null && p.instanceId.length === 0) return fail(E.INVALID_REQUEST, 'InstanceId can\'t be empty.');
    if (p.memberEpoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH) return fail(E.INVALID_REQUEST, `MemberEpoch is invalid: ${p.memberEpoch}.`);
    if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH && p.instanceId === null) return fail(E.INVALID_REQUEST, 'InstanceId can\'t be null with MemberEpoch -2.');
    if (p.memberEpoch === 0) {
      if (p.rebalanceTimeoutMs === -1) return fail(E.INVALID_REQUEST, 'RebalanceTimeoutMs must be provided in first request.');
      if (p.topicPartitions === null) return fail(E.INVALID_REQUEST, 'TopicPartitions must be empty when (re-)joining.');
      if (p.subscribedTopicNames === null && p.subscribedTopicRegex === null) {
        return fail(E.INVALID_REQUEST, 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
      }
    } else if (p.memberId.length === 0) {
      return fail(E.INVALID_REQUEST, 'MemberId can\'t be empty.');
    }
    if (p.serverAssignor !== null && !this.cfg.consumerAssignors.includes(p.serverAssignor)) {
      return fail(E.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${p.serverAssignor} is not supported. Supported assignors: ${this.cfg.consumerAssignors.join(', ')}.`);
    }
    if (p.subscribedTopicRegex !== null && p.subscribedTopicRegex.length > 0) {
      try {
        compileTopicRegex(p.subscribedTopicRegex);
      } catch (err) {
        return fail(E.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${p.subscribedTopicRegex} is not a valid regular expression: ${String(err)}.`);
      }
    }

    if (p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) return this.leave(p);

    const now = this.host.clock.now();
    const records: CoordinatorRecord[] = [];
    let group = this.get(p.groupId);
    if (group === undefined) {
      if (p.memberEpoch !== 0) return fail(E.UNKNOWN_MEMBER_ID, `Group ${p.groupId} not found.`);
      const classic = this.host.classicGroupStatus(p.groupId);
      if (classic === 'active') {
        // Online upgrade (KIP-848): the classic group's members carry on inside a consumer group.
        const upgraded = this.upgrade(p);
        if ('errorCode' in upgraded) return fail(upgraded.errorCode, upgraded.errorMessage);
        group = upgraded.group;
        records.push(...upgraded.records);
        // From here on a refused heartbeat still writes the conversion, which already happened.
        const converted = group;
        const failConverted = fail;
        fail = (code, message) => ({ ...failConverted(code, message, converted), records: [...records, ...this.flush(converted)] });
      } else {
        if (classic === 'empty') {
          records.push(...this.host.convertClassicGroup(p.groupId));
          this.host.logger.info({ groupId: p.groupId }, 'converted an empty classic group to a consumer group');
        }
        group = new ConsumerGroup(p.groupId, now);
        group.dirtyGroup = true;
        this.groups.set(p.groupId, group);
      }
    }
    if (p.memberEpoch === 0 && group.members.size >= this.cfg.groupConsumerMaxSize && !group.members.has(p.memberId) && (p.instanceId === null || group.staticMember(p.instanceId) === undefined)) {
      return fail(E.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${this.cfg.groupConsumerMaxSize} members.`, group);
    }
    const owned = p.topicPartitions === null ? null : toAssignment(p.topicPartitions);

    // The member: created, replaced (a static member's new incarnation) or validated.
    let member: ConsumerGroupMember;
    let isNew = false;
    if (p.memberEpoch === 0) {
      const memberId = p.memberId.length > 0 ? p.memberId : randomUUID();
      const existingStatic = p.instanceId === null ? undefined : group.staticMember(p.instanceId);
      if (existingStatic !== undefined && existingStatic.memberId !== memberId) {
        if (existingStatic.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH && existingStatic.classic === null) {
          return fail(
            E.UNRELEASED_INSTANCE_ID,
            `Static member ${memberId} with instance id ${p.instanceId ?? ''} cannot join the group because the instance id is owned by ${existingStatic.memberId} member.`,
            group,
          );
        }
        member = this.replaceStaticMember(group, existingStatic, memberId);
      } else {
        const existing = group.members.get(memberId);
        if (existing !== undefined) {
          // Rejoining (after being fenced): the member gave up everything it owned.
          member = existing;
          this.releaseAll(group, member);
          member.memberEpoch = 0;
          member.previousMemberEpoch = 0;
          member.state = 'STABLE';
          group.dirtyCurrent.add(member.memberId);
        } else {
          member = new ConsumerGroupMember(memberId);
          isNew = true;
        }
      }
    } else {
      let found: ConsumerGroupMember | undefined;
      if (p.instanceId !== null) {
        found = group.staticMember(p.instanceId);
        if (found === undefined) return fail(E.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`, group);
        if (found.memberId !== p.memberId) {
          return fail(E.FENCED_INSTANCE_ID, `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${found.memberId}.`, group);
        }
      } else {
        found = group.members.get(p.memberId);
        if (found === undefined) return fail(E.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${p.groupId}.`, group);
      }
      member = found;
      if (p.memberEpoch > member.memberEpoch) {
        return fail(E.FENCED_MEMBER_EPOCH, `The consumer group member has a greater member epoch (${p.memberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`, group);
      }
      if (p.memberEpoch < member.memberEpoch && (p.memberEpoch !== member.previousMemberEpoch || owned === null || !isSubset(owned, member.assigned))) {
        return fail(E.FENCED_MEMBER_EPOCH, `The consumer group member has a smaller member epoch (${p.memberEpoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`, group);
      }
    }

    // A member heartbeating with ConsumerGroupHeartbeat uses the consumer protocol (Kafka sets its
    // ClassicMemberMetadata to null): e.g. a static classic member restarted with group.protocol=consumer.
    if (member.classic !== null) {
      member.classic = null;
      member.joinTimer?.cancel();
      member.joinTimer = null;
      member.syncTimer?.cancel();
      member.syncTimer = null;
      group.dirtyMembers.add(member.memberId);
    }

    // 1. The member's subscription: a change bumps the group epoch.
    let subscriptionChanged = isNew;
    const before = { names: member.subscribedTopicNames, regex: member.subscribedTopicRegex, assignor: member.serverAssignor };
    if (p.instanceId !== null) member.instanceId = p.instanceId;
    if (p.rackId !== null) member.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    if (p.serverAssignor !== null) member.serverAssignor = p.serverAssignor;
    if (p.subscribedTopicNames !== null) member.subscribedTopicNames = [...p.subscribedTopicNames];
    if (p.subscribedTopicRegex !== null) member.subscribedTopicRegex = p.subscribedTopicRegex.length > 0 ? p.subscribedTopicRegex : null;
    const metadataChanged = member.clientId !== p.clientId || member.clientHost !== p.clientHost;
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    member.canDescribe = p.canDescribe ?? null;
    if (!sameStrings(before.names, member.subscribedTopicNames) || before.regex !== member.subscribedTopicRegex || before.assignor !== member.serverAssignor) {
      subscriptionChanged = true;
    }
    if (isNew) group.putMember(member);
    if (isNew || subscriptionChanged || metadataChanged || p.memberEpoch === 0) group.dirtyMembers.add(member.memberId);

    // 2. The subscribed topics as the metadata has them now (created, deleted, grown topics).
    const metadata = this.subscriptionMetadata(group, p.topics);
    let bump = subscriptionChanged;
    if (!sameMetadata(metadata, group.subscriptionMetadata)) {
      group.subscriptionMetadata = metadata;
      group.dirtyPartitionMetadata = true;
      bump = true;
    }
    if (bump) {
      group.groupEpoch += 1;
      group.epochBumpedAt = now;
      group.dirtyGroup = true;
      this.host.logger.info({ groupId: group.groupId, groupEpoch: group.groupEpoch, memberId: member.memberId }, 'bumped consumer group epoch');
    }

    // 3. A new target assignment when the group epoch moved past it.
    if (group.groupEpoch > group.assignmentEpoch) this.computeTargetAssignment(group, p.topics);

    // 4. Reconcile this member towards its target.
    const previousAssigned = member.assigned;
    this.reconcileMember(group, member, owned);
    this.scheduleSessionTimeout(group, member);

    const full = p.memberEpoch === 0 || (p.rebalanceTimeoutMs !== -1 && (p.subscribedTopicNames !== null || p.subscribedTopicRegex !== null) && owned !== null);
    const result: ConsumerHeartbeatResult = {
      errorCode: E.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.cfg.consumerGroupSettings?.(group.groupId).heartbeatIntervalMs ?? this.cfg.groupConsumerHeartbeatIntervalMs,
      assignment: full || !assignmentEquals(previousAssigned, member.assigned) ? { topicPartitions: fromAssignment(member.assigned) } : null,
    };
    return { group, records, result };
  }

  private leave(p: ConsumerHeartbeatParams): { group: ConsumerGroup | null; records: CoordinatorRecord[]; result: ConsumerHeartbeatResult } {
    const group = this.get(p.groupId);
    const fail = (code: number, message: string) => ({ group, records: [], result: errorResult(code, message) }) as { group: ConsumerGroup | null; records: CoordinatorRecord[]; result: ConsumerHeartbeatResult };
    if (group === undefined) return fail(E.UNKNOWN_MEMBER_ID, `Group ${p.groupId} not found.`);
    let member: ConsumerGroupMember | undefined;
    if (p.instanceId !== null) {
      member = group.staticMember(p.instanceId);
      if (member === undefined) return fail(E.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
      if (member.memberId !== p.memberId) return fail(E.FENCED_INSTANCE_ID, `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${member.memberId}.`);
    } else {
      member = group.members.get(p.memberId);
      if (member === undefined) return fail(E.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${p.groupId}.`);
    }
    const ok = (epoch: number) => ({
      group,
      records: [],
      result: { errorCode: E.NONE, errorMessage: null, memberId: p.memberId, memberEpoch: epoch, heartbeatIntervalMs: 0, assignment: null },
    });
    if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member going away for a while: it keeps its partitions until its session ends.
      this.host.logger.info({ groupId: group.groupId, memberId: member.memberId, instanceId: member.instanceId }, 'static member left temporarily');
      group.updateMemberAssignment(member, member.assigned, member.pendingRevocation, LEAVE_GROUP_STATIC_MEMBER_EPOCH);
      member.rebalanceTimer?.cancel();
      member.rebalanceTimer = null;
      group.dirtyCurrent.add(member.memberId);
      this.scheduleSessionTimeout(group, member);
      return ok(LEAVE_GROUP_STATIC_MEMBER_EPOCH);
    }
    this.host.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'member left the consumer group');
    const converted = this.fence(group, member);
    if (converted !== null) return { ...ok(LEAVE_GROUP_MEMBER_EPOCH), group: null, records: converted };
    return ok(LEAVE_GROUP_MEMBER_EPOCH);
  }

  private replaceStaticMember(group: ConsumerGroup, old: ConsumerGroupMember, memberId: string): ConsumerGroupMember {
    const member = new ConsumerGroupMember(memberId);
    member.instanceId = old.instanceId;
    member.rackId = old.rackId;
    member.clientId = old.clientId;
    member.clientHost = old.clientHost;
    member.subscribedTopicNames = old.subscribedTopicNames;
    member.subscribedTopicRegex = old.subscribedTopicRegex;
    member.serverAssignor = old.serverAssignor;
    member.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
    member.classic = old.classic;
    member.state = old.state === 'UNREVOKED_PARTITIONS' ? 'UNREVOKED_PARTITIONS' : 'STABLE';
    member.assigned = old.assigned;
    member.pendingRevocation = old.pendingRevocation;
    member.memberEpoch = 0;
    member.previousMemberEpoch = 0;
    const target = group.targetAssignment.get(old.memberId);
    old.sessionTimer?.cancel();
    old.rebalanceTimer?.cancel();
    old.joinTimer?.cancel();
    old.syncTimer?.cancel();
    group.removeMember(old.memberId, this.host.clock.now());
    group.removedMembers.add(old.memberId);
    group.putMember(member);
    if (target !== undefined) group.targetAssignment.set(memberId, target);
    group.removedMembers.delete(memberId);
    group.dirtyMembers.add(memberId);
    group.dirtyTargets.add(memberId);
    group.dirtyCurrent.add(memberId);
    this.host.logger.info({ groupId: group.groupId, instanceId: old.instanceId, oldMemberId: old.memberId, memberId }, 'static member rejoined the consumer group');
    return member;
  }

  private releaseAll(group: ConsumerGroup, member: ConsumerGroupMember): void {
    group.updateMemberAssignment(member, new Map(), new Map(), member.memberEpoch);
  }

  /** The group's subscribed topics as `topics` has them now. */
  private subscriptionMetadata(group: ConsumerGroup, topics: TopicsView): Map<string, SubscribedTopic> {
    const out = new Map<string, SubscribedTopic>();
    for (const name of [...group.subscribedTopicNames(this.regexResolver(group, topics))].sort()) {
      const t = topics.byName(name);
      if (t !== undefined) out.set(name, { topicId: t.topicId, name, numPartitions: t.numPartitions });
    }
    // Forget the matches of patterns no member subscribes to any more.
    if (group.resolvedRegexes.size > 0) {
      const inUse = new Set<string>();
      for (const m of group.members.values()) if (m.subscribedTopicRegex !== null) inUse.add(m.subscribedTopicRegex);
      for (const pattern of group.resolvedRegexes.keys()) if (!inUse.has(pattern)) group.resolvedRegexes.delete(pattern);
    }
    return out;
  }

  /**
   * The topics each subscribed pattern matches (whole names, RE2; none for a pattern RE2 rejects),
   * before the members' DESCRIBE filters, which each member applies to the matches on every
   * heartbeat (so ACL changes count at once). Matches are kept per group and pattern with the
   * metadata version they were resolved at: while the version stands, no topic name is matched
   * again. Without `topics` (or a version) they are matched against what is known now, uncached.
   */
  private regexResolver(group: ConsumerGroup, topics: TopicsView | null): (pattern: string) => readonly string[] {
    const version = topics?.version?.();
    let names: readonly string[] | undefined;
    const existing = (): readonly string[] => (names ??= topics?.names() ?? [...group.subscriptionMetadata.keys()]);
    const resolved = new Map<string, readonly string[]>();
    return (pattern) => {
      let matched = resolved.get(pattern);
      if (matched !== undefined) return matched;
      const cached = version === undefined ? undefined : group.resolvedRegexes.get(pattern);
      if (cached !== undefined && cached.version === version) {
        matched = cached.topics;
      } else {
        let re: TopicRegex | null = null;
        try {
          re = compileTopicRegex(pattern);
        } catch {
          // Refused when the member subscribed; a pattern loaded from an older record matches nothing.
        }
        matched = re === null ? [] : existing().filter((name) => re.matches(name));
        if (version !== undefined) group.resolvedRegexes.set(pattern, { version, topics: matched });
      }
      resolved.set(pattern, matched);
      return matched;
    };
  }

  private computeTargetAssignment(group: ConsumerGroup, topics: TopicsView | null): void {
    const resolve = this.regexResolver(group, topics);
    const members: AssignorMember[] = [...group.members.values()].map((m) => {
      const matched = m.subscribedTopicRegex === null ? null : resolve(m.subscribedTopicRegex);
      return { memberId: m.memberId, topics: m.subscribedTopics(matched), current: group.targetAssignment.get(m.memberId) ?? new Map<string, Set<number>>() };
    });
    const assignorName = group.preferredAssignor(this.cfg.consumerAssignors[0] ?? 'uniform');
    const assignor = ASSIGNORS.get(assignorName) ?? ASSIGNORS.get('uniform');
    if (assignor === undefined) return;
    const result = assignor(members, group.subscriptionMetadata);
    for (const m of members) {
      const next = result.get(m.memberId) ?? new Map<string, Set<number>>();
      const previous = group.targetAssignment.get(m.memberId);
      if (previous === undefined || !assignmentEquals(previous, next)) group.dirtyTargets.add(m.memberId);
      group.targetAssignment.set(m.memberId, next);
    }
    group.assignmentEpoch = group.groupEpoch;
    group.dirtyTarget = true;
    this.host.logger.info({ groupId: group.groupId, assignmentEpoch: group.assignmentEpoch, assignor: assignorName, members: members.length }, 'computed consumer group target assignment');
  }

  private reconcileMember(group: ConsumerGroup, member: ConsumerGroupMember, owned: Assignment | null): void {
    if (member.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) return;
    const target = group.targetAssignment.get(member.memberId) ?? new Map<string, Set<number>>();
    const next = reconcile(member, group.assignmentEpoch, target, owned, (t, p) => group.currentPartitionEpoch(t, p));
    const changed =
      next.state !== member.state ||
      next.memberEpoch !== member.memberEpoch ||
      !assignmentEquals(next.assigned, member.assigned) ||
      !assignmentEquals(next.pendingRevocation, member.pendingRevocation);
    if (!changed) return;
    group.updateMemberAssignment(member, next.assigned, next.pendingRevocation, next.memberEpoch);
    member.state = next.state;
    group.dirtyCurrent.add(member.memberId);
    if (member.state === 'UNREVOKED_PARTITIONS') {
      // The member has its rebalance timeout to revoke; past it, it is fenced.
      member.rebalanceTimer?.cancel();
      const epoch = member.memberEpoch;
      member.rebalanceTimer = this.host.schedule(member.rebalanceTimeoutMs, () => {
        member.rebalanceTimer = null;
        if (group.members.get(member.memberId) !== member || member.memberEpoch !== epoch || member.state !== 'UNREVOKED_PARTITIONS') return;
        this.host.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'member did not revoke its partitions within its rebalance timeout: fenced');
        this.fenceAndWrite(group, member, 'ConsumerGroupRebalanceTimeout');
      });
    } else {
      member.rebalanceTimer?.cancel();
      member.rebalanceTimer = null;
    }
  }

  private scheduleSessionTimeout(group: ConsumerGroup, member: ConsumerGroupMember): void {
    member.sessionTimer?.cancel();
    // A classic member keeps the session timeout it joined with.
    const sessionTimeoutMs = member.classic?.sessionTimeoutMs ?? this.cfg.consumerGroupSettings?.(group.groupId).sessionTimeoutMs ?? this.cfg.groupConsumerSessionTimeoutMs;
    member.sessionTimer = this.host.schedule(sessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.host.logger.info({ groupId: group.groupId, memberId: member.memberId, sessionTimeoutMs }, 'consumer group member session expired');
      this.fenceAndWrite(group, member, 'ConsumerGroupSessionTimeout');
    });
  }

  /** Fences a member from a timer and writes the result (the group's records, or a downgrade's). */
  private fenceAndWrite(group: ConsumerGroup, member: ConsumerGroupMember, name: string): void {
    const converted = this.fence(group, member);
    if (converted === null) {
      void this.writeFlush(group, name);
      return;
    }
    void this.writeConversion(group.groupId, name, converted);
  }

  /**
   * Writes a downgrade's records (the consumer group's tombstones, then the classic group); a
   * failure is retried a few times, since the in-memory state already moved on.
   */
  private async writeConversion(groupId: string, name: string, records: CoordinatorRecord[], attempt = 0): Promise<number> {
    let err: number;
    try {
      err = await this.host.write(name, records);
    } catch {
      err = E.UNKNOWN_SERVER_ERROR;
    }
    if (err === E.NONE || err === E.NOT_COORDINATOR) return err;
    this.host.logger.warn({ groupId, errorCode: err, attempt }, 'writing the downgrade of a consumer group failed');
    if (attempt < 3) {
      // The classic group may have moved on (a new generation written) or be gone by then: the
      // retry writes it as it is then, and nothing once it is no longer the group installed.
      const rebuild = this.conversionRetries.get(records);
      this.host.schedule(1000 * (attempt + 1), () => {
        const again = rebuild === undefined ? records : rebuild();
        if (again === null) {
          this.host.logger.warn({ groupId, attempt }, 'not retrying the downgrade write: the classic group it installed is gone');
          return;
        }
        if (rebuild !== undefined) this.conversionRetries.set(again, rebuild);
        void this.writeConversion(groupId, name, again, attempt + 1);
      });
    }
    return err;
  }

  /**
   * Fences `member` (leave, session or rebalance timeout). When every other member uses the
   * classic protocol and group.consumer.migration.policy allows it, the group goes back to being a
   * classic group with those members, which rebalance (Kafka's online downgrade): returns the
   * records of that conversion. Otherwise the member is removed and null is returned.
   */
  private fence(group: ConsumerGroup, member: ConsumerGroupMember): CoordinatorRecord[] | null {
    if (this.canDowngrade(group, member.memberId)) return this.downgrade(group, member.memberId);
    this.removeMember(group, member);
    return null;
  }

  /** Kafka's validateOnlineDowngradeWithFencedMember. */
  private canDowngrade(group: ConsumerGroup, leavingMemberId: string): boolean {
    for (const m of group.members.values()) if (m.memberId !== leavingMemberId && m.classic === null) return false;
    if (group.members.size <= 1) return false;
    if (!downgradeEnabled(this.cfg.groupConsumerMigrationPolicy)) {
      this.host.logger.info({ groupId: group.groupId }, 'cannot downgrade the consumer group to a classic group: group.consumer.migration.policy does not allow it');
      return false;
    }
    if (group.members.size - 1 > this.cfg.groupMaxSize) {
      this.host.logger.info({ groupId: group.groupId }, 'cannot downgrade the consumer group to a classic group: more members than group.max.size');
      return false;
    }
    return true;
  }

  private downgrade(group: ConsumerGroup, leavingMemberId: string | null): CoordinatorRecord[] {
    const nameOf = this.nameResolver(group, null);
    const snapshot: ClassicGroupSnapshot = {
      groupId: group.groupId,
      generationId: group.groupEpoch,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: null,
      members: [],
    };
    for (const m of group.members.values()) {
      if (m.memberId === leavingMemberId || m.classic === null) continue;
      const first = m.classic.supportedProtocols[0] as GroupProtocol | undefined;
      const version = first === undefined ? 0 : (decodeSubscription(first.metadata)?.version ?? 0);
      snapshot.members.push({
        memberId: m.memberId,
        instanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.classic.sessionTimeoutMs,
        protocols: m.classic.supportedProtocols,
        assignment: encodeAssignmentVersion(byTopicName(group.targetAssignment.get(m.memberId) ?? new Map<string, Set<number>>(), nameOf), version),
      });
    }
    const tombstones = this.deleteGroupRecords(group);
    // Downgraded by a member leaving: a rebalance. By a static member's new incarnation taking
    // the place of the last consumer-protocol member: it takes over that member's assignment.
    const installed = this.host.installClassicGroup(snapshot, leavingMemberId !== null);
    const records = [...tombstones, ...installed.records];
    this.conversionRetries.set(records, () => {
      const current = installed.current();
      return current === null ? null : [...tombstones, ...current];
    });
    this.host.logger.info({ groupId: group.groupId, generationId: snapshot.generationId, members: snapshot.members.length }, 'downgraded the consumer group to a classic group');
    return records;
  }

  /**
   * Online upgrade of the live classic group `p.groupId` (Kafka's validateOnlineUpgrade and
   * convertToConsumerGroup): its members become members of a new consumer group that keep the
   * classic protocol, with the partitions they were last assigned, at the classic generation.
   */
  private upgrade(p: ConsumerHeartbeatParams): { group: ConsumerGroup; records: CoordinatorRecord[] } | { errorCode: number; errorMessage: string } {
    const notConsumer = { errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Group ${p.groupId} is not a consumer group.` };
    const snap = this.host.classicGroup(p.groupId);
    if (snap === null) return notConsumer;
    if (!upgradeEnabled(this.cfg.groupConsumerMigrationPolicy)) {
      this.host.logger.info({ groupId: p.groupId }, 'cannot upgrade the classic group to a consumer group: group.consumer.migration.policy does not allow it');
      return notConsumer;
    }
    if (snap.protocolType !== CONSUMER_PROTOCOL_TYPE) {
      this.host.logger.info({ groupId: p.groupId }, 'cannot upgrade the classic group to a consumer group: it does not use the consumer embedded protocol');
      return notConsumer;
    }
    if (snap.members.length > this.cfg.groupConsumerMaxSize) {
      this.host.logger.info({ groupId: p.groupId }, 'cannot upgrade the classic group to a consumer group: more members than group.consumer.max.size');
      return notConsumer;
    }
    if (snap.members.length >= this.cfg.groupConsumerMaxSize) {
      return { errorCode: E.GROUP_MAX_SIZE_REACHED, errorMessage: `The consumer group has reached its maximum capacity of ${this.cfg.groupConsumerMaxSize} members.` };
    }
    const now = this.host.clock.now();
    const group = new ConsumerGroup(p.groupId, now);
    group.groupEpoch = snap.generationId;
    group.assignmentEpoch = snap.generationId;
    for (const cm of snap.members) {
      const protocolName = snap.protocolName ?? cm.protocols[0]?.name;
      const protocol = cm.protocols.find((x) => x.name === protocolName);
      const subscription = protocol === undefined ? null : decodeSubscription(protocol.metadata);
      const assigned = decodeAssignment(cm.assignment);
      if (subscription === null || assigned === null) {
        return { errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Cannot upgrade the classic group ${p.groupId} to consumer group because the embedded consumer protocol is malformed.` };
      }
      const member = new ConsumerGroupMember(cm.memberId);
      member.instanceId = cm.instanceId;
      member.rackId = subscription.rackId;
      member.clientId = cm.clientId;
      member.clientHost = cm.clientHost;
      member.subscribedTopicNames = [...subscription.topics];
      member.rebalanceTimeoutMs = cm.rebalanceTimeoutMs;
      member.memberEpoch = snap.generationId;
      member.previousMemberEpoch = snap.generationId;
      member.state = 'STABLE';
      member.assigned = byTopicId(assigned, p.topics);
      member.classic = { sessionTimeoutMs: cm.sessionTimeoutMs, supportedProtocols: cm.protocols };
      group.targetAssignment.set(member.memberId, byTopicId(assigned, p.topics));
      group.putMember(member);
    }
    group.markAllDirty();
    this.groups.set(p.groupId, group);
    const records = this.host.convertClassicGroup(p.groupId, E.REBALANCE_IN_PROGRESS);
    this.upgradedGroups.add(group);
    for (const m of group.members.values()) this.scheduleSessionTimeout(group, m);
    this.host.logger.info({ groupId: p.groupId, generationId: snap.generationId, members: snap.members.length }, 'upgraded the classic group to a consumer group');
    return { group, records };
  }

  /** Topic id → name for `group` (its subscribed topics, then `topics`). */
  private nameResolver(group: ConsumerGroup, topics: TopicsView | null | undefined): (topicId: string) => string | undefined {
    return (topicId) => {
      for (const t of group.subscriptionMetadata.values()) if (t.topicId === topicId) return t.name;
      return topics?.nameOf(topicId);
    };
  }

  /** Fences or removes a member: its partitions become free and the group epoch moves on. */
  private removeMember(group: ConsumerGroup, member: ConsumerGroupMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = null;
    member.rebalanceTimer?.cancel();
    member.rebalanceTimer = null;
    member.joinTimer?.cancel();
    member.joinTimer = null;
    member.syncTimer?.cancel();
    member.syncTimer = null;
    group.removeMember(member.memberId, this.host.clock.now());
    group.removedMembers.add(member.memberId);
    group.dirtyMembers.delete(member.memberId);
    group.dirtyTargets.delete(member.memberId);
    group.dirtyCurrent.delete(member.memberId);
    group.groupEpoch += 1;
    group.epochBumpedAt = this.host.clock.now();
    group.dirtyGroup = true;
    // The partition metadata follows the remaining members' subscriptions at the next heartbeat.
  }

  /** Reports a group epoch once every member reconciled to it (metrics, tests). */
  private maybeReportStable(group: ConsumerGroup): void {
    if (group.state !== 'Stable' || group.lastStableEpoch === group.groupEpoch) return;
    group.lastStableEpoch = group.groupEpoch;
    const nameOf = new Map([...group.subscriptionMetadata.values()].map((t) => [t.topicId, t.name]));
    this.host.onStableGeneration({
      groupId: group.groupId,
      generationId: group.groupEpoch,
      protocolType: 'consumer',
      protocolName: group.preferredAssignor(this.cfg.consumerAssignors[0] ?? 'uniform'),
      leaderId: null,
      rebalanceMs: this.host.clock.now() - group.epochBumpedAt,
      assignments: [...group.members.values()].map((m) => {
        const byName: Record<string, number[]> = {};
        for (const [topicId, ps] of m.assigned) byName[nameOf.get(topicId) ?? topicId] = [...ps].sort((a, b) => a - b);
        return { memberId: m.memberId, groupInstanceId: m.instanceId, assignment: encodeAssignment(byName) };
      }),
    });
  }

  /** Timer-path write; a failure marks the group for a full rewrite and retries (bounded). */
  private async writeFlush(group: ConsumerGroup, name: string, attempt = 0): Promise<void> {
    const removed = [...group.removedMembers];
    const records = this.flush(group);
    if (records.length === 0) return;
    let err: number;
    try {
      err = await this.host.write(name, records);
    } catch {
      err = E.UNKNOWN_SERVER_ERROR;
    }
    if (err === E.NONE) return;
    this.unwritten(group, removed, err);
    // NOT_COORDINATOR and the like: the partition moved, its next leader replays the log. Others
    // (a full queue, a slow append) are retried a few times.
    if (attempt < 3 && err !== E.NOT_COORDINATOR && this.groups.get(group.groupId) === group) {
      this.host.schedule(1000 * (attempt + 1), () => {
        if (this.groups.get(group.groupId) === group) void this.writeFlush(group, name, attempt + 1);
      });
    }
  }

  /** The records for what changed in `group` since the last flush. */
  flush(group: ConsumerGroup): CoordinatorRecord[] {
    const id = group.groupId;
    const records: CoordinatorRecord[] = [];
    if (this.classicTombstonePending.delete(group)) records.push({ key: encodeGroupMetadataKey(id), value: null });
    for (const m of group.removedMembers) {
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT, id, m), value: null });
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER, id, m), value: null });
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_MEMBER_METADATA, id, m), value: null });
    }
    group.removedMembers.clear();
    for (const m of group.dirtyMembers) {
      const member = group.members.get(m);
      if (member === undefined) continue;
      records.push({
        key: encodeConsumerGroupKey(CONSUMER_GROUP_MEMBER_METADATA, id, m),
        value: encodeMemberMetadataValue({
          instanceId: member.instanceId,
          rackId: member.rackId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          subscribedTopicNames: member.subscribedTopicNames,
          subscribedTopicRegex: member.subscribedTopicRegex,
          rebalanceTimeoutMs: member.rebalanceTimeoutMs,
          serverAssignor: member.serverAssignor,
          classicMemberMetadata: member.classic,
        }),
      });
    }
    group.dirtyMembers.clear();
    if (group.dirtyPartitionMetadata) {
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_PARTITION_METADATA, id), value: encodePartitionMetadataValue(group.subscriptionMetadata.values()) });
      group.dirtyPartitionMetadata = false;
    }
    if (group.dirtyGroup) {
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_METADATA, id), value: encodeEpochValue(group.groupEpoch) });
      group.dirtyGroup = false;
    }
    for (const m of group.dirtyTargets) {
      const target = group.targetAssignment.get(m);
      if (target === undefined || !group.members.has(m)) continue;
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER, id, m), value: encodeTargetAssignmentMemberValue(target) });
    }
    group.dirtyTargets.clear();
    if (group.dirtyTarget) {
      records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, id), value: encodeEpochValue(group.assignmentEpoch) });
      group.dirtyTarget = false;
    }
    for (const m of group.dirtyCurrent) {
      const member = group.members.get(m);
      if (member === undefined) continue;
      records.push({
        key: encodeConsumerGroupKey(CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT, id, m),
        value: encodeCurrentAssignmentValue({
          memberEpoch: member.memberEpoch,
          previousMemberEpoch: member.previousMemberEpoch,
          state: MEMBER_STATE_CODES[member.state],
          assigned: member.assigned,
          pendingRevocation: member.pendingRevocation,
        }),
      });
    }
    group.dirtyCurrent.clear();
    return records;
  }

  /** Tombstones that delete an (empty) group's own records; it turns Dead at once. */
  deleteGroupRecords(group: ConsumerGroup): CoordinatorRecord[] {
    const id = group.groupId;
    const records: CoordinatorRecord[] = [];
    for (const m of [...group.members.values()]) {
      this.removeMember(group, m);
    }
    records.push(...this.flush(group));
    records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, id), value: null });
    records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_PARTITION_METADATA, id), value: null });
    records.push({ key: encodeConsumerGroupKey(CONSUMER_GROUP_METADATA, id), value: null });
    group.dead = true;
    this.groups.delete(id);
    return records;
  }

  // ---------------------------------------------------------------------------------------------
  // Classic-protocol members of a consumer group (KIP-848 online migration): JoinGroup, SyncGroup,
  // Heartbeat and LeaveGroup as Kafka's classicGroup*ToConsumerGroup serve them.

  /**
   * JoinGroup from a classic member to a non-empty consumer group: the member's subscription
   * (its protocol metadata) is its consumer-group subscription, and it is reconciled towards its
   * target assignment at once; the answer (its member epoch as the generation) comes as soon as
   * the records are written, with no leader and no member list: SyncGroup then gives the assignment.
   */
  async classicJoin(p: JoinGroupParams): Promise<JoinGroupResult> {
    const outcome = this.classicJoinInMemory(p);
    if ('errorCode' in outcome) return outcome;
    const { group, member, result, downgraded } = outcome;
    if (downgraded !== null) {
      const err = await this.writeConversion(group.groupId, 'ClassicGroupJoinToConsumerGroup', downgraded);
      return err === E.NONE ? result : joinError(p.memberId, err);
    }
    this.maybeReportStable(group);
    // The timers start with the in-memory join, whether or not its write succeeds: a member whose
    // write failed and that never comes back is fenced rather than kept with its partitions.
    // Fenced unless it sends SyncGroup within its rebalance timeout.
    member.syncTimer?.cancel();
    member.syncTimer = this.host.schedule(p.rebalanceTimeoutMs, () => {
      member.syncTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.host.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'classic member did not sync within its rebalance timeout: fenced');
      this.fenceAndWrite(group, member, 'ConsumerGroupSyncTimeout');
    });
    this.scheduleSessionTimeout(group, member);
    const removed = [...group.removedMembers];
    const records = this.flush(group);
    if (records.length > 0) {
      const err = await this.host.write('ClassicGroupJoinToConsumerGroup', records);
      if (err !== E.NONE) {
        this.unwritten(group, removed, err);
        return joinError(p.memberId, err);
      }
    }
    return result;
  }

  private classicJoinInMemory(
    p: JoinGroupParams,
  ): JoinGroupResult | { group: ConsumerGroup; member: ConsumerGroupMember; result: JoinGroupResult; downgraded: CoordinatorRecord[] | null } {
    const group = this.get(p.groupId);
    if (group === undefined) return joinError(p.memberId, E.UNKNOWN_MEMBER_ID);
    const isUnknown = p.memberId === UNKNOWN_MEMBER_ID;
    const memberId = isUnknown ? randomUUID() : p.memberId;
    if (group.members.size >= this.cfg.groupConsumerMaxSize && (isUnknown || !group.members.has(memberId))) return joinError(p.memberId, E.GROUP_MAX_SIZE_REACHED);
    if (!this.supportsClassicProtocols(group, p.protocolType, p.protocols)) return joinError(p.memberId, E.INCONSISTENT_GROUP_PROTOCOL);
    // KIP-394: a new dynamic member first gets its member id.
    if (p.requireKnownMemberId && isUnknown && p.groupInstanceId === null) return joinError(memberId, E.MEMBER_ID_REQUIRED);
    const subscription = decodeSubscription(p.protocols[0].metadata);
    if (subscription === null) return joinError(p.memberId, E.INCONSISTENT_GROUP_PROTOCOL);
    const topics = p.topics ?? this.groupTopics(group);

    let member: ConsumerGroupMember;
    let isNew = false;
    let replacedMember: ConsumerGroupMember | null = null;
    if (p.groupInstanceId !== null) {
      const existing = group.staticMember(p.groupInstanceId);
      if (isUnknown) {
        if (existing === undefined) {
          member = new ConsumerGroupMember(memberId);
          isNew = true;
        } else {
          replacedMember = existing;
          member = this.replaceStaticMember(group, existing, memberId);
        }
      } else {
        if (existing === undefined) return joinError(p.memberId, E.UNKNOWN_MEMBER_ID);
        if (existing.memberId !== p.memberId) return joinError(p.memberId, E.FENCED_INSTANCE_ID);
        member = existing;
      }
    } else {
      const existing = group.members.get(memberId);
      if (existing === undefined) {
        member = new ConsumerGroupMember(memberId);
        isNew = true;
      } else {
        member = existing;
      }
    }
    member.joinTimer?.cancel();
    member.joinTimer = null;

    // 1. The member and its subscription.
    const before = { names: member.subscribedTopicNames, regex: member.subscribedTopicRegex, assignor: member.serverAssignor, clientId: member.clientId, clientHost: member.clientHost };
    if (p.groupInstanceId !== null) member.instanceId = p.groupInstanceId;
    if (subscription.rackId !== null) member.rackId = subscription.rackId;
    if (p.rebalanceTimeoutMs > 0) member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.serverAssignor = null;
    member.subscribedTopicNames = [...subscription.topics];
    member.subscribedTopicRegex = null;
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    const classicBefore = member.classic;
    member.classic = { sessionTimeoutMs: p.sessionTimeoutMs, supportedProtocols: p.protocols.map((x) => ({ name: x.name, metadata: x.metadata })) };
    const subscriptionChanged =
      isNew || !sameStrings(before.names, member.subscribedTopicNames) || before.regex !== member.subscribedTopicRegex || before.assignor !== member.serverAssignor;
    if (isNew) group.putMember(member);
    if (isNew || subscriptionChanged || !sameClassic(classicBefore, member.classic) || member.clientId !== before.clientId || member.clientHost !== before.clientHost) {
      group.dirtyMembers.add(member.memberId);
    }

    // 2. Subscribed topics as the metadata has them now; 3. a new target when the epoch moved.
    const metadata = this.subscriptionMetadata(group, topics);
    let bump = subscriptionChanged;
    if (!sameMetadata(metadata, group.subscriptionMetadata)) {
      group.subscriptionMetadata = metadata;
      group.dirtyPartitionMetadata = true;
      bump = true;
    }
    if (bump) {
      group.groupEpoch += 1;
      group.epochBumpedAt = this.host.clock.now();
      group.dirtyGroup = true;
      this.host.logger.info({ groupId: group.groupId, groupEpoch: group.groupEpoch, memberId: member.memberId }, 'bumped consumer group epoch (classic member joined)');
    }
    if (group.groupEpoch > group.assignmentEpoch) this.computeTargetAssignment(group, topics);

    // 4. Reconcile with what the member says it still owns (cooperative members; eager ones own nothing here).
    const owned: Assignment = new Map();
    for (const o of subscription.ownedPartitions) {
      const t = topics.byName(o.topic);
      if (t === undefined) continue;
      const set = owned.get(t.topicId) ?? new Set<number>();
      for (const x of o.partitions) set.add(x);
      owned.set(t.topicId, set);
    }
    this.reconcileMember(group, member, owned);
    // 5. The static member replaced the last consumer-protocol member: maybe back to a classic group
    // (Kafka's validateOnlineDowngradeWithReplacedMemberId).
    const downgraded = replacedMember !== null && this.canDowngradeAfterReplacement(group) ? this.downgrade(group, null) : null;
    const result: JoinGroupResult = {
      errorCode: E.NONE,
      generationId: member.memberEpoch,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: member.classic.supportedProtocols[0]?.name ?? null,
      leader: '',
      skipAssignment: false,
      memberId: member.memberId,
      members: [],
    };
    return { group, member, result, downgraded };
  }

  /** Every member (the new incarnation included) uses the classic protocol and the policy allows a downgrade. */
  private canDowngradeAfterReplacement(group: ConsumerGroup): boolean {
    for (const m of group.members.values()) if (m.classic === null) return false;
    if (!downgradeEnabled(this.cfg.groupConsumerMigrationPolicy)) return false;
    return group.members.size <= this.cfg.groupMaxSize;
  }

  /** Kafka's ConsumerGroup.supportsClassicProtocols: some protocol every classic member supports. */
  private supportsClassicProtocols(group: ConsumerGroup, protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (protocolType !== CONSUMER_PROTOCOL_TYPE || protocols.length === 0) return false;
    const classic = [...group.members.values()].filter((m) => m.classic !== null);
    if (classic.length === 0) return true;
    return protocols.some((p) => classic.every((m) => m.classic?.supportedProtocols.some((x) => x.name === p.name) === true));
  }

  /** The member a classic request names (by instance id when it has one), or its error code. */
  private classicMember(group: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerGroupMember | number {
    let member: ConsumerGroupMember | undefined;
    if (instanceId !== null) {
      member = group.staticMember(instanceId);
      if (member === undefined) return E.UNKNOWN_MEMBER_ID;
      if (member.memberId !== memberId) return E.FENCED_INSTANCE_ID;
    } else {
      member = group.members.get(memberId);
      if (member === undefined) return E.UNKNOWN_MEMBER_ID;
    }
    // A consumer-protocol member does not use these APIs.
    if (member.classic === null) return E.UNKNOWN_MEMBER_ID;
    return member;
  }

  /** Fenced unless it rejoins within its rebalance timeout (kept if already running). */
  private scheduleJoinTimeoutIfAbsent(group: ConsumerGroup, member: ConsumerGroupMember): void {
    if (member.joinTimer !== null) return;
    member.joinTimer = this.host.schedule(member.rebalanceTimeoutMs, () => {
      member.joinTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.host.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'classic member did not rejoin within its rebalance timeout: fenced');
      this.fenceAndWrite(group, member, 'ConsumerGroupJoinTimeout');
    });
  }

  /** SyncGroup from a classic member of a consumer group: its current assignment, no leader involved. */
  classicSync(p: SyncGroupParams): SyncGroupResult {
    const group = this.get(p.groupId);
    if (group === undefined) return syncError(E.UNKNOWN_MEMBER_ID);
    const member = this.classicMember(group, p.memberId, p.groupInstanceId);
    if (typeof member === 'number') return syncError(member);
    if (p.generationId !== member.memberEpoch) return syncError(E.ILLEGAL_GENERATION);
    const protocolName = member.classic?.supportedProtocols[0]?.name ?? null;
    if ((p.protocolType !== null && p.protocolType !== CONSUMER_PROTOCOL_TYPE) || (p.protocolName !== null && p.protocolName !== protocolName)) {
      return syncError(E.INCONSISTENT_GROUP_PROTOCOL);
    }
    // A newer group epoch: rejoin first, unless the member is still revoking (its next join follows).
    if (group.groupEpoch > member.memberEpoch && member.state !== 'UNREVOKED_PARTITIONS') {
      this.scheduleJoinTimeoutIfAbsent(group, member);
      return syncError(E.REBALANCE_IN_PROGRESS);
    }
    member.syncTimer?.cancel();
    member.syncTimer = null;
    this.scheduleSessionTimeout(group, member);
    const first = member.classic?.supportedProtocols[0];
    const version = first === undefined ? 0 : (decodeSubscription(first.metadata)?.version ?? 0);
    const assignment = encodeAssignmentVersion(byTopicName(member.assigned, this.nameResolver(group, p.topics)), version);
    return { errorCode: E.NONE, protocolType: p.protocolType ?? CONSUMER_PROTOCOL_TYPE, protocolName: p.protocolName ?? protocolName, assignment };
  }

  /**
   * Heartbeat from a classic member of a consumer group: REBALANCE_IN_PROGRESS when it must rejoin —
   * the group epoch moved past its own, it has partitions to revoke, or partitions it waits for were released.
   */
  classicHeartbeat(p: HeartbeatParams): number {
    const group = this.get(p.groupId);
    if (group === undefined) return E.UNKNOWN_MEMBER_ID;
    const member = this.classicMember(group, p.memberId, p.groupInstanceId);
    if (typeof member === 'number') return member;
    if (p.generationId !== member.memberEpoch) return E.ILLEGAL_GENERATION;
    this.scheduleSessionTimeout(group, member);
    if (
      member.memberEpoch < group.groupEpoch ||
      member.state === 'UNREVOKED_PARTITIONS' ||
      (member.state === 'UNRELEASED_PARTITIONS' && !this.waitingOnUnreleasedPartition(group, member))
    ) {
      this.scheduleJoinTimeoutIfAbsent(group, member);
      return E.REBALANCE_IN_PROGRESS;
    }
    return E.NONE;
  }

  /** Has the member partitions in its target that another member still owns? */
  private waitingOnUnreleasedPartition(group: ConsumerGroup, member: ConsumerGroupMember): boolean {
    const target = group.targetAssignment.get(member.memberId);
    if (target === undefined) return false;
    for (const [topicId, ps] of target) {
      const mine = member.assigned.get(topicId);
      for (const p of ps) if (mine?.has(p) !== true && group.currentPartitionEpoch(topicId, p) !== -1) return true;
    }
    return false;
  }

  /** LeaveGroup for classic members of a consumer group: they are removed and the group epoch moves on. */
  classicLeave(groupId: string, members: MemberIdentity[]): LeaveGroupResult {
    const group = this.get(groupId);
    if (group === undefined) return { errorCode: E.UNKNOWN_MEMBER_ID, members: [] };
    const results: LeaveGroupResult['members'] = [];
    let removed = 0;
    for (const identity of members) {
      let member: ConsumerGroupMember | undefined;
      if (identity.groupInstanceId !== null) {
        member = group.staticMember(identity.groupInstanceId);
        if (member === undefined) {
          results.push({ ...identity, errorCode: E.UNKNOWN_MEMBER_ID });
          continue;
        }
        // LeaveGroup may remove a static member by instance id alone (administrative removal).
        if (identity.memberId !== UNKNOWN_MEMBER_ID && identity.memberId !== member.memberId) {
          results.push({ ...identity, errorCode: E.FENCED_INSTANCE_ID });
          continue;
        }
      } else {
        member = group.members.get(identity.memberId);
      }
      if (member === undefined || member.classic === null) {
        results.push({ ...identity, errorCode: E.UNKNOWN_MEMBER_ID });
        continue;
      }
      this.host.logger.info({ groupId, memberId: member.memberId }, 'classic member left the consumer group');
      this.removeMember(group, member);
      removed++;
      results.push({ memberId: member.memberId, groupInstanceId: identity.groupInstanceId, errorCode: E.NONE });
    }
    if (removed > 0) void this.writeFlush(group, 'ClassicGroupLeaveToConsumerGroup');
    return { errorCode: E.NONE, members: results };
  }

  /** The group's own view of its topics, for callers that give none (tests). */
  private groupTopics(group: ConsumerGroup): TopicsView {
    return {
      names: () => [...group.subscriptionMetadata.keys()],
      byName: (name) => group.subscriptionMetadata.get(name),
      nameOf: (topicId) => this.nameResolver(group, null)(topicId),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Replay (at load) and timers

  /** Replays one consumer group record; returns the group id it touched. */
  replay(key: Buffer, value: Buffer | null): string {
    const k = decodeConsumerGroupKey(key);
    const now = this.host.clock.now();
    let group = this.groups.get(k.group);
    if (value === null) {
      if (group === undefined) return k.group;
      switch (k.type) {
        case CONSUMER_GROUP_METADATA:
          for (const m of group.members.values()) {
            m.sessionTimer?.cancel();
            m.rebalanceTimer?.cancel();
            m.joinTimer?.cancel();
            m.syncTimer?.cancel();
          }
          group.dead = true;
          this.groups.delete(k.group);
          break;
        case CONSUMER_GROUP_MEMBER_METADATA:
          group.removeMember(k.member, now);
          break;
        case CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER:
          group.targetAssignment.delete(k.member);
          break;
        case CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: {
          const m = group.members.get(k.member);
          if (m !== undefined) group.updateMemberAssignment(m, new Map(), new Map(), m.memberEpoch);
          break;
        }
        default:
          break;
      }
      return k.group;
    }
    if (group === undefined) {
      group = new ConsumerGroup(k.group, now);
      this.groups.set(k.group, group);
    }
    const memberOf = (id: string): ConsumerGroupMember => {
      let m = group.members.get(id);
      if (m === undefined) {
        m = new ConsumerGroupMember(id);
        group.putMember(m);
      }
      return m;
    };
    switch (k.type) {
      case CONSUMER_GROUP_METADATA:
        group.groupEpoch = decodeEpochValue(value);
        break;
      case CONSUMER_GROUP_PARTITION_METADATA:
        group.subscriptionMetadata = new Map(decodePartitionMetadataValue(value).map((t) => [t.name, t]));
        break;
      case CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA:
        group.assignmentEpoch = decodeEpochValue(value);
        break;
      case CONSUMER_GROUP_MEMBER_METADATA: {
        const v = decodeMemberMetadataValue(value);
        const m = memberOf(k.member);
        if (m.instanceId !== null && group.staticMembers.get(m.instanceId) === m.memberId) group.staticMembers.delete(m.instanceId);
        m.instanceId = v.instanceId;
        if (v.instanceId !== null) group.staticMembers.set(v.instanceId, m.memberId);
        m.rackId = v.rackId;
        m.clientId = v.clientId;
        m.clientHost = v.clientHost;
        m.subscribedTopicNames = v.subscribedTopicNames;
        m.subscribedTopicRegex = v.subscribedTopicRegex;
        m.rebalanceTimeoutMs = v.rebalanceTimeoutMs;
        m.serverAssignor = v.serverAssignor;
        m.classic = v.classicMemberMetadata ?? null;
        break;
      }
      case CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER:
        group.targetAssignment.set(k.member, decodeTargetAssignmentMemberValue(value));
        break;
      case CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: {
        const v = decodeCurrentAssignmentValue(value);
        const m = memberOf(k.member);
        m.memberEpoch = v.previousMemberEpoch;
        group.updateMemberAssignment(m, v.assigned, v.pendingRevocation, v.memberEpoch);
        m.previousMemberEpoch = v.previousMemberEpoch;
        m.state = MEMBER_STATE_BY_CODE.get(v.state) ?? 'STABLE';
        break;
      }
      default:
        break;
    }
    return k.group;
  }

  /** After load: every member gets a full session to find this coordinator. */
  onLoaded(): void {
    for (const group of this.groups.values()) for (const m of group.members.values()) this.scheduleSessionTimeout(group, m);
  }

  onUnloaded(): void {
    for (const group of this.groups.values()) {
      for (const m of group.members.values()) {
        m.sessionTimer?.cancel();
        m.sessionTimer = null;
        m.rebalanceTimer?.cancel();
        m.rebalanceTimer = null;
        m.joinTimer?.cancel();
        m.joinTimer = null;
        m.syncTimer?.cancel();
        m.syncTimer = null;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets and administration

  /** OffsetCommit / TxnOffsetCommit validation for a consumer group (Kafka's validateOffsetCommit). */
  validateOffsetCommit(group: ConsumerGroup, memberId: string, memberEpoch: number, apiVersion: number | undefined, transactional: boolean): number {
    // Epoch -1: the admin client or a consumer without group management; only an empty group.
    if (memberEpoch < 0 && group.members.size === 0) return E.NONE;
    const member = group.members.get(memberId);
    if (member === undefined) return E.UNKNOWN_MEMBER_ID;
    // A classic member commits with its generation (its member epoch) at any version.
    if (member.classic !== null) return memberEpoch === member.memberEpoch ? E.NONE : E.ILLEGAL_GENERATION;
    if (!transactional && apiVersion !== undefined && apiVersion < 9) return E.UNSUPPORTED_VERSION;
    return memberEpoch === member.memberEpoch ? E.NONE : E.STALE_MEMBER_EPOCH;
  }

  /** OffsetFetch v9+ with a member: it must be the member's current epoch. */
  validateOffsetFetch(group: ConsumerGroup, memberId: string | null, memberEpoch: number): number {
    // Only "no member" (null id and a negative epoch: the admin client, or a client that gives
    // none) skips the checks, as Kafka's ConsumerGroup.validateOffsetFetch.
    if (memberId === null && memberEpoch < 0) return E.NONE;
    if (memberId === null) return E.UNKNOWN_MEMBER_ID;
    const member = group.members.get(memberId);
    if (member === undefined) return E.UNKNOWN_MEMBER_ID;
    if (memberEpoch === member.memberEpoch) return E.NONE;
    return member.classic !== null ? E.ILLEGAL_GENERATION : E.STALE_MEMBER_EPOCH;
  }

  /** Topics the group's members subscribe to (for offset expiry and OffsetDelete). */
  subscribedTopics(group: ConsumerGroup): Set<string> {
    return new Set(group.subscriptionMetadata.keys());
  }

  describe(groupId: string, topics: TopicsView, classic: boolean): DescribedConsumerGroup {
    const group = this.get(groupId);
    const empty = { groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] };
    if (group === undefined) {
      return classic
        ? { errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a consumer group.`, groupId, ...empty }
        : { errorCode: E.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.`, groupId, ...empty };
    }
    const nameOf = (topicId: string): string => {
      for (const t of group.subscriptionMetadata.values()) if (t.topicId === topicId) return t.name;
      return topics.nameOf(topicId) ?? '';
    };
    const describeAssignment = (a: Assignment) => ({
      topicPartitions: fromAssignment(a).map((x) => ({ topicId: x.topicId, topicName: nameOf(x.topicId), partitions: x.partitions })),
    });
    return {
      errorCode: E.NONE,
      errorMessage: null,
      groupId,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: group.preferredAssignor(this.cfg.consumerAssignors[0] ?? 'uniform'),
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: describeAssignment(m.assigned),
        targetAssignment: describeAssignment(group.targetAssignment.get(m.memberId) ?? new Map<string, Set<number>>()),
        // ConsumerGroupDescribe v1: 0 classic, 1 consumer.
        memberType: m.classic !== null ? 0 : 1,
      })),
    };
  }
}
