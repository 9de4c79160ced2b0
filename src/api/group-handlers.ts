// api/ room: consumer-group API handlers (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups, ListGroups, DeleteGroups).
// They translate decoded request bodies (field names = Kafka's JSON names in lowerCamelCase) into
// GroupCoordinator calls and back, for every version; version differences are handled here.
import { brokerEndpoint } from '../cluster/index.js';
import type { FetchedOffsets, TopicsView } from '../coordinator/group/index.js';
import { ErrorCode as GroupErrorCode, errorName } from '../errors.js';
import { ApiKey, type RequestFor, type ResponseFor } from '../protocol/index.js';
import { errorResponse } from './errors.js';
import { autoCreateTopic } from './metadata.js';
import { findShareCoordinator, listShareGroups, shareGroupDescribeGroupsMessage } from './share-groups.js';
import type { ApiServices } from './services.js';
import { topicDescribeAccess } from './topic-access.js';
import { defineApi, type ApiRegistration, type RequestContext } from './types.js';


/** FindCoordinator key types. */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
const KEY_TYPE_SHARE = 2;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const CONSUMER_OFFSETS = '__consumer_offsets';
const TRANSACTION_STATE = '__transaction_state';
/** How long FindCoordinator waits for a just-created __consumer_offsets partition to load. */
const COORDINATOR_LOAD_WAIT_MS = 5000;
/** DescribeGroups authorizedOperations when not requested (Integer.MIN_VALUE). */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** READ (3), DELETE (6), DESCRIBE (8): what a group allows, without ACLs. */
const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/** Kafka reports a member's host as "/address", without the port. */
function kafkaClientHost(remote: string): string {
  const idx = remote.lastIndexOf(':');
  const address = idx > 0 ? remote.slice(0, idx) : remote;
  return address.startsWith('/') ? address : `/${address}`;
}

// ---------------------------------------------------------------------------------------------
// Request and response shapes come from protocol/messages (Kafka's JSON field names).

type FindCoordinatorRequest = RequestFor<typeof ApiKey.FindCoordinator>;
type FindCoordinatorResponse = ResponseFor<typeof ApiKey.FindCoordinator>;
type JoinGroupRequest = RequestFor<typeof ApiKey.JoinGroup>;
type JoinGroupResponse = ResponseFor<typeof ApiKey.JoinGroup>;
type SyncGroupRequest = RequestFor<typeof ApiKey.SyncGroup>;
type SyncGroupResponse = ResponseFor<typeof ApiKey.SyncGroup>;
type HeartbeatRequest = RequestFor<typeof ApiKey.Heartbeat>;
type HeartbeatResponse = ResponseFor<typeof ApiKey.Heartbeat>;
type LeaveGroupRequest = RequestFor<typeof ApiKey.LeaveGroup>;
type LeaveGroupResponse = ResponseFor<typeof ApiKey.LeaveGroup>;
type OffsetCommitRequest = RequestFor<typeof ApiKey.OffsetCommit>;
type OffsetCommitResponse = ResponseFor<typeof ApiKey.OffsetCommit>;
type OffsetFetchRequest = RequestFor<typeof ApiKey.OffsetFetch>;
type OffsetFetchResponse = ResponseFor<typeof ApiKey.OffsetFetch>;
interface OffsetFetchTopic { name: string; partitionIndexes: number[] }
type FetchedTopics = FetchedOffsets['topics'];
type OffsetDeleteRequest = RequestFor<typeof ApiKey.OffsetDelete>;
type OffsetDeleteResponse = ResponseFor<typeof ApiKey.OffsetDelete>;
type DescribeGroupsRequest = RequestFor<typeof ApiKey.DescribeGroups>;
type DescribeGroupsResponse = ResponseFor<typeof ApiKey.DescribeGroups>;
type ListGroupsRequest = RequestFor<typeof ApiKey.ListGroups>;
type ListGroupsResponse = ResponseFor<typeof ApiKey.ListGroups>;
type DeleteGroupsRequest = RequestFor<typeof ApiKey.DeleteGroups>;
type DeleteGroupsResponse = ResponseFor<typeof ApiKey.DeleteGroups>;
type ConsumerGroupHeartbeatRequest = RequestFor<typeof ApiKey.ConsumerGroupHeartbeat>;
type ConsumerGroupHeartbeatResponse = ResponseFor<typeof ApiKey.ConsumerGroupHeartbeat>;
type ConsumerGroupDescribeRequest = RequestFor<typeof ApiKey.ConsumerGroupDescribe>;
type ConsumerGroupDescribeResponse = ResponseFor<typeof ApiKey.ConsumerGroupDescribe>;

/** One FindCoordinator answer (v4+ per key; v0-3 flattened into the response). */
interface Coordinator {
  key: string;
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

// ---------------------------------------------------------------------------------------------
// Handlers

async function handleFindCoordinator(req: FindCoordinatorRequest, ctx: RequestContext): Promise<FindCoordinatorResponse> {
  const services = ctx.services;
  const keyType = req.keyType;
  const lookup = async (key: string): Promise<Coordinator> => {
    const miss = (errorCode: number, errorMessage: string | null): Coordinator => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage });
    if (keyType === KEY_TYPE_SHARE) return findShareCoordinator(ctx, key);
    if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) return miss(GroupErrorCode.INVALID_REQUEST, `unknown key type ${keyType}`);
    // A group's coordinator leads its __consumer_offsets partition; a transactional id's, its
    // __transaction_state partition. The first lookup creates the topic (as Kafka).
    const isTxn = keyType === KEY_TYPE_TRANSACTION;
    const coordinator = isTxn ? services.txnCoordinator : services.groupCoordinator;
    const internalTopic = isTxn ? TRANSACTION_STATE : CONSUMER_OFFSETS;
    if (key.length === 0 && isTxn) return miss(GroupErrorCode.INVALID_REQUEST, 'empty transactional id');
    if (services.metadata.topic(internalTopic) === undefined) {
      try {
        await autoCreateTopic(services, internalTopic);
      } catch (err) {
        return miss(GroupErrorCode.COORDINATOR_NOT_AVAILABLE, errorResponse(ctx, err, `creating ${internalTopic}`, {}).message);
      }
    }
    const partition = coordinator.partitionFor(key);
    await coordinator.awaitLoaded(partition, COORDINATOR_LOAD_WAIT_MS);
    const state = services.metadata.partition(internalTopic, partition);
    const leader = state === undefined ? undefined : services.metadata.brokers().find((b) => b.nodeId === state.leader);
    if (leader === undefined) return miss(GroupErrorCode.COORDINATOR_NOT_AVAILABLE, null);
    // Led here but the shard is not loaded yet (the partition is still being opened or replayed):
    // COORDINATOR_NOT_AVAILABLE is the answer every client retries.
    if (leader.nodeId === services.nodeId && coordinator.coordinatorErrorFor(key) !== GroupErrorCode.NONE) {
      return miss(GroupErrorCode.COORDINATOR_NOT_AVAILABLE, null);
    }
    // The coordinator's address on the listener this request arrived on.
    const at = brokerEndpoint(leader, ctx.security.listenerName);
    if (at === null) return miss(GroupErrorCode.COORDINATOR_NOT_AVAILABLE, null);
    return { key, nodeId: leader.nodeId, host: at.host, port: at.port, errorCode: GroupErrorCode.NONE, errorMessage: null };
  };
  if (ctx.apiVersion >= 4) {
    const coordinators = await Promise.all(req.coordinatorKeys.map(lookup));
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators };
  }
  const c = await lookup(req.key);
  return { throttleTimeMs: 0, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port, coordinators: [] };
}

async function handleJoinGroup(req: JoinGroupRequest, ctx: RequestContext): Promise<JoinGroupResponse> {
  const coordinator = ctx.services.groupCoordinator;
  const r = await coordinator.joinGroup({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 5 ? (req.groupInstanceId ?? null) : null,
    sessionTimeoutMs: req.sessionTimeoutMs,
    // v0 has no rebalance timeout: Kafka uses the session timeout for both.
    rebalanceTimeoutMs: ctx.apiVersion === 0 || req.rebalanceTimeoutMs <= 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols,
    clientId: ctx.clientId ?? '',
    clientHost: kafkaClientHost(ctx.clientHost),
    requireKnownMemberId: ctx.apiVersion >= 4,
    supportSkipAssignment: ctx.apiVersion >= 9,
    reason: req.reason ?? null,
    topics: topicsView(ctx.services),
  });
  const nullable = ctx.apiVersion >= 7;
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    // Before v7 protocolName is not nullable.
    protocolName: nullable ? r.protocolName : (r.protocolName ?? ''),
    leader: r.leader,
    skipAssignment: r.skipAssignment,
    memberId: r.memberId,
    members: r.members,
  };
}

async function handleSyncGroup(req: SyncGroupRequest, ctx: RequestContext): Promise<SyncGroupResponse> {
  const coordinator = ctx.services.groupCoordinator;
  const r = await coordinator.syncGroup({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 3 ? (req.groupInstanceId ?? null) : null,
    protocolType: ctx.apiVersion >= 5 ? (req.protocolType ?? null) : null,
    protocolName: ctx.apiVersion >= 5 ? (req.protocolName ?? null) : null,
    assignments: req.assignments,
    topics: topicsView(ctx.services),
  });
  return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
}

function handleHeartbeat(req: HeartbeatRequest, ctx: RequestContext): HeartbeatResponse {
  const coordinator = ctx.services.groupCoordinator;
  const errorCode = coordinator.heartbeat({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 3 ? (req.groupInstanceId ?? null) : null,
  });
  return { throttleTimeMs: 0, errorCode };
}

function handleLeaveGroup(req: LeaveGroupRequest, ctx: RequestContext): LeaveGroupResponse {
  const coordinator = ctx.services.groupCoordinator;
  if (ctx.apiVersion < 3) {
    const r = coordinator.leaveGroup(req.groupId, [{ memberId: req.memberId, groupInstanceId: null }]);
    const errorCode = r.errorCode !== GroupErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? GroupErrorCode.NONE);
    return { throttleTimeMs: 0, errorCode, members: [] };
  }
  const members = req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }));
  const r = coordinator.leaveGroup(req.groupId, members);
  return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
}

/** Kafka refuses commits for partitions that do not exist with UNKNOWN_TOPIC_OR_PARTITION. */
function partitionExists(services: ApiServices, topic: string, partition: number): boolean {
  return services.metadata.partition(topic, partition) !== undefined;
}

async function handleOffsetCommit(req: OffsetCommitRequest, ctx: RequestContext): Promise<OffsetCommitResponse> {
  const coordinator = ctx.services.groupCoordinator;
  const unknown: OffsetCommitResponse['topics'] = [];
  const known: OffsetCommitRequest['topics'] = [];
  for (const t of req.topics) {
    const missing = t.partitions.filter((p) => !partitionExists(ctx.services, t.name, p.partitionIndex));
    if (missing.length > 0) {
      unknown.push({ name: t.name, partitions: missing.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: UNKNOWN_TOPIC_OR_PARTITION })) });
    }
    const present = t.partitions.filter((p) => partitionExists(ctx.services, t.name, p.partitionIndex));
    if (present.length > 0) known.push({ ...t, partitions: present });
  }
  const committed = await coordinator.commitOffsets({
    groupId: req.groupId,
    generationId: req.generationIdOrMemberEpoch,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 7 ? (req.groupInstanceId ?? null) : null,
    retentionTimeMs: ctx.apiVersion <= 4 ? req.retentionTimeMs : -1,
    apiVersion: ctx.apiVersion,
    topics: known.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        committedOffset: p.committedOffset,
        committedLeaderEpoch: ctx.apiVersion >= 6 ? p.committedLeaderEpoch : -1,
        committedMetadata: p.committedMetadata,
      })),
    })),
  });
  return { throttleTimeMs: 0, topics: [...committed, ...unknown] };
}

/** Before OffsetFetch v2 there is no top-level error code: a group error goes on every partition. */
function withPartitionErrors(topics: OffsetFetchTopic[] | null, errorCode: number): FetchedTopics {
  return (topics ?? []).map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode })),
  }));
}

function handleOffsetFetch(req: OffsetFetchRequest, ctx: RequestContext): OffsetFetchResponse {
  const coordinator = ctx.services.groupCoordinator;
  // require_stable (v7+): a partition with an offset commit in an open transaction answers UNSTABLE_OFFSET_COMMIT.
  const requireStable = ctx.apiVersion >= 7 && req.requireStable;
  if (ctx.apiVersion >= 8) {
    const groups = req.groups.map((g) => {
      // v9+: a consumer group member names itself and its epoch (STALE_MEMBER_EPOCH when behind).
      const member = ctx.apiVersion >= 9 ? { memberId: g.memberId, memberEpoch: g.memberEpoch } : undefined;
      const r = coordinator.fetchOffsets(g.groupId, g.topics, requireStable, member);
      return { groupId: g.groupId, topics: r.topics, errorCode: r.errorCode };
    });
    return { throttleTimeMs: 0, topics: [], errorCode: 0, groups };
  }
  const topics = ctx.apiVersion >= 2 ? (req.topics ?? null) : (req.topics ?? []);
  const r = coordinator.fetchOffsets(req.groupId, topics, requireStable);
  if (r.errorCode !== GroupErrorCode.NONE && ctx.apiVersion < 2) {
    return { throttleTimeMs: 0, topics: withPartitionErrors(topics, r.errorCode), errorCode: r.errorCode, groups: [] };
  }
  return { throttleTimeMs: 0, topics: r.topics, errorCode: r.errorCode, groups: [] };
}

async function handleOffsetDelete(req: OffsetDeleteRequest, ctx: RequestContext): Promise<OffsetDeleteResponse> {
  const coordinator = ctx.services.groupCoordinator;
  const r = await coordinator.deleteOffsets(req.groupId, req.topics);
  return { errorCode: r.errorCode, throttleTimeMs: 0, topics: r.topics };
}

function handleDescribeGroups(req: DescribeGroupsRequest, ctx: RequestContext): DescribeGroupsResponse {
  const coordinator = ctx.services.groupCoordinator;
  const authorizedOperations = req.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
  return {
    throttleTimeMs: 0,
    groups: coordinator.describeGroups(req.groups).map((g) => {
      // Kafka 4.4 (GroupMetadataManager.describeGroups): a group that is not a classic group, or
      // does not exist, is GROUP_ID_NOT_FOUND from v6 on ("Group <id> is not a classic group." /
      // "Group <id> not found."); before v6 it is described as Dead with no error.
      const unknown = g.errorCode === GroupErrorCode.NONE && g.groupState === 'Dead';
      if (g.errorCode !== GroupErrorCode.GROUP_ID_NOT_FOUND && !unknown) return { ...g, errorMessage: g.errorMessage ?? null, authorizedOperations };
      const dead = { groupId: g.groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [], authorizedOperations };
      if (ctx.apiVersion < 6) return { ...dead, errorCode: GroupErrorCode.NONE, errorMessage: null };
      const message = shareGroupDescribeGroupsMessage(ctx.services, g.groupId) ?? (unknown ? `Group ${g.groupId} not found.` : (g.errorMessage ?? `Group ${g.groupId} is not a classic group.`));
      return { ...dead, errorCode: GroupErrorCode.GROUP_ID_NOT_FOUND, errorMessage: message };
    }),
  };
}

function handleListGroups(req: ListGroupsRequest, ctx: RequestContext): ListGroupsResponse {
  const coordinator = ctx.services.groupCoordinator;
  const types = new Set(req.typesFilter.map((t) => t.toLowerCase()));
  const r = coordinator.listGroups(req.statesFilter);
  const groups = [...r.groups.map((g) => ({ ...g, groupType: g.groupType ?? 'classic' })), ...listShareGroups(ctx.services, req.statesFilter)];
  return { throttleTimeMs: 0, errorCode: r.errorCode, groups: groups.filter((g) => types.size === 0 || types.has(g.groupType)) };
}

/** DeleteGroups v3's per-group cause (Kafka's wording for the errors a deletion returns). */
const deleteGroupsMessages: Readonly<Record<number, string>> = {
  [GroupErrorCode.NON_EMPTY_GROUP]: 'The group is not empty.',
  [GroupErrorCode.GROUP_ID_NOT_FOUND]: 'The group id does not exist.',
  [GroupErrorCode.INVALID_GROUP_ID]: 'The configured groupId is invalid.',
  [GroupErrorCode.NOT_COORDINATOR]: 'This is not the correct coordinator.',
  [GroupErrorCode.COORDINATOR_NOT_AVAILABLE]: 'The coordinator is not available.',
  [GroupErrorCode.COORDINATOR_LOAD_IN_PROGRESS]: "The coordinator is loading and hence can't process requests.",
};

async function handleDeleteGroups(req: DeleteGroupsRequest, ctx: RequestContext): Promise<DeleteGroupsResponse> {
  const coordinator = ctx.services.groupCoordinator;
  const results = await coordinator.deleteGroups(req.groupsNames);
  return {
    throttleTimeMs: 0,
    results: results.map((r) => ({
      ...r,
      errorMessage: r.errorCode === GroupErrorCode.NONE ? null : (deleteGroupsMessages[r.errorCode] ?? errorName(r.errorCode)),
    })),
  };
}

/**
 * group.coordinator.rebalance.protocols includes "consumer". Kafka 4.4 keeps advertising
 * ConsumerGroupHeartbeat and ConsumerGroupDescribe in ApiVersions either way (only the telemetry
 * APIs are left out when unused); their handlers answer UNSUPPORTED_VERSION instead.
 */
function consumerProtocolEnabled(services: ApiServices): boolean {
  return services.config.getList('group.coordinator.rebalance.protocols').includes('consumer');
}

/** The broker's topics as KIP-848 subscriptions see them: internal topics left out. */
function topicsView(services: ApiServices): TopicsView {
  let names: string[] | null = null;
  return {
    names: () => (names ??= services.metadata.topics().filter((t) => !t.internal).map((t) => t.name)),
    byName: (name) => {
      const t = services.metadata.topic(name);
      return t === undefined || t.internal ? undefined : { topicId: t.topicId, numPartitions: t.partitions.length };
    },
    nameOf: (topicId) => services.metadata.topicById(topicId)?.name,
    // Every topic creation, deletion or change is a new metadata version.
    version: () => services.metadata.version,
  };
}

async function handleConsumerGroupHeartbeat(req: ConsumerGroupHeartbeatRequest, ctx: RequestContext): Promise<ConsumerGroupHeartbeatResponse> {
  if (req.groupId.length > 0 && ctx.services.share.groups.hasGroup(req.groupId)) {
    // A share group of this id exists: Kafka does not turn it into a consumer group.
    return { throttleTimeMs: 0, errorCode: GroupErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${req.groupId} is not a consumer group.`, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
  }
  const r = await ctx.services.groupCoordinator.consumerGroupHeartbeat({
    groupId: req.groupId,
    memberId: req.memberId,
    memberEpoch: req.memberEpoch,
    instanceId: req.instanceId,
    rackId: req.rackId,
    rebalanceTimeoutMs: req.rebalanceTimeoutMs,
    subscribedTopicNames: req.subscribedTopicNames,
    subscribedTopicRegex: ctx.apiVersion >= 1 ? req.subscribedTopicRegex : null,
    serverAssignor: req.serverAssignor,
    topicPartitions: req.topicPartitions,
    clientId: ctx.clientId ?? '',
    clientHost: kafkaClientHost(ctx.clientHost),
    topics: topicsView(ctx.services),
    canDescribe: topicDescribeAccess(ctx),
  });
  return { throttleTimeMs: 0, ...r };
}

function handleConsumerGroupDescribe(req: ConsumerGroupDescribeRequest, ctx: RequestContext): ConsumerGroupDescribeResponse {
  const authorizedOperations = req.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
  if (!consumerProtocolEnabled(ctx.services)) {
    // As Kafka 4.4's KafkaApis: the API stays advertised, every group answers UNSUPPORTED_VERSION.
    return {
      throttleTimeMs: 0,
      groups: req.groupIds.map((groupId) => ({
        errorCode: GroupErrorCode.UNSUPPORTED_VERSION,
        errorMessage: null,
        groupId,
        groupState: '',
        groupEpoch: 0,
        assignmentEpoch: 0,
        assignorName: '',
        members: [],
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      })),
    };
  }
  const groups = ctx.services.groupCoordinator.describeConsumerGroups(req.groupIds, topicsView(ctx.services));
  return { throttleTimeMs: 0, groups: groups.map((g) => ({ ...g, authorizedOperations })) };
}

export const groupApis: ApiRegistration[] = [
  defineApi({ apiKey: ApiKey.FindCoordinator, handler: handleFindCoordinator }),
  defineApi({ apiKey: ApiKey.JoinGroup, handler: handleJoinGroup }),
  defineApi({ apiKey: ApiKey.SyncGroup, handler: handleSyncGroup }),
  defineApi({ apiKey: ApiKey.Heartbeat, handler: handleHeartbeat }),
  defineApi({ apiKey: ApiKey.LeaveGroup, handler: handleLeaveGroup }),
  defineApi({ apiKey: ApiKey.OffsetCommit, handler: handleOffsetCommit }),
  defineApi({ apiKey: ApiKey.OffsetFetch, handler: handleOffsetFetch }),
  defineApi({ apiKey: ApiKey.OffsetDelete, handler: handleOffsetDelete }),
  defineApi({ apiKey: ApiKey.DescribeGroups, handler: handleDescribeGroups }),
  defineApi({ apiKey: ApiKey.ListGroups, handler: handleListGroups }),
  defineApi({ apiKey: ApiKey.DeleteGroups, handler: handleDeleteGroups }),
  defineApi({ apiKey: ApiKey.ConsumerGroupHeartbeat, handler: handleConsumerGroupHeartbeat }),
  defineApi({ apiKey: ApiKey.ConsumerGroupDescribe, handler: handleConsumerGroupDescribe }),
];
