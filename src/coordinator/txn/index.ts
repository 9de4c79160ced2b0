export { TransactionCoordinator, type DescribedTransaction, type ListedTransaction, type TransactionCoordinatorDeps } from './coordinator.js';
export { TRANSACTION_STATE_TOPIC, TXN_STATE_NAMES, TxnState, partitionForTxnId, type TxnTopicPartitions } from './records.js';
export { defaultTxnCoordinatorConfig, type ClientTransactionVersion, type MarkerRequest, type TxnCoordinatorConfig, type TxnMarkerWriter } from './shard.js';
