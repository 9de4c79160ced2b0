// storage/ room (ts engine): the four Kafka compression codecs behind one switch.
// gzip via node:zlib, zstd via zstd-napi (its Decompressor falls back to streaming for frames
// without a content size, which some producers write), snappy and lz4 from ./codecs/.
// zstd-napi is itself a native addon, so it is loaded on first use: where it cannot load, this
// engine still runs and zstd batches get UNSUPPORTED_COMPRESSION_TYPE, with the reason logged once.
// decompressBounded is what record validation uses on append: it never sizes a buffer from a
// length the data declares beyond its limit, and stops once the output passes it.
import { createRequire } from 'node:module';
import { gunzip, gunzipSync, gzipSync } from 'node:zlib';
import type * as ZstdApi from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { Codec, StorageError, StorageErrorCode } from '../engine.js';
import { defaultStorageLogger, type StorageLogger } from '../logger.js';
import { OutputLimitError } from './codecs/limit.js';
import { lz4Compress, lz4Decompress } from './codecs/lz4.js';
import { snappyCompress, snappyDecompress } from './codecs/snappy.js';

export { OutputLimitError };

interface Zstd {
  api: typeof ZstdApi;
  binding: typeof ZstdBinding;
}

/** undefined: not tried yet; an Error: the load failed (kept, so the reason is logged once). */
let zstdLoaded: Zstd | Error | undefined;
let zstdLogger: StorageLogger | undefined;

/** Where the one "zstd unavailable" warning goes; the engine passes the broker's logger. */
export function setZstdLogger(logger: StorageLogger): void {
  zstdLogger ??= logger;
}

/** Loads zstd-napi once; null (after one warning) when it cannot load here. */
function loadZstd(): Zstd | null {
  if (zstdLoaded === undefined) {
    const require = createRequire(import.meta.url);
    try {
      zstdLoaded = { api: require('zstd-napi') as typeof ZstdApi, binding: require('zstd-napi/binding.js') as typeof ZstdBinding };
    } catch (err) {
      zstdLoaded = err instanceof Error ? err : new Error(String(err));
      (zstdLogger ?? defaultStorageLogger()).warn(
        { reason: zstdLoaded.message.split('\n')[0] },
        'zstd-napi cannot load: zstd batches are refused with UNSUPPORTED_COMPRESSION_TYPE',
      );
    }
  }
  return zstdLoaded instanceof Error ? null : zstdLoaded;
}

/** The reason zstd is unavailable, or null when zstd-napi loads (tries the load once). */
export function zstdUnavailableReason(): string | null {
  return loadZstd() === null ? (zstdLoaded as Error).message.split('\n')[0] : null;
}

function requireZstd(): Zstd {
  const zstd = loadZstd();
  if (zstd === null) {
    throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'zstd is not available: zstd-napi did not load');
  }
  return zstd;
}

export function compress(codec: Codec, data: Buffer): Buffer {
  switch (codec) {
    case Codec.none:
      return data;
    case Codec.gzip:
      return gzipSync(data);
    case Codec.snappy:
      return snappyCompress(data);
    case Codec.lz4:
      return lz4Compress(data);
    case Codec.zstd:
      return requireZstd().api.compress(data);
    default:
      throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${String(codec)}`);
  }
}

export function decompress(codec: Codec, data: Buffer): Buffer {
  // Outside the try: a missing codec is UNSUPPORTED_COMPRESSION_TYPE, not corrupt data.
  const zstd = codec === Codec.zstd ? requireZstd() : null;
  try {
    switch (codec) {
      case Codec.none:
        return data;
      case Codec.gzip:
        return gunzipSync(data);
      case Codec.snappy:
        return snappyDecompress(data);
      case Codec.lz4:
        return lz4Decompress(data);
      case Codec.zstd:
        return (zstd ?? requireZstd()).api.decompress(data);
    }
  } catch (err) {
    // A codec library's own error says nothing Kafka-shaped; the broker needs CORRUPT_MESSAGE.
    throw new StorageError(StorageErrorCode.CORRUPT_MESSAGE, `cannot decompress codec ${codec}: ${(err as Error).message}`);
  }
  throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${String(codec)}`);
}

/** One zstd context for every bounded decompression (the engine runs on the JS thread only). */
let zstdContext: ZstdBinding.DCtx | null = null;
/** First output buffer of a zstd decompression; it doubles as needed, up to the limit. */
const ZSTD_FIRST_OUTPUT = 64 * 1024;

/**
 * Streams the frames of `data` through a reused context into a buffer that grows with the actual
 * output. The same rules as the native engine's ZstdStream: the data ends at a frame boundary,
 * bytes after a frame must be another frame.
 */
function zstdDecompressBounded(binding: typeof ZstdBinding, data: Buffer, limit: number): Buffer {
  zstdContext ??= new binding.DCtx();
  const dctx = zstdContext;
  dctx.reset(binding.ResetDirective.sessionOnly);
  let out = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(ZSTD_FIRST_OUTPUT, data.length * 4)));
  let produced = 0;
  let pos = 0;
  let pending = 0;
  for (;;) {
    if (pos === data.length && pending === 0) return out.subarray(0, produced);
    if (produced === out.length) {
      // One byte of room past the limit tells "exactly the limit" from "more than the limit".
      if (out.length > limit) throw new OutputLimitError(limit);
      const next = Buffer.allocUnsafe(Math.min(out.length * 2, limit + 1));
      out.copy(next, 0, 0, produced);
      out = next;
    }
    const [hint, wrote, read] = dctx.decompressStream(out.subarray(produced), data.subarray(pos));
    produced += wrote;
    pos += read;
    pending = hint;
    if (produced > limit) throw new OutputLimitError(limit);
    if (wrote === 0 && read === 0) {
      if (hint === 0 && pos === data.length) return out.subarray(0, produced);
      throw new Error(pos === data.length ? 'zstd: data ends inside a frame' : `zstd: no progress at byte ${pos}`);
    }
  }
}

/**
 * Decompresses `data`, refusing output past `limit` bytes with OutputLimitError. Other codec
 * failures throw the codec's own Error (the caller decides what they mean); zstd where zstd-napi
 * cannot load throws StorageError UNSUPPORTED_COMPRESSION_TYPE.
 */
export function decompressBounded(codec: Codec, data: Buffer, limit: number): Buffer {
  switch (codec) {
    case Codec.none:
      return data;
    case Codec.gzip:
      try {
        return gunzipSync(data, { maxOutputLength: limit });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new OutputLimitError(limit);
        throw err;
      }
    case Codec.snappy:
      return snappyDecompress(data, limit);
    case Codec.lz4:
      return lz4Decompress(data, limit);
    case Codec.zstd:
      return zstdDecompressBounded(requireZstd().binding, data, limit);
  }
  throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${String(codec)}`);
}

/** Output per zstd step of decompressBoundedAsync: the event loop turns between steps. */
const ASYNC_STEP = 1024 * 1024;

/**
 * decompressBounded without holding the event loop for the whole output: gzip runs on the libuv
 * pool (node:zlib), zstd in steps of ASYNC_STEP output bytes with a yield between them, snappy and
 * lz4 (pure JS, bounded by `limit`) as decompressBounded. Same errors.
 */
export async function decompressBoundedAsync(codec: Codec, data: Buffer, limit: number): Promise<Buffer> {
  switch (codec) {
    case Codec.gzip:
      return new Promise((resolve, reject) => {
        gunzip(data, { maxOutputLength: limit }, (err, out) => {
          if (err === null) resolve(out);
          else reject((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? new OutputLimitError(limit) : err);
        });
      });
    case Codec.zstd:
      return zstdDecompressBoundedAsync(requireZstd().binding, data, limit);
    default:
      return decompressBounded(codec, data, limit);
  }
}

/** zstdDecompressBounded in steps, with a context of its own (steps of calls interleave). */
async function zstdDecompressBoundedAsync(binding: typeof ZstdBinding, data: Buffer, limit: number): Promise<Buffer> {
  const dctx = new binding.DCtx();
  let out = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(ZSTD_FIRST_OUTPUT, data.length * 4)));
  let produced = 0;
  let pos = 0;
  let pending = 0;
  let sinceYield = 0;
  for (;;) {
    if (pos === data.length && pending === 0) return out.subarray(0, produced);
    if (produced === out.length) {
      if (out.length > limit) throw new OutputLimitError(limit);
      const next = Buffer.allocUnsafe(Math.min(out.length * 2, limit + 1));
      out.copy(next, 0, 0, produced);
      out = next;
    }
    const room = out.subarray(produced, Math.min(out.length, produced + ASYNC_STEP));
    const [hint, wrote, read] = dctx.decompressStream(room, data.subarray(pos));
    produced += wrote;
    pos += read;
    pending = hint;
    if (produced > limit) throw new OutputLimitError(limit);
    if (wrote === 0 && read === 0) {
      if (hint === 0 && pos === data.length) return out.subarray(0, produced);
      throw new Error(pos === data.length ? 'zstd: data ends inside a frame' : `zstd: no progress at byte ${pos}`);
    }
    sinceYield += wrote;
    if (sinceYield >= ASYNC_STEP) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
