// log/ room: one partition's Log — the engine's PartitionLog plus topic config, flush policy and
// retention. Replication state (high watermark, leader epoch, producer state) lives in
// replication/Partition, above it.
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
import { ErrorCode, KafkaError, assert } from '../errors.js';

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

export class Log {
  private partitionLog: PartitionLog | null;
  private reopening: Promise<void> | null = null;
  private messagesSinceFlush = 0;
  private lastFlushMs = Date.now();
  private flushing: Promise<void> | null = null;

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
    const result = pl.append(batches, options);
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
    const result = this.current().appendAsFollower(batches);
    this.messagesSinceFlush += result.lastOffset - result.firstOffset + 1;
    this.maybeFlush();
    return result;
  }

  /** Removes every batch at or after `offset` (a follower diverged from its leader). */
  truncateTo(offset: number): void {
    this.current().truncateTo(offset);
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
