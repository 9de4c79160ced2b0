// bench/ room: end-to-end latency at a fixed rate for bench/vs-kafka.ts, free of coordinated
// omission. A constant-rate sender gives record i the intended send time t0 + i/rate and writes
// it (performance.now() of this process, as a float64) into the first 8 bytes of the value. The
// sender behaves like a Kafka producer's sender thread: every tick (`tickMs`, like linger.ms) and
// on every response it sends whatever is due, with at most `maxInFlight` requests unanswered
// (max.in.flight.requests.per.connection 5) and at most 1 MiB per request (max.request.size), so a
// backlog goes out in fuller requests. Whatever delays a record (broker, socket, this process, a
// full in-flight window) counts as its latency, measured from the intended time, never from when
// it was actually sent: no coordinated omission. A consumer on its own connection long-polls every
// partition (Fetch v11, fetch.min.bytes 1, fetch.max.wait.ms 500 as the Java consumer's defaults)
// and records, per record, receipt time minus intended send time into a log-bucket histogram.
// The record timestamps (CreateTime) are the actual send time, stamped per request.
//
// Batching follows the sticky partitioner: due records are cut into batches of at most
// `batchRecords` (16: batch.size 16 KiB at 1 KiB records), each batch going to the next partition
// in turn, at most one batch per partition per request.
import { decompress } from 'zstd-napi';
import { ErrorCode, Writer } from '../src/protocol/index.js';
import { FetchRequest, FetchResponse } from '../src/protocol/messages/fetch.js';
import { RECORD_BATCH_OVERHEAD, encodeRecordBatch } from '../src/protocol/record-batch.js';
import { KafkaConnection } from './loadgen.js';
import { LatencyHistogram } from './vs-kafka-histogram.js';
import { encodeProduceV9, produceError, recordValue, stampBatch, zstdBatch } from './vs-kafka-load.js';

const FETCH_VERSION = 11;
const CLIENT_ID = 'spool-bench-latency';
const ATTRIBUTES_POSITION = 21;
const LAST_OFFSET_DELTA_POSITION = 23;
const CODEC_MASK = 0x07;
const ZSTD_CODEC = 4;
const PARTITION_MAX_BYTES = 1024 * 1024;
/** max.request.size: a backlog goes out in requests of at most this many batch bytes. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export interface LatencyPhase {
  topic: string;
  partitions: number;
  acks: 1 | -1;
  zstd: boolean;
  recordSize: number;
  batchRecords: number;
  /** Records per second. */
  rate: number;
  seconds: number;
  tickMs: number;
  /** max.in.flight.requests.per.connection (the Java producer's default is 5). */
  maxInFlight: number;
  /** After the sender stops, how long the consumer may take to see the rest. */
  drainSeconds: number;
  /**
   * Producer connections (default 1): requests go to them in turn, each with at most maxInFlight
   * unanswered (bench/scale.ts: 1,000 connections, each sending a few requests a second).
   */
  connections?: number;
}

export interface LatencyStats {
  /** Records the rate called for in the phase. */
  total: number;
  /** Records sent (fewer than total when the broker fell behind by more than the drain time). */
  sent: number;
  received: number;
  /** Record-batch bytes sent (uncompressed size), for CPU per GiB. */
  bytes: number;
  seconds: number;
  histogram: LatencyHistogram;
  /** Actual send time minus intended send time of each request's first record. */
  sendLag: LatencyHistogram;
  /** Non-null when the row stopped early: the broker refused a batch or a connection failed. */
  aborted: string | null;
}

/** Zig-zag varint at pos: [value, next position]. */
function readVarint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  let p = pos;
  // Bounded: at most 5 bytes for an int32 varint.
  for (let i = 0; i < 5; i++) {
    const b = buf[p++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result % 2 === 0 ? result / 2 : -(result + 1) / 2, p];
    shift += 7;
  }
  throw new Error(`varint longer than 5 bytes at ${pos}`);
}

/** Offset of each record's value in an uncompressed records section (null values: -1). */
function valuePositions(records: Buffer, start: number, count: number): number[] {
  const out: number[] = [];
  let pos = start;
  for (let i = 0; i < count; i++) {
    const [length, body] = readVarint(records, pos);
    let p = body + 1; // attributes
    [, p] = readVarint(records, p); // timestamp delta (varlong; small here)
    [, p] = readVarint(records, p); // offset delta
    const [keyLength, afterKeyLength] = readVarint(records, p);
    p = afterKeyLength + Math.max(0, keyLength);
    const [valueLength, valueAt] = readVarint(records, p);
    out.push(valueLength < 0 ? -1 : valueAt);
    pos = body + length;
  }
  return out;
}

interface Template {
  batch: Buffer;
  values: number[];
}

/** A batch of `count` records (value = an 8-byte slot for the intended time + filler). */
function template(count: number, recordSize: number): Template {
  const batch = encodeRecordBatch(Array.from({ length: count }, (_, i) => ({ key: null, value: recordValue(recordSize, i + 7), timestamp: 0 })));
  return { batch, values: valuePositions(batch, RECORD_BATCH_OVERHEAD, count) };
}

function encodeFetch(topic: string, offsets: number[]): Buffer {
  const w = new Writer(64 + offsets.length * 32);
  w.int32(0);
  w.int16(FetchRequest.apiKey);
  w.int16(FETCH_VERSION);
  w.int32(0);
  w.string(CLIENT_ID, false);
  FetchRequest.encode(
    w,
    {
      replicaId: -1,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 50 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: offsets.map((fetchOffset, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: PARTITION_MAX_BYTES })),
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    },
    FETCH_VERSION,
  );
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** Records every record at or past `from` in `records` (whole batches only); the next offset. */
function receive(records: Buffer, from: number, receivedAt: number, h: LatencyHistogram): { next: number; count: number } {
  let pos = 0;
  let next = from;
  let count = 0;
  while (pos + RECORD_BATCH_OVERHEAD <= records.length) {
    const size = records.readInt32BE(pos + 8) + 12;
    if (pos + size > records.length) break;
    const base = Number(records.readBigInt64BE(pos));
    const n = records.readInt32BE(pos + LAST_OFFSET_DELTA_POSITION) + 1;
    if (base + n > next) {
      const codec = records.readInt16BE(pos + ATTRIBUTES_POSITION) & CODEC_MASK;
      let section: Buffer;
      let start: number;
      if (codec === 0) {
        section = records.subarray(pos, pos + size);
        start = RECORD_BATCH_OVERHEAD;
      } else if (codec === ZSTD_CODEC) {
        section = decompress(records.subarray(pos + RECORD_BATCH_OVERHEAD, pos + size));
        start = 0;
      } else {
        throw new Error(`unexpected codec ${codec}`);
      }
      const values = valuePositions(section, start, n);
      for (let i = 0; i < n; i++) {
        if (base + i < next || values[i] < 0) continue;
        h.recordUs((receivedAt - section.readDoubleLE(values[i])) * 1000);
        count++;
      }
      next = base + n;
    }
    pos += size;
  }
  return { next, count };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `count` connections, opened CONNECT_BATCH at a time (closed again if one fails). */
const CONNECT_BATCH = 50;
async function openConnections(host: string, port: number, count: number): Promise<KafkaConnection[]> {
  const out: KafkaConnection[] = [];
  try {
    // Bounded: count / CONNECT_BATCH rounds.
    for (let i = 0; i < count; i += CONNECT_BATCH) {
      out.push(...(await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, () => KafkaConnection.open(host, port)))));
    }
  } catch (err) {
    for (const c of out) c.close();
    throw err;
  }
  return out;
}

export async function runLatencyPhase(host: string, port: number, p: LatencyPhase): Promise<LatencyStats> {
  const producers = await openConnections(host, port, p.connections ?? 1);
  const inFlight = new Array<number>(producers.length).fill(0);
  let nextProducer = 0;
  const consumer = await KafkaConnection.open(host, port);
  const histogram = new LatencyHistogram();
  const sendLag = new LatencyHistogram();
  const templates = new Map<number, Template>();
  const templateFor = (n: number): Template => {
    let t = templates.get(n);
    if (t === undefined) {
      t = template(n, p.recordSize);
      templates.set(n, t);
    }
    return t;
  };
  // A holder: the produce callbacks set it, and the loops re-read it.
  const state = { aborted: null as string | null, senderDone: false };
  let sent = 0;
  let received = 0;
  let bytes = 0;
  try {
    // Start from the current end of every partition (the topic may hold warm-up records).
    const ends = await fetchEnds(consumer, p.topic, p.partitions);
    const interval = 1000 / p.rate;
    const total = Math.floor(p.rate * p.seconds);
    const t0 = performance.now() + 20;
    const consumerLoop = (async (): Promise<void> => {
      const offsets = [...ends];
      let drainEnd = Infinity;
      // Bounded: stops when everything sent has arrived, or drainSeconds after the sender stopped.
      while (state.aborted === null && performance.now() < drainEnd) {
        if (state.senderDone) {
          if (received >= total) return;
          if (drainEnd === Infinity) drainEnd = performance.now() + p.drainSeconds * 1000;
        }
        const body = await consumer.request(encodeFetch(p.topic, offsets));
        const receivedAt = performance.now();
        const res = FetchResponse.decodeBuffer(body, FETCH_VERSION);
        if (res.errorCode !== ErrorCode.NONE) throw new Error(`Fetch ${p.topic}: error code ${res.errorCode}`);
        for (const t of res.responses) {
          for (const part of t.partitions) {
            if (part.errorCode !== ErrorCode.NONE) throw new Error(`Fetch ${p.topic}-${part.partitionIndex}: error code ${part.errorCode}`);
            const records = part.records;
            if (records === null || records.length === 0) continue;
            const r = receive(records, offsets[part.partitionIndex], receivedAt, histogram);
            offsets[part.partitionIndex] = r.next;
            received += r.count;
          }
        }
      }
    })().catch((err: unknown) => {
      // Caught here at once (the loop is awaited only after the sender): it ends the row.
      state.aborted ??= `consumer: ${(err as Error).message}`;
    });
    let outstanding = 0;
    let cursor = 0;
    let due = 0;
    const perRequest = Math.max(1, Math.min(p.partitions, Math.floor(MAX_REQUEST_BYTES / templateFor(p.batchRecords).batch.length)));
    // Sends what is due while fewer than maxInFlight requests are unanswered, as a producer's
    // sender thread does: a backlog goes out in fuller requests, its records keeping their
    // intended times. Called on every tick and on every response.
    const pump = (): void => {
      // Bounded: each pass sends at least one record of the `due - sent` pending.
      while (sent < due && outstanding < p.maxInFlight * producers.length && state.aborted === null) {
        // The next connection in turn with room (one exists: fewer than maxInFlight x connections are out).
        let c = nextProducer;
        // Bounded: at most one pass over the connections.
        for (let k = 0; k < producers.length && inFlight[c] >= p.maxInFlight; k++) c = (c + 1) % producers.length;
        nextProducer = (c + 1) % producers.length;
        const now = performance.now();
        sendLag.recordUs((now - (t0 + sent * interval)) * 1000);
        const stamp = Date.now();
        const batches: Buffer[] = [];
        const parts: number[] = [];
        let i = sent;
        while (i < due && batches.length < perRequest) {
          const n = Math.min(p.batchRecords, due - i);
          const t = templateFor(n);
          const batch = Buffer.from(t.batch);
          for (let k = 0; k < n; k++) batch.writeDoubleLE(t0 + (i + k) * interval, t.values[k]);
          bytes += batch.length;
          batches.push(p.zstd ? zstdBatch(batch, stamp) : stampBatch(batch, stamp));
          parts.push(cursor);
          cursor = (cursor + 1) % p.partitions;
          i += n;
        }
        sent = i;
        outstanding++;
        inFlight[c]++;
        producers[c].request(encodeProduceV9(p.topic, parts, p.acks, batches)).then(
          (resBody) => {
            outstanding--;
            inFlight[c]--;
            const err = produceError(resBody);
            if (err !== ErrorCode.NONE) state.aborted ??= `Produce ${p.topic}: error code ${err}`;
            pump();
          },
          (err: unknown) => {
            state.aborted ??= `Produce ${p.topic}: ${(err as Error).message}`;
          },
        );
      }
    };
    // Bounded: `total` records; each tick makes every record whose intended time has come due.
    while (due < total && state.aborted === null) {
      due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      pump();
      await sleep(p.tickMs);
    }
    state.senderDone = true;
    // The consumer ends when every record arrived or drainSeconds later; responses keep pumping.
    await consumerLoop;
    const seconds = (performance.now() - t0) / 1000;
    return { total, sent, received, bytes, seconds, histogram, sendLag, aborted: state.aborted };
  } finally {
    state.senderDone = true;
    for (const producer of producers) producer.close();
    consumer.close();
  }
}

/** The high watermark of every partition, from one Fetch at offset 0 with 1-byte limits. */
async function fetchEnds(conn: KafkaConnection, topic: string, partitions: number): Promise<number[]> {
  const body = await conn.request(encodeFetchSmall(topic, partitions));
  const res = FetchResponse.decodeBuffer(body, FETCH_VERSION);
  const ends = new Array<number>(partitions).fill(0);
  for (const t of res.responses) {
    for (const part of t.partitions) {
      if (part.errorCode !== ErrorCode.NONE) throw new Error(`Fetch ${topic}-${part.partitionIndex}: error code ${part.errorCode}`);
      ends[part.partitionIndex] = part.highWatermark;
    }
  }
  return ends;
}

function encodeFetchSmall(topic: string, partitions: number): Buffer {
  const w = new Writer(64 + partitions * 32);
  w.int32(0);
  w.int16(FetchRequest.apiKey);
  w.int16(FETCH_VERSION);
  w.int32(0);
  w.string(CLIENT_ID, false);
  FetchRequest.encode(
    w,
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: Array.from({ length: partitions }, (_, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 })) }],
      forgottenTopicsData: [],
      rackId: '',
    },
    FETCH_VERSION,
  );
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}
