// protocol/ room: ShareFetch (key 78, KIP-932). v1 is the stable version (4.1+); v2 (KIP-1206,
// KIP-1222) adds the acquire mode and renew acknowledgements. Acknowledgements for records
// acquired earlier ride along with the fetch (piggy-backed); acquired ranges come back with
// their delivery counts.
import {
  array,
  bool,
  int16,
  int32,
  int64,
  int8,
  message,
  records,
  string,
  struct,
  uuid,
  type Infer,
  type InferInput,
} from '../schema.js';
import { nodeEndpoint } from './produce.js';

/** One acknowledgement range: one type for the whole range, or one per offset. */
export const acknowledgementBatch = {
  firstOffset: int64(),
  lastOffset: int64(),
  acknowledgeTypes: array(int8()),
};

export const ShareFetchRequest = message({
  name: 'ShareFetchRequest',
  apiKey: 78,
  versions: '1-2',
  flexible: '0+',
  fields: {
    groupId: string({ nullable: '0+', default: null }),
    memberId: string({ nullable: '0+' }),
    shareSessionEpoch: int32(),
    maxWaitMs: int32(),
    minBytes: int32(),
    maxBytes: int32({ default: 0x7fffffff }),
    maxRecords: int32(),
    batchSize: int32(),
    shareAcquireMode: int8({ v: '2+', default: 0 }),
    isRenewAck: bool({ v: '2+', default: false }),
    topics: array({
      topicId: uuid(),
      partitions: array({ partitionIndex: int32(), acknowledgementBatches: array(acknowledgementBatch) }),
    }),
    forgottenTopicsData: array({ topicId: uuid(), partitions: array(int32()) }),
  },
});
export type ShareFetchRequest = Infer<typeof ShareFetchRequest>;

export const leaderIdAndEpoch = struct({ leaderId: int32(), leaderEpoch: int32() });

export const ShareFetchResponse = message({
  name: 'ShareFetchResponse',
  apiKey: 78,
  versions: '1-2',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    acquisitionLockTimeoutMs: int32(),
    responses: array({
      topicId: uuid(),
      partitions: array({
        partitionIndex: int32(),
        errorCode: int16(),
        errorMessage: string({ nullable: '0+', default: null }),
        acknowledgeErrorCode: int16(),
        acknowledgeErrorMessage: string({ nullable: '0+', default: null }),
        currentLeader: leaderIdAndEpoch,
        records: records({ nullable: '0+' }),
        acquiredRecords: array({ firstOffset: int64(), lastOffset: int64(), deliveryCount: int16() }),
      }),
    }),
    nodeEndpoints: array(nodeEndpoint),
  },
});
export type ShareFetchResponse = InferInput<typeof ShareFetchResponse>;
