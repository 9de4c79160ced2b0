// broker room tests: fetch-session ids in sessionless clients. Kafka serves any full fetch
// (epoch 0 or -1) whatever sessionId says; kafka-go sends sessionId -1 / epoch -1. Sessions
// themselves: fetch-session.test.ts.
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
    // Epoch 0 opens a session (fetch-session.test.ts); -1 is sessionless.
    if (epoch === 0) t.not(f.sessionId, 0, 'epoch 0: a session handed out');
    else t.equal(f.sessionId, 0, 'epoch -1: no session handed out');
    t.equal(f.responses.length, 1, `sessionId ${sessionId} epoch ${epoch}: topic answered`);
    t.equal(f.responses[0].partitions[0].highWatermark, 1);
  }
  const inc = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, fetchBody(7, 3));
  t.equal(inc.errorCode, 70, 'FETCH_SESSION_ID_NOT_FOUND for an incremental fetch');
  t.equal(inc.responses.length, 0);
});

t.test('a fetch naming an unknown topic or partition still long-polls the others (no spinning), then answers the errors', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const body = {
    replicaId: -1, maxWaitMs: 400, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: 0,
    topics: [
      { topic: 'fs', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }, { partition: 9, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
      { topic: 'no-such-topic', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
    ],
    forgottenTopicsData: [], rackId: '',
  };
  const started = Date.now();
  const f = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, body);
  const waited = Date.now() - started;
  t.ok(waited >= 350, `the fetch waited for data on fs-0 (${waited} ms) instead of answering the errors at once`);
  const codes = f.responses.map((r) => [r.topic, r.partitions.map((p) => [p.partitionIndex, p.errorCode])]);
  t.same(codes, [['fs', [[0, 0], [9, 3]]], ['no-such-topic', [[0, 3]]]], 'the unknown partition and topic get UNKNOWN_TOPIC_OR_PARTITION, merged into the answer');
  const onlyUnknown = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, { ...body, topics: [body.topics[1]] });
  t.equal(onlyUnknown.responses[0].partitions[0].errorCode, 3, 'a fetch of unknown partitions only is answered at once');
});
