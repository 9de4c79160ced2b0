// api/ room: CreateTopics, DeleteTopics (by name and by id) and CreatePartitions, written through
// the metadata store (the controller), which validates them and publishes the change.
import { INTERNAL_TOPICS, MAX_PARTITIONS_PER_REQUEST, excessivePartitions, requestedPartitionCount } from '../cluster/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { ApiKey, ZERO_UUID } from '../protocol/index.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/messages/create-partitions.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/messages/create-topics.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/messages/delete-topics.js';
import { errorResponse, type ApiErrorInfo } from './errors.js';
import type { ApiServices } from './services.js';
import { defineApi, type RequestContext } from './types.js';

type CreatableTopicResult = CreateTopicsResponse['topics'][number];
type DeletableTopicResult = DeleteTopicsResponse['responses'][number];

/** Manual assignments must name registered brokers, one replica per broker. */
function assignmentProblem(services: ApiServices, assignments: Array<{ partitionIndex: number; brokerIds: number[] }>): string | null {
  const registered = new Set(services.metadata.brokers().map((b) => b.nodeId));
  for (const a of assignments) {
    if (a.brokerIds.length === 0 || new Set(a.brokerIds).size !== a.brokerIds.length || a.brokerIds.some((id) => !registered.has(id))) {
      return `Replica assignment for partition ${a.partitionIndex} must name distinct registered brokers [${[...registered].join(', ')}].`;
    }
  }
  return null;
}

/**
 * Whether `err` (or its cause) is the process running out of file descriptors (EMFILE, ENFILE),
 * from the TS engine, the native addon ("os error 24") or the broker's own files.
 */
function isFdExhaustion(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE' || /\bE[MN]FILE\b|too many open files|os error 2[34]\b/i.test(e.message)) return true;
  }
  return false;
}

/**
 * Creating logs ran out of file descriptors: KAFKA_STORAGE_ERROR (what Kafka answers when a log
 * cannot be created in its log directory), with a message that names the cause and what to do.
 */
function fdExhaustionError(err: unknown, topic: string, rolledBack: boolean): ApiErrorInfo {
  const detail = err instanceof Error ? err.message : String(err);
  return {
    code: ErrorCode.KAFKA_STORAGE_ERROR,
    message:
      `Could not create the logs of topic ${topic}: the broker ran out of file descriptors (${detail})` +
      `${rolledBack ? '; the creation was rolled back' : ''}. Raise the open-file limit (ulimit -n) or create fewer partitions.`,
  };
}

export async function handleCreateTopics(req: CreateTopicsRequest, ctx: RequestContext): Promise<CreateTopicsResponse> {
  const services = ctx.services;
  const seen = new Map<string, number>();
  for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  // Kafka's controller counts the partitions of the whole request (duplicates set aside) before
  // anything else and refuses every topic of it above the bound: nothing is created.
  const unique = req.topics.filter((t) => seen.get(t.name) === 1);
  if (requestedPartitionCount(unique, services.config.getNumber('num.partitions')) > MAX_PARTITIONS_PER_REQUEST) {
    const refused = excessivePartitions();
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name, topicId: ZERO_UUID, errorCode: refused.code, errorMessage: refused.message, numPartitions: -1, replicationFactor: -1, configs: null,
      })),
    };
  }
  const results: CreatableTopicResult[] = [];
  for (const t of req.topics) {
    const fail = (errorCode: number, errorMessage: string): void => {
      results.push({ name: t.name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null });
    };
    if ((seen.get(t.name) ?? 0) > 1) {
      fail(ErrorCode.INVALID_REQUEST, `Create topics request from client contains duplicate topic name ${t.name}`);
      continue;
    }
    let replicationFactor = t.replicationFactor;
    if (t.assignments.length > 0) {
      if (t.replicationFactor !== -1) {
        fail(ErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.');
        continue;
      }
      const problem = assignmentProblem(services, t.assignments);
      if (problem !== null) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, problem);
        continue;
      }
      replicationFactor = t.assignments[0].brokerIds.length;
    }
    const numPartitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? services.config.getNumber('num.partitions') : t.numPartitions;
    const configs: Record<string, string | null> = {};
    for (const c of t.configs) configs[c.name] = c.value;
    try {
      const topic = await services.metadata.createTopic(
        { name: t.name, partitions: numPartitions, replicationFactor, configs, internal: INTERNAL_TOPICS.has(t.name) },
        { validateOnly: req.validateOnly },
      );
      const described = services.config.describeTopic(topic.configs, false, false);
      results.push({
        name: t.name,
        topicId: req.validateOnly ? ZERO_UUID : topic.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions,
        replicationFactor: topic.partitions[0]?.replicas.length ?? 1,
        configs: described.map((d) => ({ name: d.name, value: d.value, readOnly: d.readOnly, configSource: d.source, isSensitive: d.sensitive })),
      });
    } catch (err) {
      const logged = errorResponse(ctx, err, 'CreateTopics', { topic: t.name });
      const info = isFdExhaustion(err) ? fdExhaustionError(err, t.name, true) : logged;
      fail(info.code, info.message);
    }
  }
  return { throttleTimeMs: 0, topics: results };
}

export async function handleDeleteTopics(req: DeleteTopicsRequest, ctx: RequestContext): Promise<DeleteTopicsResponse> {
  const { metadata } = ctx.services;
  // v0-5 name topics in topicNames; v6+ in topics, by name or by id.
  const wanted = ctx.apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
  const responses: DeletableTopicResult[] = [];
  for (const w of wanted) {
    const byId = w.name === null;
    const topic = byId ? metadata.topicById(w.topicId) : metadata.topic(w.name ?? '');
    if (!topic) {
      responses.push({
        name: w.name,
        topicId: w.topicId,
        errorCode: byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: byId ? `Topic id ${w.topicId} does not exist.` : `Topic '${w.name}' does not exist.`,
      });
      continue;
    }
    try {
      await metadata.deleteTopic(topic.name);
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const info = errorResponse(ctx, err, 'DeleteTopics', { topic: topic.name });
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode: info.code, errorMessage: info.message });
    }
  }
  return { throttleTimeMs: 0, responses };
}

export async function handleCreatePartitions(req: CreatePartitionsRequest, ctx: RequestContext): Promise<CreatePartitionsResponse> {
  const services = ctx.services;
  // The partitions the request adds in all (to topics that exist, growing): above Kafka's bound
  // every topic is refused before any is touched, as CreateTopics is.
  let added = 0;
  for (const t of req.topics) {
    const current = services.metadata.topic(t.name)?.partitions.length;
    if (current !== undefined && t.count > current) added += t.count - current;
  }
  if (added > MAX_PARTITIONS_PER_REQUEST) {
    const refused = excessivePartitions();
    return { throttleTimeMs: 0, results: req.topics.map((t) => ({ name: t.name, errorCode: refused.code, errorMessage: refused.message })) };
  }
  const results: CreatePartitionsResponse['results'] = [];
  for (const t of req.topics) {
    try {
      if (t.assignments !== null) {
        const problem = assignmentProblem(
          services,
          t.assignments.map((a, i) => ({ partitionIndex: i, brokerIds: a.brokerIds })),
        );
        if (problem !== null) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
      }
      await services.metadata.createPartitions(t.name, t.count, { validateOnly: req.validateOnly });
      results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const logged = errorResponse(ctx, err, 'CreatePartitions', { topic: t.name });
      const info = isFdExhaustion(err) ? fdExhaustionError(err, t.name, false) : logged;
      results.push({ name: t.name, errorCode: info.code, errorMessage: info.message });
    }
  }
  return { throttleTimeMs: 0, results };
}

export const createTopicsApi = defineApi({ apiKey: ApiKey.CreateTopics, handler: handleCreateTopics });
export const deleteTopicsApi = defineApi({ apiKey: ApiKey.DeleteTopics, handler: handleDeleteTopics });
export const createPartitionsApi = defineApi({ apiKey: ApiKey.CreatePartitions, handler: handleCreatePartitions });
