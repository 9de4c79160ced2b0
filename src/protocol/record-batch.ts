// protocol/ room: building and reading v2 record batches in JS. Not the produce/fetch hot path
// (batches stay opaque bytes there); used where the broker itself writes or reads records: the
// group coordinator's __consumer_offsets, transaction markers, tests and benches.
//
// Layout (byte offsets): baseOffset 0, batchLength 8, partitionLeaderEpoch 12, magic 16, crc 17,
// attributes 21, lastOffsetDelta 23, baseTimestamp 27, maxTimestamp 35, producerId 43,
// producerEpoch 51, baseSequence 53, recordsCount 57, records 61. The CRC-32C covers
// attributes..end.
import { crc32c } from '../storage/ts/crc32c.js';
import { ProtocolError } from './errors.js';
import { Reader, Writer } from './primitives.js';

import { ATTRIBUTES as ATTRIBUTES_OFFSET, CRC as CRC_OFFSET, HEADER_SIZE } from '../records/batch-layout.js';

export const RECORD_BATCH_OVERHEAD = HEADER_SIZE;

export const BatchAttribute = {
  codecMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Milliseconds since the epoch (CreateTime). */
  timestamp: number;
}

export interface BatchOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  /** Sets the LogAppendTime bit; maxTimestamp is still taken from the records. */
  logAppendTime?: boolean;
}

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

export interface DecodedRecord {
  offset: number;
  /** The record's timestamp; for LogAppendTime batches, the batch's maxTimestamp (as Kafka does). */
  timestamp: number;
  /** Views into the batch (or its decompressed records), not copies. */
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedBatch {
  header: BatchHeader;
  codec: number;
  isTransactional: boolean;
  isControl: boolean;
  records: DecodedRecord[];
  /** Total bytes of the batch, header included. */
  sizeInBytes: number;
}

/** Turns the records section of a compressed batch into the uncompressed record bytes. */
export type Decompress = (codec: number, data: Buffer) => Buffer;

/** Builds one uncompressed magic-2 batch. Offsets are assigned from `baseOffset` (default 0). */
export function encodeRecordBatch(records: readonly RecordInput[], opts: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch needs at least one record');
  const baseTimestamp = records[0].timestamp;
  let maxTimestamp = baseTimestamp;
  const body = new Writer(256);
  const rec = new Writer(128);
  records.forEach((r, i) => {
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    rec.pos = 0;
    rec.int8(0);
    rec.varlong(r.timestamp - baseTimestamp);
    rec.varint(i);
    writeVarBytes(rec, r.key);
    writeVarBytes(rec, r.value);
    const headers = r.headers ?? [];
    rec.varint(headers.length);
    for (const h of headers) {
      writeVarBytes(rec, Buffer.from(h.key, 'utf8'));
      writeVarBytes(rec, h.value);
    }
    const bytes = rec.toBuffer();
    body.varint(bytes.length);
    body.raw(bytes);
  });
  const recordBytes = body.toBuffer();

  let attributes = 0;
  if (opts.logAppendTime) attributes |= BatchAttribute.logAppendTime;
  if (opts.isTransactional) attributes |= BatchAttribute.transactional;
  if (opts.isControl) attributes |= BatchAttribute.control;

  const w = new Writer(RECORD_BATCH_OVERHEAD + recordBytes.length);
  w.int64(opts.baseOffset ?? 0);
  w.int32(RECORD_BATCH_OVERHEAD - 12 + recordBytes.length);
  w.int32(opts.partitionLeaderEpoch ?? -1);
  w.int8(2);
  w.uint32(0); // CRC, filled in below
  w.int16(attributes);
  w.int32(records.length - 1);
  w.int64(baseTimestamp);
  w.int64(maxTimestamp);
  w.int64(opts.producerId ?? -1);
  w.int16(opts.producerEpoch ?? -1);
  w.int32(opts.baseSequence ?? -1);
  w.int32(records.length);
  w.raw(recordBytes);
  const batch = w.toBuffer();
  batch.writeUInt32BE(crc32c(batch, ATTRIBUTES_OFFSET, batch.length), CRC_OFFSET);
  return batch;
}

function writeVarBytes(w: Writer, b: Buffer | null): void {
  if (b === null) {
    w.varint(-1);
    return;
  }
  w.varint(b.length);
  w.raw(b);
}

/** Control record types (key of a control batch's single record). */
export const ControlRecordType = { ABORT: 0, COMMIT: 1 } as const;

/** A transaction marker batch: one control record, key (version 0, type), value (version 0, coordinatorEpoch). */
export function encodeControlBatch(
  type: (typeof ControlRecordType)[keyof typeof ControlRecordType],
  coordinatorEpoch: number,
  timestamp: number,
  opts: BatchOptions = {},
): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return encodeRecordBatch([{ key, value, timestamp }], { ...opts, isTransactional: true, isControl: true });
}

/** Reads a batch header at `offset`; throws ProtocolError if it is truncated or not magic 2. */
export function decodeBatchHeader(buf: Buffer, offset = 0): BatchHeader {
  const r = new Reader(buf, offset);
  const header: BatchHeader = {
    baseOffset: r.int64(),
    batchLength: r.int32(),
    partitionLeaderEpoch: r.int32(),
    magic: r.int8(),
    crc: r.uint32(),
    attributes: r.int16(),
    lastOffsetDelta: r.int32(),
    baseTimestamp: r.int64(),
    maxTimestamp: r.int64(),
    producerId: r.int64(),
    producerEpoch: r.int16(),
    baseSequence: r.int32(),
    recordsCount: r.int32(),
  };
  if (header.magic !== 2) throw new ProtocolError(`record batch at ${offset}: magic ${header.magic}, only 2 is supported`);
  if (header.batchLength < RECORD_BATCH_OVERHEAD - 12) {
    throw new ProtocolError(`record batch at ${offset}: batchLength ${header.batchLength} is below the header size`);
  }
  return header;
}

/**
 * Decodes the batch at `offset`, checking its CRC. Compressed batches need `decompress`.
 * Throws ProtocolError on any inconsistency (truncated, CRC mismatch, record count off).
 */
export function decodeRecordBatch(buf: Buffer, offset = 0, decompress?: Decompress): DecodedBatch {
  const header = decodeBatchHeader(buf, offset);
  const end = offset + 12 + header.batchLength;
  if (end > buf.length) throw new ProtocolError(`record batch at ${offset} is truncated: ends at ${end}, data at ${buf.length}`);
  const crc = crc32c(buf, offset + ATTRIBUTES_OFFSET, end);
  if (crc !== header.crc) {
    throw new ProtocolError(`record batch at ${offset}: CRC ${crc.toString(16)} ≠ stored ${header.crc.toString(16)}`);
  }
  const codec = header.attributes & BatchAttribute.codecMask;
  let data = buf.subarray(offset + RECORD_BATCH_OVERHEAD, end);
  if (codec !== 0) {
    if (decompress === undefined) throw new ProtocolError(`record batch at ${offset} is compressed (codec ${codec})`);
    data = decompress(codec, data);
  }
  const logAppendTime = (header.attributes & BatchAttribute.logAppendTime) !== 0;
  const r = new Reader(data);
  if (header.recordsCount < 0 || header.recordsCount > r.remaining) {
    throw new ProtocolError(`record batch at ${offset}: ${header.recordsCount} records cannot fit in ${r.remaining} bytes`);
  }
  const records: DecodedRecord[] = [];
  for (let i = 0; i < header.recordsCount; i++) {
    const length = r.varint();
    if (length < 0) throw new ProtocolError(`record ${i} of batch at ${offset} has length ${length}`);
    const rr = new Reader(data, r.pos, r.pos + length);
    r.skip(length);
    rr.int8();
    const timestampDelta = rr.varlong();
    const offsetDelta = rr.varint();
    const key = readVarBytes(rr);
    const value = readVarBytes(rr);
    const headerCount = rr.varint();
    if (headerCount < 0 || headerCount > rr.remaining) throw new ProtocolError(`record ${i}: bad header count ${headerCount}`);
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const hk = readVarBytes(rr);
      if (hk === null) throw new ProtocolError(`record ${i}: null header key`);
      headers.push({ key: hk.toString('utf8'), value: readVarBytes(rr) });
    }
    records.push({
      offset: header.baseOffset + offsetDelta,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  }
  return {
    header,
    codec,
    isTransactional: (header.attributes & BatchAttribute.transactional) !== 0,
    isControl: (header.attributes & BatchAttribute.control) !== 0,
    records,
    sizeInBytes: end - offset,
  };
}

function readVarBytes(r: Reader): Buffer | null {
  const n = r.varint();
  if (n < -1) throw new ProtocolError(`negative length ${n}`);
  return n === -1 ? null : r.raw(n);
}

/**
 * Decodes every complete batch in `buf` (a segment's or a fetch response's concatenated batches).
 * A trailing partial batch is ignored, as consumers do with fetch responses cut at maxBytes.
 * Bounded by the buffer: every batch consumes at least RECORD_BATCH_OVERHEAD bytes.
 */
export function decodeRecordBatches(buf: Buffer, decompress?: Decompress): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  let offset = 0;
  while (offset + RECORD_BATCH_OVERHEAD <= buf.length) {
    const batchLength = buf.readInt32BE(offset + 8);
    if (offset + 12 + batchLength > buf.length) break;
    const batch = decodeRecordBatch(buf, offset, decompress);
    batches.push(batch);
    offset += batch.sizeInBytes;
  }
  return batches;
}
