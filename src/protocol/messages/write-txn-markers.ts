// protocol/ room: WriteTxnMarkers (key 27): a transaction coordinator asks a partition leader to
// write COMMIT/ABORT markers (broker to broker). v1 is flexible; v2 (KIP-890) adds the
// transaction version per marker.
import { array, bool, int16, int32, int64, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const WriteTxnMarkersRequest = message({
  name: 'WriteTxnMarkersRequest',
  apiKey: 27,
  versions: '0-2',
  flexible: '1+',
  fields: {
    markers: array({
      producerId: int64(),
      producerEpoch: int16(),
      transactionResult: bool(),
      topics: array({ name: string(), partitionIndexes: array(int32()) }),
      coordinatorEpoch: int32(),
      transactionVersion: int8({ v: '2+', default: 0 }),
    }),
  },
});
export type WriteTxnMarkersRequest = Infer<typeof WriteTxnMarkersRequest>;

export const WriteTxnMarkersResponse = message({
  name: 'WriteTxnMarkersResponse',
  apiKey: 27,
  versions: '0-2',
  flexible: '1+',
  fields: {
    markers: array({
      producerId: int64(),
      topics: array({ name: string(), partitions: array({ partitionIndex: int32(), errorCode: int16() }) }),
    }),
  },
});
export type WriteTxnMarkersResponse = InferInput<typeof WriteTxnMarkersResponse>;
