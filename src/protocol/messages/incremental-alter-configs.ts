// protocol/ room: IncrementalAlterConfigs (key 44). configOperation: 0 SET, 1 DELETE, 2 APPEND,
// 3 SUBTRACT.
import { array, bool, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const IncrementalAlterConfigsRequest = message({
  name: 'IncrementalAlterConfigsRequest',
  apiKey: 44,
  versions: '0-1',
  flexible: '1+',
  fields: {
    resources: array({
      resourceType: int8(),
      resourceName: string(),
      configs: array({ name: string(), configOperation: int8(), value: string({ nullable: '0+' }) }),
    }),
    validateOnly: bool(),
  },
});
export type IncrementalAlterConfigsRequest = Infer<typeof IncrementalAlterConfigsRequest>;

export const IncrementalAlterConfigsResponse = message({
  name: 'IncrementalAlterConfigsResponse',
  apiKey: 44,
  versions: '0-1',
  flexible: '1+',
  fields: {
    throttleTimeMs: int32(),
    responses: array({
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
      resourceType: int8(),
      resourceName: string(),
    }),
  },
});
export type IncrementalAlterConfigsResponse = InferInput<typeof IncrementalAlterConfigsResponse>;
