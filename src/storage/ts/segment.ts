// storage/ room (ts engine): one log segment — the .log file plus its sparse .index and
// .timeindex — following docs/storage-format.md so the native engine writes the same bytes.
// Index entries live in memory (arrays); an active segment writes them to the files at flush, roll
// and close. No fd of an index file is kept, not even while active: each write, resize or fsync
// opens the file by path and closes it at once, so a partition costs one fd (its active .log),
// as in Kafka, which mmaps its indexes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_MAX_OPEN_SEGMENT_FILES, LogConfig, effectiveMaxOpenSegmentFiles, StorageError, StorageErrorCode } from '../engine.js';
import {
  BASE_OFFSET,
  BATCH_LENGTH,
  CRC,
  HEADER_SIZE,
  LAST_OFFSET_DELTA,
  LOG_OVERHEAD,
  MAGIC,
  MAX_TIMESTAMP,
  ATTRIBUTES,
  readInt64,
  writeInt64,
} from './batch.js';
import { crc32c } from './crc32c.js';
import { defaultStorageLogger, type StorageLogger } from '../logger.js';

export const OFFSET_ENTRY = 8;
/** Appended to a deleted segment's file names until its delete delay has passed. */
export const DELETED_SUFFIX = '.deleted';
export const TIME_ENTRY = 12;
/** Largest offset - baseOffset a segment can index (a 32-bit relative offset). */
const MAX_RELATIVE_OFFSET = 0x7fffffff;

export function baseName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

/** Header fields of one batch in a segment file. */
export interface BatchHeader {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function writeFully(fd: number, buf: Buffer, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    done += fs.writeSync(fd, buf, offset + done, length - done, position + done);
  }
}

/**
 * Writes `bytes` at `at` into an index file opened by path (created when `create`), then sets its
 * length to each of `lengths` in turn (cutting to the live entries first zeroes stale ones before
 * a preallocation); the fd closes before return. A file that is gone without `create` (its log
 * directory renamed away by a topic deletion, or removed by hand) is left alone: writing past its
 * start would leave zeros that read as entries, and recovery rebuilds a missing index.
 */
function writeIndexFile(file: string, create: boolean, bytes: Buffer, at: number, lengths: readonly number[]): void {
  let fd: number;
  try {
    fd = fs.openSync(file, create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR, 0o644);
  } catch (err) {
    if (!create && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    writeFully(fd, bytes, 0, bytes.length, at);
    for (const length of lengths) fs.ftruncateSync(fd, length);
  } finally {
    fs.closeSync(fd);
  }
}

interface WalkState {
  buf: Buffer;
  bufStart: number;
  bufLen: number;
}

/**
 * Walks the batches that lie wholly in the buffered window, starting at file position `pos`.
 * Returns where it stopped and how many bytes from there it needs buffered to go on (0: the
 * valid data ends there — incomplete, malformed, or, with `checkCrc`, failing its CRC).
 */
function walk(
  w: WalkState,
  pos: number,
  end: number,
  checkCrc: boolean,
  visit: (h: BatchHeader) => void,
  accept?: (h: BatchHeader) => boolean,
): { pos: number; need: number } {
  const { buf, bufStart, bufLen } = w;
  while (end - pos >= HEADER_SIZE) {
    const at = pos - bufStart;
    if (at < 0 || at + HEADER_SIZE > bufLen) return { pos, need: HEADER_SIZE };
    const size = buf.readInt32BE(at + BATCH_LENGTH) + LOG_OVERHEAD;
    if (buf.readInt8(at + MAGIC) !== 2 || size < HEADER_SIZE || pos + size > end) break;
    if (checkCrc) {
      if (at + size > bufLen) return { pos, need: size };
      if (buf.readUInt32BE(at + CRC) !== crc32c(buf, at + ATTRIBUTES, at + size)) break;
    }
    const baseOffset = readInt64(buf, at + BASE_OFFSET);
    const h: BatchHeader = {
      position: pos,
      size,
      baseOffset,
      lastOffset: baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA),
      maxTimestamp: readInt64(buf, at + MAX_TIMESTAMP),
    };
    if (accept !== undefined && !accept(h)) break;
    visit(h);
    pos += size;
  }
  return { pos, need: 0 };
}

const SCAN_CHUNK = 1 << 20;

/**
 * Walks batches of a .log file from `start` to `end` through a chunk buffer (one read per MiB,
 * not per batch). Stops at the first incomplete or malformed batch, or, with `checkCrc`, at the
 * first CRC mismatch; returns the position where the valid data ends.
 */
export function scanLog(fd: number, start: number, end: number, checkCrc: boolean, visit: (h: BatchHeader) => void): number {
  const w: WalkState = { buf: Buffer.allocUnsafe(SCAN_CHUNK), bufStart: start, bufLen: 0 };
  let pos = start;
  for (;;) {
    const r = walk(w, pos, end, checkCrc, visit);
    pos = r.pos;
    if (r.need === 0) return pos;
    if (r.need > w.buf.length) w.buf = Buffer.allocUnsafe(r.need);
    w.bufStart = pos;
    w.bufLen = readFully(fd, w.buf, 0, Math.min(w.buf.length, end - pos), pos);
    if (w.bufLen < r.need) return pos;
  }
}

async function readFullyAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
      fs.read(fd, buf, done, length - done, position + done, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead }))),
    );
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** scanLog with the reads on the libuv pool, for recovery at open (segments can be GiBs). */
export async function scanLogAsync(
  fd: number,
  start: number,
  end: number,
  checkCrc: boolean,
  visit: (h: BatchHeader) => void,
  accept?: (h: BatchHeader) => boolean,
): Promise<number> {
  const w: WalkState = { buf: Buffer.allocUnsafe(SCAN_CHUNK), bufStart: start, bufLen: 0 };
  let pos = start;
  for (;;) {
    const r = walk(w, pos, end, checkCrc, visit, accept);
    pos = r.pos;
    if (r.need === 0) return pos;
    if (r.need > w.buf.length) w.buf = Buffer.allocUnsafe(r.need);
    w.bufStart = pos;
    w.bufLen = await readFullyAsync(fd, w.buf, Math.min(w.buf.length, end - pos), pos);
    if (w.bufLen < r.need) return pos;
  }
}

// Sealed segments' .log fds: opened on demand, closed when idle, bounded process-wide
// (spool.log.max.open.segment.files). A FileSlice holds a lease on its fd (see FileSlice in
// engine.ts) and in-process readers that await between reads hold it (hold/unhold): a segment's
// fd closes only while neither is live. Active segments are pinned: never closed, not counted.
// A lease never expires into a close: a send may still be using the fd number, and a closed
// number can be reused by the next open() (another segment's bytes would go out). Past its
// expiry an unreleased lease is only reported (a leak: warned once per segment, counted).
let maxOpenSealed = effectiveMaxOpenSegmentFiles(DEFAULT_MAX_OPEN_SEGMENT_FILES);
/** Leases handed out and not released yet, process-wide. */
let heldLeases = 0;
/** Segments found holding a lease past its expiry (leak alarms), process-wide. */
let expiredLeases = 0;
let leakLogger: StorageLogger | null = null;

export function setLeaseLogger(logger: StorageLogger): void {
  leakLogger = logger;
}

/** FileSlice leases held now, and leak alarms so far (a lease held past its expiry). */
export function segmentLeases(): { held: number; expired: number } {
  return { held: heldLeases, expired: expiredLeases };
}
/** Sealed segments with an open .log fd, least recently used first. */
const openSealed = new Set<Segment>();

export function setMaxOpenSegmentFiles(limit: number): void {
  maxOpenSealed = Math.max(1, Math.floor(limit));
  enforceBound(null);
}

export function openSegmentFiles(): number {
  return openSealed.size;
}

function enforceBound(except: Segment | null): void {
  if (openSealed.size <= maxOpenSealed) return;
  for (const s of [...openSealed]) {
    if (openSealed.size <= maxOpenSealed) return;
    if (s !== except) s.closeIfIdle();
  }
}

export class Segment {
  // Not readonly: a delete renames the files to `*.deleted` first (renameToDeleted).
  logPath: string;
  indexPath: string;
  timeIndexPath: string;
  /** The .log's fd, -1 while closed (a sealed segment's opens on demand: see logFd). */
  private fd: number;
  /** Active (or being written by the cleaner): the fd is never closed by the bound. */
  private pinned = true;
  /** In-process users that await between reads of the fd (no expiry). */
  private holds = 0;
  /** FileSlice leases not released yet, and when the last one handed out expires. */
  private leases = 0;
  private leaseUntil = 0;
  /** Bumped each time the fd closes: a late release of an older lease changes nothing. */
  private generation = 0;
  /** close() or delete() came while leases were live: the last release closes the fd. */
  private closeOnRelease = false;
  /** The leak alarm for this segment has been raised. */
  private leakWarned = false;
  /** detach(): never reopened by path. */
  private detached = false;
  size = 0;
  /** lastOffset of the last batch; baseOffset - 1 when empty. */
  lastOffset: number;
  maxTimestampSoFar = -1;
  offsetOfMaxTimestampSoFar: number;
  bytesSinceLastIndexEntry = 0;
  /** maxTimestamp of the first batch (segment.ms); null while empty. */
  rollingBasedTimestamp: number | null = null;
  deleted = false;
  /** Bumped by every truncateTo: a clean round abandons when a source segment changed under it. */
  truncations = 0;
  /**
   * Bytes from the start of the .log known to hold CRC-valid batches (checked at recovery,
   * appended after validation, or checked by a read); always a batch boundary. Reads check the
   * rest before serving it.
   */
  verifiedEnd = 0;

  private readonly idxRel: number[] = [];
  private readonly idxPos: number[] = [];
  private readonly timeTs: number[] = [];
  private readonly timeRel: number[] = [];
  /** Active: the index files are preallocated and take new entries at flush (no fd is held). */
  private active = false;
  /** Entries already in the files; the rest are written in one go at flush, roll, close. */
  private idxWritten = 0;
  private timeWritten = 0;
  private readonly maxOffsetEntries: number;
  private readonly maxTimeEntries: number;
  private readonly header = Buffer.allocUnsafe(HEADER_SIZE);

  private constructor(
    dir: string,
    readonly baseOffset: number,
    private readonly config: LogConfig,
    logFd: number,
  ) {
    const name = baseName(baseOffset);
    this.logPath = path.join(dir, `${name}.log`);
    this.indexPath = path.join(dir, `${name}.index`);
    this.timeIndexPath = path.join(dir, `${name}.timeindex`);
    this.fd = logFd;
    this.lastOffset = baseOffset - 1;
    this.offsetOfMaxTimestampSoFar = baseOffset;
    this.maxOffsetEntries = Math.floor(config.maxIndexSize / OFFSET_ENTRY);
    this.maxTimeEntries = Math.floor(config.maxIndexSize / TIME_ENTRY);
  }

  /** The .log's fd, opened again when the bound closed it. */
  get logFd(): number {
    if (this.fd < 0) {
      if (this.detached) throw new StorageError(StorageErrorCode.KAFKA_STORAGE_ERROR, `${this.logPath}: the log's directory was renamed away`);
      this.fd = fs.openSync(this.logPath, 'r+');
      if (!this.pinned) {
        openSealed.add(this);
        enforceBound(this);
      }
    }
    return this.fd;
  }

  /**
   * The fd for a FileSlice, kept open until `release` (FileSlice in engine.ts); still held
   * `expiryMs` from now, it is reported as a leak (never closed). Marks the segment most
   * recently used.
   */
  lease(expiryMs: number): { fd: number; release: () => void } {
    const fd = this.logFd;
    if (!this.pinned) {
      openSealed.delete(this);
      openSealed.add(this);
    }
    this.leases++;
    heldLeases++;
    this.leaseUntil = Math.max(this.leaseUntil, performance.now() + expiryMs);
    const generation = this.generation;
    let done = false;
    return {
      fd,
      release: () => {
        if (done) return;
        done = true;
        heldLeases--;
        if (generation === this.generation && this.leases > 0) this.leases--;
        if (this.leases === 0 && this.closeOnRelease) {
          this.closeLogFd();
          return;
        }
        if (this.leases === 0 && !this.pinned && openSealed.size > maxOpenSealed) enforceBound(null);
      },
    };
  }

  /** Keeps the fd open (without expiry) until unhold(): for readers that await between reads. */
  hold(): number {
    const fd = this.logFd;
    this.holds++;
    return fd;
  }

  unhold(): void {
    if (this.holds > 0) this.holds--;
    if (this.holds === 0 && !this.pinned && openSealed.size > maxOpenSealed) enforceBound(null);
  }

  /** Closes the .log fd unless pinned, held or leased; true when it is closed now. */
  closeIfIdle(): boolean {
    if (this.fd < 0) {
      openSealed.delete(this);
      return true;
    }
    if (this.pinned || this.holds > 0) return false;
    if (this.leases > 0) {
      this.leakAlarm();
      return false;
    }
    fs.closeSync(this.fd);
    this.fd = -1;
    this.generation++;
    this.leaseUntil = 0;
    openSealed.delete(this);
    return true;
  }

  /** A lease held past its expiry: warned once per segment and counted, the fd stays open. */
  private leakAlarm(): void {
    if (this.leakWarned || performance.now() < this.leaseUntil) return;
    this.leakWarned = true;
    expiredLeases++;
    (leakLogger ?? defaultStorageLogger()).warn(
      { segment: this.logPath, leases: this.leases },
      'a FileSlice lease was held past its expiry (never released): the segment fd stays open until it is',
    );
  }

  /** FileSlice leases of this segment not released yet (tests). */
  get liveLeases(): number {
    return this.leases;
  }

  /** Whether the .log fd is open now (tests). */
  get logFdOpen(): boolean {
    return this.fd >= 0;
  }

  /**
   * The segment is sealed (rolled, found inactive at open, or a cleaned segment swapped in): the
   * .log fd closes unless a lease or hold keeps it; later reads open it again, within
   * spool.log.max.open.segment.files. (Index files hold no fd in any state.)
   */
  releaseFiles(): void {
    this.active = false;
    this.pinned = false;
    if (!this.closeIfIdle()) {
      openSealed.add(this);
      enforceBound(this);
    }
  }

  /** A new, empty, active segment. */
  static create(dir: string, baseOffset: number, config: LogConfig): Segment {
    const name = path.join(dir, baseName(baseOffset));
    const seg = new Segment(dir, baseOffset, config, fs.openSync(`${name}.log`, 'w+'));
    try {
      seg.activate();
    } catch (err) {
      // activate() opens the index files by path (out of fds, say): the .log's fd must not leak,
      // nor the empty file stay behind.
      seg.closeFiles();
      fs.rmSync(`${name}.log`, { force: true });
      throw err;
    }
    return seg;
  }

  /**
   * A segment being written by the cleaner: `logFd` is open on `<base>.log.cleaned`, and its paths
   * are the final names the swap renames the files to. Inactive (it writes no index file itself):
   * the caller feeds trackBatch and writes cleanedIndexBytes() to the `.cleaned` index files.
   */
  static forCleaned(dir: string, baseOffset: number, config: LogConfig, logFd: number): Segment {
    return new Segment(dir, baseOffset, config, logFd);
  }

  /** Step 6 of the append rule for a finished cleaned segment, then both index files' bytes. */
  cleanedIndexBytes(): { index: Buffer; timeIndex: Buffer } {
    this.timeIndexMaybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
    return { index: this.offsetIndexBytes(), timeIndex: this.timeIndexBytes() };
  }

  /**
   * Opens a segment for recovery: validates every batch (bounds, magic, CRC), truncates the .log
   * after the last good one, and rebuilds both indexes by replaying the append rule. Returns the
   * bytes dropped and the batches among them (those whose headers still walk; a torn or garbled
   * tail counts as one). The segment is active after; `seal()` it when others follow.
   * With `trust` (after a clean shutdown) nothing is checked or cut: the indexes are rebuilt
   * from the batch headers.
   */
  static async openActive(
    dir: string,
    baseOffset: number,
    config: LogConfig,
    trust = false,
    nextBaseOffset = Number.POSITIVE_INFINITY,
  ): Promise<{ segment: Segment; truncated: number; batches: number }> {
    const seg = new Segment(dir, baseOffset, config, fs.openSync(path.join(dir, `${baseName(baseOffset)}.log`), 'r+'));
    try {
      return await Segment.recoverOpened(seg, baseOffset, trust, nextBaseOffset);
    } catch (err) {
      // The scan or activate() (index files opened by path: out of fds, say) failed: the .log's
      // fd must not leak.
      seg.closeFiles();
      throw err;
    }
  }

  private static async recoverOpened(
    seg: Segment,
    baseOffset: number,
    trust: boolean,
    nextBaseOffset: number,
  ): Promise<{ segment: Segment; truncated: number; batches: number }> {
    const fileSize = fs.fstatSync(seg.logFd).size;
    if (trust) {
      await scanLogAsync(seg.logFd, 0, fileSize, false, (h) => seg.trackBatch(h));
      seg.size = fileSize;
      seg.activate();
      return { segment: seg, truncated: 0, batches: 0 };
    }
    // A batch's baseOffset is outside its CRC: offsets are checked too (as Kafka's
    // LogSegment.recover does). Each batch starts after the previous one ends, inside
    // [baseOffset, nextBaseOffset), its last offset a 32-bit offset relative to the base.
    let next = baseOffset;
    const offsetsValid = (h: BatchHeader): boolean => {
      const ok =
        Number.isSafeInteger(h.baseOffset) &&
        h.baseOffset >= next &&
        h.lastOffset >= h.baseOffset &&
        h.lastOffset < nextBaseOffset &&
        h.lastOffset - baseOffset <= MAX_RELATIVE_OFFSET;
      if (ok) next = h.lastOffset + 1;
      return ok;
    };
    const validEnd = await scanLogAsync(seg.logFd, 0, fileSize, true, (h) => seg.trackBatch(h), offsetsValid);
    let batches = 0;
    if (validEnd < fileSize) {
      await scanLogAsync(seg.logFd, validEnd, fileSize, false, () => batches++);
      fs.ftruncateSync(seg.logFd, validEnd);
    }
    seg.size = validEnd;
    seg.verifiedEnd = validEnd;
    seg.activate();
    return { segment: seg, truncated: fileSize - validEnd, batches: validEnd < fileSize ? Math.max(1, batches) : 0 };
  }

  /** Batches of a whole segment file dropped by recovery (a non-empty file counts at least one). */
  static async countBatches(dir: string, baseOffset: number): Promise<{ bytes: number; batches: number }> {
    const fd = fs.openSync(path.join(dir, `${baseName(baseOffset)}.log`), 'r');
    try {
      const size = fs.fstatSync(fd).size;
      let batches = 0;
      await scanLogAsync(fd, 0, size, false, () => batches++);
      return { bytes: size, batches: size > 0 ? Math.max(1, batches) : 0 };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Opens a rolled segment, loading its indexes, or rebuilding them when they look damaged. */
  static async openInactive(dir: string, baseOffset: number, config: LogConfig, nextBaseOffset: number): Promise<Segment> {
    const seg = new Segment(dir, baseOffset, config, fs.openSync(path.join(dir, `${baseName(baseOffset)}.log`), 'r+'));
    seg.size = fs.fstatSync(seg.logFd).size;
    if (!seg.loadIndexes(nextBaseOffset)) {
      seg.clearIndexes();
      await scanLogAsync(seg.logFd, 0, seg.size, false, (h) => seg.trackBatch(h));
      seg.timeIndexMaybeAppend(seg.maxTimestampSoFar, seg.offsetOfMaxTimestampSoFar);
      fs.writeFileSync(seg.indexPath, seg.offsetIndexBytes());
      fs.writeFileSync(seg.timeIndexPath, seg.timeIndexBytes());
    } else {
      // lastOffset and rollingBasedTimestamp are cheap to learn from the tail and the head.
      const from = seg.idxPos.length > 0 ? seg.idxPos[seg.idxPos.length - 1] : 0;
      scanLog(seg.logFd, from, seg.size, false, (h) => {
        seg.lastOffset = h.lastOffset;
      });
      const first = seg.readHeader(0);
      seg.rollingBasedTimestamp = first ? first.maxTimestamp : null;
      const n = seg.timeTs.length;
      if (n > 0) {
        seg.maxTimestampSoFar = seg.timeTs[n - 1];
        seg.offsetOfMaxTimestampSoFar = baseOffset + seg.timeRel[n - 1];
      }
    }
    return seg;
  }

  get isActive(): boolean {
    return this.active;
  }

  get offsetIndexFull(): boolean {
    return this.idxRel.length >= this.maxOffsetEntries;
  }

  get timeIndexFull(): boolean {
    return this.timeTs.length >= this.maxTimeEntries;
  }

  /** Step 5 of the append rule, for one batch already written at `h.position`. */
  trackBatch(h: BatchHeader): void {
    this.rollingBasedTimestamp ??= h.maxTimestamp;
    if (h.maxTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = h.maxTimestamp;
      this.offsetOfMaxTimestampSoFar = h.lastOffset;
    }
    if (this.bytesSinceLastIndexEntry > this.config.indexIntervalBytes) {
      this.offsetIndexAppend(h.lastOffset, h.position);
      this.timeIndexMaybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += h.size;
    this.lastOffset = h.lastOffset;
  }

  private offsetIndexAppend(offset: number, position: number): void {
    const n = this.idxRel.length;
    if (n >= this.maxOffsetEntries) return;
    const rel = offset - this.baseOffset;
    if (n > 0 && rel <= this.idxRel[n - 1]) return;
    this.idxRel.push(rel);
    this.idxPos.push(position);
  }

  private timeIndexMaybeAppend(timestamp: number, offset: number): void {
    const n = this.timeTs.length;
    if (n >= this.maxTimeEntries) return;
    const lastTs = n > 0 ? this.timeTs[n - 1] : -1;
    const lastOffset = n > 0 ? this.baseOffset + this.timeRel[n - 1] : this.baseOffset;
    if (timestamp <= lastTs || offset < lastOffset) return;
    const rel = offset - this.baseOffset;
    this.timeTs.push(timestamp);
    this.timeRel.push(rel);
  }

  private offsetIndexBytes(from = 0): Buffer {
    const b = Buffer.alloc((this.idxRel.length - from) * OFFSET_ENTRY);
    for (let i = from; i < this.idxRel.length; i++) {
      b.writeInt32BE(this.idxRel[i], (i - from) * OFFSET_ENTRY);
      b.writeInt32BE(this.idxPos[i], (i - from) * OFFSET_ENTRY + 4);
    }
    return b;
  }

  private timeIndexBytes(from = 0): Buffer {
    const b = Buffer.alloc((this.timeTs.length - from) * TIME_ENTRY);
    for (let i = from; i < this.timeTs.length; i++) {
      writeInt64(b, this.timeTs[i], (i - from) * TIME_ENTRY);
      b.writeInt32BE(this.timeRel[i], (i - from) * TIME_ENTRY + 8);
    }
    return b;
  }

  /**
   * Writes the index entries added since the last call. Deferred because two small writes per
   * batch cost more than the batch write itself; an active segment's indexes are rebuilt from
   * the .log after a crash anyway, so nothing depends on them reaching the file early.
   */
  writeIndexes(): void {
    if (!this.active) return;
    if (this.idxWritten < this.idxRel.length) this.writeOffsetIndex('write');
    if (this.timeWritten < this.timeTs.length) this.writeTimeIndex('write');
  }

  /**
   * The offset index entries not in the file yet, in one open, then for 'trim' the file cut to
   * the live entries (seal), for 'preallocate' also grown to its maximum size again (activate).
   */
  private writeOffsetIndex(then: 'write' | 'trim' | 'preallocate', create = false): void {
    const b = this.offsetIndexBytes(this.idxWritten);
    const live = this.idxRel.length * OFFSET_ENTRY;
    const lengths = then === 'write' ? [] : then === 'trim' ? [live] : [live, this.maxOffsetEntries * OFFSET_ENTRY];
    writeIndexFile(this.indexPath, create, b, this.idxWritten * OFFSET_ENTRY, lengths);
    this.idxWritten = this.idxRel.length;
  }

  private writeTimeIndex(then: 'write' | 'trim' | 'preallocate', create = false): void {
    const b = this.timeIndexBytes(this.timeWritten);
    const live = this.timeTs.length * TIME_ENTRY;
    const lengths = then === 'write' ? [] : then === 'trim' ? [live] : [live, this.maxTimeEntries * TIME_ENTRY];
    writeIndexFile(this.timeIndexPath, create, b, this.timeWritten * TIME_ENTRY, lengths);
    this.timeWritten = this.timeTs.length;
  }

  private clearIndexes(): void {
    this.idxRel.length = 0;
    this.idxPos.length = 0;
    this.timeTs.length = 0;
    this.timeRel.length = 0;
    this.maxTimestampSoFar = -1;
    this.offsetOfMaxTimestampSoFar = this.baseOffset;
    this.bytesSinceLastIndexEntry = 0;
    this.rollingBasedTimestamp = null;
    this.lastOffset = this.baseOffset - 1;
  }

  /**
   * Loads both index files of a rolled segment. False when either is missing, not a whole number
   * of entries, out of order, or pointing outside the .log — the caller then rebuilds.
   */
  private loadIndexes(nextBaseOffset: number): boolean {
    let idx: Buffer;
    let time: Buffer;
    try {
      idx = fs.readFileSync(this.indexPath);
      time = fs.readFileSync(this.timeIndexPath);
    } catch {
      return false;
    }
    if (idx.length % OFFSET_ENTRY !== 0 || time.length % TIME_ENTRY !== 0) return false;
    const maxRel = nextBaseOffset - this.baseOffset;
    for (let p = 0; p < idx.length; p += OFFSET_ENTRY) {
      const rel = idx.readInt32BE(p);
      const pos = idx.readInt32BE(p + 4);
      const n = this.idxRel.length;
      if (rel < 0 || rel >= maxRel || pos < 0 || pos >= this.size) return false;
      if (n > 0 && (rel <= this.idxRel[n - 1] || pos <= this.idxPos[n - 1])) return false;
      this.idxRel.push(rel);
      this.idxPos.push(pos);
    }
    for (let p = 0; p < time.length; p += TIME_ENTRY) {
      const ts = readInt64(time, p);
      const rel = time.readInt32BE(p + 8);
      const n = this.timeTs.length;
      if (rel < 0 || rel >= maxRel) return false;
      if (n > 0 && (ts <= this.timeTs[n - 1] || rel < this.timeRel[n - 1])) return false;
      this.timeTs.push(ts);
      this.timeRel.push(rel);
    }
    return true;
  }

  /**
   * Writes both index files whole and preallocates them (the segment becomes active); each is
   * opened (created when missing) for it and closed again.
   */
  activate(tolerant = false): void {
    this.pinned = true;
    openSealed.delete(this);
    // From the first entry: the files may hold anything (a recovery rebuilt the entries).
    this.idxWritten = 0;
    this.timeWritten = 0;
    try {
      // Shrinking to the live entries first zeroes whatever stale entries lay past them.
      this.writeOffsetIndex('preallocate', true);
      this.writeTimeIndex('preallocate', true);
    } catch (err) {
      // `tolerant` (a truncation making a sealed segment active again, its files present): the
      // entries stay pending for the next flush; what lies past them in the files is never read
      // (an active segment's indexes are rebuilt at recovery, the seal cuts to the live entries).
      if (!tolerant) throw err;
      this.idxWritten = 0;
      this.timeWritten = 0;
    }
    this.active = true;
  }

  /** On roll and close: last time-index entry for the segment's max timestamp, then trim. */
  seal(): void {
    if (!this.active) return;
    this.timeIndexMaybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
    this.writeOffsetIndex('trim');
    this.writeTimeIndex('trim');
    this.active = false;
  }

  /**
   * What a flush must fsync, by path (pending index entries written first): the flush opens each
   * file, fsyncs it and closes it, so no fd of the segment is in use while the fsync runs (a
   * sealed segment's fd may close meanwhile; fsync reaches the file's data whichever fd asks).
   */
  syncPaths(): string[] {
    this.writeIndexes();
    return [this.logPath, this.indexPath, this.timeIndexPath];
  }

  close(): void {
    // The .log fd goes even when the seal fails (it opens the index files: out of fds, say); an
    // unsealed active segment's indexes are rebuilt from the .log at the next open anyway.
    try {
      this.seal();
    } finally {
      this.closeLogFd();
    }
  }

  /**
   * The log's directory was renamed away (a deleted topic): the .log is never opened by path
   * again (the old path may be a recreated topic's file). An fd still open keeps serving reads.
   */
  detach(): void {
    this.detached = true;
  }

  /**
   * Closes the .log fd (at once, or when the last lease is released) with no work by path: no
   * seal, no index write (the files' paths may no longer be this segment's).
   */
  closeFiles(): void {
    this.active = false;
    this.closeLogFd();
  }

  /** Closes the .log fd now, or, while a lease is live, when the last one is released. */
  private closeLogFd(): void {
    if (this.leases > 0) {
      this.closeOnRelease = true;
      this.pinned = true; // out of the bound's reach (and count) until then
      openSealed.delete(this);
      return;
    }
    this.closeOnRelease = false;
    openSealed.delete(this);
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.generation++;
  }

  /**
   * First step of a delete (Kafka's `.deleted` suffix): the files leave the segment namespace at
   * once, so a new segment may take the base offset, while every fd stays open for FileSlices
   * still in flight (file.delete.delay.ms). delete() finishes the job.
   */
  renameToDeleted(): void {
    this.deleted = true;
    const rename = (from: string): string => {
      const to = from + DELETED_SUFFIX;
      try {
        fs.renameSync(from, to);
      } catch (err) {
        // Already gone (removed by hand) counts as renamed: the later delete must never touch
        // the original name, which a new segment may own by then.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return to;
    };
    this.logPath = rename(this.logPath);
    this.indexPath = rename(this.indexPath);
    this.timeIndexPath = rename(this.timeIndexPath);
  }

  /** Closes every fd, then removes the files (under their `*.deleted` names once renamed). */
  delete(): void {
    this.active = false;
    this.closeLogFd();
    this.deleted = true;
    for (const p of [this.logPath, this.indexPath, this.timeIndexPath]) fs.rmSync(p, { force: true });
  }

  /** Header of the batch at `position`, or null at the end of the data. */
  readHeader(position: number): BatchHeader | null {
    if (position + HEADER_SIZE > this.size) return null;
    if (readFully(this.logFd, this.header, 0, HEADER_SIZE, position) < HEADER_SIZE) return null;
    const size = this.header.readInt32BE(BATCH_LENGTH) + LOG_OVERHEAD;
    if (size < HEADER_SIZE || position + size > this.size) return null;
    const baseOffset = readInt64(this.header, BASE_OFFSET);
    return {
      position,
      size,
      baseOffset,
      lastOffset: baseOffset + this.header.readInt32BE(LAST_OFFSET_DELTA),
      maxTimestamp: readInt64(this.header, MAX_TIMESTAMP),
    };
  }

  readBatch(h: BatchHeader): Buffer {
    const b = Buffer.allocUnsafe(h.size);
    readFully(this.logFd, b, 0, h.size, h.position);
    return b;
  }

  /** Position of the largest offset-index entry with offset <= `offset`, else 0. */
  lookupPosition(offset: number): number {
    const found = lastIndexAtOrBelow(this.idxRel, offset - this.baseOffset);
    return found < 0 ? 0 : this.idxPos[found];
  }

  /** Offset of the largest time-index entry with timestamp <= `timestamp`, else the base offset. */
  lookupTimestamp(timestamp: number): number {
    const found = lastIndexAtOrBelow(this.timeTs, timestamp);
    return found < 0 ? this.baseOffset : this.baseOffset + this.timeRel[found];
  }

  /**
   * The first batch with lastOffset >= `offset`, or null when the segment has none. Throws
   * CORRUPT_MESSAGE when the walk meets a garbled header before the end of the data: going on
   * to the next segment would skip every offset behind it without a word.
   */
  findBatch(offset: number): BatchHeader | null {
    let pos = this.lookupPosition(offset);
    for (;;) {
      const h = this.readHeader(pos);
      if (h === null) {
        if (pos < this.size) throw this.corrupt(pos, offset);
        return null;
      }
      if (h.lastOffset >= offset) return h;
      pos += h.size;
    }
  }

  private corrupt(position: number, offset: number): StorageError {
    return new StorageError(
      StorageErrorCode.CORRUPT_MESSAGE,
      `${this.logPath}: corrupt batch at byte ${position} (segment size ${this.size}) while reading offset ${offset}: its header or CRC does not check`,
    );
  }

  /**
   * How many bytes of the slice [position, position + length) of whole batches can be served:
   * every batch not yet known good is read and its CRC checked, and the slice stops before the
   * first bad one. Throws CORRUPT_MESSAGE when the first batch itself is bad.
   */
  verifySlice(position: number, length: number, offset: number): number {
    const end = position + length;
    if (end <= this.verifiedEnd) return length;
    // verifiedEnd is a batch boundary, so walking on from it stays on boundaries.
    const from = Math.max(position, this.verifiedEnd);
    const goodEnd = scanLog(this.logFd, from, end, true, () => undefined);
    if (position <= this.verifiedEnd && goodEnd > this.verifiedEnd) this.verifiedEnd = goodEnd;
    if (goodEnd >= end) return length;
    if (goodEnd === position) throw this.corrupt(position, offset);
    return goodEnd - position;
  }

  /**
   * Drops every batch from the one containing `offset` on, and the index entries that point at
   * them. Kafka resets the index interval counter here, so the next entry comes a full interval later.
   */
  truncateTo(offset: number): void {
    this.truncations++;
    const h = this.findBatch(offset);
    if (h !== null) {
      fs.ftruncateSync(this.logFd, h.position);
      this.size = h.position;
      this.verifiedEnd = Math.min(this.verifiedEnd, this.size);
    }
    const rel = offset - this.baseOffset;
    let n = this.idxRel.length;
    while (n > 0 && this.idxRel[n - 1] >= rel) n--;
    this.idxRel.length = n;
    this.idxPos.length = n;
    let t = this.timeTs.length;
    while (t > 0 && this.timeRel[t - 1] >= rel) t--;
    this.timeTs.length = t;
    this.timeRel.length = t;
    this.idxWritten = Math.min(this.idxWritten, n);
    this.timeWritten = Math.min(this.timeWritten, t);
    // The largest timestamp left is recomputed from the remaining batches (what Kafka's
    // loadLargestTimestamp arrives at), with the first batch to reach it on ties.
    this.maxTimestampSoFar = -1;
    this.offsetOfMaxTimestampSoFar = this.baseOffset;
    this.lastOffset = this.baseOffset - 1;
    this.rollingBasedTimestamp = null;
    scanLog(this.logFd, 0, this.size, false, (b) => {
      this.rollingBasedTimestamp ??= b.maxTimestamp;
      if (b.maxTimestamp > this.maxTimestampSoFar) {
        this.maxTimestampSoFar = b.maxTimestamp;
        this.offsetOfMaxTimestampSoFar = b.lastOffset;
      }
      this.lastOffset = b.lastOffset;
    });
    this.bytesSinceLastIndexEntry = 0;
    if (this.active) {
      // Entries kept but not written yet stay pending; the files are cut to the ones written
      // and preallocated again. The .log is already cut: an index file that cannot be cut now
      // (out of fds, say) is rewritten from its first entry by the next flush instead of failing
      // the truncation (entries past the live ones are never read: an active segment's indexes
      // are rebuilt at recovery, and the seal cuts the files to the live entries).
      const none = Buffer.alloc(0);
      try {
        writeIndexFile(this.indexPath, false, none, 0, [this.idxWritten * OFFSET_ENTRY, this.maxOffsetEntries * OFFSET_ENTRY]);
      } catch {
        this.idxWritten = 0;
      }
      try {
        writeIndexFile(this.timeIndexPath, false, none, 0, [this.timeWritten * TIME_ENTRY, this.maxTimeEntries * TIME_ENTRY]);
      } catch {
        this.timeWritten = 0;
      }
    } else {
      fs.writeFileSync(this.indexPath, this.offsetIndexBytes());
      fs.writeFileSync(this.timeIndexPath, this.timeIndexBytes());
    }
  }

  lastModifiedMs(): number {
    return fs.statSync(this.logPath).mtimeMs;
  }
}

/** Index of the last element <= `key` in an ascending array (binary search), or -1. */
function lastIndexAtOrBelow(sorted: ArrayLike<number>, key: number): number {
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
