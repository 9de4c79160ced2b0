// network room tests: with a tiny in-flight bound the connection pauses reading and resumes,
// never deadlocks, and answers every pipelined request in order; topic-id fetches (v13+).
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ApiVersionsRequest } from '../../src/protocol/messages/api-versions.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

function fetchById(topicId: string, maxWaitMs: number): unknown {
  return {
    replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
    topics: [{ topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

t.test('pipelined requests beyond the in-flight bound are all answered, in order', async (t) => {
  const d = tempDir();
  const b = await startBroker({
    dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts',
    config: { 'spool.connection.max.inflight.bytes': 200, 'queued.max.requests': 3 },
  });
  t.teardown(async () => {
    await b.stop();
    d.cleanup();
  });
  const topic = await b.broker.createTopic('bp', 1);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const ids: number[] = [c.send(1, 15, FetchRequest, fetchById(topic.topicId, 200))];
  for (let i = 0; i < 200; i++) ids.push(c.send(18, 3, ApiVersionsRequest, { clientSoftwareName: 'bp', clientSoftwareVersion: '1' }));
  const seen: number[] = [];
  while (seen.length < ids.length) seen.push((await c.nextFrame())!.readInt32BE(0));
  t.same(seen, ids);
});

t.test('Fetch v13+ addresses topics by id; an unknown id is UNKNOWN_TOPIC_ID', async (t) => {
  const d = tempDir();
  const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  t.teardown(async () => {
    await b.stop();
    d.cleanup();
  });
  const topic = await b.broker.createTopic('by-id', 1);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const ok = await c.request<FetchRes>(1, 16, FetchRequest, FetchResponse, fetchById(topic.topicId, 0));
  t.equal(ok.responses[0].topicId, topic.topicId);
  t.equal(ok.responses[0].partitions[0].errorCode, 0);
  t.same(ok.responses[0].partitions[0].abortedTransactions, [], 'read_committed gets an (empty) aborted list');
  t.equal(ok.responses[0].partitions[0].lastStableOffset, 0);
  const bad = await c.request<FetchRes>(1, 16, FetchRequest, FetchResponse, fetchById('AAAAAAAAAAAAAAAAAAAAAQ', 0));
  t.equal(bad.responses[0].partitions[0].errorCode, 100);
});
