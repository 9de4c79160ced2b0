// admin/ room: errors of the REST API as JSON {error, message} with an HTTP status, and the
// mapping from Kafka error codes (what the broker's services answer) to HTTP statuses.
import { ErrorCode, errorName } from '../errors.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    /** A short machine-readable name: a Kafka error name, or NotFound, BadRequest, … */
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const statusByCode = new Map<number, number>([
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 404],
  [ErrorCode.UNKNOWN_TOPIC_ID, 404],
  [ErrorCode.GROUP_ID_NOT_FOUND, 404],
  [ErrorCode.RESOURCE_NOT_FOUND, 404],
  [ErrorCode.TOPIC_ALREADY_EXISTS, 409],
  [ErrorCode.NON_EMPTY_GROUP, 409],
  [ErrorCode.REBALANCE_IN_PROGRESS, 409],
  [ErrorCode.UNKNOWN_MEMBER_ID, 409],
  [ErrorCode.ILLEGAL_GENERATION, 409],
  [ErrorCode.CONCURRENT_TRANSACTIONS, 409],
  [ErrorCode.TOPIC_DELETION_DISABLED, 403],
  [ErrorCode.TOPIC_AUTHORIZATION_FAILED, 403],
  [ErrorCode.GROUP_AUTHORIZATION_FAILED, 403],
  [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 403],
  [ErrorCode.POLICY_VIOLATION, 400],
  [ErrorCode.OFFSET_OUT_OF_RANGE, 400],
  [ErrorCode.INVALID_TOPIC_EXCEPTION, 400],
  [ErrorCode.INVALID_PARTITIONS, 400],
  [ErrorCode.INVALID_REPLICATION_FACTOR, 400],
  [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 400],
  [ErrorCode.INVALID_CONFIG, 400],
  [ErrorCode.INVALID_REQUEST, 400],
  [ErrorCode.INVALID_GROUP_ID, 400],
  [ErrorCode.INVALID_COMMIT_OFFSET_SIZE, 400],
  [ErrorCode.OFFSET_METADATA_TOO_LARGE, 400],
  [ErrorCode.INVALID_TIMESTAMP, 400],
  [ErrorCode.REQUEST_TIMED_OUT, 504],
  [ErrorCode.NOT_CONTROLLER, 503],
  [ErrorCode.NOT_COORDINATOR, 503],
  [ErrorCode.COORDINATOR_NOT_AVAILABLE, 503],
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 503],
  [ErrorCode.NOT_LEADER_OR_FOLLOWER, 503],
  [ErrorCode.LEADER_NOT_AVAILABLE, 503],
  [ErrorCode.NOT_ENOUGH_REPLICAS, 503],
  [ErrorCode.KAFKA_STORAGE_ERROR, 500],
]);

/** The HTTP status of a Kafka error code (500 for anything not listed). */
export function httpStatusOf(code: number): number {
  return statusByCode.get(code) ?? 500;
}

/** Throws the HttpError of a Kafka error code unless it is NONE. */
export function throwIfKafkaError(code: number, message: string | null, fallback: string): void {
  if (code === ErrorCode.NONE) return;
  throw new HttpError(httpStatusOf(code), errorName(code), message ?? fallback);
}

export function notFound(message: string): HttpError {
  return new HttpError(404, 'NotFound', message);
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'BadRequest', message);
}

/** JSON schema of every error answer. */
export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;
