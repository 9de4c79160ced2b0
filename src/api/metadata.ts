// api/ room: Metadata — topics with their partition state (leader, leader epoch, replicas, ISR)
// as the metadata store holds it, and the brokers clients may reach. Unknown topics are
// auto-created when auto.create.topics.enable and the client allows it.
import { INTERNAL_TOPICS, brokerEndpoint, topicNameProblem, type TopicImage } from '../cluster/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { ApiKey, ZERO_UUID } from '../protocol/index.js';
import type { MetadataRequest, MetadataResponse } from '../protocol/messages/metadata.js';
import { errorResponse } from './errors.js';
import type { ApiServices } from './services.js';
import { defineApi, type RequestContext } from './types.js';

type TopicOut = MetadataResponse['topics'][number];

/** The listener a Metadata request came in on, and its version. */
export interface MetadataListenerView {
  listenerName: string;
  apiVersion: number;
}

/**
 * A topic's partitions as Metadata answers them. With the request's listener: a partition whose
 * leader is registered but has no endpoint on that listener has no leader for this client (-1), with
 * LISTENER_NOT_FOUND from Metadata v6 and LEADER_NOT_AVAILABLE before, as Kafka's MetadataCache.
 */
export function describeTopicPartitions(services: ApiServices, topic: TopicImage, listener?: MetadataListenerView): TopicOut {
  const brokers = services.metadata.brokers();
  const live = new Set(brokers.map((b) => b.nodeId));
  const unreachable = new Set(listener === undefined ? [] : brokers.filter((b) => brokerEndpoint(b, listener.listenerName) === null).map((b) => b.nodeId));
  const noListener = (listener?.apiVersion ?? 0) >= 6 ? ErrorCode.LISTENER_NOT_FOUND : ErrorCode.LEADER_NOT_AVAILABLE;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.internal,
    partitions: topic.partitions.map((p) => {
      const hidden = unreachable.has(p.leader);
      return {
        errorCode: hidden ? noListener : p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p.partition,
        leaderId: hidden ? -1 : p.leader,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: [...p.replicas],
        isrNodes: [...p.isr],
        offlineReplicas: p.replicas.filter((r) => !live.has(r)),
      };
    }),
  };
}

function topicError(errorCode: number, name: string | null, topicId = ZERO_UUID): TopicOut {
  return { errorCode, name, topicId, isInternal: false, partitions: [] };
}

/** Creates a topic for a client that asked for it by name; internal topics get their own settings. */
export async function autoCreateTopic(services: ApiServices, name: string): Promise<TopicImage> {
  const { config, metadata } = services;
  const existing = metadata.topic(name);
  if (existing) return existing;
  try {
    if (name === '__consumer_offsets') {
      return await metadata.createTopic({
        name,
        partitions: config.getNumber('offsets.topic.num.partitions'),
        replicationFactor: -1,
        configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(config.getNumber('offsets.topic.segment.bytes')) },
        internal: true,
      });
    }
    if (name === '__transaction_state') {
      // As Kafka: compacted, min.insync.replicas from transaction.state.log.min.isr (at most the replication factor).
      const replicas = Math.max(1, Math.min(config.getNumber('transaction.state.log.replication.factor'), metadata.brokers().length));
      const minIsr = Math.min(config.getNumber('transaction.state.log.min.isr'), replicas);
      return await metadata.createTopic({
        name,
        partitions: config.getNumber('transaction.state.log.num.partitions'),
        replicationFactor: -1,
        configs: {
          'cleanup.policy': 'compact',
          'min.insync.replicas': String(minIsr),
          'segment.bytes': String(config.getNumber('transaction.state.log.segment.bytes')),
          'unclean.leader.election.enable': 'false',
        },
        internal: true,
      });
    }
    return await metadata.createTopic({ name, partitions: config.getNumber('num.partitions'), replicationFactor: -1, configs: {}, internal: false });
  } catch (err) {
    // Two requests raced to create it: creation is serialized, so the loser sees it exists.
    const created = metadata.topic(name);
    if (err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS && created) return created;
    throw err;
  }
}

export async function handleMetadata(req: MetadataRequest, ctx: RequestContext): Promise<MetadataResponse> {
  const services = ctx.services;
  const { metadata, config } = services;
  const topics: TopicOut[] = [];
  const view: MetadataListenerView = { listenerName: ctx.security.listenerName, apiVersion: ctx.apiVersion };
  // v0: an empty list means all topics; v1+: null means all topics.
  const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
  if (all) {
    for (const topic of metadata.topics()) topics.push(describeTopicPartitions(services, topic, view));
  } else {
    const allowAuto = config.getBoolean('auto.create.topics.enable') && (ctx.apiVersion < 4 || req.allowAutoTopicCreation);
    for (const wanted of req.topics ?? []) {
      // By topic id (v12+): the Java consumer names ids it was assigned (KIP-848 regex subscriptions) with an empty name.
      if (wanted.name === null || (wanted.name === '' && wanted.topicId !== ZERO_UUID)) {
        const topic = metadata.topicById(wanted.topicId);
        topics.push(topic ? describeTopicPartitions(services, topic, view) : topicError(ErrorCode.UNKNOWN_TOPIC_ID, null, wanted.topicId));
        continue;
      }
      const existing = metadata.topic(wanted.name);
      if (existing) {
        topics.push(describeTopicPartitions(services, existing, view));
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
        topics.push(describeTopicPartitions(services, await autoCreateTopic(services, wanted.name), view));
      } catch (err) {
        const info = errorResponse(ctx, err, 'auto-creating topic', { topic: wanted.name });
        // Kafka answers a topic it could not create (yet) with LEADER_NOT_AVAILABLE, a retriable code.
        topics.push(topicError(err instanceof KafkaError ? info.code : ErrorCode.LEADER_NOT_AVAILABLE, wanted.name));
      }
    }
  }
  return {
    throttleTimeMs: 0,
    // Each broker's address on the listener this request arrived on (brokers without it are left out, as Kafka).
    brokers: metadata.brokers().flatMap((b) => {
      const at = brokerEndpoint(b, ctx.security.listenerName);
      return at === null ? [] : [{ nodeId: b.nodeId, host: at.host, port: at.port, rack: b.rack }];
    }),
    clusterId: metadata.clusterId,
    controllerId: metadata.controllerId(),
    topics,
    errorCode: ErrorCode.NONE,
  };
}

export const metadataApi = defineApi({ apiKey: ApiKey.Metadata, handler: handleMetadata });
