// bench/ room: the load of bench/vs-kafka.ts — time-bounded, pipelined raw-socket produce over many
// partitions (Produce v9, flexible, one v2 batch per partition per request, like a producer that
// drains its per-partition batches into one request) and fetch-until-caught-up consume (Fetch v11,
// one partition per request, many requests in flight). Frames are encoded once up front by
// src/protocol's schemas; per send only the correlation id and the batches' timestamps are
// patched (every record carries its send time, as a producer stamps it: the batch header's base
// and max timestamps, record deltas 0, CRC-32C recomputed), and a frame is reused only after its
// response has arrived.
import { compress } from 'zstd-napi';
import { ErrorCode, Writer } from '../src/protocol/index.js';
import { ProduceRequest, ProduceResponse } from '../src/protocol/messages/produce.js';
import { BatchAttribute, RECORD_BATCH_OVERHEAD, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { loadNativeBinding } from '../src/storage/native.js';
import { crc32c } from '../src/storage/ts/crc32c.js';
import { KafkaConnection, decodeFetchResponse, encodeFetchRequest } from './loadgen.js';

const PRODUCE_VERSION = 9;
const CLIENT_ID = 'spool-bench';
/** Batch header positions (KIP-98 layout). */
const CRC_POSITION = 17;
const ATTRIBUTES_POSITION = 21;
const BASE_TIMESTAMP_POSITION = 27;
const MAX_TIMESTAMP_POSITION = 35;
const ZSTD_CODEC = 4;

/** CRC-32C of buf[21..]: the addon's (hardware) when it is built, else the TS one. */
const batchCrc: (batch: Buffer) => number = (() => {
  try {
    const binding = loadNativeBinding();
    return (batch: Buffer) => binding.crc32c(batch.subarray(ATTRIBUTES_POSITION));
  } catch {
    return (batch: Buffer) => crc32c(batch, ATTRIBUTES_POSITION, batch.length);
  }
})();

/** Sets a batch's base and max timestamps (its records' deltas are 0) and its CRC; in place. */
export function stampBatch(batch: Buffer, timestampMs: number): Buffer {
  const ts = BigInt(timestampMs);
  batch.writeBigInt64BE(ts, BASE_TIMESTAMP_POSITION);
  batch.writeBigInt64BE(ts, MAX_TIMESTAMP_POSITION);
  batch.writeUInt32BE(batchCrc(batch), CRC_POSITION);
  return batch;
}

/** The zstd form of an uncompressed batch (records section compressed), stamped. */
export function zstdBatch(plain: Buffer, timestampMs: number): Buffer {
  const packed = compress(plain.subarray(RECORD_BATCH_OVERHEAD));
  const batch = Buffer.concat([plain.subarray(0, RECORD_BATCH_OVERHEAD), packed]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt16BE(plain.readInt16BE(ATTRIBUTES_POSITION) | (ZSTD_CODEC & BatchAttribute.codecMask), ATTRIBUTES_POSITION);
  return stampBatch(batch, timestampMs);
}

/** Retried while a new topic's partitions get their leader. */
const RETRIABLE = new Set<number>([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);

/**
 * Record values: bytes from a 16-symbol alphabet, different per record, so zstd gets a realistic
 * ~2x rather than the 100x of a repeated constant.
 */
export function recordValue(size: number, seed: number): Buffer {
  const value = Buffer.alloc(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    value[i] = 0x61 + ((x >>> 16) & 0x0f);
  }
  return value;
}

export interface BatchShape {
  recordsPerBatch: number;
  recordSize: number;
  zstd: boolean;
}

/** One v2 batch as a non-idempotent producer sends it; with zstd, the records section compressed. */
export function buildBatch(shape: BatchShape, seed: number): { batch: Buffer; uncompressedBytes: number } {
  const timestamp = Date.now();
  const plain = encodeRecordBatch(
    Array.from({ length: shape.recordsPerBatch }, (_, i) => ({ key: null, value: recordValue(shape.recordSize, seed * 1000 + i), timestamp })),
  );
  if (!shape.zstd) return { batch: plain, uncompressedBytes: plain.length };
  return { batch: zstdBatch(plain, timestamp), uncompressedBytes: plain.length };
}

/** Size prefix + request header v2 (flexible) + Produce v9 body; correlation id at byte 8. */
export function encodeProduceV9(topic: string, partitions: number[], acks: number, batches: Buffer[]): Buffer {
  const w = new Writer(64 + batches.reduce((n, b) => n + b.length + 8, 0));
  w.int32(0);
  w.int16(ProduceRequest.apiKey);
  w.int16(PRODUCE_VERSION);
  w.int32(0);
  w.string(CLIENT_ID, false); // the client id stays a classic int16-length string in header v2
  w.uvarint(0); // no tagged fields
  ProduceRequest.encode(
    w,
    {
      transactionalId: null,
      acks,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: partitions.map((index, i) => ({ index, records: batches[i] })) }],
    },
    PRODUCE_VERSION,
  );
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** The worst partition error of a Produce v9 response (response header v1: one tagged-field byte). */
export function produceError(body: Buffer): number {
  if (body[0] !== 0) throw new Error('produce response header carries tagged fields; this reader expects none');
  const res = ProduceResponse.decodeBuffer(body.subarray(1), PRODUCE_VERSION);
  for (const t of res.responses) for (const p of t.partitionResponses) if (p.errorCode !== ErrorCode.NONE) return p.errorCode;
  return ErrorCode.NONE;
}

/**
 * Produces one small batch (one 16-byte record, in the topic's codec) to every partition until
 * each takes writes (a new topic's leaders). Small, so it adds no index entry: on 1,000 partitions
 * the setup then costs Kafka no index page faults (see docs/benchmarks.md).
 */
export async function waitForLeaders(conn: KafkaConnection, topic: string, partitions: number, shape: BatchShape): Promise<void> {
  const { batch } = buildBatch({ ...shape, recordsPerBatch: 1, recordSize: 16 }, 0);
  for (let start = 0; start < partitions; start += 100) {
    const ids = Array.from({ length: Math.min(100, partitions - start) }, (_, i) => start + i);
    // Bounded: 900 attempts 100 ms apart (Kafka on a busy machine takes a while for 1,000 leaders).
    for (let attempt = 0; ; attempt++) {
      stampBatch(batch, Date.now());
      const err = produceError(await conn.request(encodeProduceV9(topic, ids, 1, ids.map(() => batch))));
      if (err === ErrorCode.NONE) break;
      if (!RETRIABLE.has(err) || attempt >= 900) throw new Error(`Produce ${topic} (waiting for leaders, attempt ${attempt}): error code ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface ProducePhase {
  topic: string;
  partitions: number;
  /** Partitions per request (a window that rotates over the topic). */
  partitionsPerRequest: number;
  acks: 1 | -1;
  shape: BatchShape;
  inFlight: number;
  seconds: number;
}

export interface ProduceStats {
  /** Bytes of the batches as sent (compressed ones count compressed). */
  wireBytes: number;
  /** Bytes the same batches would have uncompressed: the logical volume. */
  bytes: number;
  records: number;
  requests: number;
  seconds: number;
  /** Closed-loop request latency (send → ack), ms, sorted. */
  latenciesMs: Float64Array;
}

/** Pipelined produce for `seconds`: `inFlight` requests outstanding, each slot its own frames. */
export async function runProducePhase(conn: KafkaConnection, p: ProducePhase): Promise<ProduceStats> {
  const perRequest = Math.min(p.partitionsPerRequest, p.partitions);
  const windows = Math.ceil(p.partitions / perRequest);
  // The 8 distinct batches are shared by all frames: only the frame header is rewritten per send.
  const built = Array.from({ length: perRequest }, (_, i) => buildBatch(p.shape, i + 1));
  const frameFor = (w: number): { frame: Buffer; batchesAt: Buffer[]; wire: number; logical: number } => {
    const ids = Array.from({ length: perRequest }, (_, i) => (w * perRequest + i) % p.partitions);
    const frame = encodeProduceV9(p.topic, ids, p.acks, built.map((b) => b.batch));
    // Views of the frame's own copies of the batches, to restamp before each send.
    let from = 0;
    const batchesAt = built.map((b) => {
      const at = frame.indexOf(b.batch, from);
      if (at < 0) throw new Error('batch not found in its produce frame');
      from = at + b.batch.length;
      return frame.subarray(at, from);
    });
    return { frame, batchesAt, wire: built.reduce((n, b) => n + b.batch.length, 0), logical: built.reduce((n, b) => n + b.uncompressedBytes, 0) };
  };
  const slots = Array.from({ length: p.inFlight }, (_, slot) => {
    const owned = windows >= p.inFlight ? Array.from({ length: windows }, (_, w) => w).filter((w) => w % p.inFlight === slot) : [slot % windows];
    return owned.map(frameFor);
  });
  const latencies: number[] = [];
  let wireBytes = 0;
  let bytes = 0;
  let requests = 0;
  const start = performance.now();
  const end = start + p.seconds * 1000;
  const worker = async (slot: number): Promise<void> => {
    const frames = slots[slot];
    // Bounded by the phase's end time.
    for (let i = 0; performance.now() < end; i++) {
      const f = frames[i % frames.length];
      const now = Date.now();
      for (const b of f.batchesAt) stampBatch(b, now);
      const sentAt = performance.now();
      const err = produceError(await conn.request(f.frame));
      latencies.push(performance.now() - sentAt);
      if (err !== ErrorCode.NONE) throw new Error(`Produce ${p.topic}: error code ${err}`);
      wireBytes += f.wire;
      bytes += f.logical;
      requests++;
    }
  };
  await Promise.all(slots.map((_, slot) => worker(slot)));
  const seconds = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { wireBytes, bytes, records: requests * perRequest * p.shape.recordsPerBatch, requests, seconds, latenciesMs: sorted };
}

export interface ConsumeStats {
  bytes: number;
  records: number;
  requests: number;
  seconds: number;
  /** False when the time bound ran out before every partition was read to its high watermark. */
  complete: boolean;
}

/** Batch bytes and the offset after the last whole batch at or past `from`. */
function walk(records: Buffer, from: number): { bytes: number; records: number; next: number } {
  let pos = 0;
  let bytes = 0;
  let count = 0;
  let next = from;
  while (pos + RECORD_BATCH_OVERHEAD <= records.length) {
    const size = records.readInt32BE(pos + 8) + 12;
    if (pos + size > records.length) break; // a partial trailing batch
    const base = Number(records.readBigInt64BE(pos));
    const last = base + records.readInt32BE(pos + 23);
    if (last >= next) {
      bytes += size;
      count += last + 1 - Math.max(base, next);
      next = last + 1;
    }
    pos += size;
  }
  return { bytes, records: count, next };
}

/**
 * Reads every partition of `topics` from offset 0 to its high watermark at first fetch, `inFlight`
 * workers taking partitions off a queue, for at most `seconds`.
 */
export async function runConsumePhase(
  conn: KafkaConnection,
  topics: Array<{ topic: string; partitions: number }>,
  fetchBytes: number,
  inFlight: number,
  seconds: number,
): Promise<ConsumeStats> {
  const queue = topics.flatMap((t) => Array.from({ length: t.partitions }, (_, partition) => ({ topic: t.topic, partition })));
  let head = 0;
  let bytes = 0;
  let records = 0;
  let requests = 0;
  let complete = true;
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (head < queue.length) {
      const { topic, partition } = queue[head++];
      let offset = 0;
      let target = -1;
      // Each fetch advances at least one batch or throws; the time bound stops the rest.
      while (target < 0 || offset < target) {
        if (performance.now() >= end) {
          complete = false;
          return;
        }
        const res = decodeFetchResponse(await conn.request(encodeFetchRequest(topic, partition, offset, fetchBytes, 500)));
        requests++;
        if (res.errorCode !== ErrorCode.NONE) throw new Error(`Fetch ${topic}-${partition} at ${offset}: error code ${res.errorCode}`);
        if (target < 0) target = res.highWatermark;
        if (offset >= target) break;
        const w = walk(res.records, offset);
        if (w.next <= offset) throw new Error(`Fetch ${topic}-${partition} at ${offset} returned no whole batch (${res.records.length} bytes)`);
        bytes += w.bytes;
        records += w.records;
        offset = w.next;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, () => worker()));
  return { bytes, records, requests, seconds: (performance.now() - start) / 1000, complete };
}
