// protocol/ room: Fetch (key 1). Kafka 4 accepts v4+. v13+ name topics by id instead of name.
// v18 (KIP-1166) adds the fetcher's high-watermark to each partition; the response is unchanged.
// Response records may be a RecordsSlice (file data sent with sendfile).
import {
  array,
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

/** Request highWatermark when the fetcher does not report one (Kafka's Long.MAX_VALUE). */
export const FETCH_HIGH_WATERMARK_UNSUPPORTED = 2 ** 63;

export const FetchRequest = message({
  name: 'FetchRequest',
  apiKey: 1,
  versions: '4-18',
  flexible: '12+',
  fields: {
    clusterId: string({ v: '12+', nullable: '12+', default: null, tag: 0 }),
    replicaId: int32({ v: '0-14', default: -1 }),
    replicaState: struct({ replicaId: int32({ default: -1 }), replicaEpoch: int64({ default: -1 }) }, { v: '15+', tag: 1 }),
    maxWaitMs: int32(),
    minBytes: int32(),
    maxBytes: int32({ v: '3+', default: 0x7fffffff }),
    isolationLevel: int8({ v: '4+', default: 0 }),
    sessionId: int32({ v: '7+', default: 0 }),
    sessionEpoch: int32({ v: '7+', default: -1 }),
    topics: array({
      topic: string({ v: '0-12' }),
      topicId: uuid({ v: '13+' }),
      partitions: array({
        partition: int32(),
        currentLeaderEpoch: int32({ v: '9+', default: -1 }),
        fetchOffset: int64(),
        lastFetchedEpoch: int32({ v: '12+', default: -1 }),
        logStartOffset: int64({ v: '5+', default: -1 }),
        partitionMaxBytes: int32(),
        replicaDirectoryId: uuid({ v: '17+', tag: 0 }),
        // Kafka's default is Long.MAX_VALUE ("feature not supported"); 2^63 is the nearest double.
        // It is never on the wire (a tagged field at its default is not written), and compares
        // above every real offset, which is all the handler needs. -1 means "not known".
        highWatermark: int64({ v: '18+', tag: 1, default: FETCH_HIGH_WATERMARK_UNSUPPORTED }),
      }),
    }),
    forgottenTopicsData: array(
      { topic: string({ v: '7-12' }), topicId: uuid({ v: '13+' }), partitions: array(int32()) },
      { v: '7+' },
    ),
    rackId: string({ v: '11+', default: '' }),
  },
});
export type FetchRequest = Infer<typeof FetchRequest>;

export const FetchResponse = message({
  name: 'FetchResponse',
  apiKey: 1,
  versions: '4-18',
  flexible: '12+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    errorCode: int16({ v: '7+' }),
    sessionId: int32({ v: '7+', default: 0 }),
    responses: array({
      topic: string({ v: '0-12' }),
      topicId: uuid({ v: '13+' }),
      partitions: array({
        partitionIndex: int32(),
        errorCode: int16(),
        highWatermark: int64(),
        lastStableOffset: int64({ v: '4+', default: -1 }),
        logStartOffset: int64({ v: '5+', default: -1 }),
        divergingEpoch: struct({ epoch: int32({ default: -1 }), endOffset: int64({ default: -1 }) }, { v: '12+', tag: 0 }),
        currentLeader: struct({ leaderId: int32({ default: -1 }), leaderEpoch: int32({ default: -1 }) }, { v: '12+', tag: 1 }),
        snapshotId: struct({ endOffset: int64({ default: -1 }), epoch: int32({ default: -1 }) }, { v: '12+', tag: 2 }),
        abortedTransactions: array({ producerId: int64(), firstOffset: int64() }, { v: '4+', nullable: '4+', default: null }),
        preferredReadReplica: int32({ v: '11+', default: -1 }),
        records: records({ nullable: '0+' }),
      }),
    }),
    nodeEndpoints: array(nodeEndpoint, { v: '16+', tag: 0 }),
  },
});
export type FetchResponse = InferInput<typeof FetchResponse>;
