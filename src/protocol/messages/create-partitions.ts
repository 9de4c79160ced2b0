// protocol/ room: CreatePartitions (key 37). `count` is the new total partition count.
import { array, bool, int16, int32, message, string, type Infer, type InferInput } from '../schema.js';

export const CreatePartitionsRequest = message({
  name: 'CreatePartitionsRequest',
  apiKey: 37,
  versions: '0-3',
  flexible: '2+',
  fields: {
    topics: array({
      name: string(),
      count: int32(),
      assignments: array({ brokerIds: array(int32()) }, { nullable: '0+' }),
    }),
    timeoutMs: int32(),
    validateOnly: bool(),
  },
});
export type CreatePartitionsRequest = Infer<typeof CreatePartitionsRequest>;

export const CreatePartitionsResponse = message({
  name: 'CreatePartitionsResponse',
  apiKey: 37,
  versions: '0-3',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    results: array({
      name: string(),
      errorCode: int16(),
      errorMessage: string({ nullable: '0+', default: null }),
    }),
  },
});
export type CreatePartitionsResponse = InferInput<typeof CreatePartitionsResponse>;
