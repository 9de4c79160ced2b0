// api/ room: Metadata — this broker leads every partition (leader epoch 0, replicas = isr = [node]);
// unknown topics are auto-created when auto.create.topics.enable and the client allows it.
import { INTERNAL_TOPICS, LogError, topicNameProblem, type Topic } from '../log/index.js';
import { ErrorCode, ZERO_UUID } from '../protocol/index.js';
import type { MetadataRequest, MetadataResponse } from '../protocol/messages/metadata.js';
import type { Broker } from '../broker.js';
import { toApiError } from './errors.js';
import type { RequestContext } from './types.js';

type TopicOut = MetadataResponse['topics'][number];

export function describeTopicPartitions(broker: Broker, topic: Topic): TopicOut {
  const node = broker.nodeId;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.internal,
    partitions: topic.logs.map((_, partitionIndex) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex,
      leaderId: node,
      leaderEpoch: 0,
      replicaNodes: [node],
      isrNodes: [node],
      offlineReplicas: [],
    })),
  };
}

function topicError(errorCode: number, name: string | null, topicId = ZERO_UUID): TopicOut {
  return { errorCode, name, topicId, isInternal: false, partitions: [] };
}

/** Creates a topic for a client that asked for it by name; internal topics get their own settings. */
export async function autoCreateTopic(broker: Broker, name: string): Promise<Topic> {
  if (name === '__consumer_offsets') {
    return broker.logManager.getOrCreateInternalTopic(name, broker.config.getNumber('offsets.topic.num.partitions'), {
      'segment.bytes': String(broker.config.getNumber('offsets.topic.segment.bytes')),
    });
  }
  return broker.logManager.createTopic(name, broker.config.getNumber('num.partitions'), {});
}

export async function handleMetadata(req: MetadataRequest, ctx: RequestContext): Promise<MetadataResponse> {
  const broker = ctx.broker;
  const lm = broker.logManager;
  const topics: TopicOut[] = [];
  // v0: an empty list means all topics; v1+: null means all topics.
  const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
  if (all) {
    for (const topic of lm.allTopics()) topics.push(describeTopicPartitions(broker, topic));
  } else {
    const allowAuto = broker.config.getBoolean('auto.create.topics.enable') && (ctx.apiVersion < 4 || req.allowAutoTopicCreation);
    for (const wanted of req.topics ?? []) {
      if (wanted.name === null) {
        const topic = lm.getTopicById(wanted.topicId);
        topics.push(topic ? describeTopicPartitions(broker, topic) : topicError(ErrorCode.UNKNOWN_TOPIC_ID, null, wanted.topicId));
        continue;
      }
      const existing = lm.getTopic(wanted.name);
      if (existing) {
        topics.push(describeTopicPartitions(broker, existing));
        continue;
      }
      if (topicNameProblem(wanted.name) !== null) {
        topics.push(topicError(ErrorCode.INVALID_TOPIC_EXCEPTION, wanted.name));
        continue;
      }
      if (!allowAuto && !INTERNAL_TOPICS.has(wanted.name)) {
        topics.push(topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, wanted.name));
        continue;
      }
      try {
        topics.push(describeTopicPartitions(broker, await autoCreateTopic(broker, wanted.name)));
      } catch (err) {
        const info = toApiError(err);
        if (info.unexpected) broker.logger.error({ err, topic: wanted.name }, 'auto-creating topic failed');
        // Kafka answers a topic it could not create (yet) with LEADER_NOT_AVAILABLE, a retriable code.
        const created = lm.getTopic(wanted.name);
        if (created) topics.push(describeTopicPartitions(broker, created));
        else topics.push(topicError(err instanceof LogError ? info.code : ErrorCode.LEADER_NOT_AVAILABLE, wanted.name));
      }
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, rack: null }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
    errorCode: ErrorCode.NONE,
  };
}
