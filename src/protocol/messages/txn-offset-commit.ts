// protocol/ room: TxnOffsetCommit (key 28): offsets that become visible when the transaction
// commits. v4-5 change no fields (KIP-890: TRANSACTION_ABORTABLE; v5 implies AddOffsetsToTxn).
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const TxnOffsetCommitRequest = message({
  name: 'TxnOffsetCommitRequest',
  apiKey: 28,
  versions: '0-5',
  flexible: '3+',
  fields: {
    transactionalId: string(),
    groupId: string(),
    producerId: int64(),
    producerEpoch: int16(),
    generationId: int32({ v: '3+', default: -1 }),
    memberId: string({ v: '3+', default: '' }),
    groupInstanceId: string({ v: '3+', nullable: '3+', default: null }),
    topics: array({
      name: string(),
      partitions: array({
        partitionIndex: int32(),
        committedOffset: int64(),
        committedLeaderEpoch: int32({ v: '2+', default: -1 }),
        committedMetadata: string({ nullable: '0+' }),
      }),
    }),
  },
});
export type TxnOffsetCommitRequest = Infer<typeof TxnOffsetCommitRequest>;

export const TxnOffsetCommitResponse = message({
  name: 'TxnOffsetCommitResponse',
  apiKey: 28,
  versions: '0-5',
  flexible: '3+',
  fields: {
    throttleTimeMs: int32(),
    topics: array({ name: string(), partitions: array({ partitionIndex: int32(), errorCode: int16() }) }),
  },
});
export type TxnOffsetCommitResponse = InferInput<typeof TxnOffsetCommitResponse>;
