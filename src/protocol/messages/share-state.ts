// protocol/ room: the share coordinator's inter-broker RPCs (KIP-932): InitializeShareGroupState
// (key 83), ReadShareGroupState (84), WriteShareGroupState (85), DeleteShareGroupState (86) and
// ReadShareGroupStateSummary (87). Sent by share-partition leaders and group coordinators to the
// broker leading the __share_group_state partition of "group:topicId:partition"; flexible, v0
// (Write and ReadSummary v0-1: v1 adds DeliveryCompleteCount, KIP-1226, which Spool does not keep:
// it reads it as -1, "unknown"). No throttle time and no top-level error: every partition
// answers its own code.
import { array, int16, int32, int64, int8, message, string, uuid, type Infer, type InferInput } from '../schema.js';

const stateBatch = { firstOffset: int64(), lastOffset: int64(), deliveryState: int8(), deliveryCount: int16() };
const partitionError = { partition: int32(), errorCode: int16(), errorMessage: string({ nullable: '0+', default: null }) };

export const InitializeShareGroupStateRequest = message({
  name: 'InitializeShareGroupStateRequest',
  apiKey: 83,
  versions: '0',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({ topicId: uuid(), partitions: array({ partition: int32(), stateEpoch: int32(), startOffset: int64() }) }),
  },
});
export type InitializeShareGroupStateRequest = Infer<typeof InitializeShareGroupStateRequest>;

export const InitializeShareGroupStateResponse = message({
  name: 'InitializeShareGroupStateResponse',
  apiKey: 83,
  versions: '0',
  flexible: '0+',
  fields: { results: array({ topicId: uuid(), partitions: array(partitionError) }) },
});
export type InitializeShareGroupStateResponse = InferInput<typeof InitializeShareGroupStateResponse>;

export const ReadShareGroupStateRequest = message({
  name: 'ReadShareGroupStateRequest',
  apiKey: 84,
  versions: '0',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({ topicId: uuid(), partitions: array({ partition: int32(), leaderEpoch: int32() }) }),
  },
});
export type ReadShareGroupStateRequest = Infer<typeof ReadShareGroupStateRequest>;

export const ReadShareGroupStateResponse = message({
  name: 'ReadShareGroupStateResponse',
  apiKey: 84,
  versions: '0',
  flexible: '0+',
  fields: {
    results: array({
      topicId: uuid(),
      partitions: array({ ...partitionError, stateEpoch: int32(), startOffset: int64(), stateBatches: array(stateBatch) }),
    }),
  },
});
export type ReadShareGroupStateResponse = InferInput<typeof ReadShareGroupStateResponse>;

export const WriteShareGroupStateRequest = message({
  name: 'WriteShareGroupStateRequest',
  apiKey: 85,
  versions: '0-1',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({
      topicId: uuid(),
      partitions: array({
        partition: int32(),
        stateEpoch: int32(),
        leaderEpoch: int32(),
        startOffset: int64(),
        deliveryCompleteCount: int32({ v: '1+', default: -1 }),
        stateBatches: array(stateBatch),
      }),
    }),
  },
});
export type WriteShareGroupStateRequest = Infer<typeof WriteShareGroupStateRequest>;

export const WriteShareGroupStateResponse = message({
  name: 'WriteShareGroupStateResponse',
  apiKey: 85,
  versions: '0-1',
  flexible: '0+',
  fields: { results: array({ topicId: uuid(), partitions: array(partitionError) }) },
});
export type WriteShareGroupStateResponse = InferInput<typeof WriteShareGroupStateResponse>;

export const DeleteShareGroupStateRequest = message({
  name: 'DeleteShareGroupStateRequest',
  apiKey: 86,
  versions: '0',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({ topicId: uuid(), partitions: array({ partition: int32() }) }),
  },
});
export type DeleteShareGroupStateRequest = Infer<typeof DeleteShareGroupStateRequest>;

export const DeleteShareGroupStateResponse = message({
  name: 'DeleteShareGroupStateResponse',
  apiKey: 86,
  versions: '0',
  flexible: '0+',
  fields: { results: array({ topicId: uuid(), partitions: array(partitionError) }) },
});
export type DeleteShareGroupStateResponse = InferInput<typeof DeleteShareGroupStateResponse>;

export const ReadShareGroupStateSummaryRequest = message({
  name: 'ReadShareGroupStateSummaryRequest',
  apiKey: 87,
  versions: '0-1',
  flexible: '0+',
  fields: {
    groupId: string(),
    topics: array({ topicId: uuid(), partitions: array({ partition: int32(), leaderEpoch: int32() }) }),
  },
});
export type ReadShareGroupStateSummaryRequest = Infer<typeof ReadShareGroupStateSummaryRequest>;

export const ReadShareGroupStateSummaryResponse = message({
  name: 'ReadShareGroupStateSummaryResponse',
  apiKey: 87,
  versions: '0-1',
  flexible: '0+',
  fields: {
    results: array({
      topicId: uuid(),
      partitions: array({ ...partitionError, stateEpoch: int32(), leaderEpoch: int32(), startOffset: int64(), deliveryCompleteCount: int32({ v: '1+', default: -1 }) }),
    }),
  },
});
export type ReadShareGroupStateSummaryResponse = InferInput<typeof ReadShareGroupStateSummaryResponse>;
