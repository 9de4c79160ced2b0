// api/ room: authorization of every API, as Kafka's KafkaApis checks it, as a layer around the
// handlers: each rule asks the ACL authorizer (security/authorizer) about the resources a request
// names, hands the handler only the authorized part, and merges Kafka's per-resource errors
// (TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED) into its answer. Installed by the
// dispatcher only when authorizer.class.name names an authorizer; without one nothing changes.
import { ErrorCode, KafkaError } from '../errors.js';
import { ApiKey, ZERO_UUID, apiName, apis, type RequestOf, type ResponseOf } from '../protocol/index.js';
import { batchHeaders } from '../records/batch-layout.js';
import {
  AclOperation,
  CLUSTER_NAME,
  ResourceType,
  authorizerFromConfig,
  clientAddress,
  type AclAuthorizer,
  type Requester,
} from '../security/authorizer/index.js';
import { principalToString } from '../security/index.js';
import {
  INITIAL_EPOCH,
  INVALID_SESSION_ID,
  claimFetchSession,
  existingFetchSessionCache,
  setFetchAuthorization,
  type FetchAuthorization,
  type FetchPartition,
} from './fetch-sessions.js';
import type { ApiServices } from './services.js';
import { SHARE_STATE_API_KEYS, refuseShareState } from './share-state.js';
import type { ApiRegistration, Handler, RequestContext } from './types.js';

/** What a rule asks with: the authorizer and who is asking. */
export interface Authz {
  readonly authorizer: AclAuthorizer;
  readonly requester: Requester;
  readonly services: ApiServices;
  readonly apiVersion: number;
  allowed(operation: AclOperation, resourceType: ResourceType, name: string, logIfDenied?: boolean): boolean;
  cluster(operation: AclOperation, logIfDenied?: boolean): boolean;
  /** The names among `names` allowed `operation` on `resourceType` (each name asked once). */
  allowedNames(operation: AclOperation, resourceType: ResourceType, names: Iterable<string>, logIfDenied?: boolean): Set<string>;
}

type Next<Req, Res> = (req: Req) => Promise<Res>;
type AnyRule = (req: unknown, a: Authz, next: Next<unknown, unknown>) => unknown;
type Named = keyof typeof apis;

function rule<N extends Named>(
  name: N,
  fn: (req: RequestOf<N>, a: Authz, next: Next<RequestOf<N>, ResponseOf<N>>) => ResponseOf<N> | Promise<ResponseOf<N>>,
): [number, AnyRule] {
  return [apis[name].request.apiKey, fn as unknown as AnyRule];
}

const TOPIC_FAILED = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const GROUP_FAILED = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const CLUSTER_FAILED = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
const TXN_FAILED = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;

/** Puts `items` in the order their keys first appear in `order` (Kafka answers in request order). */
function inRequestOrder<T>(items: T[], key: (t: T) => string, order: readonly string[]): T[] {
  const rank = new Map<string, number>();
  order.forEach((k, i) => {
    if (!rank.has(k)) rank.set(k, i);
  });
  return [...items].sort((x, y) => (rank.get(key(x)) ?? order.length) - (rank.get(key(y)) ?? order.length));
}

/** Kafka's config resource types (DescribeConfigs/AlterConfigs) and the authorization each needs. */
function configResource(resourceType: number, name: string): { type: ResourceType; name: string; error: number } {
  if (resourceType === 2) return { type: ResourceType.TOPIC, name, error: TOPIC_FAILED };
  if (resourceType === 32) return { type: ResourceType.GROUP, name, error: GROUP_FAILED };
  // BROKER (4), BROKER_LOGGER (8), CLIENT_METRICS (16): the cluster.
  return { type: ResourceType.CLUSTER, name: CLUSTER_NAME, error: CLUSTER_FAILED };
}

/**
 * Whether a partition's records hold a transactional batch. Records that do not parse count as
 * not transactional: the handler's validation refuses them for that partition (CORRUPT_MESSAGE,
 * INVALID_RECORD), so the request is not failed as a whole here.
 */
function isTransactionalBatch(records: Buffer): boolean {
  try {
    return batchHeaders(records).some((h) => h.isTransactional);
  } catch {
    return false;
  }
}

/** True when any batch of the request is transactional (Kafka's RequestUtils.hasTransactionalRecords). */
function hasTransactionalRecords(req: RequestOf<'Produce'>): boolean {
  for (const t of req.topicData) {
    for (const p of t.partitionData) {
      if (p.records !== null && p.records.length > 0 && isTransactionalBatch(p.records)) return true;
    }
  }
  return false;
}

const RULES = new Map<number, AnyRule>([
  rule('Produce', async (req, a, next) => {
    const byId = a.apiVersion >= 13;
    const nameOf = (t: { name: string; topicId: string }): string | undefined => (byId ? a.services.metadata.topicById(t.topicId)?.name : t.name);
    const refusedPartition = (index: number, errorCode: number): ResponseOf<'Produce'>['responses'][number]['partitionResponses'][number] => ({
      index,
      errorCode,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
      recordErrors: [],
      errorMessage: null,
    });
    if (hasTransactionalRecords(req) && (req.transactionalId === null || !a.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId))) {
      return {
        throttleTimeMs: 0,
        responses: req.topicData.map((t) => ({ name: t.name, topicId: t.topicId, partitionResponses: t.partitionData.map((p) => refusedPartition(p.index, TXN_FAILED)) })),
      };
    }
    const allowed = a.allowedNames(
      AclOperation.WRITE,
      ResourceType.TOPIC,
      req.topicData.flatMap((t) => nameOf(t) ?? []),
    );
    // A topic id this broker does not know is the handler's to answer (UNKNOWN_TOPIC_ID).
    const isAllowed = (t: { name: string; topicId: string }): boolean => {
      const name = nameOf(t);
      return name === undefined || allowed.has(name);
    };
    const refused = req.topicData.filter((t) => !isAllowed(t));
    if (refused.length === 0) return next(req);
    const kept = req.topicData.filter(isAllowed);
    const res: ResponseOf<'Produce'> = kept.length > 0 ? await next({ ...req, topicData: kept }) : { throttleTimeMs: 0, responses: [] };
    const refusedResponses = refused.map((t) => ({ name: t.name, topicId: t.topicId, partitionResponses: t.partitionData.map((p) => refusedPartition(p.index, TOPIC_FAILED)) }));
    return { ...res, responses: [...res.responses, ...refusedResponses] };
  }),

  rule('Fetch', async (req, a, next) => {
    // Kafka authorizes every partition of the fetch context, on every fetch: for an incremental
    // fetch that is the whole session, not only the partitions the request names. The session code
    // (fetch-sessions.ts) asks `mayRead` for each, reads only the allowed ones and lists the others
    // in `refused`; a session serves only the principal that opened it.
    const byId = a.apiVersion >= 13;
    const replicaId = a.apiVersion >= 15 ? req.replicaState.replicaId : req.replicaId;
    let mayRead: (p: FetchPartition) => boolean;
    if (replicaId >= 0) {
      // A follower needs CLUSTER_ACTION on the cluster for every partition.
      const cluster = a.cluster(AclOperation.CLUSTER_ACTION);
      mayRead = () => cluster;
    } else {
      const decided = new Map<string, boolean>();
      mayRead = (p) => {
        // A topic id this broker does not know is the handler's to answer (UNKNOWN_TOPIC_ID).
        const name = byId ? a.services.metadata.topicById(p.topicId)?.name : p.topic;
        if (name === undefined) return true;
        let ok = decided.get(name);
        if (ok === undefined) {
          ok = a.allowed(AclOperation.READ, ResourceType.TOPIC, name);
          decided.set(name, ok);
        }
        return ok;
      };
    }
    const auth: FetchAuthorization = { principal: principalToString(a.requester.principal), mayRead, refused: [] };
    setFetchAuthorization(req, auth);
    const res = await next(req);
    const sessionId = res.sessionId ?? INVALID_SESSION_ID;
    if (req.sessionEpoch === INITIAL_EPOCH && sessionId !== INVALID_SESSION_ID) {
      // A session this fetch opened: its opener's, refused partitions included (answered below).
      const cache = existingFetchSessionCache(a.services);
      if (cache !== undefined) claimFetchSession(cache, sessionId, auth.principal, auth.refused, Date.now());
    }
    if (auth.refused.length === 0) return res;
    const refusedTopics: ResponseOf<'Fetch'>['responses'] = [];
    let last: string | undefined;
    for (const p of auth.refused) {
      const key = `${p.topic}\u0000${p.topicId}`;
      if (key !== last || refusedTopics.length === 0) {
        refusedTopics.push({ topic: p.topic, topicId: p.topicId === '' ? ZERO_UUID : p.topicId, partitions: [] });
        last = key;
      }
      refusedTopics[refusedTopics.length - 1]?.partitions.push({
        partitionIndex: p.partition,
        errorCode: TOPIC_FAILED,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: null,
      });
    }
    return { ...res, responses: [...res.responses, ...refusedTopics] };
  }),

  rule('ListOffsets', async (req, a, next) => {
    const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'ListOffsets'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_FAILED, timestamp: -1, offset: -1, leaderEpoch: -1 })),
    }));
    return { ...res, topics: [...res.topics, ...refusedTopics] };
  }),

  rule('OffsetForLeaderEpoch', async (req, a, next) => {
    if (a.cluster(AclOperation.CLUSTER_ACTION, false)) return next(req);
    const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, req.topics.map((t) => t.topic));
    const refused = req.topics.filter((t) => !allowed.has(t.topic));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.topic));
    const res: ResponseOf<'OffsetForLeaderEpoch'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => ({ errorCode: TOPIC_FAILED, partition: p.partition, leaderEpoch: -1, endOffset: -1 })),
    }));
    return { ...res, topics: [...res.topics, ...refusedTopics] };
  }),

  rule('Metadata', async (req, a, next) => {
    const { metadata, config } = a.services;
    const all = req.topics === null || (a.apiVersion === 0 && req.topics.length === 0);
    const withOps = async (res: ResponseOf<'Metadata'>): Promise<ResponseOf<'Metadata'>> => {
      if (a.apiVersion < 8) return res;
      let clusterOps = -2147483648;
      if (a.apiVersion <= 10 && req.includeClusterAuthorizedOperations) {
        clusterOps = a.cluster(AclOperation.DESCRIBE) ? a.authorizer.authorizedOperations(a.requester, ResourceType.CLUSTER, CLUSTER_NAME) : 0;
      }
      const topics = req.includeTopicAuthorizedOperations
        ? res.topics.map((t) => (t.errorCode === ErrorCode.NONE && t.name !== null ? { ...t, topicAuthorizedOperations: a.authorizer.authorizedOperations(a.requester, ResourceType.TOPIC, t.name) } : t))
        : res.topics;
      return Promise.resolve({ ...res, topics, clusterAuthorizedOperations: clusterOps });
    };
    if (all) {
      // Every topic: those the principal may not describe are left out, without a log line.
      const res = await next(req);
      const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, res.topics.flatMap((t) => t.name ?? []), false);
      return withOps({ ...res, topics: res.topics.filter((t) => t.name !== null && allowed.has(t.name)) });
    }
    const wanted = req.topics ?? [];
    // By topic id exactly when the handler (metadata.ts) looks the topic up by id: a null name, or
    // an empty one with a non-zero id (the Java consumer's KIP-848 regex subscriptions).
    const byId = (t: { name: string | null; topicId: string }): boolean => t.name === null || (t.name === '' && t.topicId !== ZERO_UUID);
    const nameOf = (t: { name: string | null; topicId: string }): string | undefined => (byId(t) ? metadata.topicById(t.topicId)?.name : (t.name ?? undefined));
    const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, wanted.flatMap((t) => nameOf(t) ?? []));
    const refused: Array<ResponseOf<'Metadata'>['topics'][number]> = [];
    const kept: typeof wanted = [];
    const autoCreate = config.getBoolean('auto.create.topics.enable') && (a.apiVersion < 4 || req.allowAutoTopicCreation);
    let mayCreateAll: boolean | undefined;
    for (const t of wanted) {
      const name = nameOf(t);
      if (name === undefined) {
        kept.push(t); // an unknown topic id: UNKNOWN_TOPIC_ID from the handler
      } else if (!allowed.has(name)) {
        // Names stay hidden behind the error; a topic id is not sensitive and is echoed back.
        refused.push(byId(t) ? { errorCode: TOPIC_FAILED, name: null, topicId: t.topicId, isInternal: false, partitions: [] } : { errorCode: TOPIC_FAILED, name, topicId: ZERO_UUID, isInternal: false, partitions: [] });
      } else if (!byId(t) && autoCreate && metadata.topic(name) === undefined) {
        // Auto-creation needs CREATE on the cluster or on the topic.
        mayCreateAll ??= a.cluster(AclOperation.CREATE, false);
        if (mayCreateAll || a.allowed(AclOperation.CREATE, ResourceType.TOPIC, name)) kept.push(t);
        else refused.push({ errorCode: TOPIC_FAILED, name, topicId: ZERO_UUID, isInternal: false, partitions: [] });
      } else {
        kept.push(t);
      }
    }
    // The handler still answers brokers and cluster id; an empty list is "all topics" in v0.
    const res = await next({ ...req, topics: kept });
    return withOps({ ...res, topics: [...(kept.length > 0 ? res.topics : []), ...refused] });
  }),

  rule('OffsetCommit', async (req, a, next) => {
    const allPartitions = (code: number): ResponseOf<'OffsetCommit'>['topics'] =>
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })) }));
    if (!a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, topics: allPartitions(GROUP_FAILED) };
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'OffsetCommit'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_FAILED })) }));
    return { ...res, topics: inRequestOrder([...res.topics, ...refusedTopics], (t) => t.name, req.topics.map((t) => t.name)) };
  }),

  rule('OffsetFetch', async (req, a, next) => {
    type FetchedTopics = NonNullable<ResponseOf<'OffsetFetch'>['topics']>;
    const unauthorizedPartition = (partitionIndex: number): FetchedTopics[number]['partitions'][number] => ({
      partitionIndex,
      committedOffset: -1,
      committedLeaderEpoch: -1,
      metadata: '',
      errorCode: TOPIC_FAILED,
    });
    type Topics = Array<{ name: string; partitionIndexes: number[] }> | null;
    /** The request's topics split into those to ask the coordinator for, and the refused ones' answers. */
    const splitTopics = (topics: Topics): { kept: Topics; refused: FetchedTopics } => {
      if (topics === null) return { kept: null, refused: [] };
      const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, topics.map((t) => t.name));
      return {
        kept: topics.filter((t) => allowed.has(t.name)),
        refused: topics.filter((t) => !allowed.has(t.name)).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map(unauthorizedPartition) })),
      };
    };
    /** All-topics fetches leave out what the principal may not describe. */
    const visible = <T extends { name: string }>(topics: T[], asked: Topics): T[] => {
      if (asked !== null) return topics;
      const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, topics.map((t) => t.name), false);
      return topics.filter((t) => allowed.has(t.name));
    };
    if (a.apiVersion < 8) {
      if (!a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, req.groupId)) {
        // v1 has no top-level error code: the partitions carry it.
        const topics = a.apiVersion < 2 ? (req.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => ({ ...unauthorizedPartition(p), errorCode: GROUP_FAILED })) })) : [];
        return { throttleTimeMs: 0, errorCode: GROUP_FAILED, topics, groups: [] };
      }
      const { kept, refused } = splitTopics(req.topics);
      const res = await next({ ...req, topics: kept });
      return { ...res, topics: [...visible(res.topics ?? [], req.topics), ...refused] };
    }
    const refusedGroups = new Set(req.groups.filter((g) => !a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId)).map((g) => g.groupId));
    const refusedTopics = new Map<string, FetchedTopics>();
    const keptGroups = req.groups
      .filter((g) => !refusedGroups.has(g.groupId))
      .map((g) => {
        const { kept, refused } = splitTopics(g.topics);
        refusedTopics.set(g.groupId, refused);
        return { ...g, topics: kept };
      });
    const res: ResponseOf<'OffsetFetch'> = keptGroups.length > 0 ? await next({ ...req, groups: keptGroups }) : { throttleTimeMs: 0, groups: [] };
    const asked = new Map(req.groups.map((g) => [g.groupId, g.topics]));
    const groups = [
      ...(res.groups ?? []).map((g) => ({ ...g, topics: [...visible(g.topics, asked.get(g.groupId) ?? null), ...(refusedTopics.get(g.groupId) ?? [])] })),
      ...[...refusedGroups].map((groupId) => ({ groupId, topics: [], errorCode: GROUP_FAILED })),
    ];
    return { ...res, groups: inRequestOrder(groups, (g) => g.groupId, req.groups.map((g) => g.groupId)) };
  }),

  rule('FindCoordinator', async (req, a, next) => {
    // keyType 0: group, 1: transactional id, 2: share-group coordinator (brokers only).
    const refusal = (key: string): number | null => {
      if (req.keyType === 0) return a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, key) ? null : GROUP_FAILED;
      if (req.keyType === 1) return a.allowed(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key) ? null : TXN_FAILED;
      if (req.keyType === 2) return a.cluster(AclOperation.CLUSTER_ACTION) ? null : CLUSTER_FAILED;
      return null;
    };
    if (a.apiVersion < 4) {
      const code = refusal(req.key);
      if (code === null) return next(req);
      return { throttleTimeMs: 0, errorCode: code, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators: [] };
    }
    const refused = new Map<string, number>();
    for (const key of req.coordinatorKeys) {
      const code = refusal(key);
      if (code !== null) refused.set(key, code);
    }
    if (refused.size === 0) return next(req);
    const kept = req.coordinatorKeys.filter((k) => !refused.has(k));
    const res: ResponseOf<'FindCoordinator'> = kept.length > 0 ? await next({ ...req, coordinatorKeys: kept }) : { throttleTimeMs: 0, errorCode: 0, nodeId: -1, host: '', port: -1, coordinators: [] };
    const refusedEntries = [...refused].map(([key, errorCode]) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: null }));
    return { ...res, coordinators: inRequestOrder([...(res.coordinators ?? []), ...refusedEntries], (c) => c.key, req.coordinatorKeys) };
  }),

  rule('JoinGroup', (req, a, next) =>
    a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId)
      ? next(req)
      : { throttleTimeMs: 0, errorCode: GROUP_FAILED, generationId: -1, protocolType: null, protocolName: a.apiVersion >= 7 ? null : '', leader: '', memberId: '', members: [] },
  ),
  rule('SyncGroup', (req, a, next) =>
    a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId)
      ? next(req)
      : { throttleTimeMs: 0, errorCode: GROUP_FAILED, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) },
  ),
  rule('Heartbeat', (req, a, next) => (a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId) ? next(req) : { throttleTimeMs: 0, errorCode: GROUP_FAILED })),
  rule('LeaveGroup', (req, a, next) => (a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId) ? next(req) : { throttleTimeMs: 0, errorCode: GROUP_FAILED, members: [] })),

  rule('DescribeGroups', async (req, a, next) => {
    const refused = req.groups.filter((g) => !a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, g));
    const kept = req.groups.filter((g) => !refused.includes(g));
    const res: ResponseOf<'DescribeGroups'> = kept.length > 0 ? await next({ ...req, groups: kept }) : { throttleTimeMs: 0, groups: [] };
    const described =
      req.includeAuthorizedOperations && a.apiVersion >= 3
        ? res.groups.map((g) => (g.errorCode === ErrorCode.NONE ? { ...g, authorizedOperations: a.authorizer.authorizedOperations(a.requester, ResourceType.GROUP, g.groupId) } : g))
        : res.groups;
    const refusedGroups = refused.map((groupId) => ({ errorCode: GROUP_FAILED, errorMessage: null, groupId, groupState: '', protocolType: '', protocolData: '', members: [] }));
    return { ...res, groups: [...described, ...refusedGroups] };
  }),

  rule('ListGroups', async (req, a, next) => {
    const res = await next(req);
    if (a.cluster(AclOperation.DESCRIBE, false)) return res;
    return { ...res, groups: res.groups.filter((g) => a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId, false)) };
  }),

  rule('DeleteGroups', async (req, a, next) => {
    const refused = req.groupsNames.filter((g) => !a.allowed(AclOperation.DELETE, ResourceType.GROUP, g));
    if (refused.length === 0) return next(req);
    const kept = req.groupsNames.filter((g) => !refused.includes(g));
    const res: ResponseOf<'DeleteGroups'> = kept.length > 0 ? await next({ ...req, groupsNames: kept }) : { throttleTimeMs: 0, results: [] };
    return { ...res, results: [...res.results, ...refused.map((groupId) => ({ groupId, errorCode: GROUP_FAILED, errorMessage: null }))] };
  }),

  rule('OffsetDelete', async (req, a, next) => {
    if (!a.allowed(AclOperation.DELETE, ResourceType.GROUP, req.groupId)) return { errorCode: GROUP_FAILED, throttleTimeMs: 0, topics: [] };
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'OffsetDelete'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { errorCode: 0, throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_FAILED })) }));
    return { ...res, topics: [...res.topics, ...refusedTopics] };
  }),

  rule('CreateTopics', async (req, a, next) => {
    const names = req.topics.map((t) => t.name);
    const allowed = a.cluster(AclOperation.CREATE, false) ? new Set(names) : a.allowedNames(AclOperation.CREATE, ResourceType.TOPIC, names);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'CreateTopics'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    // Created topics show their configs only to who may describe them.
    const describable = a.allowedNames(AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, kept.map((t) => t.name));
    const created = res.topics.map((t) => (describable.has(t.name) ? t : { ...t, topicConfigErrorCode: TOPIC_FAILED, configs: null }));
    const refused = req.topics
      .filter((t) => !allowed.has(t.name))
      .map((t) => ({ name: t.name, topicId: ZERO_UUID, errorCode: TOPIC_FAILED, errorMessage: 'Authorization failed.', numPartitions: -1, replicationFactor: -1, configs: null }));
    return { ...res, topics: inRequestOrder([...created, ...refused], (t) => t.name, names) };
  }),

  rule('DeleteTopics', async (req, a, next) => {
    const { metadata } = a.services;
    if (a.apiVersion < 6) {
      const allowed = a.allowedNames(AclOperation.DELETE, ResourceType.TOPIC, req.topicNames);
      const kept = req.topicNames.filter((n) => allowed.has(n));
      const res: ResponseOf<'DeleteTopics'> = kept.length > 0 ? await next({ ...req, topicNames: kept }) : { throttleTimeMs: 0, responses: [] };
      const refused = req.topicNames.filter((n) => !allowed.has(n)).map((name) => ({ name, topicId: ZERO_UUID, errorCode: TOPIC_FAILED, errorMessage: null }));
      return { ...res, responses: [...res.responses, ...refused] };
    }
    const refused: ResponseOf<'DeleteTopics'>['responses'] = [];
    const kept = req.topics.filter((t) => {
      const name = t.name ?? metadata.topicById(t.topicId)?.name;
      if (name === undefined) return true; // unknown id: the handler answers UNKNOWN_TOPIC_ID
      // By id, a topic the principal may not describe is not named back.
      if (t.name === null && !a.allowed(AclOperation.DESCRIBE, ResourceType.TOPIC, name)) {
        refused.push({ name: null, topicId: t.topicId, errorCode: TOPIC_FAILED, errorMessage: null });
        return false;
      }
      if (!a.allowed(AclOperation.DELETE, ResourceType.TOPIC, name)) {
        refused.push({ name, topicId: t.topicId, errorCode: TOPIC_FAILED, errorMessage: null });
        return false;
      }
      return true;
    });
    if (refused.length === 0) return next(req);
    const res: ResponseOf<'DeleteTopics'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, responses: [] };
    return { ...res, responses: [...res.responses, ...refused] };
  }),

  rule('CreatePartitions', async (req, a, next) => {
    const allowed = a.allowedNames(AclOperation.ALTER, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'CreatePartitions'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, results: [] };
    const refusedResults = refused.map((t) => ({ name: t.name, errorCode: TOPIC_FAILED, errorMessage: 'The topic authorization is failed.' }));
    return { ...res, results: [...res.results, ...refusedResults] };
  }),

  rule('DeleteRecords', async (req, a, next) => {
    const allowed = a.allowedNames(AclOperation.DELETE, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'DeleteRecords'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: TOPIC_FAILED })) }));
    return { ...res, topics: [...res.topics, ...refusedTopics] };
  }),

  rule('DescribeConfigs', async (req, a, next) => {
    const refusal = (r: { resourceType: number; resourceName: string }): number | null => {
      const target = configResource(r.resourceType, r.resourceName);
      return a.allowed(AclOperation.DESCRIBE_CONFIGS, target.type, target.name) ? null : target.error;
    };
    const codes = req.resources.map(refusal);
    if (codes.every((c) => c === null)) return next(req);
    const kept = req.resources.filter((_, i) => codes[i] === null);
    const res: ResponseOf<'DescribeConfigs'> = kept.length > 0 ? await next({ ...req, resources: kept }) : { throttleTimeMs: 0, results: [] };
    const answered = [...res.results];
    return {
      ...res,
      results: req.resources.map((r, i) => {
        const code = codes[i];
        if (code !== null) return { errorCode: code, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] };
        const at = answered.findIndex((x) => x.resourceType === r.resourceType && x.resourceName === r.resourceName);
        return at >= 0 ? answered.splice(at, 1)[0] : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no answer', resourceType: r.resourceType, resourceName: r.resourceName, configs: [] };
      }),
    };
  }),
  rule('AlterConfigs', (req, a, next) => alterConfigs(req, a, next)),
  rule('IncrementalAlterConfigs', (req, a, next) => alterConfigs(req, a, next)),

  rule('InitProducerId', (req, a, next) => {
    const refused = (errorCode: number): ResponseOf<'InitProducerId'> => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
    if (req.transactionalId !== null) {
      return a.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId) ? next(req) : refused(TXN_FAILED);
    }
    // Idempotence: IDEMPOTENT_WRITE on the cluster, or WRITE on any topic (KIP-679).
    const idempotent =
      a.authorizer.authorize(a.requester, { operation: AclOperation.IDEMPOTENT_WRITE, resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME, logIfAllowed: true, logIfDenied: false }) ||
      a.authorizer.authorizeByResourceType(a.requester, AclOperation.WRITE, ResourceType.TOPIC);
    return idempotent ? next(req) : refused(CLUSTER_FAILED);
  }),

  rule('AddPartitionsToTxn', async (req, a, next) => {
    if (a.apiVersion >= 4) {
      // Brokers verifying transactions (KIP-890): cluster action only.
      return a.cluster(AclOperation.CLUSTER_ACTION) ? next(req) : { throttleTimeMs: 0, errorCode: CLUSTER_FAILED, resultsByTransaction: [], resultsByTopicV3AndBelow: [] };
    }
    const results = (code: (topic: string) => number): ResponseOf<'AddPartitionsToTxn'>['resultsByTopicV3AndBelow'] =>
      req.v3AndBelowTopics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: code(t.name) })) }));
    if (!a.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.v3AndBelowTransactionalId)) {
      return { throttleTimeMs: 0, errorCode: 0, resultsByTransaction: [], resultsByTopicV3AndBelow: results(() => TXN_FAILED) };
    }
    const allowed = a.allowedNames(AclOperation.WRITE, ResourceType.TOPIC, req.v3AndBelowTopics.map((t) => t.name));
    if (req.v3AndBelowTopics.every((t) => allowed.has(t.name))) return next(req);
    // Nothing is added when any topic is refused; the others are OPERATION_NOT_ATTEMPTED.
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      resultsByTransaction: [],
      resultsByTopicV3AndBelow: results((topic) => (allowed.has(topic) ? ErrorCode.OPERATION_NOT_ATTEMPTED : TOPIC_FAILED)),
    };
  }),

  rule('AddOffsetsToTxn', (req, a, next) => {
    if (!a.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, errorCode: TXN_FAILED };
    if (!a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: GROUP_FAILED };
    return next(req);
  }),

  rule('EndTxn', (req, a, next) =>
    a.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId) ? next(req) : { throttleTimeMs: 0, errorCode: TXN_FAILED, producerId: -1, producerEpoch: -1 },
  ),

  rule('WriteTxnMarkers', (req, a, next) => {
    // CLUSTER_ACTION only (brokers' transaction coordinators send it); ALTER on the cluster is not enough.
    if (a.cluster(AclOperation.CLUSTER_ACTION)) return next(req);
    return {
      markers: req.markers.map((m) => ({
        producerId: m.producerId,
        topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: CLUSTER_FAILED })) })),
      })),
    };
  }),

  rule('TxnOffsetCommit', async (req, a, next) => {
    const allPartitions = (code: (topic: string) => number): ResponseOf<'TxnOffsetCommit'>['topics'] =>
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code(t.name) })) }));
    if (!a.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, topics: allPartitions(() => TXN_FAILED) };
    if (!a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, topics: allPartitions(() => GROUP_FAILED) };
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'TxnOffsetCommit'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_FAILED })) }));
    return { ...res, topics: [...res.topics, ...refusedTopics] };
  }),

  rule('DescribeAcls', (req, a, next) =>
    a.cluster(AclOperation.DESCRIBE) ? next(req) : { throttleTimeMs: 0, errorCode: CLUSTER_FAILED, errorMessage: 'Cluster authorization failed.', resources: [] },
  ),
  rule('CreateAcls', (req, a, next) =>
    a.cluster(AclOperation.ALTER) ? next(req) : { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: CLUSTER_FAILED, errorMessage: 'Cluster authorization failed.' })) },
  ),
  rule('DeleteAcls', (req, a, next) =>
    a.cluster(AclOperation.ALTER)
      ? next(req)
      : { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode: CLUSTER_FAILED, errorMessage: 'Cluster authorization failed.', matchingAcls: [] })) },
  ),

  rule('DescribeCluster', async (req, a, next) => {
    const res = await next(req);
    if (!req.includeClusterAuthorizedOperations) return res;
    const ops = a.cluster(AclOperation.DESCRIBE) ? a.authorizer.authorizedOperations(a.requester, ResourceType.CLUSTER, CLUSTER_NAME) : 0;
    return { ...res, clusterAuthorizedOperations: ops };
  }),

  rule('DescribeLogDirs', (req, a, next) => (a.cluster(AclOperation.DESCRIBE) ? next(req) : { throttleTimeMs: 0, errorCode: CLUSTER_FAILED, results: [] })),
  // Kafka checks DESCRIBE_CONFIGS on the cluster (not DESCRIBE) and answers getErrorResponse: no entries.
  rule('DescribeClientQuotas', (req, a, next) =>
    a.cluster(AclOperation.DESCRIBE_CONFIGS) ? next(req) : { throttleTimeMs: 0, errorCode: CLUSTER_FAILED, errorMessage: 'Cluster authorization failed.', entries: null },
  ),

  rule('ElectLeaders', (req, a, next) => {
    if (a.cluster(AclOperation.ALTER)) return next(req);
    return {
      throttleTimeMs: 0,
      errorCode: CLUSTER_FAILED,
      replicaElectionResults: (req.topicPartitions ?? []).map((t) => ({
        topic: t.topic,
        partitionResult: t.partitionId.map((partitionId) => ({ partitionId, errorCode: CLUSTER_FAILED, errorMessage: null })),
      })),
    };
  }),

  rule('DescribeProducers', async (req, a, next) => {
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, req.topics.map((t) => t.name));
    const refused = req.topics.filter((t) => !allowed.has(t.name));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.name));
    const res: ResponseOf<'DescribeProducers'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, topics: [] };
    const refusedTopics = refused.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: TOPIC_FAILED, errorMessage: null, activeProducers: [] })),
    }));
    return { ...res, topics: [...res.topics, ...refusedTopics] };
  }),

  rule('DescribeTransactions', async (req, a, next) => {
    const refused = req.transactionalIds.filter((id) => !a.allowed(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, id));
    const kept = req.transactionalIds.filter((id) => !refused.includes(id));
    const res: ResponseOf<'DescribeTransactions'> = kept.length > 0 ? await next({ ...req, transactionalIds: kept }) : { throttleTimeMs: 0, transactionStates: [] };
    // Only the partitions of topics the principal may describe.
    const states = res.transactionStates.map((s) => {
      const allowed = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, s.topics.map((t) => t.topic), false);
      return { ...s, topics: s.topics.filter((t) => allowed.has(t.topic)) };
    });
    const refusedStates = refused.map((transactionalId) => ({
      errorCode: TXN_FAILED,
      transactionalId,
      transactionState: '',
      transactionTimeoutMs: 0,
      transactionStartTimeMs: -1,
      producerId: -1,
      producerEpoch: -1,
      topics: [],
    }));
    return { ...res, transactionStates: inRequestOrder([...states, ...refusedStates], (s) => s.transactionalId, req.transactionalIds) };
  }),

  // Share group offsets (KIP-932), as KafkaApis checks them: DESCRIBE on group and topics to
  // describe, READ on both to alter, DELETE on the group and READ on the topics to delete.
  rule('DescribeShareGroupOffsets', async (req, a, next) => {
    type Group = ResponseOf<'DescribeShareGroupOffsets'>['groups'][number];
    const refusedGroups = new Set(req.groups.filter((g) => !a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId)).map((g) => g.groupId));
    const allowedTopics = a.allowedNames(
      AclOperation.DESCRIBE,
      ResourceType.TOPIC,
      req.groups.flatMap((g) => (refusedGroups.has(g.groupId) ? [] : (g.topics ?? []).map((t) => t.topicName))),
    );
    const kept = req.groups
      .filter((g) => !refusedGroups.has(g.groupId))
      .map((g) => ({ ...g, topics: g.topics === null ? null : g.topics.filter((t) => allowedTopics.has(t.topicName)) }));
    const res: ResponseOf<'DescribeShareGroupOffsets'> = kept.length > 0 ? await next({ ...req, groups: kept }) : { throttleTimeMs: 0, groups: [] };
    const asked = new Map(req.groups.map((g) => [g.groupId, g.topics]));
    const groups: Group[] = res.groups.map((g) => {
      const wanted = asked.get(g.groupId) ?? null;
      if (g.errorCode !== ErrorCode.NONE) return g;
      if (wanted === null) {
        // All the group's topics: only those the principal may describe, without a log line.
        const visible = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, g.topics.map((t) => t.topicName), false);
        return { ...g, topics: g.topics.filter((t) => visible.has(t.topicName)) };
      }
      const refused = wanted
        .filter((t) => !allowedTopics.has(t.topicName))
        .map((t) => ({
          topicName: t.topicName,
          topicId: ZERO_UUID,
          partitions: t.partitions.map((partitionIndex) => ({ partitionIndex, startOffset: -1, leaderEpoch: -1, lag: -1, errorCode: TOPIC_FAILED, errorMessage: null })),
        }));
      return { ...g, topics: [...g.topics, ...refused] };
    });
    for (const groupId of refusedGroups) groups.push({ groupId, topics: [], errorCode: GROUP_FAILED, errorMessage: null });
    return { ...res, groups: inRequestOrder(groups, (g) => g.groupId, req.groups.map((g) => g.groupId)) };
  }),

  rule('AlterShareGroupOffsets', async (req, a, next) => {
    if (!a.allowed(AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: GROUP_FAILED, errorMessage: null, responses: [] };
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, req.topics.map((t) => t.topicName));
    const refused = req.topics.filter((t) => !allowed.has(t.topicName));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.topicName));
    const res: ResponseOf<'AlterShareGroupOffsets'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, errorCode: 0, errorMessage: null, responses: [] };
    const refusedTopics = refused.map((t) => ({
      topicName: t.topicName,
      topicId: ZERO_UUID,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: TOPIC_FAILED, errorMessage: null })),
    }));
    return { ...res, responses: [...res.responses, ...refusedTopics] };
  }),

  rule('DeleteShareGroupOffsets', async (req, a, next) => {
    if (!a.allowed(AclOperation.DELETE, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: GROUP_FAILED, errorMessage: null, responses: [] };
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, req.topics.map((t) => t.topicName));
    const refused = req.topics.filter((t) => !allowed.has(t.topicName));
    if (refused.length === 0) return next(req);
    const kept = req.topics.filter((t) => allowed.has(t.topicName));
    const res: ResponseOf<'DeleteShareGroupOffsets'> = kept.length > 0 ? await next({ ...req, topics: kept }) : { throttleTimeMs: 0, errorCode: 0, errorMessage: null, responses: [] };
    const refusedTopics = refused.map((t) => ({ topicName: t.topicName, topicId: ZERO_UUID, errorCode: TOPIC_FAILED, errorMessage: null }));
    return { ...res, responses: [...res.responses, ...refusedTopics] };
  }),

  rule('ListTransactions', async (req, a, next) => {
    const res = await next(req);
    return { ...res, transactionStates: res.transactionStates.filter((s) => a.allowed(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, s.transactionalId, false)) };
  }),
]);

/** AlterConfigs and IncrementalAlterConfigs: ALTER_CONFIGS on each resource, answered in request order. */
async function alterConfigs<Req extends { resources: Array<{ resourceType: number; resourceName: string }> }>(
  req: Req,
  a: Authz,
  next: Next<Req, { throttleTimeMs: number; responses: Array<{ errorCode: number; errorMessage?: string | null; resourceType: number; resourceName: string }> }>,
): Promise<{ throttleTimeMs: number; responses: Array<{ errorCode: number; errorMessage?: string | null; resourceType: number; resourceName: string }> }> {
  const codes = req.resources.map((r) => {
    const target = configResource(r.resourceType, r.resourceName);
    return a.allowed(AclOperation.ALTER_CONFIGS, target.type, target.name) ? null : target.error;
  });
  if (codes.every((c) => c === null)) return next(req);
  const kept = req.resources.filter((_, i) => codes[i] === null);
  const res = kept.length > 0 ? await next({ ...req, resources: kept }) : { throttleTimeMs: 0, responses: [] };
  const answered = [...res.responses];
  return {
    ...res,
    responses: req.resources.map((r, i) => {
      const code = codes[i];
      if (code !== null) return { errorCode: code, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName };
      const at = answered.findIndex((x) => x.resourceType === r.resourceType && x.resourceName === r.resourceName);
      return at >= 0 ? answered.splice(at, 1)[0] : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no answer', resourceType: r.resourceType, resourceName: r.resourceName };
    }),
  };
}

/** APIs every connection may use before and without authorization (Kafka checks none). */
const OPEN_APIS: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

/**
 * SCRAM credential administration (KIP-554), by key: DESCRIBE / ALTER on the cluster, answered
 * as Kafka's getErrorResponse does (their message types belong to the SASL room).
 */
const SCRAM_RULES = new Map<number, AnyRule>([
  [
    ApiKey.DescribeUserScramCredentials,
    (req, a, next) => (a.cluster(AclOperation.DESCRIBE) ? next(req) : { throttleTimeMs: 0, errorCode: CLUSTER_FAILED, errorMessage: 'Cluster authorization failed.', results: [] }),
  ],
  [
    ApiKey.AlterUserScramCredentials,
    (req, a, next) => {
      if (a.cluster(AclOperation.ALTER)) return next(req);
      const body = req as { deletions?: Array<{ name: string }>; upsertions?: Array<{ name: string }> };
      const users = new Set([...(body.deletions ?? []), ...(body.upsertions ?? [])].map((u) => u.name));
      return { throttleTimeMs: 0, results: [...users].map((user) => ({ user, errorCode: CLUSTER_FAILED, errorMessage: 'Cluster authorization failed.' })) };
    },
  ],
]);

/** What the share-group rules read of their requests (KIP-932; the message types belong to the share-group room). */
interface ShareTopics {
  groupId: string | null;
  topics: Array<{ topicId: string; partitions: Array<{ partitionIndex: number }> }>;
}

/** ShareFetch / ShareAcknowledge: READ on the group, then READ on each topic (by id). */
function shareTopicsRule(refusedPartition: (partitionIndex: number) => object): AnyRule {
  return async (req, a, next) => {
    const body = req as ShareTopics;
    if (body.groupId !== null && !a.allowed(AclOperation.READ, ResourceType.GROUP, body.groupId)) {
      return { throttleTimeMs: 0, errorCode: GROUP_FAILED, errorMessage: null, acquisitionLockTimeoutMs: 0, responses: [], nodeEndpoints: [] };
    }
    const nameOf = (topicId: string): string | undefined => a.services.metadata.topicById(topicId)?.name;
    const allowed = a.allowedNames(AclOperation.READ, ResourceType.TOPIC, body.topics.flatMap((t) => nameOf(t.topicId) ?? []));
    const isAllowed = (t: { topicId: string }): boolean => {
      const name = nameOf(t.topicId);
      return name === undefined || allowed.has(name);
    };
    const refused = body.topics.filter((t) => !isAllowed(t));
    if (refused.length === 0) return next(req);
    const res = (await next({ ...body, topics: body.topics.filter(isAllowed) })) as { responses: object[] };
    return { ...res, responses: [...res.responses, ...refused.map((t) => ({ topicId: t.topicId, partitions: t.partitions.map((p) => refusedPartition(p.partitionIndex)) }))] };
  };
}

const noLeader = { leaderId: -1, leaderEpoch: -1 };

/** ConsumerGroupHeartbeat (KIP-848) and ShareGroupHeartbeat (KIP-932): READ on the group, DESCRIBE on the subscribed topics. */
const groupHeartbeatRule: AnyRule = (req, a, next) => {
  const body = req as { groupId: string; subscribedTopicNames?: string[] | null };
  const refused = { throttleTimeMs: 0, errorMessage: null, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
  if (!a.allowed(AclOperation.READ, ResourceType.GROUP, body.groupId)) return { ...refused, errorCode: GROUP_FAILED };
  const topics = body.subscribedTopicNames ?? [];
  if (a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, topics).size < new Set(topics).size) return { ...refused, errorCode: TOPIC_FAILED };
  return next(req);
};

/** What the describe rules read of a described group (ConsumerGroupDescribe, ShareGroupDescribe). */
interface DescribedGroupView {
  groupId: string;
  errorCode: number;
  members?: Array<{ assignment?: { topicPartitions: Array<{ topicName: string }> }; targetAssignment?: { topicPartitions: Array<{ topicName: string }> } }>;
}

/**
 * ConsumerGroupDescribe and ShareGroupDescribe: DESCRIBE on each group; then, as KafkaApis does
 * ("clients are not allowed to see topics that are not authorized for Describe"), a group whose
 * members' assignment or target assignment names a topic the principal may not describe is
 * answered TOPIC_AUTHORIZATION_FAILED, without members.
 */
const groupDescribeRule: AnyRule = async (req, a, next) => {
  const body = req as { groupIds: string[] };
  const failedGroup = (groupId: string, errorCode: number, errorMessage: string | null): object => ({
    errorCode,
    errorMessage,
    groupId,
    groupState: '',
    groupEpoch: -1,
    assignmentEpoch: -1,
    assignorName: '',
    members: [],
  });
  const refused = body.groupIds.filter((g) => !a.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, g));
  const kept = body.groupIds.filter((g) => !refused.includes(g));
  const res = (kept.length > 0 ? await next(refused.length === 0 ? req : { ...body, groupIds: kept }) : { throttleTimeMs: 0, groups: [] }) as { groups: DescribedGroupView[] };
  const topicsOf = (g: DescribedGroupView): string[] =>
    (g.members ?? []).flatMap((m) => [...(m.assignment?.topicPartitions ?? []), ...(m.targetAssignment?.topicPartitions ?? [])].map((tp) => tp.topicName));
  const describable = a.allowedNames(AclOperation.DESCRIBE, ResourceType.TOPIC, res.groups.flatMap(topicsOf));
  const groups = res.groups.map((g) =>
    topicsOf(g).every((topic) => describable.has(topic))
      ? g
      : failedGroup(g.groupId, TOPIC_FAILED, 'The group has described topic(s) that the client is not authorized to describe.'),
  );
  return { ...res, groups: [...groups, ...refused.map((groupId) => failedGroup(groupId, GROUP_FAILED, null))] };
};

/** The new group protocols, by key (their message types belong to the group rooms): Kafka's checks, in each response's shape. */
const GROUP_PROTOCOL_RULES = new Map<number, AnyRule>([
  [ApiKey.ConsumerGroupHeartbeat, groupHeartbeatRule],
  [ApiKey.ConsumerGroupDescribe, groupDescribeRule],
  [ApiKey.ShareGroupHeartbeat, groupHeartbeatRule],
  [ApiKey.ShareGroupDescribe, groupDescribeRule],
  [
    ApiKey.ShareFetch,
    shareTopicsRule((partitionIndex) => ({
      partitionIndex,
      errorCode: TOPIC_FAILED,
      errorMessage: null,
      acknowledgeErrorCode: 0,
      acknowledgeErrorMessage: null,
      currentLeader: noLeader,
      records: null,
      acquiredRecords: [],
    })),
  ],
  [ApiKey.ShareAcknowledge, shareTopicsRule((partitionIndex) => ({ partitionIndex, errorCode: TOPIC_FAILED, errorMessage: null, currentLeader: noLeader }))],
]);

/** The share coordinator's RPCs (keys 83-87): CLUSTER_ACTION only (brokers send them); refused, every partition answers CLUSTER_AUTHORIZATION_FAILED. */
const SHARE_STATE_RULES = new Map<number, AnyRule>(
  [...SHARE_STATE_API_KEYS].map((apiKey): [number, AnyRule] => [
    apiKey,
    (req, a, next) => (a.cluster(AclOperation.CLUSTER_ACTION) ? next(req) : refuseShareState(req as Parameters<typeof refuseShareState>[0], apiKey, CLUSTER_FAILED)),
  ]),
);

/**
 * An API without a rule here (added after this layer was written) is not left open: it needs ALTER
 * on the cluster, and a request refused is answered by closing the connection.
 */
const unknownApiRule: AnyRule = (req, a, next) => {
  if (a.cluster(AclOperation.ALTER)) return next(req);
  throw new KafkaError(CLUSTER_FAILED, `${a.requester.api} has no authorization rule; only principals with ALTER on the cluster may use it`);
};

function authzFor(authorizer: AclAuthorizer, ctx: RequestContext): Authz {
  const requester: Requester = { principal: ctx.security.principal, host: clientAddress(ctx.clientHost), api: apiName(ctx.apiKey) };
  const allowed = (operation: AclOperation, resourceType: ResourceType, resourceName: string, logIfDenied = true): boolean =>
    authorizer.authorize(requester, { operation, resourceType, resourceName, logIfDenied });
  return {
    authorizer,
    requester,
    services: ctx.services,
    apiVersion: ctx.apiVersion,
    allowed,
    cluster: (operation, logIfDenied = true) => allowed(operation, ResourceType.CLUSTER, CLUSTER_NAME, logIfDenied),
    allowedNames: (operation, resourceType, names, logIfDenied = true) => {
      const out = new Set<string>();
      for (const name of new Set(names)) if (allowed(operation, resourceType, name, logIfDenied)) out.add(name);
      return out;
    },
  };
}

/** The authorizers built per broker (services), so handlers and the layer share one. */
const authorizers = new WeakMap<ApiServices, AclAuthorizer | null>();

/** This broker's ACL authorizer, or null when authorizer.class.name is empty. */
export function authorizerOf(services: ApiServices): AclAuthorizer | null {
  let authorizer = authorizers.get(services);
  if (authorizer === undefined) {
    authorizer = authorizerFromConfig(services.config, services.metadata, services.logger.child({ logger: 'kafka.authorizer.logger' }));
    authorizers.set(services, authorizer);
  }
  return authorizer;
}

/**
 * The dispatcher's registration wrapper: each handler runs behind its API's authorization rule.
 * Null when the broker runs without an authorizer (every request allowed, as before).
 */
export function authorizationLayer(services: ApiServices): ((registration: ApiRegistration) => ApiRegistration) | null {
  const authorizer = authorizerOf(services);
  if (authorizer === null) return null;
  return (registration) => {
    if (OPEN_APIS.has(registration.apiKey)) return registration;
    const check = RULES.get(registration.apiKey) ?? SCRAM_RULES.get(registration.apiKey) ?? GROUP_PROTOCOL_RULES.get(registration.apiKey) ?? SHARE_STATE_RULES.get(registration.apiKey) ?? unknownApiRule;
    const inner = registration.handler as Handler;
    const handler: Handler = (req, ctx) => Promise.resolve(check(req, authzFor(authorizer, ctx), (r) => Promise.resolve(inner(r, ctx))));
    return { ...registration, handler };
  };
}
