// bench/ room: a lean Kafka load generator on raw sockets, for measuring the broker, not a client.
// Requests are encoded once up front by src/protocol's message schemas (Produce v7, Fetch v11,
// CreateTopics v4: the newest non-flexible versions, all still inside Kafka 4's supported ranges),
// only their correlation id (and a fetch's offset) patched per send, and pipelined on one
// connection: the broker answers in request order, so responses are matched first in, first out.
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions as TlsConnectOptions } from 'node:tls';
import { ErrorCode, Writer } from '../src/protocol/index.js';
import { CreatePartitionsRequest, CreatePartitionsResponse } from '../src/protocol/messages/create-partitions.js';
import { CreateTopicsRequest, CreateTopicsResponse } from '../src/protocol/messages/create-topics.js';
import { FetchRequest, FetchResponse } from '../src/protocol/messages/fetch.js';
import { MetadataRequest, MetadataResponse } from '../src/protocol/messages/metadata.js';
import { ProduceRequest, ProduceResponse } from '../src/protocol/messages/produce.js';
import { RECORD_BATCH_OVERHEAD, encodeRecordBatch } from '../src/protocol/record-batch.js';
import type { Fields, MessageSchema, StructIn } from '../src/protocol/schema.js';

const METADATA_VERSION = 4;
const PRODUCE_VERSION = 7;
const FETCH_VERSION = 11;
const CREATE_TOPICS_VERSION = 4;
const CLIENT_ID = 'spool-bench';

/** Errors a freshly created partition may answer with while its leader is being set up. */
const RETRIABLE_PRODUCE_ERRORS = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
]);

/**
 * Size prefix + request header v1 + body, encoded by the protocol layer's message schemas.
 * The correlation id (0 here) sits at byte 8 and is the only part rewritten per send.
 */
function frame<F extends Fields>(schema: MessageSchema<F>, version: number, body: StructIn<F>): Buffer {
  const w = new Writer(256);
  w.int32(0); // size prefix, filled in below
  w.int16(schema.apiKey);
  w.int16(version);
  w.int32(0);
  w.string(CLIENT_ID, false);
  schema.encode(w, body, version);
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

const CORRELATION_ID_POSITION = 8;

/**
 * A v2 record batch of `count` records with null keys and `valueSize`-byte values, the way a
 * non-idempotent producer sends it: baseOffset 0, producer id -1, CRC-32C over attributes..end.
 */
export function buildRecordBatch(count: number, valueSize: number, timestamp = Date.now()): Buffer {
  const value = Buffer.alloc(valueSize);
  for (let i = 0; i < valueSize; i++) value[i] = (i * 31 + 7) & 0xff;
  return encodeRecordBatch(Array.from({ length: count }, () => ({ key: null, value, timestamp })));
}

export function encodeProduceRequest(topic: string, partition: number, acks: number, timeoutMs: number, batches: Buffer): Buffer {
  return frame(ProduceRequest, PRODUCE_VERSION, {
    transactionalId: null,
    acks,
    timeoutMs,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batches }] }],
  });
}

export function encodeFetchRequest(topic: string, partition: number, offset: number, partitionMaxBytes: number, maxWaitMs: number): Buffer {
  return frame(FetchRequest, FETCH_VERSION, {
    replicaId: -1, // a consumer
    maxWaitMs,
    minBytes: 1,
    maxBytes: 0x7fffffff,
    isolationLevel: 0, // read_uncommitted
    sessionId: 0, // no fetch session
    sessionEpoch: -1, // full fetch
    topics: [
      {
        topic,
        // logStartOffset -1: only followers send it.
        partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes }],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
}

export function encodeCreateTopicsRequest(topic: string, partitions: number, timeoutMs: number): Buffer {
  return frame(CreateTopicsRequest, CREATE_TOPICS_VERSION, {
    topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs,
    validateOnly: false,
  });
}

/** CreatePartitions v1 (not flexible, so the same header as the rest): the topic to `total` partitions. */
export function encodeCreatePartitionsRequest(topic: string, total: number, timeoutMs: number): Buffer {
  return frame(CreatePartitionsRequest, 1, { topics: [{ name: topic, count: total, assignments: null }], timeoutMs, validateOnly: false });
}

export function decodeCreatePartitionsResponse(body: Buffer): number {
  return only(CreatePartitionsResponse.decodeBuffer(body, 1).results, 'create partitions response results').errorCode;
}

/** Metadata v4 for one topic, allowing auto-creation (auto.create.topics.enable). */
export function encodeMetadataRequest(topic: string): Buffer {
  return frame(MetadataRequest, METADATA_VERSION, { topics: [{ name: topic }], allowAutoTopicCreation: true });
}

/** The single element the bench asked for; anything else means the broker answered off-script. */
function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`${what}: expected one, got ${items.length}`);
  return items[0];
}

export interface ProduceOutcome {
  errorCode: number;
  baseOffset: number;
}

/** Produce v7 response body: the single topic/partition we sent. */
export function decodeProduceResponse(body: Buffer): ProduceOutcome {
  const res = ProduceResponse.decodeBuffer(body, PRODUCE_VERSION);
  const p = only(only(res.responses, 'produce response topics').partitionResponses, 'produce response partitions');
  return { errorCode: p.errorCode, baseOffset: p.baseOffset };
}

export interface FetchOutcome {
  errorCode: number;
  highWatermark: number;
  /** The partition's records: a view into the response body (empty when null). */
  records: Buffer;
}

const NO_RECORDS = Buffer.alloc(0);

/** Fetch v11 response body: the single topic/partition we asked for. */
export function decodeFetchResponse(body: Buffer): FetchOutcome {
  const res = FetchResponse.decodeBuffer(body, FETCH_VERSION);
  if (res.errorCode !== ErrorCode.NONE) return { errorCode: res.errorCode, highWatermark: -1, records: NO_RECORDS };
  const p = only(only(res.responses, 'fetch response topics').partitions, 'fetch response partitions');
  return { errorCode: p.errorCode, highWatermark: p.highWatermark, records: p.records ?? NO_RECORDS };
}

/** CreateTopics v4 response: the error code of the single topic. */
export function decodeCreateTopicsResponse(body: Buffer): number {
  return only(CreateTopicsResponse.decodeBuffer(body, CREATE_TOPICS_VERSION).topics, 'create topics response topics').errorCode;
}

/** Metadata v4 response: the error code of the single topic. */
export function decodeMetadataTopicError(body: Buffer): number {
  return only(MetadataResponse.decodeBuffer(body, METADATA_VERSION).topics, 'metadata response topics').errorCode;
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

  /** `tls`: connect with TLS (bench/tls.ts) using these node:tls options. */
  static open(host: string, port: number, tls?: TlsConnectOptions): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = tls === undefined ? connect({ host, port }) : connectTls({ ...tls, host, port });
      socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
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
    this.closedError ??= err;
    for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i].reject(err);
    this.pending.length = 0;
    this.pendingHead = 0;
  }

  private onData(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    // Bounded by the bytes received: every iteration consumes one whole frame or stops.
    while (this.buffered >= 4) {
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : Buffer.concat(this.chunks);
      const size = head.readInt32BE(0);
      if (size < 4) {
        this.socket.destroy();
        this.fail(new Error(`bad response frame size ${size}`));
        return;
      }
      if (this.buffered < 4 + size) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const frameBytes = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.deliver(frameBytes);
    }
  }

  private deliver(frameBytes: Buffer): void {
    const waiter = this.pending.at(this.pendingHead);
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
    if (errorCode !== ErrorCode.NONE && errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
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
      if (errorCode === ErrorCode.NONE) return;
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
    if (errorCode === ErrorCode.NONE) return 1;
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
      const outcome = decodeProduceResponse(await conn.request(frames[slot]));
      latencies[i] = performance.now() - sentAt;
      if (outcome.errorCode !== ErrorCode.NONE) throw new Error(`Produce request ${i}: error code ${outcome.errorCode}`);
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
function walkBatches(batches: Buffer, from: number, to: number): BatchWalk {
  let pos = 0;
  const end = batches.length;
  let bytes = 0;
  let records = 0;
  let nextOffset = from;
  while (pos + RECORD_BATCH_OVERHEAD <= end) {
    const size = batches.readInt32BE(pos + 8) + 12;
    if (pos + size > end) break; // a partial trailing batch is allowed by Kafka; ignore it
    const baseOffset = Number(batches.readBigInt64BE(pos));
    const lastOffset = baseOffset + batches.readInt32BE(pos + 23);
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
  if (probe.errorCode !== ErrorCode.NONE) throw new Error(`Fetch ${load.topic}-${load.partition}: error code ${probe.errorCode}`);
  if (probe.highWatermark < load.endOffset) {
    throw new Error(`high watermark ${probe.highWatermark} below the ${load.endOffset} records produced`);
  }
  const frames = Array.from({ length: load.inFlight }, () => encodeFetchRequest(load.topic, load.partition, 0, load.fetchBytes, 500));
  // All batches are alike, so a chunk of whole batches is what one fetch of fetchBytes returns.
  const offsetsPerChunk = Math.max(1, Math.floor(load.fetchBytes / load.batchBytes)) * load.recordsPerBatch;
  // fetch_offset is followed by log_start_offset (8), partition_max_bytes (4), forgotten topics
  // count (4) and an empty rack_id (2).
  const offsetPosition = frames[0].length - 2 - 4 - 4 - 8 - 8;
  let nextChunk = 0;
  let bytes = 0;
  let records = 0;
  let requests = 0;
  const start = performance.now();
  const worker = async (slot: number): Promise<void> => {
    const frameBytes = frames[slot];
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
        if (res.errorCode !== ErrorCode.NONE) throw new Error(`Fetch at ${offset}: error code ${res.errorCode}`);
        const walk = walkBatches(res.records, offset, chunkEnd);
        if (walk.nextOffset <= offset) throw new Error(`Fetch at ${offset} returned no batch (${res.records.length} bytes)`);
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
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
