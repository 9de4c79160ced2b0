// api/ room: one place where errors from the layers below become a Kafka error code and message
// for a response, logged with their context (expected ones at debug, faults at error).
import { ConfigError } from '../config/index.js';
import { ErrorCode, KafkaError, errorName, type ErrorContext } from '../errors.js';
import type { RequestContext } from './types.js';

export interface ApiErrorInfo {
  code: number;
  message: string;
}

/**
 * The code and message a response carries for `err`. A KafkaError (or ConfigError) is an answer,
 * logged at debug; anything else is a fault, logged at error with `context` and answered with
 * `faultCode` (KAFKA_STORAGE_ERROR for data paths, UNKNOWN_SERVER_ERROR elsewhere).
 */
export function errorResponse(ctx: RequestContext, err: unknown, what: string, context: ErrorContext, faultCode: number = ErrorCode.UNKNOWN_SERVER_ERROR): ApiErrorInfo {
  const logger = ctx.services.logger;
  if (err instanceof KafkaError) {
    logger.debug({ ...context, ...err.context, clientId: ctx.clientId, code: errorName(err.code), reason: err.message }, `${what} refused`);
    return { code: err.code, message: err.message };
  }
  if (err instanceof ConfigError) return { code: ErrorCode.INVALID_CONFIG, message: err.message };
  logger.error({ ...context, clientId: ctx.clientId, err }, `${what} failed`);
  return { code: faultCode, message: err instanceof Error ? err.message : String(err) };
}
