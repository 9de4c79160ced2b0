// protocol/ room: ConsumerGroupHeartbeat (key 68), the KIP-848 consumer group protocol's one
// request: join (epoch 0), heartbeat and reconcile, leave (epoch -1, or -2 for a static member).
// v1 adds subscribedTopicRegex. Every field that "did not change since the last heartbeat" is null.
import { array, int16, int32, message, string, struct, uuid, type Infer, type InferInput } from '../schema.js';

export const ConsumerGroupHeartbeatRequest = message({
  name: 'ConsumerGroupHeartbeatRequest',
  apiKey: 68,
  versions: '0-1',
  flexible: '0+',
  fields: {
    groupId: string(),
    memberId: string(),
    memberEpoch: int32(),
    instanceId: string({ nullable: '0+', default: null }),
    rackId: string({ nullable: '0+', default: null }),
    rebalanceTimeoutMs: int32({ default: -1 }),
    subscribedTopicNames: array(string(), { nullable: '0+', default: null }),
    subscribedTopicRegex: string({ v: '1+', nullable: '1+', default: null }),
    serverAssignor: string({ nullable: '0+', default: null }),
    topicPartitions: array({ topicId: uuid(), partitions: array(int32()) }, { nullable: '0+', default: null }),
  },
});
export type ConsumerGroupHeartbeatRequest = Infer<typeof ConsumerGroupHeartbeatRequest>;

export const ConsumerGroupHeartbeatResponse = message({
  name: 'ConsumerGroupHeartbeatResponse',
  apiKey: 68,
  versions: '0-1',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    errorMessage: string({ nullable: '0+', default: null }),
    memberId: string({ nullable: '0+', default: null }),
    memberEpoch: int32(),
    heartbeatIntervalMs: int32(),
    assignment: struct({ topicPartitions: array({ topicId: uuid(), partitions: array(int32()) }) }, { nullable: '0+', default: null }),
  },
});
export type ConsumerGroupHeartbeatResponse = InferInput<typeof ConsumerGroupHeartbeatResponse>;
