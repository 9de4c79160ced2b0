// storage/ room (ts engine): v2 record-batch validation (layout in src/records/; the records inside
// each batch are checked by records.ts), and the record walk needed for timestamp lookups.
// Batches stay Buffers.
import { Codec, StorageError, StorageErrorCode, maxDecompressedBytes } from '../engine.js';
import { OutputLimitError, decompressBounded, decompressBoundedAsync } from './codec.js';
import { crc32c } from './crc32c.js';
import { validateRecords, type RecordRules } from './records.js';

export {
  BASE_OFFSET,
  BATCH_LENGTH,
  PARTITION_LEADER_EPOCH,
  MAGIC,
  CRC,
  ATTRIBUTES,
  LAST_OFFSET_DELTA,
  BASE_TIMESTAMP,
  MAX_TIMESTAMP,
  PRODUCER_ID,
  PRODUCER_EPOCH,
  BASE_SEQUENCE,
  RECORDS_COUNT,
  HEADER_SIZE,
  LOG_OVERHEAD,
  ATTR_CODEC_MASK,
  ATTR_LOG_APPEND_TIME,
  ATTR_TRANSACTIONAL,
  ATTR_CONTROL,
  readInt64,
  writeInt64,
} from '../../records/batch-layout.js';
import { ATTRIBUTES, ATTR_CODEC_MASK, ATTR_LOG_APPEND_TIME, BASE_OFFSET, BASE_TIMESTAMP, BATCH_LENGTH, CRC, HEADER_SIZE, LAST_OFFSET_DELTA, LOG_OVERHEAD, MAGIC, MAX_TIMESTAMP, RECORDS_COUNT, readInt64 } from '../../records/batch-layout.js';

/**
 * Checks every batch of a produce buffer, and the records in it, against docs/storage-format.md,
 * in the documented order, and returns the batch start positions. Throws StorageError on the
 * first bad batch.
 */
export function validateBatches(batches: Buffer, maxMessageBytes: number, rules: RecordRules, where: string): number[] {
  if (batches.length === 0) {
    throw new StorageError(StorageErrorCode.INVALID_RECORD, `${where}: empty record set`);
  }
  const positions: number[] = [];
  let pos = 0;
  while (pos < batches.length) {
    const remaining = batches.length - pos;
    if (remaining < HEADER_SIZE) {
      throw new StorageError(
        StorageErrorCode.CORRUPT_MESSAGE,
        `${where}: ${remaining} trailing bytes at position ${pos}, less than a batch header (${HEADER_SIZE})`,
        { batchPosition: pos },
      );
    }
    const magic = batches.readInt8(pos + MAGIC);
    if (magic !== 2) {
      throw new StorageError(StorageErrorCode.CORRUPT_MESSAGE, `${where}: batch at position ${pos} has magic ${magic}, only 2 is supported`, {
        batchPosition: pos,
      });
    }
    const size = batches.readInt32BE(pos + BATCH_LENGTH) + LOG_OVERHEAD;
    if (size < HEADER_SIZE || size > remaining) {
      throw new StorageError(
        StorageErrorCode.CORRUPT_MESSAGE,
        `${where}: batch at position ${pos} declares ${size} bytes, ${remaining} available`,
        { batchPosition: pos },
      );
    }
    if (size > maxMessageBytes) {
      throw new StorageError(
        StorageErrorCode.MESSAGE_TOO_LARGE,
        `${where}: batch at position ${pos} is ${size} bytes, larger than max.message.bytes ${maxMessageBytes}`,
        { batchPosition: pos },
      );
    }
    const stored = batches.readUInt32BE(pos + CRC);
    const computed = crc32c(batches, pos + ATTRIBUTES, pos + size);
    if (stored !== computed) {
      throw new StorageError(
        StorageErrorCode.CORRUPT_MESSAGE,
        `${where}: batch at position ${pos} has CRC ${stored}, computed ${computed}`,
        { batchPosition: pos },
      );
    }
    const codec = batches.readInt16BE(pos + ATTRIBUTES) & ATTR_CODEC_MASK;
    if (codec > Codec.zstd) {
      throw new StorageError(StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `${where}: batch at position ${pos} uses codec ${codec}`, {
        batchPosition: pos,
      });
    }
    const count = batches.readInt32BE(pos + RECORDS_COUNT);
    const lastOffsetDelta = batches.readInt32BE(pos + LAST_OFFSET_DELTA);
    // A follower takes what a cleaned leader log holds: fewer records than offsets, even none.
    const countOk = rules.sparseOffsets === true ? count >= 0 && lastOffsetDelta >= 0 && count <= lastOffsetDelta + 1 : count > 0 && count === lastOffsetDelta + 1;
    if (!countOk) {
      throw new StorageError(
        StorageErrorCode.INVALID_RECORD,
        `${where}: batch at position ${pos} has recordsCount ${count} and lastOffsetDelta ${lastOffsetDelta}`,
        { batchPosition: pos },
      );
    }
    // An empty batch (Kafka's writeEmptyHeader, kept by the cleaner for producer state) has no
    // records to walk, whatever codec it names.
    if (count > 0 || size > HEADER_SIZE) validateRecords(batches, pos, size, rules, where);
    positions.push(pos);
    pos += size;
  }
  return positions;
}

/** True when the whole batch at `pos` of `buf` is structurally sound and its CRC matches. */
export function isValidBatchAt(buf: Buffer, pos: number, size: number): boolean {
  if (buf.readInt8(pos + MAGIC) !== 2 || size < HEADER_SIZE) return false;
  return buf.readUInt32BE(pos + CRC) === crc32c(buf, pos + ATTRIBUTES, pos + size);
}

class VarintReader {
  pos: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  /** Zig-zag varlong; arithmetic instead of 32-bit ops so deltas beyond 2^31 survive. */
  varlong(): number {
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new RangeError('varint runs past the end of the records');
      const b = this.buf[this.pos++];
      raw += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      scale *= 128;
    }
    throw new RangeError('varint longer than 10 bytes');
  }
}

export interface RecordPosition {
  offset: number;
  timestamp: number;
}

/**
 * Calls `visit` with each record's offset and timestamp until it returns true; returns that record.
 * Only the fields in front of the key are decoded.
 */
export function findRecord(batch: Buffer, visit: (r: RecordPosition) => boolean): RecordPosition | null {
  const codec = (batch.readInt16BE(ATTRIBUTES) & ATTR_CODEC_MASK) as Codec;
  const body = codec === Codec.none ? batch.subarray(HEADER_SIZE) : decompressStored(codec, batch);
  return scanRecords(batch, body, visit);
}

/** findRecord with the decompression off the event loop (gzip) or in steps (zstd). */
export async function findRecordAsync(batch: Buffer, visit: (r: RecordPosition) => boolean): Promise<RecordPosition | null> {
  const codec = (batch.readInt16BE(ATTRIBUTES) & ATTR_CODEC_MASK) as Codec;
  if (codec === Codec.none) return scanRecords(batch, batch.subarray(HEADER_SIZE), visit);
  let body: Buffer;
  try {
    body = await decompressBoundedAsync(codec, batch.subarray(HEADER_SIZE), maxDecompressedBytes(batch.length));
  } catch (err) {
    throw storedError(err);
  }
  return scanRecords(batch, body, visit);
}

function scanRecords(batch: Buffer, body: Buffer, visit: (r: RecordPosition) => boolean): RecordPosition | null {
  const baseOffset = readInt64(batch, BASE_OFFSET);
  const attributes = batch.readInt16BE(ATTRIBUTES);
  const maxTimestamp = readInt64(batch, MAX_TIMESTAMP);
  const count = batch.readInt32BE(RECORDS_COUNT);
  if (count <= 0) return null;
  // Every record of a LogAppendTime batch carries the batch's maxTimestamp. Offsets come from the
  // records' deltas: a cleaned batch has gaps.
  const logAppendTime = (attributes & ATTR_LOG_APPEND_TIME) !== 0;
  const baseTimestamp = readInt64(batch, BASE_TIMESTAMP);
  const reader = new VarintReader(body, 0);
  for (let i = 0; i < count && reader.pos < body.length; i++) {
    const length = reader.varlong();
    const end = reader.pos + length;
    reader.pos += 1; // record attributes
    const timestampDelta = reader.varlong();
    const offsetDelta = reader.varlong();
    const r = { offset: baseOffset + offsetDelta, timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta };
    if (visit(r)) return r;
    reader.pos = end;
  }
  return null;
}

/**
 * The records of a stored compressed batch, within the decompressed-size limit append validation
 * applies: a stored batch passed it, so more means the disk changed under it (CORRUPT_MESSAGE).
 */
function decompressStored(codec: Codec, batch: Buffer): Buffer {
  try {
    return decompressBounded(codec, batch.subarray(HEADER_SIZE), maxDecompressedBytes(batch.length));
  } catch (err) {
    throw storedError(err);
  }
}

function storedError(err: unknown): unknown {
  if (err instanceof OutputLimitError) {
    return new StorageError(StorageErrorCode.CORRUPT_MESSAGE, `stored batch: the records decompress to more than ${String(err.limit)} bytes`);
  }
  return err;
}
