// protocol/ room: Heartbeat (key 12), the classic group protocol's liveness and rebalance signal.
import { int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const HeartbeatRequest = message({
  name: 'HeartbeatRequest',
  apiKey: 12,
  versions: '0-4',
  flexible: '4+',
  fields: {
    groupId: string(),
    generationId: int32(),
    memberId: string(),
    groupInstanceId: string({ v: '3+', nullable: '3+', default: null }),
  },
});
export type HeartbeatRequest = Infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = message({
  name: 'HeartbeatResponse',
  apiKey: 12,
  versions: '0-4',
  flexible: '4+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    errorCode: int16(),
  },
});
export type HeartbeatResponse = InferInput<typeof HeartbeatResponse>;
