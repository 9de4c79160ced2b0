// coordinator/group room: how __consumer_offsets records travel as record batches. Records go in
// as uncompressed v2 batches (one batch per coordinator write, so a commit of many partitions is
// atomic) and are read back batch by batch when a shard loads; the replication layer's
// CoordinatorPartitionLog uses these two pure functions.
import type { Codec } from '../../storage/engine.js';
import type { OffsetsRecord } from './ports.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../protocol/record-batch.js';

export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

export interface BatchCodecs {
  decompress(codec: Codec, data: Buffer): Buffer;
}

/** One uncompressed magic-2 batch holding `records`, offsets from 0 (the log assigns real ones). */
export function encodeOffsetsBatch(records: OffsetsRecord[], timestamp: number): Buffer {
  if (records.length === 0) throw new RangeError('an __consumer_offsets batch needs at least one record');
  return encodeRecordBatch(records.map((r) => ({ key: r.key, value: r.value, timestamp })));
}

/**
 * Key/value records of the data batches in `buf` (whole batches); control batches skipped.
 * A trailing partial batch is ignored; a corrupt one (bad CRC, truncated record) throws ProtocolError.
 */
export function decodeOffsetsBatches(buf: Buffer, codecs: Pick<BatchCodecs, 'decompress'>): { records: OffsetsRecord[]; nextOffset: number } {
  const records: OffsetsRecord[] = [];
  let nextOffset = -1;
  // The codec comes from the batch's attribute bits; the engine rejects values it does not know.
  for (const batch of decodeRecordBatches(buf, (codec, data) => codecs.decompress(codec as Codec, data))) {
    nextOffset = batch.header.baseOffset + batch.header.lastOffsetDelta + 1;
    if (batch.isControl) continue;
    for (const r of batch.records) {
      // Copies: the group state keeps these long after the (up to 1 MiB) read buffer is gone.
      if (r.key !== null) records.push({ key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) });
    }
  }
  return { records, nextOffset };
}
