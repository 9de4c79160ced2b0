// protocol/ room: ConsumerGroupDescribe (key 69), KIP-848 consumer groups as the admin client and
// kafka-consumer-groups see them. v1 adds each member's memberType (KIP-1099: 0 classic, 1 consumer).
import { array, bool, int16, int32, int8, message, string, struct, uuid, type Infer, type InferInput } from '../schema.js';

export const ConsumerGroupDescribeRequest = message({
  name: 'ConsumerGroupDescribeRequest',
  apiKey: 69,
  versions: '0-1',
  flexible: '0+',
  fields: {
    groupIds: array(string()),
    includeAuthorizedOperations: bool(),
  },
});
export type ConsumerGroupDescribeRequest = Infer<typeof ConsumerGroupDescribeRequest>;

const assignment = { topicPartitions: array({ topicId: uuid(), topicName: string(), partitions: array(int32()) }) };

export const ConsumerGroupDescribeResponse = message({
  name: 'ConsumerGroupDescribeResponse',
  apiKey: 69,
  versions: '0-1',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    groups: array({
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
      groupId: string(),
      groupState: string(),
      groupEpoch: int32(),
      assignmentEpoch: int32(),
      assignorName: string(),
      members: array({
        memberId: string(),
        instanceId: string({ nullable: '0+', default: null }),
        rackId: string({ nullable: '0+', default: null }),
        memberEpoch: int32(),
        clientId: string(),
        clientHost: string(),
        subscribedTopicNames: array(string()),
        subscribedTopicRegex: string({ nullable: '0+', default: null }),
        assignment: struct(assignment),
        targetAssignment: struct(assignment),
        memberType: int8({ v: '1+', default: -1 }),
      }),
      authorizedOperations: int32({ default: -2147483648 }),
    }),
  },
});
export type ConsumerGroupDescribeResponse = InferInput<typeof ConsumerGroupDescribeResponse>;
