// coordinator/group room: the OffsetsLog port backed by the broker's __consumer_offsets topic.
// Records go in as uncompressed v2 record batches (one batch per coordinator write, so a commit of
// many partitions is atomic) and are read back batch by batch at start-up.
import type { LogManager, Log } from '../../log/index.js';
import type { Codec } from '../../storage/engine.js';
import type { OffsetsLog, OffsetsRecord } from './ports.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../protocol/record-batch.js';

export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

/** Bytes read per step while loading; a batch larger than this is still returned whole. */
const LOAD_READ_BYTES = 1024 * 1024;

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

/** __consumer_offsets on the broker's LogManager, created (compacted) on first use. */
export class LogManagerOffsetsLog implements OffsetsLog {
  private logs: Log[] = [];

  private constructor(
    readonly numPartitions: number,
    private readonly codecs: BatchCodecs,
    private readonly now: () => number,
  ) {}

  static async open(
    logManager: LogManager,
    numPartitions: number,
    topicConfigs: Record<string, string>,
    now: () => number = Date.now,
  ): Promise<LogManagerOffsetsLog> {
    const topic = await logManager.getOrCreateInternalTopic(CONSUMER_OFFSETS_TOPIC, numPartitions, topicConfigs);
    // An existing topic keeps its partition count: groups must map to the partitions that exist.
    const log = new LogManagerOffsetsLog(topic.partitions, logManager.engine, now);
    log.logs = topic.logs;
    return log;
  }

  private log(partition: number): Log {
    const log = this.logs[partition];
    if (log === undefined) throw new RangeError(`${CONSUMER_OFFSETS_TOPIC} has no partition ${partition}`);
    return log;
  }

  append(partition: number, records: OffsetsRecord[]): Promise<void> {
    try {
      this.log(partition).append(encodeOffsetsBatch(records, this.now()), { now: this.now() });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  *read(partition: number): Iterable<OffsetsRecord> {
    const log = this.log(partition);
    let offset = log.logStartOffset;
    const end = log.logEndOffset;
    // Each step moves past at least one batch, so this ends within (end - start) steps.
    while (offset < end) {
      const buf = log.readBytes(offset, LOAD_READ_BYTES);
      if (buf.length === 0) break;
      const { records, nextOffset } = decodeOffsetsBatches(buf, this.codecs);
      if (nextOffset <= offset) break;
      yield* records;
      offset = nextOffset;
    }
  }
}
