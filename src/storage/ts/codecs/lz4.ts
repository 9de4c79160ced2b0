// storage/ room: lz4 codec for v2 batches (attributes codec 3), pure TypeScript.
// Kafka's lz4 is the LZ4 *frame* format. Only v2 batches exist here, so the broken header checksum
// Kafka's magic v0/v1 wrote does not need to be tolerated.
import { OutputLimitError } from './limit.js';

const FRAME_MAGIC = 0x184d2204;
/** Skippable frames (0x184D2A50..5F) carry user data that decoders must step over. */
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

const FLG_VERSION = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICT_ID = 0x01;
const BLOCK_UNCOMPRESSED = 0x80000000;

const BLOCK_MAX_SIZES: Partial<Record<number, number>> = {
  4: 64 * 1024,
  5: 256 * 1024,
  6: 1024 * 1024,
  7: 4 * 1024 * 1024,
};

// Block format limits (lz4_Block_format.md): a match is >= 4 bytes, the last 5 bytes of a block
// are literals, and the last match starts at least 12 bytes before the block end.
const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_BITS = 14;
/** Largest output per input byte: a run of 255 length bytes adds 255 match bytes each. */
const MAX_EXPANSION = 256;
/** Below this many bytes a JS byte loop beats the native memcpy call behind set/copyWithin. */
const SHORT_COPY = 32;

const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77;
const PRIME32_3 = 0xc2b2ae3d;
const PRIME32_4 = 0x27d4eb2f;
const PRIME32_5 = 0x165667b1;

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function readU32LE(src: Uint8Array, i: number): number {
  return (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
}

function xxh32Round(acc: number, lane: number): number {
  return Math.imul(rotl32((acc + Math.imul(lane, PRIME32_2)) | 0, 13), PRIME32_1);
}

/** xxHash32 of src[start, end), as the LZ4 frame format uses it (header, block, content checksums). */
export function xxh32(src: Uint8Array, seed = 0, start = 0, end = src.length): number {
  let p = start;
  let h: number;
  if (end - start >= 16) {
    let v1 = (seed + PRIME32_1 + PRIME32_2) | 0;
    let v2 = (seed + PRIME32_2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME32_1) | 0;
    const limit = end - 16;
    while (p <= limit) {
      v1 = xxh32Round(v1, readU32LE(src, p));
      v2 = xxh32Round(v2, readU32LE(src, p + 4));
      v3 = xxh32Round(v3, readU32LE(src, p + 8));
      v4 = xxh32Round(v4, readU32LE(src, p + 12));
      p += 16;
    }
    h = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) | 0;
  } else {
    h = (seed + PRIME32_5) | 0;
  }
  h = (h + (end - start)) | 0;
  while (p + 4 <= end) {
    h = Math.imul(rotl32((h + Math.imul(readU32LE(src, p), PRIME32_3)) | 0, 17), PRIME32_4);
    p += 4;
  }
  while (p < end) {
    h = Math.imul(rotl32((h + Math.imul(src[p], PRIME32_5)) | 0, 11), PRIME32_1);
    p++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, PRIME32_2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

function hash4(v: number): number {
  return Math.imul(v, 2654435761) >>> (32 - HASH_BITS);
}

function writeLength(out: Uint8Array, op: number, rest: number): number {
  while (rest >= 255) {
    out[op++] = 255;
    rest -= 255;
  }
  out[op++] = rest;
  return op;
}

function emitSequence(
  out: Uint8Array,
  op: number,
  src: Uint8Array,
  anchor: number,
  litLen: number,
  offset: number,
  matchLen: number,
): number {
  const ml = matchLen - MIN_MATCH;
  const token = op++;
  out[token] = ((litLen >= 15 ? 15 : litLen) << 4) | (ml >= 15 ? 15 : ml);
  if (litLen >= 15) op = writeLength(out, op, litLen - 15);
  if (litLen <= SHORT_COPY) {
    for (let i = 0; i < litLen; i++) out[op + i] = src[anchor + i];
  } else {
    out.set(src.subarray(anchor, anchor + litLen), op);
  }
  op += litLen;
  out[op++] = offset & 0xff;
  out[op++] = offset >>> 8;
  if (ml >= 15) op = writeLength(out, op, ml - 15);
  return op;
}

function emitLastLiterals(out: Uint8Array, op: number, src: Uint8Array, anchor: number, end: number): number {
  const litLen = end - anchor;
  out[op++] = (litLen >= 15 ? 15 : litLen) << 4;
  if (litLen >= 15) op = writeLength(out, op, litLen - 15);
  out.set(src.subarray(anchor, end), op);
  return op + litLen;
}

/** Worst-case block size for n input bytes (LZ4_compressBound). */
function compressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * Compresses src[start, end) as one independent LZ4 block into out at op; returns the new op.
 * Greedy: hash of the next 4 bytes → last position with that hash; skips faster through
 * incompressible data.
 */
function compressBlock(src: Uint8Array, start: number, end: number, out: Uint8Array, op: number, table: Int32Array): number {
  let anchor = start;
  if (end - start >= MF_LIMIT + 1) {
    table.fill(-1);
    const mfLimit = end - MF_LIMIT;
    const matchLimit = end - LAST_LITERALS;
    let ip = start;
    let searchCount = 1 << 6;
    for (;;) {
      const seq = readU32LE(src, ip);
      const h = hash4(seq);
      const candidate = table[h];
      table[h] = ip;
      if (candidate >= 0 && ip - candidate <= MAX_OFFSET && readU32LE(src, candidate) === seq) {
        let mStart = ip;
        let cStart = candidate;
        while (mStart > anchor && cStart > start && src[mStart - 1] === src[cStart - 1]) {
          mStart--;
          cStart--;
        }
        let mEnd = ip + MIN_MATCH;
        let cEnd = candidate + MIN_MATCH;
        while (mEnd < matchLimit && src[mEnd] === src[cEnd]) {
          mEnd++;
          cEnd++;
        }
        op = emitSequence(out, op, src, anchor, mStart - anchor, mStart - cStart, mEnd - mStart);
        anchor = mEnd;
        ip = mEnd;
        searchCount = 1 << 6;
        if (ip > mfLimit) break;
        // Remember a position inside the match so the next search has something recent.
        table[hash4(readU32LE(src, ip - 2))] = ip - 2;
        continue;
      }
      ip += searchCount++ >> 6;
      if (ip > mfLimit) break;
    }
  }
  return emitLastLiterals(out, op, src, anchor, end);
}

/**
 * Decodes one block from src[ip, ipEnd) into out at op. Matches may reach back to windowStart
 * (the block start for independent blocks, earlier output for linked ones). Writes at most up to
 * outLimit; returns the new op.
 */
function decompressBlock(
  src: Uint8Array,
  ip: number,
  ipEnd: number,
  out: Uint8Array,
  op: number,
  outLimit: number,
  windowStart: number,
): number {
  for (;;) {
    if (ip >= ipEnd) throw new Error(`lz4: block ends without final literals at ${ip}`);
    const token = src[ip++];
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (ip >= ipEnd) throw new Error('lz4: truncated literal length');
        b = src[ip++];
        litLen += b;
      } while (b === 255);
    }
    if (ip + litLen > ipEnd) throw new Error(`lz4: literal of ${litLen} bytes runs past block end`);
    if (op + litLen > outLimit) throw new Error(`lz4: literals overrun block maximum size`);
    if (litLen <= SHORT_COPY) {
      for (let i = 0; i < litLen; i++) out[op + i] = src[ip + i];
    } else {
      out.set(src.subarray(ip, ip + litLen), op);
    }
    ip += litLen;
    op += litLen;
    if (ip === ipEnd) return op;
    if (ip + 2 > ipEnd) throw new Error('lz4: truncated match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || op - offset < windowStart) {
      throw new Error(`lz4: match offset ${offset} points before the window at output ${op}`);
    }
    let matchLen = (token & 15) + MIN_MATCH;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (ip >= ipEnd) throw new Error('lz4: truncated match length');
        b = src[ip++];
        matchLen += b;
      } while (b === 255);
    }
    if (op + matchLen > outLimit) throw new Error(`lz4: match overruns block maximum size`);
    let from = op - offset;
    if (offset >= matchLen && matchLen > SHORT_COPY) {
      out.copyWithin(op, from, from + matchLen);
      op += matchLen;
    } else {
      // Short matches are cheaper byte by byte than through copyWithin; overlapping ones
      // (offset < length) repeat the last `offset` bytes and must go byte by byte anyway.
      for (let i = 0; i < matchLen; i++) out[op++] = out[from++];
    }
  }
}

/** Raw LZ4 block (no frame), for tests and tools. */
export function lz4CompressBlock(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(compressBound(input.length));
  const n = compressBlock(input, 0, input.length, out, 0, new Int32Array(1 << HASH_BITS));
  return out.subarray(0, n);
}

export function lz4DecompressBlock(input: Uint8Array, maxOutput: number): Buffer {
  const out = Buffer.allocUnsafe(Math.min(maxOutput, input.length * MAX_EXPANSION));
  return out.subarray(0, decompressBlock(input, 0, input.length, out, 0, out.length, 0));
}

export interface Lz4FrameOptions {
  /** Block maximum size: 64 KiB (what Kafka's Java client uses) or 4 MiB. */
  blockSize?: 64 | 4096;
}

/** LZ4 frame: independent blocks, no checksums except the header checksum, no content size. */
export function lz4Compress(buf: Buffer, options: Lz4FrameOptions = {}): Buffer {
  const blockMax = (options.blockSize ?? 64) * 1024;
  const bdCode = blockMax === 64 * 1024 ? 4 : 7;
  const blockCount = Math.ceil(buf.length / blockMax);
  const out = Buffer.allocUnsafe(7 + 4 + blockCount * (4 + compressBound(blockMax)));
  out.writeUInt32LE(FRAME_MAGIC, 0);
  out[4] = FLG_VERSION | FLG_BLOCK_INDEPENDENCE;
  out[5] = bdCode << 4;
  out[6] = (xxh32(out, 0, 4, 6) >>> 8) & 0xff;
  let op = 7;
  const table = new Int32Array(1 << HASH_BITS);
  for (let start = 0; start < buf.length; start += blockMax) {
    const end = Math.min(start + blockMax, buf.length);
    const dataStart = op + 4;
    const dataEnd = compressBlock(buf, start, end, out, dataStart, table);
    const compressedLen = dataEnd - dataStart;
    if (compressedLen >= end - start) {
      // Block does not shrink: store it as is, flagged uncompressed.
      buf.copy(out, dataStart, start, end);
      out.writeUInt32LE((BLOCK_UNCOMPRESSED | (end - start)) >>> 0, op);
      op = dataStart + (end - start);
    } else {
      out.writeUInt32LE(compressedLen, op);
      op = dataEnd;
    }
  }
  out.writeUInt32LE(0, op);
  op += 4;
  return out.subarray(0, op);
}

/** Growable output so a frame without a content size does not need to be sized up front. */
class Output {
  buf: Buffer;
  length = 0;
  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(Math.max(initial, 64));
  }
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}

/** Decodes one frame at pos; returns the position after it. Output past maxOutput is refused. */
function decodeFrame(src: Buffer, pos: number, out: Output, maxOutput: number): number {
  if (pos + 7 > src.length) throw new Error(`lz4: truncated frame header at ${pos}`);
  const flg = src[pos + 4];
  const bd = src[pos + 5];
  if ((flg & 0xc0) !== FLG_VERSION) throw new Error(`lz4: unsupported frame version in FLG 0x${flg.toString(16)}`);
  if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw new Error('lz4: reserved frame descriptor bits set');
  const blockMax = BLOCK_MAX_SIZES[(bd >>> 4) & 7];
  if (blockMax === undefined) throw new Error(`lz4: invalid block maximum size code ${(bd >>> 4) & 7}`);
  let descEnd = pos + 6;
  let contentSize = -1;
  if (flg & FLG_CONTENT_SIZE) {
    if (descEnd + 8 > src.length) throw new Error('lz4: truncated content size');
    contentSize = src.readUInt32LE(descEnd) + src.readUInt32LE(descEnd + 4) * 2 ** 32;
    descEnd += 8;
  }
  if (flg & FLG_DICT_ID) {
    // A dictionary would have to be known out of band; Kafka producers never set one.
    throw new Error('lz4: frames needing a dictionary are not supported');
  }
  if (descEnd + 1 > src.length) throw new Error('lz4: truncated frame header checksum');
  const hc = (xxh32(src, 0, pos + 4, descEnd) >>> 8) & 0xff;
  if (src[descEnd] !== hc) throw new Error(`lz4: frame header checksum 0x${src[descEnd].toString(16)} != 0x${hc.toString(16)}`);
  let ip = descEnd + 1;
  if (contentSize > 0) {
    // Trust the declared size only as far as the remaining input could expand to it.
    out.reserve(Math.min(contentSize, (src.length - ip) * MAX_EXPANSION, maxOutput - out.length));
  }
  const independent = (flg & FLG_BLOCK_INDEPENDENCE) !== 0;
  const blockChecksums = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const frameStart = out.length;
  for (;;) {
    if (ip + 4 > src.length) throw new Error(`lz4: truncated block size at ${ip}`);
    const word = src.readUInt32LE(ip);
    ip += 4;
    if (word === 0) break;
    const uncompressed = (word & BLOCK_UNCOMPRESSED) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw new Error(`lz4: block of ${size} bytes exceeds block maximum ${blockMax}`);
    if (ip + size + (blockChecksums ? 4 : 0) > src.length) throw new Error(`lz4: block at ${ip} runs past input end`);
    if (blockChecksums) {
      const expected = src.readUInt32LE(ip + size);
      if (xxh32(src, 0, ip, ip + size) !== expected) throw new Error(`lz4: block checksum mismatch at ${ip}`);
    }
    if (uncompressed) {
      out.reserve(size);
      src.copy(out.buf, out.length, ip, ip + size);
      out.length += size;
    } else {
      const limit = Math.min(blockMax, size * MAX_EXPANSION);
      out.reserve(limit);
      // Linked blocks may copy from up to 64 KiB of this frame's earlier output.
      const windowStart = independent ? out.length : frameStart;
      out.length = decompressBlock(src, ip, ip + size, out.buf, out.length, out.length + limit, windowStart);
    }
    ip += size + (blockChecksums ? 4 : 0);
    if (out.length > maxOutput) throw new OutputLimitError(maxOutput);
  }
  const produced = out.length - frameStart;
  if (contentSize >= 0 && produced !== contentSize) {
    throw new Error(`lz4: frame decoded to ${produced} bytes, content size says ${contentSize}`);
  }
  if (flg & FLG_CONTENT_CHECKSUM) {
    if (ip + 4 > src.length) throw new Error('lz4: truncated content checksum');
    if (xxh32(out.buf, 0, frameStart, out.length) !== src.readUInt32LE(ip)) throw new Error('lz4: content checksum mismatch');
    ip += 4;
  }
  return ip;
}

/**
 * Reads one or more concatenated LZ4 frames (skippable frames are stepped over). With
 * `maxOutput`, decoding stops with an error once the output passes that many bytes (at most one
 * block more is ever allocated).
 */
export function lz4Decompress(buf: Buffer, maxOutput = Infinity): Buffer {
  if (buf.length < 4) throw new Error(`lz4: ${buf.length} bytes is too short for a frame`);
  const out = new Output(Math.min(buf.length * 2, maxOutput));
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 4 > buf.length) throw new Error(`lz4: trailing ${buf.length - pos} bytes after frame`);
    const magic = buf.readUInt32LE(pos);
    if (magic === FRAME_MAGIC) {
      pos = decodeFrame(buf, pos, out, maxOutput);
    } else if (((magic & SKIPPABLE_MAGIC_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      if (pos + 8 > buf.length) throw new Error('lz4: truncated skippable frame');
      pos += 8 + buf.readUInt32LE(pos + 4);
      if (pos > buf.length) throw new Error('lz4: skippable frame runs past input end');
    } else {
      throw new Error(`lz4: bad frame magic 0x${magic.toString(16)} at ${pos}`);
    }
  }
  return out.buf.subarray(0, out.length);
}
