// storage/ room: the one interface both storage engines implement (native Rust addon, pure TS).
// Nothing here knows about the protocol; `log/` is the only caller.
//
// Offsets, timestamps and producer ids are JS numbers: Kafka's int64s stay below 2^53 in practice
// and every caller would otherwise pay for BigInt arithmetic.
import { readFileSync } from 'node:fs';
import { KafkaError, type ErrorContext } from '../errors.js';

/** Kafka error codes the storage layer can produce. */
export const StorageErrorCode = {
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
  KAFKA_STORAGE_ERROR: 56,
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/**
 * A KafkaError raised by an engine (its code is one of StorageErrorCode). When an append is
 * refused because of one batch, `context.batchPosition` is that batch's byte position in the
 * appended buffer; when one record is at fault, `context.recordIndex` is its index inside the
 * batch (what a Produce response's record error calls batchIndex), and the message names it too.
 */
export class StorageError extends KafkaError {
  constructor(code: StorageErrorCode, message: string, context?: ErrorContext) {
    super(code, message, context);
    this.name = 'StorageError';
  }
}

/** Compression codec ids, as in bits 0-2 of a v2 batch's attributes. */
export const Codec = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];

export interface LogConfig {
  /** segment.bytes (log.segment.bytes), default 1 GiB. */
  segmentBytes: number;
  /** segment.ms (log.roll.ms), default 7 days. */
  segmentMs: number;
  /** index.interval.bytes (log.index.interval.bytes), default 4096. */
  indexIntervalBytes: number;
  /** segment.index.bytes (log.index.size.max.bytes), default 10 MiB; both index files. */
  maxIndexSize: number;
  /** max.message.bytes (message.max.bytes), default 1048588; compared with each batch's size. */
  maxMessageBytes: number;
  /** message.timestamp.type. */
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  /**
   * file.delete.delay.ms (log.segment.delete.delay.ms), default 60000: how long a segment dropped
   * by deleteSegmentsBefore or truncateTo keeps its files (renamed `*.deleted`) and fds open,
   * so FileSlices handed out before stay readable.
   */
  fileDeleteDelayMs: number;
  /**
   * cleanup.policy contains compact: a record without a key is refused with INVALID_RECORD
   * ("Compacted topic cannot accept message without key"). Default false.
   */
  compacted?: boolean;
  /**
   * message.timestamp.before.max.ms / message.timestamp.after.max.ms: on a leader append to a
   * CreateTime log, a record whose timestamp is further before / after `now` is refused with
   * INVALID_TIMESTAMP. Default unlimited.
   */
  messageTimestampBeforeMaxMs?: number;
  messageTimestampAfterMaxMs?: number;
}

/**
 * Bound on what the records of one compressed batch may decompress to, in both engines: 64 times
 * the batch's size, at least 16 MiB (small batches of repetitive records are legitimate), at most
 * 512 MiB. A batch past it is refused with INVALID_RECORD, before more is decompressed.
 */
export const DECOMPRESSION_RATIO_LIMIT = 64;
export const MIN_DECOMPRESSED_LIMIT = 16 * 1024 * 1024;
export const MAX_DECOMPRESSED_LIMIT = 512 * 1024 * 1024;

export function maxDecompressedBytes(batchSize: number): number {
  return Math.min(MAX_DECOMPRESSED_LIMIT, Math.max(MIN_DECOMPRESSED_LIMIT, batchSize * DECOMPRESSION_RATIO_LIMIT));
}

export const defaultLogConfig: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  maxIndexSize: 10 * 1024 * 1024,
  maxMessageBytes: 1048588,
  messageTimestampType: 'CreateTime',
  fileDeleteDelayMs: 60000,
};

export interface AppendOptions {
  /** Wall-clock ms used for LogAppendTime and segment.ms. Defaults to Date.now(). */
  now?: number;
  /** Written into each batch's partitionLeaderEpoch field. Defaults to 0. */
  leaderEpoch?: number;
}

/** What JS learns about one appended batch: never the records themselves. */
export interface BatchSummary {
  baseOffset: number;
  lastOffset: number;
  /** Batch maxTimestamp after LogAppendTime rewriting. */
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  isTransactional: boolean;
  isControl: boolean;
  /** Total bytes of the batch, header included. */
  sizeInBytes: number;
}

export interface AppendResult {
  batches: BatchSummary[];
  firstOffset: number;
  lastOffset: number;
  /** Max timestamp over the appended batches. */
  maxTimestamp: number;
  /** -1 unless the log uses LogAppendTime, then the time written into the batches. */
  logAppendTime: number;
  /** Log end offset after the append. */
  logEndOffset: number;
}

/**
 * A byte range of a segment file. A sealed segment's .log is opened on demand and closed again
 * when idle (spool.log.max.open.segment.files bounds how many stay open), so a slice holds a
 * lease on its fd: the fd stays open (and its number is not reused) until `release()` is called,
 * however long that takes, also when the segment is deleted (retention, truncation, topic
 * deletion: the fd closes at the last release). A lease still held `max(fileDeleteDelayMs, 10 s)`
 * after read() returned is reported as a leak (a warning, segmentLeases().expired). Whoever consumes a
 * slice (the network layer after sending it, a reader after readSync) calls release() once done;
 * calling it again is harmless. The bytes are those of the segment when read() returned, except
 * that truncateTo inside the segment itself cuts them. `length` 0 means nothing to read at that
 * offset (yet); such a slice holds nothing.
 */
export interface FileSlice {
  fd: number;
  position: number;
  length: number;
  /** Ends the lease on `fd` (absent: nothing to release). */
  release?: () => void;
}

/**
 * StorageEngine.sendFile. `now`, where present, sends a whole response from the calling thread
 * without waiting (a non-blocking socket): `buffers[0]`, the slice `slices[0..3]` (fd, position,
 * length), `buffers[1]`, ... (one more buffer than slices). It returns the bytes sent, fewer when
 * the socket was full; the caller sends the rest (sendFile itself for file data). `readNow`,
 * where present, reads up to 1 MiB of a file from the page cache only (null when some of it is
 * not cached, or when the system cannot read without waiting), without waiting for the disk: a
 * caller whose socket is full (`nowStoppedFull`) writes a little of it through the socket stream
 * to learn, on the event loop, when the socket takes data again.
 */
export type SendFile = ((socketFd: number, slice: FileSlice) => Promise<number>) & {
  now?: (socketFd: number, buffers: Buffer[], slices: number[]) => number;
  readNow?: (fd: number, position: number, length: number) => Buffer | null;
  /** Whether the last `now` stopped at a full socket (EAGAIN), rather than at file data not known to be cached. */
  nowStoppedFull?: () => boolean;
};

/** Default of spool.log.max.open.segment.files (both engines). */
export const DEFAULT_MAX_OPEN_SEGMENT_FILES = 1024;

/**
 * The bound both engines apply for spool.log.max.open.segment.files = `configured`: never more
 * than a quarter of the process's soft open-file limit (RLIMIT_NOFILE, read from
 * /proc/self/limits where there is one), so sealed segments alone can never exhaust it, whatever
 * the configuration says. At least 1.
 */
export function effectiveMaxOpenSegmentFiles(configured: number, limitsText?: string): number {
  let bound = Math.max(1, Math.floor(configured));
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      text = '';
    }
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text);
  if (soft !== null) bound = Math.min(bound, Math.max(1, Math.floor(Number(soft[1]) / 4)));
  return bound;
}

export interface SegmentInfo {
  baseOffset: number;
  sizeInBytes: number;
  /** Largest batch maxTimestamp in the segment, -1 when empty. */
  maxTimestamp: number;
  /** mtime of the .log file, ms. */
  lastModifiedMs: number;
}

export interface TimestampAndOffset {
  timestamp: number;
  offset: number;
}

/** One partition's log: a directory of segments. All sync methods stay in the page cache. */
export interface PartitionLog {
  readonly dir: string;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Bytes dropped from a torn or corrupt tail when the log was opened. */
  readonly recoveredBytesTruncated: number;

  /**
   * Validates every batch in `batches` (concatenated v2 record batches, as in a Produce request)
   * and every record in them (docs/storage-format.md, "Append" step 1), assigns offsets in place,
   * and writes them. Throws StorageError and writes nothing when any batch is invalid. `batches`
   * is modified in place (offsets, leader epoch, LogAppendTime).
   */
  append(batches: Buffer, options?: AppendOptions): AppendResult;

  /**
   * Appends batches that already carry their offsets (replication followers, recovery tools).
   * Validates like append (records must be well formed; the compacted-key and timestamp rules,
   * which the leader applied, are not checked again) but keeps baseOffset; the first batch must
   * start at logEndOffset.
   */
  appendAsFollower(batches: Buffer): AppendResult;

  /**
   * The slice starting at the batch that contains `offset`, holding whole batches only: at least
   * one batch even when it is larger than maxBytes, then more while the total stays <= maxBytes
   * and a batch's baseOffset < maxOffset. Stays within one segment. Throws OFFSET_OUT_OF_RANGE
   * when offset < logStartOffset or offset > logEndOffset.
   */
  read(offset: number, maxBytes: number, maxOffset?: number): FileSlice;

  /** First offset whose record timestamp >= `timestamp`, with that record's timestamp; null if none. */
  offsetForTimestamp(timestamp: number): TimestampAndOffset | null;

  /**
   * offsetForTimestamp without holding the event loop for long: the native engine reads and
   * decompresses on the libuv pool; the TS engine yields to the event loop between batches and
   * decompresses each batch within the decompressed-size limit (maxDecompressedBytes). The
   * answer is the same as offsetForTimestamp's. ListOffsets uses this one.
   */
  offsetForTimestampAsync(timestamp: number): Promise<TimestampAndOffset | null>;

  /** Offset and timestamp of the record with the largest timestamp (ListOffsets -3); null if empty. */
  maxTimestampAndOffset(): TimestampAndOffset | null;

  segments(): SegmentInfo[];

  /** Removes every batch at or after `offset`. Whole segments removed are deleted as below. */
  truncateTo(offset: number): void;

  /**
   * Deletes whole segments whose every offset is < `offset` (never the active segment) and
   * raises logStartOffset to `offset` (capped at logEndOffset). Returns the segments deleted.
   * Their files are renamed `*.deleted` at once and removed, fds closed, `fileDeleteDelayMs`
   * later (on a later call) or at close().
   */
  deleteSegmentsBefore(offset: number): number;

  /** Starts a new segment at logEndOffset, unless the active one is empty. */
  roll(): void;

  /** One compaction round (see CleanOptions). Rejects if another round of this log is running. */
  clean(options: CleanOptions): Promise<CleanResult>;

  /** fsyncs everything written so far. Concurrent callers share one fsync (group commit). */
  flush(): Promise<void>;

  /** Also closes and removes every deleted segment still waiting out its delay. */
  close(): Promise<void>;

  /**
   * The topic was deleted and its directory is about to be renamed away: the log's paths may
   * then name a recreated topic's files. From this call on the log does nothing by path (no
   * index write, trim, seal, roll, fsync or removal); changes (append, roll, truncation,
   * retention, cleaning) fail with KAFKA_STORAGE_ERROR; reads through fds already open keep
   * working; flush() does nothing; close() only closes fds.
   */
  markDeleted(): void;
}

/** An aborted transaction, as the log's `.txnindex` files record it (offsets inclusive). */
export interface CleanAbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

/**
 * One compaction round of a log (Kafka's Cleaner.doClean), decided by the log layer (log/cleaner.ts)
 * and done by the engine. Semantics are Kafka 4.x's (storage module, org.apache.kafka.storage
 * .internals.log.Cleaner, MemoryRecords.filterTo, DefaultRecordBatch):
 *
 * 1. Offset map: scan the dirty range [firstDirtyOffset, endOffset) segment by segment and map
 *    each record key to its largest offset (control batches and aborted transactional records
 *    excluded, as Kafka). At most `maxMapEntries` distinct keys: when the next whole segment would
 *    not fit, the map stops at that segment's base offset (Kafka's "offset map full"); the first
 *    dirty segment is always mapped whole. `cleanedUpTo` is where the map ended.
 * 2. Clean every segment whose offsets are all < cleanedUpTo (from the log start, clean segments
 *    included), in groups of consecutive segments whose total size stays <= segmentBytes and
 *    whose offset span fits a 32-bit relative offset (Kafka's groupSegmentsBySize). Each group is
 *    written to one new segment with the first segment's base offset. A record is kept when it
 *    has a key, its offset >= the map's offset for that key (or the key is not in the map), it
 *    is not part of an aborted transaction, and, for a tombstone (null value), the batch has no
 *    delete horizon yet or `now` < that horizon. A batch whose records all stay and that needs no
 *    new delete horizon is copied byte for byte; otherwise it is rebuilt as Kafka's filterTo does
 *    (same base offset, original last offset kept, producer id/epoch/base sequence, transactional
 *    and control flags, partition leader epoch, codec and timestamp type kept; first timestamp,
 *    max timestamp and CRC recomputed; a batch holding tombstones or a control record gets
 *    deleteHorizonMs = now + deleteRetentionMs, attribute bit 0x40, as KIP-534). Control batches
 *    (transaction markers) are dropped only after their delete horizon and when Kafka would
 *    (commit markers once no data of the transaction remains unseen, abort markers once the
 *    transaction's data is gone). A batch left with no records is dropped, except when it is the
 *    last batch of a producer (`producerLastOffsets[producerId] === batch lastOffset`): then its
 *    header is kept as an empty batch, as Kafka keeps it for the producer state.
 * 3. Crash safety as Kafka: the new segment is written as `<base>.log.cleaned` (+ its offset and
 *    time indexes), fsynced, renamed to `.swap`, the old segments are replaced (renamed
 *    `.deleted`, closed and removed after fileDeleteDelayMs like other deleted segments), and
 *    the `.swap` files are renamed to their final names. openLog deletes `*.cleaned` files and
 *    completes a swap it finds (removing the segments the `.swap` segment replaces), so a kill -9
 *    at any point loses nothing and leaves no duplicate offsets.
 * 4. Appends, reads and flushes go on while a round runs (the native engine works on a worker
 *    thread; the TS engine yields to the event loop between batches). If a segment of the round
 *    was deleted or truncated meanwhile (retention, DeleteRecords, follower truncation), the
 *    round is abandoned: its `.cleaned` files are deleted and the result says `abandoned`.
 *
 * For uncompressed batches both engines write byte-identical segments; for compressed batches
 * the records are identical (the codecs' compressed bytes may differ between implementations).
 */
export interface CleanOptions {
  /** The cleaner checkpoint: offsets below it are clean. At least logStartOffset. */
  firstDirtyOffset: number;
  /** First uncleanable offset: <= the active segment's base offset (and the LSO, and the
   *  min.compaction.lag bound); a segment containing it is not cleaned. */
  endOffset: number;
  /** Wall clock (ms) for delete horizons. */
  now: number;
  /** delete.retention.ms. */
  deleteRetentionMs: number;
  /** Distinct keys the offset map may hold (log.cleaner.dedupe.buffer.size / threads / 24 * 0.9). */
  maxMapEntries: number;
  /** Maximum bytes of one cleaned segment (segment.bytes). */
  segmentBytes: number;
  /** log.cleaner.io.max.bytes.per.second (read + written); Infinity = unthrottled. */
  ioMaxBytesPerSecond: number;
  /** Aborted transactions overlapping [logStartOffset, endOffset), ascending by firstOffset. */
  abortedTxns: CleanAbortedTxn[];
  /** Producer id -> last offset of that producer's last batch in the log (its producer state). */
  producerLastOffsets: Array<[number, number]>;
}

export interface CleanResult {
  /** The next cleaner checkpoint: where the offset map ended (<= endOffset). */
  cleanedUpTo: number;
  /** The round found a segment changed under it and wrote nothing. */
  abandoned: boolean;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
  /** Each new segment and the base offsets of the segments it replaced (in order). */
  groups: Array<{ baseOffset: number; replaced: number[]; sizeInBytes: number }>;
}

export interface OpenOptions {
  /** From log-start-offset-checkpoint; defaults to the first segment's base offset. */
  logStartOffset?: number;
  /**
   * From recovery-point-offset-checkpoint (Kafka's recovery point): every offset below it was
   * fsynced before the last shutdown. After an unclean shutdown (hadCleanShutdown not true),
   * every segment from the one containing it to the end is CRC-checked and the log is cut at
   * the first invalid batch (the segments after it deleted); the bytes and batches dropped are
   * logged in one line. Absent: only the active segment is checked (as before recovery points).
   */
  recoveryPoint?: number;
  /**
   * The log dir's `.kafka_cleanshutdown` marker was there: the logs are trusted, nothing is
   * truncated (a damaged batch found later is refused on read with CORRUPT_MESSAGE instead);
   * only the active segment's indexes are rebuilt. recoveryPoint is then ignored.
   */
  hadCleanShutdown?: boolean;
}

export interface StorageEngine {
  readonly name: 'native' | 'ts';
  /** Opens (creating if needed) a partition directory, recovering its tail. */
  openLog(dir: string, config: LogConfig, options?: OpenOptions): Promise<PartitionLog>;
  compress(codec: Codec, data: Buffer): Buffer;
  decompress(codec: Codec, data: Buffer): Buffer;
  crc32c(data: Buffer): number;
  /**
   * Sends a file slice to a socket fd with sendfile(2) (read+write where it does not exist).
   * Handles a non-blocking fd: waits for writability off the event loop. Native engine only.
   * A plain function (no `this`), so it can be handed on by itself.
   */
  sendFile?: SendFile;
  /**
   * spool.log.max.open.segment.files: how many .log handles of sealed segments may be open at
   * once, process-wide (at least 1). Past it the least recently used ones that no FileSlice
   * holds are closed; active segments are not counted.
   */
  setMaxOpenSegmentFiles(limit: number): void;
  /** Open .log handles of sealed segments right now. */
  openSegmentFiles(): number;
  /**
   * FileSlice leases not released yet (`held`, process-wide) and leak alarms so far (`expired`:
   * segments found holding a lease past its expiry; the fd stays open all the same).
   */
  segmentLeases(): { held: number; expired: number };
}
