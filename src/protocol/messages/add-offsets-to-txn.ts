// protocol/ room: AddOffsetsToTxn (key 25): ties a consumer group's __consumer_offsets partition
// to the transaction before TxnOffsetCommit. v4 only adds the TRANSACTION_ABORTABLE error (KIP-890).
import { int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const AddOffsetsToTxnRequest = message({
  name: 'AddOffsetsToTxnRequest',
  apiKey: 25,
  versions: '0-4',
  flexible: '3+',
  fields: {
    transactionalId: string(),
    producerId: int64(),
    producerEpoch: int16(),
    groupId: string(),
  },
});
export type AddOffsetsToTxnRequest = Infer<typeof AddOffsetsToTxnRequest>;

export const AddOffsetsToTxnResponse = message({
  name: 'AddOffsetsToTxnResponse',
  apiKey: 25,
  versions: '0-4',
  flexible: '3+',
  fields: { throttleTimeMs: int32(), errorCode: int16() },
});
export type AddOffsetsToTxnResponse = InferInput<typeof AddOffsetsToTxnResponse>;
