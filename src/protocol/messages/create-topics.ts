// protocol/ room: CreateTopics (key 19). Kafka 4 accepts v2+. numPartitions/replicationFactor -1
// mean "broker default" (v4+) or "see assignments".
import { array, bool, int16, int32, int8, message, string, uuid, type Infer, type InferInput } from '../schema.js';

export const CreateTopicsRequest = message({
  name: 'CreateTopicsRequest',
  apiKey: 19,
  versions: '2-7',
  flexible: '5+',
  fields: {
    topics: array({
      name: string(),
      numPartitions: int32(),
      replicationFactor: int16(),
      assignments: array({ partitionIndex: int32(), brokerIds: array(int32()) }),
      configs: array({ name: string(), value: string({ nullable: '0+' }) }),
    }),
    timeoutMs: int32({ default: 60000 }),
    validateOnly: bool({ v: '1+', default: false }),
  },
});
export type CreateTopicsRequest = Infer<typeof CreateTopicsRequest>;

export const CreateTopicsResponse = message({
  name: 'CreateTopicsResponse',
  apiKey: 19,
  versions: '2-7',
  flexible: '5+',
  fields: {
    throttleTimeMs: int32({ v: '2+' }),
    topics: array({
      name: string(),
      topicId: uuid({ v: '7+' }),
      errorCode: int16(),
      errorMessage: string({ v: '1+', nullable: '0+', default: null }),
      topicConfigErrorCode: int16({ v: '5+', tag: 0, default: 0 }),
      numPartitions: int32({ v: '5+', default: -1 }),
      replicationFactor: int16({ v: '5+', default: -1 }),
      configs: array(
        {
          name: string(),
          value: string({ nullable: '0+' }),
          readOnly: bool(),
          configSource: int8({ default: -1 }),
          isSensitive: bool(),
        },
        { v: '5+', nullable: '5+', default: null },
      ),
    }),
  },
});
export type CreateTopicsResponse = InferInput<typeof CreateTopicsResponse>;
