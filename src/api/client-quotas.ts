// api/ room: DescribeClientQuotas (KIP-546). Spool enforces no client quotas (no produce/fetch/
// request throttling), so it holds none: a well-formed filter matches nothing. A malformed one gets
// the errors of Kafka's ClientQuotasImage.describe (INVALID_REQUEST, UNSUPPORTED_VERSION for an
// unknown entity type) in the response's error code with no entries, as KafkaApis answers the
// exception. AlterClientQuotas stays unserved, so setting a quota fails at the client instead of
// being stored and silently ignored.
import { ErrorCode, KafkaError } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { DescribeClientQuotasRequest, DescribeClientQuotasResponse } from '../protocol/messages/client-quotas.js';
import { defineApi } from './types.js';

/** Kafka's ClientQuotaEntity types. */
const ENTITY_TYPES: ReadonlySet<string> = new Set(['user', 'client-id', 'ip']);
const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_SPECIFIED = 2;

/** Kafka's filter checks (ClientQuotasImage.describe), in its order; throws KafkaError. */
export function checkQuotaFilter(req: DescribeClientQuotasRequest): void {
  const seen = new Set<string>();
  for (const c of req.components) {
    if (c.entityType === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Invalid empty entity type.');
    if (seen.has(c.entityType)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Entity type ${c.entityType} cannot appear more than once in the filter.`);
    if (!ENTITY_TYPES.has(c.entityType)) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `Unsupported entity type ${c.entityType}`);
    if (c.matchType === MATCH_EXACT) {
      if (c.match === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_EXACT, but set match string to null.');
    } else if (c.matchType === MATCH_DEFAULT) {
      if (c.match !== null) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_DEFAULT, but also specified a match string.');
    } else if (c.matchType === MATCH_SPECIFIED) {
      if (c.match !== null) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.');
    } else {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown match type ${c.matchType}`);
    }
    seen.add(c.entityType);
  }
  if (seen.has('ip') && (seen.has('user') || seen.has('client-id'))) {
    throw new KafkaError(
      ErrorCode.INVALID_REQUEST,
      'Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.',
    );
  }
}

export function handleDescribeClientQuotas(req: DescribeClientQuotasRequest): DescribeClientQuotasResponse {
  try {
    checkQuotaFilter(req);
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    return { throttleTimeMs: 0, errorCode: err.code, errorMessage: err.message, entries: null };
  }
  // No quota is configured, so no entity matches.
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries: [] };
}

export const describeClientQuotasApi = defineApi({ apiKey: ApiKey.DescribeClientQuotas, handler: handleDescribeClientQuotas });
