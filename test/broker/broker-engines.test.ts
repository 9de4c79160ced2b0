// broker room tests: the fetch path with both engines — sendfile(2) for the native engine, buffered
// reads for the TS engine — must put identical bytes on the wire, pipelined, in order.
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

for (const engine of ['ts', 'native'] as const) {
  t.test(`${engine} engine: 200 batches produced, then pipelined fetches return them all in order`, async (t) => {
    if (engine === 'native' && !nativeAvailable) {
      t.fail('native engine not built (npm run build:native)');
      return;
    }
    const d = tempDir();
    const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine, config: { 'log.segment.bytes': 256 * 1024 } });
    t.teardown(async () => {
      await b.stop();
      d.cleanup();
    });
    t.equal(b.broker.engine.name, engine);
    await b.broker.createTopic('bytes', 1);
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.close());
    const value = (i: number): string => `v${i}-`.padEnd(1000, String.fromCharCode(97 + (i % 26)));
    for (let i = 0; i < 200; i++) {
      const batch = buildBatch({ baseTimestamp: Date.now(), records: Array.from({ length: 5 }, (_, j) => ({ key: `k${i}`, value: value(i * 5 + j) })) });
      const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 1000,
        topicData: [{ name: 'bytes', partitionData: [{ index: 0, records: batch }] }],
      });
      t.equal(res.responses[0].partitionResponses[0].errorCode, 0);
    }
    t.ok(b.broker.logManager.getLog('bytes', 0)!.segments().length > 1, 'several segments');
    // Pipeline fetches at many offsets, including mid-batch ones, without waiting.
    const offsets = [0, 3, 250, 499, 500, 777, 999];
    const ids = offsets.map((fetchOffset) =>
      c.send(1, 12, FetchRequest, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 100 * 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 'bytes', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 64 * 1024 }] }],
        forgottenTopicsData: [], rackId: '',
      }),
    );
    for (let i = 0; i < offsets.length; i++) {
      const res = await c.receive<FetchRes>(FetchResponse, 12, ids[i], 1);
      const part = res.responses[0].partitions[0];
      t.equal(part.errorCode, 0);
      const batches = decodeBatches(part.records!);
      t.ok(batches.length > 0, `data at ${offsets[i]}`);
      const first = batches[0];
      t.ok(first.baseOffset <= offsets[i] && offsets[i] < first.baseOffset + first.records.length, 'first batch contains the fetch offset');
      for (const batch of batches) {
        for (const r of batch.records) t.equal(r.value?.toString(), value(r.offset), `offset ${r.offset} content`);
      }
    }
  });
}
