// admin/ room: reading records of a partition for people — whole batches from the log below the
// last stable offset (read-committed: aborted transactions and control batches left out, as a
// read_committed consumer sees them), decoded with the protocol room's record-batch decoder and
// the engine's decompression, keys and values shown as UTF-8 text when they are, else base64.
import { readSync } from 'node:fs';
import { decodeRecordBatches, type Decompress, type DecodedBatch, type DecodedRecord } from '../protocol/record-batch.js';
import type { Partition } from '../replication/index.js';

export type Encoding = 'utf8' | 'base64';

export interface ShownRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  keyEncoding: Encoding;
  valueEncoding: Encoding;
  headers: Array<{ key: string; value: string | null; valueEncoding: Encoding }>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8 text when they are valid UTF-8, else base64; null stays null. */
export function showBytes(bytes: Buffer | null): { text: string | null; encoding: Encoding } {
  if (bytes === null) return { text: null, encoding: 'utf8' };
  try {
    return { text: utf8.decode(bytes), encoding: 'utf8' };
  } catch {
    return { text: bytes.toString('base64'), encoding: 'base64' };
  }
}

export function showRecord(partition: number, r: DecodedRecord): ShownRecord {
  const key = showBytes(r.key);
  const value = showBytes(r.value);
  return {
    partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: key.text,
    value: value.text,
    keyEncoding: key.encoding,
    valueEncoding: value.encoding,
    headers: r.headers.map((h) => {
      const v = showBytes(h.value);
      return { key: h.key, value: v.text, valueEncoding: v.encoding };
    }),
  };
}

const CONTROL_TYPE_ABORT = 0;

/**
 * Walks one partition forward from an offset in reads of a bounded size, up to the last stable
 * offset at the time of each read. Each read returns whole batches (at least one, even past the
 * byte bound, as a fetch does).
 */
export class CommittedRecordReader {
  private offset: number;
  /** Producers whose aborted transaction the walk is inside (Kafka's consumer keeps the same set). */
  private readonly abortedProducers = new Set<number>();
  done = false;

  constructor(
    private readonly partition: Partition,
    startOffset: number,
    private readonly decompress: Decompress,
  ) {
    this.offset = Math.max(startOffset, partition.logStartOffset);
  }

  get position(): number {
    return this.offset;
  }

  /** The committed records of the next read (at most about `maxBytes` of log), and its size. */
  next(maxBytes: number): { records: DecodedRecord[]; bytes: number } {
    const upper = this.partition.lastStableOffset;
    if (this.done || this.offset >= upper) {
      this.done = true;
      return { records: [], bytes: 0 };
    }
    const slice = this.partition.read(this.offset, Math.max(1, maxBytes), upper);
    const buf = Buffer.allocUnsafe(slice.length);
    let got = 0;
    try {
      // Bounded: each readSync returns > 0 bytes or the loop stops.
      while (got < slice.length) {
        const n = readSync(slice.fd, buf, got, slice.length - got, slice.position + got);
        if (n <= 0) break;
        got += n;
      }
    } finally {
      slice.release?.();
    }
    const batches = decodeRecordBatches(buf.subarray(0, got), this.decompress);
    if (batches.length === 0) {
      this.done = true;
      return { records: [], bytes: got };
    }
    const aborted = this.partition.abortedTransactions(this.offset, upper).sort((a, b) => a.firstOffset - b.firstOffset);
    const records: DecodedRecord[] = [];
    for (const batch of batches) {
      const lastOffset = batch.header.baseOffset + batch.header.lastOffsetDelta;
      if (batch.isTransactional) {
        while (aborted.length > 0 && aborted[0].firstOffset <= lastOffset) {
          const txn = aborted.shift();
          if (txn !== undefined) this.abortedProducers.add(txn.producerId);
        }
      }
      if (this.keep(batch)) for (const r of batch.records) if (r.offset >= this.offset) records.push(r);
      this.offset = Math.max(this.offset, lastOffset + 1);
    }
    if (this.offset >= upper) this.done = true;
    return { records, bytes: got };
  }

  private keep(batch: DecodedBatch): boolean {
    const producerId = batch.header.producerId;
    if (batch.isControl) {
      const key = batch.records[0]?.key;
      if (key != null && key.length >= 4 && key.readInt16BE(2) === CONTROL_TYPE_ABORT) this.abortedProducers.delete(producerId);
      return false;
    }
    return !(batch.isTransactional && this.abortedProducers.has(producerId));
  }
}
