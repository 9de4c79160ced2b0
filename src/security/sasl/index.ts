// security/ room: SASL — the broker's authenticator and the mechanisms behind it.
export * from './authenticator.js';
export * from './client.js';
export * from './errors.js';
export * from './jaas.js';
export * from './oauthbearer.js';
export * from './plain.js';
export * from './scram.js';
