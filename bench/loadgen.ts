// bench/ room: a lean Kafka load generator on raw sockets, for measuring the broker, not a client.
// Requests are encoded once up front (Produce v7, Fetch v11, CreateTopics v4: the newest
// non-flexible versions, all still inside Kafka 4's supported ranges) and pipelined on one
// connection: the broker answers in request order, so responses are matched first in, first out.
import { connect, type Socket } from 'node:net';
import { crc32c } from '../src/storage/ts/crc32c.js';

const API_PRODUCE = 0;
const API_FETCH = 1;
const API_METADATA = 3;
const API_CREATE_TOPICS = 19;
const METADATA_VERSION = 4;
const PRODUCE_VERSION = 7;
const FETCH_VERSION = 11;
const CREATE_TOPICS_VERSION = 4;
const CLIENT_ID = 'spool-bench';

const RECORD_BATCH_HEADER_SIZE = 61;
const ERROR_NONE = 0;
const ERROR_TOPIC_ALREADY_EXISTS = 36;
/** Errors a freshly created partition may answer with while its leader is being set up. */
const RETRIABLE_PRODUCE_ERRORS = new Set([3, 5, 6]);

/** Minimal big-endian writer for hand-encoded request bodies. */
class Encoder {
  private parts: Buffer[] = [];
  int8(v: number): this {
    const b = Buffer.allocUnsafe(1);
    b.writeInt8(v);
    this.parts.push(b);
    return this;
  }
  int16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const s = Buffer.from(v, 'utf8');
    this.int16(s.length);
    this.parts.push(s);
    return this;
  }
  bytes(v: Buffer): this {
    this.int32(v.length);
    this.parts.push(v);
    return this;
  }
  raw(v: Buffer): this {
    this.parts.push(v);
    return this;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Size prefix + request header v1 + body; the correlation id sits at byte 8. */
function frame(apiKey: number, apiVersion: number, body: Buffer): Buffer {
  const header = new Encoder().int16(apiKey).int16(apiVersion).int32(0).string(CLIENT_ID).toBuffer();
  const out = Buffer.allocUnsafe(4 + header.length + body.length);
  out.writeInt32BE(header.length + body.length, 0);
  header.copy(out, 4);
  body.copy(out, 4 + header.length);
  return out;
}

const CORRELATION_ID_POSITION = 8;

function zigzagVarint(value: number, out: number[]): void {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/**
 * A v2 record batch of `count` records with null keys and `valueSize`-byte values, the way a
 * non-idempotent producer sends it: baseOffset 0, producer id -1, CRC-32C over attributes..end.
 */
export function buildRecordBatch(count: number, valueSize: number, timestamp = Date.now()): Buffer {
  const records: Buffer[] = [];
  const value = Buffer.alloc(valueSize);
  for (let i = 0; i < valueSize; i++) value[i] = (i * 31 + 7) & 0xff;
  for (let i = 0; i < count; i++) {
    const body: number[] = [0];
    zigzagVarint(0, body); // timestampDelta
    zigzagVarint(i, body); // offsetDelta
    zigzagVarint(-1, body); // key: null
    zigzagVarint(valueSize, body);
    const tail: number[] = [];
    zigzagVarint(0, tail); // headers
    const len: number[] = [];
    zigzagVarint(body.length + valueSize + tail.length, len);
    records.push(Buffer.from(len), Buffer.from(body), value, Buffer.from(tail));
  }
  const recordBytes = Buffer.concat(records);
  const batch = Buffer.alloc(RECORD_BATCH_HEADER_SIZE + recordBytes.length);
  batch.writeBigInt64BE(0n, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(-1, 12); // partitionLeaderEpoch: the broker fills it in
  batch.writeInt8(2, 16);
  batch.writeInt16BE(0, 21); // attributes: no compression, CreateTime
  batch.writeInt32BE(count - 1, 23);
  batch.writeBigInt64BE(BigInt(timestamp), 27);
  batch.writeBigInt64BE(BigInt(timestamp), 35);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(count, 57);
  recordBytes.copy(batch, RECORD_BATCH_HEADER_SIZE);
  batch.writeUInt32BE(crc32c(batch, 21, batch.length), 17);
  return batch;
}

export function encodeProduceRequest(topic: string, partition: number, acks: number, timeoutMs: number, batches: Buffer): Buffer {
  const body = new Encoder()
    .string(null) // transactional_id
    .int16(acks)
    .int32(timeoutMs)
    .int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .bytes(batches)
    .toBuffer();
  return frame(API_PRODUCE, PRODUCE_VERSION, body);
}

export function encodeFetchRequest(topic: string, partition: number, offset: number, partitionMaxBytes: number, maxWaitMs: number): Buffer {
  const body = new Encoder()
    .int32(-1) // replica_id: a consumer
    .int32(maxWaitMs)
    .int32(1) // min_bytes
    .int32(0x7fffffff) // max_bytes
    .int8(0) // read_uncommitted
    .int32(0) // session_id: no fetch session
    .int32(-1) // session epoch: full fetch
    .int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .int32(-1) // current_leader_epoch: unknown
    .int64(offset)
    .int64(-1) // log_start_offset: only followers send it
    .int32(partitionMaxBytes)
    .int32(0) // forgotten topics
    .string('') // rack_id
    .toBuffer();
  return frame(API_FETCH, FETCH_VERSION, body);
}

export function encodeCreateTopicsRequest(topic: string, partitions: number, timeoutMs: number): Buffer {
  const body = new Encoder()
    .int32(1)
    .string(topic)
    .int32(partitions)
    .int16(1) // replication_factor
    .int32(0) // assignments
    .int32(0) // configs
    .int32(timeoutMs)
    .int8(0) // validate_only
    .toBuffer();
  return frame(API_CREATE_TOPICS, CREATE_TOPICS_VERSION, body);
}

/** Metadata v4 for one topic, allowing auto-creation (auto.create.topics.enable). */
export function encodeMetadataRequest(topic: string): Buffer {
  const body = new Encoder().int32(1).string(topic).int8(1).toBuffer();
  return frame(API_METADATA, METADATA_VERSION, body);
}

/** Reads big-endian fields of a response body in order. */
class Decoder {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`response truncated at ${this.pos} (+${n} of ${this.buf.length})`);
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  string(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

export interface ProduceOutcome {
  errorCode: number;
  baseOffset: number;
}

/** Produce v7 response body: the single topic/partition we sent. */
export function decodeProduceResponse(body: Buffer): ProduceOutcome {
  const d = new Decoder(body);
  if (d.int32() !== 1) throw new Error('produce response: expected one topic');
  d.string();
  if (d.int32() !== 1) throw new Error('produce response: expected one partition');
  d.int32();
  const errorCode = d.int16();
  const baseOffset = d.int64();
  return { errorCode, baseOffset };
}

export interface FetchOutcome {
  errorCode: number;
  highWatermark: number;
  /** Position of the records inside the response body, and their length (0 when null/empty). */
  recordsStart: number;
  recordsLength: number;
}

/** Fetch v11 response body: the single topic/partition we asked for. */
export function decodeFetchResponse(body: Buffer): FetchOutcome {
  const d = new Decoder(body);
  d.int32(); // throttle_time_ms
  const topLevelError = d.int16();
  d.int32(); // session_id
  if (topLevelError !== ERROR_NONE) return { errorCode: topLevelError, highWatermark: -1, recordsStart: 0, recordsLength: 0 };
  if (d.int32() !== 1) throw new Error('fetch response: expected one topic');
  d.string();
  if (d.int32() !== 1) throw new Error('fetch response: expected one partition');
  d.int32();
  const errorCode = d.int16();
  const highWatermark = d.int64();
  d.int64(); // last_stable_offset
  d.int64(); // log_start_offset
  const aborted = d.int32();
  for (let i = 0; i < aborted; i++) {
    d.int64();
    d.int64();
  }
  d.int32(); // preferred_read_replica
  const len = d.int32();
  const recordsLength = Math.max(len, 0);
  if (d.pos + recordsLength > body.length) throw new Error('fetch response: records run past the frame');
  return { errorCode, highWatermark, recordsStart: d.pos, recordsLength };
}

/** CreateTopics v4 response: the error code of the single topic. */
export function decodeCreateTopicsResponse(body: Buffer): number {
  const d = new Decoder(body);
  d.int32(); // throttle_time_ms
  if (d.int32() !== 1) throw new Error('create topics response: expected one topic');
  d.string();
  return d.int16();
}

/** Metadata v4 response: the error code of the single topic. */
export function decodeMetadataTopicError(body: Buffer): number {
  const d = new Decoder(body);
  d.int32(); // throttle_time_ms
  const brokers = d.int32();
  for (let i = 0; i < brokers; i++) {
    d.int32();
    d.string();
    d.int32();
    d.string(); // rack
  }
  d.string(); // cluster_id
  d.int32(); // controller_id
  if (d.int32() !== 1) throw new Error('metadata response: expected one topic');
  return d.int16();
}

interface Pending {
  correlationId: number;
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * One pipelined connection. Each request frame is written as given except for its correlation
 * id; since a written Buffer is not copied by the socket, callers pass a frame that is not
 * reused until its response has arrived.
 */
export class KafkaConnection {
  private nextCorrelationId = 1;
  private readonly pending: Pending[] = [];
  private pendingHead = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the broker')));
  }

  static open(host: string, port: number): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new KafkaConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get inFlight(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Sends `frameBytes` (size prefix included) and resolves with the response body. */
  request(frameBytes: Buffer): Promise<Buffer> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId++ & 0x7fffffff;
    frameBytes.writeInt32BE(correlationId, CORRELATION_ID_POSITION);
    return new Promise((resolve, reject) => {
      this.pending.push({ correlationId, resolve, reject });
      this.socket.write(frameBytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    if (this.closedError === null) this.closedError = err;
    for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i]!.reject(err);
    this.pending.length = 0;
    this.pendingHead = 0;
  }

  private onData(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    // Bounded by the bytes received: every iteration consumes one whole frame or stops.
    while (this.buffered >= 4) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const size = head.readInt32BE(0);
      if (size < 4) {
        this.socket.destroy();
        this.fail(new Error(`bad response frame size ${size}`));
        return;
      }
      if (this.buffered < 4 + size) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      const frameBytes = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.deliver(frameBytes);
    }
  }

  private deliver(frameBytes: Buffer): void {
    const waiter = this.pending[this.pendingHead];
    if (waiter === undefined) {
      this.fail(new Error('response without a request'));
      return;
    }
    this.pendingHead++;
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    }
    const correlationId = frameBytes.readInt32BE(0);
    if (correlationId !== waiter.correlationId) {
      waiter.reject(new Error(`correlation id ${correlationId}, expected ${waiter.correlationId}`));
      return;
    }
    // Produce v7 / Fetch v11 / CreateTopics v4 all use response header v0: just the correlation id.
    waiter.resolve(frameBytes.subarray(4));
  }
}

/**
 * Creates the topic with CreateTopics; a broker that does not offer CreateTopics v4 closes the
 * connection, and then the topic is auto-created through Metadata (num.partitions partitions).
 */
export async function ensureTopic(host: string, port: number, topic: string, partitions: number): Promise<void> {
  const conn = await KafkaConnection.open(host, port);
  try {
    const errorCode = decodeCreateTopicsResponse(await conn.request(encodeCreateTopicsRequest(topic, partitions, 10_000)));
    if (errorCode !== ERROR_NONE && errorCode !== ERROR_TOPIC_ALREADY_EXISTS) {
      throw new Error(`CreateTopics ${topic}: error code ${errorCode}`);
    }
    return;
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('connection closed')) throw err;
  } finally {
    conn.close();
  }
  const metadataConn = await KafkaConnection.open(host, port);
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const errorCode = decodeMetadataTopicError(await metadataConn.request(encodeMetadataRequest(topic)));
      if (errorCode === ERROR_NONE) return;
      if (!RETRIABLE_PRODUCE_ERRORS.has(errorCode)) throw new Error(`Metadata ${topic}: error code ${errorCode}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Metadata ${topic}: not created after 50 attempts`);
  } finally {
    metadataConn.close();
  }
}

export interface ProduceLoad {
  topic: string;
  partition: number;
  /** 1 or -1 (all); acks=0 gets no response, which this FIFO pipelining cannot match. */
  acks: 1 | -1;
  /** Stop after at least this many record-batch bytes. */
  totalBytes: number;
  recordsPerBatch: number;
  recordSize: number;
  inFlight: number;
}

export interface ProduceResult {
  bytes: number;
  records: number;
  requests: number;
  seconds: number;
  /** Request send → response, ms, sorted ascending. */
  latenciesMs: Float64Array;
  /** Offset after the last record written (the partition started empty). */
  endOffset: number;
  batchBytes: number;
}

/** Waits until the partition takes writes: a new topic's leader may need a moment. */
async function waitForLeader(conn: KafkaConnection, topic: string, partition: number, batch: Buffer): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { errorCode } = decodeProduceResponse(await conn.request(encodeProduceRequest(topic, partition, 1, 30_000, batch)));
    if (errorCode === ERROR_NONE) return 1;
    if (!RETRIABLE_PRODUCE_ERRORS.has(errorCode)) throw new Error(`Produce ${topic}-${partition}: error code ${errorCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Produce ${topic}-${partition}: no leader after 50 attempts`);
}

export async function runProduce(conn: KafkaConnection, load: ProduceLoad): Promise<ProduceResult> {
  const batch = buildRecordBatch(load.recordsPerBatch, load.recordSize);
  const warmupBatches = await waitForLeader(conn, load.topic, load.partition, batch);
  const requests = Math.max(1, Math.ceil(load.totalBytes / batch.length));
  // One frame per in-flight slot: a frame is rewritten (correlation id) only after its response.
  const frames = Array.from({ length: load.inFlight }, () =>
    encodeProduceRequest(load.topic, load.partition, load.acks, 30_000, batch),
  );
  const latencies = new Float64Array(requests);
  let next = 0;
  const start = performance.now();
  const worker = async (slot: number): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= requests) return;
      const sentAt = performance.now();
      const outcome = decodeProduceResponse(await conn.request(frames[slot]!));
      latencies[i] = performance.now() - sentAt;
      if (outcome.errorCode !== ERROR_NONE) throw new Error(`Produce request ${i}: error code ${outcome.errorCode}`);
    }
  };
  await Promise.all(Array.from({ length: load.inFlight }, (_, slot) => worker(slot)));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  return {
    bytes: requests * batch.length,
    records: requests * load.recordsPerBatch,
    requests,
    seconds,
    latenciesMs: latencies,
    endOffset: (requests + warmupBatches) * load.recordsPerBatch,
    batchBytes: batch.length,
  };
}

export interface ConsumeLoad {
  topic: string;
  partition: number;
  /** Consume offsets [0, endOffset). */
  endOffset: number;
  /** Partition max bytes of each Fetch; rounded down to whole batches. */
  fetchBytes: number;
  inFlight: number;
  /** Shape of the produced batches, so chunks of offsets line up with batch boundaries. */
  recordsPerBatch: number;
  batchBytes: number;
}

export interface ConsumeResult {
  bytes: number;
  records: number;
  requests: number;
  seconds: number;
}

interface BatchWalk {
  bytes: number;
  records: number;
  /** Offset after the last batch counted. */
  nextOffset: number;
}

/** Walks batch headers in records, counting batches with baseOffset in [from, to). */
function walkBatches(body: Buffer, start: number, length: number, from: number, to: number): BatchWalk {
  let pos = start;
  const end = start + length;
  let bytes = 0;
  let records = 0;
  let nextOffset = from;
  while (pos + RECORD_BATCH_HEADER_SIZE <= end) {
    const size = body.readInt32BE(pos + 8) + 12;
    if (pos + size > end) break; // a partial trailing batch is allowed by Kafka; ignore it
    const baseOffset = Number(body.readBigInt64BE(pos));
    const lastOffset = baseOffset + body.readInt32BE(pos + 23);
    if (lastOffset >= nextOffset && baseOffset < to) {
      if (baseOffset > nextOffset) throw new Error(`fetch skipped offsets ${nextOffset}..${baseOffset - 1}`);
      bytes += size;
      records += lastOffset + 1 - Math.max(baseOffset, nextOffset);
      nextOffset = lastOffset + 1;
    }
    pos += size;
  }
  return { bytes, records, nextOffset };
}

/**
 * Reads [0, endOffset) with pipelined fetches. The range is cut into chunks of `fetchBytes`-worth
 * of whole batches; each worker owns one chunk at a time and fetches on inside it when the broker
 * returns less (a fetch stays within one segment).
 */
export async function runConsume(conn: KafkaConnection, load: ConsumeLoad): Promise<ConsumeResult> {
  const probe = decodeFetchResponse(await conn.request(encodeFetchRequest(load.topic, load.partition, 0, load.fetchBytes, 500)));
  if (probe.errorCode !== ERROR_NONE) throw new Error(`Fetch ${load.topic}-${load.partition}: error code ${probe.errorCode}`);
  if (probe.highWatermark < load.endOffset) {
    throw new Error(`high watermark ${probe.highWatermark} below the ${load.endOffset} records produced`);
  }
  const frames = Array.from({ length: load.inFlight }, () => encodeFetchRequest(load.topic, load.partition, 0, load.fetchBytes, 500));
  // All batches are alike, so a chunk of whole batches is what one fetch of fetchBytes returns.
  const offsetsPerChunk = Math.max(1, Math.floor(load.fetchBytes / load.batchBytes)) * load.recordsPerBatch;
  // fetch_offset is followed by log_start_offset (8), partition_max_bytes (4), forgotten topics
  // count (4) and an empty rack_id (2).
  const offsetPosition = frames[0]!.length - 2 - 4 - 4 - 8 - 8;
  let nextChunk = 0;
  let bytes = 0;
  let records = 0;
  let requests = 0;
  const start = performance.now();
  const worker = async (slot: number): Promise<void> => {
    const frameBytes = frames[slot]!;
    for (;;) {
      const chunkStart = nextChunk;
      if (chunkStart >= load.endOffset) return;
      const chunkEnd = Math.min(chunkStart + offsetsPerChunk, load.endOffset);
      nextChunk = chunkEnd;
      let offset = chunkStart;
      // Each round advances by at least one batch or throws, and a chunk holds finitely many.
      while (offset < chunkEnd) {
        frameBytes.writeBigInt64BE(BigInt(offset), offsetPosition);
        const body = await conn.request(frameBytes);
        requests++;
        const res = decodeFetchResponse(body);
        if (res.errorCode !== ERROR_NONE) throw new Error(`Fetch at ${offset}: error code ${res.errorCode}`);
        const walk = walkBatches(body, res.recordsStart, res.recordsLength, offset, chunkEnd);
        if (walk.nextOffset <= offset) throw new Error(`Fetch at ${offset} returned no batch (${res.recordsLength} bytes)`);
        bytes += walk.bytes;
        records += walk.records;
        offset = walk.nextOffset;
      }
    }
  };
  await Promise.all(Array.from({ length: load.inFlight }, (_, slot) => worker(slot)));
  const seconds = (performance.now() - start) / 1000;
  if (records !== load.endOffset) throw new Error(`consumed ${records} records, expected ${load.endOffset}`);
  return { bytes, records, requests, seconds };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
