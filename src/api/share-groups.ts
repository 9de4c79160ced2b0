// api/ room: share-group APIs served by the group coordinator (KIP-932): ShareGroupHeartbeat,
// ShareGroupDescribe, DescribeShareGroupOffsets, AlterShareGroupOffsets and
// DeleteShareGroupOffsets; and the creation of __share_group_state, which holds the durable
// state of every share-partition.
import type { TopicImage } from '../cluster/index.js';
import { SHARE_GROUP_STATE_TOPIC } from '../coordinator/share/index.js';
import { ErrorCode, KafkaError, errorName } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type {
  AlterShareGroupOffsetsRequest,
  AlterShareGroupOffsetsResponse,
  DeleteShareGroupOffsetsRequest,
  DeleteShareGroupOffsetsResponse,
  DescribeShareGroupOffsetsRequest,
  DescribeShareGroupOffsetsResponse,
} from '../protocol/messages/share-group-offsets.js';
import type { ShareGroupDescribeRequest, ShareGroupDescribeResponse } from '../protocol/messages/share-group-describe.js';
import type { ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse } from '../protocol/messages/share-group-heartbeat.js';
import { errorResponse } from './errors.js';
import type { ApiServices } from './services.js';
import { defineApi, type ApiRegistration, type RequestContext } from './types.js';

/** READ (3), DELETE (6), DESCRIBE (8): what a group allows, without ACLs. */
const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** How long a request waits for a just-created __share_group_state partition to load. */
export const SHARE_STATE_LOAD_WAIT_MS = 5000;

/** Kafka reports a member's host as "/address", without the port. */
function kafkaClientHost(remote: string): string {
  const idx = remote.lastIndexOf(':');
  const address = idx > 0 ? remote.slice(0, idx) : remote;
  return address.startsWith('/') ? address : `/${address}`;
}

/** Creates __share_group_state on first use (compacted, as Kafka's share coordinator does). */
export async function ensureShareStateTopic(services: ApiServices): Promise<TopicImage> {
  const { config, metadata } = services;
  const existing = metadata.topic(SHARE_GROUP_STATE_TOPIC);
  if (existing) return existing;
  const replicas = Math.max(1, Math.min(config.getNumber('share.coordinator.state.topic.replication.factor'), metadata.brokers().length));
  const minIsr = Math.min(config.getNumber('share.coordinator.state.topic.min.isr'), replicas);
  try {
    return await metadata.createTopic({
      name: SHARE_GROUP_STATE_TOPIC,
      partitions: config.getNumber('share.coordinator.state.topic.num.partitions'),
      replicationFactor: -1,
      configs: {
        'cleanup.policy': 'compact',
        'min.insync.replicas': String(minIsr),
        'segment.bytes': String(config.getNumber('share.coordinator.state.topic.segment.bytes')),
        'unclean.leader.election.enable': 'false',
      },
      internal: true,
    });
  } catch (err) {
    const created = metadata.topic(SHARE_GROUP_STATE_TOPIC);
    if (err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS && created) return created;
    throw err;
  }
}

/** The coordinator error for a share group: the group coordinator leads its __consumer_offsets partition. */
function coordinatorError(services: ApiServices, groupId: string): number {
  return services.groupCoordinator.coordinatorErrorFor(groupId);
}

function otherGroupExists(services: ApiServices, groupId: string): boolean {
  const state = services.groupCoordinator.groupState(groupId);
  return state !== null && state !== 'Dead';
}

function handleShareGroupHeartbeat(req: ShareGroupHeartbeatRequest, ctx: RequestContext): ShareGroupHeartbeatResponse {
  const services = ctx.services;
  const fail = (errorCode: number, errorMessage: string | null): ShareGroupHeartbeatResponse => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    memberId: null,
    memberEpoch: 0,
    heartbeatIntervalMs: 0,
    assignment: null,
  });
  const coordinator = req.groupId.length === 0 ? ErrorCode.NONE : coordinatorError(services, req.groupId);
  if (coordinator !== ErrorCode.NONE) return fail(coordinator, null);
  if (!services.share.groups.hasGroup(req.groupId) && otherGroupExists(services, req.groupId)) {
    return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a share group.`);
  }
  const r = services.share.groups.heartbeat({
    groupId: req.groupId,
    memberId: req.memberId,
    memberEpoch: req.memberEpoch,
    rackId: req.rackId,
    subscribedTopicNames: req.subscribedTopicNames,
    clientId: ctx.clientId ?? '',
    clientHost: kafkaClientHost(ctx.clientHost),
  });
  if (r.errorCode === ErrorCode.NONE && r.memberEpoch > 0) void initializeSubscribed(services, req.groupId);
  return { throttleTimeMs: 0, ...r };
}

/** Share groups whose initialization is running (one at a time per group and broker). */
const initializing = new WeakMap<ApiServices, Set<string>>();

/**
 * Kafka's group coordinator initializes the state of the topic-partitions a share group newly
 * subscribes to (InitializeShareGroupState at their share coordinators, which may be other
 * brokers): state without a start offset, which the partition leader fixes from
 * share.auto.offset.reset on first use. State that exists is left alone. Failures are retried
 * on a later heartbeat.
 */
async function initializeSubscribed(services: ApiServices, groupId: string): Promise<void> {
  let running = initializing.get(services);
  if (running === undefined) {
    running = new Set();
    initializing.set(services, running);
  }
  if (running.has(groupId)) return;
  const pending = services.share.groups.uninitializedPartitions(groupId);
  if (pending.length === 0) return;
  running.add(groupId);
  try {
    await Promise.all(
      pending.map(async ({ topicId, partition }) => {
        try {
          await services.share.partitions.initializeIfAbsent({ groupId, topicId, partition });
          services.share.groups.markInitialized(groupId, topicId, partition);
        } catch (err) {
          services.logger.debug({ groupId, topicId, partition, err: String(err) }, 'initializing share-partition state failed; retried on a later heartbeat');
        }
      }),
    );
  } finally {
    running.delete(groupId);
  }
}

function handleShareGroupDescribe(req: ShareGroupDescribeRequest, ctx: RequestContext): ShareGroupDescribeResponse {
  const services = ctx.services;
  const topicName = (topicId: string): string => services.metadata.topicById(topicId)?.name ?? '';
  const authorizedOperations = req.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
  const empty = { groupState: '', groupEpoch: 0, assignmentEpoch: 0, assignorName: '', members: [] };
  return {
    throttleTimeMs: 0,
    groups: req.groupIds.map((groupId) => {
      const coordinator = coordinatorError(services, groupId);
      if (coordinator !== ErrorCode.NONE) return { groupId, errorCode: coordinator, errorMessage: null, ...empty, authorizedOperations };
      if (!services.share.groups.hasGroup(groupId) && services.share.state.statesOfGroup(groupId).length > 0) services.share.groups.ensureGroup(groupId);
      const g = services.share.groups.describe(groupId, topicName);
      if (g === null) {
        const message = otherGroupExists(services, groupId) ? `Group ${groupId} is not a share group.` : `Group ${groupId} not found.`;
        return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: message, ...empty, authorizedOperations };
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, ...g, members: g.members.map((m) => ({ ...m, assignment: { topicPartitions: m.assignment } })), authorizedOperations };
    }),
  };
}

type DescribedGroupOut = DescribeShareGroupOffsetsResponse['groups'][number];

async function describeGroupOffsets(group: DescribeShareGroupOffsetsRequest['groups'][number], ctx: RequestContext): Promise<DescribedGroupOut> {
  const services = ctx.services;
  const fail = (errorCode: number, errorMessage: string | null): DescribedGroupOut => ({ groupId: group.groupId, topics: [], errorCode, errorMessage });
  const coordinator = coordinatorError(services, group.groupId);
  if (coordinator !== ErrorCode.NONE) return fail(coordinator, null);
  if (!services.share.groups.hasGroup(group.groupId)) {
    // A group created before a restart is known by its stored share-partition state.
    if (services.metadata.topic(SHARE_GROUP_STATE_TOPIC) === undefined || services.share.state.statesOfGroup(group.groupId).length === 0) {
      return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${group.groupId} not found.`);
    }
  }
  // null topics: every topic-partition with state: those this coordinator initialized, those
  // stored here, and those of the subscribed topics whose share coordinator (maybe elsewhere) has state.
  let wanted: Array<{ topicName: string; partitions: number[] }>;
  if (group.topics === null) {
    const byTopic = new Map<string, Set<number>>();
    const add = (topicId: string, partition: number): void => {
      const name = services.metadata.topicById(topicId)?.name;
      if (name === undefined) return;
      byTopic.set(name, (byTopic.get(name) ?? new Set()).add(partition));
    };
    for (const s of services.share.state.statesOfGroup(group.groupId)) add(s.key.topicId, s.key.partition);
    for (const p of services.share.groups.initializedPartitions(group.groupId)) add(p.topicId, p.partition);
    await Promise.all(
      services.share.groups.uninitializedPartitions(group.groupId).map(async ({ topicId, partition }) => {
        const found = await services.share.partitions.startOffset({ groupId: group.groupId, topicId, partition }).catch(() => null);
        if (found === null) return;
        services.share.groups.markInitialized(group.groupId, topicId, partition);
        add(topicId, partition);
      }),
    );
    wanted = [...byTopic].sort(([a], [b]) => (a < b ? -1 : 1)).map(([topicName, partitions]) => ({ topicName, partitions: [...partitions].sort((a, b) => a - b) }));
  } else wanted = group.topics;
  const topics: DescribedGroupOut['topics'] = [];
  for (const t of wanted) {
    const topic = services.metadata.topic(t.topicName);
    const out: DescribedGroupOut['topics'][number] = { topicName: t.topicName, topicId: topic?.topicId ?? '00000000-0000-0000-0000-000000000000', partitions: [] };
    topics.push(out);
    for (const partitionIndex of t.partitions) {
      if (topic === undefined || partitionIndex < 0 || partitionIndex >= topic.partitions.length) {
        out.partitions.push({ partitionIndex, startOffset: -1, leaderEpoch: -1, lag: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' });
        continue;
      }
      try {
        const key = { groupId: group.groupId, topicId: topic.topicId, partition: partitionIndex };
        const state = await services.share.partitions.startOffset(key);
        const startOffset = state?.startOffset ?? -1;
        let lag = -1;
        const p = services.replicaManager.getPartition(topic.name, partitionIndex);
        if (state !== null && p?.isLeader === true) lag = Math.max(0, p.highWatermark - startOffset);
        out.partitions.push({ partitionIndex, startOffset, leaderEpoch: -1, lag, errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (err) {
        const info = errorResponse(ctx, err, 'describe share group offsets', { groupId: group.groupId, topic: t.topicName, partition: partitionIndex });
        out.partitions.push({ partitionIndex, startOffset: -1, leaderEpoch: -1, lag: -1, errorCode: info.code, errorMessage: info.message });
      }
    }
  }
  return { groupId: group.groupId, topics, errorCode: ErrorCode.NONE, errorMessage: null };
}

async function handleDescribeShareGroupOffsets(req: DescribeShareGroupOffsetsRequest, ctx: RequestContext): Promise<DescribeShareGroupOffsetsResponse> {
  const groups: DescribedGroupOut[] = [];
  for (const g of req.groups) groups.push(await describeGroupOffsets(g, ctx));
  return { throttleTimeMs: 0, groups };
}

async function handleAlterShareGroupOffsets(req: AlterShareGroupOffsetsRequest, ctx: RequestContext): Promise<AlterShareGroupOffsetsResponse> {
  const services = ctx.services;
  const top = (errorCode: number, errorMessage: string | null): AlterShareGroupOffsetsResponse => ({ throttleTimeMs: 0, errorCode, errorMessage, responses: [] });
  const coordinator = coordinatorError(services, req.groupId);
  if (coordinator !== ErrorCode.NONE) return top(coordinator, null);
  if (otherGroupExists(services, req.groupId)) return top(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a share group.`);
  // As Kafka: offsets of a share group with members cannot be changed.
  if (services.share.groups.memberCount(req.groupId) > 0) {
    return top(ErrorCode.NON_EMPTY_GROUP, 'The group is not empty.');
  }
  try {
    await ensureShareStateTopic(services);
  } catch (err) {
    return top(ErrorCode.COORDINATOR_NOT_AVAILABLE, errorResponse(ctx, err, `creating ${SHARE_GROUP_STATE_TOPIC}`, {}).message);
  }
  services.share.groups.ensureGroup(req.groupId);
  const responses: AlterShareGroupOffsetsResponse['responses'] = [];
  for (const t of req.topics) {
    const topic = services.metadata.topic(t.topicName);
    const out: AlterShareGroupOffsetsResponse['responses'][number] = { topicName: t.topicName, topicId: topic?.topicId ?? '00000000-0000-0000-0000-000000000000', partitions: [] };
    responses.push(out);
    for (const p of t.partitions) {
      if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions.length) {
        out.partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' });
        continue;
      }
      try {
        await services.share.partitions.alterStartOffset({ groupId: req.groupId, topicId: topic.topicId, partition: p.partitionIndex }, p.startOffset);
        services.share.groups.markInitialized(req.groupId, topic.topicId, p.partitionIndex);
        out.partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (err) {
        const info = errorResponse(ctx, err, 'alter share group offsets', { groupId: req.groupId, topic: t.topicName, partition: p.partitionIndex });
        out.partitions.push({ partitionIndex: p.partitionIndex, errorCode: info.code, errorMessage: info.message });
      }
    }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
}

async function handleDeleteShareGroupOffsets(req: DeleteShareGroupOffsetsRequest, ctx: RequestContext): Promise<DeleteShareGroupOffsetsResponse> {
  const services = ctx.services;
  const top = (errorCode: number, errorMessage: string | null): DeleteShareGroupOffsetsResponse => ({ throttleTimeMs: 0, errorCode, errorMessage, responses: [] });
  const coordinator = coordinatorError(services, req.groupId);
  if (coordinator !== ErrorCode.NONE) return top(coordinator, null);
  const known = services.share.groups.hasGroup(req.groupId) || (services.metadata.topic(SHARE_GROUP_STATE_TOPIC) !== undefined && services.share.state.statesOfGroup(req.groupId).length > 0);
  if (!known) return top(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} not found.`);
  if (services.share.groups.memberCount(req.groupId) > 0) return top(ErrorCode.NON_EMPTY_GROUP, 'The group is not empty.');
  const responses: DeleteShareGroupOffsetsResponse['responses'] = [];
  for (const t of req.topics) {
    const topic = services.metadata.topic(t.topicName);
    if (topic === undefined) {
      responses.push({ topicName: t.topicName, topicId: '00000000-0000-0000-0000-000000000000', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' });
      continue;
    }
    let errorCode: number = ErrorCode.NONE;
    let errorMessage: string | null = null;
    for (let partition = 0; partition < topic.partitions.length; partition++) {
      try {
        await services.share.partitions.deleteState({ groupId: req.groupId, topicId: topic.topicId, partition });
        services.share.groups.markUninitialized(req.groupId, topic.topicId, partition);
      } catch (err) {
        const info = errorResponse(ctx, err, 'delete share group offsets', { groupId: req.groupId, topic: t.topicName, partition });
        errorCode = info.code;
        errorMessage = info.message;
      }
    }
    responses.push({ topicName: t.topicName, topicId: topic.topicId, errorCode, errorMessage: errorMessage ?? (errorCode === ErrorCode.NONE ? null : errorName(errorCode)) });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
}

export const shareGroupApis: ApiRegistration[] = [
  defineApi({ apiKey: ApiKey.ShareGroupHeartbeat, handler: handleShareGroupHeartbeat }),
  defineApi({ apiKey: ApiKey.ShareGroupDescribe, handler: handleShareGroupDescribe }),
  defineApi({ apiKey: ApiKey.DescribeShareGroupOffsets, handler: handleDescribeShareGroupOffsets }),
  defineApi({ apiKey: ApiKey.AlterShareGroupOffsets, handler: handleAlterShareGroupOffsets }),
  defineApi({ apiKey: ApiKey.DeleteShareGroupOffsets, handler: handleDeleteShareGroupOffsets }),
];

/** ListGroups entries for the share groups this coordinator knows (type "share"). */
export function listShareGroups(services: ApiServices, statesFilter: readonly string[]): Array<{ groupId: string; protocolType: string; groupState: string; groupType: string }> {
  const states = new Set(statesFilter.map((s) => s.toLowerCase()));
  const out: Array<{ groupId: string; protocolType: string; groupState: string; groupType: string }> = [];
  // Members are not durable: after a restart a group is known from its stored share-partition state (Empty).
  const ids = new Set(services.share.groups.groupIds());
  for (const s of services.share.state.statesOfGroup(null)) ids.add(s.key.groupId);
  for (const groupId of ids) {
    if (coordinatorError(services, groupId) !== ErrorCode.NONE) continue;
    const groupState = services.share.groups.stateOf(groupId) ?? 'Empty';
    if (states.size > 0 && !states.has(groupState.toLowerCase())) continue;
    out.push({ groupId, protocolType: 'share', groupState, groupType: 'share' });
  }
  return out;
}

/** DescribeGroups (classic) on a share group: Kafka's "not a classic group" answer. */
export function shareGroupDescribeGroupsMessage(services: ApiServices, groupId: string): string | null {
  return services.share.groups.hasGroup(groupId) ? `Group ${groupId} is not a classic group.` : null;
}

/**
 * FindCoordinator key type 2 (share): the broker leading the __share_group_state partition of the
 * key "groupId:topicId:partition" (Kafka's share coordinator; brokers ask it, clients do not).
 */
export async function findShareCoordinator(
  ctx: RequestContext,
  key: string,
): Promise<{ key: string; nodeId: number; host: string; port: number; errorCode: number; errorMessage: string | null }> {
  const services = ctx.services;
  const miss = (errorCode: number, errorMessage: string | null): { key: string; nodeId: number; host: string; port: number; errorCode: number; errorMessage: string | null } => ({
    key,
    nodeId: -1,
    host: '',
    port: -1,
    errorCode,
    errorMessage,
  });
  if (ctx.apiVersion < 6) return miss(ErrorCode.INVALID_REQUEST, 'FindCoordinator for share coordinators needs version 6 or above');
  const partition = services.share.state.partitionForCoordinatorKey(key);
  if (partition === null) return miss(ErrorCode.INVALID_REQUEST, `Invalid share coordinator key ${key}`);
  try {
    await ensureShareStateTopic(services);
  } catch (err) {
    return miss(ErrorCode.COORDINATOR_NOT_AVAILABLE, errorResponse(ctx, err, `creating ${SHARE_GROUP_STATE_TOPIC}`, {}).message);
  }
  await services.share.state.awaitLoaded(partition, SHARE_STATE_LOAD_WAIT_MS);
  const state = services.metadata.partition(SHARE_GROUP_STATE_TOPIC, partition);
  const leader = state === undefined ? undefined : services.metadata.brokers().find((b) => b.nodeId === state.leader);
  if (leader === undefined) return miss(ErrorCode.COORDINATOR_NOT_AVAILABLE, null);
  if (leader.nodeId === services.nodeId && services.share.state.errorFor(partition) !== ErrorCode.NONE) return miss(ErrorCode.COORDINATOR_NOT_AVAILABLE, null);
  return { key, nodeId: leader.nodeId, host: leader.host, port: leader.port, errorCode: ErrorCode.NONE, errorMessage: null };
}
