// protocol/ room: OffsetFetch (key 9). Kafka 4 accepts v1+. Null topics (v2+) mean "every
// committed partition"; v8+ ask for several groups at once (`groups` → `groups` in the response).
// v10 (topic ids) is latestVersionUnstable in Kafka 4.1: left out.
import { array, bool, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const OffsetFetchRequest = message({
  name: 'OffsetFetchRequest',
  apiKey: 9,
  versions: '1-9',
  flexible: '6+',
  fields: {
    groupId: string({ v: '0-7' }),
    topics: array({ name: string(), partitionIndexes: array(int32()) }, { v: '0-7', nullable: '2-7' }),
    groups: array(
      {
        groupId: string(),
        memberId: string({ v: '9+', nullable: '9+', default: null }),
        memberEpoch: int32({ v: '9+', default: -1 }),
        topics: array({ name: string(), partitionIndexes: array(int32()) }, { nullable: '8+' }),
      },
      { v: '8+' },
    ),
    requireStable: bool({ v: '7+', default: false }),
  },
});
export type OffsetFetchRequest = Infer<typeof OffsetFetchRequest>;

const partitionOffset = {
  partitionIndex: int32(),
  committedOffset: int64(),
  committedLeaderEpoch: int32({ v: '5+', default: -1 }),
  metadata: string({ nullable: '0+' }),
  errorCode: int16(),
};

export const OffsetFetchResponse = message({
  name: 'OffsetFetchResponse',
  apiKey: 9,
  versions: '1-9',
  flexible: '6+',
  fields: {
    throttleTimeMs: int32({ v: '3+' }),
    topics: array({ name: string(), partitions: array(partitionOffset) }, { v: '0-7' }),
    errorCode: int16({ v: '2-7', default: 0 }),
    groups: array(
      {
        groupId: string(),
        topics: array({ name: string(), partitions: array(partitionOffset) }),
        errorCode: int16({ default: 0 }),
      },
      { v: '8+' },
    ),
  },
});
export type OffsetFetchResponse = InferInput<typeof OffsetFetchResponse>;
