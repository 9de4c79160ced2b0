// protocol/ room: Produce (key 0). Kafka 4 rejects v0-2 but still advertises them (KAFKA-18659,
// librdkafka): the codec covers v0+ so the broker can answer a v0-2 request with
// UNSUPPORTED_VERSION in its own format; the table in index.ts accepts only v3+.
// v13 (KIP-516) names topics by id instead of name, in the request and the response.
// `records` stays a raw Buffer view.
import { array, int16, int32, int64, message, records, string, struct, uuid, type Infer, type InferInput } from '../schema.js';

export const ProduceRequest = message({
  name: 'ProduceRequest',
  apiKey: 0,
  versions: '0-13',
  flexible: '9+',
  fields: {
    transactionalId: string({ v: '3+', nullable: '3+', default: null }),
    acks: int16(),
    timeoutMs: int32(),
    topicData: array({
      name: string({ v: '0-12' }),
      topicId: uuid({ v: '13+' }),
      partitionData: array({ index: int32(), records: records({ nullable: '0+' }) }),
    }),
  },
});
export type ProduceRequest = Infer<typeof ProduceRequest>;

const leaderIdAndEpoch = { leaderId: int32({ default: -1 }), leaderEpoch: int32({ default: -1 }) };
export const nodeEndpoint = {
  nodeId: int32(),
  host: string(),
  port: int32(),
  rack: string({ nullable: '0+', default: null }),
};

export const ProduceResponse = message({
  name: 'ProduceResponse',
  apiKey: 0,
  versions: '0-13',
  flexible: '9+',
  fields: {
    responses: array({
      name: string({ v: '0-12' }),
      topicId: uuid({ v: '13+' }),
      partitionResponses: array({
        index: int32(),
        errorCode: int16(),
        baseOffset: int64(),
        logAppendTimeMs: int64({ v: '2+', default: -1 }),
        logStartOffset: int64({ v: '5+', default: -1 }),
        recordErrors: array(
          { batchIndex: int32(), batchIndexErrorMessage: string({ nullable: '8+', default: null }) },
          { v: '8+' },
        ),
        errorMessage: string({ v: '8+', nullable: '8+', default: null }),
        currentLeader: struct(leaderIdAndEpoch, { v: '10+', tag: 0 }),
      }),
    }),
    throttleTimeMs: int32({ v: '1+' }),
    nodeEndpoints: array(nodeEndpoint, { v: '10+', tag: 0 }),
  },
});
export type ProduceResponse = InferInput<typeof ProduceResponse>;
