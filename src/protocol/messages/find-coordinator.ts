// protocol/ room: FindCoordinator (key 10). keyType 0 = group, 1 = transaction. v4+ batch keys
// into `coordinatorKeys` and answer per key in `coordinators`.
import { array, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const FindCoordinatorRequest = message({
  name: 'FindCoordinatorRequest',
  apiKey: 10,
  versions: '0-6',
  flexible: '3+',
  fields: {
    key: string({ v: '0-3' }),
    keyType: int8({ v: '1+', default: 0 }),
    coordinatorKeys: array(string(), { v: '4+' }),
  },
});
export type FindCoordinatorRequest = Infer<typeof FindCoordinatorRequest>;

export const FindCoordinatorResponse = message({
  name: 'FindCoordinatorResponse',
  apiKey: 10,
  versions: '0-6',
  flexible: '3+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    errorCode: int16({ v: '0-3' }),
    errorMessage: string({ v: '1-3', nullable: '1-3', default: null }),
    nodeId: int32({ v: '0-3' }),
    host: string({ v: '0-3' }),
    port: int32({ v: '0-3' }),
    coordinators: array(
      {
        key: string(),
        nodeId: int32(),
        host: string(),
        port: int32(),
        errorCode: int16(),
        errorMessage: string({ nullable: '4+', default: null }),
      },
      { v: '4+' },
    ),
  },
});
export type FindCoordinatorResponse = InferInput<typeof FindCoordinatorResponse>;
