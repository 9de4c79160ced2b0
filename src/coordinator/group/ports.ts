// coordinator/group room: the small interfaces the group coordinator depends on (clock and timers,
// logger, settings; its storage is the runtime's CoordinatorPartitionLog), so the state machine
// runs without a broker in unit tests.
import type { Clock, CoordinatorLogger, CoordinatorRecord } from '../runtime/ports.js';
import { assignorName } from './assignors.js';

export type { Clock, TimerHandle } from '../runtime/ports.js';

/** One record of __consumer_offsets; `value` null is a tombstone. */
export type OffsetsRecord = CoordinatorRecord;

/** The subset of pino the coordinator uses. */
export type GroupLogger = CoordinatorLogger;

export interface GroupCoordinatorConfig {
  /** group.min.session.timeout.ms */
  groupMinSessionTimeoutMs: number;
  /** group.max.session.timeout.ms */
  groupMaxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms */
  groupInitialRebalanceDelayMs: number;
  /** group.max.size */
  groupMaxSize: number;
  /** offsets.retention.minutes, in ms */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes */
  offsetMetadataMaxBytes: number;
  /** group.coordinator.rebalance.protocols includes "consumer" (KIP-848). */
  consumerProtocolEnabled: boolean;
  /** group.consumer.assignors, as short names (uniform, range); the first is the default. */
  consumerAssignors: string[];
  /** group.consumer.session.timeout.ms */
  groupConsumerSessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms */
  groupConsumerHeartbeatIntervalMs: number;
  /** group.consumer.max.size */
  groupConsumerMaxSize: number;
  /**
   * A group's dynamic configs (consumer.session.timeout.ms, consumer.heartbeat.interval.ms:
   * ConfigResource GROUP), read at each use; absent: the two settings above for every group.
   */
  consumerGroupSettings?: (groupId: string) => { sessionTimeoutMs: number; heartbeatIntervalMs: number };
  /** group.consumer.migration.policy: online conversions of non-empty groups between the classic and consumer protocols. */
  groupConsumerMigrationPolicy: ConsumerGroupMigrationPolicy;
}

export type ConsumerGroupMigrationPolicy = 'disabled' | 'upgrade' | 'downgrade' | 'bidirectional';

/** Kafka's ConsumerGroupMigrationPolicy names, case-insensitive. */
export function parseMigrationPolicy(v: string): ConsumerGroupMigrationPolicy {
  const p = v.trim().toLowerCase();
  if (p === 'disabled' || p === 'upgrade' || p === 'downgrade' || p === 'bidirectional') return p;
  throw new TypeError(`group.consumer.migration.policy must be one of DISABLED, UPGRADE, DOWNGRADE, BIDIRECTIONAL, got ${JSON.stringify(v)}`);
}

function migrationPolicy(v: unknown, fallback: ConsumerGroupMigrationPolicy): ConsumerGroupMigrationPolicy {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw new TypeError(`group.consumer.migration.policy must be a string, got ${JSON.stringify(v)}`);
  return parseMigrationPolicy(v);
}

export const upgradeEnabled = (p: ConsumerGroupMigrationPolicy): boolean => p === 'upgrade' || p === 'bidirectional';
export const downgradeEnabled = (p: ConsumerGroupMigrationPolicy): boolean => p === 'downgrade' || p === 'bidirectional';

export const defaultGroupCoordinatorConfig: GroupCoordinatorConfig = {
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1800000,
  groupInitialRebalanceDelayMs: 3000,
  groupMaxSize: 2147483647,
  offsetsRetentionMs: 10080 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600000,
  offsetMetadataMaxBytes: 4096,
  consumerProtocolEnabled: true,
  consumerAssignors: ['uniform', 'range'],
  groupConsumerSessionTimeoutMs: 45000,
  groupConsumerHeartbeatIntervalMs: 5000,
  groupConsumerMaxSize: 2147483647,
  groupConsumerMigrationPolicy: 'bidirectional',
};

/** Reads the coordinator settings from a map keyed by Kafka's setting names. */
export function groupConfigFromKafkaSettings(get: (name: string) => unknown): GroupCoordinatorConfig {
  const num = (name: string, fallback: number): number => {
    const v = get(name);
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) throw new TypeError(`${name} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const list = (name: string, fallback: string[]): string[] => {
    const v = get(name);
    if (v === undefined || v === null) return fallback;
    const items = Array.isArray(v) ? (v as unknown[]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : typeof v === 'string' ? v.split(',') : [];
    return items.map((x) => x.trim()).filter((x) => x.length > 0);
  };
  const d = defaultGroupCoordinatorConfig;
  return {
    groupMinSessionTimeoutMs: num('group.min.session.timeout.ms', d.groupMinSessionTimeoutMs),
    groupMaxSessionTimeoutMs: num('group.max.session.timeout.ms', d.groupMaxSessionTimeoutMs),
    groupInitialRebalanceDelayMs: num('group.initial.rebalance.delay.ms', d.groupInitialRebalanceDelayMs),
    groupMaxSize: num('group.max.size', d.groupMaxSize),
    offsetsRetentionMs: num('offsets.retention.minutes', d.offsetsRetentionMs / 60000) * 60000,
    offsetsRetentionCheckIntervalMs: num('offsets.retention.check.interval.ms', d.offsetsRetentionCheckIntervalMs),
    offsetMetadataMaxBytes: num('offset.metadata.max.bytes', d.offsetMetadataMaxBytes),
    consumerProtocolEnabled: list('group.coordinator.rebalance.protocols', ['classic', 'consumer']).includes('consumer'),
    consumerAssignors: list('group.consumer.assignors', d.consumerAssignors).map(assignorName),
    groupConsumerSessionTimeoutMs: num('group.consumer.session.timeout.ms', d.groupConsumerSessionTimeoutMs),
    groupConsumerHeartbeatIntervalMs: num('group.consumer.heartbeat.interval.ms', d.groupConsumerHeartbeatIntervalMs),
    groupConsumerMaxSize: num('group.consumer.max.size', d.groupConsumerMaxSize),
    groupConsumerMigrationPolicy: migrationPolicy(get('group.consumer.migration.policy'), d.groupConsumerMigrationPolicy),
  };
}

/** Real time: setTimeout, unref'd so a pending session timer never holds the broker open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, fn) {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
