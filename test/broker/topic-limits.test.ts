// broker room tests (issue 8): CreateTopics and CreatePartitions are bounded as Kafka's controller
// bounds them (10000 partitions per request, POLICY_VIOLATION before anything is made; INVALID_PARTITIONS
// for non-positive counts), and a creation the storage engine fails midway (no fds left) is rolled
// back: no metadata, no directories, and the broker goes on.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { CreatePartitionsRequest, CreatePartitionsResponse } from '../../src/protocol/messages/create-partitions.js';
import { CreateTopicsRequest, CreateTopicsResponse } from '../../src/protocol/messages/create-topics.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import type { LogConfig, OpenOptions, PartitionLog } from '../../src/storage/engine.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type CreateTopicsRes = ReturnType<typeof CreateTopicsResponse.decodeBuffer>;
type CreatePartitionsRes = ReturnType<typeof CreatePartitionsResponse.decodeBuffer>;
type MetadataRes = ReturnType<typeof MetadataResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;

const POLICY_VIOLATION = 44;
const INVALID_PARTITIONS = 37;
const EXCESSIVE = 'Excessively large number of partitions per request.';

interface Topic {
  name: string;
  numPartitions: number;
  configs?: Array<{ name: string; value: string }>;
}

async function setup(t: Test, config: Record<string, string | number> = {}): Promise<{ b: RunningBroker; c: RawClient; dir: string }> {
  const d = tempDir();
  const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts', config, logLevel: 'silent' });
  const c = await RawClient.connect(b.port);
  t.teardown(async () => {
    c.close();
    await b.stop();
    d.cleanup();
  });
  return { b, c, dir: d.dir };
}

function createTopics(c: RawClient, topics: Topic[], validateOnly = false): Promise<CreateTopicsRes> {
  return c.request<CreateTopicsRes>(19, 7, CreateTopicsRequest, CreateTopicsResponse, {
    topics: topics.map((x) => ({ name: x.name, numPartitions: x.numPartitions, replicationFactor: -1, assignments: [], configs: x.configs ?? [] })),
    timeoutMs: 30000,
    validateOnly,
  });
}

function createPartitions(c: RawClient, topics: Array<{ name: string; count: number }>): Promise<CreatePartitionsRes> {
  return c.request<CreatePartitionsRes>(37, 3, CreatePartitionsRequest, CreatePartitionsResponse, {
    topics: topics.map((x) => ({ name: x.name, count: x.count, assignments: null })),
    timeoutMs: 30000,
    validateOnly: false,
  });
}

/** Entries of the data dir belonging to `topic` (its partition dirs, renamed ones included). */
function dirsOf(dir: string, topic: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith(`${topic}-`));
}

async function brokerAnswers(t: Test, c: RawClient): Promise<void> {
  const res = await c.request<ReturnType<typeof ApiVersionsResponse.decodeBuffer>>(18, 3, ApiVersionsRequest, ApiVersionsResponse, {
    clientSoftwareName: 'limits', clientSoftwareVersion: '1',
  });
  t.equal(res.errorCode, 0, 'the broker still answers');
}

t.test('CreateTopics with 2^31-1 or 20000 partitions: POLICY_VIOLATION, nothing created', async (t) => {
  const { b, c, dir } = await setup(t);
  await b.broker.createTopic('existing', 2);
  const topicsFile = join(dir, '__spool_topics.json');
  const fileBefore = readFileSync(topicsFile, 'utf8');
  const entriesBefore = readdirSync(dir).sort();
  const versionBefore = b.broker.metadata.version;

  for (const numPartitions of [2147483647, 20000]) {
    const res = await createTopics(c, [{ name: `huge-${numPartitions}`, numPartitions }]);
    t.equal(res.topics.length, 1);
    t.equal(res.topics[0].errorCode, POLICY_VIOLATION, `${numPartitions} partitions: POLICY_VIOLATION`);
    t.equal(res.topics[0].errorMessage, EXCESSIVE);
    t.equal(b.broker.metadata.topic(`huge-${numPartitions}`), undefined, 'not in the metadata');
    t.same(dirsOf(dir, 'huge'), [], 'no directory');
  }

  // Kafka counts the whole request: two topics of 6000 are refused together, a valid small one too.
  const both = await createTopics(c, [
    { name: 'half-a', numPartitions: 6000 },
    { name: 'half-b', numPartitions: 6000 },
    { name: 'small', numPartitions: 1 },
  ]);
  t.same(both.topics.map((x) => [x.name, x.errorCode]), [['half-a', POLICY_VIOLATION], ['half-b', POLICY_VIOLATION], ['small', POLICY_VIOLATION]]);
  t.equal(b.broker.metadata.topic('small'), undefined);

  t.equal(b.broker.metadata.version, versionBefore, 'no metadata event');
  t.equal(readFileSync(topicsFile, 'utf8'), fileBefore, '__spool_topics.json unchanged');
  t.same(readdirSync(dir).sort(), entriesBefore, 'no directory in the data dir');
  t.same(b.broker.metadata.topics().map((x) => x.name), ['existing']);

  // Exactly the bound is within it (validateOnly: nothing is made).
  const atBound = await createTopics(c, [{ name: 'at-bound', numPartitions: 10000 }], true);
  t.equal(atBound.topics[0].errorCode, 0, '10000 partitions pass the bound');
  t.equal(b.broker.metadata.topic('at-bound'), undefined);

  // Non-positive counts are INVALID_PARTITIONS per topic, as in Kafka.
  const bad = await createTopics(c, [{ name: 'zero', numPartitions: 0 }, { name: 'negative', numPartitions: -2 }]);
  t.same(bad.topics.map((x) => x.errorCode), [INVALID_PARTITIONS, INVALID_PARTITIONS]);

  await brokerAnswers(t, c);
  const ok = await createTopics(c, [{ name: 'after', numPartitions: 3 }]);
  t.equal(ok.topics[0].errorCode, 0, 'a normal creation still works');
  t.equal(dirsOf(dir, 'after').length, 3);
});

t.test('CreatePartitions to an absurd count: POLICY_VIOLATION, the topic keeps its partitions', async (t) => {
  const { b, c, dir } = await setup(t);
  await b.broker.createTopic('grow', 1);
  const versionBefore = b.broker.metadata.version;
  for (const count of [2147483647, 20001]) {
    const res = await createPartitions(c, [{ name: 'grow', count }]);
    t.equal(res.results[0].errorCode, POLICY_VIOLATION, `count ${count}: POLICY_VIOLATION`);
    t.equal(res.results[0].errorMessage, EXCESSIVE);
  }
  // The bound is on what the request adds: 1 + 10000 is within it.
  await b.broker.createTopic('other', 1);
  const two = await createPartitions(c, [{ name: 'grow', count: 6001 }, { name: 'other', count: 6001 }]);
  t.same(two.results.map((r) => r.errorCode), [POLICY_VIOLATION, POLICY_VIOLATION], '12000 added in one request: both refused');
  t.equal(b.broker.metadata.topic('grow')!.partitions.length, 1);
  t.equal(b.broker.metadata.topic('other')!.partitions.length, 1);
  t.equal(b.broker.metadata.version, versionBefore + 1, 'only the creation of "other" changed the metadata');
  t.same(dirsOf(dir, 'grow'), ['grow-0'], 'no new directory');

  const shrink = await createPartitions(c, [{ name: 'grow', count: 0 }]);
  t.equal(shrink.results[0].errorCode, INVALID_PARTITIONS);
  const same = await createPartitions(c, [{ name: 'grow', count: 1 }]);
  t.equal(same.results[0].errorCode, INVALID_PARTITIONS);

  await brokerAnswers(t, c);
  const ok = await createPartitions(c, [{ name: 'grow', count: 3 }]);
  t.equal(ok.results[0].errorCode, 0, 'a normal CreatePartitions still works');
  t.equal(b.broker.metadata.topic('grow')!.partitions.length, 3);
});

t.test('a creation the engine fails midway (EMFILE) is rolled back: no metadata, no directories', async (t) => {
  // Deleted logs are removed at once, so what a rollback deleted is gone when the test looks.
  const { b, c, dir } = await setup(t, { 'log.segment.delete.delay.ms': 0 });
  const topicsFile = join(dir, '__spool_topics.json');
  const engine = b.broker.logManager.engine as { openLog: (dir: string, config: LogConfig, options?: OpenOptions) => Promise<PartitionLog> };
  const realOpen = engine.openLog.bind(engine);
  let opened = 0;
  let failing = true;
  engine.openLog = async (logDir, config, options) => {
    if (failing && logDir.includes('halfway-') && ++opened > 5) {
      // What an engine does when the process is out of fds: the directory is made, the files are not.
      mkdirSync(logDir, { recursive: true });
      throw Object.assign(new Error(`EMFILE: too many open files, open '${logDir}/00000000000000000000.log'`), { code: 'EMFILE', errno: -24 });
    }
    return realOpen(logDir, config, options);
  };
  t.teardown(() => {
    engine.openLog = realOpen;
  });

  const res = await createTopics(c, [{ name: 'halfway', numPartitions: 20 }]);
  t.not(res.topics[0].errorCode, 0, `the creation fails (error ${res.topics[0].errorCode}: ${res.topics[0].errorMessage})`);
  t.equal(b.broker.metadata.topic('halfway'), undefined, 'not in the metadata image');
  t.notMatch(readFileSync(topicsFile, 'utf8'), /halfway/, 'not in __spool_topics.json');
  t.same(b.broker.replicaManager.partitionsOf('halfway'), [], 'no partition held');
  t.equal(b.broker.logManager.allLogs().filter((l) => l.topic === 'halfway').length, 0, 'no log open');
  const deadline = Date.now() + 5000;
  while (dirsOf(dir, 'halfway').length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(dirsOf(dir, 'halfway'), [], 'no directory left (the five opened ones deleted, the failed one removed)');

  const meta = await c.request<MetadataRes>(3, 12, MetadataRequest, MetadataResponse, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'halfway' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false,
  });
  t.equal(meta.topics[0].errorCode, 3, 'Metadata: UNKNOWN_TOPIC_OR_PARTITION');

  // The broker goes on: the same topic can be created once the engine opens logs again.
  failing = false;
  const again = await createTopics(c, [{ name: 'halfway', numPartitions: 20 }]);
  t.equal(again.topics[0].errorCode, 0, 'created on retry');
  t.equal(dirsOf(dir, 'halfway').length, 20);
  t.ok(existsSync(join(dir, 'halfway-19')));
  const produced = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
    transactionalId: null, acks: 1, timeoutMs: 1000,
    topicData: [{ name: 'halfway', partitionData: [{ index: 7, records: buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'ok' }] }) }] }],
  });
  t.equal(produced.responses[0].partitionResponses[0].errorCode, 0, 'the re-created topic takes writes');
});
