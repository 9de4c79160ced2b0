// replication/ room: public surface.
export * from './partition.js';
export * from './replica-manager.js';
export * from './purgatory.js';
export * from './leader-epoch-cache.js';
export * from './producer-state.js';
export * from './internal-topic-log.js';
export * from './producer-ids.js';
export * from './inter-broker.js';
