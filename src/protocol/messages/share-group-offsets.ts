// protocol/ room: the share-group offset admin APIs of KIP-932: DescribeShareGroupOffsets (key
// 90, v0-1; v1 adds lag), AlterShareGroupOffsets (91, v0) and DeleteShareGroupOffsets (92, v0).
import { array, int16, int32, int64, message, string, uuid, type Infer, type InferInput } from '../schema.js';

export const DescribeShareGroupOffsetsRequest = message({
  name: 'DescribeShareGroupOffsetsRequest',
  apiKey: 90,
  versions: '0-1',
  flexible: '0+',
  fields: {
    groups: array({
      groupId: string(),
      topics: array({ topicName: string(), partitions: array(int32()) }, { nullable: '0+' }),
    }),
  },
});
export type DescribeShareGroupOffsetsRequest = Infer<typeof DescribeShareGroupOffsetsRequest>;

export const DescribeShareGroupOffsetsResponse = message({
  name: 'DescribeShareGroupOffsetsResponse',
  apiKey: 90,
  versions: '0-1',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    groups: array({
      groupId: string(),
      topics: array({
        topicName: string(),
        topicId: uuid(),
        partitions: array({
          partitionIndex: int32(),
          startOffset: int64(),
          leaderEpoch: int32(),
          lag: int64({ v: '1+', default: -1 }),
          errorCode: int16(),
          errorMessage: string({ nullable: '0+', default: null }),
        }),
      }),
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
    }),
  },
});
export type DescribeShareGroupOffsetsResponse = InferInput<typeof DescribeShareGroupOffsetsResponse>;

export const AlterShareGroupOffsetsRequest = message({
  name: 'AlterShareGroupOffsetsRequest',
  apiKey: 91,
  versions: '0',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({ topicName: string(), partitions: array({ partitionIndex: int32(), startOffset: int64() }) }),
  },
});
export type AlterShareGroupOffsetsRequest = Infer<typeof AlterShareGroupOffsetsRequest>;

export const AlterShareGroupOffsetsResponse = message({
  name: 'AlterShareGroupOffsetsResponse',
  apiKey: 91,
  versions: '0',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    responses: array({
      topicName: string(),
      topicId: uuid(),
      partitions: array({ partitionIndex: int32(), errorCode: int16(), errorMessage: string({ nullable: '0+', default: null }) }),
    }),
  },
});
export type AlterShareGroupOffsetsResponse = InferInput<typeof AlterShareGroupOffsetsResponse>;

export const DeleteShareGroupOffsetsRequest = message({
  name: 'DeleteShareGroupOffsetsRequest',
  apiKey: 92,
  versions: '0',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({ topicName: string() }),
  },
});
export type DeleteShareGroupOffsetsRequest = Infer<typeof DeleteShareGroupOffsetsRequest>;

export const DeleteShareGroupOffsetsResponse = message({
  name: 'DeleteShareGroupOffsetsResponse',
  apiKey: 92,
  versions: '0',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    responses: array({
      topicName: string(),
      topicId: uuid(),
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
    }),
  },
});
export type DeleteShareGroupOffsetsResponse = InferInput<typeof DeleteShareGroupOffsetsResponse>;
