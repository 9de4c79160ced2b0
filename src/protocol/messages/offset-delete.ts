// protocol/ room: OffsetDelete (key 47): drop a group's committed offsets for some partitions.
import { array, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const OffsetDeleteRequest = message({
  name: 'OffsetDeleteRequest',
  apiKey: 47,
  versions: '0',
  flexible: 'none',
  fields: {
    groupId: string(),
    topics: array({ name: string(), partitions: array({ partitionIndex: int32() }) }),
  },
});
export type OffsetDeleteRequest = Infer<typeof OffsetDeleteRequest>;

export const OffsetDeleteResponse = message({
  name: 'OffsetDeleteResponse',
  apiKey: 47,
  versions: '0',
  flexible: 'none',
  fields: {
    errorCode: int16(),
    throttleTimeMs: int32(),
    topics: array({ name: string(), partitions: array({ partitionIndex: int32(), errorCode: int16() }) }),
  },
});
export type OffsetDeleteResponse = InferInput<typeof OffsetDeleteResponse>;
