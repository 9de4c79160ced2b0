// storage/ room: where the storage layer's few warnings go (an engine fallback, a recovered log
// tail). The shape is a subset of pino's Logger, so the broker passes its own logger as is.
import pino from 'pino';

/** The part of a pino Logger the storage layer uses. */
export interface StorageLogger {
  warn(obj: object, msg: string): void;
}

let fallback: StorageLogger | undefined;

/**
 * The logger used when a caller passes none (tools, tests, embedders): pino on stderr, so the
 * warnings stay visible without taking over the caller's stdout. Synchronous: they are rare, and
 * one written just before a crash must not be lost. Created on first use.
 */
export function defaultStorageLogger(): StorageLogger {
  fallback ??= pino({ name: 'spool' }, pino.destination({ dest: 2, sync: true }));
  return fallback;
}
