// cluster/ room: the checks every MetadataStore applies to topic and partition writes, with
// Kafka's error codes and messages, shared by the local and the etcd store so they answer alike.
import { ConfigError, validateTopicConfigs, type BrokerConfig } from '../config/index.js';
import { ErrorCode, KafkaError, assert } from '../errors.js';
import type { NewTopic, PartitionChange } from './metadata-store.js';
import { topicNameProblem } from './topics.js';
import type { PartitionState } from './types.js';

/** Validates topic config overrides (INVALID_CONFIG) and returns them without the nulls. */
export function topicConfigOverrides(configs: Record<string, string | null>): Record<string, string> {
  try {
    validateTopicConfigs(configs);
  } catch (err) {
    if (err instanceof ConfigError) throw new KafkaError(ErrorCode.INVALID_CONFIG, err.message);
    throw err;
  }
  const overrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(configs)) if (v !== null) overrides[k] = v;
  return overrides;
}

/**
 * Kafka's controller refuses a CreateTopics whose topics would add more than this many partitions
 * in all (ReplicationControlManager.MAX_PARTITIONS_PER_BATCH, KAFKA-17870: the records of one
 * request go into one atomic metadata batch of at most 10000 records). Fixed in Kafka 4.x, not a
 * setting. Spool applies the same bound to CreatePartitions (the partitions one request adds).
 */
export const MAX_PARTITIONS_PER_REQUEST = 10000;

/** Kafka's answer (PolicyViolationException) to a request above MAX_PARTITIONS_PER_REQUEST. */
export function excessivePartitions(): KafkaError {
  return new KafkaError(ErrorCode.POLICY_VIOLATION, 'Excessively large number of partitions per request.');
}

/**
 * The partitions a CreateTopics asks for in all, counted as Kafka's validateTotalNumberOfPartitions
 * does: the assignments of a topic that has them, else numPartitions (-1: `defaultPartitions`,
 * other non-positive counts add nothing; they are refused per topic later).
 */
export function requestedPartitionCount(
  topics: Iterable<{ numPartitions: number; assignments: readonly unknown[] }>,
  defaultPartitions: number,
): number {
  let total = 0;
  for (const t of topics) {
    if (t.assignments.length > 0) total += t.assignments.length;
    else if (t.numPartitions === -1) total += defaultPartitions;
    else if (t.numPartitions > 0) total += t.numPartitions;
  }
  return total;
}

/**
 * Name rules, existence, Kafka's '.'/'_' collision rule and the partition count of a new topic.
 * `existing` is the caller's view of the topic names; a store must still make creation atomic.
 */
export function checkNewTopic(spec: NewTopic, existing: Iterable<string>): void {
  const problem = topicNameProblem(spec.name);
  if (problem !== null) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem, { topic: spec.name });
  // Kafka refuses names that collide once '.' and '_' are treated alike (metric names).
  const normalized = spec.name.replace(/\./g, '_');
  for (const name of existing) {
    if (name === spec.name) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${spec.name}' already exists.`);
    if (name.replace(/\./g, '_') === normalized) {
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${spec.name}' collides with existing topic: ${name}`);
    }
  }
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
    throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, got ${spec.partitions}.`);
  }
  // Every path that creates a topic (CreateTopics, auto-creation, embedding) stays within the bound.
  if (spec.partitions > MAX_PARTITIONS_PER_REQUEST) throw excessivePartitions();
}

export function topicAlreadyExists(name: string): KafkaError {
  return new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
}

export function unknownTopic(name: string): KafkaError {
  return new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`, { topic: name });
}

export function unknownPartition(topic: string, partition: number): KafkaError {
  return new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Partition ${topic}-${partition} does not exist.`, { topic, partition });
}

/**
 * The replication factor a creation asks for: -1 takes offsets.topic.replication.factor for
 * __consumer_offsets and default.replication.factor otherwise (as Kafka does).
 */
export function resolveReplicationFactor(spec: NewTopic, config: BrokerConfig): number {
  if (spec.replicationFactor === -1) {
    if (spec.name === '__consumer_offsets') return config.getNumber('offsets.topic.replication.factor');
    if (spec.name === '__transaction_state') return config.getNumber('transaction.state.log.replication.factor');
    return config.getNumber('default.replication.factor');
  }
  if (!Number.isInteger(spec.replicationFactor) || spec.replicationFactor < 1) {
    throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');
  }
  return spec.replicationFactor;
}

/** Kafka's answer when fewer brokers are registered than a partition needs replicas. */
export function notEnoughBrokers(replicationFactor: number, registered: number): KafkaError {
  return new KafkaError(
    ErrorCode.INVALID_REPLICATION_FACTOR,
    `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${registered} broker(s) are registered.`,
  );
}

export function checkTopicDeletionEnabled(config: BrokerConfig): void {
  if (!config.getBoolean('delete.topic.enable')) {
    throw new KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled (delete.topic.enable=false).');
  }
}

/** CreatePartitions only grows a topic, by at most MAX_PARTITIONS_PER_REQUEST partitions. */
export function checkNewPartitionCount(current: number, totalCount: number): void {
  if (!Number.isInteger(totalCount) || totalCount <= current) {
    throw new KafkaError(
      ErrorCode.INVALID_PARTITIONS,
      totalCount === current
        ? `Topic already has ${current} partitions.`
        : `Topic currently has ${current} partitions, which is higher than the requested ${totalCount}.`,
    );
  }
  if (totalCount - current > MAX_PARTITIONS_PER_REQUEST) throw excessivePartitions();
}

/**
 * The state an AlterPartition leaves, checked against the current state as a compare-and-set: a
 * deposed leader gets FENCED_LEADER_EPOCH, a stale view INVALID_UPDATE_VERSION; the ISR must
 * contain the leader. A leader change bumps the leader epoch; every change bumps the partition epoch.
 */
export function applyPartitionChange(current: PartitionState, change: PartitionChange): PartitionState {
  const where = { topic: change.topic, partition: change.partition };
  if (change.leaderEpoch !== current.leaderEpoch) {
    throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, `Leader epoch ${change.leaderEpoch} is not the current ${current.leaderEpoch}`, where);
  }
  if (change.partitionEpoch !== current.partitionEpoch) {
    throw new KafkaError(ErrorCode.INVALID_UPDATE_VERSION, `Partition epoch ${change.partitionEpoch} is not the current ${current.partitionEpoch}`, where);
  }
  const leaderChanged = change.leader !== undefined && change.leader !== current.leader;
  const isr = change.isr ?? current.isr;
  const leader = change.leader ?? current.leader;
  if (leader >= 0 && !isr.includes(leader)) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `ISR [${isr.join(',')}] must contain the leader ${leader}`, where);
  }
  const next: PartitionState = {
    ...current,
    replicas: [...current.replicas],
    isr: [...isr],
    leader,
    leaderEpoch: leaderChanged ? current.leaderEpoch + 1 : current.leaderEpoch,
    partitionEpoch: current.partitionEpoch + 1,
  };
  assert(next.leaderEpoch >= current.leaderEpoch, 'leader epochs never go back', where);
  return next;
}
