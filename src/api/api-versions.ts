// api/ room: ApiVersions — the versions this broker both decodes and has a handler for, and (v3+)
// the transaction.version feature: supported 0..2, finalized at spool.transaction.version.
// v5 (KIP-1242) checks the cluster id and node id a client names (REBOOTSTRAP_REQUIRED on a mismatch).
import { ApiKey, ErrorCode, type ApiVersionRange } from '../protocol/index.js';
import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/messages/api-versions.js';
import { defineApi, type ApiRegistration, type RequestContext } from './types.js';

/** Kafka's transaction.version feature: 2 is transactions V2 (KIP-890 part 2). */
const TRANSACTION_VERSION_FEATURE = 'transaction.version';
const MAX_TRANSACTION_VERSION = 2;

/**
 * The feature fields of ApiVersions v3+. Finalized levels are static configuration here, so the
 * finalized features epoch is fixed (it only has to be ≥ 0 for clients to take them); a level 0
 * is not listed as finalized, as in Kafka.
 */
function features(level: number): Pick<ApiVersionsResponse, 'supportedFeatures' | 'finalizedFeaturesEpoch' | 'finalizedFeatures'> {
  return {
    supportedFeatures: [{ name: TRANSACTION_VERSION_FEATURE, minVersion: 0, maxVersion: MAX_TRANSACTION_VERSION }],
    finalizedFeaturesEpoch: 0,
    finalizedFeatures: level > 0 ? [{ name: TRANSACTION_VERSION_FEATURE, minVersionLevel: level, maxVersionLevel: level }] : [],
  };
}

/** Kafka's rule for clientSoftwareName/Version (KIP-511). */
const softwareRe = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function apiVersionsApi(advertised: () => ApiVersionRange[]): ApiRegistration {
  return defineApi({
    apiKey: ApiKey.ApiVersions,
    handler: (req: ApiVersionsRequest, ctx: RequestContext): ApiVersionsResponse => {
      const apiKeys = advertised();
      if (ctx.apiVersion >= 5) {
        // KIP-1242: ClusterId and NodeId come together or not at all; when given, they must name
        // this broker, else the client's metadata is stale and it has to bootstrap again.
        if ((req.clusterId === null) !== (req.nodeId === -1)) return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys, throttleTimeMs: 0 };
        if (req.clusterId !== null && (req.clusterId !== ctx.services.metadata.clusterId || req.nodeId !== ctx.services.nodeId)) {
          return { errorCode: ErrorCode.REBOOTSTRAP_REQUIRED, apiKeys, throttleTimeMs: 0 };
        }
      }
      if (ctx.apiVersion >= 3 && (!softwareRe.test(req.clientSoftwareName) || !softwareRe.test(req.clientSoftwareVersion))) {
        return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys, throttleTimeMs: 0 };
      }
      return { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0, ...features(ctx.services.config.getNumber('spool.transaction.version')) };
    },
  });
}
