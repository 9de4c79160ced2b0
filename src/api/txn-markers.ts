// api/ room: transaction markers on their way to partitions. writeMarkerLocally writes one marker
// on a partition this broker leads (through the group coordinator for __consumer_offsets, so
// its pending transactional offsets settle in order) and waits for the ISR, as Kafka's
// WriteTxnMarkers does with acks=all. TxnMarkerSender is the transaction coordinator's
// TxnMarkerWriter: local partitions directly, others with WriteTxnMarkers to their leader,
// retrying each partition until written, gone, or no longer needed.
import type { MarkerRequest, TxnMarkerWriter } from '../coordinator/txn/index.js';
import { ErrorCode, errorCodeOf, errorName } from '../errors.js';
import { BrokerConnection } from '../network/index.js';
import { ApiKey } from '../protocol/index.js';
import type { ApiServices } from './services.js';

const CONSUMER_OFFSETS = '__consumer_offsets';
const WRITE_TXN_MARKERS_VERSION = 1;

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class TxnMarkerSender implements TxnMarkerWriter {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();
  private closed = false;

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
      services.logger.debug({ topic, partition, leader: state.leader, err: String(err) }, 'WriteTxnMarkers request failed');
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
    const opening = BrokerConnection.open({
      host: broker.host,
      port: broker.port,
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
