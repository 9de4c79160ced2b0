// protocol/ room: ListTransactions (key 66, KIP-664): the transactions of the coordinator shards
// this broker leads, filtered by state names and producer ids (empty = all); v1 adds a duration
// filter (transactions running longer than it, KIP-994), v2 a transactional id pattern (an RE2
// regular expression that must match the whole id, KIP-1152). The response is the same in every
// version.
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const ListTransactionsRequest = message({
  name: 'ListTransactionsRequest',
  apiKey: 66,
  versions: '0-2',
  flexible: '0+',
  fields: {
    stateFilters: array(string()),
    producerIdFilters: array(int64()),
    durationFilter: int64({ v: '1+', default: -1 }),
    transactionalIdPattern: string({ v: '2+', nullable: '2+', default: null }),
  },
});
export type ListTransactionsRequest = Infer<typeof ListTransactionsRequest>;

export const ListTransactionsResponse = message({
  name: 'ListTransactionsResponse',
  apiKey: 66,
  versions: '0-2',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16(),
    unknownStateFilters: array(string()),
    transactionStates: array({ transactionalId: string(), producerId: int64(), transactionState: string() }),
  },
});
export type ListTransactionsResponse = InferInput<typeof ListTransactionsResponse>;
