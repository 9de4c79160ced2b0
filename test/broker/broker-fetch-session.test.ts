// broker room tests: fetch-session ids in sessionless clients. Kafka serves any full fetch
// (epoch 0 or -1) whatever sessionId says; kafka-go sends sessionId -1 / epoch -1.
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

let running: RunningBroker;
const data = tempDir();

t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  await running.broker.createTopic('fs', 1);
});
t.teardown(async () => {
  await running.stop();
  data.cleanup();
});

function fetchBody(sessionId: number, sessionEpoch: number): unknown {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch,
    topics: [{ topic: 'fs', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

t.test('full fetches are served whatever the sessionId; incremental ones get FETCH_SESSION_ID_NOT_FOUND', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const records = buildBatch({ baseTimestamp: Date.now(), records: [{ key: 'k', value: 'v', timestampDelta: 0 }] });
  const p = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
    transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'fs', partitionData: [{ index: 0, records }] }],
  });
  t.equal(p.responses[0].partitionResponses[0].errorCode, 0);
  for (const [sessionId, epoch] of [[0, -1], [-1, -1], [7, 0], [7, -1]]) {
    const f = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(sessionId, epoch));
    t.equal(f.errorCode, 0, `sessionId ${sessionId} epoch ${epoch}: no error`);
    t.equal(f.sessionId, 0, 'no session handed out');
    t.equal(f.responses.length, 1, `sessionId ${sessionId} epoch ${epoch}: topic answered`);
    t.equal(f.responses[0].partitions[0].highWatermark, 1);
  }
  const inc = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(7, 3));
  t.equal(inc.errorCode, 70, 'FETCH_SESSION_ID_NOT_FOUND for an incremental fetch');
  t.equal(inc.responses.length, 0);
});
