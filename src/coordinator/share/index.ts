// coordinator/share room: share groups (KIP-932): the group coordinator side, the share-partitions
// on partition leaders, share sessions, and the durable state in __share_group_state.
export * from './group-coordinator.js';
export * from './group-settings.js';
export * from './partition-manager.js';
export * from './persister.js';
export * from './records.js';
export * from './share-partition.js';
export * from './share-sessions.js';
export * from './state-store.js';

import type { ShareGroupCoordinator } from './group-coordinator.js';
import type { SharePartitionManager } from './partition-manager.js';
import type { ShareStateStore } from './state-store.js';

/** What the API handlers use of share groups. */
export interface ShareServices {
  readonly groups: ShareGroupCoordinator;
  readonly partitions: SharePartitionManager;
  readonly state: ShareStateStore;
}
