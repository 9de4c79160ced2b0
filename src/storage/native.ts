// storage/ room: the native (Rust, napi-rs) engine behind the StorageEngine interface. The addon
// does validation, offsets, indexes, codecs and sendfile; this file only adapts types, turns
// "SPOOL_E<code>[context]: message" addon errors into StorageError, and does group commit for flush.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  StorageError,
  StorageErrorCode,
  DEFAULT_MAX_OPEN_SEGMENT_FILES,
  effectiveMaxOpenSegmentFiles,
  type AppendOptions,
  type AppendResult,
  type CleanOptions,
  type CleanResult,
  type BatchSummary,
  type Codec,
  type FileSlice,
  type SendFile,
  type LogConfig,
  type OpenOptions,
  type PartitionLog,
  type SegmentInfo,
  type StorageEngine,
  type TimestampAndOffset,
} from './engine.js';
import type { ErrorContext } from '../errors.js';
import { defaultStorageLogger, type StorageLogger } from './logger.js';

/** The addon's exports, as generated in native/index.d.ts (kept here: native/ is outside tsc). */
interface NativeLogHandle {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly recoveredBytesTruncated: number;
  readonly recoveredBatchesTruncated: number;
  append(batches: Buffer, now: number, leaderEpoch: number): Float64Array;
  appendAsFollower(batches: Buffer, now: number): Float64Array;
  /**
   * append / appendAsFollower with the packed result written into `out` when it fits (the count
   * of fields written) or else returned as a new array; absent from addons built before them.
   */
  appendInto?: (batches: Buffer, now: number, leaderEpoch: number, out: Float64Array) => number | Float64Array;
  appendAsFollowerInto?: (batches: Buffer, now: number, out: Float64Array) => number | Float64Array;
  read(offset: number, maxBytes: number, maxOffset: number): NativeFileSlice;
  releaseSlice(lease: number): void;
  offsetForTimestamp(timestamp: number): number[] | null;
  /** Reads and decompresses on the libuv pool. */
  offsetForTimestampAsync(timestamp: number): Promise<number[] | null>;
  maxTimestampAndOffset(): number[] | null;
  segments(): SegmentInfo[];
  truncateTo(offset: number): void;
  deleteSegmentsBefore(offset: number): number;
  roll(): void;
  /** Snapshot + byte work on the libuv pool; cleanFinish then swaps (or abandons) the round. */
  cleanStart(options: NativeCleanOptions): Promise<void>;
  cleanFinish(): CleanResult;
  cancelClean(): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  markDeleted(): void;
}

/** A FileSlice as the addon returns it: `lease` 0 holds nothing. */
interface NativeFileSlice {
  fd: number;
  position: number;
  length: number;
  lease: number;
}

/** CleanOptions as the addon takes them (napi has no tuples). */
interface NativeCleanOptions extends Omit<CleanOptions, 'producerLastOffsets'> {
  producerLastOffsets: number[][];
}

interface NativeBinding {
  openLog(
    dir: string,
    config: LogConfig,
    logStartOffset?: number | null,
    recoveryPoint?: number | null,
    hadCleanShutdown?: boolean | null,
  ): Promise<NativeLogHandle>;
  compress(codec: number, data: Buffer): Buffer;
  decompress(codec: number, data: Buffer): Buffer;
  crc32c(data: Buffer): number;
  hasSendFile(): boolean;
  setMaxOpenSegmentFiles(limit: number): void;
  openSegmentFiles(): number;
  /** [held, expired] FileSlice leases (absent from addons built before it existed). */
  segmentLeases?: () => number[];
  /** A plain module function (no `this`), absent from builds without sendfile support. */
  sendFile?: (socketFd: number, fd: number, position: number, length: number) => Promise<number>;
  /** Absent from builds without sendfile support (and from addons built before it existed). */
  sendNow?: (socketFd: number, buffers: Buffer[], slices: number[]) => number;
  /** Page-cache bytes or null (absent from addons built before it existed). */
  readNow?: (fd: number, position: number, length: number) => Buffer | null;
  /** Whether the last sendNow stopped at a full socket (absent from addons built before it existed). */
  sendNowStoppedFull?: () => boolean;
}

// Layout of the Float64Array the addon returns from append (native/src/lib.rs `pack`).
const HEADER_FIELDS = 5;
const BATCH_FIELDS = 9;
const FLAG_TRANSACTIONAL = 1;
const FLAG_CONTROL = 2;

const ERROR_PATTERN = /^SPOOL_E(\d+)(\[[^\]]*\]|): ([\s\S]*)$/;
const KNOWN_CODES = new Set<number>(Object.values(StorageErrorCode));
/** Context keys the addon may put between brackets (native/src/lib.rs `to_napi`), all numbers. */
const CONTEXT_KEYS = new Set(['batchPosition', 'recordIndex']);

/** Rethrows an addon error as the StorageError it encodes; other errors pass unchanged. */
function convertError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const m = ERROR_PATTERN.exec(err.message);
  if (m === null) return err;
  const code = Number(m[1]);
  if (!KNOWN_CODES.has(code)) return err;
  const context: ErrorContext = {};
  // "[key=value,...]", or "" when the addon gave no context.
  for (const pair of m[2] === '' ? [] : m[2].slice(1, -1).split(',')) {
    const [key, value] = pair.split('=');
    if (CONTEXT_KEYS.has(key)) context[key] = Number(value);
  }
  return new StorageError(code as StorageErrorCode, m[3], context);
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw convertError(err);
  }
}

async function callAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw convertError(err);
  }
}

/**
 * The reusable array appendInto writes results into: room for 64 batches per append (a produce
 * request's partition rarely holds more than one; more take the addon's allocating path).
 */
const scratch = new Float64Array(HEADER_FIELDS + 64 * BATCH_FIELDS);

/** The AppendResult of appendInto's answer: fields written into `scratch`, or its own array. */
function unpackInto(answer: number | Float64Array): AppendResult {
  return typeof answer === 'number' ? unpack(scratch, answer) : unpack(answer, answer.length);
}

function unpack(packed: Float64Array, length: number): AppendResult {
  const batches: BatchSummary[] = [];
  for (let i = HEADER_FIELDS; i + BATCH_FIELDS <= length; i += BATCH_FIELDS) {
    const flags = packed[i + 7];
    batches.push({
      baseOffset: packed[i],
      lastOffset: packed[i + 1],
      maxTimestamp: packed[i + 2],
      producerId: packed[i + 3],
      producerEpoch: packed[i + 4],
      baseSequence: packed[i + 5],
      recordCount: packed[i + 6],
      isTransactional: (flags & FLAG_TRANSACTIONAL) !== 0,
      isControl: (flags & FLAG_CONTROL) !== 0,
      sizeInBytes: packed[i + 8],
    });
  }
  return {
    batches,
    firstOffset: packed[0],
    lastOffset: packed[1],
    maxTimestamp: packed[2],
    logAppendTime: packed[3],
    logEndOffset: packed[4],
  };
}

class NativePartitionLog implements PartitionLog {
  // Group commit: at most one fsync runs; callers arriving meanwhile share the next one, which
  // starts after the running one and so covers everything they wrote before calling.
  private flushing: Promise<void> | null = null;
  private nextFlush: Promise<void> | null = null;
  /** The running clean() round, if any. */
  private cleaning: Promise<CleanResult> | null = null;
  private closed = false;
  /**
   * logStartOffset / logEndOffset as last read or set by an append, or undefined. The log
   * changes only inside a call into the addon (the handle lives on the JS thread), so every
   * call that may change them clears or resets these: the produce path then reads the offsets
   * without a napi round trip each time (the replication layer reads them several times per append).
   */
  private cachedStart: number | undefined = undefined;
  private cachedEnd: number | undefined = undefined;

  constructor(
    readonly dir: string,
    private readonly handle: NativeLogHandle,
    readonly recoveredBytesTruncated: number,
    private readonly logger: StorageLogger,
  ) {}

  get logStartOffset(): number {
    // A closed log answers from the addon (which refuses), never from the cache.
    if (this.closed) return call(() => this.handle.logStartOffset);
    this.cachedStart ??= call(() => this.handle.logStartOffset);
    return this.cachedStart;
  }

  get logEndOffset(): number {
    if (this.closed) return call(() => this.handle.logEndOffset);
    this.cachedEnd ??= call(() => this.handle.logEndOffset);
    return this.cachedEnd;
  }

  /** Forgets the cached offsets (before any call that may change the log). */
  private changing(): void {
    this.cachedStart = undefined;
    this.cachedEnd = undefined;
  }

  append(batches: Buffer, options: AppendOptions = {}): AppendResult {
    const now = options.now ?? Date.now();
    const leaderEpoch = options.leaderEpoch ?? 0;
    this.changing();
    let result: AppendResult;
    try {
      const into = this.handle.appendInto;
      result =
        into === undefined ? unpackInto(this.handle.append(batches, now, leaderEpoch)) : unpackInto(into.call(this.handle, batches, now, leaderEpoch, scratch));
    } catch (err) {
      throw convertError(err);
    }
    this.cachedEnd = result.logEndOffset;
    return result;
  }

  appendAsFollower(batches: Buffer): AppendResult {
    this.changing();
    let result: AppendResult;
    try {
      const into = this.handle.appendAsFollowerInto;
      result = into === undefined ? unpackInto(this.handle.appendAsFollower(batches, Date.now())) : unpackInto(into.call(this.handle, batches, Date.now(), scratch));
    } catch (err) {
      throw convertError(err);
    }
    this.cachedEnd = result.logEndOffset;
    return result;
  }

  read(offset: number, maxBytes: number, maxOffset: number = Number.MAX_SAFE_INTEGER): FileSlice {
    // napi converts Infinity to 0 for an int64, which would mean "nothing" here.
    const bytes = Number.isFinite(maxBytes) ? maxBytes : Number.MAX_SAFE_INTEGER;
    const upTo = Number.isFinite(maxOffset) ? maxOffset : Number.MAX_SAFE_INTEGER;
    try {
      const s = call(() => this.handle.read(offset, bytes, upTo));
      if (s.lease === 0) return { fd: s.fd, position: s.position, length: s.length };
      const handle = this.handle;
      const lease = s.lease;
      return {
        fd: s.fd,
        position: s.position,
        length: s.length,
        release: () => {
          handle.releaseSlice(lease);
        },
      };
    } catch (err) {
      if (err instanceof StorageError && err.code === StorageErrorCode.CORRUPT_MESSAGE) {
        this.logger.warn({ dir: this.dir, offset, err: err.message }, 'read of a corrupt batch refused');
      }
      throw err;
    }
  }

  offsetForTimestamp(timestamp: number): TimestampAndOffset | null {
    const found = call(() => this.handle.offsetForTimestamp(timestamp));
    return found === null ? null : { timestamp: found[0], offset: found[1] };
  }

  async offsetForTimestampAsync(timestamp: number): Promise<TimestampAndOffset | null> {
    const found = await callAsync(() => this.handle.offsetForTimestampAsync(timestamp));
    return found === null ? null : { timestamp: found[0], offset: found[1] };
  }

  maxTimestampAndOffset(): TimestampAndOffset | null {
    const found = call(() => this.handle.maxTimestampAndOffset());
    return found === null ? null : { timestamp: found[0], offset: found[1] };
  }

  segments(): SegmentInfo[] {
    return call(() => this.handle.segments());
  }

  truncateTo(offset: number): void {
    this.changing();
    call(() => this.handle.truncateTo(offset));
  }

  deleteSegmentsBefore(offset: number): number {
    this.changing();
    return call(() => this.handle.deleteSegmentsBefore(offset));
  }

  roll(): void {
    this.changing();
    call(() => this.handle.roll());
  }

  clean(options: CleanOptions): Promise<CleanResult> {
    if (this.closed) {
      return Promise.reject(new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `log ${this.dir} is closed`));
    }
    const round = this.runClean(options);
    // A second round rejects in cleanStart; only the running one is waited for by close().
    if (this.cleaning === null) {
      this.cleaning = round;
      const clear = (): void => {
        if (this.cleaning === round) this.cleaning = null;
      };
      round.then(clear, clear);
    }
    return round;
  }

  private async runClean(options: CleanOptions): Promise<CleanResult> {
    const native: NativeCleanOptions = {
      ...options,
      abortedTxns: options.abortedTxns.map((t) => ({ ...t })),
      producerLastOffsets: options.producerLastOffsets.map(([producerId, lastOffset]) => [producerId, lastOffset]),
    };
    await callAsync(() => this.handle.cleanStart(native));
    this.changing();
    return call(() => this.handle.cleanFinish());
  }

  flush(): Promise<void> {
    if (this.flushing === null) {
      this.flushing = this.runFlush();
      return this.flushing;
    }
    if (this.nextFlush === null) {
      const after = this.flushing.catch(() => undefined);
      this.nextFlush = after.then(() => {
        this.nextFlush = null;
        this.flushing = this.runFlush();
        return this.flushing;
      });
    }
    return this.nextFlush;
  }

  private async runFlush(): Promise<void> {
    try {
      await callAsync(() => this.handle.flush());
    } finally {
      this.flushing = null;
    }
  }

  markDeleted(): void {
    if (!this.closed) call(() => { this.handle.markDeleted(); });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.changing();
    // A running cleaning round stops at its next read and resolves abandoned.
    if (this.cleaning !== null) call(() => { this.handle.cancelClean(); });
    // Let pending fsyncs and the cleaning round finish first so none races the addon releasing
    // the files.
    await Promise.allSettled([this.flushing, this.nextFlush, this.cleaning]);
    await callAsync(() => this.handle.close());
  }
}

/**
 * The config as the addon takes it. napi turns a non-finite number into 0 for an int64, so an
 * unlimited (Infinity) timestamp bound goes over as absent, which the addon reads as unlimited.
 */
function nativeConfig(config: LogConfig): LogConfig {
  const finite = (n: number | undefined): number | undefined => (n !== undefined && Number.isFinite(n) ? n : undefined);
  return {
    ...config,
    messageTimestampBeforeMaxMs: finite(config.messageTimestampBeforeMaxMs),
    messageTimestampAfterMaxMs: finite(config.messageTimestampAfterMaxMs),
  };
}

/** Where the napi-rs generated binding lives, relative to this module (src/ or dist/src/). */
function bindingPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'native', 'index.js'), join(here, '..', '..', '..', 'native', 'index.js')];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`native binding not built: none of ${candidates.join(', ')} exists (run npm run build:native)`);
  }
  return found;
}

/** Loads the addon; throws (with the loader's cause) when it is missing or unloadable. */
export function loadNativeBinding(): NativeBinding {
  const require = createRequire(import.meta.url);
  return require(bindingPath()) as NativeBinding;
}

export function createNativeEngine(binding: NativeBinding, logger: StorageLogger = defaultStorageLogger()): StorageEngine {
  // The default bound until the broker sets spool.log.max.open.segment.files.
  binding.setMaxOpenSegmentFiles(effectiveMaxOpenSegmentFiles(DEFAULT_MAX_OPEN_SEGMENT_FILES));
  const engine: StorageEngine = {
    name: 'native',
    async openLog(dir: string, config: LogConfig, options: OpenOptions = {}): Promise<PartitionLog> {
      const handle = await callAsync(() =>
        binding.openLog(dir, nativeConfig(config), options.logStartOffset ?? null, options.recoveryPoint ?? null, options.hadCleanShutdown ?? false),
      );
      const truncated = handle.recoveredBytesTruncated;
      if (truncated > 0) {
        logger.warn(
          { dir, truncatedBytes: truncated, truncatedBatches: handle.recoveredBatchesTruncated, offset: handle.logEndOffset, recoveryPoint: options.recoveryPoint },
          'recovered log after an unclean shutdown: truncated at the first invalid batch',
        );
      }
      return new NativePartitionLog(dir, handle, truncated, logger);
    },
    compress(codec: Codec, data: Buffer): Buffer {
      return call(() => binding.compress(codec, data));
    },
    decompress(codec: Codec, data: Buffer): Buffer {
      return call(() => binding.decompress(codec, data));
    },
    crc32c(data: Buffer): number {
      return binding.crc32c(data);
    },
    setMaxOpenSegmentFiles(limit: number): void {
      binding.setMaxOpenSegmentFiles(Math.min(effectiveMaxOpenSegmentFiles(limit), 0xffffffff));
    },
    openSegmentFiles(): number {
      return binding.openSegmentFiles();
    },
    segmentLeases(): { held: number; expired: number } {
      const [held, expired] = binding.segmentLeases?.() ?? [0, 0];
      return { held, expired };
    },
  };
  const sendFile = binding.sendFile;
  if (binding.hasSendFile() && sendFile !== undefined) {
    const send: SendFile = (socketFd: number, slice: FileSlice): Promise<number> =>
      slice.length === 0
        ? Promise.resolve(0)
        : callAsync(() => sendFile(socketFd, slice.fd, slice.position, slice.length)).catch((err: unknown) => {
            throw asPeerGone(err);
          });
    const sendNow = binding.sendNow;
    if (sendNow !== undefined) {
      send.now = (socketFd: number, buffers: Buffer[], slices: number[]): number => {
        try {
          return sendNow(socketFd, buffers, slices);
        } catch (err) {
          throw asPeerGone(err);
        }
      };
    }
    const readNow = binding.readNow;
    const stoppedFull = binding.sendNowStoppedFull;
    // Both or neither: readNow is only of use once sendNow told the socket is full.
    if (readNow !== undefined && stoppedFull !== undefined) {
      send.readNow = (fd: number, position: number, length: number): Buffer | null => call(() => readNow(fd, position, length));
      send.nowStoppedFull = (): boolean => stoppedFull();
    }
    engine.sendFile = send;
  }
  return engine;
}

/**
 * A sendfile that failed because the client went away (ECONNRESET, EPIPE, or the socket already
 * closed) is routine for a long poll the client gave up on: give the error the errno code the
 * network layer recognizes, so it is logged at debug rather than as a storage warning.
 */
function asPeerGone(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = /os error 104\b|Connection reset by peer/.test(err.message)
    ? 'ECONNRESET'
    : /os error 32\b|Broken pipe|socket closed or in error/.test(err.message)
      ? 'EPIPE'
      : undefined;
  if (code !== undefined) Object.assign(err, { code });
  return err;
}
