// protocol/ room: SyncGroup (key 14). A member with no assignment still gets a valid response
// with an empty `assignment`.
import { array, bytes, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const SyncGroupRequest = message({
  name: 'SyncGroupRequest',
  apiKey: 14,
  versions: '0-5',
  flexible: '4+',
  fields: {
    groupId: string(),
    generationId: int32(),
    memberId: string(),
    groupInstanceId: string({ v: '3+', nullable: '3+', default: null }),
    protocolType: string({ v: '5+', nullable: '5+', default: null }),
    protocolName: string({ v: '5+', nullable: '5+', default: null }),
    assignments: array({ memberId: string(), assignment: bytes() }),
  },
});
export type SyncGroupRequest = Infer<typeof SyncGroupRequest>;

export const SyncGroupResponse = message({
  name: 'SyncGroupResponse',
  apiKey: 14,
  versions: '0-5',
  flexible: '4+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    errorCode: int16(),
    protocolType: string({ v: '5+', nullable: '5+', default: null }),
    protocolName: string({ v: '5+', nullable: '5+', default: null }),
    assignment: bytes(),
  },
});
export type SyncGroupResponse = InferInput<typeof SyncGroupResponse>;
