// test helpers (storage room): a small v2 record-batch builder and decoder for tests and benches.
// Kept independent of the engines so that tests check the engines against a separate codec.
import { crc32c } from '../../src/storage/ts/crc32c.js';

export type Bytes = Buffer | string | null;

export interface TestHeader {
  key: string;
  value: Bytes;
}

export interface TestRecord {
  key?: Bytes;
  value?: Bytes;
  headers?: TestHeader[];
  timestampDelta?: number;
}

export type CompressFn = (codec: number, data: Buffer) => Buffer;
export type DecompressFn = (codec: number, data: Buffer) => Buffer;

export interface BuildBatchOptions {
  records: TestRecord[];
  baseTimestamp: number;
  /** 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. A codec other than 0 needs `compress`. */
  codec?: number;
  compress?: CompressFn;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  control?: boolean;
  /** Defaults to baseTimestamp + the largest timestampDelta. */
  maxTimestamp?: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  /** Sets attributes bit 3 (LogAppendTime). */
  logAppendTime?: boolean;
}

export const BATCH_HEADER_SIZE = 61;

function zigzag(n: number): bigint {
  const b = BigInt(n);
  return b >= 0n ? b << 1n : ((-b) << 1n) - 1n;
}

/** Zig-zag varint/varlong as Kafka writes it. */
export function writeVarint(out: number[], n: number): void {
  let v = zigzag(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function toBuf(b: Bytes | undefined): Buffer | null {
  if (b === null || b === undefined) return null;
  return typeof b === 'string' ? Buffer.from(b) : b;
}

function pushBytes(out: number[], b: Buffer | null): void {
  if (b === null) {
    writeVarint(out, -1);
    return;
  }
  writeVarint(out, b.length);
  for (const x of b) out.push(x);
}

function encodeRecord(r: TestRecord, offsetDelta: number): Buffer {
  const body: number[] = [0]; // record attributes: unused, always 0
  writeVarint(body, r.timestampDelta ?? 0);
  writeVarint(body, offsetDelta);
  pushBytes(body, toBuf(r.key));
  pushBytes(body, toBuf(r.value));
  const headers = r.headers ?? [];
  writeVarint(body, headers.length);
  for (const h of headers) {
    pushBytes(body, Buffer.from(h.key));
    pushBytes(body, toBuf(h.value));
  }
  const len: number[] = [];
  writeVarint(len, body.length);
  return Buffer.from([...len, ...body]);
}

/** A complete v2 batch with a valid CRC-32C. */
export function buildBatch(opts: BuildBatchOptions): Buffer {
  const codec = opts.codec ?? 0;
  if (opts.records.length === 0) throw new Error('buildBatch needs at least one record');
  let records: Buffer = Buffer.concat(opts.records.map((r, i) => encodeRecord(r, i)));
  if (codec !== 0) {
    if (!opts.compress) throw new Error(`buildBatch: codec ${codec} needs a compress function`);
    records = opts.compress(codec, records);
  }
  const maxDelta = Math.max(...opts.records.map((r) => r.timestampDelta ?? 0));
  const buf = Buffer.alloc(BATCH_HEADER_SIZE + records.length);
  let attributes = codec;
  if (opts.logAppendTime) attributes |= 0x08;
  if (opts.transactional) attributes |= 0x10;
  if (opts.control) attributes |= 0x20;
  buf.writeBigInt64BE(BigInt(opts.baseOffset ?? 0), 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(opts.partitionLeaderEpoch ?? 0, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(attributes, 21);
  buf.writeInt32BE(opts.records.length - 1, 23);
  buf.writeBigInt64BE(BigInt(opts.baseTimestamp), 27);
  buf.writeBigInt64BE(BigInt(opts.maxTimestamp ?? opts.baseTimestamp + maxDelta), 35);
  buf.writeBigInt64BE(BigInt(opts.producerId ?? -1), 43);
  buf.writeInt16BE(opts.producerEpoch ?? -1, 51);
  buf.writeInt32BE(opts.baseSequence ?? -1, 53);
  buf.writeInt32BE(opts.records.length, 57);
  records.copy(buf, BATCH_HEADER_SIZE);
  buf.writeUInt32BE(crc32c(buf, 21), 17);
  return buf;
}

/** Recomputes the CRC of a batch that starts at `pos` (after a test edits it on purpose). */
export function fixCrc(buf: Buffer, pos = 0): void {
  const end = pos + buf.readInt32BE(pos + 8) + 12;
  buf.writeUInt32BE(crc32c(buf.subarray(pos, end), 21), pos + 17);
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

export interface DecodedBatch {
  baseOffset: number;
  lastOffset: number;
  partitionLeaderEpoch: number;
  attributes: number;
  codec: number;
  logAppendTime: boolean;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  crc: number;
  crcValid: boolean;
  sizeInBytes: number;
  records: DecodedRecord[];
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): number {
    let shift = 0n;
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.buf.at(this.pos++);
      if (b === undefined) throw new Error('varint past end of buffer');
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return Number((v >> 1n) ^ -(v & 1n));
      shift += 7n;
    }
    throw new Error('varint longer than 10 bytes');
  }
  bytes(): Buffer | null {
    const n = this.varint();
    if (n < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return Buffer.from(b);
  }
}

/** Decodes every complete batch in `buf`; `decompress` is needed only for compressed batches. */
export function decodeBatches(buf: Buffer, decompress?: DecompressFn): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let pos = 0;
  while (pos + BATCH_HEADER_SIZE <= buf.length) {
    const size = buf.readInt32BE(pos + 8) + 12;
    if (pos + size > buf.length) break;
    const b = buf.subarray(pos, pos + size);
    const attributes = b.readInt16BE(21);
    const codec = attributes & 7;
    const baseOffset = Number(b.readBigInt64BE(0));
    const baseTimestamp = Number(b.readBigInt64BE(27));
    const maxTimestamp = Number(b.readBigInt64BE(35));
    const logAppendTime = (attributes & 0x08) !== 0;
    const count = b.readInt32BE(57);
    let body = b.subarray(BATCH_HEADER_SIZE);
    if (codec !== 0) {
      if (!decompress) throw new Error(`decodeBatches: codec ${codec} needs a decompress function`);
      body = decompress(codec, body);
    }
    const r = new Reader(body);
    const records: DecodedRecord[] = [];
    for (let i = 0; i < count; i++) {
      const len = r.varint();
      const end = r.pos + len;
      r.pos += 1; // record attributes
      const tsDelta = r.varint();
      const offDelta = r.varint();
      const key = r.bytes();
      const value = r.bytes();
      const hc = r.varint();
      const headers: Array<{ key: string; value: Buffer | null }> = [];
      for (let h = 0; h < hc; h++) {
        const hk = r.bytes();
        headers.push({ key: hk ? hk.toString() : '', value: r.bytes() });
      }
      if (r.pos !== end) throw new Error(`record ${i} length ${len} does not match its fields`);
      records.push({
        offset: baseOffset + offDelta,
        timestamp: logAppendTime ? maxTimestamp : baseTimestamp + tsDelta,
        key,
        value,
        headers,
      });
    }
    const crc = b.readUInt32BE(17);
    out.push({
      baseOffset,
      lastOffset: baseOffset + b.readInt32BE(23),
      partitionLeaderEpoch: b.readInt32BE(12),
      attributes,
      codec,
      logAppendTime,
      baseTimestamp,
      maxTimestamp,
      producerId: Number(b.readBigInt64BE(43)),
      producerEpoch: b.readInt16BE(51),
      baseSequence: b.readInt32BE(53),
      crc,
      crcValid: crc32c(b, 21) === crc,
      sizeInBytes: size,
      records,
    });
    pos += size;
  }
  return out;
}

/** `n` one-record-per-key batches concatenated, handy for filling a log. */
export function simpleBatches(n: number, recordsPerBatch: number, baseTimestamp: number, valueSize = 10): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const records: TestRecord[] = [];
    for (let j = 0; j < recordsPerBatch; j++) {
      records.push({ key: `k${i}-${j}`, value: Buffer.alloc(valueSize, (i + j) & 0xff), timestampDelta: j });
    }
    parts.push(buildBatch({ records, baseTimestamp: baseTimestamp + i * recordsPerBatch }));
  }
  return Buffer.concat(parts);
}
