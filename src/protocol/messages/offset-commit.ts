// protocol/ room: OffsetCommit (key 8). Kafka 4 accepts v2+. `committedMetadata` must be stored
// and returned by OffsetFetch as given. v10 (topic ids) is latestVersionUnstable in Kafka 4.1: left out.
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const OffsetCommitRequest = message({
  name: 'OffsetCommitRequest',
  apiKey: 8,
  versions: '2-9',
  flexible: '8+',
  fields: {
    groupId: string(),
    // The classic protocol's generation id, or the member epoch for KIP-848 groups (v9+).
    generationIdOrMemberEpoch: int32({ v: '1+', default: -1 }),
    memberId: string({ v: '1+' }),
    groupInstanceId: string({ v: '7+', nullable: '7+', default: null }),
    retentionTimeMs: int64({ v: '2-4', default: -1 }),
    topics: array({
      name: string(),
      partitions: array({
        partitionIndex: int32(),
        committedOffset: int64(),
        committedLeaderEpoch: int32({ v: '6+', default: -1 }),
        committedMetadata: string({ nullable: '0+' }),
      }),
    }),
  },
});
export type OffsetCommitRequest = Infer<typeof OffsetCommitRequest>;

export const OffsetCommitResponse = message({
  name: 'OffsetCommitResponse',
  apiKey: 8,
  versions: '2-9',
  flexible: '8+',
  fields: {
    throttleTimeMs: int32({ v: '3+' }),
    topics: array({
      name: string(),
      partitions: array({ partitionIndex: int32(), errorCode: int16() }),
    }),
  },
});
export type OffsetCommitResponse = InferInput<typeof OffsetCommitResponse>;
