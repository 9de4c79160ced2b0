// protocol/ room: AddPartitionsToTxn (key 24). v0-3 come from producers (one transaction); v4+
// are broker-to-broker batches of transactions (KIP-890); v5 only adds TRANSACTION_ABORTABLE.
import { array, bool, int16, int32, int64, message, string, type Infer, type InferInput } from '../schema.js';

const topicPartitions = { name: string(), partitions: array(int32()) };

export const AddPartitionsToTxnRequest = message({
  name: 'AddPartitionsToTxnRequest',
  apiKey: 24,
  versions: '0-5',
  flexible: '3+',
  fields: {
    transactions: array(
      {
        transactionalId: string(),
        producerId: int64(),
        producerEpoch: int16(),
        verifyOnly: bool({ default: false }),
        topics: array(topicPartitions),
      },
      { v: '4+' },
    ),
    v3AndBelowTransactionalId: string({ v: '0-3' }),
    v3AndBelowProducerId: int64({ v: '0-3' }),
    v3AndBelowProducerEpoch: int16({ v: '0-3' }),
    v3AndBelowTopics: array(topicPartitions, { v: '0-3' }),
  },
});
export type AddPartitionsToTxnRequest = Infer<typeof AddPartitionsToTxnRequest>;

const topicResult = {
  name: string(),
  resultsByPartition: array({ partitionIndex: int32(), partitionErrorCode: int16() }),
};

export const AddPartitionsToTxnResponse = message({
  name: 'AddPartitionsToTxnResponse',
  apiKey: 24,
  versions: '0-5',
  flexible: '3+',
  fields: {
    throttleTimeMs: int32(),
    errorCode: int16({ v: '4+' }),
    resultsByTransaction: array({ transactionalId: string(), topicResults: array(topicResult) }, { v: '4+' }),
    resultsByTopicV3AndBelow: array(topicResult, { v: '0-3' }),
  },
});
export type AddPartitionsToTxnResponse = InferInput<typeof AddPartitionsToTxnResponse>;
