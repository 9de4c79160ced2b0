// test/interop room: compression codecs plugged into KafkaJS, which ships only gzip.
// zstd uses the zstd-napi package. For snappy and lz4 no KafkaJS codec package is installed, so
// these write the two formats with literal-only / stored blocks: valid frames that any reader
// (the broker's decompressor included) must accept, without a compressor of our own. They only
// encode — KafkaJS never consumes in these tests.
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';

/** The shape KafkaJS expects from `CompressionCodecs[type]()`. */
export interface KafkaJsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const notForReading = (codec: string) => async (): Promise<Buffer> => {
  throw new Error(`${codec} decompression is not provided in the interop harness`);
};

export const zstdCodec = (): KafkaJsCodec => ({
  compress: async (encoder) => zstdCompress(encoder.buffer),
  decompress: async (buffer) => zstdDecompress(buffer),
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A raw snappy block holding `data` as literals only. */
export function snappyLiteralBlock(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from(varint(data.length))];
  const chunk = 65536;
  for (let pos = 0; pos < data.length; pos += chunk) {
    const piece = data.subarray(pos, Math.min(pos + chunk, data.length));
    const n = piece.length - 1;
    // Literal tag: length-1 in the upper six bits when < 60, else 60..63 = 1..4 extra bytes (LE).
    if (n < 60) parts.push(Buffer.from([n << 2]));
    else if (n < 0x100) parts.push(Buffer.from([60 << 2, n]));
    else if (n < 0x10000) parts.push(Buffer.from([61 << 2, n & 0xff, n >>> 8]));
    else parts.push(Buffer.from([62 << 2, n & 0xff, (n >>> 8) & 0xff, n >>> 16]));
    parts.push(piece);
  }
  return Buffer.concat(parts);
}

/** snappy-java's framing (what Kafka's Java producer writes): magic, two versions, sized blocks. */
export function xerialSnappy(data: Buffer): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  const blockSize = 32 * 1024;
  for (let pos = 0; pos < data.length || pos === 0; pos += blockSize) {
    const block = snappyLiteralBlock(data.subarray(pos, Math.min(pos + blockSize, data.length)));
    const len = Buffer.alloc(4);
    len.writeInt32BE(block.length);
    parts.push(len, block);
    if (data.length === 0) break;
  }
  return Buffer.concat(parts);
}

export const snappyCodec = (): KafkaJsCodec => ({
  compress: async (encoder) => xerialSnappy(encoder.buffer),
  decompress: notForReading('snappy'),
});

/** xxHash32 for inputs shorter than 16 bytes (the LZ4 frame descriptor checksum). */
export function xxh32Short(data: Buffer, seed = 0): number {
  if (data.length >= 16) throw new Error('xxh32Short handles fewer than 16 bytes');
  const P1 = 2654435761, P2 = 2246822519, P3 = 3266489917, P4 = 668265263, P5 = 374761393;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  let h = (seed + P5 + data.length) >>> 0;
  let i = 0;
  for (; i + 4 <= data.length; i += 4) {
    h = (h + Math.imul(data.readUInt32LE(i), P3)) >>> 0;
    h = Math.imul(rotl(h, 17), P4) >>> 0;
  }
  for (; i < data.length; i++) {
    h = (h + Math.imul(data[i], P5)) >>> 0;
    h = Math.imul(rotl(h, 11), P1) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, P3) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** An LZ4 frame (v1, independent 64 KiB blocks) whose blocks are all stored uncompressed. */
export function lz4StoredFrame(data: Buffer): Buffer {
  const descriptor = Buffer.from([0x60, 0x40]); // FLG: version 01, block independence; BD: 64 KiB
  const hc = (xxh32Short(descriptor) >>> 8) & 0xff;
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([hc])];
  const blockMax = 64 * 1024;
  for (let pos = 0; pos < data.length; pos += blockMax) {
    const block = data.subarray(pos, Math.min(pos + blockMax, data.length));
    const size = Buffer.alloc(4);
    // High bit set = this block is stored uncompressed.
    size.writeUInt32LE((block.length | 0x80000000) >>> 0);
    parts.push(size, block);
  }
  parts.push(Buffer.alloc(4)); // EndMark
  return Buffer.concat(parts);
}

export const lz4Codec = (): KafkaJsCodec => ({
  compress: async (encoder) => lz4StoredFrame(encoder.buffer),
  decompress: notForReading('lz4'),
});
