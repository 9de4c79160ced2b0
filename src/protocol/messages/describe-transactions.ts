// protocol/ room: DescribeTransactions (key 65, KIP-664): the coordinator's view of transactional
// ids — state, timeout, start time, producer id and epoch, and the partitions in the transaction
// (while it is being completed, those still without a marker).
import { array, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

export const DescribeTransactionsRequest = message({
  name: 'DescribeTransactionsRequest',
  apiKey: 65,
  versions: '0',
  flexible: '0+',
  fields: {
    transactionalIds: array(string()),
  },
});
export type DescribeTransactionsRequest = Infer<typeof DescribeTransactionsRequest>;

export const DescribeTransactionsResponse = message({
  name: 'DescribeTransactionsResponse',
  apiKey: 65,
  versions: '0',
  flexible: '0+',
  fields: {
    throttleTimeMs: int32(),
    transactionStates: array({
      errorCode: int16(),
      transactionalId: string(),
      transactionState: string(),
      transactionTimeoutMs: int32(),
      transactionStartTimeMs: int64(),
      producerId: int64(),
      producerEpoch: int16(),
      topics: array({ topic: string(), partitions: array(int32()) }),
    }),
  },
});
export type DescribeTransactionsResponse = InferInput<typeof DescribeTransactionsResponse>;
