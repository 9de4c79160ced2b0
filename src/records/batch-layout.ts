// records/ (leaf): the magic-2 record-batch layout, written once. The storage engines, the protocol
// helpers and the replication layer's append checks all read batch headers through these offsets.
//
// baseOffset 0, batchLength 8, partitionLeaderEpoch 12, magic 16, crc 17, attributes 21,
// lastOffsetDelta 23, baseTimestamp 27, maxTimestamp 35, producerId 43, producerEpoch 51,
// baseSequence 53, recordsCount 57, records 61. The CRC-32C covers attributes..end; baseOffset,
// batchLength and partitionLeaderEpoch lie outside it, so the broker may rewrite them.

export const BASE_OFFSET = 0;
export const BATCH_LENGTH = 8;
export const PARTITION_LEADER_EPOCH = 12;
export const MAGIC = 16;
export const CRC = 17;
export const ATTRIBUTES = 21;
export const LAST_OFFSET_DELTA = 23;
export const BASE_TIMESTAMP = 27;
export const MAX_TIMESTAMP = 35;
export const PRODUCER_ID = 43;
export const PRODUCER_EPOCH = 51;
export const BASE_SEQUENCE = 53;
export const RECORDS_COUNT = 57;
/** Size of the batch header; the records start here. */
export const HEADER_SIZE = 61;
/** Bytes before the batch length starts counting (baseOffset + batchLength). */
export const LOG_OVERHEAD = 12;

export const ATTR_CODEC_MASK = 0x07;
export const ATTR_LOG_APPEND_TIME = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;
export const ATTR_DELETE_HORIZON = 0x40;

/** Kafka's "no value" markers in batch headers. */
export const NO_PRODUCER_ID = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

const TWO_32 = 4294967296;

/** int64 as a JS number; exact below 2^53, which Kafka offsets and timestamps stay under. */
export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
}

export function writeInt64(buf: Buffer, value: number, pos: number): void {
  const hi = Math.floor(value / TWO_32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * TWO_32, pos + 4);
}

/** The header fields of one batch that policy code reads (never the records). */
export interface BatchHeaderView {
  /** Byte position of the batch in its buffer. */
  position: number;
  baseOffset: number;
  partitionLeaderEpoch: number;
  sizeInBytes: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
  isTransactional: boolean;
  isControl: boolean;
  isLogAppendTime: boolean;
}

/**
 * The headers of the whole batches in `buf`. Stops at the first batch that is truncated or has a
 * batchLength below the header size: the engine rejects such input with CORRUPT_MESSAGE and its
 * context, so policy checks need not judge structure.
 */
export function batchHeaders(buf: Buffer): BatchHeaderView[] {
  const out: BatchHeaderView[] = [];
  let pos = 0;
  // Bounded: every iteration advances by at least HEADER_SIZE bytes or stops.
  while (pos + HEADER_SIZE <= buf.length) {
    const sizeInBytes = buf.readInt32BE(pos + BATCH_LENGTH) + LOG_OVERHEAD;
    if (sizeInBytes < HEADER_SIZE || pos + sizeInBytes > buf.length) break;
    const attributes = buf.readInt16BE(pos + ATTRIBUTES);
    out.push({
      position: pos,
      baseOffset: readInt64(buf, pos + BASE_OFFSET),
      partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH),
      sizeInBytes,
      attributes,
      lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA),
      baseTimestamp: readInt64(buf, pos + BASE_TIMESTAMP),
      maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP),
      producerId: readInt64(buf, pos + PRODUCER_ID),
      producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH),
      baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE),
      recordsCount: buf.readInt32BE(pos + RECORDS_COUNT),
      isTransactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
      isControl: (attributes & ATTR_CONTROL) !== 0,
      isLogAppendTime: (attributes & ATTR_LOG_APPEND_TIME) !== 0,
    });
    pos += sizeInBytes;
  }
  return out;
}
