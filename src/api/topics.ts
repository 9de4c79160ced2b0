// api/ room: CreateTopics, DeleteTopics (by name and by id) and CreatePartitions. One broker:
// replication factor 1 only, no manual assignments beyond [thisNode].
import { INTERNAL_TOPICS, LogError, LogErrorCode } from '../log/index.js';
import { ErrorCode, ZERO_UUID } from '../protocol/index.js';
import type { Broker } from '../broker.js';
import { toApiError } from './errors.js';
import type { RequestContext } from './types.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/messages/create-partitions.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/messages/create-topics.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/messages/delete-topics.js';

type CreatableTopicResult = CreateTopicsResponse['topics'][number];
type DeletableTopicResult = DeleteTopicsResponse['responses'][number];

function validateReplication(broker: Broker, replicationFactor: number, assignments: Array<{ partitionIndex: number; brokerIds: number[] }>): LogError | null {
  if (assignments.length > 0) {
    if (replicationFactor !== -1) {
      return new LogError(LogErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.');
    }
    for (const a of assignments) {
      if (a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.nodeId) {
        return new LogError(LogErrorCode.INVALID_REPLICATION_FACTOR, `Replica assignment for partition ${a.partitionIndex} must be [${broker.nodeId}] on this single-broker cluster.`);
      }
    }
    return null;
  }
  if (replicationFactor !== -1 && replicationFactor !== 1) {
    return new LogError(LogErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only 1 broker(s) are registered.`);
  }
  return null;
}

export async function handleCreateTopics(req: CreateTopicsRequest, ctx: RequestContext): Promise<CreateTopicsResponse> {
  const broker = ctx.broker;
  const seen = new Map<string, number>();
  for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  const results: CreatableTopicResult[] = [];
  for (const t of req.topics) {
    const fail = (errorCode: number, errorMessage: string): void => {
      results.push({ name: t.name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null });
    };
    if ((seen.get(t.name) ?? 0) > 1) {
      fail(ErrorCode.INVALID_REQUEST, `Create topics request from client contains duplicate topic name ${t.name}`);
      continue;
    }
    const replicationProblem = validateReplication(broker, t.replicationFactor, t.assignments);
    if (replicationProblem) {
      fail(replicationProblem.code, replicationProblem.message);
      continue;
    }
    const numPartitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? broker.config.getNumber('num.partitions') : t.numPartitions;
    const configs: Record<string, string | null> = {};
    for (const c of t.configs) configs[c.name] = c.value;
    try {
      const topic = await broker.logManager.createTopic(t.name, numPartitions, configs, {
        validateOnly: req.validateOnly,
        internal: INTERNAL_TOPICS.has(t.name),
      });
      const described = broker.config.describeTopic(topic.configs, false, false);
      results.push({
        name: t.name,
        topicId: req.validateOnly ? ZERO_UUID : topic.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions,
        replicationFactor: 1,
        configs: described.map((d) => ({ name: d.name, value: d.value, readOnly: d.readOnly, configSource: d.source, isSensitive: d.sensitive })),
      });
    } catch (err) {
      const info = toApiError(err);
      if (info.unexpected) broker.logger.error({ err, topic: t.name }, 'CreateTopics failed');
      fail(info.code, info.message);
    }
  }
  return { throttleTimeMs: 0, topics: results };
}

export async function handleDeleteTopics(req: DeleteTopicsRequest, ctx: RequestContext): Promise<DeleteTopicsResponse> {
  const broker = ctx.broker;
  const lm = broker.logManager;
  // v0-5 name topics in topicNames; v6+ in topics, by name or by id.
  const wanted = ctx.apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
  const responses: DeletableTopicResult[] = [];
  for (const w of wanted) {
    const byId = w.name === null;
    const topic = byId ? lm.getTopicById(w.topicId) : lm.getTopic(w.name as string);
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
      await lm.deleteTopic(topic.name);
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const info = toApiError(err);
      if (info.unexpected) broker.logger.error({ err, topic: topic.name }, 'DeleteTopics failed');
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode: info.code, errorMessage: info.message });
    }
  }
  return { throttleTimeMs: 0, responses };
}

export async function handleCreatePartitions(req: CreatePartitionsRequest, ctx: RequestContext): Promise<CreatePartitionsResponse> {
  const broker = ctx.broker;
  const results: CreatePartitionsResponse['results'] = [];
  for (const t of req.topics) {
    if (t.assignments !== null && t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.nodeId)) {
      results.push({ name: t.name, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: `Assignments must be [${broker.nodeId}] on this single-broker cluster.` });
      continue;
    }
    try {
      await broker.logManager.createPartitions(t.name, t.count, req.validateOnly);
      results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const info = toApiError(err);
      if (info.unexpected) broker.logger.error({ err, topic: t.name }, 'CreatePartitions failed');
      results.push({ name: t.name, errorCode: info.code, errorMessage: info.message });
    }
  }
  return { throttleTimeMs: 0, results };
}
