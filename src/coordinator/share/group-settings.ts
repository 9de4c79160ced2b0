// coordinator/share room: a share group's dynamic configs (ConfigResource GROUP:
// share.record.lock.duration.ms, share.delivery.count.limit, share.partition.max.record.locks,
// share.auto.offset.reset, share.session.timeout.ms, share.heartbeat.interval.ms), as the broker
// resolves them (group override, else the broker setting). Read at each operation, so an altered
// config applies to share-partitions already loaded, as Kafka's GroupConfigManager lookups do.
import type { SharePartitionConfig, SharePartitionSettings } from './share-partition.js';

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

/**
 * The share-partition settings of one group: `base` when there is no lookup, else a function
 * reading the group's live values. The share-partition calls it once per operation (acquire,
 * acknowledge, lock expiry...) and uses that snapshot for every record of the operation, so an
 * altered group config applies from the next operation on.
 */
export function groupPartitionConfig(base: SharePartitionConfig, groupId: string, lookup: ShareGroupSettingsLookup | undefined): SharePartitionSettings {
  if (lookup === undefined) return base;
  return () => {
    const s = lookup(groupId);
    return { lockDurationMs: s.lockDurationMs, deliveryCountLimit: s.deliveryCountLimit, maxRecordLocks: s.maxRecordLocks };
  };
}
