// protocol/ room: EndTxn (key 26): commit (`committed` true) or abort a transaction. v5 (KIP-890
// part 2) returns the producer id and epoch, which transactions V2 bump on every transaction.
import { bool, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const EndTxnRequest = message({
  name: 'EndTxnRequest',
  apiKey: 26,
  versions: '0-5',
  flexible: '3+',
  fields: {
    transactionalId: string(),
    producerId: int64(),
    producerEpoch: int16(),
    committed: bool(),
  },
});
export type EndTxnRequest = Infer<typeof EndTxnRequest>;

export const EndTxnResponse = message({
  name: 'EndTxnResponse',
  apiKey: 26,
  versions: '0-5',
  flexible: '3+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    producerId: int64({ v: '5+', default: -1 }),
    producerEpoch: int16({ v: '5+', default: -1 }),
  },
});
export type EndTxnResponse = InferInput<typeof EndTxnResponse>;
