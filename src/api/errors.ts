// api/ room: turning errors from the layers below into Kafka error codes for responses.
import { ConfigError } from '../config/index.js';
import { LogError } from '../log/index.js';
import { ErrorCode } from '../protocol/index.js';
import { StorageError } from '../storage/engine.js';

export interface ApiErrorInfo {
  code: number;
  message: string;
  /** Unexpected failures are logged at error level; expected ones are answers, not incidents. */
  unexpected: boolean;
}

export function toApiError(err: unknown): ApiErrorInfo {
  if (err instanceof LogError || err instanceof StorageError) return { code: err.code, message: err.message, unexpected: false };
  if (err instanceof ConfigError) return { code: ErrorCode.INVALID_CONFIG, message: err.message, unexpected: false };
  const message = err instanceof Error ? err.message : String(err);
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message, unexpected: true };
}
