// protocol/ room: JoinGroup (key 11). Kafka 4.1 accepts v0-9 (validVersions in its
// JoinGroupRequest.json; v0-1 were not removed). v0 has no rebalanceTimeoutMs: the session
// timeout is used for both. From v4 a member without an id gets MEMBER_ID_REQUIRED with its
// new id and joins again.
import { array, bool, bytes, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const JoinGroupRequest = message({
  name: 'JoinGroupRequest',
  apiKey: 11,
  versions: '0-9',
  flexible: '6+',
  fields: {
    groupId: string(),
    sessionTimeoutMs: int32(),
    // Absent (v0) means "use sessionTimeoutMs"; -1 is only a placeholder.
    rebalanceTimeoutMs: int32({ v: '1+', default: -1 }),
    memberId: string(),
    groupInstanceId: string({ v: '5+', nullable: '5+', default: null }),
    protocolType: string(),
    protocols: array({ name: string(), metadata: bytes() }),
    reason: string({ v: '8+', nullable: '8+', default: null }),
  },
});
export type JoinGroupRequest = Infer<typeof JoinGroupRequest>;

export const JoinGroupResponse = message({
  name: 'JoinGroupResponse',
  apiKey: 11,
  versions: '0-9',
  flexible: '6+',
  fields: {
    throttleTimeMs: int32({ v: '2+' }),
    errorCode: int16(),
    generationId: int32({ default: -1 }),
    protocolType: string({ v: '7+', nullable: '7+', default: null }),
    protocolName: string({ nullable: '7+' }),
    leader: string(),
    skipAssignment: bool({ v: '9+', default: false }),
    memberId: string(),
    members: array({
      memberId: string(),
      groupInstanceId: string({ v: '5+', nullable: '5+', default: null }),
      metadata: bytes(),
    }),
  },
});
export type JoinGroupResponse = InferInput<typeof JoinGroupResponse>;
