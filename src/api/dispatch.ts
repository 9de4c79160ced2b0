// api/ room: the request processor the network layer calls for every frame — header, version
// check, body decode, handler, encode — and the rules for what closes a connection.
import type { ConnectionInfo, RequestOutcome } from '../network/index.js';
import {
  ApiKey,
  apiName,
  decodeRequestBody,
  decodeRequestHeader,
  encodeApiVersionsUnsupported,
  encodeResponse,
  isSupported,
  ProtocolError,
  type RequestHeader,
} from '../protocol/index.js';
import type { Broker } from '../broker.js';
import { advertisedApis } from './api-versions.js';
import type { HandlerTable, RequestContext } from './types.js';

interface ProduceLike {
  acks: number;
}
interface ProduceResponseLike {
  responses: Array<{ partitionResponses: Array<{ errorCode: number }> }>;
}

export function createRequestProcessor(broker: Broker, handlers: HandlerTable) {
  const logger = broker.logger;
  return async (frame: Buffer, conn: ConnectionInfo): Promise<RequestOutcome> => {
    let header: RequestHeader;
    try {
      header = decodeRequestHeader(frame);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      logger.warn({ connectionId: conn.connectionId, clientHost: conn.clientHost, frameBytes: frame.length, reason: err.message }, 'unparseable request header');
      return { kind: 'close', reason: `unparseable request header: ${err.message}` };
    }
    const { apiKey, apiVersion, correlationId } = header;
    const logContext = {
      connectionId: conn.connectionId,
      clientHost: conn.clientHost,
      clientId: header.clientId,
      api: apiName(apiKey),
      apiVersion,
      correlationId,
    };
    const handler = handlers.get(apiKey);
    if (!isSupported(apiKey, apiVersion) || !handler) {
      if (apiKey === ApiKey.ApiVersions) {
        // Answer in the v0 format with our versions so the client can retry with one we know: the
        // same list as a normal ApiVersions answer (only APIs a handler serves).
        return { kind: 'response', response: encodeApiVersionsUnsupported(correlationId, advertisedApis(handlers)) };
      }
      // Kafka closes the connection on an API or version it does not support.
      logger.warn(logContext, 'unsupported API or version; closing connection');
      return { kind: 'close', reason: `unsupported ${apiName(apiKey)} v${apiVersion}` };
    }
    let body: unknown;
    try {
      body = decodeRequestBody(apiKey, apiVersion, frame, header.bodyOffset);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      logger.warn({ ...logContext, reason: err.message }, 'malformed request body; closing connection');
      return { kind: 'close', reason: `malformed ${apiName(apiKey)} request: ${err.message}` };
    }
    const ctx: RequestContext = {
      broker,
      apiKey,
      apiVersion,
      correlationId,
      clientId: header.clientId,
      clientHost: conn.clientHost,
      connectionId: conn.connectionId,
    };
    let response: unknown;
    try {
      response = await (handler as (req: unknown, ctx: RequestContext) => unknown)(body, ctx);
    } catch (err) {
      logger.error({ ...logContext, err }, 'handler failed; closing connection');
      return { kind: 'close', reason: `${apiName(apiKey)} handler failed` };
    }
    if (apiKey === ApiKey.Produce && (body as ProduceLike).acks === 0) {
      // acks=0: no response; an error closes the connection so the producer refreshes metadata (as Kafka).
      const failed = (response as ProduceResponseLike).responses.some((t) => t.partitionResponses.some((p) => p.errorCode !== 0));
      return failed ? { kind: 'close', reason: 'acks=0 produce failed' } : { kind: 'noResponse' };
    }
    return { kind: 'response', response: encodeResponse(apiKey, apiVersion, correlationId, response as never) };
  };
}
