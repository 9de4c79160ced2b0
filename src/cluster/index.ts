// cluster/ room: public surface of the metadata layer.
export * from './types.js';
export * from './metadata-store.js';
export * from './topics.js';
export * from './topic-rules.js';
export * from './replica-assignment.js';
export * from './controller.js';
export * from './local-metadata-store.js';
export * from './etcd-metadata-store.js';
export * from './factory.js';
