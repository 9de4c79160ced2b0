// protocol/ room: ShareAcknowledge (key 79, KIP-932). v1 stable (4.1+); v2 (KIP-1222) adds
// renew acknowledgements and the lock timeout in the response.
import { array, bool, int16, int32, message, string, uuid, type Infer, type InferInput } from '../schema.js';
import { nodeEndpoint } from './produce.js';
import { acknowledgementBatch, leaderIdAndEpoch } from './share-fetch.js';

export const ShareAcknowledgeRequest = message({
  name: 'ShareAcknowledgeRequest',
  apiKey: 79,
  versions: '1-2',
  flexible: '0+',
  fields: {
    groupId: string({ nullable: '0+', default: null }),
    memberId: string({ nullable: '0+' }),
    shareSessionEpoch: int32(),
    isRenewAck: bool({ v: '2+', default: false }),
    topics: array({
      topicId: uuid(),
      partitions: array({ partitionIndex: int32(), acknowledgementBatches: array(acknowledgementBatch) }),
    }),
  },
});
export type ShareAcknowledgeRequest = Infer<typeof ShareAcknowledgeRequest>;

export const ShareAcknowledgeResponse = message({
  name: 'ShareAcknowledgeResponse',
  apiKey: 79,
  versions: '1-2',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    acquisitionLockTimeoutMs: int32({ v: '2+', default: 0 }),
    responses: array({
      topicId: uuid(),
      partitions: array({
        partitionIndex: int32(),
        errorCode: int16(),
        errorMessage: string({ nullable: '0+', default: null }),
        currentLeader: leaderIdAndEpoch,
      }),
    }),
    nodeEndpoints: array(nodeEndpoint),
  },
});
export type ShareAcknowledgeResponse = InferInput<typeof ShareAcknowledgeResponse>;
