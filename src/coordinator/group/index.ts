// coordinator/group room: public surface of the classic group coordinator.
export * from './coordinator.js';
export * from './shard.js';
export * from './offset-store.js';
export * from './group.js';
export * from './ports.js';
export * from './records.js';
export * from './errors.js';
export * from './consumer-protocol.js';
export * from './memory-log.js';
export * from './offsets-topic.js';
export * from './consumer-group.js';
export * from './consumer-coordinator.js';
export * from './assignors.js';
export * from './consumer-records.js';
