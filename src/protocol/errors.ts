// protocol/ room: the error thrown when a frame cannot be decoded; Kafka's error codes live in the
// leaf module src/errors.ts and are re-exported here for protocol users.
export { ErrorCode, errorName, type ErrorName } from '../errors.js';

/**
 * A frame that cannot be decoded (truncated, a length past the end, an impossible value).
 * `correlationId` is set once the header was read far enough to know it, so the network layer
 * can log it; Kafka closes the connection on such frames rather than answering.
 */
export class ProtocolError extends Error {
  correlationId: number | undefined;
  constructor(message: string, correlationId?: number) {
    super(message);
    this.name = 'ProtocolError';
    this.correlationId = correlationId;
  }
}
