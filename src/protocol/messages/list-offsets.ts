// protocol/ room: ListOffsets (key 2). Kafka 4 accepts v1+. Timestamps -1 latest, -2 earliest,
// -3 max timestamp (v7+), -4 local log start (v8+), -5 last tiered (v9+), -6 earliest pending upload (v11+).
import { array, int16, int32, int64, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const ListOffsetsRequest = message({
  name: 'ListOffsetsRequest',
  apiKey: 2,
  versions: '1-11',
  flexible: '6+',
  fields: {
    replicaId: int32(),
    isolationLevel: int8({ v: '2+' }),
    topics: array({
      name: string(),
      partitions: array({
        partitionIndex: int32(),
        currentLeaderEpoch: int32({ v: '4+', default: -1 }),
        timestamp: int64(),
      }),
    }),
    timeoutMs: int32({ v: '10+' }),
  },
});
export type ListOffsetsRequest = Infer<typeof ListOffsetsRequest>;

export const ListOffsetsResponse = message({
  name: 'ListOffsetsResponse',
  apiKey: 2,
  versions: '1-11',
  flexible: '6+',
  fields: {
    throttleTimeMs: int32({ v: '2+' }),
    topics: array({
      name: string(),
      partitions: array({
        partitionIndex: int32(),
        errorCode: int16(),
        timestamp: int64({ v: '1+', default: -1 }),
        offset: int64({ v: '1+', default: -1 }),
        leaderEpoch: int32({ v: '4+', default: -1 }),
      }),
    }),
  },
});
export type ListOffsetsResponse = InferInput<typeof ListOffsetsResponse>;
