// api/ room: consumer-group API handlers (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups, ListGroups, DeleteGroups).
// They translate decoded request bodies (field names = Kafka's JSON names in lowerCamelCase) into
// GroupCoordinator calls and back, for every version; version differences are handled here.
import type { Broker } from '../broker.js';
import {
  GroupCoordinator,
  GroupErrorCode,
  LogManagerOffsetsLog,
  groupConfigFromKafkaSettings,
  systemClock,
  type FetchedOffsets,
} from '../coordinator/group/index.js';
import { ApiKey, type RequestFor, type ResponseFor } from '../protocol/index.js';
import type { Handler, HandlerTable, RequestContext } from './types.js';


/** FindCoordinator key types. */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
/** DescribeGroups authorizedOperations when not requested (Integer.MIN_VALUE). */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** READ (3), DELETE (6), DESCRIBE (8): what a group allows, without ACLs. */
const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

// ---------------------------------------------------------------------------------------------
// One coordinator per broker, loaded from __consumer_offsets once.

const coordinators = new WeakMap<Broker, Promise<GroupCoordinator>>();

/**
 * The broker's group coordinator, created and loaded on first use. Broker.start() may call this
 * to load groups eagerly; handlers call it too, so the first group request waits for the load.
 */
export function groupCoordinatorFor(broker: Broker): Promise<GroupCoordinator> {
  let pending = coordinators.get(broker);
  if (pending === undefined) {
    pending = openGroupCoordinator(broker);
    coordinators.set(broker, pending);
    pending.catch(() => coordinators.delete(broker));
  }
  return pending;
}

async function openGroupCoordinator(broker: Broker): Promise<GroupCoordinator> {
  const config = groupConfigFromKafkaSettings((name) => (broker.config.has(name) ? broker.config.get(name) : undefined));
  const log = await LogManagerOffsetsLog.open(broker.logManager, broker.config.getNumber('offsets.topic.num.partitions'), {
    'segment.bytes': String(broker.config.getNumber('offsets.topic.segment.bytes')),
  });
  const coordinator = new GroupCoordinator({ log, clock: systemClock, logger: broker.logger.child({ room: 'group-coordinator' }), config });
  broker.onShutdown(() => coordinator.close());
  await coordinator.start();
  return coordinator;
}

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
type OffsetFetchTopic = { name: string; partitionIndexes: number[] };
type FetchedTopics = FetchedOffsets['topics'];
type OffsetDeleteRequest = RequestFor<typeof ApiKey.OffsetDelete>;
type OffsetDeleteResponse = ResponseFor<typeof ApiKey.OffsetDelete>;
type DescribeGroupsRequest = RequestFor<typeof ApiKey.DescribeGroups>;
type DescribeGroupsResponse = ResponseFor<typeof ApiKey.DescribeGroups>;
type ListGroupsRequest = RequestFor<typeof ApiKey.ListGroups>;
type ListGroupsResponse = ResponseFor<typeof ApiKey.ListGroups>;
type DeleteGroupsRequest = RequestFor<typeof ApiKey.DeleteGroups>;
type DeleteGroupsResponse = ResponseFor<typeof ApiKey.DeleteGroups>;

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
  const { broker } = ctx;
  const keyType = req.keyType ?? KEY_TYPE_GROUP;
  const lookup = async (key: string): Promise<Coordinator> => {
    const miss = (errorCode: number, errorMessage: string | null): Coordinator => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage });
    // Clients retry COORDINATOR_NOT_AVAILABLE forever; an authorization error makes a
    // transactional producer fail at once, matching what InitProducerId answers.
    if (keyType === KEY_TYPE_TRANSACTION) return miss(GroupErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactions are not supported yet');
    if (keyType !== KEY_TYPE_GROUP) return miss(GroupErrorCode.INVALID_REQUEST, `unknown key type ${keyType}`);
    const coordinator = await groupCoordinatorFor(broker);
    const errorCode = coordinator.coordinatorError();
    if (errorCode !== GroupErrorCode.NONE) return miss(errorCode, null);
    // A single broker leads every __consumer_offsets partition, so it coordinates every group.
    return { key, nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, errorCode: GroupErrorCode.NONE, errorMessage: null };
  };
  if (ctx.apiVersion >= 4) {
    const coordinators = await Promise.all((req.coordinatorKeys ?? []).map(lookup));
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators };
  }
  const c = await lookup(req.key ?? '');
  return { throttleTimeMs: 0, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port, coordinators: [] };
}

async function handleJoinGroup(req: JoinGroupRequest, ctx: RequestContext): Promise<JoinGroupResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
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
  const coordinator = await groupCoordinatorFor(ctx.broker);
  const r = await coordinator.syncGroup({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 3 ? (req.groupInstanceId ?? null) : null,
    protocolType: ctx.apiVersion >= 5 ? (req.protocolType ?? null) : null,
    protocolName: ctx.apiVersion >= 5 ? (req.protocolName ?? null) : null,
    assignments: req.assignments,
  });
  return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
}

async function handleHeartbeat(req: HeartbeatRequest, ctx: RequestContext): Promise<HeartbeatResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  const errorCode = coordinator.heartbeat({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 3 ? (req.groupInstanceId ?? null) : null,
  });
  return { throttleTimeMs: 0, errorCode };
}

async function handleLeaveGroup(req: LeaveGroupRequest, ctx: RequestContext): Promise<LeaveGroupResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  if (ctx.apiVersion < 3) {
    const r = coordinator.leaveGroup(req.groupId, [{ memberId: req.memberId ?? '', groupInstanceId: null }]);
    const errorCode = r.errorCode !== GroupErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? GroupErrorCode.NONE);
    return { throttleTimeMs: 0, errorCode, members: [] };
  }
  const members = (req.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null }));
  const r = coordinator.leaveGroup(req.groupId, members);
  return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
}

/** Kafka refuses commits for partitions that do not exist with UNKNOWN_TOPIC_OR_PARTITION. */
function partitionExists(broker: Broker, topic: string, partition: number): boolean {
  const t = broker.logManager.getTopic(topic);
  return t !== undefined && partition >= 0 && partition < t.partitions;
}

async function handleOffsetCommit(req: OffsetCommitRequest, ctx: RequestContext): Promise<OffsetCommitResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  const unknown: OffsetCommitResponse['topics'] = [];
  const known: OffsetCommitRequest['topics'] = [];
  for (const t of req.topics) {
    const missing = t.partitions.filter((p) => !partitionExists(ctx.broker, t.name, p.partitionIndex));
    if (missing.length > 0) {
      unknown.push({ name: t.name, partitions: missing.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: UNKNOWN_TOPIC_OR_PARTITION })) });
    }
    const present = t.partitions.filter((p) => partitionExists(ctx.broker, t.name, p.partitionIndex));
    if (present.length > 0) known.push({ ...t, partitions: present });
  }
  const committed = await coordinator.commitOffsets({
    groupId: req.groupId,
    generationId: req.generationIdOrMemberEpoch,
    memberId: req.memberId,
    groupInstanceId: ctx.apiVersion >= 7 ? (req.groupInstanceId ?? null) : null,
    retentionTimeMs: ctx.apiVersion <= 4 ? (req.retentionTimeMs ?? -1) : -1,
    topics: known.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        committedOffset: p.committedOffset,
        committedLeaderEpoch: ctx.apiVersion >= 6 ? (p.committedLeaderEpoch ?? -1) : -1,
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

async function handleOffsetFetch(req: OffsetFetchRequest, ctx: RequestContext): Promise<OffsetFetchResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  // require_stable (v7+) is accepted: with no transactional offsets, nothing is ever unstable.
  if (ctx.apiVersion >= 8) {
    const groups = (req.groups ?? []).map((g) => {
      const r = coordinator.fetchOffsets(g.groupId, g.topics);
      return { groupId: g.groupId, topics: r.topics, errorCode: r.errorCode };
    });
    return { throttleTimeMs: 0, topics: [], errorCode: 0, groups };
  }
  const topics = ctx.apiVersion >= 2 ? (req.topics ?? null) : (req.topics ?? []);
  const r = coordinator.fetchOffsets(req.groupId ?? '', topics);
  if (r.errorCode !== GroupErrorCode.NONE && ctx.apiVersion < 2) {
    return { throttleTimeMs: 0, topics: withPartitionErrors(topics, r.errorCode), errorCode: r.errorCode, groups: [] };
  }
  return { throttleTimeMs: 0, topics: r.topics, errorCode: r.errorCode, groups: [] };
}

async function handleOffsetDelete(req: OffsetDeleteRequest, ctx: RequestContext): Promise<OffsetDeleteResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  const r = await coordinator.deleteOffsets(req.groupId, req.topics);
  return { errorCode: r.errorCode, throttleTimeMs: 0, topics: r.topics };
}

async function handleDescribeGroups(req: DescribeGroupsRequest, ctx: RequestContext): Promise<DescribeGroupsResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  const authorizedOperations = req.includeAuthorizedOperations === true ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
  return {
    throttleTimeMs: 0,
    groups: coordinator.describeGroups(req.groups).map((g) => ({ ...g, errorMessage: null, authorizedOperations })),
  };
}

async function handleListGroups(req: ListGroupsRequest, ctx: RequestContext): Promise<ListGroupsResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  const types = (req.typesFilter ?? []).map((t) => t.toLowerCase());
  if (types.length > 0 && !types.includes('classic')) return { throttleTimeMs: 0, errorCode: 0, groups: [] };
  const r = coordinator.listGroups(req.statesFilter ?? []);
  return { throttleTimeMs: 0, errorCode: r.errorCode, groups: r.groups.map((g) => ({ ...g, groupType: 'classic' })) };
}

async function handleDeleteGroups(req: DeleteGroupsRequest, ctx: RequestContext): Promise<DeleteGroupsResponse> {
  const coordinator = await groupCoordinatorFor(ctx.broker);
  return { throttleTimeMs: 0, results: await coordinator.deleteGroups(req.groupsNames) };
}

export const groupHandlers: HandlerTable = new Map();
function add<Req, Res>(apiKey: number, handler: Handler<Req, Res>): void {
  groupHandlers.set(apiKey, handler as Handler<never, unknown>);
}
add(ApiKey.FindCoordinator, handleFindCoordinator);
add(ApiKey.JoinGroup, handleJoinGroup);
add(ApiKey.SyncGroup, handleSyncGroup);
add(ApiKey.Heartbeat, handleHeartbeat);
add(ApiKey.LeaveGroup, handleLeaveGroup);
add(ApiKey.OffsetCommit, handleOffsetCommit);
add(ApiKey.OffsetFetch, handleOffsetFetch);
add(ApiKey.OffsetDelete, handleOffsetDelete);
add(ApiKey.DescribeGroups, handleDescribeGroups);
add(ApiKey.ListGroups, handleListGroups);
add(ApiKey.DeleteGroups, handleDeleteGroups);
