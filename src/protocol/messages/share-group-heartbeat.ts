// protocol/ room: ShareGroupHeartbeat (key 76, KIP-932). Kafka 4.1+ serves v1 only (v0 was the
// 4.0 early-access version); a share member joins with epoch 0 and leaves with -1.
import { array, int16, int32, message, string, struct, uuid, type Infer, type InferInput } from '../schema.js';

export const ShareGroupHeartbeatRequest = message({
  name: 'ShareGroupHeartbeatRequest',
  apiKey: 76,
  versions: '1',
  flexible: '0+',
  fields: {
    groupId: string(),
    memberId: string(),
    memberEpoch: int32(),
    rackId: string({ nullable: '0+', default: null }),
    subscribedTopicNames: array(string(), { nullable: '0+', default: null }),
  },
});
export type ShareGroupHeartbeatRequest = Infer<typeof ShareGroupHeartbeatRequest>;

export const ShareGroupHeartbeatResponse = message({
  name: 'ShareGroupHeartbeatResponse',
  apiKey: 76,
  versions: '1',
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
export type ShareGroupHeartbeatResponse = InferInput<typeof ShareGroupHeartbeatResponse>;
