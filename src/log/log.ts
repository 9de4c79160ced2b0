// log/ room: one partition's Log — the engine's PartitionLog plus topic config, append listeners
// (fetch long polls), flush policy and retention. High watermark = log end offset: one broker.
import { readSync } from 'node:fs';
import type { TopicConfig } from '../config/index.js';
import type {
  AppendOptions,
  AppendResult,
  FileSlice,
  LogConfig,
  PartitionLog,
  SegmentInfo,
  StorageEngine,
  TimestampAndOffset,
} from '../storage/engine.js';
import { LogError, LogErrorCode } from './errors.js';

export function toLogConfig(config: TopicConfig): LogConfig {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    indexIntervalBytes: config.indexIntervalBytes,
    maxIndexSize: config.segmentIndexBytes,
    maxMessageBytes: config.maxMessageBytes,
    messageTimestampType: config.messageTimestampType,
    fileDeleteDelayMs: config.fileDeleteDelayMs,
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
    a.fileDeleteDelayMs !== b.fileDeleteDelayMs
  );
}

export type FlushErrorHandler = (err: Error, log: Log) => void;

/** An idempotent producer's recent batch on this partition (Kafka keeps the last 5). */
export interface ProducerBatchMetadata {
  firstSequence: number;
  lastSequence: number;
  firstOffset: number;
  lastOffset: number;
}

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the max.in.flight a producer may use. */
const BATCHES_PER_PRODUCER = 5;
/** Bound on tracked producers per partition; the least recently written are forgotten first. */
const MAX_TRACKED_PRODUCERS = 10000;

export class Log {
  private partitionLog: PartitionLog | null;
  private reopening: Promise<void> | null = null;
  private readonly appendListeners = new Set<() => void>();
  private messagesSinceFlush = 0;
  private lastFlushMs = Date.now();
  private flushing: Promise<void> | null = null;
  /** producerId → epoch and recent batches, for duplicate detection on retries (in memory only). */
  private readonly producers = new Map<number, { epoch: number; batches: ProducerBatchMetadata[] }>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    partitionLog: PartitionLog,
    public config: TopicConfig,
    private readonly onFlushError: FlushErrorHandler,
  ) {
    this.partitionLog = partitionLog;
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
  /** Single broker: everything appended is replicated to the whole ISR (itself). */
  get highWatermark(): number {
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

  private current(): PartitionLog {
    if (this.partitionLog === null) {
      throw new LogError(LogErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.topic}-${this.partition} is being reopened or is closed`);
    }
    return this.partitionLog;
  }

  /** Appends batches (throws StorageError for invalid ones) and wakes fetches waiting for data. */
  append(batches: Buffer, options?: AppendOptions): AppendResult {
    const result = this.current().append(batches, options);
    this.messagesSinceFlush += result.lastOffset - result.firstOffset + 1;
    for (const b of result.batches) {
      if (b.producerId < 0 || b.baseSequence < 0) continue;
      let entry = this.producers.get(b.producerId);
      if (entry === undefined || entry.epoch !== b.producerEpoch) entry = { epoch: b.producerEpoch, batches: [] };
      this.producers.delete(b.producerId); // re-insert: Map order = least recently written first
      this.producers.set(b.producerId, entry);
      entry.batches.push({ firstSequence: b.baseSequence, lastSequence: b.baseSequence + b.recordCount - 1, firstOffset: b.baseOffset, lastOffset: b.lastOffset });
      if (entry.batches.length > BATCHES_PER_PRODUCER) entry.batches.shift();
      if (this.producers.size > MAX_TRACKED_PRODUCERS) this.producers.delete(this.producers.keys().next().value as number);
    }
    this.maybeFlush();
    for (const listener of this.appendListeners) listener();
    return result;
  }

  /**
   * A retried idempotent batch that was already written: its original offsets, so the broker can
   * acknowledge it again without writing it twice (Kafka's duplicate detection).
   */
  findDuplicate(producerId: number, producerEpoch: number, firstSequence: number, lastSequence: number): ProducerBatchMetadata | null {
    const entry = this.producers.get(producerId);
    if (entry === undefined || entry.epoch !== producerEpoch) return null;
    return entry.batches.find((b) => b.firstSequence === firstSequence && b.lastSequence === lastSequence) ?? null;
  }

  /** Registers a callback run after each append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  read(offset: number, maxBytes: number, maxOffset?: number): FileSlice {
    return this.current().read(offset, maxBytes, maxOffset);
  }

  /** Reads whole batches from `offset` into memory (internal topics, tests); empty at the end. */
  readBytes(offset: number, maxBytes: number): Buffer {
    const slice = this.read(offset, maxBytes);
    const buf = Buffer.allocUnsafe(slice.length);
    let done = 0;
    // Bounded: each readSync returns > 0 bytes or we stop.
    while (done < slice.length) {
      const n = readSync(slice.fd, buf, done, slice.length - done, slice.position + done);
      if (n <= 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  }

  offsetForTimestamp(timestamp: number): TimestampAndOffset | null {
    return this.current().offsetForTimestamp(timestamp);
  }

  maxTimestampAndOffset(): TimestampAndOffset | null {
    return this.current().maxTimestampAndOffset();
  }

  segments(): SegmentInfo[] {
    return this.current().segments();
  }

  deleteSegmentsBefore(offset: number): number {
    return this.current().deleteSegmentsBefore(offset);
  }

  flush(): Promise<void> {
    this.messagesSinceFlush = 0;
    this.lastFlushMs = Date.now();
    return this.current().flush();
  }

  /** flush.messages / flush.ms: Kafka leaves fsync to the OS unless a topic asks for it. */
  private maybeFlush(): void {
    const dueByCount = this.messagesSinceFlush >= this.config.flushMessages;
    const dueByTime = this.config.flushMs !== null && Date.now() - this.lastFlushMs >= this.config.flushMs;
    if ((dueByCount || dueByTime) && this.flushing === null) {
      this.flushing = this.flush()
        .catch((err: Error) => this.onFlushError(err, this))
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
    if (!storageConfigChanged(old, config)) return;
    await this.ready();
    const pl = this.current();
    const logStartOffset = pl.logStartOffset;
    this.partitionLog = null;
    this.reopening = (async () => {
      try {
        await pl.close();
        this.partitionLog = await engine.openLog(pl.dir, toLogConfig(config), { logStartOffset });
      } finally {
        this.reopening = null;
      }
    })();
    await this.reopening;
  }

  async close(): Promise<void> {
    await this.ready();
    const pl = this.partitionLog;
    this.partitionLog = null;
    this.appendListeners.clear();
    if (pl) {
      try {
        await pl.flush();
      } finally {
        // Always release the files, even when the final fsync failed.
        await pl.close();
      }
    }
  }
}
