// protocol/ room: ApiVersions (key 18). Its response header is always v0 (see index.ts).
// v5 (KIP-1242): the client may name the cluster and node it means to reach; the response is v4's.
import { array, bool, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const ApiVersionsRequest = message({
  name: 'ApiVersionsRequest',
  apiKey: 18,
  versions: '0-5',
  flexible: '3+',
  fields: {
    clientSoftwareName: string({ v: '3+' }),
    clientSoftwareVersion: string({ v: '3+' }),
    clusterId: string({ v: '5+', nullable: '5+', default: null }),
    nodeId: int32({ v: '5+', default: -1 }),
  },
});
export type ApiVersionsRequest = Infer<typeof ApiVersionsRequest>;

export const ApiVersionsResponse = message({
  name: 'ApiVersionsResponse',
  apiKey: 18,
  versions: '0-5',
  flexible: '3+',
  fields: {
    errorCode: int16(),
    apiKeys: array({ apiKey: int16(), minVersion: int16(), maxVersion: int16() }),
    throttleTimeMs: int32({ v: '1+' }),
    supportedFeatures: array({ name: string(), minVersion: int16(), maxVersion: int16() }, { v: '3+', tag: 0 }),
    finalizedFeaturesEpoch: int64({ v: '3+', tag: 1, default: -1 }),
    finalizedFeatures: array(
      { name: string(), maxVersionLevel: int16(), minVersionLevel: int16() },
      { v: '3+', tag: 2 },
    ),
    zkMigrationReady: bool({ v: '3+', tag: 3, default: false }),
  },
});
export type ApiVersionsResponse = InferInput<typeof ApiVersionsResponse>;
