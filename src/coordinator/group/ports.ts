// coordinator/group room: the small interfaces the group coordinator depends on (clock and timers,
// logger, settings; its storage is the runtime's CoordinatorPartitionLog), so the state machine
// runs without a broker in unit tests.
import type { Clock, CoordinatorLogger, CoordinatorRecord } from '../runtime/ports.js';

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
}

export const defaultGroupCoordinatorConfig: GroupCoordinatorConfig = {
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1800000,
  groupInitialRebalanceDelayMs: 3000,
  groupMaxSize: 2147483647,
  offsetsRetentionMs: 10080 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600000,
  offsetMetadataMaxBytes: 4096,
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
  const d = defaultGroupCoordinatorConfig;
  return {
    groupMinSessionTimeoutMs: num('group.min.session.timeout.ms', d.groupMinSessionTimeoutMs),
    groupMaxSessionTimeoutMs: num('group.max.session.timeout.ms', d.groupMaxSessionTimeoutMs),
    groupInitialRebalanceDelayMs: num('group.initial.rebalance.delay.ms', d.groupInitialRebalanceDelayMs),
    groupMaxSize: num('group.max.size', d.groupMaxSize),
    offsetsRetentionMs: num('offsets.retention.minutes', d.offsetsRetentionMs / 60000) * 60000,
    offsetsRetentionCheckIntervalMs: num('offsets.retention.check.interval.ms', d.offsetsRetentionCheckIntervalMs),
    offsetMetadataMaxBytes: num('offset.metadata.max.bytes', d.offsetMetadataMaxBytes),
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
