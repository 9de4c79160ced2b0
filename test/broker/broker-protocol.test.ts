// broker room tests: protocol edge cases over raw sockets — framing limits, garbage, unknown
// versions, pipelining order, acks=0, fetch semantics.
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { frame, RawClient, requestHeader, tempDir } from '../helpers/broker.js';

type ApiVersionsRes = ReturnType<typeof ApiVersionsResponse.decodeBuffer>;
type MetadataRes = ReturnType<typeof MetadataResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

const MAX_FRAME = 64 * 1024;
let running: RunningBroker;
const data = tempDir();

t.before(async () => {
  running = await startBroker({
    dataDir: data.dir,
    port: 0,
    host: '127.0.0.1',
    engine: 'ts',
    config: { 'socket.request.max.bytes': MAX_FRAME, 'message.max.bytes': 32 * 1024 },
  });
  await running.broker.createTopic('raw', 2);
});
t.teardown(async () => {
  await running.stop();
  data.cleanup();
});

function produceBody(topic: string, partition: number, records: Buffer, acks = 1): unknown {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

function fetchBody(topic: string, partition: number, fetchOffset: number, opts: { maxWaitMs?: number; minBytes?: number } = {}): unknown {
  return {
    replicaId: -1,
    maxWaitMs: opts.maxWaitMs ?? 0,
    minBytes: opts.minBytes ?? 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  };
}

function batchOf(n: number, prefix: string): Buffer {
  return buildBatch({
    baseTimestamp: Date.now(),
    records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${prefix}-${i}`, timestampDelta: i })),
  });
}

t.test('ApiVersions at v99 is answered with UNSUPPORTED_VERSION in the v0 format', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  c.write(frame(Buffer.concat([requestHeader(18, 99, 7, false), Buffer.alloc(0)])));
  const f = await c.nextFrame();
  t.ok(f, 'got a response');
  t.equal(f!.readInt32BE(0), 7, 'correlation id');
  const body = ApiVersionsResponse.decodeBuffer(f!.subarray(4), 0);
  t.equal(body.errorCode, 35, 'UNSUPPORTED_VERSION');
  const av = body.apiKeys.find((k) => k.apiKey === 18);
  t.ok(av && av.maxVersion >= 3, 'lists ApiVersions so the client can retry lower');
  // The connection stays usable: retry at v3.
  const res = await c.request<ApiVersionsRes>(18, 3, ApiVersionsRequest, ApiVersionsResponse, {
    clientSoftwareName: 'raw-test',
    clientSoftwareVersion: '1.0',
  });
  t.equal(res.errorCode, 0);
  const produce = res.apiKeys.find((k) => k.apiKey === 0);
  t.equal(produce?.minVersion, 0, 'Produce advertised from v0 (librdkafka quirk)');
  t.equal(produce?.maxVersion, 13, 'Produce up to v13 (Kafka 4.1)');
  t.equal(res.apiKeys.find((k) => k.apiKey === 1)?.maxVersion, 18, 'Fetch up to v18 (Kafka 4.1)');
  const ranges = (keys: ApiVersionsRes['apiKeys']) => keys.map((k) => [k.apiKey, k.minVersion, k.maxVersion]);
  t.same(ranges(body.apiKeys), ranges(res.apiKeys), 'the v0 UNSUPPORTED_VERSION answer lists the same APIs and ranges');
  t.ok(body.apiKeys.some((k) => k.apiKey === 36 && k.minVersion === 0 && k.maxVersion === 2), 'SaslAuthenticate v0-2 is listed (SASL, issue 14)');
  t.ok(body.apiKeys.some((k) => k.apiKey === 17 && k.minVersion === 0 && k.maxVersion === 1), 'SaslHandshake v0-1 (v0: raw SASL tokens follow)');
  t.ok(body.apiKeys.some((k) => k.apiKey === 26), 'EndTxn (transactions) is listed');
});

t.test('a frame larger than socket.request.max.bytes closes the connection; others are unaffected', async (t) => {
  const bad = await RawClient.connect(running.port);
  const good = await RawClient.connect(running.port);
  t.teardown(() => good.close());
  const header = Buffer.alloc(4);
  header.writeInt32BE(MAX_FRAME + 1, 0);
  bad.write(header);
  await bad.closed;
  t.pass('broker closed the oversize connection');
  const res = await good.request<ApiVersionsRes>(18, 0, ApiVersionsRequest, ApiVersionsResponse, {});
  t.equal(res.errorCode, 0, 'another client still served');
});

t.test('a garbage frame closes that connection without crashing the broker', async (t) => {
  const good = await RawClient.connect(running.port);
  t.teardown(() => good.close());
  for (const garbage of [Buffer.from([1, 2, 3]), Buffer.from('this is not kafka at all, not even close'), Buffer.alloc(0)]) {
    const bad = await RawClient.connect(running.port);
    bad.write(frame(garbage));
    await bad.closed;
  }
  // A Produce body that lies about its array length.
  const bad = await RawClient.connect(running.port);
  const lying = Buffer.concat([requestHeader(0, 7, 1, false), Buffer.from([0xff, 0xff, 0, 1, 0, 0, 0, 100, 0x7f, 0xff, 0xff, 0xff])]);
  bad.write(frame(lying));
  await bad.closed;
  t.pass('each garbage connection was closed');
  const res = await good.request<MetadataRes>(3, 9, MetadataRequest, MetadataResponse, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'raw' }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  t.equal(res.topics[0].errorCode, 0, 'broker still answers');
  t.equal(res.topics[0].partitions.length, 2);
});

t.test('an unsupported Produce version closes the connection (as Kafka)', async (t) => {
  const c = await RawClient.connect(running.port);
  c.write(frame(Buffer.concat([requestHeader(0, 2, 1, false), Buffer.alloc(16)])));
  t.equal(await c.nextFrame(), null, 'closed without a response');
});

t.test('pipelined requests are answered in request order even when the first one waits', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  // Partition 1 is empty: this fetch long-polls for 300 ms.
  const started = Date.now();
  const slow = c.send(1, 12, FetchRequest, fetchBody('raw', 1, 0, { maxWaitMs: 300, minBytes: 1 }));
  const ids: number[] = [slow];
  for (let i = 0; i < 10; i++) ids.push(c.send(18, 2, ApiVersionsRequest, {}));
  // The broker runs in this process, so a loaded machine delays its 300 ms timer and I/O as much
  // as this 50 ms one (which expires first): nothing may be answered yet, not even ApiVersions.
  await new Promise((r) => setTimeout(r, 50));
  t.equal(c.pendingFrames, 0, 'no response while the first request long-polls');
  const seen: number[] = [];
  while (seen.length < ids.length) {
    const f = await c.nextFrame();
    seen.push(f!.readInt32BE(0));
  }
  t.same(seen, ids, 'correlation ids come back in request order');
  // A lower bound: load can only lengthen it (timers never fire early by more than ~1 ms).
  t.ok(Date.now() - started >= 250, 'the fast requests waited behind the long poll');
});

t.test('produce, then fetch from the middle of a batch returns the whole batch', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const p = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('raw', 0, batchOf(10, 'mid')));
  const pr = p.responses[0].partitionResponses[0];
  t.equal(pr.errorCode, 0);
  const base = pr.baseOffset;
  const f = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, fetchBody('raw', 0, base + 5));
  const part = f.responses[0].partitions[0];
  t.equal(part.errorCode, 0);
  t.equal(part.highWatermark, base + 10);
  const batches = decodeBatches(part.records!);
  t.equal(batches[0].baseOffset, base, 'first batch starts before the fetch offset');
  t.equal(batches[0].records.length, 10, 'whole batch returned');
  t.equal(batches[0].records[5].value?.toString(), 'mid-5');
});

t.test('acks=0 produce sends no response; the next request is answered normally', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const before = running.broker.logManager.getLog('raw', 1)!.logEndOffset;
  c.send(0, 9, ProduceRequest, produceBody('raw', 1, batchOf(3, 'fire'), 0));
  const id = c.send(18, 0, ApiVersionsRequest, {});
  const f = await c.nextFrame();
  t.equal(f!.readInt32BE(0), id, 'the first frame back answers the ApiVersions request');
  t.equal(running.broker.logManager.getLog('raw', 1)!.logEndOffset, before + 3, 'records were appended');
});

t.test('produce errors: unknown topic, oversize batch, corrupt CRC', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const unknown = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('nope', 0, batchOf(1, 'x')));
  t.equal(unknown.responses[0].partitionResponses[0].errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION');
  const big = buildBatch({ baseTimestamp: Date.now(), records: [{ value: Buffer.alloc(40 * 1024, 1) }] });
  const tooLarge = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('raw', 0, big));
  t.equal(tooLarge.responses[0].partitionResponses[0].errorCode, 10, 'MESSAGE_TOO_LARGE (message.max.bytes)');
  const corrupt = batchOf(2, 'c');
  corrupt[corrupt.length - 1] ^= 0xff;
  const bad = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('raw', 0, corrupt));
  t.equal(bad.responses[0].partitionResponses[0].errorCode, 2, 'CORRUPT_MESSAGE');
  const badPartition = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('raw', 7, batchOf(1, 'x')));
  t.equal(badPartition.responses[0].partitionResponses[0].errorCode, 3, 'unknown partition');
});

t.test('Produce v13 and Fetch v18 name topics by id, end to end', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  await running.broker.createTopic('byid', 1);
  const topicId = running.broker.metadata.topic('byid')!.topicId;
  const produced = await c.request<ProduceRes>(0, 13, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ topicId, partitionData: [{ index: 0, records: batchOf(3, 'v13') }] }],
  });
  t.equal(produced.responses[0].topicId, topicId, 'the answer names the topic by id');
  t.same(produced.responses[0].partitionResponses.map((p) => [p.index, p.errorCode, p.baseOffset]), [[0, 0, 0]]);
  const unknownId = 'AAECAwQFBgcICQoLDA0ODw';
  const missing = await c.request<ProduceRes>(0, 13, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ topicId: unknownId, partitionData: [{ index: 0, records: batchOf(1, 'x') }] }],
  });
  t.equal(missing.responses[0].topicId, unknownId);
  t.equal(missing.responses[0].partitionResponses[0].errorCode, 100, 'UNKNOWN_TOPIC_ID');
  const badPartition = await c.request<ProduceRes>(0, 13, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ topicId, partitionData: [{ index: 4, records: batchOf(1, 'x') }] }],
  });
  t.equal(badPartition.responses[0].partitionResponses[0].errorCode, 3, 'known id, unknown partition: UNKNOWN_TOPIC_OR_PARTITION');

  const fetchV18 = (opts: { maxWaitMs: number; minBytes: number; fetchOffset: number; highWatermark?: number }): unknown => ({
    maxWaitMs: opts.maxWaitMs,
    minBytes: opts.minBytes,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topicId,
        partitions: [
          { partition: 0, currentLeaderEpoch: -1, fetchOffset: opts.fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20, highWatermark: opts.highWatermark },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const fetched = await c.request<FetchRes>(1, 18, FetchRequest, FetchResponse, fetchV18({ maxWaitMs: 0, minBytes: 0, fetchOffset: 0 }));
  const part = fetched.responses[0].partitions[0];
  t.equal(fetched.responses[0].topicId, topicId);
  t.equal(part.errorCode, 0);
  t.equal(part.highWatermark, 3);
  t.same(decodeBatches(part.records!)[0].records.map((r) => r.value?.toString()), ['v13-0', 'v13-1', 'v13-2']);
  const unknown = await c.request<FetchRes>(1, 18, FetchRequest, FetchResponse, { ...(fetchV18({ maxWaitMs: 0, minBytes: 0, fetchOffset: 0 }) as object), topics: [{ topicId: unknownId, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }] }] });
  t.equal(unknown.responses[0].partitions[0].errorCode, 100, 'Fetch v18 by unknown id: UNKNOWN_TOPIC_ID');

  // KIP-1166: a fetcher reporting an older high-watermark is answered at once, without new data.
  let started = Date.now();
  const behind = await c.request<FetchRes>(1, 18, FetchRequest, FetchResponse, fetchV18({ maxWaitMs: 3000, minBytes: 1, fetchOffset: 3, highWatermark: 1 }));
  t.ok(Date.now() - started < 2000, `fetcher behind on the high-watermark answered in ${Date.now() - started} ms`);
  t.equal(behind.responses[0].partitions[0].highWatermark, 3);
  // Up to date (or not reporting one): the long poll waits as before.
  for (const highWatermark of [3, undefined]) {
    started = Date.now();
    await c.request<FetchRes>(1, 18, FetchRequest, FetchResponse, fetchV18({ maxWaitMs: 300, minBytes: 1, fetchOffset: 3, highWatermark }));
    t.ok(Date.now() - started >= 250, `high-watermark ${highWatermark ?? 'not reported'}: waited max.wait.ms`);
  }
});

t.test('fetch beyond the log end is OFFSET_OUT_OF_RANGE', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const f = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, fetchBody('raw', 0, 1_000_000));
  t.equal(f.responses[0].partitions[0].errorCode, 1);
});

t.test('a long-polling fetch is woken by a produce', async (t) => {
  const consumer = await RawClient.connect(running.port);
  const producer = await RawClient.connect(running.port);
  t.teardown(() => {
    consumer.close();
    producer.close();
  });
  const leo = running.broker.logManager.getLog('raw', 1)!.logEndOffset;
  const started = Date.now();
  const maxWaitMs = 10_000;
  const id = consumer.send(1, 12, FetchRequest, fetchBody('raw', 1, leo, { maxWaitMs, minBytes: 1 }));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(consumer.pendingFrames, 0, 'the fetch is parked, not answered at once');
  await producer.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('raw', 1, batchOf(2, 'wake')));
  const f = await consumer.receive<FetchRes>(FetchResponse, 12, id, 1);
  // An expired long poll would come back empty and only after max.wait.ms; the produced records
  // in the answer are what show the wake-up, the time bound only has to stay below max.wait.ms.
  t.ok(Date.now() - started < maxWaitMs, 'answered before max.wait.ms');
  const batches = decodeBatches(f.responses[0].partitions[0].records!);
  t.equal(batches[0].records[0].value?.toString(), 'wake-0', 'woken with the produced records');
});

t.test('Metadata auto-creates a topic when allowed, and refuses illegal names', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<MetadataRes>(3, 12, MetadataRequest, MetadataResponse, {
    topics: [
      { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'auto-created' },
      { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'bad/name' },
    ],
    allowAutoTopicCreation: true,
    includeTopicAuthorizedOperations: false,
  });
  t.equal(res.topics[0].errorCode, 0);
  t.equal(res.topics[0].partitions[0].leaderId, 1);
  t.same(res.topics[0].partitions[0].isrNodes, [1]);
  t.not(res.topics[0].topicId, 'AAAAAAAAAAAAAAAAAAAAAA', 'topic id assigned');
  t.equal(res.topics[1].errorCode, 17, 'INVALID_TOPIC_EXCEPTION');
  const noAuto = await c.request<MetadataRes>(3, 12, MetadataRequest, MetadataResponse, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'never-created' }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  t.equal(noAuto.topics[0].errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION without auto-creation');
  t.equal(res.brokers[0].port, running.port, 'advertises the bound port');
});

t.test('produce policy errors: acks, min.insync.replicas, timestamps, transactional batches', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const code = async (body: unknown): Promise<number> =>
    (await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, body)).responses[0].partitionResponses[0].errorCode;
  t.equal(await code(produceBody('raw', 0, batchOf(1, 'a'), 2)), 21, 'INVALID_REQUIRED_ACKS');
  await running.broker.createTopic('misr', 1, { 'min.insync.replicas': '2' });
  t.equal(await code(produceBody('misr', 0, batchOf(1, 'a'), -1)), 19, 'NOT_ENOUGH_REPLICAS at acks=all');
  t.equal(await code(produceBody('misr', 0, batchOf(1, 'a'), 1)), 0, 'acks=1 is fine');
  const future = buildBatch({ baseTimestamp: Date.now() + 2 * 3600_000, records: [{ value: 'later' }] });
  t.equal(await code(produceBody('raw', 0, future)), 32, 'INVALID_TIMESTAMP beyond message.timestamp.after.max.ms');
  const txn = buildBatch({ baseTimestamp: Date.now(), records: [{ value: 't' }], transactional: true, producerId: -1, producerEpoch: -1, baseSequence: -1 });
  t.equal(await code(produceBody('raw', 0, txn)), 87, 'INVALID_RECORD: a transactional batch without a producer id');
});

t.test('a retried idempotent batch is acknowledged with its original offset, not written twice', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  await running.broker.createTopic('idempotent', 1);
  const make = (seq: number): Buffer =>
    buildBatch({ baseTimestamp: Date.now(), records: [{ value: `s${seq}` }, { value: `s${seq + 1}` }], producerId: 77, producerEpoch: 0, baseSequence: seq });
  const first = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('idempotent', 0, make(0), -1));
  const second = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('idempotent', 0, make(2), -1));
  const retry = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('idempotent', 0, make(0), -1));
  t.equal(first.responses[0].partitionResponses[0].baseOffset, 0);
  t.equal(second.responses[0].partitionResponses[0].baseOffset, 2);
  t.equal(retry.responses[0].partitionResponses[0].errorCode, 0);
  t.equal(retry.responses[0].partitionResponses[0].baseOffset, 0, 'original offset');
  t.equal(running.broker.logManager.getLog('idempotent', 0)!.logEndOffset, 4, 'not appended again');
});

t.test('random garbage frames never take the broker down', async (t) => {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 100; i++) {
    const c = await RawClient.connect(running.port);
    const len = rand() % 200;
    const body = Buffer.alloc(len);
    for (let j = 0; j < len; j++) body[j] = rand() & 0xff;
    // Half of them get a plausible header (a real API key and version) before the garbage.
    if (len >= 4 && i % 2 === 0) {
      body.writeInt16BE([0, 1, 3, 18, 19, 32][i % 6], 0);
      body.writeInt16BE(i % 13, 2);
    }
    c.write(frame(body));
    await Promise.race([c.closed, c.nextFrame(2000).catch(() => null)]);
    c.close();
  }
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<ReturnType<typeof ApiVersionsResponse.decodeBuffer>>(18, 3, ApiVersionsRequest, ApiVersionsResponse, {
    clientSoftwareName: 'after-fuzz',
    clientSoftwareVersion: '1',
  });
  t.equal(res.errorCode, 0, 'still serving');
});

t.test('stop() answers a pending long poll and returns promptly', async (t) => {
  const d = tempDir();
  const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  t.teardown(d.cleanup);
  await b.broker.createTopic('lp', 1);
  const c = await RawClient.connect(b.port);
  const id = c.send(1, 12, FetchRequest, fetchBody('lp', 0, 0, { maxWaitMs: 30000, minBytes: 1 }));
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const response = c.receive<FetchRes>(FetchResponse, 12, id, 1);
  await b.stop();
  t.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms`);
  const res = await response;
  t.equal(res.responses[0].partitions[0].errorCode, 0, 'the long poll got an (empty) answer before the close');
  await c.closed;
});

t.test('a client reset with requests in flight does not disturb the broker', async (t) => {
  for (let i = 0; i < 5; i++) {
    const c = await RawClient.connect(running.port);
    c.send(1, 12, FetchRequest, fetchBody('raw', 1, running.broker.logManager.getLog('raw', 1)!.logEndOffset, { maxWaitMs: 200, minBytes: 1 }));
    c.send(18, 0, ApiVersionsRequest, {});
    c.socket.resetAndDestroy();
    await c.closed;
  }
  await new Promise((r) => setTimeout(r, 300)); // let the long polls expire and try to answer
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<ReturnType<typeof ApiVersionsResponse.decodeBuffer>>(18, 0, ApiVersionsRequest, ApiVersionsResponse, {});
  t.equal(res.errorCode, 0);
});
