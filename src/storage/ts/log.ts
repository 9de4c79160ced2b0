// storage/ room (ts engine): a partition directory of segments behind the PartitionLog contract.
// Appends, reads and index work are synchronous page-cache operations; only fsync leaves the
// event loop, and concurrent flush() callers share one round of fsyncs (group commit).
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AppendOptions,
  AppendResult,
  CleanOptions,
  CleanResult,
  BatchSummary,
  FileSlice,
  LogConfig,
  OpenOptions,
  PartitionLog,
  SegmentInfo,
  StorageError,
  StorageErrorCode,
  TimestampAndOffset,
} from '../engine.js';
import { defaultStorageLogger, type StorageLogger } from '../logger.js';
import {
  ATTR_CONTROL,
  ATTR_LOG_APPEND_TIME,
  ATTR_TRANSACTIONAL,
  ATTRIBUTES,
  BASE_OFFSET,
  BASE_SEQUENCE,
  BATCH_LENGTH,
  CRC,
  LAST_OFFSET_DELTA,
  LOG_OVERHEAD,
  MAX_TIMESTAMP,
  PARTITION_LEADER_EPOCH,
  PRODUCER_EPOCH,
  PRODUCER_ID,
  RECORDS_COUNT,
  findRecord,
  findRecordAsync,
  readInt64,
  validateBatches,
  writeInt64,
} from './batch.js';
import { crc32c } from './crc32c.js';
import { FOLLOWER_RULES, type RecordRules } from './records.js';
import { cleanLog, completeSwaps, type CleanHost } from './cleaner.js';
import { Segment, baseName, writeFully } from './segment.js';

const LOG_FILE = /^(\d{20})\.log$/;
const LEFTOVER = /\.(cleaned|swap|deleted)$/;
const INDEX_FILE = /^(\d{20})\.(index|timeindex)$/;
const MAX_RELATIVE_OFFSET = 2147483647;

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** fsyncs a file through an fd of its own; a file gone (renamed `.deleted`, swapped) has nothing left to sync. */
async function fsyncPath(file: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function storageError(dir: string, what: string, err: unknown): StorageError {
  return new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${dir}: ${what}: ${(err as Error).message}`);
}

/**
 * A FileSlice's lease lasts until it is released, at most file.delete.delay.ms and never less
 * than this (a log with no delete delay still gives a send in flight time to finish).
 */
const MIN_LEASE_MS = 10_000;
/** offsetForTimestampAsync yields to the event loop after this long of work. */
const LOOKUP_SLICE_MS = 5;

export class TsPartitionLog implements PartitionLog {
  private segs: Segment[];
  private _logStartOffset: number;
  private _logEndOffset: number;
  private closed = false;
  /** markDeleted(): the directory was renamed away; nothing more is done by path. */
  private detached = false;
  /** Segments rolled since the last flush; their .log still needs one fsync. */
  private unsynced = new Set<Segment>();
  private dirDirty = false;
  private flushing: Promise<void> | null = null;
  private nextFlush: Promise<void> | null = null;
  /**
   * Segments dropped by retention or truncation: files renamed `*.deleted`, fds still open for
   * FileSlices in flight until `until` (performance.now() ms, file.delete.delay.ms later).
   */
  private doomed: Array<{ until: number; segment: Segment }> = [];
  /** A clean() round is running (at most one per log). */
  private cleaning = false;

  private constructor(
    readonly dir: string,
    private readonly config: LogConfig,
    segs: Segment[],
    logStartOffset: number,
    readonly recoveredBytesTruncated: number,
    private readonly logger: StorageLogger,
  ) {
    this.segs = segs;
    this._logEndOffset = this.computeLogEndOffset();
    this._logStartOffset = Math.min(logStartOffset, this._logEndOffset);
  }

  static async open(
    dir: string,
    config: LogConfig,
    options: OpenOptions = {},
    logger: StorageLogger = defaultStorageLogger(),
  ): Promise<TsPartitionLog> {
    try {
      return await TsPartitionLog.openOrThrow(dir, config, options, logger);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw storageError(dir, 'cannot open log', err);
    }
  }

  private static async openOrThrow(
    dir: string,
    config: LogConfig,
    options: OpenOptions,
    logger: StorageLogger,
  ): Promise<TsPartitionLog> {
    await fs.promises.mkdir(dir, { recursive: true });
    let names = await fs.promises.readdir(dir);
    // A clean round killed between its `.swap` rename and the final names: finish it first.
    if (await completeSwaps(dir, names)) names = await fs.promises.readdir(dir);
    const bases: number[] = [];
    const logBases = new Set<string>();
    for (const name of names) {
      const m = LOG_FILE.exec(name);
      if (m) {
        bases.push(Number(m[1]));
        logBases.add(m[1]);
      }
    }
    for (const name of names) {
      const idx = INDEX_FILE.exec(name);
      // Leftovers of an interrupted clean/swap/delete, and indexes whose .log is gone.
      if (LEFTOVER.test(name) || (idx && !logBases.has(idx[1]))) {
        await fs.promises.rm(path.join(dir, name), { force: true, recursive: true });
      }
    }
    bases.sort((a, b) => a - b);
    const segs: Segment[] = [];
    let truncated = 0;
    if (bases.length === 0) {
      const base = options.logStartOffset ?? 0;
      // The three files are created off the event loop (a file creation can wait on the
      // filesystem journal), so many logs opened together create theirs concurrently; the
      // segment then opens them as they are (empty).
      // All settle before a failure is thrown: nothing of this open runs after its caller undid it.
      const created = await Promise.allSettled(
        ['log', 'index', 'timeindex'].map((ext) => fs.promises.open(path.join(dir, `${baseName(base)}.${ext}`), 'a').then((h) => h.close())),
      );
      for (const r of created) if (r.status === 'rejected') throw r.reason;
      segs.push(Segment.create(dir, base, config));
    } else {
      // The first segment whose batches are CRC-checked: none after a clean shutdown, the one
      // holding the recovery point after an unclean one, else the active one.
      const clean = options.hadCleanShutdown === true;
      let checkFrom = bases.length - 1;
      if (!clean && options.recoveryPoint !== undefined) {
        const point = Math.max(0, options.recoveryPoint);
        const after = bases.findIndex((b) => b > point);
        checkFrom = after === -1 ? bases.length - 1 : Math.max(0, after - 1);
      }
      let batches = 0;
      let cut = false;
      for (let i = 0; i < bases.length; i++) {
        const isLast = i === bases.length - 1;
        if (cut) {
          // Nothing after the first bad batch is kept (Kafka deletes the segments after it).
          const dropped = await Segment.countBatches(dir, bases[i]);
          truncated += dropped.bytes;
          batches += dropped.batches;
          for (const ext of ['log', 'index', 'timeindex']) await fs.promises.rm(path.join(dir, `${baseName(bases[i])}.${ext}`), { force: true });
          continue;
        }
        if (clean ? isLast : i >= checkFrom) {
          const r = await Segment.openActive(dir, bases[i], config, clean, isLast ? Number.POSITIVE_INFINITY : bases[i + 1]);
          segs.push(r.segment);
          truncated += r.truncated;
          batches += r.batches;
          if (r.truncated > 0) cut = true;
          else if (!isLast) {
            r.segment.seal();
            // Released at once, so opening a log never holds a descriptor per segment.
            r.segment.releaseFiles();
          }
        } else {
          const seg = await Segment.openInactive(dir, bases[i], config, bases[i + 1]);
          seg.releaseFiles();
          segs.push(seg);
        }
      }
      if (truncated > 0) {
        const at = segs[segs.length - 1].lastOffset + 1;
        logger.warn(
          { dir, truncatedBytes: truncated, truncatedBatches: batches, offset: at, recoveryPoint: options.recoveryPoint },
          'recovered log after an unclean shutdown: truncated at the first invalid batch',
        );
      }
    }
    // Sealed segments keep no fd open: their indexes are in memory, their .log opens on the
    // first read (so a restart never needs a descriptor per segment).
    for (let i = 0; i < segs.length - 1; i++) segs[i].releaseFiles();
    const logStartOffset = Math.max(options.logStartOffset ?? segs[0].baseOffset, segs[0].baseOffset);
    const log = new TsPartitionLog(dir, config, segs, logStartOffset, truncated, logger);
    // A segment created here is a new directory entry the next flush must make durable.
    log.dirDirty = bases.length === 0;
    return log;
  }

  get logStartOffset(): number {
    this.closeExpiredDeletes();
    return this._logStartOffset;
  }

  get logEndOffset(): number {
    this.closeExpiredDeletes();
    return this._logEndOffset;
  }

  private get active(): Segment {
    return this.segs[this.segs.length - 1];
  }

  private computeLogEndOffset(): number {
    const a = this.active;
    return a.size > 0 ? a.lastOffset + 1 : a.baseOffset;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${this.dir}: log is closed`);
    this.closeExpiredDeletes();
  }

  /** ensureOpen, and refuses every change to a deleted topic's log (markDeleted). */
  private ensureWritable(): void {
    this.ensureOpen();
    if (this.detached) throw new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${this.dir}: log belongs to a deleted topic`);
  }

  /**
   * The topic was deleted and the directory is renamed next (Kafka's `-delete` suffix): its old
   * paths may soon name a recreated topic's files. From now on nothing is written, trimmed,
   * fsynced or removed by path; changes are refused; reads through fds already open (FileSlices
   * in flight) keep working; close() only closes fds.
   */
  markDeleted(): void {
    this.detached = true;
    for (const s of this.segs) s.detach();
    for (const d of this.doomed) d.segment.detach();
  }

  /**
   * Closes and removes deleted segments whose delay has passed. Runs on every log call, as in
   * the native engine (lazily: no timer), and costs nothing when none is pending.
   */
  private closeExpiredDeletes(): void {
    if (this.doomed.length === 0) return;
    const now = performance.now();
    const expired = this.doomed.filter((d) => d.until <= now);
    if (expired.length === 0) return;
    this.doomed = this.doomed.filter((d) => d.until > now);
    for (const d of expired) {
      // A deleted topic's `*.deleted` paths may be a recreated topic's: only the fd closes.
      if (this.detached) d.segment.closeFiles();
      else deleteQuietly(d.segment);
    }
  }

  append(batches: Buffer, options: AppendOptions = {}): AppendResult {
    return this.doAppend(batches, options, false);
  }

  appendAsFollower(batches: Buffer): AppendResult {
    return this.doAppend(batches, {}, true);
  }

  private doAppend(batches: Buffer, options: AppendOptions, follower: boolean): AppendResult {
    this.ensureWritable();
    const where = `${this.dir} at offset ${this._logEndOffset}`;
    const now = options.now ?? Date.now();
    // A follower's records are checked for being well formed only: the leader applied the
    // topic's rules when it took them.
    const rules = follower ? FOLLOWER_RULES : this.leaderRules(now);
    const starts = validateBatches(batches, this.config.maxMessageBytes, rules, where);
    const logAppendTime = !follower && this.config.messageTimestampType === 'LogAppendTime';

    // Offsets each batch will get, checked before anything is written. A follower keeps the
    // leader's: a compacted leader log has gaps, so (as Kafka) only a first offset below the log
    // end offset, or batches out of order, are refused.
    let lastOffset = this._logEndOffset - 1;
    for (const pos of starts) {
      const lastOffsetDelta = batches.readInt32BE(pos + LAST_OFFSET_DELTA);
      if (follower) {
        const base = readInt64(batches, pos + BASE_OFFSET);
        if (base <= lastOffset) {
          const code = pos === 0 ? StorageErrorCode.INVALID_RECORD : StorageErrorCode.CORRUPT_MESSAGE;
          const what = pos === 0 ? `below the log end offset ${this._logEndOffset}` : `not after the previous batch's last offset ${lastOffset}`;
          throw new StorageError(code, `${where}: follower batch at position ${pos} has baseOffset ${base}, ${what}`);
        }
        lastOffset = base + lastOffsetDelta;
      } else {
        lastOffset += lastOffsetDelta + 1;
      }
    }

    this.maybeRoll(batches.length, lastOffset, now);
    const seg = this.active;

    const leaderEpoch = options.leaderEpoch ?? 0;
    const summaries: BatchSummary[] = [];
    let offset = this._logEndOffset;
    let maxTimestamp = -1;
    for (const pos of starts) {
      const size = batches.readInt32BE(pos + BATCH_LENGTH) + LOG_OVERHEAD;
      if (!follower) {
        writeInt64(batches, offset, pos + BASE_OFFSET);
        batches.writeInt32BE(leaderEpoch, pos + PARTITION_LEADER_EPOCH);
        if (logAppendTime) {
          batches.writeInt16BE(batches.readInt16BE(pos + ATTRIBUTES) | ATTR_LOG_APPEND_TIME, pos + ATTRIBUTES);
          writeInt64(batches, now, pos + MAX_TIMESTAMP);
          batches.writeUInt32BE(crc32c(batches, pos + ATTRIBUTES, pos + size), pos + CRC);
        }
      }
      const attributes = batches.readInt16BE(pos + ATTRIBUTES);
      const count = batches.readInt32BE(pos + RECORDS_COUNT);
      if (follower) offset = readInt64(batches, pos + BASE_OFFSET);
      const batchLast = offset + batches.readInt32BE(pos + LAST_OFFSET_DELTA);
      const batchMax = readInt64(batches, pos + MAX_TIMESTAMP);
      if (batchMax > maxTimestamp) maxTimestamp = batchMax;
      summaries.push({
        baseOffset: offset,
        lastOffset: batchLast,
        maxTimestamp: batchMax,
        producerId: readInt64(batches, pos + PRODUCER_ID),
        producerEpoch: batches.readInt16BE(pos + PRODUCER_EPOCH),
        baseSequence: batches.readInt32BE(pos + BASE_SEQUENCE),
        recordCount: count,
        isTransactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
        isControl: (attributes & ATTR_CONTROL) !== 0,
        sizeInBytes: size,
      });
      offset = batchLast + 1;
    }

    const position = seg.size;
    try {
      writeFully(seg.logFd, batches, 0, batches.length, position);
    } catch (err) {
      // A short write leaves a torn tail; cut it so the file matches what we report.
      try {
        fs.ftruncateSync(seg.logFd, position);
      } catch {
        // the original error is the one worth reporting
      }
      throw storageError(this.dir, `write of ${batches.length} bytes at position ${position} failed`, err);
    }
    seg.size += batches.length;
    // Validated before the write: known good, unless unchecked bytes lie before it.
    if (seg.verifiedEnd >= position) seg.verifiedEnd = seg.size;
    for (let i = 0; i < starts.length; i++) {
      const s = summaries[i];
      seg.trackBatch({
        position: position + starts[i],
        size: s.sizeInBytes,
        baseOffset: s.baseOffset,
        lastOffset: s.lastOffset,
        maxTimestamp: s.maxTimestamp,
      });
    }
    this._logEndOffset = offset;
    return {
      batches: summaries,
      firstOffset: summaries[0].baseOffset,
      lastOffset: summaries[summaries.length - 1].lastOffset,
      maxTimestamp,
      logAppendTime: logAppendTime ? now : -1,
      logEndOffset: this._logEndOffset,
    };
  }

  /** What a leader append's records must satisfy at `now`. */
  private leaderRules(now: number): RecordRules {
    const { compacted, messageTimestampType, messageTimestampBeforeMaxMs: before, messageTimestampAfterMaxMs: after } = this.config;
    const timestamps =
      messageTimestampType === 'CreateTime' && (before !== undefined || after !== undefined)
        ? { now, beforeMaxMs: before ?? Infinity, afterMaxMs: after ?? Infinity }
        : null;
    return { compacted: compacted ?? false, timestamps };
  }

  private maybeRoll(bytes: number, lastOffset: number, now: number): void {
    const seg = this.active;
    if (seg.size === 0) return;
    const roll =
      seg.size + bytes > this.config.segmentBytes ||
      (seg.rollingBasedTimestamp !== null && now - seg.rollingBasedTimestamp > this.config.segmentMs) ||
      seg.offsetIndexFull ||
      seg.timeIndexFull ||
      lastOffset - seg.baseOffset > MAX_RELATIVE_OFFSET;
    if (roll) this.rollNow();
  }

  private rollNow(): void {
    const old = this.active;
    // The new segment first (its files opened by path: out of fds, say): a failure leaves the
    // log as it was, its active segment still active.
    let fresh: Segment;
    try {
      fresh = Segment.create(this.dir, this._logEndOffset, this.config);
    } catch (err) {
      throw storageError(this.dir, `cannot create segment ${this._logEndOffset}`, err);
    }
    try {
      old.seal();
    } catch (err) {
      deleteQuietly(fresh);
      throw storageError(this.dir, 'cannot seal the active segment', err);
    }
    old.releaseFiles();
    this.unsynced.add(old);
    this.segs.push(fresh);
    this.dirDirty = true;
  }

  roll(): void {
    this.ensureWritable();
    if (this.active.size > 0) this.rollNow();
  }

  clean(options: CleanOptions): Promise<CleanResult> {
    try {
      this.ensureWritable();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.cleaning) {
      return Promise.reject(new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${this.dir}: a clean round of this log is already running`));
    }
    this.cleaning = true;
    const host: CleanHost = {
      dir: this.dir,
      config: this.config,
      segments: () => this.segs,
      isClosed: () => this.closed,
      replaceSegments: (old, fresh, renamed) => {
        this.replaceSegments(old, fresh, renamed);
      },
    };
    return cleanLog(host, options).finally(() => {
      this.cleaning = false;
    });
  }

  /** The cleaner's swap: old segments go the deleted-segment path, `fresh` takes their place. */
  private replaceSegments(old: Segment[], fresh: Segment, renamed: () => void): void {
    const at = this.segs.indexOf(old[0]);
    for (const s of old) this.dropSegment(s);
    renamed();
    this.segs.splice(at, old.length, fresh);
    fresh.releaseFiles();
    this.dirDirty = true;
  }

  read(offset: number, maxBytes: number, maxOffset = Number.MAX_SAFE_INTEGER): FileSlice {
    try {
      return this.readChecked(offset, maxBytes, maxOffset);
    } catch (err) {
      if (err instanceof StorageError && err.code === StorageErrorCode.CORRUPT_MESSAGE) {
        this.logger.warn({ dir: this.dir, offset, err: err.message }, 'read of a corrupt batch refused');
      }
      throw err;
    }
  }

  /** read(), with every byte served CRC-checked once (Segment.verifySlice). */
  private readChecked(offset: number, maxBytes: number, maxOffset: number): FileSlice {
    this.ensureOpen();
    if (offset < this._logStartOffset || offset > this._logEndOffset) {
      throw new StorageError(
        StorageErrorCode.OFFSET_OUT_OF_RANGE,
        `${this.dir}: offset ${offset} is outside [${this._logStartOffset}, ${this._logEndOffset}]`,
      );
    }
    if (offset === this._logEndOffset) return this.empty(this.active.size);
    for (let i = this.segmentIndexFor(offset); i < this.segs.length; i++) {
      const seg = this.segs[i];
      const first = seg.findBatch(offset);
      if (first === null) continue;
      if (first.baseOffset >= maxOffset) return this.empty(first.position);
      // A consumer at the tail usually wants the rest of the segment: it holds whole batches
      // only, so when it all fits there is no need to walk the headers.
      const rest = seg.size - first.position;
      if (rest <= Math.max(maxBytes, first.size) && seg.lastOffset < maxOffset) {
        return this.slice(seg, first.position, seg.verifySlice(first.position, rest, offset));
      }
      let length = first.size;
      let pos = first.position + first.size;
      for (;;) {
        const next = seg.readHeader(pos);
        if (next === null || length + next.size > maxBytes || next.baseOffset >= maxOffset) break;
        length += next.size;
        pos += next.size;
      }
      return this.slice(seg, first.position, seg.verifySlice(first.position, length, offset));
    }
    return this.empty(this.active.size);
  }

  /** A slice with nothing to read: the active segment's fd (pinned), no lease. */
  private empty(position: number): FileSlice {
    return { fd: this.active.logFd, position, length: 0 };
  }

  /** A slice of `seg` holding a lease on its fd (FileSlice in engine.ts). */
  private slice(seg: Segment, position: number, length: number): FileSlice {
    const { fd, release } = seg.lease(Math.max(this.config.fileDeleteDelayMs, MIN_LEASE_MS));
    return { fd, position, length, release };
  }

  /** Index of the last segment with baseOffset <= offset (0 when offset precedes them all). */
  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segs[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  offsetForTimestamp(timestamp: number): TimestampAndOffset | null {
    this.ensureOpen();
    const start = this._logStartOffset;
    for (const seg of this.segs) {
      if (seg.maxTimestampSoFar < timestamp || seg.lastOffset < start) continue;
      const indexed = Math.max(seg.lookupTimestamp(timestamp), start);
      let pos = seg.lookupPosition(indexed);
      for (;;) {
        const h = seg.readHeader(pos);
        if (h === null) break;
        pos += h.size;
        if (h.maxTimestamp < timestamp || h.lastOffset < start) continue;
        const r = findRecord(seg.readBatch(h), (rec) => rec.timestamp >= timestamp && rec.offset >= start);
        if (r !== null) return { timestamp: r.timestamp, offset: r.offset };
      }
    }
    return null;
  }

  /**
   * offsetForTimestamp in slices: yields to the event loop between batches once LOOKUP_SLICE_MS
   * of work has passed, and decompresses each batch within the decompressed-size limit (see
   * findRecord). Segments deleted or truncated meanwhile are skipped or cut short (their offsets
   * left the log). The segment being read is held open across the yields.
   */
  async offsetForTimestampAsync(timestamp: number): Promise<TimestampAndOffset | null> {
    this.ensureOpen();
    let sliceStart = performance.now();
    for (const seg of [...this.segs]) {
      const start = this._logStartOffset;
      if (seg.deleted || seg.maxTimestampSoFar < timestamp || seg.lastOffset < start) continue;
      const indexed = Math.max(seg.lookupTimestamp(timestamp), start);
      let pos = seg.lookupPosition(indexed);
      seg.hold();
      try {
        for (;;) {
          if (performance.now() - sliceStart >= LOOKUP_SLICE_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            sliceStart = performance.now();
            if (this.closed) return null;
            // Deleted during the yield (TS narrowed it before the yield).
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
            if (seg.deleted) break;
          }
          const h = seg.readHeader(pos);
          if (h === null) break;
          pos += h.size;
          if (h.maxTimestamp < timestamp || h.lastOffset < this._logStartOffset) continue;
          const r = await findRecordAsync(seg.readBatch(h), (rec) => rec.timestamp >= timestamp && rec.offset >= this._logStartOffset);
          if (r !== null) return { timestamp: r.timestamp, offset: r.offset };
        }
      } finally {
        seg.unhold();
      }
    }
    return null;
  }

  maxTimestampAndOffset(): TimestampAndOffset | null {
    this.ensureOpen();
    if (this._logEndOffset <= this._logStartOffset) return null;
    let best: Segment | null = null;
    for (const seg of this.segs) {
      if (seg.size === 0 || seg.lastOffset < this._logStartOffset) continue;
      if (best === null || seg.maxTimestampSoFar > best.maxTimestampSoFar) best = seg;
    }
    if (best === null) return null;
    const target = best.maxTimestampSoFar;
    let pos = best.lookupPosition(best.offsetOfMaxTimestampSoFar);
    for (;;) {
      const h = best.readHeader(pos);
      if (h === null) break;
      pos += h.size;
      if (h.maxTimestamp !== target) continue;
      const r = findRecord(best.readBatch(h), (rec) => rec.timestamp === target && rec.offset >= this._logStartOffset);
      if (r !== null) return { timestamp: r.timestamp, offset: r.offset };
    }
    return null;
  }

  segments(): SegmentInfo[] {
    this.ensureOpen();
    return this.segs.map((s) => ({
      baseOffset: s.baseOffset,
      sizeInBytes: s.size,
      maxTimestamp: s.size > 0 ? s.maxTimestampSoFar : -1,
      lastModifiedMs: Math.floor(s.lastModifiedMs()),
    }));
  }

  truncateTo(target: number): void {
    this.ensureWritable();
    // Offsets are never negative; the native engine clamps the same way.
    const offset = Math.max(0, target);
    if (offset >= this._logEndOffset) return;
    if (offset < this.segs[0].baseOffset) {
      // Kafka's truncateFullyAndStartAt: nothing below the target survives.
      for (const s of this.segs) this.dropSegment(s);
      this.segs = [Segment.create(this.dir, offset, this.config)];
      this._logStartOffset = offset;
      this._logEndOffset = offset;
      this.dirDirty = true;
      this.closeExpiredDeletes();
      return;
    }
    while (this.segs.length > 1 && this.active.baseOffset > offset) {
      const s = this.active;
      this.segs.pop();
      this.dropSegment(s);
    }
    const seg = this.active;
    // Index-file I/O failing here (out of fds, say) must not fail a truncation whose segments
    // are already dropped: the entries stay pending for the next flush (activate, truncateTo).
    if (!seg.isActive) seg.activate(true);
    seg.truncateTo(offset);
    this._logEndOffset = this.computeLogEndOffset();
    this._logStartOffset = Math.min(this._logStartOffset, this._logEndOffset);
    this.dirDirty = true;
    this.closeExpiredDeletes();
  }

  deleteSegmentsBefore(offset: number): number {
    this.ensureWritable();
    const target = Math.min(offset, this._logEndOffset);
    let deleted = 0;
    while (this.segs.length > 1 && this.segs[1].baseOffset <= target) {
      const s = this.segs[0];
      this.segs.shift();
      this.dropSegment(s);
      deleted++;
    }
    if (target > this._logStartOffset) this._logStartOffset = target;
    if (deleted > 0) this.dirDirty = true;
    this.closeExpiredDeletes();
    return deleted;
  }

  /** Kafka's asynchronous segment delete: rename now, close and remove after the delay. */
  private dropSegment(s: Segment): void {
    this.unsynced.delete(s);
    // Kept even when the rename fails: its fd may back a FileSlice either way.
    this.doomed.push({ until: performance.now() + Math.max(0, this.config.fileDeleteDelayMs), segment: s });
    s.renameToDeleted();
  }

  flush(): Promise<void> {
    this.closeExpiredDeletes();
    if (this.flushing === null) {
      this.flushing = this.syncAll().finally(() => {
        this.flushing = null;
      });
      return this.flushing;
    }
    // Data written after the running fsync began is not covered by it: wait, then run one more
    // round that everyone who arrives meanwhile shares.
    this.nextFlush ??= this.flushing
      .catch(() => undefined)
      .then(() => {
        this.nextFlush = null;
        return this.flush();
      });
    return this.nextFlush;
  }

  private async syncAll(): Promise<void> {
    // A deleted topic's data needs no fsync, and its paths may be another topic's.
    if (this.closed || this.detached) return;
    const segs = [...this.unsynced, this.active];
    // Every file by path (fsyncPath opens, syncs and closes it): a sealed segment's fd may close
    // while the fsync runs, and its index files have no fd open at all. The active .log is
    // synced through its fd, held open meanwhile. syncPaths writes pending index entries (by
    // path: it may fail, out of fds, say): before anything is taken off `unsynced`.
    const active = this.active;
    let paths: string[];
    try {
      paths = segs.flatMap((s) => s.syncPaths()).filter((p) => p !== active.logPath);
    } catch (err) {
      throw storageError(this.dir, 'writing index files failed', err);
    }
    this.unsynced.clear();
    const activeFd = active.hold();
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    try {
      await Promise.all([fsyncFd(activeFd), ...paths.map((p) => fsyncPath(p))]);
      if (dirDirty) {
        const dirFd = openDirIfPresent(this.dir);
        if (dirFd !== null) {
          try {
            await fsyncFd(dirFd);
          } finally {
            fs.closeSync(dirFd);
          }
        }
      }
    } catch (err) {
      // A segment deleted or a log closed while its fsync ran has nothing left to make durable.
      // (TS narrowed `closed` before the await and cannot see close() run during it.)
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (!this.closed) {
        for (const s of segs) if (s !== this.active && !s.deleted) this.unsynced.add(s);
        this.dirDirty ||= dirDirty;
        if (segs.every((s) => !s.deleted)) throw storageError(this.dir, 'fsync failed', err);
      }
      return;
    } finally {
      active.unhold();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      // Release the fds even when the last fsync failed, or they leak for the process lifetime.
      // A concurrent close() may have finished during the flush; TS still narrows `closed` to false.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (!this.closed) this.closeNow();
    }
  }

  private closeNow(): void {
    this.closed = true;
    if (this.detached) {
      // Only fds close: the old paths may be a recreated topic's files (the caller removes the
      // renamed directory).
      for (const s of this.segs) s.closeFiles();
      for (const d of this.doomed) d.segment.closeFiles();
      this.doomed = [];
      return;
    }
    try {
      // Only the active segment's close can fail (its seal opens the index files); it is last.
      for (const s of this.segs) s.close();
    } finally {
      // Closing ends every delete delay: the caller (LogManager) waits out in-flight requests
      // before it closes a log.
      for (const d of this.doomed) deleteQuietly(d.segment);
      this.doomed = [];
    }
  }
}

/**
 * The directory's fd for an fsync; null when it was renamed away (a deleted topic's log, closed
 * after file.delete.delay.ms): no directory entry of it is worth making durable then.
 */
function openDirIfPresent(dir: string): number | null {
  try {
    return fs.openSync(dir, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A `*.deleted` file that cannot be removed is a leftover the next open removes; failing the
 * caller's unrelated read or append over it would help nobody. */
function deleteQuietly(s: Segment): void {
  try {
    s.delete();
  } catch {
    // see above
  }
}

