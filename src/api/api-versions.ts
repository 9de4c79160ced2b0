// api/ room: ApiVersions — the versions this broker both decodes and has a handler for.
import { ErrorCode, supportedApis } from '../protocol/index.js';
import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/messages/api-versions.js';
import type { HandlerTable, RequestContext } from './types.js';

/** Kafka's rule for clientSoftwareName/Version (KIP-511). */
const softwareRe = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function advertisedApis(table: HandlerTable): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
  return supportedApis().filter((a) => table.has(a.apiKey));
}

export function makeApiVersionsHandler(table: HandlerTable) {
  return (req: ApiVersionsRequest, ctx: RequestContext): ApiVersionsResponse => {
    const apiKeys = advertisedApis(table);
    if (ctx.apiVersion >= 3 && (!softwareRe.test(req.clientSoftwareName) || !softwareRe.test(req.clientSoftwareVersion))) {
      return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys, throttleTimeMs: 0 };
    }
    return { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0 };
  };
}
