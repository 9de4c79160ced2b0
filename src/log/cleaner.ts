// log/ room: the log cleaner (Kafka's LogCleaner, LogCleanerManager and the scheduling half of
// Cleaner). It decides which compacted log to clean, from where to where and with which limits;
// the storage engine does the round itself (PartitionLog.clean, see CleanOptions in
// storage/engine.ts) and Log.clean keeps the txnindex files in step. Checkpoints go to
// `cleaner-offset-checkpoint` in the log dir, in Kafka's checkpoint format.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig, TopicConfig } from '../config/index.js';
import type { CleanResult, SegmentInfo } from '../storage/engine.js';
import { readCheckpoint, writeCheckpoint, type CheckpointEntry } from './checkpoint.js';
import { floorIndex, type LogCleanOptions } from './log.js';

export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';

/** Bytes of one offset map entry in Kafka's SkimpyOffsetMap: a 16-byte MD5 of the key and an 8-byte offset. */
const OFFSET_MAP_ENTRY_BYTES = 24;
const INT_MAX = 2147483647;
/** How long a log whose round threw is left alone before the cleaner tries it again. */
const DEFAULT_UNCLEANABLE_RETRY_MS = 5 * 60 * 1000;

/** What the cleaner needs of a log (Log implements it; the unit tests fake it). */
export interface CleanableLog {
  readonly topic: string;
  readonly partition: number;
  readonly config: TopicConfig;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  isAvailable(): boolean;
  segments(): SegmentInfo[];
  /** Null when the replication layer gives none: such a log is not cleaned. */
  lastStableOffset(): number | null;
  /** maxTimestamp of the first batch of the segment holding `offset`; -1 when none. */
  firstBatchTimestamp(offset: number): number;
  clean(options: LogCleanOptions): Promise<CleanResult>;
}

export interface CleanerSettings {
  /** log.cleaner.threads: rounds that may run at once. */
  threads: number;
  /** log.cleaner.backoff.ms: pause of a cleaner that found nothing to clean. */
  backoffMs: number;
  /** log.cleaner.dedupe.buffer.size, shared by the threads. */
  dedupeBufferSize: number;
  /** log.cleaner.io.buffer.load.factor. */
  loadFactor: number;
  /** log.cleaner.io.max.bytes.per.second, all threads together; Infinity = unthrottled. */
  ioMaxBytesPerSecond: number;
}

export function cleanerSettings(config: BrokerConfig): CleanerSettings {
  const io = config.getNumber('log.cleaner.io.max.bytes.per.second');
  return {
    threads: config.getNumber('log.cleaner.threads'),
    backoffMs: config.getNumber('log.cleaner.backoff.ms'),
    dedupeBufferSize: config.getNumber('log.cleaner.dedupe.buffer.size'),
    loadFactor: config.getNumber('log.cleaner.io.buffer.load.factor'),
    ioMaxBytesPerSecond: io >= Number.MAX_VALUE ? Infinity : io,
  };
}

/**
 * Distinct keys one round's offset map may hold: each thread's share of the dedupe buffer (at
 * most 2 GiB, as Kafka's map is an int-sized buffer), 24 bytes a slot, filled to the load factor.
 */
export function maxMapEntries(dedupeBufferSize: number, threads: number, loadFactor: number): number {
  const memory = Math.min(Math.floor(dedupeBufferSize / Math.max(1, threads)), INT_MAX);
  return Math.floor(Math.floor(memory / OFFSET_MAP_ENTRY_BYTES) * loadFactor);
}

/** Kafka's OffsetsToClean. */
export interface OffsetsToClean {
  firstDirtyOffset: number;
  /** The first offset the round may not clean (before rounding down to its segment). */
  firstUncleanableDirtyOffset: number;
  /** The checkpoint was out of the log's range and was reset: write it back. */
  forceUpdateCheckpoint: boolean;
}

/** Kafka's UnifiedLog.logSegments(from, to): from the segment holding `from` to the last one starting before `to`. */
export function segmentsBetween(segments: readonly SegmentInfo[], from: number, to: number): SegmentInfo[] {
  if (from === to) return [];
  const start = Math.max(0, floorIndex(segments.map((s) => s.baseOffset), from));
  const out: SegmentInfo[] = [];
  for (let i = start; i < segments.length && segments[i].baseOffset < to; i++) out.push(segments[i]);
  return out;
}

/** Kafka's nonActiveLogSegmentsFrom: the segment holding `from` and those after it, the active one excluded. */
function nonActiveSegmentsFrom(segments: readonly SegmentInfo[], from: number): SegmentInfo[] {
  const active = segments.at(-1);
  if (active === undefined || from >= active.baseOffset) return [];
  return segmentsBetween(segments, from, active.baseOffset);
}

function largestTimestamp(s: SegmentInfo): number {
  return s.maxTimestamp >= 0 ? s.maxTimestamp : s.lastModifiedMs;
}

/**
 * Kafka's LogCleanerManager.cleanableOffsets: where the dirty section starts (the checkpoint,
 * reset to the log start when it is out of range) and the first offset that may not be cleaned:
 * the smallest of the active segment's base offset, the last stable offset and the base offset
 * of the first dirty segment holding a record newer than min.compaction.lag.ms.
 */
export function cleanableOffsets(log: CleanableLog, checkpoint: number | undefined, now: number): OffsetsToClean {
  const logStart = log.logStartOffset;
  const checkpointed = checkpoint ?? logStart;
  let firstDirtyOffset = checkpointed;
  let forceUpdateCheckpoint = false;
  if (checkpointed < logStart || checkpointed > log.logEndOffset) {
    firstDirtyOffset = logStart;
    forceUpdateCheckpoint = true;
  }
  const segments = log.segments();
  let uncleanable = Math.min(segments.at(-1)?.baseOffset ?? log.logEndOffset, log.lastStableOffset() ?? firstDirtyOffset);
  const minLag = Math.max(log.config.minCompactionLagMs, 0);
  if (minLag > 0) {
    const young = nonActiveSegmentsFrom(segments, firstDirtyOffset).find((s) => largestTimestamp(s) > now - minLag);
    if (young !== undefined) uncleanable = Math.min(uncleanable, young.baseOffset);
  }
  return { firstDirtyOffset, firstUncleanableDirtyOffset: Math.max(firstDirtyOffset, uncleanable), forceUpdateCheckpoint };
}

/**
 * Kafka's LogCleanerManager.maxCompactionDelay: how long past max.compaction.lag.ms the oldest
 * dirty record is (by the first batch timestamp of each dirty segment), 0 when none is.
 */
export function maxCompactionDelay(log: CleanableLog, firstDirtyOffset: number, now: number): number {
  const cleanUntilTime = now - Math.max(log.config.maxCompactionLagMs, 0);
  // Only positive timestamps count: with the default lag (forever) no segment is read.
  if (cleanUntilTime <= 0) return 0;
  let earliest = Infinity;
  for (const s of nonActiveSegmentsFrom(log.segments(), firstDirtyOffset)) {
    const ts = log.firstBatchTimestamp(s.baseOffset);
    if (ts > 0 && ts < earliest) earliest = ts;
  }
  return earliest < cleanUntilTime ? cleanUntilTime - earliest : 0;
}

/** Kafka's LogToClean: a compacted log with its clean and cleanable bytes. */
export interface LogToClean {
  log: CleanableLog;
  firstDirtyOffset: number;
  /** Base offset of the segment holding the first uncleanable offset: the round's end offset. */
  firstUncleanableOffset: number;
  cleanBytes: number;
  cleanableBytes: number;
  totalBytes: number;
  cleanableRatio: number;
  /** A dirty record is older than max.compaction.lag.ms. */
  needCompactionNow: boolean;
}

export function logToClean(log: CleanableLog, offsets: OffsetsToClean, compactionDelayMs: number): LogToClean {
  const segments = log.segments();
  const { firstDirtyOffset } = offsets;
  const size = (list: SegmentInfo[]): number => list.reduce((sum, s) => sum + s.sizeInBytes, 0);
  const cleanBytes = size(segmentsBetween(segments, -1, firstDirtyOffset));
  const holding = nonActiveSegmentsFrom(segments, offsets.firstUncleanableDirtyOffset).at(0) ?? segments.at(-1);
  const firstUncleanableOffset = holding?.baseOffset ?? log.logEndOffset;
  const cleanableBytes = size(segmentsBetween(segments, Math.min(firstDirtyOffset, firstUncleanableOffset), firstUncleanableOffset));
  const totalBytes = cleanBytes + cleanableBytes;
  return {
    log,
    firstDirtyOffset,
    firstUncleanableOffset,
    cleanBytes,
    cleanableBytes,
    totalBytes,
    cleanableRatio: totalBytes > 0 ? cleanableBytes / totalBytes : 0,
    needCompactionNow: compactionDelayMs > 0,
  };
}

/** Kafka's rule: cleanable when overdue (max.compaction.lag.ms) with something to clean, or dirtier than min.cleanable.dirty.ratio. */
export function isCleanable(ltc: LogToClean): boolean {
  return (ltc.needCompactionNow && ltc.cleanableBytes > 0) || ltc.cleanableRatio > ltc.log.config.minCleanableDirtyRatio;
}

export interface LogCleanerOptions {
  dataDir: string;
  /** The logs of the dir, as the log manager holds them now. */
  logs: () => Iterable<CleanableLog>;
  settings: CleanerSettings;
  logger: Logger;
  /** Wall clock, ms (tests move it). */
  now?: () => number;
  /** How long a log whose round threw is left alone (default 5 minutes). */
  uncleanableRetryMs?: number;
}

/** Totals over the rounds done since start (tests, metrics). */
export interface CleanerTotals {
  rounds: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
}

function key(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

const MB = 1024 * 1024;

/**
 * Cleans the compacted logs of one log dir: `threads` loops, each taking the dirtiest cleanable
 * log, cleaning it, checkpointing where the round ended, and pausing backoff.ms when nothing is
 * cleanable. A round that throws is logged and the log left alone for a while (Kafka marks the
 * partition uncleanable); nothing a round does stops the broker.
 */
export class LogCleaner {
  private readonly checkpoints = new Map<string, CheckpointEntry>();
  private readonly inProgress = new Set<CleanableLog>();
  /** Logs whose round threw → when they may be tried again. */
  private readonly uncleanable = new Map<CleanableLog, number>();
  private readonly threadLoops: Array<Promise<void>> = [];
  private readonly sleepers = new Set<() => void>();
  private running = false;
  private readonly now: () => number;
  private readonly path: string;
  readonly totals: CleanerTotals = { rounds: 0, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsRetained: 0 };

  constructor(private readonly options: LogCleanerOptions) {
    this.now = options.now ?? Date.now;
    this.path = join(options.dataDir, CLEANER_OFFSET_CHECKPOINT);
    this.loadCheckpoints();
  }

  /** Distinct keys a round may map (see maxMapEntries). */
  get maxMapEntries(): number {
    const s = this.options.settings;
    return maxMapEntries(s.dedupeBufferSize, s.threads, s.loadFactor);
  }

  private loadCheckpoints(): void {
    let entries: CheckpointEntry[];
    try {
      entries = readCheckpoint(this.path);
    } catch (err) {
      // Only costs a re-clean from the log start.
      this.options.logger.warn({ err, file: this.path }, 'unreadable cleaner checkpoint ignored');
      entries = [];
    }
    for (const e of entries) this.checkpoints.set(key(e.topic, e.partition), e);
  }

  /** The checkpointed first dirty offset of a partition (undefined: never cleaned). */
  checkpointOf(topic: string, partition: number): number | undefined {
    return this.checkpoints.get(key(topic, partition))?.offset;
  }

  private setCheckpoint(log: CleanableLog, offset: number): void {
    this.checkpoints.set(key(log.topic, log.partition), { topic: log.topic, partition: log.partition, offset });
    this.writeCheckpoints();
  }

  private writeCheckpoints(): void {
    try {
      writeCheckpoint(this.path, [...this.checkpoints.values()]);
    } catch (err) {
      // The next round writes it again; a stale checkpoint only means cleaning some bytes twice.
      this.options.logger.error({ err, file: this.path }, 'writing the cleaner checkpoint failed');
    }
  }

  /** A partition's log was deleted: its checkpoint goes (a round in progress is ignored when it ends). */
  forget(topic: string, partition: number): void {
    if (this.checkpoints.delete(key(topic, partition))) this.writeCheckpoints();
  }

  /** Kafka's maybeTruncateCheckpoint: a log truncated below its checkpoint is dirty from there. */
  truncated(log: CleanableLog, offset: number): void {
    const current = this.checkpointOf(log.topic, log.partition);
    if (current !== undefined && current > offset) this.setCheckpoint(log, offset);
  }

  private isCurrent(log: CleanableLog): boolean {
    for (const l of this.options.logs()) if (l === log) return true;
    return false;
  }

  /**
   * Kafka's grabFilthiestCompactedLog: among the compacted logs not being cleaned and not marked
   * uncleanable, the one with the largest cleanable ratio among those cleanable; marked in
   * progress. Checkpoints found out of range are reset on the way.
   */
  grabFilthiestLog(now = this.now()): LogToClean | null {
    let best: LogToClean | null = null;
    for (const log of this.options.logs()) {
      if (!log.config.cleanupPolicy.includes('compact') || !log.isAvailable() || this.inProgress.has(log)) continue;
      const until = this.uncleanable.get(log);
      if (until !== undefined) {
        if (now < until) continue;
        this.uncleanable.delete(log);
      }
      let ltc: LogToClean;
      try {
        const offsets = cleanableOffsets(log, this.checkpointOf(log.topic, log.partition), now);
        if (offsets.forceUpdateCheckpoint) this.setCheckpoint(log, offsets.firstDirtyOffset);
        ltc = logToClean(log, offsets, maxCompactionDelay(log, offsets.firstDirtyOffset, now));
      } catch (err) {
        // A log closed or reopened meanwhile (its calls throw): it is looked at again next time.
        this.options.logger.debug({ err, topic: log.topic, partition: log.partition }, 'log not available to the cleaner');
        continue;
      }
      if (ltc.totalBytes <= 0 || !isCleanable(ltc)) continue;
      if (best === null || ltc.cleanableRatio > best.cleanableRatio) best = ltc;
    }
    if (best !== null) this.inProgress.add(best.log);
    return best;
  }

  /** Grabs the filthiest log and cleans it; false when no log was cleanable. */
  async cleanFilthiestLog(threadId = 0): Promise<boolean> {
    const ltc = this.grabFilthiestLog();
    if (ltc === null) return false;
    await this.cleanLog(ltc, threadId);
    return true;
  }

  private async cleanLog(ltc: LogToClean, threadId: number): Promise<void> {
    const { log } = ltc;
    const name = key(log.topic, log.partition);
    const settings = this.options.settings;
    const started = this.now();
    const wallStart = performance.now();
    try {
      const result = await log.clean({
        firstDirtyOffset: ltc.firstDirtyOffset,
        endOffset: ltc.firstUncleanableOffset,
        now: started,
        deleteRetentionMs: log.config.deleteRetentionMs,
        maxMapEntries: this.maxMapEntries,
        segmentBytes: log.config.segmentBytes,
        // One budget for all threads, as Kafka's shared throttler: each round gets its share.
        ioMaxBytesPerSecond: settings.ioMaxBytesPerSecond / Math.max(1, settings.threads),
      });
      if (!this.isCurrent(log)) return;
      if (result.abandoned) {
        this.options.logger.info({ topic: log.topic, partition: log.partition }, `Cleaning of log ${name} abandoned: a segment changed under the round`);
        return;
      }
      this.setCheckpoint(log, result.cleanedUpTo);
      this.recordStats(threadId, log, ltc, result, (performance.now() - wallStart) / 1000);
    } catch (err) {
      if (!this.isCurrent(log) || !log.isAvailable()) {
        this.options.logger.info({ topic: log.topic, partition: log.partition }, `Cleaning of log ${name} aborted: the log was closed or deleted`);
        return;
      }
      this.uncleanable.set(log, this.now() + (this.options.uncleanableRetryMs ?? DEFAULT_UNCLEANABLE_RETRY_MS));
      this.options.logger.error({ err, topic: log.topic, partition: log.partition }, `Unexpected exception thrown when cleaning log ${name}. Marking its partition (${name}) as uncleanable`);
    } finally {
      this.inProgress.delete(log);
    }
  }

  /** Kafka's per-round summary (LogCleaner.recordStats), as one info line with the numbers as fields. */
  private recordStats(threadId: number, log: CleanableLog, ltc: LogToClean, r: CleanResult, elapsedSecs: number): void {
    const t = this.totals;
    t.rounds++;
    t.bytesRead += r.bytesRead;
    t.bytesWritten += r.bytesWritten;
    t.recordsRead += r.recordsRead;
    t.recordsRetained += r.recordsRetained;
    const secs = Math.max(elapsedSecs, 1e-6);
    const mbRead = r.bytesRead / MB;
    const sizeReduction = r.bytesRead > 0 ? (100 * (r.bytesRead - r.bytesWritten)) / r.bytesRead : 0;
    const fewer = r.recordsRead > 0 ? (100 * (r.recordsRead - r.recordsRetained)) / r.recordsRead : 0;
    const lines = [
      `Log cleaner thread ${threadId} cleaned log ${key(log.topic, log.partition)} (dirty section = [${ltc.firstDirtyOffset}, ${r.cleanedUpTo}])`,
      `${mbRead.toFixed(1)} MB of log processed in ${secs.toFixed(1)} seconds (${(mbRead / secs).toFixed(1)} MB/sec).`,
      `Start size: ${mbRead.toFixed(1)} MB (${r.recordsRead} messages)`,
      `End size: ${(r.bytesWritten / MB).toFixed(1)} MB (${r.recordsRetained} messages)`,
      `${sizeReduction.toFixed(1)}% size reduction (${fewer.toFixed(1)}% fewer messages)`,
    ];
    this.options.logger.info(
      {
        topic: log.topic,
        partition: log.partition,
        threadId,
        firstDirtyOffset: ltc.firstDirtyOffset,
        cleanedUpTo: r.cleanedUpTo,
        bytesRead: r.bytesRead,
        bytesWritten: r.bytesWritten,
        recordsRead: r.recordsRead,
        recordsRetained: r.recordsRetained,
        durationMs: Math.round(elapsedSecs * 1000),
        mbPerSec: Number((mbRead / secs).toFixed(3)),
        segments: r.groups.length,
      },
      lines.join('\n\t'),
    );
  }

  /** Starts the threads (none when log.cleaner.threads is 0). */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (let id = 0; id < this.options.settings.threads; id++) this.threadLoops.push(this.runThread(id));
  }

  private async runThread(id: number): Promise<void> {
    // Bounded by `running`: every pass cleans one log or sleeps backoff.ms.
    while (this.running) {
      let cleaned = false;
      try {
        cleaned = await this.cleanFilthiestLog(id);
      } catch (err) {
        this.options.logger.error({ err, threadId: id }, 'log cleaner pass failed');
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() clears it while the round runs
      if (!cleaned && this.running) await this.sleep(this.options.settings.backoffMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(Math.max(0, ms), INT_MAX));
      timer.unref();
      this.sleepers.add(wake);
    });
  }

  /** Stops the threads, waiting for the rounds in progress; writes the checkpoint. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all(this.threadLoops.splice(0));
    this.writeCheckpoints();
  }
}
