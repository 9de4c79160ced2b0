// coordinator/share room: a share group's dynamic configs (ConfigResource GROUP:
// share.record.lock.duration.ms, share.delivery.count.limit, share.partition.max.record.locks,
// share.auto.offset.reset, share.session.timeout.ms, share.heartbeat.interval.ms), as the broker
// resolves them (group override, else the broker setting). Read at each use, so an altered config
// applies to share-partitions already loaded, as Kafka's GroupConfigManager lookups do.
import type { SharePartitionConfig } from './share-partition.js';

export interface ShareGroupSettings {
  lockDurationMs: number;
  deliveryCountLimit: number;
  maxRecordLocks: number;
  /** 'earliest' or 'latest': where a share-partition without state starts. */
  autoOffsetReset: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

export type ShareGroupSettingsLookup = (groupId: string) => ShareGroupSettings;

/** The share-partition settings of one group: `base` when there is no lookup, else live values. */
export function groupPartitionConfig<T extends SharePartitionConfig>(base: T, groupId: string, lookup: ShareGroupSettingsLookup | undefined): T {
  if (lookup === undefined) return base;
  const live = Object.create(base) as T;
  Object.defineProperties(live, {
    lockDurationMs: { get: () => lookup(groupId).lockDurationMs, enumerable: true },
    deliveryCountLimit: { get: () => lookup(groupId).deliveryCountLimit, enumerable: true },
    maxRecordLocks: { get: () => lookup(groupId).maxRecordLocks, enumerable: true },
  });
  return live;
}
