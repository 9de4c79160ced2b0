// api/ room: transaction markers on their way to partitions. writeMarkerLocally writes one marker
// on a partition this broker leads (through the group coordinator for __consumer_offsets, so
// its pending transactional offsets settle in order) and waits for the ISR, as Kafka's
// WriteTxnMarkers does with acks=all. TxnMarkerSender is the transaction coordinator's
// TxnMarkerWriter: local partitions directly, others with WriteTxnMarkers to their leader,
// retrying each partition until written, gone, or no longer needed. addPartitionsImplicitly is the
// leader's side of transactions V2: a partition joins its transaction at the transaction
// coordinator (local, or AddPartitionsToTxn v5 with verifyOnly=false to the coordinator's broker).
import { TRANSACTION_STATE_TOPIC, type MarkerRequest, type TxnMarkerWriter, type TxnTopicPartitions } from '../coordinator/txn/index.js';
import { ErrorCode, errorCodeOf, errorName, KafkaError } from '../errors.js';
import { BrokerConnection } from '../network/index.js';
import { ApiKey } from '../protocol/index.js';
import { noPeerAddressReason, peerAddress } from '../replication/index.js';
import type { ApiServices } from './services.js';

const CONSUMER_OFFSETS = '__consumer_offsets';
const WRITE_TXN_MARKERS_VERSION = 1;
/** AddPartitionsToTxn v5: the broker-to-broker version of transactions V2 (verifyOnly false adds). */
const ADD_PARTITIONS_TO_TXN_VERSION = 5;

export interface MarkerSpec {
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  commit: boolean;
}

/** Writes one marker on a partition led here and waits until it is committed; answers an error code. */
export async function writeMarkerLocally(services: ApiServices, topic: string, partition: number, marker: MarkerSpec): Promise<number> {
  if (topic === CONSUMER_OFFSETS) return services.groupCoordinator.completeTransaction(partition, marker);
  try {
    const p = services.replicaManager.getPartitionOrError(topic, partition);
    const written = p.appendTxnMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch, marker.commit, Date.now());
    await services.replicaManager.awaitReplication(p, written.lastOffset, services.config.getNumber('offsets.commit.timeout.ms'));
    return ErrorCode.NONE;
  } catch (err) {
    const code = errorCodeOf(err);
    if (code === ErrorCode.UNKNOWN_SERVER_ERROR) services.logger.warn({ topic, partition, ...marker, err: String(err) }, 'writing a transaction marker failed');
    return code;
  }
}

/** Answers after which a marker is not retried: written, partition gone, or superseded. */
const FINAL_CODES: ReadonlySet<number> = new Set([ErrorCode.NONE, ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.PRODUCER_FENCED, ErrorCode.TRANSACTION_COORDINATOR_FENCED]);

/** At most one error log per leader in this long for SASL failures of marker retries. */
const SASL_ERROR_LOG_INTERVAL_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class TxnMarkerSender implements TxnMarkerWriter {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();
  private closed = false;
  /** When the last SASL failure to each leader was logged as an error (the retries in between log at debug). */
  private readonly saslErrorLoggedAt = new Map<number, number>();

  constructor(
    private readonly services: () => ApiServices,
    private readonly options: { retryBackoffMs: number; requestTimeoutMs: number },
  ) {}

  async writeMarkers(request: MarkerRequest, stillNeeded: () => boolean): Promise<void> {
    await Promise.all(request.partitions.flatMap((t) => t.partitions.map((p) => this.writeOne(request, t.topic, p, stillNeeded))));
  }

  private async writeOne(request: MarkerRequest, topic: string, partition: number, stillNeeded: () => boolean): Promise<void> {
    const { logger, metadata } = this.services();
    // Bounded by stillNeeded(): the transaction's state changes or its shard unloads.
    for (let attempt = 0; !this.closed && stillNeeded(); attempt++) {
      const code = await this.tryOnce(request, topic, partition);
      if (FINAL_CODES.has(code)) {
        if (code !== ErrorCode.NONE) logger.info({ topic, partition, producerId: request.producerId, error: errorName(code) }, 'transaction marker not needed any more');
        return;
      }
      if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && metadata.topic(topic) === undefined) return; // deleted
      if (attempt % 20 === 19) logger.warn({ topic, partition, producerId: request.producerId, attempt, error: errorName(code) }, 'transaction marker still not written; retrying');
      await sleep(Math.min(this.options.retryBackoffMs * 2 ** Math.min(attempt, 5), 1000));
    }
  }

  private async tryOnce(request: MarkerRequest, topic: string, partition: number): Promise<number> {
    const services = this.services();
    const state = services.metadata.partition(topic, partition);
    if (state === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const marker = { producerId: request.producerId, producerEpoch: request.producerEpoch, coordinatorEpoch: request.coordinatorEpoch, commit: request.commit };
    if (state.leader === services.nodeId) return writeMarkerLocally(services, topic, partition, marker);
    if (state.leader < 0) return ErrorCode.LEADER_NOT_AVAILABLE;
    try {
      const connection = await this.connection(state.leader);
      const response = await connection.request(
        ApiKey.WriteTxnMarkers,
        WRITE_TXN_MARKERS_VERSION,
        {
          markers: [
            {
              producerId: marker.producerId,
              producerEpoch: marker.producerEpoch,
              transactionResult: marker.commit,
              topics: [{ name: topic, partitionIndexes: [partition] }],
              coordinatorEpoch: marker.coordinatorEpoch,
              transactionVersion: 0,
            },
          ],
        },
        this.options.requestTimeoutMs,
      );
      return response.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    } catch (err) {
      this.drop(state.leader);
      const now = Date.now();
      if (err instanceof KafkaError && err.code === ErrorCode.SASL_AUTHENTICATION_FAILED && now - (this.saslErrorLoggedAt.get(state.leader) ?? 0) >= SASL_ERROR_LOG_INTERVAL_MS) {
        this.saslErrorLoggedAt.set(state.leader, now);
        services.logger.error({ topic, partition, leader: state.leader, err: err.message }, 'SASL authentication to the partition leader failed (inter-broker credentials); retrying the transaction marker after a backoff');
      } else {
        services.logger.debug({ topic, partition, leader: state.leader, err: String(err) }, 'WriteTxnMarkers request failed');
      }
      return ErrorCode.NETWORK_EXCEPTION;
    }
  }

  private connection(nodeId: number): Promise<BrokerConnection> {
    const existing = this.connections.get(nodeId);
    if (existing !== undefined) {
      return existing.then((c) => {
        if (c.isOpen) return c;
        this.connections.delete(nodeId);
        return this.connection(nodeId);
      });
    }
    const services = this.services();
    const broker = services.metadata.brokers().find((b) => b.nodeId === nodeId);
    if (broker === undefined) return Promise.reject(new Error(`broker ${nodeId} is not registered`));
    const address = peerAddress(services.config, broker);
    if (address === null) return Promise.reject(new Error(noPeerAddressReason(services.config, broker)));
    const opening = BrokerConnection.open({
      ...address,
      clientId: `spool-txn-marker-sender-${services.nodeId}`,
      maxResponseBytes: 1024 * 1024,
      connectTimeoutMs: this.options.requestTimeoutMs,
    });
    opening.catch(() => this.connections.delete(nodeId));
    this.connections.set(nodeId, opening);
    return opening;
  }

  private drop(nodeId: number): void {
    const c = this.connections.get(nodeId);
    this.connections.delete(nodeId);
    void c?.then((conn) => conn.close()).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    for (const nodeId of [...this.connections.keys()]) this.drop(nodeId);
  }
}

/**
 * Transactions V2 (KIP-890 part 2): adds `partitions` to the producer's transaction at its
 * transaction coordinator before a leader appends the producer's first transactional batch there
 * (Kafka's AddPartitionsToTxnManager with verifyOnly=false). The coordinator's answer, one code:
 * NONE, or the first error of a partition (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * NETWORK_EXCEPTION when the coordinator cannot be reached: the caller maps them as Kafka does).
 */
export async function addPartitionsImplicitly(
  services: ApiServices,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  partitions: TxnTopicPartitions[],
): Promise<number> {
  const coordinatorPartition = services.txnCoordinator.partitionFor(transactionalId);
  const state = services.metadata.partition(TRANSACTION_STATE_TOPIC, coordinatorPartition);
  if (state === undefined || state.leader < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (state.leader === services.nodeId) {
    return services.txnCoordinator.addPartitionsToTxn(transactionalId, producerId, producerEpoch, partitions, 2);
  }
  const broker = services.metadata.brokers().find((b) => b.nodeId === state.leader);
  if (broker === undefined) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const timeoutMs = services.config.getNumber('replica.socket.timeout.ms');
  let connection: BrokerConnection | null = null;
  try {
    const address = peerAddress(services.config, broker);
    if (address === null) throw new Error(noPeerAddressReason(services.config, broker));
    // One connection per call: this runs once per partition and transaction, not per batch.
    connection = await BrokerConnection.open({
      ...address,
      clientId: `spool-txn-partition-adder-${services.nodeId}`,
      maxResponseBytes: 1024 * 1024,
      connectTimeoutMs: timeoutMs,
    });
    const response = await connection.request(
      ApiKey.AddPartitionsToTxn,
      ADD_PARTITIONS_TO_TXN_VERSION,
      {
        v3AndBelowTransactionalId: '',
        v3AndBelowProducerId: -1,
        v3AndBelowProducerEpoch: -1,
        v3AndBelowTopics: [],
        transactions: [{ transactionalId, producerId, producerEpoch, verifyOnly: false, topics: partitions.map((t) => ({ name: t.topic, partitions: t.partitions })) }],
      },
      timeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) return response.errorCode;
    for (const txn of response.resultsByTransaction) {
      for (const t of txn.topicResults) for (const p of t.resultsByPartition) if (p.partitionErrorCode !== ErrorCode.NONE) return p.partitionErrorCode;
    }
    return ErrorCode.NONE;
  } catch (err) {
    services.logger.debug({ transactionalId, coordinator: state.leader, err: String(err) }, 'AddPartitionsToTxn to the transaction coordinator failed');
    return ErrorCode.NETWORK_EXCEPTION;
  } finally {
    connection?.close();
  }
}

/**
 * What a producer sees of an implicit add that failed (Kafka's ReplicaManager after
 * AddPartitionsToTxnManager): retriable coordinator trouble becomes NOT_ENOUGH_REPLICAS (the
 * client retries the batch without a metadata refresh), PRODUCER_FENCED INVALID_PRODUCER_EPOCH.
 */
export function implicitAddErrorForProducer(code: number): number {
  switch (code) {
    case ErrorCode.CONCURRENT_TRANSACTIONS:
    case ErrorCode.NETWORK_EXCEPTION:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.NOT_ENOUGH_REPLICAS;
    case ErrorCode.PRODUCER_FENCED:
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    default:
      return code;
  }
}
