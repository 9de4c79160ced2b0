// protocol/ room: DeleteRecords (key 21): advance a partition's logStartOffset to `offset`
// (-1 = high watermark); the answer carries the new low watermark.
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const DeleteRecordsRequest = message({
  name: 'DeleteRecordsRequest',
  apiKey: 21,
  versions: '0-2',
  flexible: '2+',
  fields: {
    topics: array({ name: string(), partitions: array({ partitionIndex: int32(), offset: int64() }) }),
    timeoutMs: int32(),
  },
});
export type DeleteRecordsRequest = Infer<typeof DeleteRecordsRequest>;

export const DeleteRecordsResponse = message({
  name: 'DeleteRecordsResponse',
  apiKey: 21,
  versions: '0-2',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    topics: array({
      name: string(),
      partitions: array({ partitionIndex: int32(), lowWatermark: int64(), errorCode: int16() }),
    }),
  },
});
export type DeleteRecordsResponse = InferInput<typeof DeleteRecordsResponse>;
