// config/ room: public surface of broker and topic configuration.
export * from './schema.js';
export * from './broker-config.js';
export * from './group-config.js';
