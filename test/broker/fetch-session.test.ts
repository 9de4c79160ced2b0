// broker room tests: incremental fetch sessions (KIP-227) over the wire — a raw client opens a
// session with a full fetch, then incremental fetches carry only changed partitions and
// forgotten topics, answers leave out partitions with nothing new, epochs are checked, a
// session's way of naming topics (names / topic ids) is kept, and an incremental fetch
// long-polls over the whole session. franz-go (which uses sessions by default) consumes two
// topics, the second created mid-consumption, with the right content and offsets.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { existingFetchSessionCache } from '../../src/api/fetch-sessions.js';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { interopDir, requireToolchain } from '../interop/common.js';

type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

let running: RunningBroker;
const data = tempDir();
const topicIds = new Map<string, string>();

t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1' });
  for (const [name, partitions] of [['s1', 3], ['s2', 1]] as const) {
    const image = await running.broker.createTopic(name, partitions);
    topicIds.set(name, image.topicId);
  }
});
t.teardown(async () => {
  await running.stop();
  data.cleanup();
});

function cacheStats(): { sessions: number; created: number; incrementalFetches: number } {
  const services = (running.broker as unknown as { apiServices: object | null }).apiServices;
  const cache = services === null ? undefined : existingFetchSessionCache(services);
  return cache?.stats() ?? { sessions: 0, created: 0, incrementalFetches: 0 };
}

async function produce(c: RawClient, topic: string, partition: number, values: string[]): Promise<void> {
  const records = buildBatch({ baseTimestamp: Date.now(), records: values.map((v, i) => ({ key: null, value: v, timestampDelta: i })) });
  const p = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
    transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  if (p.responses[0].partitionResponses[0].errorCode !== 0) throw new Error(`produce ${topic}-${partition}: ${p.responses[0].partitionResponses[0].errorCode}`);
}

type Wanted = Array<[string, Array<[number, number]>]>;

function fetchBody(sessionId: number, sessionEpoch: number, topics: Wanted, forgotten: Array<[string, number[]]> = [], maxWaitMs = 0): unknown {
  return {
    replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: topics.map(([topic, parts]) => ({
      topic, topicId: topicIds.get(topic) ?? topic,
      partitions: parts.map(([partition, fetchOffset]) => ({ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 })),
    })),
    forgottenTopicsData: forgotten.map(([topic, partitions]) => ({ topic, topicId: topicIds.get(topic) ?? topic, partitions })),
    rackId: '',
  };
}

/** [topic, partition, highWatermark, record bytes] of every partition answered. */
function shape(f: FetchRes, byId = false): Array<[string, number, number, number]> {
  const name = (r: FetchRes['responses'][number]): string => (byId ? ([...topicIds].find(([, id]) => id === r.topicId)?.[0] ?? r.topicId) : r.topic);
  return f.responses.flatMap((r) => r.partitions.map((p): [string, number, number, number] => [name(r), p.partitionIndex, p.highWatermark, p.records?.length ?? 0]));
}

t.test('a session: full fetch, incremental fetches with only what changed, forgotten topics, epochs', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  await produce(c, 's1', 0, ['a0']);
  await produce(c, 's1', 1, ['a1', 'b1']);
  const full = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(0, 0, [['s1', [[0, 0], [1, 0], [2, 0]]]]));
  t.equal(full.errorCode, 0);
  t.not(full.sessionId, 0, 'epoch 0 opened a session');
  const id = full.sessionId;
  t.same(shape(full).map((s) => s.slice(0, 3)), [['s1', 0, 1], ['s1', 1, 2], ['s1', 2, 0]], 'the full answer has every partition');
  t.ok(shape(full)[0][3] > 0 && shape(full)[1][3] > 0, 'with its records');

  const caughtUp = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 1, [['s1', [[0, 1], [1, 2]]]]));
  t.equal(caughtUp.errorCode, 0);
  t.equal(caughtUp.sessionId, id, 'same session');
  t.same(shape(caughtUp), [], 'nothing new anywhere: no partition in the answer');

  await produce(c, 's1', 2, ['a2']);
  const news = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 2, []));
  t.same(shape(news).map((s) => s.slice(0, 3)), [['s1', 2, 1]], 'an empty incremental fetch answers the one partition with new data');
  t.ok(shape(news)[0][3] > 0);

  const moved = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 3, [['s2', [[0, 0]]]], [['s1', [2]]]));
  t.same(shape(moved), [['s2', 0, 0, 0]], 'a partition added to the session is answered once (its high-watermark is new to the fetcher)');
  await produce(c, 's1', 2, ['b2']);
  await produce(c, 's2', 0, ['a-s2']);
  const after = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 4, []));
  t.same(shape(after).map((s) => s.slice(0, 3)), [['s2', 0, 1]], 's1-2 was forgotten: only s2-0 answers');

  const stale = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 4, []));
  t.equal(stale.errorCode, 71, 'an epoch used before: INVALID_FETCH_SESSION_EPOCH');
  t.equal(stale.sessionId, 0);
  const ahead = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 9, []));
  t.equal(ahead.errorCode, 71, 'an epoch ahead: INVALID_FETCH_SESSION_EPOCH');
  const next = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 5, [['s2', [[0, 1]]]]));
  t.equal(next.errorCode, 0, 'the session survives a wrong epoch');

  // The long poll covers the whole session, including partitions the request does not name.
  const waiting = c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 6, [], [], 5000));
  const other = await RawClient.connect(running.port);
  t.teardown(() => other.close());
  await new Promise((r) => setTimeout(r, 100));
  await produce(other, 's1', 0, ['b0']);
  const woke = await waiting;
  t.same(shape(woke).map((s) => s.slice(0, 3)), [['s1', 0, 2]], 'the poll ended with the new record of s1-0');

  const closed = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, -1, [['s1', [[0, 2]]]]));
  t.equal(closed.errorCode, 0);
  t.equal(closed.sessionId, 0, 'epoch -1: served without a session');
  const gone = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(id, 7, []));
  t.equal(gone.errorCode, 70, 'FETCH_SESSION_ID_NOT_FOUND once closed');
});

t.test('sessions with topic ids (v13+): unknown ids answer UNKNOWN_TOPIC_ID, a switch of version FETCH_SESSION_TOPIC_ID_ERROR', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const full = await c.request<FetchRes>(1, 13, FetchRequest, FetchResponse, fetchBody(0, 0, [['s2', [[0, 1]]]]));
  t.not(full.sessionId, 0);
  t.same(shape(full, true).map((s) => s.slice(0, 2)), [['s2', 0]]);
  const unknownId = 'q83vEjRWeJCrze8SNFZ4kA';
  const withUnknown = await c.request<FetchRes>(1, 13, FetchRequest, FetchResponse, {
    ...(fetchBody(full.sessionId, 1, []) as object),
    topics: [{ topicId: unknownId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1024 }] }],
  });
  t.equal(withUnknown.errorCode, 0);
  t.same(withUnknown.responses.map((r) => [r.topicId, r.partitions.map((p) => p.errorCode)]), [[unknownId, [100]]], 'UNKNOWN_TOPIC_ID for it, nothing new elsewhere');
  const switched = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, fetchBody(full.sessionId, 2, []));
  t.equal(switched.errorCode, 106, 'FETCH_SESSION_TOPIC_ID_ERROR');
});

t.test('franz-go consumes with sessions while a topic is added mid-consumption', async (t) => {
  const goDir = join(interopDir, 'go');
  const binary = join(goDir, 'bin', 'fetchsession');
  const source = join(goDir, 'fetchsession', 'main.go');
  // Built here when missing or stale (a few seconds with franz-go in the module cache).
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    const built = await new Promise<boolean>((resolve) => {
      const p = spawn('go', ['build', '-o', binary, './fetchsession'], { cwd: goDir, stdio: 'ignore', env: { ...process.env, GOFLAGS: '-buildvcs=false' } });
      p.on('error', () => resolve(false));
      p.on('exit', (code) => resolve(code === 0));
    });
    if (!requireToolchain(t, built, `${binary} could not be built (go build ./fetchsession in test/interop/go)`)) return;
  }
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  await running.broker.createTopic('fsx-a', 2);
  const expected = new Map<string, string>();
  const produceSome = async (topic: string, partition: number, n: number, from: number): Promise<void> => {
    const values = Array.from({ length: n }, (_, i) => `${topic}-${partition}-${from + i}`);
    await produce(c, topic, partition, values);
    values.forEach((v, i) => expected.set(`${topic}/${partition}/${from + i}`, v));
  };
  await produceSome('fsx-a', 0, 20, 0);
  await produceSome('fsx-a', 1, 20, 0);
  const before = cacheStats();
  const total = 40 + 30 + 30 + 10;
  const child = spawn(binary, [running.bootstrap, '^fsx-.*', String(total)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const seen: Array<{ t: string; p: number; o: number; v: string }> = [];
  let done = -1;
  let phase = 0;
  const finished = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const killer = setTimeout(() => child.kill(), 60_000);
  t.teardown(() => {
    clearTimeout(killer);
    child.kill();
  });
  for await (const line of lines) {
    const rec = JSON.parse(line) as { t: string; p: number; o: number; v: string } | { done: number };
    if ('done' in rec) {
      done = rec.done;
      break;
    }
    seen.push(rec);
    // Once the first topic is read, a second topic appears and both get more records.
    if (phase === 0 && seen.length >= 40) {
      phase = 1;
      await running.broker.createTopic('fsx-b', 1);
      await produceSome('fsx-b', 0, 30, 0);
      await produceSome('fsx-a', 1, 30, 20);
      await produceSome('fsx-a', 0, 10, 20);
    }
  }
  await finished;
  t.equal(done, total, `franz-go read every record (stderr: ${stderr.slice(0, 500)})`);
  const got = new Map(seen.map((r) => [`${r.t}/${r.p}/${r.o}`, r.v]));
  t.equal(seen.length, got.size, 'no record twice');
  t.same([...got].sort(), [...expected].sort(), 'topic, partition, offset and value of every record');
  const after = cacheStats();
  t.ok(after.created > before.created, `franz-go got a session id (${after.created - before.created} sessions opened)`);
  t.ok(after.incrementalFetches - before.incrementalFetches >= 3, `and fetched incrementally (${after.incrementalFetches - before.incrementalFetches} incremental fetches)`);
});
