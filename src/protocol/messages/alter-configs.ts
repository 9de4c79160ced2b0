// protocol/ room: AlterConfigs (key 33): replaces a resource's whole set of overrides.
import { array, bool, int16, int32, int8, message, string, type Infer, type InferInput } from '../schema.js';

export const AlterConfigsRequest = message({
  name: 'AlterConfigsRequest',
  apiKey: 33,
  versions: '0-2',
  flexible: '2+',
  fields: {
    resources: array({
      resourceType: int8(),
      resourceName: string(),
      configs: array({ name: string(), value: string({ nullable: '0+' }) }),
    }),
    validateOnly: bool(),
  },
});
export type AlterConfigsRequest = Infer<typeof AlterConfigsRequest>;

export const AlterConfigsResponse = message({
  name: 'AlterConfigsResponse',
  apiKey: 33,
  versions: '0-2',
  flexible: '2+',
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
export type AlterConfigsResponse = InferInput<typeof AlterConfigsResponse>;
