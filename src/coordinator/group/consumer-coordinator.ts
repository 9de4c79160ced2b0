// coordinator/group room: the KIP-848 consumer groups of one __consumer_offsets partition —
// ConsumerGroupHeartbeat (join, heartbeat, reconcile, leave), session and rebalance timeouts,
// target assignment by the server-side assignors, ConsumerGroupDescribe, and the records of
// consumer-group-records.ts. As for classic groups, the state changes in memory and its records
// are written (not replayed); replay happens at load. Owned by GroupCoordinatorShard.
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
import { encodeAssignment } from './consumer-protocol.js';
import type { Clock, GroupCoordinatorConfig, GroupLogger } from './ports.js';
import type { StableGeneration } from './requests.js';

/** The topics a heartbeat resolves subscriptions against (the broker's metadata, internal topics left out). */
export interface TopicsView {
  names(): readonly string[];
  byName(name: string): { topicId: string; numPartitions: number } | undefined;
  nameOf(topicId: string): string | undefined;
}

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
  /** Removes an empty classic group being converted; returns the records that delete it. */
  convertClassicGroup(groupId: string): CoordinatorRecord[];
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

function sameMetadata(a: ReadonlyMap<string, SubscribedTopic>, b: ReadonlyMap<string, SubscribedTopic>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, t] of a) {
    const o = b.get(name);
    if (o?.topicId !== t.topicId || o.numPartitions !== t.numPartitions) return false;
  }
  return true;
}

const MEMBER_STATE_BY_CODE = new Map<number, MemberState>(Object.entries(MEMBER_STATE_CODES).map(([k, v]) => [v, k as MemberState]));

export class ConsumerGroupManager {
  readonly groups = new Map<string, ConsumerGroup>();

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
    if (outcome.group === null || outcome.result.errorCode !== E.NONE) {
      if (outcome.records.length > 0) await this.host.write('ConsumerGroupHeartbeat', outcome.records);
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
    this.host.logger.warn({ groupId: group.groupId, errorCode: err }, 'writing consumer group records failed; the group is written again on its next change');
  }

  private heartbeatInMemory(p: ConsumerHeartbeatParams): { group: ConsumerGroup | null; records: CoordinatorRecord[]; result: ConsumerHeartbeatResult } {
    const fail = (code: number, message: string | null, group: ConsumerGroup | null = null) => ({ group, records: [], result: errorResult(code, message) });
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
        // Online upgrade of a classic group with members is not supported: Kafka's answer when
        // group.consumer.migration.policy forbids it.
        return fail(E.GROUP_ID_NOT_FOUND, `Group ${p.groupId} is not a consumer group.`);
      }
      if (classic === 'empty') {
        records.push(...this.host.convertClassicGroup(p.groupId));
        this.host.logger.info({ groupId: p.groupId }, 'converted an empty classic group to a consumer group');
      }
      group = new ConsumerGroup(p.groupId, now);
      group.dirtyGroup = true;
      this.groups.set(p.groupId, group);
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
        if (existingStatic.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
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
      heartbeatIntervalMs: this.cfg.groupConsumerHeartbeatIntervalMs,
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
    this.removeMember(group, member);
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
    member.state = old.state === 'UNREVOKED_PARTITIONS' ? 'UNREVOKED_PARTITIONS' : 'STABLE';
    member.assigned = old.assigned;
    member.pendingRevocation = old.pendingRevocation;
    member.memberEpoch = 0;
    member.previousMemberEpoch = 0;
    const target = group.targetAssignment.get(old.memberId);
    old.sessionTimer?.cancel();
    old.rebalanceTimer?.cancel();
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
    const names = topics.names();
    const regexes = this.regexes(group);
    const out = new Map<string, SubscribedTopic>();
    for (const name of [...group.subscribedTopicNames(names, regexes)].sort()) {
      const t = topics.byName(name);
      if (t !== undefined) out.set(name, { topicId: t.topicId, name, numPartitions: t.numPartitions });
    }
    return out;
  }

  private regexes(group: ConsumerGroup): Map<string, TopicRegex | null> {
    const out = new Map<string, TopicRegex | null>();
    for (const m of group.members.values()) {
      const r = m.subscribedTopicRegex;
      if (r === null || out.has(r)) continue;
      try {
        out.set(r, compileTopicRegex(r));
      } catch {
        out.set(r, null);
      }
    }
    return out;
  }

  private computeTargetAssignment(group: ConsumerGroup, topics: TopicsView | null): void {
    const names = topics?.names() ?? [...group.subscriptionMetadata.keys()];
    const regexes = this.regexes(group);
    const members: AssignorMember[] = [...group.members.values()].map((m) => {
      const re = m.subscribedTopicRegex === null ? null : (regexes.get(m.subscribedTopicRegex) ?? null);
      return { memberId: m.memberId, topics: m.subscribedTopics(names, re), current: group.targetAssignment.get(m.memberId) ?? new Map<string, Set<number>>() };
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
        this.removeMember(group, member);
        void this.writeFlush(group, 'ConsumerGroupRebalanceTimeout');
      });
    } else {
      member.rebalanceTimer?.cancel();
      member.rebalanceTimer = null;
    }
  }

  private scheduleSessionTimeout(group: ConsumerGroup, member: ConsumerGroupMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = this.host.schedule(this.cfg.groupConsumerSessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.host.logger.info({ groupId: group.groupId, memberId: member.memberId, sessionTimeoutMs: this.cfg.groupConsumerSessionTimeoutMs }, 'consumer group member session expired');
      this.removeMember(group, member);
      void this.writeFlush(group, 'ConsumerGroupSessionTimeout');
    });
  }

  /** Fences or removes a member: its partitions become free and the group epoch moves on. */
  private removeMember(group: ConsumerGroup, member: ConsumerGroupMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = null;
    member.rebalanceTimer?.cancel();
    member.rebalanceTimer = null;
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
    return memberEpoch === member.memberEpoch ? E.NONE : E.STALE_MEMBER_EPOCH;
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
        memberType: 1,
      })),
    };
  }
}
