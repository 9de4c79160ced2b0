// log/ room: one partition's Log — the engine's PartitionLog plus topic config, flush policy and
// retention. Replication state (high watermark, leader epoch, producer state) lives in
// replication/Partition, above it. The log also keeps each segment's aborted-transaction index
// (`.txnindex`, see txn-index.ts) in step with the segments, the same for both engines.
import { closeSync, fsync, fsyncSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TopicConfig } from '../config/index.js';
import type {
  AppendOptions,
  AppendResult,
  CleanOptions,
  CleanResult,
  FileSlice,
  LogConfig,
  PartitionLog,
  SegmentInfo,
  StorageEngine,
  TimestampAndOffset,
} from '../storage/engine.js';
import { ErrorCode, KafkaError, assert } from '../errors.js';
import { ATTR_CONTROL, ATTRIBUTES, BASE_OFFSET, HEADER_SIZE, MAX_TIMESTAMP, PRODUCER_ID, readInt64 } from '../records/batch-layout.js';
import { TransactionIndex, encodeAbortedTxn, txnIndexFileName, type AbortedTxn } from './txn-index.js';

const TXN_INDEX_FILE = /^(\d{20})\.txnindex$/;
/** A txnindex being rewritten after a cleaning round (renamed over the index once fsynced). */
const TXN_INDEX_TMP = /^\d{20}\.txnindex\.tmp$/;

/**
 * What the replication layer knows of a log that the cleaner needs: the last stable offset (it
 * never cleans past it) and each producer's last data batch (whose header a round keeps, so the
 * producer state survives). Registered by replication/Partition.
 */
export interface CleanerStateProvider {
  lastStableOffset(): number;
  /** Producer id -> last offset of that producer's last data batch. */
  producerLastOffsets(): Array<[number, number]>;
}

/** A cleaning round as the log cleaner asks for it: the log adds the transaction state. */
export type LogCleanOptions = Omit<CleanOptions, 'abortedTxns' | 'producerLastOffsets'>;

export function toLogConfig(config: TopicConfig): LogConfig {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    indexIntervalBytes: config.indexIntervalBytes,
    maxIndexSize: config.segmentIndexBytes,
    maxMessageBytes: config.maxMessageBytes,
    messageTimestampType: config.messageTimestampType,
    fileDeleteDelayMs: config.fileDeleteDelayMs,
    // Compacted topics refuse records without a key (Kafka's LogValidator).
    compacted: config.cleanupPolicy.includes('compact'),
  };
}

/** Storage-relevant settings changed → the PartitionLog has to be reopened to pick them up. */
function storageConfigChanged(a: TopicConfig, b: TopicConfig): boolean {
  return (
    a.segmentBytes !== b.segmentBytes ||
    a.segmentMs !== b.segmentMs ||
    a.indexIntervalBytes !== b.indexIntervalBytes ||
    a.segmentIndexBytes !== b.segmentIndexBytes ||
    a.maxMessageBytes !== b.maxMessageBytes ||
    a.messageTimestampType !== b.messageTimestampType ||
    a.fileDeleteDelayMs !== b.fileDeleteDelayMs ||
    a.cleanupPolicy.includes('compact') !== b.cleanupPolicy.includes('compact')
  );
}

export type FlushErrorHandler = (err: Error, log: Log) => void;

/** How often (at most) an append checks for a roll the size rule does not predict (segment.ms, full index). */
const ROLL_CHECK_INTERVAL_MS = 1000;

export class Log {
  private partitionLog: PartitionLog | null;
  private reopening: Promise<void> | null = null;
  /** markDeleted(): the topic was deleted and the directory renamed away. */
  private deleted = false;
  private messagesSinceFlush = 0;
  private lastFlushMs = Date.now();
  private flushing: Promise<void> | null = null;
  private readonly rollListeners = new Set<(baseOffset: number) => void>();
  private readonly closeListeners = new Set<() => void>();
  /**
   * The active segment as far as roll detection knows it (null: read it from segments() before
   * the next append). The engines roll inside append — when the active segment is not empty and
   * its size plus the appended bytes passes segment.bytes, or for segment.ms / a full index —
   * and say nothing, so the size rule is mirrored here and the rest is checked now and then.
   */
  private activeSegment: { baseOffset: number; bytes: number } | null = null;
  private lastRollCheckMs = 0;
  /** The partition directory (the PartitionLog's, kept for the txnindex files while it is reopened). */
  private readonly logDir: string;
  /** The `.txnindex` files that exist (or are about to), by segment base offset. */
  private readonly txnIndexes = new Map<number, TransactionIndex>();
  /** Keys of txnIndexes, ascending. */
  private txnIndexBases: number[] = [];
  /** Indexes written since the last flush, and whether a new file's directory entry needs an fsync. */
  private readonly unflushedTxnIndexes = new Set<TransactionIndex>();
  private txnIndexDirDirty = false;
  private cleanerState: CleanerStateProvider | null = null;
  private readonly truncateListeners = new Set<(offset: number) => void>();
  /** The cleaning round in progress (engine round plus txnindex upkeep); reopen and close wait for it. */
  private cleaning: Promise<CleanResult> | null = null;

  constructor(
    readonly topic: string,
    readonly partition: number,
    partitionLog: PartitionLog,
    public config: TopicConfig,
    private readonly onFlushError: FlushErrorHandler,
  ) {
    this.partitionLog = partitionLog;
    this.logDir = partitionLog.dir;
    this.loadTxnIndexes(partitionLog);
  }

  /**
   * Finds the `.txnindex` files at open (nothing is read yet). One whose segment is gone is a
   * crash leftover. Below the first segment it is a deleted segment's (retention), at or past the
   * log end offset a truncated one's: it is removed (else a segment created later at that base
   * offset would inherit it). Inside the log only a cleaning round can have left it (the crash
   * came between the engine's swap and mergeTxnIndexesAfterClean): it is merged into the index
   * of the segment now holding its offsets exactly as that merge would have, so no entry whose
   * abort marker is still in the log is lost. Entries at or past the log end offset describe
   * markers the engine's recovery dropped with a torn tail and are truncated: only the last index
   * can hold such entries.
   */
  private loadTxnIndexes(pl: PartitionLog): void {
    const found: number[] = [];
    let names: string[];
    try {
      names = readdirSync(this.logDir);
    } catch (err) {
      // The engine creates the directory; a log without one has no index to find.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const m = TXN_INDEX_FILE.exec(name);
      if (m) found.push(Number(m[1]));
      // A rewrite cut short: the index it was to replace is still whole.
      else if (TXN_INDEX_TMP.test(name)) rmSync(join(this.logDir, name), { force: true });
    }
    if (found.length === 0) return;
    found.sort((a, b) => a - b);
    const segmentBases = pl.segments().map((s) => s.baseOffset);
    const present = new Set(segmentBases);
    const orphansByFloor = new Map<number, TransactionIndex[]>();
    for (const base of found) {
      const index = new TransactionIndex(base, join(this.logDir, txnIndexFileName(base)));
      if (present.has(base)) {
        this.txnIndexes.set(base, index);
        continue;
      }
      const floor = floorIndex(segmentBases, base);
      if (floor < 0 || base >= pl.logEndOffset) {
        index.delete();
        continue;
      }
      const list = orphansByFloor.get(segmentBases[floor]) ?? [];
      list.push(index);
      orphansByFloor.set(segmentBases[floor], list);
    }
    this.txnIndexBases = [...this.txnIndexes.keys()].sort((a, b) => a - b);
    for (const [floorBase, orphans] of orphansByFloor) {
      const entries = [...(this.txnIndexes.get(floorBase)?.allAbortedTxns() ?? []), ...orphans.flatMap((o) => o.allAbortedTxns())];
      this.rewriteTxnIndex(floorBase, byMarkerOffset(entries.filter((e) => abortMarkerRetained(pl, e))));
      for (const orphan of orphans) orphan.delete();
    }
    if (this.txnIndexBases.length > 0) this.truncateTxnIndexesFrom(this.txnIndexBases.length - 1, pl.logEndOffset);
  }

  get dir(): string {
    return this.current().dir;
  }
  get logStartOffset(): number {
    return this.current().logStartOffset;
  }
  get logEndOffset(): number {
    return this.current().logEndOffset;
  }
  get recoveredBytesTruncated(): number {
    return this.current().recoveredBytesTruncated;
  }

  /** Resolves once a config-change reopen (if any) is done; call before append/read. */
  ready(): Promise<void> {
    return this.reopening ?? Promise.resolve();
  }

  isAvailable(): boolean {
    return this.partitionLog !== null;
  }

  /**
   * The topic was deleted; call before renaming the directory away. The log then does nothing
   * by path (PartitionLog.markDeleted): the old paths may soon be a recreated topic's files. Its
   * close listeners (which write producer-state snapshots into the directory) do not run.
   */
  markDeleted(): void {
    this.deleted = true;
    this.partitionLog?.markDeleted();
  }

  private current(): PartitionLog {
    if (this.partitionLog === null) {
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.topic}-${this.partition} is being reopened or is closed`, {
        topic: this.topic,
        partition: this.partition,
      });
    }
    return this.partitionLog;
  }

  /** Appends batches as leader (throws StorageError for invalid ones): offsets assigned here. */
  append(batches: Buffer, options?: AppendOptions): AppendResult {
    const pl = this.current();
    const before = pl.logEndOffset;
    this.prepareRollCheck(pl);
    const result = pl.append(batches, options);
    this.noticeRoll(pl, before, batches.length);
    assert(result.firstOffset === before && result.logEndOffset === result.lastOffset + 1, 'appended offsets continue the log', {
      topic: this.topic,
      partition: this.partition,
      before,
      firstOffset: result.firstOffset,
      lastOffset: result.lastOffset,
    });
    this.messagesSinceFlush += result.lastOffset - result.firstOffset + 1;
    this.maybeFlush();
    return result;
  }

  /** Appends batches that carry the leader's offsets (a follower replicating its leader). */
  appendAsFollower(batches: Buffer): AppendResult {
    const pl = this.current();
    const before = pl.logEndOffset;
    this.prepareRollCheck(pl);
    const result = pl.appendAsFollower(batches);
    this.noticeRoll(pl, before, batches.length);
    this.messagesSinceFlush += result.lastOffset - result.firstOffset + 1;
    this.maybeFlush();
    return result;
  }

  /**
   * Removes every batch at or after `offset` (a follower diverged from its leader), and every
   * aborted-transaction entry whose marker was among them: the txnindex files of segments removed
   * whole are deleted, the others lose their entries with lastOffset >= offset.
   */
  truncateTo(offset: number): void {
    const pl = this.current();
    pl.truncateTo(offset);
    this.activeSegment = null;
    for (const listener of [...this.truncateListeners]) listener(offset);
    if (this.txnIndexBases.length === 0) return;
    const segmentBases = new Set(pl.segments().map((s) => s.baseOffset));
    this.deleteTxnIndexes((base) => !segmentBases.has(base));
    this.truncateTxnIndexesFrom(Math.max(0, floorIndex(this.txnIndexBases, offset)), offset);
  }

  /** Runs `listener` with the offset after each truncateTo (the cleaner lowers its checkpoint). Returns the unsubscribe. */
  onTruncate(listener: (offset: number) => void): () => void {
    this.truncateListeners.add(listener);
    return () => this.truncateListeners.delete(listener);
  }

  /**
   * Registers where the cleaner learns the last stable offset and the producers' last batches
   * (replication/Partition does). Returns the unregister, which leaves a later provider alone.
   */
  setCleanerStateProvider(provider: CleanerStateProvider): () => void {
    this.cleanerState = provider;
    return () => {
      if (this.cleanerState === provider) this.cleanerState = null;
    };
  }

  /** The last stable offset from the replication layer; null when no partition provides it (never cleaned then). */
  lastStableOffset(): number | null {
    return this.cleanerState?.lastStableOffset() ?? null;
  }

  /**
   * maxTimestamp of the first batch at or after `offset` in the segment holding it (Kafka's
   * LogSegment.getFirstBatchTimestamp, for max.compaction.lag.ms); -1 when there is none.
   */
  firstBatchTimestamp(offset: number): number {
    const pl = this.current();
    const from = Math.max(offset, pl.logStartOffset);
    if (from >= pl.logEndOffset) return -1;
    const header = readBatchHeader(pl, from);
    return header === null ? -1 : readInt64(header, MAX_TIMESTAMP);
  }

  /** True while a cleaning round of this log runs. */
  get isCleaning(): boolean {
    return this.cleaning !== null;
  }

  /**
   * One cleaning round (Kafka's Cleaner.doClean through the engine, see CleanOptions): adds the
   * aborted transactions from the txnindex files and the producers' last offsets from the
   * replication layer, then brings the txnindex files in step with the segments the round
   * replaced (mergeTxnIndexesAfterClean). Rejects when a round of this log is already running.
   */
  clean(options: LogCleanOptions): Promise<CleanResult> {
    const pl = this.current();
    if (this.cleaning !== null) {
      return Promise.reject(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `${this.topic}-${this.partition} is already being cleaned`, { topic: this.topic, partition: this.partition }));
    }
    const abortedTxns = this.collectAbortedTxns(pl.logStartOffset, options.endOffset)
      .map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset, lastOffset: t.lastOffset }))
      .sort((a, b) => a.firstOffset - b.firstOffset);
    const producerLastOffsets = this.cleanerState?.producerLastOffsets() ?? [];
    const round = (async () => {
      const result = await pl.clean({ ...options, abortedTxns, producerLastOffsets });
      // reopen and close wait for this round, so the PartitionLog is still the one cleaned.
      if (!result.abandoned && result.groups.length > 0) this.mergeTxnIndexesAfterClean(pl, result.groups);
      return result;
    })();
    this.cleaning = round;
    const done = (): void => {
      this.cleaning = null;
    };
    round.then(done, done);
    return round;
  }

  /**
   * After a round: each new segment replaced a run of segments. Their aborted-transaction entries
   * go to the index of the new segment's base offset (the first replaced segment's), keeping only
   * those whose abort marker the round kept, as Kafka's cleaner writes the cleaned segment's index:
   * an entry without its marker would make a read_committed consumer skip that producer's later
   * transactional batches up to its next marker, committed ones included. The other indexes are
   * removed. The rewritten index is renamed into place (fsynced) before the others go, so a crash
   * at any point leaves either this state or orphan indexes whose segment is gone; loadTxnIndexes
   * merges those the same way at the next open, so a crash between the engine's swap and this
   * loses no entry that still has its marker.
   */
  private mergeTxnIndexesAfterClean(pl: PartitionLog, groups: CleanResult['groups']): void {
    for (const group of groups) {
      const bases = [...new Set([group.baseOffset, ...group.replaced])].sort((a, b) => a - b);
      const indexed = bases.filter((b) => this.txnIndexes.has(b));
      if (indexed.length === 0) continue;
      const entries = indexed.flatMap((b) => this.txnIndexes.get(b)?.allAbortedTxns() ?? []);
      const kept = entries.filter((e) => abortMarkerRetained(pl, e));
      const others = indexed.filter((b) => b !== group.baseOffset);
      if (others.length === 0 && kept.length === entries.length) continue;
      this.rewriteTxnIndex(group.baseOffset, byMarkerOffset(kept));
      this.deleteTxnIndexes((b) => others.includes(b));
    }
  }

  /**
   * Replaces the txnindex of segment `base` with `entries` (ascending lastOffset): written to a
   * temp file, fsynced, renamed over the index, directory fsynced. No entries: the index goes.
   */
  private rewriteTxnIndex(base: number, entries: AbortedTxn[]): void {
    const path = join(this.logDir, txnIndexFileName(base));
    if (entries.length === 0) {
      if (this.txnIndexes.has(base)) this.deleteTxnIndexes((b) => b === base);
      else rmSync(path, { force: true });
      return;
    }
    const tmp = `${path}.tmp`;
    const bytes = Buffer.concat(entries.map((e) => encodeAbortedTxn(e)));
    const fd = openSync(tmp, 'w');
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const existing = this.txnIndexes.get(base);
    existing?.close();
    if (existing !== undefined) this.unflushedTxnIndexes.delete(existing);
    renameSync(tmp, path);
    fsyncDirSync(this.logDir);
    if (existing === undefined) {
      this.txnIndexes.set(base, new TransactionIndex(base, path));
      this.txnIndexBases.splice(floorIndex(this.txnIndexBases, base) + 1, 0, base);
    }
  }

  /**
   * Records an aborted transaction (Kafka's UnifiedLog does so when it appends the abort
   * marker) in the txnindex of the segment holding its marker, `txn.lastOffset` — normally the
   * active one. Kafka requires lastOffset to increase within an index; an entry whose lastOffset
   * is not above the index's last one is a replay (producer state re-reading markers at open
   * or after a truncation) and is ignored. So is a marker below the first segment (deleted).
   * Written to the page cache; flush() fsyncs it.
   */
  appendAbortedTxn(txn: AbortedTxn): void {
    const pl = this.current();
    let base = -1;
    for (const s of pl.segments()) {
      if (s.baseOffset > txn.lastOffset) break;
      base = s.baseOffset;
    }
    if (base < 0) return;
    let index = this.txnIndexes.get(base);
    if (index === undefined) {
      index = new TransactionIndex(base, join(this.logDir, txnIndexFileName(base)));
      this.txnIndexes.set(base, index);
      this.txnIndexBases.splice(floorIndex(this.txnIndexBases, base) + 1, 0, base);
      this.txnIndexDirDirty = true;
    }
    if (index.append(txn)) this.unflushedTxnIndexes.add(index);
  }

  /**
   * Kafka's LocalLog.collectAbortedTransactions: the aborted transactions overlapping
   * [fetchOffset, upperBoundOffset) — lastOffset >= fetchOffset and firstOffset <
   * upperBoundOffset — from the segment holding fetchOffset onwards, stopping after the first
   * segment whose index has an entry with lastStableOffset >= upperBoundOffset. Empty when
   * fetchOffset is below the first segment.
   *
   * Only segments that have a txnindex are visited. For the usual call (logStartOffset <=
   * fetchOffset < upperBoundOffset) the search starts at the last index whose base is <=
   * fetchOffset, without listing the segments: when that index is an earlier segment's, its
   * markers all lie below fetchOffset, so none of its entries matches and none completes the
   * search (an entry's lastStableOffset is <= its lastOffset + 1, as Kafka computes it). Other
   * calls look the segment up in segments().
   */
  collectAbortedTxns(fetchOffset: number, upperBoundOffset: number): AbortedTxn[] {
    const pl = this.current();
    const bases = this.txnIndexBases;
    if (bases.length === 0) return [];
    let start: number;
    if (fetchOffset >= pl.logStartOffset && fetchOffset < upperBoundOffset) {
      start = Math.max(0, floorIndex(bases, fetchOffset));
    } else {
      let segmentBase = -1;
      for (const s of pl.segments()) {
        if (s.baseOffset > fetchOffset) break;
        segmentBase = s.baseOffset;
      }
      if (segmentBase < 0) return [];
      start = floorIndex(bases, segmentBase - 1) + 1;
    }
    const out: AbortedTxn[] = [];
    for (let i = start; i < bases.length; i++) {
      const index = this.txnIndexes.get(bases[i]);
      if (index === undefined) continue;
      const result = index.collect(fetchOffset, upperBoundOffset);
      out.push(...result.abortedTransactions);
      if (result.isComplete) break;
    }
    return out;
  }

  /** Truncates the indexes from position `from` of txnIndexBases on to `offset`. */
  private truncateTxnIndexesFrom(from: number, offset: number): void {
    for (let i = from; i < this.txnIndexBases.length; i++) {
      const index = this.txnIndexes.get(this.txnIndexBases[i]);
      if (index === undefined) continue;
      const before = index.entryCount();
      index.truncateTo(offset);
      if (index.entryCount() !== before) this.unflushedTxnIndexes.add(index);
    }
  }

  /**
   * Deletes the txnindex files of segments that left the log. Unlinked at once rather than
   * renamed `*.deleted` with the segment's other files: no FileSlice ever points into them and
   * every read of them finishes within its call, so nothing can be reading one later. A crash
   * between the engine's rename and this leaves a txnindex without its .log, removed at open.
   */
  private deleteTxnIndexes(doomed: (base: number) => boolean): void {
    const gone = this.txnIndexBases.filter(doomed);
    if (gone.length === 0) return;
    for (const base of gone) {
      const index = this.txnIndexes.get(base);
      if (index === undefined) continue;
      this.txnIndexes.delete(base);
      this.unflushedTxnIndexes.delete(index);
      index.delete();
    }
    this.txnIndexBases = this.txnIndexBases.filter((b) => !gone.includes(b));
  }

  /** fsyncs the txnindex files written since the last call (and the directory for new ones). */
  private async flushTxnIndexes(): Promise<void> {
    const indexes = [...this.unflushedTxnIndexes];
    this.unflushedTxnIndexes.clear();
    const dirDirty = this.txnIndexDirDirty;
    this.txnIndexDirDirty = false;
    try {
      await Promise.all(indexes.map((index) => index.flush()));
      if (dirDirty) await fsyncDirIfPresent(this.logDir);
    } catch (err) {
      for (const index of indexes) if (index.needsFlush) this.unflushedTxnIndexes.add(index);
      this.txnIndexDirDirty ||= dirDirty;
      throw err;
    }
  }

  private closeTxnIndexes(): void {
    for (const index of this.txnIndexes.values()) index.close();
    this.unflushedTxnIndexes.clear();
  }

  /**
   * Runs `listener` with the base offset of a new segment after an append that rolled the log
   * (the replication layer snapshots its producer state there). It runs inside append, after the
   * batches were written and before append returns, so state kept per append still describes
   * the log below that append. A roll for another reason than size may be noticed up to a second
   * (and an append) late. Listeners must not throw. Returns the unsubscribe.
   */
  onRoll(listener: (baseOffset: number) => void): () => void {
    this.rollListeners.add(listener);
    return () => this.rollListeners.delete(listener);
  }

  /** Runs `listener` at the start of close(), while the log is still readable. Listeners must not throw. */
  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  private prepareRollCheck(pl: PartitionLog): void {
    if (this.rollListeners.size === 0 || this.activeSegment !== null) return;
    const last = pl.segments().at(-1);
    this.activeSegment = last ? { baseOffset: last.baseOffset, bytes: last.sizeInBytes } : { baseOffset: pl.logEndOffset, bytes: 0 };
  }

  /** After an append of `bytes` bytes that started at `before`: did the engine roll? */
  private noticeRoll(pl: PartitionLog, before: number, bytes: number): void {
    const active = this.activeSegment;
    if (this.rollListeners.size === 0 || active === null) return;
    const now = Date.now();
    const sizeRoll = active.bytes > 0 && active.bytes + bytes > this.config.segmentBytes;
    if (!sizeRoll && now - this.lastRollCheckMs < ROLL_CHECK_INTERVAL_MS) {
      active.bytes += bytes;
      return;
    }
    this.lastRollCheckMs = now;
    // Where the first appended batch sits in its segment file: 0 means a segment starts there.
    const probe = pl.read(before, 1);
    probe.release?.();
    const position = probe.position;
    let rolledAt = -1;
    if (position === 0) {
      if (before !== active.baseOffset) rolledAt = before;
      this.activeSegment = { baseOffset: before, bytes };
    } else if (position < active.bytes) {
      // The active segment is smaller than counted: it rolled at an earlier append.
      const last = pl.segments().at(-1);
      if (last && last.baseOffset !== active.baseOffset) rolledAt = last.baseOffset;
      this.activeSegment = last ? { baseOffset: last.baseOffset, bytes: last.sizeInBytes } : null;
    } else {
      active.bytes = position + bytes;
    }
    if (rolledAt >= 0) for (const listener of [...this.rollListeners]) listener(rolledAt);
  }

  read(offset: number, maxBytes: number, maxOffset?: number): FileSlice {
    return this.current().read(offset, maxBytes, maxOffset);
  }

  /** Reads whole batches from `offset` into memory (internal topics, tests); empty at the end. */
  readBytes(offset: number, maxBytes: number): Buffer {
    const slice = this.read(offset, maxBytes);
    const buf = Buffer.allocUnsafe(slice.length);
    let done = 0;
    try {
      // Bounded: each readSync returns > 0 bytes or we stop.
      while (done < slice.length) {
        const n = readSync(slice.fd, buf, done, slice.length - done, slice.position + done);
        if (n <= 0) break;
        done += n;
      }
    } finally {
      slice.release?.();
    }
    return buf.subarray(0, done);
  }

  offsetForTimestamp(timestamp: number): TimestampAndOffset | null {
    return this.current().offsetForTimestamp(timestamp);
  }

  /** offsetForTimestamp off the event loop (PartitionLog.offsetForTimestampAsync). */
  offsetForTimestampAsync(timestamp: number): Promise<TimestampAndOffset | null> {
    return this.current().offsetForTimestampAsync(timestamp);
  }

  maxTimestampAndOffset(): TimestampAndOffset | null {
    return this.current().maxTimestampAndOffset();
  }

  segments(): SegmentInfo[] {
    return this.current().segments();
  }

  /** Deletes whole segments below `offset` (see PartitionLog), with their txnindex files. */
  deleteSegmentsBefore(offset: number): number {
    const pl = this.current();
    const deleted = pl.deleteSegmentsBefore(offset);
    if (deleted > 0 && this.txnIndexBases.length > 0) {
      const first = pl.segments()[0].baseOffset;
      this.deleteTxnIndexes((base) => base < first);
    }
    return deleted;
  }

  /** fsyncs the segments and the txnindex files written since the last flush. */
  async flush(): Promise<void> {
    this.messagesSinceFlush = 0;
    this.lastFlushMs = Date.now();
    await Promise.all([this.current().flush(), this.flushTxnIndexes()]);
  }

  /** flush.messages / flush.ms: Kafka leaves fsync to the OS unless a topic asks for it. */
  private maybeFlush(): void {
    const dueByCount = this.messagesSinceFlush >= this.config.flushMessages;
    const dueByTime = this.config.flushMs !== null && Date.now() - this.lastFlushMs >= this.config.flushMs;
    if ((dueByCount || dueByTime) && this.flushing === null) {
      this.flushing = this.flush()
        .catch((err: unknown) => this.onFlushError(err instanceof Error ? err : new Error(String(err)), this))
        .finally(() => {
          this.flushing = null;
        });
    }
  }

  /** Periodic flush.ms check from the log manager's scheduler. */
  flushIfDue(now: number): void {
    if (this.config.flushMs !== null && this.messagesSinceFlush > 0 && now - this.lastFlushMs >= this.config.flushMs) {
      this.maybeFlush();
    }
  }

  /**
   * Applies time and size retention (cleanup.policy contains delete). Deletes whole non-active
   * segments only; returns the number of segments deleted.
   */
  applyRetention(now: number): number {
    if (!this.config.cleanupPolicy.includes('delete') || this.partitionLog === null) return 0;
    const segments = this.segments();
    if (segments.length <= 1) return 0;
    const { retentionMs, retentionBytes } = this.config;
    let keepFrom = 0;
    if (retentionMs >= 0) {
      // Kafka: a segment expires when its largest timestamp (mtime when it has none) is too old.
      while (keepFrom < segments.length - 1) {
        const s = segments[keepFrom];
        const ts = s.maxTimestamp >= 0 ? s.maxTimestamp : s.lastModifiedMs;
        if (now - ts <= retentionMs) break;
        keepFrom++;
      }
    }
    if (retentionBytes >= 0) {
      let excess = -retentionBytes;
      for (let i = keepFrom; i < segments.length; i++) excess += segments[i].sizeInBytes;
      // Kafka deletes the oldest segments while the log stays at or above retention.bytes without them.
      while (keepFrom < segments.length - 1 && excess - segments[keepFrom].sizeInBytes >= 0) {
        excess -= segments[keepFrom].sizeInBytes;
        keepFrom++;
      }
    }
    if (keepFrom === 0) return 0;
    return this.deleteSegmentsBefore(segments[keepFrom].baseOffset);
  }

  /** Applies new topic config; reopens the PartitionLog when a storage setting changed. */
  async reconfigure(config: TopicConfig, engine: StorageEngine): Promise<void> {
    const old = this.config;
    this.config = config;
    // A deleted topic's log is never reopened: its path may be a recreated topic's directory.
    if (!storageConfigChanged(old, config) || this.deleted) return;
    await this.ready();
    await this.cleaningDone();
    const pl = this.current();
    const logStartOffset = pl.logStartOffset;
    this.partitionLog = null;
    this.activeSegment = null;
    this.reopening = (async () => {
      try {
        await pl.close();
        this.partitionLog = await engine.openLog(pl.dir, toLogConfig(config), { logStartOffset });
        if (this.deleted) this.partitionLog.markDeleted();
      } finally {
        this.reopening = null;
      }
    })();
    await this.reopening;
  }

  /** Resolves once the cleaning round in progress (if any) ended, however it ended. */
  private async cleaningDone(): Promise<void> {
    // Bounded: a round started meanwhile is waited for too, and rounds start only on an open log.
    while (this.cleaning !== null) await this.cleaning.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.ready();
    await this.cleaningDone();
    if (this.partitionLog !== null && !this.deleted) for (const listener of [...this.closeListeners]) listener();
    const pl = this.partitionLog;
    this.partitionLog = null;
    if (pl) {
      try {
        await Promise.all([pl.flush(), this.flushTxnIndexes()]);
      } finally {
        // Always release the files, even when the final fsync failed.
        this.closeTxnIndexes();
        await pl.close();
      }
    }
  }
}

/** Position of the last element <= `key` in an ascending array, or -1. */
export function floorIndex(sorted: readonly number[], key: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= key) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * The first 61 bytes (the v2 batch header) of the batch holding `offset` or the next one in its
 * segment; null when there is none.
 */
function readBatchHeader(pl: PartitionLog, offset: number): Buffer | null {
  const slice = pl.read(offset, 1);
  try {
    if (slice.length < HEADER_SIZE) return null;
    const header = Buffer.alloc(HEADER_SIZE);
    let done = 0;
    // Bounded: each readSync returns > 0 bytes or we stop.
    while (done < HEADER_SIZE) {
      const n = readSync(slice.fd, header, done, HEADER_SIZE - done, slice.position + done);
      if (n <= 0) return null;
      done += n;
    }
    return header;
  } finally {
    slice.release?.();
  }
}

/** Entries by ascending marker offset, one per marker (an index's order). */
function byMarkerOffset(entries: AbortedTxn[]): AbortedTxn[] {
  const sorted = [...entries].sort((x, y) => x.lastOffset - y.lastOffset);
  return sorted.filter((e, i) => i === 0 || sorted[i - 1].lastOffset !== e.lastOffset);
}

/** Whether the abort marker of `txn` (a control batch of its producer at lastOffset) is in the log. */
function abortMarkerRetained(pl: PartitionLog, txn: AbortedTxn): boolean {
  if (txn.lastOffset < pl.logStartOffset || txn.lastOffset >= pl.logEndOffset) return false;
  const header = readBatchHeader(pl, txn.lastOffset);
  return (
    header !== null &&
    readInt64(header, BASE_OFFSET) === txn.lastOffset &&
    (header.readInt16BE(ATTRIBUTES) & ATTR_CONTROL) !== 0 &&
    readInt64(header, PRODUCER_ID) === txn.producerId
  );
}

function fsyncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not possible on every platform; the rename is atomic all the same.
  }
}

/** fsyncs a directory's entries; nothing when it was renamed away (a deleted topic's log). */
async function fsyncDirIfPresent(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    closeSync(fd);
  }
}
