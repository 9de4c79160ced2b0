// coordinator/runtime room: public surface of the coordinator runtime (shared by the group and,
// later, the transaction coordinator).
export * from './ports.js';
export * from './runtime.js';
export * from './memory-log.js';
