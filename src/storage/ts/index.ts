// storage/ room (ts engine): the pure-TypeScript StorageEngine, the fallback when the native
// addon is missing and the reference the native engine is compared against.
import { Codec, LogConfig, OpenOptions, PartitionLog, StorageEngine, effectiveMaxOpenSegmentFiles } from '../engine.js';
import { defaultStorageLogger, type StorageLogger } from '../logger.js';
import { compress, decompress, setZstdLogger } from './codec.js';
import { crc32c } from './crc32c.js';
import { TsPartitionLog } from './log.js';
import { openSegmentFiles, segmentLeases, setLeaseLogger, setMaxOpenSegmentFiles } from './segment.js';

/** The TS engine, warning through `logger` (by default pino on stderr, looked up at first warning). */
export function createTsEngine(logger?: StorageLogger): StorageEngine {
  if (logger !== undefined) {
    setZstdLogger(logger);
    setLeaseLogger(logger);
  }
  return {
    name: 'ts',
    openLog(dir: string, config: LogConfig, options?: OpenOptions): Promise<PartitionLog> {
      return TsPartitionLog.open(dir, config, options, logger ?? defaultStorageLogger());
    },
    compress(codec: Codec, data: Buffer): Buffer {
      return compress(codec, data);
    },
    decompress(codec: Codec, data: Buffer): Buffer {
      return decompress(codec, data);
    },
    crc32c(data: Buffer): number {
      return crc32c(data);
    },
    setMaxOpenSegmentFiles(limit: number): void {
      setMaxOpenSegmentFiles(effectiveMaxOpenSegmentFiles(limit));
    },
    openSegmentFiles(): number {
      return openSegmentFiles();
    },
    segmentLeases(): { held: number; expired: number } {
      return segmentLeases();
    },
  };
}

/** The TS engine with the default logger, for tools and tests. */
export const tsEngine: StorageEngine = createTsEngine();

export { crc32c, TsPartitionLog };
