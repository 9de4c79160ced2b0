// storage/ room (ts engine): one log-compaction round (Kafka's Cleaner.doClean) over the segments of
// a TsPartitionLog — offset map, grouping, record filtering and batch rebuild (MemoryRecords.filterTo),
// crash-safe `.cleaned` → `.swap` → final swap. The exact rules, shared with the native engine, are
// docs/storage-format.md, "Cleaning". Runs on the JS thread and yields to the event loop every few
// milliseconds, so appends and reads of the same log go on meanwhile.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Codec, StorageError, StorageErrorCode, type CleanAbortedTxn, type CleanOptions, type CleanResult, type LogConfig } from '../engine.js';
import {
  ATTRIBUTES,
  ATTR_CODEC_MASK,
  ATTR_CONTROL,
  ATTR_LOG_APPEND_TIME,
  ATTR_TRANSACTIONAL,
  BASE_OFFSET,
  BASE_TIMESTAMP,
  BATCH_LENGTH,
  CRC,
  HEADER_SIZE,
  LAST_OFFSET_DELTA,
  LOG_OVERHEAD,
  MAGIC,
  MAX_TIMESTAMP,
  PRODUCER_ID,
  RECORDS_COUNT,
  readInt64,
  writeInt64,
} from './batch.js';
import { compress, decompress } from './codec.js';
import { crc32c } from './crc32c.js';
import { Segment, baseName, scanLogAsync, writeFully } from './segment.js';

/** KIP-534: attributes bit 6, the batch's baseTimestamp field holds deleteHorizonMs. */
export const ATTR_DELETE_HORIZON = 0x40;
const MAX_RELATIVE_OFFSET = 2147483647;
const READ_CHUNK = 1 << 20;
const WRITE_CHUNK = 1 << 20;
/** Work between two yields to the event loop. */
const SLICE_MS = 5;
/** Keys longer than this are mapped by their MD5 digest (a collision is ignored, as Kafka does). */
const EXACT_KEY_BYTES = 32;
const ABORT = 0;
const COMMIT = 1;

/** What the cleaner needs of the log it works on (TsPartitionLog implements it). */
export interface CleanHost {
  readonly dir: string;
  readonly config: LogConfig;
  /** The live segment list, the active segment last. */
  segments(): readonly Segment[];
  isClosed(): boolean;
  /**
   * Synchronously: moves `old` to the deleted-segment path (renamed `.deleted`), runs `renamed`,
   * then puts `fresh` in their place in the segment list.
   */
  replaceSegments(old: Segment[], fresh: Segment, renamed: () => void): void;
}

class Abandoned extends Error {}

function storageError(dir: string, message: string): StorageError {
  return new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${dir}: ${message}`);
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads on the libuv pool: a cold segment must not stall the event loop. */
async function readFully(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(fd, buf, done, length - done, position + done, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}

// ---------------------------------------------------------------------------------------------
// Records of one batch, parsed into reused columns (no allocation per record).

let body: Buffer = Buffer.alloc(0);
const recOffsetDelta: number[] = [];
const recTimestampDelta: number[] = [];
const recKeyStart: number[] = [];
const recKeyLength: number[] = [];
const recValueStart: number[] = [];
const recValueLength: number[] = [];
const recHeaderCount: number[] = [];
const recHeadersStart: number[] = [];
let cursor = 0;

function corrupt(what: string): never {
  throw new StorageError(StorageErrorCode.CORRUPT_MESSAGE, `cleaner: ${what}`);
}

function readVarlong(): number {
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor >= body.length) corrupt('a varint runs past the end of the records');
    const b = body[cursor++];
    raw += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    scale *= 128;
  }
  return corrupt('a varint is longer than 10 bytes');
}

/** Parses the `count` records of the batch at `at` of `buf`; returns how many were found. */
function parseRecords(buf: Buffer, at: number, size: number, count: number): number {
  const codec = (buf.readInt16BE(at + ATTRIBUTES) & ATTR_CODEC_MASK) as Codec;
  const raw = buf.subarray(at + HEADER_SIZE, at + size);
  body = codec === Codec.none || raw.length === 0 ? raw : decompress(codec, raw);
  cursor = 0;
  let n = 0;
  for (; n < count && cursor < body.length; n++) {
    const length = readVarlong();
    const end = cursor + length;
    if (length < 0 || end > body.length) corrupt('a record runs past the end of its batch');
    cursor++; // attributes
    recTimestampDelta[n] = readVarlong();
    recOffsetDelta[n] = readVarlong();
    const keyLength = readVarlong();
    recKeyStart[n] = cursor;
    recKeyLength[n] = keyLength;
    if (keyLength > 0) cursor += keyLength;
    const valueLength = readVarlong();
    recValueStart[n] = cursor;
    recValueLength[n] = valueLength;
    if (valueLength > 0) cursor += valueLength;
    recHeaderCount[n] = readVarlong();
    recHeadersStart[n] = cursor;
    cursor = end;
  }
  return n;
}

/** Map identity of record i's key (its bytes; an MD5 digest for long keys). */
function keyId(i: number): string {
  const start = recKeyStart[i];
  const length = recKeyLength[i];
  if (length <= EXACT_KEY_BYTES) return body.toString('latin1', start, start + length);
  // U+0100 never appears in a latin1 decoding: a digest cannot equal a short key.
  return '\u0100' + createHash('md5').update(body.subarray(start, start + length)).digest().toString('latin1');
}

/** Control record type of record 0 (ABORT 0, COMMIT 1), -1 when the key is not a marker key. */
function controlType(n: number): number {
  if (n === 0 || recKeyLength[0] < 4) return -1;
  const t = body.readInt16BE(recKeyStart[0] + 2);
  return t === ABORT || t === COMMIT ? t : -1;
}

// ---------------------------------------------------------------------------------------------
// Canonical re-encoding (Kafka's DefaultRecord.writeTo).

function zigzagSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function putZigzag(out: Buffer, pos: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) {
    out[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  out[pos++] = z;
  return pos;
}

/** Size of a record's headers re-encoded, starting at `pos` of the parsed body. */
function headersSize(pos: number, count: number): number {
  let size = zigzagSize(count);
  cursor = pos;
  for (let h = 0; h < count; h++) {
    const kl = readVarlong();
    cursor += Math.max(kl, 0);
    const vl = readVarlong();
    cursor += Math.max(vl, 0);
    size += zigzagSize(kl) + Math.max(kl, 0) + zigzagSize(vl) + Math.max(vl, 0);
  }
  return size;
}

function putBytes(out: Buffer, pos: number, start: number, length: number): number {
  pos = putZigzag(out, pos, length);
  if (length > 0) {
    body.copy(out, pos, start, start + length);
    pos += length;
  }
  return pos;
}

function putHeaders(out: Buffer, pos: number, from: number, count: number): number {
  pos = putZigzag(out, pos, count);
  cursor = from;
  for (let h = 0; h < count; h++) {
    const kl = readVarlong();
    pos = putBytes(out, pos, cursor, kl);
    cursor += Math.max(kl, 0);
    const vl = readVarlong();
    pos = putBytes(out, pos, cursor, vl);
    cursor += Math.max(vl, 0);
  }
  return pos;
}

// ---------------------------------------------------------------------------------------------

/** Kafka's CleanedTransactionMetadata: which data is aborted, which markers may go. */
class TxnState {
  private next = 0;
  private readonly ongoingAborted = new Map<number, { dataSeen: boolean }>();
  private readonly ongoingCommitted = new Set<number>();

  /** `aborted`: the round's list; entries whose marker lies before `scanStart` are left out. */
  constructor(
    private readonly aborted: CleanAbortedTxn[],
    scanStart: number,
  ) {
    this.aborted = aborted.filter((t) => t.lastOffset >= scanStart);
  }

  private consumeUpTo(offset: number): void {
    while (this.next < this.aborted.length && this.aborted[this.next].firstOffset <= offset) {
      const t = this.aborted[this.next++];
      if (!this.ongoingAborted.has(t.producerId)) this.ongoingAborted.set(t.producerId, { dataSeen: false });
    }
  }

  /** A data batch: true when it belongs to an aborted transaction. */
  onData(lastOffset: number, transactional: boolean, producerId: number): boolean {
    this.consumeUpTo(lastOffset);
    if (!transactional) return false;
    const aborted = this.ongoingAborted.get(producerId);
    if (aborted) {
      aborted.dataSeen = true;
      return true;
    }
    this.ongoingCommitted.add(producerId);
    return false;
  }

  /** A control batch: true when the marker is discardable. `type` null: the batch has no records. */
  onControl(lastOffset: number, producerId: number, type: number | null): boolean {
    this.consumeUpTo(lastOffset);
    if (type === null) return true;
    if (type === ABORT) {
      const aborted = this.ongoingAborted.get(producerId);
      this.ongoingAborted.delete(producerId);
      return !(aborted?.dataSeen ?? false);
    }
    if (type === COMMIT) return !this.ongoingCommitted.delete(producerId);
    return false;
  }
}

/** Source segments of the round: abandon when one is deleted, truncated or replaced meanwhile. */
class Guard {
  private readonly watched = new Map<Segment, number>();

  constructor(private readonly host: CleanHost) {}

  watch(s: Segment): void {
    this.watched.set(s, s.truncations);
  }

  unwatch(s: Segment): void {
    this.watched.delete(s);
  }

  check(): void {
    if (this.host.isClosed()) throw new Abandoned('log closed');
    const live = this.host.segments();
    for (const [s, truncations] of this.watched) {
      if (s.deleted || s.truncations !== truncations || !live.includes(s)) throw new Abandoned(`segment ${s.baseOffset} changed`);
    }
  }
}

/** Output of one group: the `.cleaned` files and the Segment that will own them. */
class CleanedOutput {
  readonly segment: Segment;
  private readonly staging = Buffer.allocUnsafe(WRITE_CHUNK);
  private staged = 0;
  private written = 0;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  private closed = false;

  constructor(dir: string, baseOffset: number, config: LogConfig) {
    const name = path.join(dir, baseName(baseOffset));
    this.logPath = `${name}.log.cleaned`;
    this.indexPath = `${name}.index.cleaned`;
    this.timeIndexPath = `${name}.timeindex.cleaned`;
    this.segment = Segment.forCleaned(dir, baseOffset, config, fs.openSync(this.logPath, 'w+'));
  }

  get size(): number {
    return this.written + this.staged;
  }

  /** Appends one whole batch (bytes [start, end) of `src`) and indexes it as an append would. */
  add(src: Buffer, start: number, end: number): void {
    const size = end - start;
    const position = this.size;
    if (this.staged + size > this.staging.length) this.drain();
    if (size > this.staging.length) {
      writeFully(this.segment.logFd, src, start, size, this.written);
      this.written += size;
    } else {
      src.copy(this.staging, this.staged, start, end);
      this.staged += size;
    }
    const baseOffset = readInt64(src, start + BASE_OFFSET);
    this.segment.trackBatch({
      position,
      size,
      baseOffset,
      lastOffset: baseOffset + src.readInt32BE(start + LAST_OFFSET_DELTA),
      maxTimestamp: readInt64(src, start + MAX_TIMESTAMP),
    });
  }

  private drain(): void {
    if (this.staged === 0) return;
    writeFully(this.segment.logFd, this.staging, 0, this.staged, this.written);
    this.written += this.staged;
    this.staged = 0;
  }

  /** Writes everything, both index files, the mtime; fsyncs the three files. */
  async finish(mtimeMs: number): Promise<void> {
    this.drain();
    this.segment.size = this.written;
    const seconds = mtimeMs / 1000;
    fs.futimesSync(this.segment.logFd, seconds, seconds);
    const { index, timeIndex } = this.segment.cleanedIndexBytes();
    const syncs = [fsyncAsync(this.segment.logFd)];
    const fds: number[] = [];
    try {
      for (const [p, bytes] of [
        [this.indexPath, index],
        [this.timeIndexPath, timeIndex],
      ] as const) {
        const fd = fs.openSync(p, 'w');
        fds.push(fd);
        writeFully(fd, bytes, 0, bytes.length, 0);
        syncs.push(fsyncAsync(fd));
      }
      await Promise.all(syncs);
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  }

  /** Abandon: close the .log fd, remove the `.cleaned` files. */
  discard(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.segment.logFd);
    } catch {
      // already closed
    }
    for (const p of [this.logPath, this.indexPath, this.timeIndexPath]) fs.rmSync(p, { force: true });
  }

  /** The crash-safe swap (docs/storage-format.md, "Cleaning", Swap). Never yields. */
  swap(host: CleanHost, old: Segment[]): void {
    const dir = host.dir;
    const final = [this.segment.indexPath, this.segment.timeIndexPath, this.segment.logPath];
    const cleaned = [this.indexPath, this.timeIndexPath, this.logPath];
    for (let i = 0; i < 3; i++) fs.renameSync(cleaned[i], `${final[i]}.swap`);
    this.closed = true;
    fsyncDirSync(dir);
    host.replaceSegments(old, this.segment, () => {
      fsyncDirSync(dir);
      for (let i = 0; i < 3; i++) fs.renameSync(`${final[i]}.swap`, final[i]);
    });
  }
}

type BatchVisitor = (buf: Buffer, at: number, size: number) => void;

class Round {
  readonly result: CleanResult;
  private readonly guard: Guard;
  private readonly started = performance.now();
  private lastYield = performance.now();
  private ioBytes = 0;
  /** Bytes written since the last throttle check. */
  private unthrottledWrites = 0;
  private readBuf = Buffer.allocUnsafe(READ_CHUNK);
  private readonly producerLast: Map<number, number>;
  private readonly map = new Map<string, number>();

  constructor(
    private readonly host: CleanHost,
    private readonly options: CleanOptions,
  ) {
    this.guard = new Guard(host);
    this.producerLast = new Map(options.producerLastOffsets);
    this.result = {
      cleanedUpTo: options.firstDirtyOffset,
      abandoned: false,
      bytesRead: 0,
      bytesWritten: 0,
      recordsRead: 0,
      recordsRetained: 0,
      groups: [],
    };
  }

  /** Yields to the event loop when a slice of work is done, then throttles to ioMaxBytesPerSecond. */
  private async pause(ioBytes: number): Promise<void> {
    this.ioBytes += ioBytes;
    const rate = this.options.ioMaxBytesPerSecond;
    if (rate > 0 && Number.isFinite(rate)) {
      const due = (this.ioBytes / rate) * 1000 - (performance.now() - this.started);
      if (due > 1) {
        await new Promise((resolve) => setTimeout(resolve, due));
        this.lastYield = performance.now();
        return;
      }
    }
    if (performance.now() - this.lastYield >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
    }
  }

  /**
   * Visits every batch of `seg` in file order, reading it in chunks. The guard is checked before
   * and after each read: a segment deleted meanwhile may have had its fd closed (and the number
   * reused), so what such a read returned is never looked at.
   */
  private async forEachBatch(seg: Segment, end: number, visit: BatchVisitor): Promise<void> {
    let pos = 0;
    while (pos < end) {
      this.guard.check();
      const want = Math.min(this.readBuf.length, end - pos);
      let n: number;
      // Held across the await: an idle sealed segment's fd may otherwise be closed by
      // spool.log.max.open.segment.files meanwhile (and its number reused).
      const fd = seg.hold();
      try {
        n = await readFully(fd, this.readBuf, want, pos);
      } catch (err) {
        // EBADF and the like from a segment deleted (fd closed) or a log closed under the read.
        this.guard.check();
        throw err;
      } finally {
        seg.unhold();
      }
      this.guard.check();
      this.lastYield = performance.now();
      const buf = this.readBuf;
      let at = 0;
      while (at + HEADER_SIZE <= n) {
        const size = buf.readInt32BE(at + BATCH_LENGTH) + LOG_OVERHEAD;
        if (buf.readInt8(at + MAGIC) !== 2 || size < HEADER_SIZE) {
          throw storageError(this.host.dir, `segment ${seg.baseOffset}: no valid batch at position ${pos + at}`);
        }
        if (at + size > n) break;
        visit(buf, at, size);
        at += size;
        if (performance.now() - this.lastYield >= SLICE_MS) await this.pause(0);
      }
      if (at === 0) {
        // One batch larger than the buffer: grow it and read again.
        const size = n >= HEADER_SIZE ? buf.readInt32BE(BATCH_LENGTH) + LOG_OVERHEAD : 0;
        if (size <= n || pos + size > end) throw storageError(this.host.dir, `segment ${seg.baseOffset}: truncated batch at position ${pos}`);
        this.readBuf = Buffer.allocUnsafe(size);
        continue;
      }
      pos += at;
      // Whole batches only: a batch cut by the chunk's end is read again with the next chunk.
      this.result.bytesRead += at;
      await this.pause(at + this.unthrottledWrites);
      this.unthrottledWrites = 0;
    }
  }

  async run(): Promise<CleanResult> {
    const { firstDirtyOffset, endOffset } = this.options;
    const segs = this.host.segments().slice();
    const ends = segs.map((_, i) => (i + 1 < segs.length ? segs[i + 1].baseOffset : Infinity));
    const sizes = segs.map((s) => s.size);
    const dirty: number[] = [];
    for (let i = 0; i + 1 < segs.length; i++) {
      if (ends[i] <= endOffset && ends[i] > firstDirtyOffset) dirty.push(i);
    }
    if (dirty.length === 0) return this.result;
    for (let i = 0; i + 1 < segs.length && ends[i] <= endOffset; i++) this.guard.watch(segs[i]);

    // 1. Offset map.
    const txn = new TxnState(this.options.abortedTxns, segs[dirty[0]].baseOffset);
    let cleanedUpTo = ends[dirty[dirty.length - 1]];
    for (let k = 0; k < dirty.length; k++) {
      const i = dirty[k];
      const into = k === 0 ? this.map : new Map<string, number>();
      await this.forEachBatch(segs[i], sizes[i], (buf, at, size) => {
        this.mapBatch(buf, at, size, txn, into);
      });
      if (k === 0) continue;
      let added = 0;
      for (const key of into.keys()) if (!this.map.has(key)) added++;
      if (this.map.size + added > this.options.maxMapEntries) {
        cleanedUpTo = segs[i].baseOffset;
        break;
      }
      for (const [key, offset] of into) this.map.set(key, offset);
    }
    this.result.cleanedUpTo = cleanedUpTo;

    // 2. Groups (Kafka's groupSegmentsBySize, .log sizes and the offset span).
    const groups: number[][] = [];
    for (let i = 0; i + 1 < segs.length && ends[i] <= cleanedUpTo; ) {
      const group = [i];
      let bytes = sizes[i];
      const base = segs[i].baseOffset;
      i++;
      while (
        i + 1 < segs.length &&
        ends[i] <= cleanedUpTo &&
        bytes + sizes[i] <= this.options.segmentBytes &&
        (sizes[i] === 0 || ends[i] - 1 - base <= MAX_RELATIVE_OFFSET)
      ) {
        group.push(i);
        bytes += sizes[i];
        i++;
      }
      groups.push(group);
    }

    // 3. Each group into one new segment, swapped in.
    for (const group of groups) {
      const old = group.map((i) => segs[i]);
      const out = new CleanedOutput(this.host.dir, old[0].baseOffset, this.host.config);
      try {
        const groupTxn = new TxnState(this.options.abortedTxns, old[0].baseOffset);
        for (const i of group) {
          await this.forEachBatch(segs[i], sizes[i], (buf, at, size) => {
            this.cleanBatch(buf, at, size, groupTxn, out);
          });
        }
        const mtime = old[old.length - 1].lastModifiedMs();
        await out.finish(mtime);
        await this.pause(this.unthrottledWrites);
        this.unthrottledWrites = 0;
        this.guard.check();
        out.swap(this.host, old);
      } catch (err) {
        out.discard();
        throw err;
      }
      for (const s of old) this.guard.unwatch(s);
      this.result.bytesWritten += out.size;
      this.result.groups.push({ baseOffset: old[0].baseOffset, replaced: old.map((s) => s.baseOffset), sizeInBytes: out.size });
    }
    return this.result;
  }

  /** Map pass: keys of a non-aborted data batch with offset >= firstDirtyOffset. */
  private mapBatch(buf: Buffer, at: number, size: number, txn: TxnState, into: Map<string, number>): void {
    const attributes = buf.readInt16BE(at + ATTRIBUTES);
    const baseOffset = readInt64(buf, at + BASE_OFFSET);
    const lastOffset = baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA);
    const producerId = readInt64(buf, at + PRODUCER_ID);
    const count = buf.readInt32BE(at + RECORDS_COUNT);
    if (attributes & ATTR_CONTROL) {
      const n = count > 0 ? parseRecords(buf, at, size, 1) : 0;
      txn.onControl(lastOffset, producerId, n === 0 ? null : controlType(n));
      return;
    }
    if (txn.onData(lastOffset, (attributes & ATTR_TRANSACTIONAL) !== 0, producerId)) return;
    if (lastOffset < this.options.firstDirtyOffset || count <= 0) return;
    const n = parseRecords(buf, at, size, count);
    for (let i = 0; i < n; i++) {
      const offset = baseOffset + recOffsetDelta[i];
      if (recKeyLength[i] >= 0 && offset >= this.options.firstDirtyOffset) into.set(keyId(i), offset);
    }
  }

  /** Clean pass: one batch of a group, to the output as docs/storage-format.md "Per batch" says. */
  private cleanBatch(buf: Buffer, at: number, size: number, txn: TxnState, out: CleanedOutput): void {
    const { now } = this.options;
    const attributes = buf.readInt16BE(at + ATTRIBUTES);
    const control = (attributes & ATTR_CONTROL) !== 0;
    const baseOffset = readInt64(buf, at + BASE_OFFSET);
    const lastOffset = baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA);
    const producerId = readInt64(buf, at + PRODUCER_ID);
    const count = buf.readInt32BE(at + RECORDS_COUNT);
    const hasHorizon = (attributes & ATTR_DELETE_HORIZON) !== 0;
    const horizon = hasHorizon ? readInt64(buf, at + BASE_TIMESTAMP) : -1;
    this.result.recordsRead += Math.max(count, 0);

    const n = count > 0 ? parseRecords(buf, at, size, count) : 0;
    const canDiscard = control
      ? txn.onControl(lastOffset, producerId, n === 0 ? null : controlType(n))
      : txn.onData(lastOffset, (attributes & ATTR_TRANSACTIONAL) !== 0, producerId);
    const discardAll = control ? canDiscard && hasHorizon && horizon <= now : canDiscard;
    const producerLast = producerId >= 0 && this.producerLast.get(producerId) === lastOffset;
    if (discardAll && !producerLast) return;

    const kept: number[] = [];
    let tombstone = false;
    if (!discardAll) {
      for (let i = 0; i < n; i++) {
        if (!control) {
          if (recKeyLength[i] < 0) continue;
          const latest = this.map.get(keyId(i));
          if (latest !== undefined && baseOffset + recOffsetDelta[i] < latest) continue;
          if (recValueLength[i] < 0 && hasHorizon && now >= horizon) continue;
        }
        if (recValueLength[i] < 0) tombstone = true;
        kept.push(i);
      }
    }
    if (kept.length === 0) {
      if (producerLast) this.emit(out, emptyHeader(buf, at), 0);
      return;
    }
    const needHorizon = (tombstone || (canDiscard && control)) && !hasHorizon;
    if (kept.length === count && !needHorizon) {
      out.add(buf, at, at + size);
      this.unthrottledWrites += size;
      this.result.recordsRetained += count;
      return;
    }
    const newHorizon = needHorizon ? now + this.options.deleteRetentionMs : horizon;
    this.emit(out, rebuild(buf, at, kept, newHorizon), kept.length);
  }

  private emit(out: CleanedOutput, batch: Buffer, records: number): void {
    out.add(batch, 0, batch.length);
    this.unthrottledWrites += batch.length;
    this.result.recordsRetained += records;
  }
}

/** Kafka's DefaultRecordBatch.writeEmptyHeader for the batch at `at` of `buf`. */
function emptyHeader(buf: Buffer, at: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  buf.copy(out, 0, at, at + HEADER_SIZE);
  out.writeInt32BE(HEADER_SIZE - LOG_OVERHEAD, BATCH_LENGTH);
  out.writeInt16BE(buf.readInt16BE(at + ATTRIBUTES) & (ATTR_LOG_APPEND_TIME | ATTR_TRANSACTIONAL | ATTR_CONTROL), ATTRIBUTES);
  writeInt64(out, -1, BASE_TIMESTAMP);
  out.writeInt32BE(0, RECORDS_COUNT);
  out.writeUInt32BE(crc32c(out, ATTRIBUTES, HEADER_SIZE), CRC);
  return out;
}

/**
 * Kafka's buildRetainedRecordsInto: the kept records (indexes into the parsed columns of the batch
 * at `at` of `buf`) in a new batch with the original base and last offsets. `horizon` < 0: none.
 */
function rebuild(buf: Buffer, at: number, kept: number[], horizon: number): Buffer {
  const attributes = buf.readInt16BE(at + ATTRIBUTES);
  const codec = (attributes & ATTR_CODEC_MASK) as Codec;
  const logAppendTime = (attributes & ATTR_LOG_APPEND_TIME) !== 0;
  const origBase = readInt64(buf, at + BASE_TIMESTAMP);
  const origMax = readInt64(buf, at + MAX_TIMESTAMP);
  const timestampOf = (i: number): number => (logAppendTime ? origMax : origBase + recTimestampDelta[i]);
  const baseTimestamp = horizon >= 0 ? horizon : timestampOf(kept[0]);
  let maxTimestamp = -1;
  if (logAppendTime) maxTimestamp = origMax;
  else for (const i of kept) maxTimestamp = Math.max(maxTimestamp, timestampOf(i));

  // Sizes first: each record's length prefix covers its body.
  const bodySizes: number[] = [];
  let recordsSize = 0;
  for (const i of kept) {
    const kl = recKeyLength[i];
    const vl = recValueLength[i];
    const s =
      1 +
      zigzagSize(timestampOf(i) - baseTimestamp) +
      zigzagSize(recOffsetDelta[i]) +
      zigzagSize(kl) +
      Math.max(kl, 0) +
      zigzagSize(vl) +
      Math.max(vl, 0) +
      headersSize(recHeadersStart[i], recHeaderCount[i]);
    bodySizes.push(s);
    recordsSize += zigzagSize(s) + s;
  }
  const records = Buffer.allocUnsafe(recordsSize);
  let pos = 0;
  for (let k = 0; k < kept.length; k++) {
    const i = kept[k];
    pos = putZigzag(records, pos, bodySizes[k]);
    records[pos++] = 0;
    pos = putZigzag(records, pos, timestampOf(i) - baseTimestamp);
    pos = putZigzag(records, pos, recOffsetDelta[i]);
    pos = putBytes(records, pos, recKeyStart[i], recKeyLength[i]);
    pos = putBytes(records, pos, recValueStart[i], recValueLength[i]);
    pos = putHeaders(records, pos, recHeadersStart[i], recHeaderCount[i]);
  }
  const payload = codec === Codec.none ? records : compress(codec, records);
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  // Kept from the original header: base offset, partition leader epoch, lastOffsetDelta, producer
  // id, epoch and base sequence.
  buf.copy(out, 0, at, at + HEADER_SIZE);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH);
  out.writeInt8(2, MAGIC);
  let attrs = codec | (attributes & (ATTR_LOG_APPEND_TIME | ATTR_TRANSACTIONAL | ATTR_CONTROL));
  if (horizon >= 0) attrs |= ATTR_DELETE_HORIZON;
  out.writeInt16BE(attrs, ATTRIBUTES);
  writeInt64(out, baseTimestamp, BASE_TIMESTAMP);
  writeInt64(out, maxTimestamp, MAX_TIMESTAMP);
  out.writeInt32BE(kept.length, RECORDS_COUNT);
  payload.copy(out, HEADER_SIZE);
  out.writeUInt32BE(crc32c(out, ATTRIBUTES, out.length), CRC);
  return out;
}

/**
 * One compaction round over `host`'s segments. A round that finds a source segment changed under
 * it (or the log closed) resolves with `abandoned: true` after removing its `.cleaned` files.
 */
export async function cleanLog(host: CleanHost, options: CleanOptions): Promise<CleanResult> {
  const round = new Round(host, options);
  try {
    return await round.run();
  } catch (err) {
    if (err instanceof Abandoned) {
      // The checkpoint stays: the next round maps the dirty range again.
      round.result.abandoned = true;
      round.result.cleanedUpTo = options.firstDirtyOffset;
      return round.result;
    }
    if (err instanceof StorageError) throw err;
    throw storageError(host.dir, `clean failed: ${(err as Error).message}`);
  }
}

/**
 * Open-time half of the swap (docs/storage-format.md, "Cleaning", Recovery at open): for every
 * `<base>.log.swap` in `dir`, removes the segment files it replaces and renames its files to their
 * final names. `names` is the directory listing; returns whether anything changed.
 */
export async function completeSwaps(dir: string, names: string[]): Promise<boolean> {
  const swapLog = /^(\d{20})\.log\.swap$/;
  const ranges: Array<[number, number]> = [];
  const swapBases = new Set<string>();
  for (const name of names) {
    const m = swapLog.exec(name);
    if (!m) continue;
    swapBases.add(m[1]);
    const base = Number(m[1]);
    ranges.push([base, Math.max(base + 1, await nextOffsetOf(path.join(dir, name), base))]);
  }
  if (ranges.length === 0) return false;
  const segmentFile = /^(\d{20})\.(log|index|timeindex)$/;
  for (const name of names) {
    const m = segmentFile.exec(name);
    if (!m) continue;
    const base = Number(m[1]);
    if (ranges.some(([from, to]) => base >= from && base < to)) await fs.promises.rm(path.join(dir, name), { force: true });
  }
  const swapFile = /^(\d{20})\.(log|index|timeindex)\.swap$/;
  for (const name of names) {
    const m = swapFile.exec(name);
    if (!m) continue;
    const from = path.join(dir, name);
    if (swapBases.has(m[1])) await fs.promises.rename(from, from.slice(0, -'.swap'.length));
    else await fs.promises.rm(from, { force: true });
  }
  return true;
}

/** lastOffset + 1 of the last whole batch of a .log file, `base` when it has none. */
async function nextOffsetOf(file: string, base: number): Promise<number> {
  const fd = fs.openSync(file, 'r');
  try {
    let next = base;
    await scanLogAsync(fd, 0, fs.fstatSync(fd).size, false, (h) => {
      next = h.lastOffset + 1;
    });
    return next;
  } finally {
    fs.closeSync(fd);
  }
}
