// api/ room: ApiVersions — the versions this broker both decodes and has a handler for.
import { ApiKey, ErrorCode, type ApiVersionRange } from '../protocol/index.js';
import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/messages/api-versions.js';
import { defineApi, type ApiRegistration, type RequestContext } from './types.js';

/** Kafka's rule for clientSoftwareName/Version (KIP-511). */
const softwareRe = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function apiVersionsApi(advertised: () => ApiVersionRange[]): ApiRegistration {
  return defineApi({
    apiKey: ApiKey.ApiVersions,
    handler: (req: ApiVersionsRequest, ctx: RequestContext): ApiVersionsResponse => {
      const apiKeys = advertised();
      if (ctx.apiVersion >= 3 && (!softwareRe.test(req.clientSoftwareName) || !softwareRe.test(req.clientSoftwareVersion))) {
        return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys, throttleTimeMs: 0 };
      }
      return { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0 };
    },
  });
}
