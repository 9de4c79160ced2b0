// protocol/ room: OffsetForLeaderEpoch (key 23). Kafka 4 accepts v2+. The answer must carry the
// epoch of the records found, not the current epoch (franz-go stalls otherwise).
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const OffsetForLeaderEpochRequest = message({
  name: 'OffsetForLeaderEpochRequest',
  apiKey: 23,
  versions: '2-4',
  flexible: '4+',
  fields: {
    // -2 is a "debug" consumer, allowed to see past the high watermark.
    replicaId: int32({ v: '3+', default: -2 }),
    topics: array({
      topic: string(),
      partitions: array({
        partition: int32(),
        currentLeaderEpoch: int32({ v: '2+', default: -1 }),
        leaderEpoch: int32(),
      }),
    }),
  },
});
export type OffsetForLeaderEpochRequest = Infer<typeof OffsetForLeaderEpochRequest>;

export const OffsetForLeaderEpochResponse = message({
  name: 'OffsetForLeaderEpochResponse',
  apiKey: 23,
  versions: '2-4',
  flexible: '4+',
  fields: {
    throttleTimeMs: int32({ v: '2+' }),
    topics: array({
      topic: string(),
      partitions: array({
        errorCode: int16(),
        partition: int32(),
        leaderEpoch: int32({ v: '1+', default: -1 }),
        endOffset: int64(),
      }),
    }),
  },
});
export type OffsetForLeaderEpochResponse = InferInput<typeof OffsetForLeaderEpochResponse>;
