// replication/ room: idempotent producers on one partition — Kafka's ProducerStateManager,
// ProducerStateEntry and ProducerAppendInfo (storage/.../internals/log/ in apache/kafka).
// Per producer id: epoch, the last 5 batches (a retry of one is answered with its original
// offsets), coordinator epoch, the first offset of its open transaction and its last timestamp.
// Client appends are checked against it (epoch fencing, sequence continuity); the state is kept
// in Kafka's `.snapshot` files at segment roll and clean shutdown, and rebuilt on open (and after
// a truncation) from the latest valid snapshot plus a replay of the log after it.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, KafkaError, assert } from '../errors.js';
import { batchHeaders, type BatchHeaderView } from '../records/batch-layout.js';
import { txnMarkerOf, type TxnMarker } from '../records/control.js';
import {
  CorruptSnapshotError,
  deleteSnapshotFile,
  listSnapshots,
  readSnapshotFile,
  snapshotFileName,
  writeSnapshotFile,
  type SnapshotEntry,
} from './producer-state-snapshot.js';

/** Kafka's RecordBatch.NO_PRODUCER_EPOCH / NO_SEQUENCE. */
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the max.in.flight a producer may use. */
export const BATCHES_PER_PRODUCER = 5;
/** Bound on tracked producers per partition; the least recently written are forgotten first. */
export const MAX_TRACKED_PRODUCERS = 10000;
/** Snapshot files kept per partition (Kafka keeps one per segment; we keep it bounded). */
export const SNAPSHOTS_TO_KEEP = 2;
/** Bytes read per step when replaying the log (whole batches; at least one). */
const REPLAY_READ_BYTES = 1024 * 1024;
const INT32_MAX = 2147483647;

/** An idempotent producer's recent batch on this partition (Kafka's BatchMetadata). */
export interface ProducerBatchMetadata {
  firstSequence: number;
  lastSequence: number;
  firstOffset: number;
  lastOffset: number;
  /** The batch's max timestamp. */
  timestamp: number;
}

/** Kafka's ProducerStateEntry. */
export interface ProducerStateEntry {
  readonly producerId: number;
  producerEpoch: number;
  /** Epoch of the last transaction coordinator that wrote a marker; -1 when none. */
  coordinatorEpoch: number;
  /** Max timestamp of the producer's last batch or marker: what expiration measures. */
  lastTimestamp: number;
  /** First offset of the producer's open transaction, -1 when none. */
  currentTxnFirstOffset: number;
  /** Oldest first; at most BATCHES_PER_PRODUCER. */
  batches: ProducerBatchMetadata[];
}

/**
 * Who appends: a client (full checks), a coordinator (epoch only: its batches carry no sequence),
 * or replication (no checks: the leader made them).
 */
export type ProducerAppendOrigin = 'client' | 'coordinator' | 'replication';

/** What the state learns of one written batch (from the engine's summary or a replayed header). */
export interface WrittenBatch {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  isTransactional: boolean;
  isControl: boolean;
  /** For a control batch: the transaction marker it holds (null when unreadable). */
  marker?: TxnMarker | null;
}

/** A transaction its end marker closed (Kafka's CompletedTxn). */
export interface CompletedTxn {
  producerId: number;
  firstOffset: number;
  /** Offset of the marker. */
  lastOffset: number;
  isAborted: boolean;
}

/** Reads whole batches starting with the one holding `offset` (Log.readBytes); empty at the end. */
export type LogBytesReader = (offset: number, maxBytes: number) => Buffer;

export interface ProducerStateLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

export interface ProducerStateOptions {
  topic: string;
  partition: number;
  /** The partition dir, where the `.snapshot` files live. */
  dir: string;
  /** producer.id.expiration.ms: producers idle this long are forgotten. */
  producerIdExpirationMs?: number;
  /** producer.id.expiration.check.interval.ms: how often (at most) appends look for expired producers. */
  producerIdExpirationCheckIntervalMs?: number;
  maxProducers?: number;
  logger?: ProducerStateLogger;
  /**
   * Called for every aborted transaction whose marker the state applies (leader append,
   * replication, replay at load) with Kafka's AbortedTxn fields: the transaction index entry.
   * Replays repeat entries; the index ignores those it already holds.
   */
  onAbortedTxn?: (txn: { producerId: number; firstOffset: number; lastOffset: number; lastStableOffset: number }) => void;
}

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from 2147483647 to 0. */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

/** Kafka's DefaultRecordBatch.decrementSequence. */
export function decrementSequence(sequence: number, decrement: number): number {
  if (sequence < decrement) return INT32_MAX - (decrement - sequence) + 1;
  return sequence - decrement;
}

/** Kafka's ProducerAppendInfo.inSequence: `next` follows `last` (after 2147483647 comes 0). */
export function inSequence(last: number, next: number): boolean {
  return next === last + 1 || (next === 0 && last === INT32_MAX);
}

export function lastSequenceOf(entry: ProducerStateEntry): number {
  return entry.batches.at(-1)?.lastSequence ?? NO_SEQUENCE;
}

/** The state a replayed batch header stands for (offsets and timestamps as written); `buf` holds the batch. */
export function writtenBatchOf(h: BatchHeaderView, buf?: Buffer): WrittenBatch {
  return {
    marker: h.isControl && buf !== undefined ? txnMarkerOf(buf, h) : undefined,
    baseOffset: h.baseOffset,
    lastOffset: h.baseOffset + h.lastOffsetDelta,
    maxTimestamp: h.maxTimestamp,
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isTransactional: h.isTransactional,
    isControl: h.isControl,
  };
}

const defaultLogger: ProducerStateLogger = {
  warn: (obj, msg) => process.emitWarning(`${msg} ${JSON.stringify(obj)}`),
  info: () => undefined,
};

export class ProducerStateManager {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  /** Map order = least recently written first (the bound evicts from the front). */
  private readonly producers = new Map<number, ProducerStateEntry>();
  /** Producers with an open transaction → its first offset (what holds the last stable offset back). */
  private readonly ongoingTxns = new Map<number, number>();
  private readonly onAbortedTxn: ProducerStateOptions['onAbortedTxn'];
  private readonly expirationMs: number;
  private readonly expirationCheckIntervalMs: number;
  private readonly maxProducers: number;
  private readonly logger: ProducerStateLogger;
  /** The state covers the log below this offset (Kafka's lastMapOffset). */
  private mapEndOffset = 0;
  /** Offset of the newest snapshot written or loaded, -1 when none (Kafka's lastSnapOffset). */
  private lastSnapshotOffset = -1;
  private lastExpirationCheckMs = 0;
  /** Identity of the partition dir when loaded: a deleted (renamed) log must not get snapshots. */
  private dirIdentity: string | null = null;

  constructor(options: ProducerStateOptions) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.dir = options.dir;
    this.expirationMs = options.producerIdExpirationMs ?? 86400000;
    this.expirationCheckIntervalMs = options.producerIdExpirationCheckIntervalMs ?? 600000;
    this.maxProducers = options.maxProducers ?? MAX_TRACKED_PRODUCERS;
    this.logger = options.logger ?? defaultLogger;
    this.onAbortedTxn = options.onAbortedTxn;
  }

  get producerCount(): number {
    return this.producers.size;
  }

  /** The log offset (exclusive) the state covers. */
  get endOffset(): number {
    return this.mapEndOffset;
  }

  lastEntry(producerId: number): ProducerStateEntry | undefined {
    return this.producers.get(producerId);
  }

  activeProducers(): ReadonlyMap<number, ProducerStateEntry> {
    return this.producers;
  }

  private where(): { topic: string; partition: number } {
    return { topic: this.topic, partition: this.partition };
  }

  /**
   * Checks the batches of one append before anything is written (Kafka's
   * analyzeAndValidateProducerState + ProducerAppendInfo), in order, each batch against the state
   * the earlier batches of the same request would leave. Returns the original batch when a client
   * batch is a retry of one of a producer's last 5 (the whole append is then answered with its
   * offsets and nothing is written); throws KafkaError when a check fails:
   *
   * - INVALID_RECORD: a client batch with a producer id but no sequence (LogValidator).
   * - INVALID_PRODUCER_EPOCH: the batch's epoch is older than the producer's (Kafka 2.7+ answers
   *   this instead of PRODUCER_FENCED, so the producer can abort and go on).
   * - OUT_OF_ORDER_SEQUENCE_NUMBER: a new epoch that does not start at sequence 0, or, in the same
   *   epoch, a first sequence that is not the last sequence + 1 (2147483647 is followed by 0).
   *
   * An unknown producer id (never seen, expired, or evicted) is accepted at any sequence and
   * epoch: since KIP-360 (Kafka 2.5) the append path no longer answers UNKNOWN_PRODUCER_ID, and
   * Kafka 4's ProducerAppendInfo.checkSequence skips the sequence check when the stored epoch is
   * NO_PRODUCER_EPOCH ("possibly because all producer records have been deleted due to retention").
   */
  checkAppend(headers: readonly BatchHeaderView[], origin: ProducerAppendOrigin): ProducerBatchMetadata | null {
    if (origin === 'replication') return null;
    /** The epoch and last sequence each producer would have after the batches checked so far. */
    let pending: Map<number, { epoch: number; lastSequence: number }> | null = null;
    for (const h of headers) {
      if (h.producerId < 0) continue;
      const context = { ...this.where(), producerId: h.producerId, producerEpoch: h.producerEpoch, sequence: h.baseSequence, batchPosition: h.position };
      if (origin === 'client' && h.baseSequence < 0) {
        throw new KafkaError(ErrorCode.INVALID_RECORD, `Invalid sequence number ${h.baseSequence} in record batch with producerId ${h.producerId} in topic partition ${this.topic}-${this.partition}`, context);
      }
      const lastSequence = incrementSequence(h.baseSequence, h.lastOffsetDelta);
      const current = this.producers.get(h.producerId);
      if (origin === 'client' && current?.producerEpoch === h.producerEpoch) {
        const duplicate = current.batches.find((b) => b.firstSequence === h.baseSequence && b.lastSequence === lastSequence);
        if (duplicate) return duplicate;
      }
      const prior = pending?.get(h.producerId) ?? {
        epoch: current?.producerEpoch ?? NO_PRODUCER_EPOCH,
        lastSequence: current ? lastSequenceOf(current) : NO_SEQUENCE,
      };
      if (h.producerEpoch < prior.epoch) {
        throw new KafkaError(
          ErrorCode.INVALID_PRODUCER_EPOCH,
          `Epoch of producer ${h.producerId} in ${this.topic}-${this.partition} is ${h.producerEpoch}, which is smaller than the last seen epoch ${prior.epoch}`,
          { ...context, currentEpoch: prior.epoch },
        );
      }
      if (origin === 'client') {
        if (h.producerEpoch !== prior.epoch) {
          if (h.baseSequence !== 0 && prior.epoch !== NO_PRODUCER_EPOCH) {
            throw new KafkaError(
              ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
              `Invalid sequence number for new epoch of producer ${h.producerId} in partition ${this.topic}-${this.partition}: ${h.producerEpoch} (request epoch), ${h.baseSequence} (seq. number), ${prior.epoch} (current producer epoch)`,
              { ...context, currentEpoch: prior.epoch },
            );
          }
        } else if (current !== undefined && current.producerEpoch !== NO_PRODUCER_EPOCH && !inSequence(prior.lastSequence, h.baseSequence)) {
          throw new KafkaError(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            `Out of order sequence number for producer ${h.producerId} in partition ${this.topic}-${this.partition}: ${h.baseSequence} (incoming seq. number), ${prior.lastSequence} (current end sequence number)`,
            { ...context, lastSequence: prior.lastSequence },
          );
        }
      }
      pending ??= new Map();
      pending.set(h.producerId, { epoch: h.producerEpoch, lastSequence });
    }
    return null;
  }

  /**
   * Records written batches (any origin; checked before, or replicated / replayed) and that the
   * state now covers the log below `endOffset`. Non-idempotent batches only move the end offset.
   */
  update(batches: readonly WrittenBatch[], endOffset: number): CompletedTxn[] {
    const completed: CompletedTxn[] = [];
    for (const b of batches) {
      if (b.producerId < 0) continue;
      let entry = this.producers.get(b.producerId);
      if (entry === undefined) {
        entry = { producerId: b.producerId, producerEpoch: NO_PRODUCER_EPOCH, coordinatorEpoch: -1, lastTimestamp: -1, currentTxnFirstOffset: -1, batches: [] };
      } else {
        this.producers.delete(b.producerId); // re-inserted below: most recently written last
      }
      this.producers.set(b.producerId, entry);
      // Kafka's maybeUpdateProducerEpoch: a new epoch starts with no batches.
      if (entry.producerEpoch !== b.producerEpoch) {
        entry.producerEpoch = b.producerEpoch;
        entry.batches = [];
      }
      entry.lastTimestamp = b.maxTimestamp;
      if (b.isControl) {
        // An end-transaction marker closes the open transaction (an empty one too: a marker for a
        // partition the producer never wrote to completes nothing).
        if (b.marker) entry.coordinatorEpoch = b.marker.coordinatorEpoch;
        if (entry.currentTxnFirstOffset >= 0) {
          const txn = { producerId: b.producerId, firstOffset: entry.currentTxnFirstOffset, lastOffset: b.lastOffset, isAborted: b.marker?.commit !== true };
          completed.push(txn);
          if (txn.isAborted) this.onAbortedTxn?.({ producerId: txn.producerId, firstOffset: txn.firstOffset, lastOffset: txn.lastOffset, lastStableOffset: this.lastStableOffsetAfter(txn) });
        }
        entry.currentTxnFirstOffset = -1;
        this.ongoingTxns.delete(b.producerId);
        continue;
      }
      if (b.baseSequence >= 0) {
        const offsetDelta = b.lastOffset - b.baseOffset;
        entry.batches.push({
          firstSequence: b.baseSequence,
          lastSequence: incrementSequence(b.baseSequence, offsetDelta),
          firstOffset: b.baseOffset,
          lastOffset: b.lastOffset,
          timestamp: b.maxTimestamp,
        });
        if (entry.batches.length > BATCHES_PER_PRODUCER) entry.batches.shift();
      }
      if (b.isTransactional && entry.currentTxnFirstOffset < 0) {
        entry.currentTxnFirstOffset = b.baseOffset;
        this.ongoingTxns.set(b.producerId, b.baseOffset);
      }
      if (this.producers.size > this.maxProducers) this.evictOldest();
    }
    if (endOffset > this.mapEndOffset) this.mapEndOffset = endOffset;
    return completed;
  }

  /** Drops the least recently written producer that has no open transaction (those hold the LSO). */
  private evictOldest(): void {
    for (const [producerId, entry] of this.producers) {
      if (entry.currentTxnFirstOffset >= 0) continue;
      this.producers.delete(producerId);
      return;
    }
  }

  /** First offset of the oldest open transaction; null when none is open. */
  firstUndecidedOffset(): number | null {
    let first: number | null = null;
    for (const offset of this.ongoingTxns.values()) if (first === null || offset < first) first = offset;
    return first;
  }

  /**
   * Kafka's lastStableOffset(completedTxn) for the transaction index: the first offset of another
   * open transaction, or the offset after the marker when none is open.
   */
  lastStableOffsetAfter(txn: CompletedTxn): number {
    let first: number | null = null;
    for (const [producerId, offset] of this.ongoingTxns) {
      if (producerId !== txn.producerId && (first === null || offset < first)) first = offset;
    }
    return first ?? txn.lastOffset + 1;
  }

  /** Open transactions: producer id → first offset. */
  openTransactions(): ReadonlyMap<number, number> {
    return this.ongoingTxns;
  }

  private isExpired(entry: ProducerStateEntry, now: number): boolean {
    return entry.currentTxnFirstOffset < 0 && now - entry.lastTimestamp >= this.expirationMs;
  }

  /** Forgets producers idle for producer.id.expiration.ms (Kafka's removeExpiredProducers). */
  removeExpiredProducers(now: number): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (this.isExpired(entry, now)) {
        this.producers.delete(id);
        removed++;
      }
    }
    this.lastExpirationCheckMs = now;
    return removed;
  }

  /** removeExpiredProducers at most once per producer.id.expiration.check.interval.ms. */
  maybeRemoveExpiredProducers(now: number): void {
    if (now - this.lastExpirationCheckMs >= this.expirationCheckIntervalMs) this.removeExpiredProducers(now);
  }

  /** The state as Kafka's snapshot stores it: each producer with its last batch only. */
  snapshotEntries(): SnapshotEntry[] {
    const out: SnapshotEntry[] = [];
    for (const e of this.producers.values()) {
      const last = e.batches.at(-1);
      out.push({
        producerId: e.producerId,
        epoch: e.producerEpoch,
        lastSequence: last?.lastSequence ?? NO_SEQUENCE,
        lastOffset: last?.lastOffset ?? -1,
        offsetDelta: last ? last.lastOffset - last.firstOffset : 0,
        timestamp: e.lastTimestamp,
        coordinatorEpoch: e.coordinatorEpoch,
        currentTxnFirstOffset: e.currentTxnFirstOffset,
      });
    }
    return out;
  }

  private loadEntry(s: SnapshotEntry): void {
    const batches: ProducerBatchMetadata[] =
      s.lastOffset >= 0
        ? [{ firstSequence: decrementSequence(s.lastSequence, s.offsetDelta), lastSequence: s.lastSequence, firstOffset: s.lastOffset - s.offsetDelta, lastOffset: s.lastOffset, timestamp: s.timestamp }]
        : [];
    this.producers.set(s.producerId, {
      producerId: s.producerId,
      producerEpoch: s.epoch,
      coordinatorEpoch: s.coordinatorEpoch,
      lastTimestamp: s.timestamp,
      currentTxnFirstOffset: s.currentTxnFirstOffset,
      batches,
    });
    if (s.currentTxnFirstOffset >= 0) this.ongoingTxns.set(s.producerId, s.currentTxnFirstOffset);
  }

  private currentDirIdentity(): string | null {
    try {
      const st = statSync(this.dir);
      return `${st.dev}:${st.ino}`;
    } catch {
      return null;
    }
  }

  /**
   * Writes a snapshot at the offset the state covers, unless one exists there already (Kafka's
   * takeSnapshot), then keeps only the newest SNAPSHOTS_TO_KEEP. Returns the file written, if any.
   * Skipped when the partition dir is not the one loaded (the topic was deleted: its dir renamed,
   * maybe a new topic of the same name created). A failed write only costs a longer replay on the
   * next open, so it is logged, never thrown into the append or close that asked for it.
   */
  takeSnapshot(sync: boolean): string | null {
    if (this.mapEndOffset <= this.lastSnapshotOffset) return null;
    const identity = this.currentDirIdentity();
    if (identity === null || (this.dirIdentity !== null && identity !== this.dirIdentity)) return null;
    const path = join(this.dir, snapshotFileName(this.mapEndOffset));
    try {
      writeSnapshotFile(path, this.snapshotEntries(), sync);
      this.lastSnapshotOffset = this.mapEndOffset;
      this.pruneSnapshots();
    } catch (err) {
      this.logger.warn({ ...this.where(), file: path, err: err instanceof Error ? err.message : String(err) }, 'writing a producer state snapshot failed');
      try {
        deleteSnapshotFile(path);
      } catch {
        // A partial file left behind fails its length or CRC check on the next load.
      }
      return null;
    }
    this.logger.info({ ...this.where(), offset: this.mapEndOffset, producers: this.producers.size, file: path }, 'wrote producer state snapshot');
    return path;
  }

  /** Keeps the newest SNAPSHOTS_TO_KEEP snapshot files. */
  private pruneSnapshots(): void {
    const snapshots = listSnapshots(this.dir);
    for (const old of snapshots.slice(0, Math.max(0, snapshots.length - SNAPSHOTS_TO_KEEP))) deleteSnapshotFile(old.path);
  }

  /**
   * Rebuilds the state for a log holding [logStartOffset, logEndOffset) (Kafka's loadFromSnapshot
   * + rebuildProducerState): snapshots above the log end are deleted (they cover records the log
   * no longer has), the newest one that reads back is loaded (a corrupt one is deleted with a
   * warning and the next older tried), then the log after it is replayed. Without a usable
   * snapshot the whole log is replayed. Producers that expired meanwhile are dropped.
   */
  load(logStartOffset: number, logEndOffset: number, read: LogBytesReader, now: number): { snapshotOffset: number; replayedBatches: number } {
    this.dirIdentity ??= this.currentDirIdentity();
    this.producers.clear();
    this.ongoingTxns.clear();
    this.mapEndOffset = logStartOffset;
    this.lastSnapshotOffset = -1;
    let snapshotOffset = -1;
    const snapshots = listSnapshots(this.dir);
    for (let i = snapshots.length - 1; i >= 0; i--) {
      const snapshot = snapshots[i];
      if (snapshot.offset > logEndOffset) {
        this.logger.warn({ ...this.where(), file: snapshot.path, logEndOffset }, 'deleting a producer state snapshot above the log end offset');
        deleteSnapshotFile(snapshot.path);
        continue;
      }
      if (snapshotOffset >= 0) continue;
      try {
        for (const entry of readSnapshotFile(snapshot.path)) if (!this.isExpired(fromSnapshot(entry), now)) this.loadEntry(entry);
        snapshotOffset = snapshot.offset;
        this.lastSnapshotOffset = snapshot.offset;
        this.mapEndOffset = Math.max(snapshot.offset, logStartOffset);
      } catch (err) {
        if (!(err instanceof CorruptSnapshotError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.logger.warn({ ...this.where(), file: snapshot.path, err: (err as Error).message }, 'deleting a corrupt producer state snapshot');
        this.producers.clear();
        this.ongoingTxns.clear();
        deleteSnapshotFile(snapshot.path);
      }
    }
    this.pruneSnapshots();
    const replayedBatches = this.replay(logEndOffset, read);
    this.removeExpiredProducers(now);
    return { snapshotOffset, replayedBatches };
  }

  /** Replays the log from the end offset the state covers to `logEndOffset`; returns the batches seen. */
  private replay(logEndOffset: number, read: LogBytesReader): number {
    let offset = this.mapEndOffset;
    let batches = 0;
    // Bounded: every pass moves `offset` forward past at least one batch, or stops.
    while (offset < logEndOffset) {
      const buf = read(offset, REPLAY_READ_BYTES);
      const written = batchHeaders(buf)
        .map((h) => writtenBatchOf(h, buf))
        .filter((b) => b.lastOffset >= offset);
      const last = written.at(-1);
      if (last === undefined) break;
      this.update(written, last.lastOffset + 1);
      batches += written.length;
      assert(last.lastOffset + 1 > offset, 'producer state replay moves forward', { ...this.where(), offset, lastOffset: last.lastOffset });
      offset = last.lastOffset + 1;
    }
    this.mapEndOffset = Math.max(this.mapEndOffset, logEndOffset);
    return batches;
  }

  /**
   * The log was truncated to `logEndOffset` (a follower diverged): snapshots above it are deleted
   * and the state is rebuilt from the newest one left plus the log (Kafka's truncateAndReload).
   */
  truncateAndReload(logStartOffset: number, logEndOffset: number, read: LogBytesReader, now: number): void {
    for (const snapshot of listSnapshots(this.dir)) if (snapshot.offset > logEndOffset) deleteSnapshotFile(snapshot.path);
    this.load(logStartOffset, logEndOffset, read, now);
  }
}

function fromSnapshot(s: SnapshotEntry): ProducerStateEntry {
  return { producerId: s.producerId, producerEpoch: s.epoch, coordinatorEpoch: s.coordinatorEpoch, lastTimestamp: s.timestamp, currentTxnFirstOffset: s.currentTxnFirstOffset, batches: [] };
}
