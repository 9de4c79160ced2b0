// replication/ room: an internal topic (__consumer_offsets, later __transaction_state) as the
// coordinator runtime sees it: append one batch of key/value records as leader at a given epoch,
// answered once committed (high watermark), and read back every committed record at load.
// Matches coordinator/runtime's CoordinatorPartitionLog port structurally.
import { decodeRecordBatches, encodeRecordBatch } from '../protocol/record-batch.js';
import { batchHeaders } from '../records/batch-layout.js';
import { txnMarkerOf } from '../records/control.js';
import type { Codec } from '../storage/engine.js';
import type { ReplicaManager } from './replica-manager.js';

export interface KeyValueRecord {
  key: Buffer;
  value: Buffer | null;
}

export interface TxnProducer {
  producerId: number;
  producerEpoch: number;
}

export interface TxnMarkerSpec extends TxnProducer {
  coordinatorEpoch: number;
  commit: boolean;
}

/** A record (with its producer when transactional) or a transaction marker, as read at load. */
export type InternalLogEntry = (KeyValueRecord & { txn?: TxnProducer }) | { marker: TxnMarkerSpec };

/** Bytes read per step while loading; a batch larger than this is still returned whole. */
const LOAD_READ_BYTES = 1024 * 1024;

export interface InternalTopicLogOptions {
  topic: string;
  replicaManager: ReplicaManager;
  decompress(codec: Codec, data: Buffer): Buffer;
  /** How long a write waits for the ISR before REQUEST_TIMED_OUT (offsets.commit.timeout.ms). */
  commitTimeoutMs: number;
  now?: () => number;
}

export class InternalTopicLog {
  private readonly now: () => number;

  constructor(private readonly options: InternalTopicLogOptions) {
    this.now = options.now ?? Date.now;
  }

  async append(partition: number, leaderEpoch: number, records: KeyValueRecord[], txn?: TxnProducer): Promise<{ lastOffset: number }> {
    const { replicaManager, topic } = this.options;
    const p = replicaManager.getPartitionOrError(topic, partition, leaderEpoch);
    const now = this.now();
    // A transactional batch (TxnOffsetCommit) carries its producer; coordinators write no sequence.
    const options = txn === undefined ? {} : { producerId: txn.producerId, producerEpoch: txn.producerEpoch, baseSequence: -1, isTransactional: true };
    const batch = encodeRecordBatch(
      records.map((r) => ({ key: r.key, value: r.value, timestamp: now })),
      options,
    );
    const appended = replicaManager.appendToLeader(p, batch, -1, 'coordinator', now);
    const lastOffset = appended.kind === 'appended' ? appended.result.lastOffset : appended.batch.lastOffset;
    await replicaManager.awaitReplication(p, lastOffset, this.options.commitTimeoutMs);
    return { lastOffset };
  }

  /** Writes a transaction marker as leader at `leaderEpoch`; resolves once committed. */
  async appendMarker(partition: number, leaderEpoch: number, marker: TxnMarkerSpec): Promise<void> {
    const { replicaManager, topic } = this.options;
    const p = replicaManager.getPartitionOrError(topic, partition, leaderEpoch);
    const result = p.appendTxnMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch, marker.commit, this.now());
    await replicaManager.awaitReplication(p, result.lastOffset, this.options.commitTimeoutMs);
  }

  /** Committed records and markers (below the high watermark), oldest first. */
  *read(partition: number): Iterable<InternalLogEntry> {
    const p = this.options.replicaManager.getPartitionOrError(this.options.topic, partition, -1, false);
    let offset = p.logStartOffset;
    const end = p.isLeader ? p.logEndOffset : p.highWatermark;
    // Each step moves past at least one batch, so this ends within (end - start) steps.
    while (offset < end) {
      const buf = p.log.readBytes(offset, LOAD_READ_BYTES);
      if (buf.length === 0) break;
      let nextOffset = offset;
      const headers = batchHeaders(buf);
      for (const [i, batch] of decodeRecordBatches(buf, (codec, data) => this.options.decompress(codec as Codec, data)).entries()) {
        nextOffset = batch.header.baseOffset + batch.header.lastOffsetDelta + 1;
        // The same buffer walked twice: the i-th header is the i-th decoded batch's.
        const h = headers[i];
        if (batch.isControl) {
          const marker = txnMarkerOf(buf, h);
          if (marker !== null) yield { marker: { producerId: h.producerId, producerEpoch: h.producerEpoch, ...marker } };
          continue;
        }
        const txn = h.isTransactional ? { producerId: h.producerId, producerEpoch: h.producerEpoch } : undefined;
        for (const r of batch.records) {
          // Copies: shard state keeps these long after the read buffer is gone.
          if (r.key !== null) yield { key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), ...(txn ? { txn } : {}) };
        }
      }
      if (nextOffset <= offset) break;
      offset = nextOffset;
    }
  }
}
