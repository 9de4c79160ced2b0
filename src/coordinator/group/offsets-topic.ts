// coordinator/group room: the OffsetsLog port backed by the broker's __consumer_offsets topic.
// Records go in as uncompressed v2 record batches (one batch per coordinator write, so a commit of
// many partitions is atomic) and are read back batch by batch at start-up.
import type { LogManager, Log } from '../../log/index.js';
import type { Codec } from '../../storage/engine.js';
import type { OffsetsLog, OffsetsRecord } from './ports.js';

export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

const HEADER_SIZE = 61;
/** Bytes read per step while loading; a batch larger than this is still returned whole. */
const LOAD_READ_BYTES = 1024 * 1024;

export interface BatchCodecs {
  crc32c(data: Buffer): number;
  decompress(codec: Codec, data: Buffer): Buffer;
}

function pushVarint(out: number[], value: number): void {
  // Zig-zag, then unsigned LEB128; values here are small ints (lengths, deltas).
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** One uncompressed magic-2 batch holding `records`, offsets from 0 (the log assigns real ones). */
export function encodeOffsetsBatch(records: OffsetsRecord[], timestamp: number, codecs: Pick<BatchCodecs, 'crc32c'>): Buffer {
  if (records.length === 0) throw new RangeError('an __consumer_offsets batch needs at least one record');
  const bodies: Buffer[] = [];
  records.forEach((r, i) => {
    const head: number[] = [];
    head.push(0); // attributes
    pushVarint(head, 0); // timestampDelta
    pushVarint(head, i); // offsetDelta
    pushVarint(head, r.key.length);
    const mid: number[] = [];
    pushVarint(mid, r.value === null ? -1 : r.value.length);
    const tail: number[] = [];
    pushVarint(tail, 0); // headers
    const bodyLength = head.length + r.key.length + mid.length + (r.value?.length ?? 0) + tail.length;
    const len: number[] = [];
    pushVarint(len, bodyLength);
    bodies.push(Buffer.from(len), Buffer.from(head), r.key, Buffer.from(mid));
    if (r.value !== null) bodies.push(r.value);
    bodies.push(Buffer.from(tail));
  });
  const recordsBytes = Buffer.concat(bodies);
  const batch = Buffer.alloc(HEADER_SIZE + recordsBytes.length);
  batch.writeBigInt64BE(0n, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(-1, 12);
  batch.writeInt8(2, 16);
  batch.writeInt16BE(0, 21);
  batch.writeInt32BE(records.length - 1, 23);
  batch.writeBigInt64BE(BigInt(timestamp), 27);
  batch.writeBigInt64BE(BigInt(timestamp), 35);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(records.length, 57);
  recordsBytes.copy(batch, HEADER_SIZE);
  batch.writeUInt32BE(codecs.crc32c(batch.subarray(21)) >>> 0, 17);
  return batch;
}

class RecordReader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  varint(): number {
    let raw = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new RangeError('record truncated inside a varint');
      const b = this.buf[this.pos++]!;
      raw += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      shift += 7;
    }
    throw new RangeError('varint longer than 10 bytes');
  }
  bytes(len: number): Buffer | null {
    if (len < 0) return null;
    if (this.pos + len > this.buf.length) throw new RangeError('record truncated');
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }
}

/** Key/value records of the data batches in `buf` (whole batches); control batches skipped. */
export function decodeOffsetsBatches(buf: Buffer, codecs: Pick<BatchCodecs, 'decompress'>): { records: OffsetsRecord[]; nextOffset: number } {
  const records: OffsetsRecord[] = [];
  let pos = 0;
  let nextOffset = -1;
  while (pos + HEADER_SIZE <= buf.length) {
    const size = buf.readInt32BE(pos + 8) + 12;
    if (size < HEADER_SIZE || pos + size > buf.length) break;
    const baseOffset = Number(buf.readBigInt64BE(pos));
    const attributes = buf.readInt16BE(pos + 21);
    const lastOffsetDelta = buf.readInt32BE(pos + 23);
    const count = buf.readInt32BE(pos + 57);
    nextOffset = baseOffset + lastOffsetDelta + 1;
    if ((attributes & 0x20) === 0) {
      const codec = (attributes & 0x07) as Codec;
      let body = buf.subarray(pos + HEADER_SIZE, pos + size);
      if (codec !== 0) body = codecs.decompress(codec, body);
      const r = new RecordReader(body);
      for (let i = 0; i < count; i++) {
        const length = r.varint();
        const end = r.pos + length;
        r.pos += 1; // attributes
        r.varint(); // timestampDelta
        r.varint(); // offsetDelta
        const key = r.bytes(r.varint());
        const value = r.bytes(r.varint());
        r.pos = end; // headers are not used in __consumer_offsets
        if (key !== null) records.push({ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) });
      }
    }
    pos += size;
  }
  return { records, nextOffset };
}

/** __consumer_offsets on the broker's LogManager, created (compacted) on first use. */
export class LogManagerOffsetsLog implements OffsetsLog {
  private logs: Log[] = [];

  private constructor(
    readonly numPartitions: number,
    private readonly codecs: BatchCodecs,
    private readonly now: () => number,
  ) {}

  static async open(
    logManager: LogManager,
    numPartitions: number,
    topicConfigs: Record<string, string>,
    now: () => number = Date.now,
  ): Promise<LogManagerOffsetsLog> {
    const topic = await logManager.getOrCreateInternalTopic(CONSUMER_OFFSETS_TOPIC, numPartitions, topicConfigs);
    // An existing topic keeps its partition count: groups must map to the partitions that exist.
    const log = new LogManagerOffsetsLog(topic.partitions, logManager.engine, now);
    log.logs = topic.logs;
    return log;
  }

  private log(partition: number): Log {
    const log = this.logs[partition];
    if (log === undefined) throw new RangeError(`${CONSUMER_OFFSETS_TOPIC} has no partition ${partition}`);
    return log;
  }

  append(partition: number, records: OffsetsRecord[]): Promise<void> {
    try {
      this.log(partition).append(encodeOffsetsBatch(records, this.now(), this.codecs), { now: this.now() });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  *read(partition: number): Iterable<OffsetsRecord> {
    const log = this.log(partition);
    let offset = log.logStartOffset;
    const end = log.logEndOffset;
    // Each step moves past at least one batch, so this ends within (end - start) steps.
    while (offset < end) {
      const buf = log.readBytes(offset, LOAD_READ_BYTES);
      if (buf.length === 0) break;
      const { records, nextOffset } = decodeOffsetsBatches(buf, this.codecs);
      if (nextOffset <= offset) break;
      yield* records;
      offset = nextOffset;
    }
  }
}
