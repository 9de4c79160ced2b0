// protocol/ room: DeleteTopics (key 20). Kafka 4 accepts v1+. v6 names topics by name or id.
import { array, int16, int32, message, string, uuid, type Infer, type InferInput } from '../schema.js';

export const DeleteTopicsRequest = message({
  name: 'DeleteTopicsRequest',
  apiKey: 20,
  versions: '1-6',
  flexible: '4+',
  fields: {
    topics: array({ name: string({ nullable: '6+', default: null }), topicId: uuid() }, { v: '6+' }),
    topicNames: array(string(), { v: '0-5' }),
    timeoutMs: int32(),
  },
});
export type DeleteTopicsRequest = Infer<typeof DeleteTopicsRequest>;

export const DeleteTopicsResponse = message({
  name: 'DeleteTopicsResponse',
  apiKey: 20,
  versions: '1-6',
  flexible: '4+',
  fields: {
    throttleTimeMs: int32({ v: '1+' }),
    responses: array({
      name: string({ nullable: '6+' }),
      topicId: uuid({ v: '6+' }),
      errorCode: int16(),
      errorMessage: string({ v: '5+', nullable: '5+', default: null }),
    }),
  },
});
export type DeleteTopicsResponse = InferInput<typeof DeleteTopicsResponse>;
