// storage/ room (ts engine): the four Kafka compression codecs behind one switch.
// gzip via node:zlib, zstd via zstd-napi (its Decompressor falls back to streaming for frames
// without a content size, which some producers write), snappy and lz4 from ./codecs/.
import { gunzipSync, gzipSync } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import { Codec, StorageError, StorageErrorCode } from '../engine.js';
import { lz4Compress, lz4Decompress } from './codecs/lz4.js';
import { snappyCompress, snappyDecompress } from './codecs/snappy.js';

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
      return zstdCompress(data);
    default:
      throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${String(codec)}`);
  }
}

export function decompress(codec: Codec, data: Buffer): Buffer {
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
        return zstdDecompress(data);
    }
  } catch (err) {
    // A codec library's own error says nothing Kafka-shaped; the broker needs CORRUPT_MESSAGE.
    throw new StorageError(StorageErrorCode.CORRUPT_MESSAGE, `cannot decompress codec ${codec}: ${(err as Error).message}`);
  }
  throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${String(codec)}`);
}
