// storage/ room (ts engine): record-level validation of a batch on append (Kafka's DefaultRecord
// parsing and LogValidator record checks), the same rules and messages as native/src/records.rs
// (docs/storage-format.md, "Append" step 1). Compressed records are decompressed with a bound
// first (decompressBounded), then walked; nothing is allocated per record.
import { Codec, StorageError, StorageErrorCode, maxDecompressedBytes } from '../engine.js';
import {
  ATTRIBUTES,
  ATTR_CODEC_MASK,
  ATTR_LOG_APPEND_TIME,
  BASE_TIMESTAMP,
  HEADER_SIZE,
  LAST_OFFSET_DELTA,
  MAX_TIMESTAMP,
  RECORDS_COUNT,
  readInt64,
} from '../../records/batch-layout.js';
import { OutputLimitError, decompressBounded } from './codec.js';

/** The smallest record: length, attributes, timestamp delta, offset delta, key and value lengths, header count. */
const MIN_RECORD_BYTES = 7;
/** Kafka's RecordBatch.NO_TIMESTAMP. */
const NO_TIMESTAMP = -1;

/** message.timestamp.before.max.ms / after.max.ms for CreateTime records of a leader append. */
export interface TimestampRange {
  now: number;
  beforeMaxMs: number;
  afterMaxMs: number;
}

/** What the records of an append must satisfy beyond being well formed. */
export interface RecordRules {
  /** cleanup.policy contains compact: every record needs a key. */
  compacted: boolean;
  timestamps: TimestampRange | null;
  /**
   * A follower append of possibly compacted data: record offset deltas need only increase and
   * stay <= lastOffsetDelta (docs/storage-format.md, "Follower append of compacted data").
   */
  sparseOffsets?: boolean;
}

export const WELL_FORMED_ONLY: RecordRules = { compacted: false, timestamps: null };

/** What a follower append checks: well formed, offsets as a cleaned leader log may hold them. */
export const FOLLOWER_RULES: RecordRules = { compacted: false, timestamps: null, sparseOffsets: true };

/** A record of the batch is at fault (caught in validateRecords, which throws the StorageError). */
class RecordRefusal extends Error {
  constructor(
    readonly index: number,
    readonly reason: string,
    readonly code: StorageErrorCode = StorageErrorCode.INVALID_RECORD,
  ) {
    super(reason);
  }
}

/** The records end before the parser expected (one instance: thrown, never built per record). */
class EndOfRecords extends Error {}
const END = new EndOfRecords('end of records');

/**
 * A cursor over the records of one batch. One instance serves every batch (the engine runs on the
 * JS thread only), so a walk allocates nothing unless it fails.
 */
class RecordReader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  byte(): number {
    if (this.pos >= this.end) throw END;
    return this.buf[this.pos++];
  }

  /** Kafka's ByteUtils.readVarint: zig-zag, at most 5 bytes (bits past 32 dropped, as in Java). NaN when longer. */
  varint(): number {
    let raw = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw END;
      const b = this.buf[this.pos++];
      raw |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
    }
    return NaN;
  }

  /** Kafka's ByteUtils.readVarlong (at most 10 bytes), as a double: exact below 2^53. NaN when longer. */
  varlong(): number {
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw END;
      const b = this.buf[this.pos++];
      // Java shifts the 10th byte by 63: only its lowest bit survives.
      raw += (i === 9 ? b & 1 : b & 0x7f) * scale;
      if ((b & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      scale *= 128;
    }
    return NaN;
  }

  skip(n: number): void {
    if (n > this.end - this.pos) {
      this.pos = this.end;
      throw END;
    }
    this.pos += n;
  }
}

const reader = new RecordReader();
/** The batch being walked: its lastOffsetDelta and the previous record's offset delta (sparse offsets). */
let lastOffsetDelta = 0;
let previousOffsetDelta = -1;

/**
 * Checks every record of the batch at `pos` of `batches` (already checked: header, size, CRC,
 * codec, recordsCount == lastOffsetDelta + 1 > 0). Throws StorageError with the batch position
 * and, when one record is at fault, its index.
 */
export function validateRecords(batches: Buffer, pos: number, size: number, rules: RecordRules, where: string): void {
  const at = `${where}: batch at byte ${pos}`;
  const codec = (batches.readInt16BE(pos + ATTRIBUTES) & ATTR_CODEC_MASK) as Codec;
  const count = batches.readInt32BE(pos + RECORDS_COUNT);
  let records = batches;
  let start = pos + HEADER_SIZE;
  let end = pos + size;
  if (codec !== Codec.none) {
    const limit = maxDecompressedBytes(size);
    try {
      records = decompressBounded(codec, batches.subarray(start, end), limit);
    } catch (err) {
      // A codec this engine cannot load (zstd without zstd-napi): UNSUPPORTED_COMPRESSION_TYPE.
      if (err instanceof StorageError) throw err;
      const reason =
        err instanceof OutputLimitError
          ? `the records decompress to more than ${limit} bytes`
          : `cannot decompress the records: ${(err as Error).message}`;
      throw new StorageError(StorageErrorCode.INVALID_RECORD, `${at}: ${reason}`, { batchPosition: pos });
    }
    start = 0;
    end = records.length;
  }
  reader.reset(records, start, end);
  let index = 0;
  try {
    const logAppendTime = (batches.readInt16BE(pos + ATTRIBUTES) & ATTR_LOG_APPEND_TIME) !== 0;
    const baseTimestamp = readInt64(batches, pos + BASE_TIMESTAMP);
    const maxTimestamp = readInt64(batches, pos + MAX_TIMESTAMP);
    lastOffsetDelta = batches.readInt32BE(pos + LAST_OFFSET_DELTA);
    previousOffsetDelta = -1;
    for (; index < count; index++) {
      walkRecord(index, count, rules, logAppendTime, baseTimestamp, maxTimestamp);
    }
  } catch (err) {
    if (err === END) {
      throw new StorageError(
        StorageErrorCode.INVALID_RECORD,
        `${at}: record ${index}: the records end before the ${count} the batch declares (premature EOF)`,
        { batchPosition: pos, recordIndex: index },
      );
    }
    if (err instanceof RecordRefusal) {
      throw new StorageError(err.code, `${at}: record ${err.index}: ${err.reason}`, { batchPosition: pos, recordIndex: err.index });
    }
    throw err;
  }
  if (reader.pos !== end) {
    throw new StorageError(
      StorageErrorCode.INVALID_RECORD,
      `${at}: bytes remain after the ${count} records the batch declares (Incorrect declared batch size)`,
      { batchPosition: pos },
    );
  }
}

function varint(index: number, what: string): number {
  const v = reader.varint();
  if (Number.isNaN(v)) throw new RecordRefusal(index, `${what} varint longer than 5 bytes`);
  return v;
}

/** A length or count read inside a record must fit in what is left of it (the record ends at `end`). */
function fits(index: number, end: number, length: number, n: number, what: string): void {
  if (reader.pos > end || n > end - reader.pos) {
    throw new RecordRefusal(index, `${what} of ${n} bytes runs past the record's end (${length} bytes)`);
  }
}

function walkRecord(index: number, count: number, rules: RecordRules, logAppendTime: boolean, baseTimestamp: number, maxTimestamp: number): void {
  const length = varint(index, 'length');
  const start = reader.pos;
  if (length < MIN_RECORD_BYTES - 1) throw new RecordRefusal(index, `record length ${length} is too small`);
  const end = start + length;
  reader.byte(); // attributes: unused in v2
  const timestampDelta = reader.varlong();
  if (Number.isNaN(timestampDelta)) throw new RecordRefusal(index, 'timestamp delta varlong longer than 10 bytes');
  const offsetDelta = varint(index, 'offset delta');
  if (rules.sparseOffsets === true) {
    if (offsetDelta <= previousOffsetDelta || offsetDelta > lastOffsetDelta) {
      throw new RecordRefusal(
        index,
        `inner record offset delta ${offsetDelta} after ${previousOffsetDelta} (must increase and stay <= lastOffsetDelta ${lastOffsetDelta})`,
      );
    }
    previousOffsetDelta = offsetDelta;
  } else if (offsetDelta !== index) {
    throw new RecordRefusal(index, `inner record offset delta ${offsetDelta}, expected ${index} (offsets must be 0..${count - 1} in order)`);
  }
  const keyLength = varint(index, 'key length');
  if (keyLength < -1) throw new RecordRefusal(index, `key length ${keyLength}`);
  if (keyLength === -1 && rules.compacted) throw new RecordRefusal(index, 'Compacted topic cannot accept message without key');
  if (keyLength > 0) {
    fits(index, end, length, keyLength, 'key');
    reader.skip(keyLength);
  }
  const valueLength = varint(index, 'value length');
  if (valueLength < -1) throw new RecordRefusal(index, `value length ${valueLength}`);
  if (valueLength > 0) {
    fits(index, end, length, valueLength, 'value');
    reader.skip(valueLength);
  }
  const headers = varint(index, 'header count');
  if (headers < 0) throw new RecordRefusal(index, `header count ${headers}`);
  fits(index, end, length, headers, 'header count');
  for (let header = 0; header < headers; header++) {
    const headerKeyLength = varint(index, 'header key length');
    if (headerKeyLength < 0) {
      throw new RecordRefusal(index, `header ${header} has key length ${headerKeyLength} (a header key cannot be null)`);
    }
    fits(index, end, length, headerKeyLength, 'header key');
    reader.skip(headerKeyLength);
    const headerValueLength = varint(index, 'header value length');
    if (headerValueLength < -1) throw new RecordRefusal(index, `header ${header} has value length ${headerValueLength}`);
    if (headerValueLength > 0) {
      fits(index, end, length, headerValueLength, 'header value');
      reader.skip(headerValueLength);
    }
  }
  const read = reader.pos - start;
  if (read !== length) throw new RecordRefusal(index, `record length ${length}, but its fields take ${read} bytes`);
  const range = rules.timestamps;
  if (range !== null) {
    // Kafka's LogValidator.validateTimestamp: a record of a LogAppendTime batch carries the
    // batch's maxTimestamp.
    const timestamp = logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta;
    const diff = range.now - timestamp;
    if (timestamp !== NO_TIMESTAMP && (diff > range.beforeMaxMs || -diff > range.afterMaxMs)) {
      throw new RecordRefusal(
        index,
        `timestamp ${timestamp} is out of range [${range.now - range.beforeMaxMs}, ${range.now + range.afterMaxMs}] (message.timestamp.before.max.ms / after.max.ms)`,
        StorageErrorCode.INVALID_TIMESTAMP,
      );
    }
  }
}
