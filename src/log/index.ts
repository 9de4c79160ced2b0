// log/ room: public surface of the log layer.
export * from './checkpoint.js';
export * from './log.js';
export * from './log-manager.js';
export * from './txn-index.js';
export * from './cleaner.js';
