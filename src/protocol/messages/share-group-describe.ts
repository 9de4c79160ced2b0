// protocol/ room: ShareGroupDescribe (key 77, KIP-932), v1 (v0 was 4.0's early access).
import { array, bool, int16, int32, message, string, struct, uuid, type Infer, type InferInput } from '../schema.js';

export const ShareGroupDescribeRequest = message({
  name: 'ShareGroupDescribeRequest',
  apiKey: 77,
  versions: '1',
  flexible: '1+',
  fields: {
    groupIds: array(string()),
    includeAuthorizedOperations: bool(),
  },
});
export type ShareGroupDescribeRequest = Infer<typeof ShareGroupDescribeRequest>;

export const ShareGroupDescribeResponse = message({
  name: 'ShareGroupDescribeResponse',
  apiKey: 77,
  versions: '1',
  flexible: '1+',
  fields: {
    throttleTimeMs: int32(),
    groups: array({
      errorCode: int16(),
      errorMessage: string({ nullable: '1+', default: null }),
      groupId: string(),
      groupState: string(),
      groupEpoch: int32(),
      assignmentEpoch: int32(),
      assignorName: string(),
      members: array({
        memberId: string(),
        rackId: string({ nullable: '1+', default: null }),
        memberEpoch: int32(),
        clientId: string(),
        clientHost: string(),
        subscribedTopicNames: array(string()),
        assignment: struct({ topicPartitions: array({ topicId: uuid(), topicName: string(), partitions: array(int32()) }) }),
      }),
      authorizedOperations: int32({ default: -2147483648 }),
    }),
  },
});
export type ShareGroupDescribeResponse = InferInput<typeof ShareGroupDescribeResponse>;
