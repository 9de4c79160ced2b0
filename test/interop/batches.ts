// test/interop room: builds magic-2 record batches, the way a producer would, to feed the storage
// engines in the kafka-dump-log test. Compression and CRC-32C come from the engine under test;
// Apache Kafka's DumpLogSegments then reads the files with its own decoders.
import type { Codec, StorageEngine } from '../../src/storage/engine.js';

export interface BatchRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[string, Buffer | null]>;
  timestamp: number;
}

/** Zig-zag varint (Kafka's varint/varlong), arithmetic so it stays exact beyond 32 bits. */
function zigzag(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
  return out;
}

function bytesWithLength(b: Buffer | null): Buffer[] {
  return b === null ? [Buffer.from(zigzag(-1))] : [Buffer.from(zigzag(b.length)), b];
}

function encodeRecord(r: BatchRecord, offsetDelta: number, baseTimestamp: number): Buffer {
  const parts: Buffer[] = [
    Buffer.from([0]), // attributes
    Buffer.from(zigzag(r.timestamp - baseTimestamp)),
    Buffer.from(zigzag(offsetDelta)),
    ...bytesWithLength(r.key),
    ...bytesWithLength(r.value),
    Buffer.from(zigzag(r.headers.length)),
  ];
  for (const [k, v] of r.headers) parts.push(...bytesWithLength(Buffer.from(k, 'utf8')), ...bytesWithLength(v));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(zigzag(body.length)), body]);
}

const HEADER_SIZE = 61;

/** One v2 batch at baseOffset 0 (the log assigns the real offset), not idempotent. */
export function buildBatch(engine: StorageEngine, records: BatchRecord[], codec: Codec): Buffer {
  if (records.length === 0) throw new Error('a batch needs at least one record');
  const baseTimestamp = records[0]!.timestamp;
  const maxTimestamp = Math.max(...records.map((r) => r.timestamp));
  const raw = Buffer.concat(records.map((r, i) => encodeRecord(r, i, baseTimestamp)));
  const payload = codec === 0 ? raw : engine.compress(codec, raw);
  const batch = Buffer.alloc(HEADER_SIZE + payload.length);
  batch.writeBigInt64BE(0n, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(0, 12);
  batch.writeInt8(2, 16);
  batch.writeInt16BE(codec, 21);
  batch.writeInt32BE(records.length - 1, 23);
  batch.writeBigInt64BE(BigInt(baseTimestamp), 27);
  batch.writeBigInt64BE(BigInt(maxTimestamp), 35);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(records.length, 57);
  payload.copy(batch, HEADER_SIZE);
  batch.writeUInt32BE(engine.crc32c(batch.subarray(21)) >>> 0, 17);
  return batch;
}
