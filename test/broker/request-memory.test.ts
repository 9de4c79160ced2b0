// broker room tests (issue 8): request memory is bounded. A frame costs the bytes that arrived,
// never the size it announced (50 clients announcing 100 MiB and stalling cost next to nothing), and
// queued.max.request.bytes is one broker-wide budget: when it is used up the broker stops reading
// (backpressure, as Kafka's MemoryPool mutes channels) and reads on once processing frees memory;
// a request larger than what is left still completes, and the broker never deadlocks or crashes.
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { SocketServer } from '../../src/network/index.js';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;
type ApiVersionsRes = ReturnType<typeof ApiVersionsResponse.decodeBuffer>;

const MiB = 1024 * 1024;

async function setup(t: Test, config: Record<string, string | number> = {}): Promise<{ b: RunningBroker; server: SocketServer }> {
  const d = tempDir();
  const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts', config, logLevel: 'silent' });
  t.teardown(async () => {
    await b.stop();
    d.cleanup();
  });
  const server = (b.broker as unknown as { server: SocketServer }).server;
  return { b, server };
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

function sizePrefix(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(size, 0);
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function apiVersions(c: RawClient): number {
  return c.send(18, 3, ApiVersionsRequest, { clientSoftwareName: 'memory', clientSoftwareVersion: '1' });
}

function produceBody(topic: string, valueBytes: number): unknown {
  const batch = buildBatch({ baseTimestamp: Date.now(), records: [{ key: 'k', value: Buffer.alloc(valueBytes, 7) }] });
  return { transactionalId: null, acks: 1, timeoutMs: 30000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] };
}

t.test('50 connections announcing 100 MiB frames and stalling: memory stays bounded, others are answered', async (t) => {
  // Defaults: socket.request.max.bytes = queued.max.request.bytes = 100 MiB.
  const { b, server } = await setup(t);
  const hogs: Socket[] = [];
  t.teardown(() => hogs.forEach((s) => s.destroy()));
  const before = process.memoryUsage();
  for (let i = 0; i < 50; i++) {
    const s = await rawSocket(b.port);
    s.on('error', () => undefined);
    hogs.push(s);
    // 100 MiB announced, 64 KiB sent, then nothing.
    s.write(Buffer.concat([sizePrefix(100 * MiB), Buffer.alloc(64 * 1024, 1)]));
  }
  await until('50 connections', () => server.connectionCount === 50);
  await sleep(300);
  const after = process.memoryUsage();
  const growth = { rss: after.rss - before.rss, arrayBuffers: after.arrayBuffers - before.arrayBuffers };
  t.ok(growth.arrayBuffers < 300 * MiB, `arrayBuffers grew ${(growth.arrayBuffers / MiB).toFixed(1)} MiB (50 x 100 MiB announced)`);
  t.ok(growth.rss < 300 * MiB, `rss grew ${(growth.rss / MiB).toFixed(1)} MiB`);

  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const res = await c.receive<ApiVersionsRes>(ApiVersionsResponse, 3, apiVersions(c), 18);
  t.equal(res.errorCode, 0, 'a normal client is answered');
  const topic = await b.broker.createTopic('beside', 1);
  t.ok(topic.topicId);
  const produced = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, produceBody('beside', 1000));
  t.equal(produced.responses[0].partitionResponses[0].errorCode, 0, 'and can produce');

  t.ok(server.memoryPool.usedBytes <= 50 * 64 * 1024, `the budget holds what arrived (${(server.memoryPool.usedBytes / MiB).toFixed(1)} MiB), not what was announced`);
  t.notOk(server.memoryPool.outOfMemory);

  for (const s of hogs) s.destroy();
  await until('the stalled frames are released', () => server.memoryPool.usedBytes === 0);
  t.pass('closing the stalled connections gives their memory back');
});

t.test('queued.max.request.bytes used up: the broker stops reading; a produce larger than the budget completes once memory frees', async (t) => {
  const { b, server } = await setup(t, {
    'queued.max.request.bytes': 1 * MiB,
    'socket.request.max.bytes': 8 * MiB,
    'message.max.bytes': 8 * MiB,
  });
  await b.broker.createTopic('big', 1);
  const producer = await RawClient.connect(b.port);
  const other = await RawClient.connect(b.port);
  t.teardown(() => {
    producer.close();
    other.close();
  });
  // Before the budget is used up, everyone is answered.
  t.equal((await other.receive<ApiVersionsRes>(ApiVersionsResponse, 3, apiVersions(other), 18)).errorCode, 0);

  // A client sends 1.5 MiB of a 4 MiB frame and stalls: the 1 MiB budget is used up.
  const hog = await rawSocket(b.port);
  hog.on('error', () => undefined);
  hog.write(Buffer.concat([sizePrefix(4 * MiB), Buffer.alloc(1.5 * MiB, 1)]));
  await until('the budget is used up', () => server.memoryPool.outOfMemory);

  // Now nobody else is read: a 3 MiB produce and an ApiVersions wait.
  const produceId = producer.send(0, 9, ProduceRequest, produceBody('big', 3 * MiB));
  const versionsId = apiVersions(other);
  await sleep(500);
  t.equal(producer.pendingFrames, 0, 'the produce waits while the budget is used up');
  t.equal(other.pendingFrames, 0, 'so does a small request');
  t.ok(server.memoryPool.usedBytes < 1 * MiB + 4 * MiB + 512 * 1024, `held: ${(server.memoryPool.usedBytes / MiB).toFixed(2)} MiB`);

  // The stalled client goes away: its memory comes back, the produce (3 MiB > the 1 MiB budget)
  // goes through as the one frame allowed past the budget, and the waiting request is answered.
  hog.destroy();
  const produced = await producer.receive<ProduceRes>(ProduceResponse, 9, produceId, 0);
  t.equal(produced.responses[0].partitionResponses[0].errorCode, 0, 'the 3 MiB produce completed');
  t.equal(produced.responses[0].partitionResponses[0].baseOffset, 0);
  t.equal((await other.receive<ApiVersionsRes>(ApiVersionsResponse, 3, versionsId, 18)).errorCode, 0, 'the small request is answered');
  await until('every request released', () => server.memoryPool.usedBytes === 0);
  t.notOk(server.memoryPool.outOfMemory);
});

t.test('frames that together exceed the budget never deadlock: each completes in turn', async (t) => {
  // Kafka's rule (queued.max.request.bytes >= socket.request.max.bytes) holds here.
  const { b, server } = await setup(t, {
    'queued.max.request.bytes': 2 * MiB,
    'socket.request.max.bytes': 2 * MiB,
    'message.max.bytes': 2 * MiB,
  });
  await b.broker.createTopic('pair', 1);
  let peak = 0;
  const pool = server.memoryPool;
  const charge = pool.charge.bind(pool);
  pool.charge = (member, partialDelta, frameBytes) => {
    charge(member, partialDelta, frameBytes);
    peak = Math.max(peak, pool.usedBytes);
  };
  const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(b.port)));
  t.teardown(() => clients.forEach((c) => c.close()));
  // Three 1.5 MiB produces: half of each is sent first, which uses the 2 MiB budget up with three
  // partial frames (none may read on but the one that ran it out), then the rest.
  const frames = clients.map(() => {
    const body = ProduceRequest.encodeToBuffer(produceBody('pair', 1.5 * MiB) as never, 9);
    const header = Buffer.alloc(10 + 6 + 1);
    header.writeInt16BE(0, 0);
    header.writeInt16BE(9, 2);
    header.writeInt32BE(77, 4);
    header.writeInt16BE(6, 8);
    header.write('memory', 10);
    const payload = Buffer.concat([header, body]);
    return Buffer.concat([sizePrefix(payload.length), payload]);
  });
  const half = Math.floor(frames[0].length / 2);
  for (const [i, c] of clients.entries()) c.write(frames[i].subarray(0, half));
  await until('the budget is used up by partial frames', () => pool.outOfMemory);
  for (const [i, c] of clients.entries()) c.write(frames[i].subarray(half));
  const results = await Promise.all(clients.map((c) => c.receive<ProduceRes>(ProduceResponse, 9, 77, 0)));
  t.same(results.map((r) => r.responses[0].partitionResponses[0].errorCode), [0, 0, 0], 'all three produces completed');
  t.ok(peak > 2 * MiB - 64 * 1024, `the budget was reached (peak ${(peak / MiB).toFixed(2)} MiB)`);
  t.ok(peak <= 2 * MiB + 2 * MiB + 512 * 1024, 'and exceeded by at most one frame (plus what was already read)');
  await until('every request released', () => pool.usedBytes === 0);
});

t.test('many connections sending large frames at once: the budget holds, the broker survives', async (t) => {
  const { b, server } = await setup(t, { 'queued.max.request.bytes': 8 * MiB, 'socket.request.max.bytes': 8 * MiB });
  let peak = 0;
  const pool = server.memoryPool;
  const charge = pool.charge.bind(pool);
  pool.charge = (member, partialDelta, frameBytes) => {
    charge(member, partialDelta, frameBytes);
    peak = Math.max(peak, pool.usedBytes);
  };
  const senders: Socket[] = [];
  t.teardown(() => senders.forEach((s) => s.destroy()));
  // 20 clients x 6 MiB of garbage frames (not valid requests: each is closed once it is parsed).
  for (let i = 0; i < 20; i++) {
    const s = await rawSocket(b.port);
    s.on('error', () => undefined);
    senders.push(s);
    s.write(Buffer.concat([sizePrefix(6 * MiB), Buffer.alloc(6 * MiB, 0xff)]));
  }
  await until('every sender was read and closed', () => server.connectionCount === 0, 30000);
  t.comment(`peak ${(peak / MiB).toFixed(2)} MiB for 120 MiB sent`);
  t.ok(peak <= 8 * MiB + 8 * MiB + 2 * MiB, 'at most the budget, one frame past it, and what sockets had already read');
  t.equal(pool.usedBytes, 0, 'everything released');
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  t.equal((await c.receive<ApiVersionsRes>(ApiVersionsResponse, 3, apiVersions(c), 18)).errorCode, 0, 'the broker still answers');
});
