// protocol/ room: the public surface the network and api rooms use. Frames here exclude the
// 4-byte size prefix, both ways: the network layer strips it on read and writes it on send.
//
// Request header v1: apiKey int16, apiVersion int16, correlationId int32, clientId nullable
// (non-compact) string; v2 (flexible request versions) adds a tagged-field section.
// Response header v0: correlationId; v1 (flexible versions) adds tagged fields, except that
// ApiVersions always answers with v0 so a client that does not know our versions can parse it.
import { ApiKey } from './api-keys.js';
import { ErrorCode, ProtocolError } from './errors.js';
import { apis, apiTable, type DecodedResponseFor, type KnownApiKey, type RequestFor, type RequestInputFor, type ResponseFor } from './messages/index.js';
import { Reader, Writer, type RecordsSlice } from './primitives.js';
import { inRange } from './schema.js';

export { ApiKey, apiName } from './api-keys.js';
export { ErrorCode, ProtocolError, errorName } from './errors.js';
export { Reader, Writer, ZERO_UUID, type RecordsSlice } from './primitives.js';
export type { Infer, InferInput } from './schema.js';
export {
  apis,
  apiTable,
  type DecodedResponseFor,
  type KnownApiKey,
  type RequestFor,
  type RequestInputFor,
  type RequestOf,
  type ResponseFor,
  type ResponseOf,
} from './messages/index.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Where the body starts in the frame. */
  bodyOffset: number;
}

export interface EncodedResponse {
  /** In order; buffers and file slices. Excludes the 4-byte size prefix. */
  chunks: Array<Buffer | RecordsSlice>;
  /** Total bytes of all chunks (the value of the size prefix). */
  size: number;
}

/** Is this request header v2 (flexible) for this API at this version? */
function requestHeaderIsFlexible(apiKey: number, apiVersion: number): boolean {
  const entry = apiTable.get(apiKey);
  if (entry === undefined) return false;
  const { request } = entry;
  // Versions above the newest we know (a newer client's ApiVersions) are flexible if our newest is.
  if (apiVersion > entry.maxVersion) return request.isFlexible(entry.maxVersion);
  return request.isFlexible(apiVersion);
}

function skipTaggedFields(r: Reader): void {
  const count = r.uvarint();
  for (let i = 0; i < count; i++) {
    r.uvarint();
    r.skip(r.uvarint());
  }
}

/**
 * Decodes the request header. Works for unknown API keys and versions too (as v1, or v2 where the
 * API is flexible) so the broker can answer ApiVersions at any version or close the connection
 * with a useful log line. Throws ProtocolError on a truncated header.
 */
export function decodeRequestHeader(frame: Buffer): RequestHeader {
  const r = new Reader(frame);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  let clientId: string | null;
  try {
    clientId = r.string(false);
    if (requestHeaderIsFlexible(apiKey, apiVersion)) {
      if (apiKey === ApiKey.ApiVersions && apiVersion > apis.ApiVersions.maxVersion) {
        // A future ApiVersions header may differ; we only need enough to answer UNSUPPORTED_VERSION.
        try {
          skipTaggedFields(r);
        } catch {
          r.pos = r.end;
        }
      } else {
        skipTaggedFields(r);
      }
    }
  } catch (err) {
    if (err instanceof ProtocolError) err.correlationId = correlationId;
    throw err;
  }
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset: r.pos };
}

/** Is this API at this version one we accept? */
export function isSupported(apiKey: number, apiVersion: number): boolean {
  const entry = apiTable.get(apiKey);
  return entry !== undefined && apiVersion >= entry.minVersion && apiVersion <= entry.maxVersion;
}

export interface ApiVersionRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/**
 * Version ranges for the ApiVersions response, by ascending key. `include` lets the dispatch table
 * leave out APIs the protocol layer knows but no handler serves.
 */
export function supportedApis(include: (apiKey: number) => boolean = () => true): ApiVersionRange[] {
  return [...apiTable.values()]
    .filter((e) => include(e.request.apiKey))
    .map((e) => ({
      apiKey: e.request.apiKey,
      minVersion: e.advertisedMinVersion,
      maxVersion: e.maxVersion,
    }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

/**
 * Decodes a request body. Throws ProtocolError on malformed or truncated input, or if no codec
 * covers the API/version. Call isSupported first: the codecs also cover a few versions the broker
 * refuses (Produce v0-2), so that it can answer those with UNSUPPORTED_VERSION.
 * `records` fields are views into `frame` (no copy): keep the frame alive while they are used.
 */
export function decodeRequestBody<K extends number>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  bodyOffset: number,
): K extends KnownApiKey ? RequestFor<K> : unknown;
export function decodeRequestBody(apiKey: number, apiVersion: number, frame: Buffer, bodyOffset: number): unknown {
  const entry = apiTable.get(apiKey);
  if (entry === undefined || !inRange(entry.request.versions, apiVersion)) {
    throw new ProtocolError(`unsupported request: api key ${apiKey} version ${apiVersion}`);
  }
  if (bodyOffset < 0 || bodyOffset > frame.length) throw new ProtocolError(`body offset ${bodyOffset} outside frame`);
  return entry.request.decode(new Reader(frame, bodyOffset), apiVersion);
}

/**
 * Encodes header and body of a response. A body of the wrong shape is a broker bug and throws
 * TypeError/RangeError, not ProtocolError.
 */
export function encodeResponse<K extends number>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: K extends KnownApiKey ? ResponseFor<K> : unknown,
): EncodedResponse;
export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: unknown): EncodedResponse {
  const entry = apiTable.get(apiKey);
  if (entry === undefined || !inRange(entry.response.versions, apiVersion)) {
    throw new RangeError(`cannot encode response: api key ${apiKey} version ${apiVersion}`);
  }
  const { response } = entry;
  const w = new Writer(512);
  w.int32(correlationId);
  if (apiKey !== ApiKey.ApiVersions && response.isFlexible(apiVersion)) w.uvarint(0);
  response.encodeUnchecked(w, body, apiVersion);
  return w.finish();
}

/**
 * The answer to an ApiVersions request at a version we do not know: UNSUPPORTED_VERSION in the v0
 * format (which every client can parse), listing what we support so the client retries lower.
 */
export function encodeApiVersionsUnsupported(
  correlationId: number,
  apiKeys: ApiVersionRange[] = supportedApis(),
): EncodedResponse {
  return encodeResponse(ApiKey.ApiVersions, 0, correlationId, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys });
}

/**
 * A request frame as a client sends it, size prefix included: header v1 (v2 for flexible
 * versions) and the body. Broker-to-broker traffic (replica fetchers) and tools use it.
 */
export function encodeRequest<K extends KnownApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestInputFor<K>,
): Buffer;
export function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, body: unknown): Buffer {
  const entry = apiTable.get(apiKey);
  if (entry === undefined) throw new ProtocolError(`unknown API key ${apiKey}`);
  const w = new Writer();
  w.int32(0); // size, patched below
  w.int16(apiKey);
  w.int16(apiVersion);
  w.int32(correlationId);
  w.string(clientId, false);
  if (entry.request.isFlexible(apiVersion)) w.uvarint(0);
  entry.request.encodeUnchecked(w, body, apiVersion);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

/** The correlation id of a response frame (size prefix stripped). */
export function responseCorrelationId(frame: Buffer): number {
  if (frame.length < 4) throw new ProtocolError(`response frame of ${frame.length} bytes has no correlation id`);
  return frame.readInt32BE(0);
}

/** Decodes a response frame (size prefix stripped) of `apiKey` at `apiVersion`. */
export function decodeResponse<K extends KnownApiKey>(apiKey: K, apiVersion: number, frame: Buffer): DecodedResponseFor<K>;
export function decodeResponse(apiKey: number, apiVersion: number, frame: Buffer): unknown {
  const entry = apiTable.get(apiKey);
  if (entry === undefined) throw new ProtocolError(`unknown API key ${apiKey}`);
  const r = new Reader(frame, 4);
  // Response header v1 (tagged fields) for flexible versions, except ApiVersions (always v0).
  if (apiKey !== ApiKey.ApiVersions && entry.response.isFlexible(apiVersion)) skipTaggedFields(r);
  return entry.response.decode(r, apiVersion);
}
