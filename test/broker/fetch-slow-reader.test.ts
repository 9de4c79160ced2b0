// broker room tests: fetch responses that do not fit the socket. The native engine sends file
// data from the event loop until the socket is full, then writes a little through the socket
// stream (readNow: page-cache bytes) and goes on natively when it drains, or hands the rest to
// the pool; the TS engine reads the slices into memory. Either way a client that reads slowly must
// get every byte, in order: pipelined fetches over several partitions and segment boundaries,
// checked record by record. A client that goes away while its response is stalled must leave
// the broker healthy, with every FileSlice lease released.
import { platform, release } from 'node:os';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { loadEngine } from '../../src/storage/loader.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;

const nativeAvailable = await loadEngine('native').then(
  () => true,
  () => false,
);

const PARTITIONS = 4;
const BATCHES = 60;
const RECORDS = 20;
const value = (partition: number, offset: number): string => `p${partition}o${offset}-`.padEnd(1000, String.fromCharCode(97 + ((partition + offset) % 26)));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Linux 6.5 or later (cachestat(2)). */
function hasCachestat(): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return platform() === 'linux' && m !== null && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 5));
}

/** Waits (bounded) until the engine holds no FileSlice lease; returns how many are held then. */
async function leasesSettle(engine: { segmentLeases(): { held: number } }): Promise<number> {
  for (let i = 0; i < 50 && engine.segmentLeases().held > 0; i++) await sleep(100);
  return engine.segmentLeases().held;
}

function fetchBody(offsets: number[]): unknown {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'slow', partitions: offsets.map((fetchOffset, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 })) }],
    forgottenTopicsData: [], rackId: '',
  };
}

for (const engine of ['native', 'ts'] as const) {
  t.test(`${engine} engine: pipelined multi-partition fetches reach a slow reader intact`, async (t) => {
    if (engine === 'native' && !nativeAvailable) {
      t.fail('native engine not built (npm run build:native)');
      return;
    }
    const d = tempDir();
    const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine, config: { 'log.segment.bytes': 512 * 1024 } });
    t.teardown(async () => {
      await b.stop();
      d.cleanup();
    });
    await b.broker.createTopic('slow', PARTITIONS);
    // Counts the page-cache reads that nudge a full socket (the native engine's stalled-send path).
    let nudges = 0;
    const sendFile = b.broker.engine.sendFile;
    const readNow = sendFile?.readNow;
    if (engine === 'native') t.ok(readNow !== undefined && sendFile?.nowStoppedFull !== undefined, 'the addon has readNow and nowStoppedFull');
    if (sendFile !== undefined && readNow !== undefined) {
      sendFile.readNow = (fd: number, position: number, length: number): Buffer | null => {
        nudges++;
        return readNow(fd, position, length);
      };
    }
    const producer = await RawClient.connect(b.port);
    t.teardown(() => producer.close());
    for (let i = 0; i < BATCHES; i++) {
      const partitionData = Array.from({ length: PARTITIONS }, (_, p) => ({
        index: p,
        records: buildBatch({ baseTimestamp: Date.now(), records: Array.from({ length: RECORDS }, (_, j) => ({ key: `k${j}`, value: value(p, i * RECORDS + j) })) }),
      }));
      const res = await producer.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'slow', partitionData }] });
      t.ok(res.responses[0].partitionResponses.every((p) => p.errorCode === 0), `produce ${i}`);
    }
    for (let p = 0; p < PARTITIONS; p++) t.ok(b.broker.logManager.getLog('slow', p)!.segments().length > 2, `partition ${p}: several segments`);

    // Fetch offsets: batch starts, mid-batch, around segment boundaries, near the end.
    const rounds = [0, 5, 250, 507, 630, 777, 1000, 1150].map((base) => Array.from({ length: PARTITIONS }, (_, p) => (base + 17 * p) % (BATCHES * RECORDS)));
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.close());
    // Not reading: the responses fill the socket and the broker has to wait for room.
    c.socket.pause();
    const ids = rounds.map((offsets) => c.send(1, 12, FetchRequest, fetchBody(offsets)));
    await sleep(300);
    const got: FetchRes[] = [];
    for (const id of ids) {
      c.socket.resume();
      got.push(await c.receive<FetchRes>(FetchResponse, 12, id, 1));
      // Read in spurts: each response meets a full socket more than once.
      c.socket.pause();
      await sleep(20);
    }
    c.socket.resume();

    // A second connection that reads at once gets the same bytes.
    const reference = await RawClient.connect(b.port);
    t.teardown(() => reference.close());
    let total = 0;
    for (let r = 0; r < rounds.length; r++) {
      const again = await reference.request<FetchRes>(1, 12, FetchRequest, FetchResponse, fetchBody(rounds[r]));
      for (let p = 0; p < PARTITIONS; p++) {
        const part = got[r].responses[0].partitions[p];
        t.equal(part.errorCode, 0);
        const records = part.records!;
        total += records.length;
        t.ok(records.equals(again.responses[0].partitions[p].records!), `round ${r} partition ${p}: same bytes as a fast reader`);
        const batches = decodeBatches(records);
        t.ok(batches.length > 0, `round ${r} partition ${p}: data`);
        const want = rounds[r][p];
        t.ok(batches[0].baseOffset <= want && want < batches[0].baseOffset + batches[0].records.length, 'the first batch holds the fetch offset');
        let next = batches[0].baseOffset;
        let bad = 0;
        for (const batch of batches) {
          for (const rec of batch.records) {
            if (rec.offset !== next++ || rec.value?.toString() !== value(p, rec.offset)) bad++;
          }
        }
        t.equal(bad, 0, `round ${r} partition ${p}: offsets consecutive and every record's value right`);
      }
    }
    t.ok(total > 8 << 20, `more than the socket buffers hold went out (${total} bytes)`);
    t.equal(await leasesSettle(b.broker.engine), 0, 'no FileSlice lease held once the responses went out');
    // Large slices go out on the event loop only where cachestat(2) tells they are cached (Linux 6.5+);
    // elsewhere they go to the pool and nothing is nudged.
    if (engine === 'native' && hasCachestat()) t.ok(nudges > 0, `a full socket was nudged through the stream (${nudges} page-cache reads)`);
    else t.comment(`page-cache reads nudging a full socket: ${nudges}`);

    // A client that stops reading and then resets its connection while large responses are stalled.
    const quitter = await RawClient.connect(b.port);
    quitter.socket.pause();
    for (const offsets of rounds) quitter.send(1, 12, FetchRequest, fetchBody(offsets));
    await sleep(300);
    quitter.socket.resetAndDestroy();
    await sleep(200);
    // The broker goes on: a new client gets the same bytes as before.
    const after = await RawClient.connect(b.port);
    t.teardown(() => after.close());
    for (let r = 0; r < 3; r++) {
      const res = await after.request<FetchRes>(1, 12, FetchRequest, FetchResponse, fetchBody(rounds[r]));
      let same = 0;
      for (let p = 0; p < PARTITIONS; p++) {
        const part = res.responses[0].partitions[p];
        if (part.errorCode === 0 && part.records?.equals(got[r].responses[0].partitions[p].records!) === true) same++;
      }
      t.equal(same, PARTITIONS, `after a client reset mid-response: round ${r} fetched intact`);
    }
    t.equal(await leasesSettle(b.broker.engine), 0, 'no FileSlice lease held after the client reset mid-response');
  });
}
