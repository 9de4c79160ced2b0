// api/ room: public surface: the dispatcher, the services contract, the registrations.
export * from './dispatch.js';
export * from './handlers.js';
export { installSasl } from './sasl.js';
export * from './services.js';
export * from './types.js';
