// storage/ room: snappy codec for v2 batches (attributes codec 2), pure TypeScript.
// Kafka's Java producer writes snappy-java's "xerial" stream framing; other clients (librdkafka
// with some settings, older Go clients) write plain raw snappy, so decompression accepts both.

/** snappy-java stream header: magic, then int32 version 1 and int32 compatible version 1. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's SnappyOutputStream default block size, which Kafka uses unchanged. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

/** The reference compressor's fragment size: hash-table positions and copy offsets stay < 64 KiB. */
const FRAGMENT_SIZE = 64 * 1024;
const HASH_BITS = 14;
/** No match is searched for in the last bytes: a 4-byte load must stay in bounds. */
const INPUT_MARGIN = 15;
/** Largest output one input byte can yield: a 3-byte copy-2 tag emits 64 bytes (21.3x). */
const MAX_EXPANSION = 22;
/** Below this many bytes a JS byte loop beats the native memcpy call behind set/copyWithin. */
const SHORT_COPY = 32;

const TAG_LITERAL = 0;
const TAG_COPY_1 = 1;
const TAG_COPY_2 = 2;
const TAG_COPY_4 = 3;

function load32(src: Uint8Array, i: number): number {
  return src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24);
}

function hash32(v: number): number {
  return Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

/** Worst case raw snappy size for n input bytes, as the reference MaxCompressedLength. */
function maxCompressedLength(n: number): number {
  return 32 + n + Math.ceil(n / 6);
}

function writeVarint32(out: Uint8Array, pos: number, v: number): number {
  let value = v >>> 0;
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
  return pos;
}

function emitLiteral(out: Uint8Array, op: number, src: Uint8Array, start: number, len: number): number {
  const n = len - 1;
  if (n < 60) {
    out[op++] = (n << 2) | TAG_LITERAL;
  } else if (n < 0x100) {
    out[op++] = (60 << 2) | TAG_LITERAL;
    out[op++] = n;
  } else if (n < 0x10000) {
    out[op++] = (61 << 2) | TAG_LITERAL;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  } else if (n < 0x1000000) {
    out[op++] = (62 << 2) | TAG_LITERAL;
    out[op++] = n & 0xff;
    out[op++] = (n >>> 8) & 0xff;
    out[op++] = n >>> 16;
  } else {
    out[op++] = (63 << 2) | TAG_LITERAL;
    out[op++] = n & 0xff;
    out[op++] = (n >>> 8) & 0xff;
    out[op++] = (n >>> 16) & 0xff;
    out[op++] = n >>> 24;
  }
  if (len <= SHORT_COPY) {
    for (let i = 0; i < len; i++) out[op + i] = src[start + i];
  } else {
    out.set(src.subarray(start, start + len), op);
  }
  return op + len;
}

/** One copy element, 1..64 bytes long. */
function emitCopyUpTo64(out: Uint8Array, op: number, offset: number, len: number): number {
  if (len >= 4 && len <= 11 && offset < 2048) {
    out[op++] = TAG_COPY_1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
    out[op++] = offset & 0xff;
  } else if (offset < 0x10000) {
    out[op++] = TAG_COPY_2 | ((len - 1) << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
  } else {
    out[op++] = TAG_COPY_4 | ((len - 1) << 2);
    out[op++] = offset & 0xff;
    out[op++] = (offset >>> 8) & 0xff;
    out[op++] = (offset >>> 16) & 0xff;
    out[op++] = offset >>> 24;
  }
  return op;
}

function emitCopy(out: Uint8Array, op: number, offset: number, len: number): number {
  // Leave at least 4 bytes for the last piece so it can still use the short copy-1 form.
  while (len >= 68) {
    op = emitCopyUpTo64(out, op, offset, 64);
    len -= 64;
  }
  if (len > 64) {
    op = emitCopyUpTo64(out, op, offset, 60);
    len -= 60;
  }
  return emitCopyUpTo64(out, op, offset, len);
}

/** Greedy hash-table matcher over src[start, end), one fragment (< 64 KiB). */
function compressFragment(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  op: number,
  table: Int32Array,
): number {
  const len = end - start;
  let nextEmit = start;
  if (len >= INPUT_MARGIN) {
    table.fill(start);
    const ipLimit = end - INPUT_MARGIN;
    let ip = start + 1;
    search: for (;;) {
      // Skip faster through data that does not match: every 32 misses, widen the stride by one.
      let skip = 32;
      let nextIp = ip;
      let candidate: number;
      do {
        ip = nextIp;
        nextIp = ip + (skip++ >> 5);
        if (nextIp > ipLimit) break search;
        const h = hash32(load32(src, ip));
        candidate = table[h];
        table[h] = ip;
      } while (load32(src, ip) !== load32(src, candidate));

      op = emitLiteral(out, op, src, nextEmit, ip - nextEmit);
      // Emit copies back to back while the position right after a copy matches again.
      for (;;) {
        const base = ip;
        let matched = 4;
        while (ip + matched < end && src[candidate + matched] === src[ip + matched]) matched++;
        ip += matched;
        op = emitCopy(out, op, base - candidate, matched);
        nextEmit = ip;
        if (ip >= ipLimit) break search;
        table[hash32(load32(src, ip - 1))] = ip - 1;
        const h = hash32(load32(src, ip));
        candidate = table[h];
        table[h] = ip;
        if (load32(src, ip) !== load32(src, candidate)) break;
      }
      ip++;
    }
  }
  if (nextEmit < end) op = emitLiteral(out, op, src, nextEmit, end - nextEmit);
  return op;
}

/** Writes one raw snappy block for src[start, end) at out[op]; returns the new op. */
function compressRawInto(src: Uint8Array, start: number, end: number, out: Uint8Array, op: number, table: Int32Array): number {
  op = writeVarint32(out, op, end - start);
  for (let from = start; from < end; from += FRAGMENT_SIZE) {
    op = compressFragment(src, from, Math.min(from + FRAGMENT_SIZE, end), out, op, table);
  }
  return op;
}

/** Raw snappy block: varint uncompressed length, then elements. */
export function snappyCompressRaw(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(maxCompressedLength(input.length));
  const op = compressRawInto(input, 0, input.length, out, 0, new Int32Array(1 << HASH_BITS));
  return out.subarray(0, op);
}

/** Declared uncompressed length and the position of the first element. */
function readPreamble(src: Uint8Array, start: number, end: number): { length: number; pos: number } {
  let length = 0;
  let pos = start;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw new Error('snappy: truncated length preamble');
    const b = src[pos++];
    length += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) {
      if (length > 0xffffffff) throw new Error(`snappy: uncompressed length ${length} exceeds 32 bits`);
      return { length, pos };
    }
  }
  throw new Error('snappy: length preamble longer than 5 bytes');
}

/**
 * Declared length of the raw block in src[start, end). A length the input could never produce is
 * corrupt; refusing it before allocating keeps a few bytes of garbage from claiming gigabytes.
 */
function declaredLength(src: Uint8Array, start: number, end: number): { length: number; pos: number } {
  const preamble = readPreamble(src, start, end);
  if (preamble.length > (end - preamble.pos) * MAX_EXPANSION) {
    throw new Error(`snappy: declared length ${preamble.length} impossible for ${end - preamble.pos} compressed bytes`);
  }
  return preamble;
}

/**
 * Decodes the raw block in src[start, end) into out at outStart and returns its length; copies
 * may not reach before outStart and output is capped at the declared length.
 */
function decompressRawInto(src: Uint8Array, start: number, end: number, out: Uint8Array, outStart: number): number {
  const { length: declared, pos } = declaredLength(src, start, end);
  const length = outStart + declared;
  let ip = pos;
  let op = outStart;
  while (ip < end) {
    const tag = src[ip++];
    const kind = tag & 3;
    if (kind === TAG_LITERAL) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (ip + extra > end) throw new Error(`snappy: truncated literal length at input ${ip}`);
        n = 0;
        for (let i = 0; i < extra; i++) n += src[ip + i] * 2 ** (8 * i);
        ip += extra;
      }
      const litLen = n + 1;
      if (ip + litLen > end) throw new Error(`snappy: literal of ${litLen} bytes runs past input end`);
      if (op + litLen > length) throw new Error(`snappy: literal overruns declared length ${declared}`);
      if (litLen <= SHORT_COPY) {
        for (let i = 0; i < litLen; i++) out[op + i] = src[ip + i];
      } else {
        out.set(src.subarray(ip, ip + litLen), op);
      }
      ip += litLen;
      op += litLen;
      continue;
    }
    let copyLen: number;
    let offset: number;
    if (kind === TAG_COPY_1) {
      if (ip + 1 > end) throw new Error('snappy: truncated copy-1');
      copyLen = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[ip];
      ip += 1;
    } else if (kind === TAG_COPY_2) {
      if (ip + 2 > end) throw new Error('snappy: truncated copy-2');
      copyLen = (tag >>> 2) + 1;
      offset = src[ip] | (src[ip + 1] << 8);
      ip += 2;
    } else {
      if (ip + 4 > end) throw new Error('snappy: truncated copy-4');
      copyLen = (tag >>> 2) + 1;
      offset = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24)) >>> 0;
      ip += 4;
    }
    if (offset === 0 || offset > op - outStart) throw new Error(`snappy: copy offset ${offset} invalid at output ${op - outStart}`);
    if (op + copyLen > length) throw new Error(`snappy: copy overruns declared length ${declared}`);
    if (offset >= copyLen && copyLen > SHORT_COPY) {
      out.copyWithin(op, op - offset, op - offset + copyLen);
      op += copyLen;
    } else {
      // Short copies are cheaper byte by byte than through copyWithin; overlapping ones (offset
      // < length) repeat the last `offset` bytes and must go byte by byte anyway.
      for (let i = 0; i < copyLen; i++, op++) out[op] = out[op - offset];
    }
  }
  if (op !== length) throw new Error(`snappy: decoded ${op - outStart} bytes, declared ${declared}`);
  return declared;
}

export function snappyDecompressRaw(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(declaredLength(input, 0, input.length).length);
  decompressRawInto(input, 0, input.length, out, 0);
  return out;
}

function isXerialHeaderAt(buf: Uint8Array, pos: number): boolean {
  if (buf.length - pos < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (buf[pos + i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** Kafka's snappy: xerial stream header, then [int32 BE length][raw snappy] per 32 KiB block. */
export function snappyCompress(buf: Buffer): Buffer {
  const blocks = Math.ceil(buf.length / XERIAL_BLOCK_SIZE);
  const out = Buffer.allocUnsafe(XERIAL_HEADER_SIZE + blocks * (4 + maxCompressedLength(XERIAL_BLOCK_SIZE)));
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(1, 8);
  out.writeInt32BE(1, 12);
  let op = XERIAL_HEADER_SIZE;
  const table = new Int32Array(1 << HASH_BITS);
  for (let start = 0; start < buf.length; start += XERIAL_BLOCK_SIZE) {
    const blockEnd = compressRawInto(buf, start, Math.min(start + XERIAL_BLOCK_SIZE, buf.length), out, op + 4, table);
    out.writeInt32BE(blockEnd - op - 4, op);
    op = blockEnd;
  }
  return out.subarray(0, op);
}

/**
 * Accepts xerial framing (what Kafka's Java client writes) or one plain raw snappy block. With
 * `maxOutput`, a payload declaring more than that many bytes is refused before anything is
 * allocated for it.
 */
export function snappyDecompress(buf: Buffer, maxOutput = Infinity): Buffer {
  if (!isXerialHeaderAt(buf, 0)) {
    const declared = declaredLength(buf, 0, buf.length).length;
    if (declared > maxOutput) throw new Error(`snappy: block declares ${declared} bytes, more than the ${maxOutput} left of the limit`);
    return snappyDecompressRaw(buf);
  }
  // First pass: validate the block framing and add up the declared lengths, so the output is
  // allocated once and each block decodes straight into its place.
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  while (pos < buf.length) {
    // snappy-java reads concatenated streams: a header may follow a block. It cannot be mistaken
    // for a block length, which would start with 0x82 and so be negative.
    if (isXerialHeaderAt(buf, pos)) {
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (pos + 4 > buf.length) throw new Error(`snappy: truncated xerial block length at ${pos}`);
    const blockLen = buf.readInt32BE(pos);
    pos += 4;
    if (blockLen < 0 || pos + blockLen > buf.length) {
      throw new Error(`snappy: xerial block of ${blockLen} bytes at ${pos} runs past input end`);
    }
    const declared = declaredLength(buf, pos, pos + blockLen).length;
    if (declared > maxOutput - total) {
      throw new Error(`snappy: block declares ${declared} bytes, more than the ${maxOutput - total} left of the limit`);
    }
    total += declared;
    pos += blockLen;
  }
  const out = Buffer.allocUnsafe(total);
  let op = 0;
  for (pos = XERIAL_HEADER_SIZE; pos < buf.length; ) {
    if (isXerialHeaderAt(buf, pos)) {
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    const blockLen = buf.readInt32BE(pos);
    op += decompressRawInto(buf, pos + 4, pos + 4 + blockLen, out, op);
    pos += 4 + blockLen;
  }
  return out;
}
