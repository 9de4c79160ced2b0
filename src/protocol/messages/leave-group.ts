// protocol/ room: LeaveGroup (key 13). v3+ leave in batches (`members`), v0-2 one `memberId`.
import { array, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const LeaveGroupRequest = message({
  name: 'LeaveGroupRequest',
  apiKey: 13,
  versions: '0-5',
  flexible: '4+',
  fields: {
    groupId: string(),
    memberId: string({ v: '0-2' }),
    members: array(
      {
        memberId: string(),
        groupInstanceId: string({ nullable: '3+', default: null }),
        reason: string({ v: '5+', nullable: '5+', default: null }),
      },
      { v: '3+' },
    ),
  },
});
export type LeaveGroupRequest = Infer<typeof LeaveGroupRequest>;

export const LeaveGroupResponse = message({
  name: 'LeaveGroupResponse',
  apiKey: 13,
  versions: '0-5',
  flexible: '4+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    errorCode: int16(),
    members: array(
      { memberId: string(), groupInstanceId: string({ nullable: '3+', default: null }), errorCode: int16() },
      { v: '3+' },
    ),
  },
});
export type LeaveGroupResponse = InferInput<typeof LeaveGroupResponse>;
