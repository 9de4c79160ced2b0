// log/ room: one segment's aborted-transaction index (`<baseOffset>.txnindex`), Kafka's
// TransactionIndex format: fixed 34-byte big-endian entries
//   int16 version (0) | int64 producerId | int64 firstOffset | int64 lastOffset | int64 lastStableOffset
// appended in the order the abort markers were written, never preallocated. The file of a segment
// holds the transactions whose abort marker (lastOffset) lies in that segment; a transaction may
// start in an earlier one. Written by the log layer for both storage engines, so they share the
// bytes. The log layer is its only writer; the file is created by the first append.
import {
  closeSync,
  constants,
  fstatSync,
  fsync,
  ftruncateSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { ErrorCode, KafkaError, assert } from '../errors.js';

/** One aborted transaction: its producer, first offset, abort marker offset and the LSO at the abort. */
export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  /** Offset of the abort marker. */
  lastOffset: number;
  /** The partition's last stable offset once the abort was written (Kafka: <= lastOffset + 1). */
  lastStableOffset: number;
}

/** Kafka's TxnIndexSearchResult: what one index holds for a fetch range, and whether to stop there. */
export interface TxnIndexSearchResult {
  abortedTransactions: AbortedTxn[];
  /** An entry's lastStableOffset reached upperBoundOffset: later segments cannot add anything. */
  isComplete: boolean;
}

export const TXN_INDEX_SUFFIX = '.txnindex';
export const ABORTED_TXN_SIZE = 34;
export const ABORTED_TXN_VERSION = 0;
const PRODUCER_ID_AT = 2;
const FIRST_OFFSET_AT = 10;
const LAST_OFFSET_AT = 18;
const LAST_STABLE_OFFSET_AT = 26;

/** `00000000000000000042.txnindex` for base offset 42. */
export function txnIndexFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}${TXN_INDEX_SUFFIX}`;
}

/** The 34 bytes of one entry. */
export function encodeAbortedTxn(txn: AbortedTxn): Buffer {
  for (const [field, value] of Object.entries(txn) as Array<[string, number]>) {
    assert(Number.isSafeInteger(value), 'aborted transaction fields are integers', { field, value });
  }
  const buf = Buffer.alloc(ABORTED_TXN_SIZE);
  buf.writeInt16BE(ABORTED_TXN_VERSION, 0);
  buf.writeBigInt64BE(BigInt(txn.producerId), PRODUCER_ID_AT);
  buf.writeBigInt64BE(BigInt(txn.firstOffset), FIRST_OFFSET_AT);
  buf.writeBigInt64BE(BigInt(txn.lastOffset), LAST_OFFSET_AT);
  buf.writeBigInt64BE(BigInt(txn.lastStableOffset), LAST_STABLE_OFFSET_AT);
  return buf;
}

/** The entry at byte `at` of `buf` (no version check). */
export function decodeAbortedTxn(buf: Buffer, at = 0): AbortedTxn {
  return {
    producerId: Number(buf.readBigInt64BE(at + PRODUCER_ID_AT)),
    firstOffset: Number(buf.readBigInt64BE(at + FIRST_OFFSET_AT)),
    lastOffset: Number(buf.readBigInt64BE(at + LAST_OFFSET_AT)),
    lastStableOffset: Number(buf.readBigInt64BE(at + LAST_STABLE_OFFSET_AT)),
  };
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

/**
 * The aborted-transaction index of one segment. Nothing touches the disk until the first call
 * that needs the file: appends create it, reads of a missing file see no entries. Opening drops a
 * torn trailing partial entry (file length not a multiple of 34). Entries are kept on disk only
 * (read back per call, as Kafka does): aborted transactions are rare and the file is small.
 * Not fsynced per append; flush() does that.
 */
export class TransactionIndex {
  private fd: number | null = null;
  /** Bytes of whole entries (the file's length once opened). */
  private size = 0;
  /** lastOffset of the last entry; null when empty (or not opened yet). */
  private last: number | null = null;
  private dirty = false;
  /** fsyncs in flight per fd: a close waits for them, so an fd number is never reused under one. */
  private readonly syncing = new Map<number, number>();
  private readonly closeAfterSync = new Set<number>();

  constructor(
    readonly baseOffset: number,
    readonly path: string,
  ) {}

  private fail(what: string, err: unknown): KafkaError {
    return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `${this.path}: ${what}: ${(err as Error).message}`, {
      file: this.path,
    });
  }

  /** Opens the file (creating it when `create`); false when it does not exist and was not created. */
  private open(create: boolean): boolean {
    if (this.fd !== null) return true;
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDWR | (create ? constants.O_CREAT : 0), 0o644);
    } catch (err) {
      if (!create && isErrno(err, 'ENOENT')) return false;
      throw this.fail('cannot open transaction index', err);
    }
    try {
      const length = fstatSync(fd).size;
      const whole = length - (length % ABORTED_TXN_SIZE);
      if (whole !== length) {
        // A torn append (crash mid-write): the partial entry never counted.
        ftruncateSync(fd, whole);
        this.dirty = true;
      }
      this.size = whole;
      this.last = null;
      if (whole > 0) {
        const tail = Buffer.alloc(8);
        this.readFully(fd, tail, whole - ABORTED_TXN_SIZE + LAST_OFFSET_AT);
        this.last = Number(tail.readBigInt64BE(0));
      }
    } catch (err) {
      closeSync(fd);
      throw err instanceof KafkaError ? err : this.fail('cannot read transaction index', err);
    }
    this.fd = fd;
    return true;
  }

  private readFully(fd: number, buf: Buffer, position: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, position + done);
      if (n <= 0) throw this.fail('cannot read transaction index', new Error(`file ends early at ${position + done}`));
      done += n;
    }
  }

  /** Every entry, in file order. */
  private entries(): AbortedTxn[] {
    if (!this.open(false) || this.fd === null || this.size === 0) return [];
    const buf = Buffer.allocUnsafe(this.size);
    try {
      this.readFully(this.fd, buf, 0);
    } catch (err) {
      throw err instanceof KafkaError ? err : this.fail('cannot read transaction index', err);
    }
    const out: AbortedTxn[] = [];
    for (let at = 0; at < buf.length; at += ABORTED_TXN_SIZE) {
      const version = buf.readInt16BE(at);
      if (version > ABORTED_TXN_VERSION) {
        throw new KafkaError(
          ErrorCode.KAFKA_STORAGE_ERROR,
          `${this.path}: unexpected aborted transaction version ${version} at byte ${at}, current version is ${ABORTED_TXN_VERSION}`,
          { file: this.path, position: at, version },
        );
      }
      out.push(decodeAbortedTxn(buf, at));
    }
    return out;
  }

  /** lastOffset of the last entry, null when there is none (opens the file if it exists). */
  lastOffset(): number | null {
    this.open(false);
    return this.last;
  }

  /** Number of entries (opens the file if it exists). */
  entryCount(): number {
    return this.open(false) ? this.size / ABORTED_TXN_SIZE : 0;
  }

  /**
   * Appends an entry, creating the file. Kafka requires lastOffset to increase; an entry whose
   * lastOffset is <= the last entry's is a replay (producer state re-reading markers after a
   * crash or truncation) and is ignored: returns false then, true when written.
   */
  append(txn: AbortedTxn): boolean {
    const bytes = encodeAbortedTxn(txn);
    this.open(true);
    const fd = this.fd;
    assert(fd !== null, 'an opened transaction index has an fd', { file: this.path });
    if (this.last !== null && txn.lastOffset <= this.last) return false;
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, this.size + done);
    } catch (err) {
      // Written at an explicit position: a partial entry is overwritten by the next append, or
      // dropped as a torn tail by the next open.
      throw this.fail('cannot append to transaction index', err);
    }
    this.size += ABORTED_TXN_SIZE;
    this.last = txn.lastOffset;
    this.dirty = true;
    return true;
  }

  /** Drops every entry with lastOffset >= offset (the file stays, possibly empty). */
  truncateTo(offset: number): void {
    if (!this.open(false) || this.fd === null) return;
    if (this.last === null || this.last < offset) return;
    const entries = this.entries();
    const keep = entries.findIndex((e) => e.lastOffset >= offset);
    if (keep < 0) return;
    try {
      ftruncateSync(this.fd, keep * ABORTED_TXN_SIZE);
    } catch (err) {
      throw this.fail('cannot truncate transaction index', err);
    }
    this.size = keep * ABORTED_TXN_SIZE;
    this.last = keep > 0 ? entries[keep - 1].lastOffset : null;
    this.dirty = true;
  }

  /** Every entry (tests, tools). */
  allAbortedTxns(): AbortedTxn[] {
    return this.entries();
  }

  /**
   * Kafka's collectAbortedTxns: the entries overlapping [fetchOffset, upperBoundOffset)
   * (lastOffset >= fetchOffset and firstOffset < upperBoundOffset), in file order, stopping
   * after the first entry whose lastStableOffset >= upperBoundOffset (isComplete).
   */
  collect(fetchOffset: number, upperBoundOffset: number): TxnIndexSearchResult {
    const abortedTransactions: AbortedTxn[] = [];
    for (const txn of this.entries()) {
      if (txn.lastOffset >= fetchOffset && txn.firstOffset < upperBoundOffset) abortedTransactions.push(txn);
      if (txn.lastStableOffset >= upperBoundOffset) return { abortedTransactions, isComplete: true };
    }
    return { abortedTransactions, isComplete: false };
  }

  /** True when appends or truncations since the last flush are not fsynced yet. */
  get needsFlush(): boolean {
    return this.dirty && this.fd !== null;
  }

  /** fsyncs what was written since the last flush. A close or delete meanwhile ends the duty. */
  flush(): Promise<void> {
    const fd = this.fd;
    if (!this.dirty || fd === null) return Promise.resolve();
    this.dirty = false;
    this.syncing.set(fd, (this.syncing.get(fd) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      fsync(fd, (err) => {
        const left = (this.syncing.get(fd) ?? 1) - 1;
        if (left > 0) {
          this.syncing.set(fd, left);
        } else {
          this.syncing.delete(fd);
          if (this.closeAfterSync.delete(fd)) closeQuietly(fd);
        }
        if (err && this.fd === fd) {
          this.dirty = true;
          reject(this.fail('fsync failed', err));
        } else {
          resolve();
        }
      });
    });
  }

  /** Releases the fd (after any fsync in flight); a later call opens the file again. */
  close(): void {
    const fd = this.fd;
    this.fd = null;
    this.size = 0;
    this.last = null;
    this.dirty = false;
    if (fd === null) return;
    if (this.syncing.has(fd)) this.closeAfterSync.add(fd);
    else closeQuietly(fd);
  }

  /**
   * Closes and removes the file. True when it was removed or did not exist; false when the
   * unlink failed (the log layer removes txnindex files without a segment at the next open).
   */
  delete(): boolean {
    this.close();
    try {
      unlinkSync(this.path);
    } catch (err) {
      return isErrno(err, 'ENOENT');
    }
    return true;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing to release any more.
  }
}
