// protocol/ room: Kafka's wire primitives. Reader bounds-checks every read and throws
// ProtocolError (never RangeError) so garbage from the network can only ever produce that error;
// Writer grows one buffer and splits it into chunks around zero-copy file slices.
//
// Choices that callers see:
// - int64 is a JS number, since offsets, timestamps and producer ids stay far below 2^53 and
//   BigInt would tax every caller. A value beyond ±2^53 (an offset of 2^60, Long.MAX_VALUE)
//   decodes to the nearest double, past any log, so handlers answer Kafka's errors; the writer
//   sends such a value back as the int64 it stands for.
// - uuid is Kafka's display form: 22-character base64url without padding (what kafka-topics.sh
//   prints), e.g. the zero uuid is "AAAAAAAAAAAAAAAAAAAAAA".
import { ProtocolError } from './errors.js';

/** A byte range of an open file, sent by the network layer with sendfile(2) or a read. */
export interface RecordsSlice {
  fd: number;
  position: number;
  length: number;
}

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const TWO_32 = 4294967296;
/** Below this, copying record bytes into the response buffer is cheaper than another chunk. */
const ZERO_COPY_MIN = 16 * 1024;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export class Reader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    end = buf.length,
  ) {
    this.pos = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Reserves `n` bytes and returns their start; throws if the frame ends first. */
  private take(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.end) {
      throw new ProtocolError(`truncated: need ${n} bytes at ${at}, frame ends at ${this.end}`);
    }
    this.pos = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.take(1));
  }
  bool(): boolean {
    return this.buf[this.take(1)] !== 0;
  }
  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }
  uint16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }
  uint32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }
  int64(): number {
    const at = this.take(8);
    // Beyond ±2^53 the nearest double: an offset of 2^60 or Long.MAX_VALUE still decodes (to a
    // value past any log), so handlers answer Kafka's error instead of the connection closing.
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4);
  }
  float64(): number {
    return this.buf.readDoubleBE(this.take(8));
  }

  /** Unsigned LEB128 of at most 32 bits (lengths, tags, tagged-field counts). */
  uvarint(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.buf[this.take(1)];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new ProtocolError('unsigned varint exceeds 32 bits');
        return result;
      }
    }
    throw new ProtocolError('unsigned varint longer than 5 bytes');
  }

  /** Zig-zag varint (int32), as in records. */
  varint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** Zig-zag varlong (int64 within ±2^53), as in records. */
  varlong(): number {
    const start = this.pos;
    let z = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.take(1)];
      z += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        // Up to 7 bytes (49 bits) the sum is exact in a double; beyond, redo it in BigInt.
        if (i < 7) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
        return this.bigVarlong(start, i + 1);
      }
    }
    throw new ProtocolError('varlong longer than 10 bytes');
  }

  private bigVarlong(start: number, n: number): number {
    let z = 0n;
    for (let i = n - 1; i >= 0; i--) z = (z << 7n) | BigInt(this.buf[start + i] & 0x7f);
    const v = (z >> 1n) ^ -(z & 1n);
    if (v > BigInt(MAX_SAFE) || v < -BigInt(MAX_SAFE)) throw new ProtocolError('varlong is outside ±2^53');
    return Number(v);
  }

  uuid(): string {
    const at = this.take(16);
    return this.buf.toString('base64url', at, at + 16);
  }

  /** Returns a view of the next `n` bytes (no copy). */
  raw(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }

  skip(n: number): void {
    this.take(n);
  }

  /** Length of a string/bytes/array: -1 (or compact 0) means null. */
  length(compact: boolean, wide: boolean): number {
    if (compact) return this.uvarint() - 1;
    return wide ? this.int32() : this.int16();
  }

  string(compact: boolean): string | null {
    const n = this.length(compact, false);
    if (n < 0) return null;
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }

  bytes(compact: boolean): Buffer | null {
    const n = this.length(compact, true);
    if (n < 0) return null;
    return this.raw(n);
  }

  /**
   * An array length, capped so a hostile count cannot make us allocate more entries than there are
   * bytes left (each entry takes at least `minItemSize` bytes).
   */
  arrayLength(compact: boolean, minItemSize: number): number {
    const n = this.length(compact, true);
    if (n > this.remaining / Math.max(minItemSize, 1)) {
      throw new ProtocolError(`array of ${n} entries at ${this.pos} exceeds the ${this.remaining} bytes left`);
    }
    return n;
  }
}

/** Bytes needed by an unsigned varint. */
export function uvarintSize(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

export class Writer {
  private buf: Buffer;
  pos = 0;
  private readonly chunks: Array<Buffer | RecordsSlice> = [];
  /** Start of the part of `buf` not yet moved into `chunks`. */
  private chunkStart = 0;
  private sliceBytes = 0;
  private bufferChunkBytes = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, 256);
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }
  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }
  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }
  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }
  int64(v: number): void {
    if (!Number.isSafeInteger(v)) {
      // A decoded value beyond ±2^53 goes back as the int64 it stands for (clamped to int64's range).
      if (!Number.isInteger(v)) throw new RangeError(`int64 value ${v} is not an integer`);
      this.ensure(8);
      const big = BigInt(v);
      this.buf.writeBigInt64BE(big > INT64_MAX ? INT64_MAX : big < INT64_MIN ? INT64_MIN : big, this.pos);
      this.pos += 8;
      return;
    }
    const hi = Math.floor(v / TWO_32);
    this.ensure(8);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 4);
    this.pos += 8;
  }
  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  uvarint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  varlong(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`varlong value ${v} is not a safe integer`);
    // Zig-zag doubles the magnitude; below 2^52 that stays exact in a double.
    if (Math.abs(v) < 2 ** 52) {
      this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
      return;
    }
    const b = BigInt(v);
    let z = b >= 0n ? b << 1n : (-b << 1n) - 1n;
    this.ensure(10);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }
  uuid(v: string): void {
    const bytes = Buffer.from(v, 'base64url');
    if (bytes.length !== 16 || v.length !== 22) throw new RangeError(`uuid "${v}" is not 22 base64url characters`);
    this.raw(bytes);
  }
  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  length(n: number, compact: boolean, wide: boolean): void {
    if (compact) this.uvarint(n + 1);
    else if (wide) this.int32(n);
    else this.int16(n);
  }
  string(v: string | null, compact: boolean): void {
    if (v === null) {
      this.length(-1, compact, false);
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    if (!compact && n > 0x7fff) throw new RangeError(`string of ${n} bytes exceeds int16 length`);
    this.length(n, compact, false);
    this.ensure(n);
    this.buf.write(v, this.pos, 'utf8');
    this.pos += n;
  }
  bytes(v: Buffer | null, compact: boolean): void {
    if (v === null) {
      this.length(-1, compact, true);
      return;
    }
    this.length(v.length, compact, true);
    this.raw(v);
  }
  /** A length-prefixed file slice: the prefix goes in the buffer, the slice becomes its own chunk. */
  slice(s: RecordsSlice, compact: boolean): void {
    this.length(s.length, compact, true);
    if (s.length === 0) return;
    this.pushChunk(s);
    this.sliceBytes += s.length;
  }

  /**
   * Length-prefixed bytes; large ones (record data read into memory) become their own chunk
   * instead of being copied into the response buffer.
   */
  bytesZeroCopy(v: Buffer | null, compact: boolean): void {
    if (v === null || v.length < ZERO_COPY_MIN) {
      this.bytes(v, compact);
      return;
    }
    this.length(v.length, compact, true);
    this.pushChunk(v);
    this.bufferChunkBytes += v.length;
  }

  private pushChunk(c: Buffer | RecordsSlice): void {
    if (this.pos > this.chunkStart) {
      const head = this.buf.subarray(this.chunkStart, this.pos);
      this.chunks.push(head);
      this.bufferChunkBytes += head.length;
    }
    this.chunks.push(c);
    // Later writes must not touch the bytes already handed out as a chunk.
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
    this.chunkStart = 0;
  }

  /** Bytes written so far, slices included. */
  get size(): number {
    return this.bufferChunkBytes + this.sliceBytes + this.pos - this.chunkStart;
  }

  /** Everything written, as buffers and file slices in order. */
  finish(): { chunks: Array<Buffer | RecordsSlice>; size: number } {
    const size = this.size;
    if (this.pos > this.chunkStart) this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
    this.chunkStart = this.pos;
    return { chunks: this.chunks, size };
  }

  /** The written bytes as one buffer; only valid when no file slice was written. */
  toBuffer(): Buffer {
    if (this.chunks.length === 0) return this.buf.subarray(0, this.pos);
    if (this.sliceBytes > 0) throw new Error('writer holds file slices; use finish()');
    return Buffer.concat([...(this.chunks as Buffer[]), this.buf.subarray(this.chunkStart, this.pos)]);
  }
}

export function isRecordsSlice(v: unknown): v is RecordsSlice {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && 'fd' in v && 'length' in v;
}
