// cluster/ room: public surface of the metadata layer.
export * from './types.js';
export * from './metadata-store.js';
export * from './topics.js';
export * from './local-metadata-store.js';
