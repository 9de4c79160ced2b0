// broker room tests: every FileSlice a Fetch takes gives its fd lease back (storage/engine.ts).
// A long poll re-reads on each wake-up and drops those passes; a client that disconnects while
// its long poll waits never gets its response written. Both must leave no lease held: a lease
// keeps its segment's fd open for as long as it lives.
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import type { StorageEngine } from '../../src/storage/engine.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { loadNative } from '../helpers/engines.js';

type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

const TOPIC = 'leases';

function fetchBody(maxWaitMs: number, minBytes: number): unknown {
  return {
    replicaId: -1, maxWaitMs, minBytes, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

async function produce(c: RawClient, i: number): Promise<number> {
  const records = buildBatch({ baseTimestamp: Date.now(), records: [{ key: `k${i}`, value: Buffer.alloc(600, i & 0xff), timestampDelta: 0 }] });
  const p = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
    transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }],
  });
  return p.responses[0].partitionResponses[0].errorCode;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the engine holds no lease; returns how many are held at the end. */
async function leasesSettle(engine: StorageEngine): Promise<number> {
  for (let i = 0; i < 50 && engine.segmentLeases().held > 0; i++) await sleep(100);
  return engine.segmentLeases().held;
}

void t.test('long polls over sealed segments leave no FileSlice lease held', async (t) => {
  const engines: Array<'ts' | 'native'> = ['ts'];
  const native = await loadNative();
  if (native.engine) engines.push('native');
  else if (process.env.CI === 'true') t.fail(`native storage engine did not load: ${native.reason}`);
  else t.comment(`native storage engine not available, testing ts only: ${native.reason}`);

  for (const engineName of engines) {
    await t.test(engineName, async (t) => {
      const data = tempDir();
      let running: RunningBroker | undefined;
      try {
        running = await startBroker({
          dataDir: data.dir, port: 0, host: '127.0.0.1', engine: engineName,
          config: { 'spool.log.max.open.segment.files': '2' },
        });
        const engine = running.broker.engine;
        // One ~700-byte batch per segment: every append after the first rolls.
        await running.broker.createTopic(TOPIC, 1, { 'segment.bytes': '700' });
        const c = await RawClient.connect(running.port);
        t.teardown(() => c.close());
        for (let i = 0; i < 6; i++) t.equal(await produce(c, i), 0, `produce ${i}`);
        const held0 = engine.segmentLeases().held;
        t.equal(held0, 0, 'no lease held before the fetches');

        // minBytes above everything there is: the first pass (a sealed segment's slice) waits,
        // each produce wakes the purgatory (a re-read), and the timeout answers.
        const producer = await RawClient.connect(running.port);
        t.teardown(() => producer.close());
        const id = c.send(1, 11, FetchRequest, fetchBody(1200, 1 << 20));
        for (let i = 6; i < 10; i++) {
          await sleep(100);
          t.equal(await produce(producer, i), 0, `wake-up produce ${i}`);
        }
        const res = await c.receive<FetchRes>(FetchResponse, 11, id, 1);
        const p = res.responses[0].partitions[0];
        t.equal(p.errorCode, 0, 'long poll answered');
        t.ok(p.records !== null && p.records.length > 0, 'with the first sealed segment\'s data');
        t.equal(await leasesSettle(engine), 0, 'no lease held after the long poll and its wake-ups');

        // A client that goes away mid-long-poll: its response is never written.
        const gone = await RawClient.connect(running.port);
        gone.send(1, 11, FetchRequest, fetchBody(800, 1 << 20));
        await sleep(100);
        t.equal(await produce(producer, 10), 0, 'wake-up produce while the long poll waits');
        gone.close();
        await gone.closed;
        t.equal(await leasesSettle(engine), 0, 'no lease held after a client disconnected mid-long-poll');

        // Several requests queued behind a long poll on a connection that closes.
        const queued = await RawClient.connect(running.port);
        queued.send(1, 11, FetchRequest, fetchBody(600, 1 << 20));
        for (let i = 0; i < 3; i++) queued.send(1, 11, FetchRequest, fetchBody(0, 1));
        await sleep(100);
        queued.close();
        await queued.closed;
        t.equal(await leasesSettle(engine), 0, 'no lease held by responses queued behind a long poll when the client left');
        t.equal(engine.segmentLeases().expired, 0, 'no leak alarm');
      } finally {
        await running?.stop();
        data.cleanup();
      }
    });
  }
});
