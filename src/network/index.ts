// network/ room: public surface of the network layer.
export * from './framing.js';
export * from './connection.js';
export * from './server.js';
export * from './client.js';
export * from './memory-pool.js';
export * from './tls.js';
