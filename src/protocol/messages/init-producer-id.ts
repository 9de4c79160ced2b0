// protocol/ room: InitProducerId (key 22). v3+ let an idempotent producer bump its epoch by
// sending its current producerId/producerEpoch. v6 (KIP-939 2PC) is latestVersionUnstable in Kafka
// 4.1: left out.
import { int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const InitProducerIdRequest = message({
  name: 'InitProducerIdRequest',
  apiKey: 22,
  versions: '0-5',
  flexible: '2+',
  fields: {
    transactionalId: string({ nullable: '0+' }),
    transactionTimeoutMs: int32(),
    producerId: int64({ v: '3+', default: -1 }),
    producerEpoch: int16({ v: '3+', default: -1 }),
  },
});
export type InitProducerIdRequest = Infer<typeof InitProducerIdRequest>;

export const InitProducerIdResponse = message({
  name: 'InitProducerIdResponse',
  apiKey: 22,
  versions: '0-5',
  flexible: '2+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    producerId: int64({ default: -1 }),
    producerEpoch: int16(),
  },
});
export type InitProducerIdResponse = InferInput<typeof InitProducerIdResponse>;
