// protocol/ room: DescribeProducers (key 61, KIP-664): the active idempotent/transactional
// producers of partitions this broker holds a replica of, from the partition's producer state —
// epoch, last sequence and timestamp, the last coordinator epoch that wrote a marker, and the
// first offset of the producer's open transaction (-1 when none).
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeProducersRequest = message({
  name: 'DescribeProducersRequest',
  apiKey: 61,
  versions: '0',
  flexible: '0+',
  fields: {
    topics: array({ name: string(), partitionIndexes: array(int32()) }),
  },
});
export type DescribeProducersRequest = Infer<typeof DescribeProducersRequest>;

export const DescribeProducersResponse = message({
  name: 'DescribeProducersResponse',
  apiKey: 61,
  versions: '0',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    topics: array({
      name: string(),
      partitions: array({
        partitionIndex: int32(),
        errorCode: int16(),
        errorMessage: string({ nullable: '0+', default: null }),
        activeProducers: array({
          producerId: int64(),
          // int32 on the wire, although epochs are int16 everywhere else.
          producerEpoch: int32(),
          lastSequence: int32({ default: -1 }),
          lastTimestamp: int64({ default: -1 }),
          coordinatorEpoch: int32(),
          currentTxnStartOffset: int64({ default: -1 }),
        }),
      }),
    }),
  },
});
export type DescribeProducersResponse = InferInput<typeof DescribeProducersResponse>;
