// broker room tests: a real client (KafkaJS) against an embedded broker — produce, fetch (via raw
// Fetch: consumer groups are another room's), ListOffsets, topic admin, DescribeConfigs, restart.
import t from 'tap';
import kafkajs, { CompressionTypes, Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { decodeBatches } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

// ConfigResourceTypes is not among the names Node can see statically in kafkajs's CommonJS exports.
const { ConfigResourceTypes } = kafkajs;

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

async function fetchAll(port: number, topic: string, partition: number, from: number): Promise<Array<{ offset: number; key: string | null; value: string | null }>> {
  const c = await RawClient.connect(port);
  try {
    const out: Array<{ offset: number; key: string | null; value: string | null }> = [];
    let offset = from;
    for (let round = 0; round < 100; round++) {
      const res = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 64 * 1024 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      const p = res.responses[0].partitions[0];
      if (p.errorCode !== 0) throw new Error(`fetch error ${p.errorCode}`);
      const records = p.records!;
      if (records.length === 0) break;
      for (const b of decodeBatches(records)) {
        for (const r of b.records) {
          if (r.offset >= offset) out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
        }
        offset = b.baseOffset + b.records.length;
      }
    }
    return out;
  } finally {
    c.close();
  }
}

function client(port: number): Kafka {
  return new Kafka({ clientId: 'spool-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

const data = tempDir();
let running: RunningBroker;
let admin: Admin;

t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  admin = client(running.port).admin();
  await admin.connect();
});
t.teardown(async () => {
  await admin.disconnect();
  await running.stop();
  data.cleanup();
});

t.test('KafkaJS produce round trip: offsets, keys, values, null values', async (t) => {
  t.ok(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] }), 'created');
  const producer = client(running.port).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const messages = Array.from({ length: 100 }, (_, i) => ({ key: `key-${i}`, value: i % 10 === 9 ? null : `value-${i}`, partition: i % 3 }));
  const sent = await producer.send({ topic: 'orders', acks: -1, messages });
  t.equal(sent.length, 3, 'one result per partition');
  for (const r of sent) t.equal(r.errorCode, 0);
  for (let p = 0; p < 3; p++) {
    const got = await fetchAll(running.port, 'orders', p, 0);
    const expected = messages.filter((m) => m.partition === p);
    t.equal(got.length, expected.length, `partition ${p} count`);
    t.same(got.map((g) => g.offset), expected.map((_, i) => i), 'offsets 0..n-1');
    t.same(got.map((g) => [g.key, g.value]), expected.map((m) => [m.key, m.value]), 'content in order');
  }
});

t.test('a KafkaJS consumer reads everything a KafkaJS producer wrote', async (t) => {
  await admin.createTopics({ topics: [{ topic: 'consumed', numPartitions: 2 }] });
  const kafka = client(running.port);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: 'consumed', compression: CompressionTypes.GZIP, messages: Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'broker-test', maxWaitTimeInMs: 200 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'consumed', fromBeginning: true });
  const seen = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} of 200 consumed`)), 30000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value?.toString() ?? '');
        if (seen.size === 200) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  t.equal(seen.size, 200, 'every record consumed (gzip batches included)');
});

t.test('ListOffsets: earliest, latest and by timestamp', async (t) => {
  await admin.createTopics({ topics: [{ topic: 'times', numPartitions: 1 }] });
  const producer = client(running.port).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const base = Date.now() - 100_000;
  for (let i = 0; i < 5; i++) {
    await producer.send({ topic: 'times', messages: [{ value: `v${i}`, timestamp: String(base + i * 1000) }] });
  }
  const offsets = await admin.fetchTopicOffsets('times');
  t.same(offsets.map((o) => [o.partition, o.low, o.high]), [[0, '0', '5']]);
  const byTs = await admin.fetchTopicOffsetsByTimestamp('times', base + 2500);
  t.same(byTs, [{ partition: 0, offset: '3' }], 'first offset with timestamp >= target');
  const past = await admin.fetchTopicOffsetsByTimestamp('times', base + 10_000_000);
  // The broker answers -1 (no such record); KafkaJS turns -1 into the high watermark.
  t.same(past, [{ partition: 0, offset: '5' }], 'no record at or after the target');
});

t.test('create and delete topics, add partitions, errors Kafka would give', async (t) => {
  await admin.createTopics({ topics: [{ topic: 'temp', numPartitions: 2 }] });
  t.ok((await admin.listTopics()).includes('temp'));
  const rf3 = await admin.createTopics({ topics: [{ topic: 'rf3', numPartitions: 1, replicationFactor: 3 }] }).then(
    () => null,
    (err: unknown) => err as { errors?: Array<{ type?: string }> },
  );
  t.equal(rf3?.errors?.[0]?.type, 'INVALID_REPLICATION_FACTOR', 'replication factor 3 refused');
  await t.rejects(admin.createTopics({ topics: [{ topic: 'temp', numPartitions: 1 }] }).then((ok) => {
    if (!ok) throw new Error('Topic with this name already exists');
  }), /exists/i);
  await admin.createPartitions({ topicPartitions: [{ topic: 'temp', count: 4 }] });
  const md = await admin.fetchTopicMetadata({ topics: ['temp'] });
  t.equal(md.topics[0].partitions.length, 4, 'partitions added');
  await admin.deleteTopics({ topics: ['temp'] });
  t.notOk((await admin.listTopics()).includes('temp'), 'deleted');
  t.equal(running.broker.metadata.topic('temp'), undefined);
});

t.test('DescribeConfigs returns every config with defaults, sources and overrides', async (t) => {
  await admin.createTopics({ topics: [{ topic: 'configured', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
  const res = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured' }], includeSynonyms: true });
  const entries = res.resources[0].configEntries;
  const byName = new Map(entries.map((e) => [e.configName, e]));
  t.ok(entries.length >= 20, `all topic configs listed (${entries.length})`);
  t.equal(byName.get('retention.ms')?.configValue, '3600000');
  t.equal(byName.get('retention.ms')?.configSource, 1, 'TOPIC_CONFIG');
  t.equal(byName.get('segment.bytes')?.configValue, '1073741824');
  t.equal(byName.get('segment.bytes')?.configSource, 5, 'DEFAULT_CONFIG');
  t.equal(byName.get('cleanup.policy')?.configValue, 'delete');
  const brokerRes = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }], includeSynonyms: false });
  const brokerEntries = new Map(brokerRes.resources[0].configEntries.map((e) => [e.configName, e]));
  t.equal(brokerEntries.get('socket.request.max.bytes')?.configValue, '104857600');
  t.equal(brokerEntries.get('num.partitions')?.configSource, 5);
  t.equal(brokerEntries.get('log.dirs')?.configSource, 4, 'STATIC_BROKER_CONFIG for a value we set');
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configEntries: [{ name: 'max.message.bytes', value: '2048' }] }] });
  t.equal(running.broker.logManager.getLog('configured', 0)?.config.maxMessageBytes, 2048, 'applied to the live log');
  const after = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured' }], includeSynonyms: false });
  const retention = after.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
  t.equal(retention?.configSource, 5, 'AlterConfigs replaces the whole override set');
});

t.test('restart preserves topics and data', async (t) => {
  const dir = tempDir();
  t.teardown(dir.cleanup);
  let b = await startBroker({ dataDir: dir.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  const k = client(b.port);
  const a = k.admin();
  await a.connect();
  await a.createTopics({ topics: [{ topic: 'durable', numPartitions: 2 }] });
  await a.disconnect();
  const p = k.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  await p.send({ topic: 'durable', messages: Array.from({ length: 20 }, (_, i) => ({ value: `d${i}`, partition: i % 2 })) });
  await p.disconnect();
  const topicId = b.broker.metadata.topic('durable')?.topicId;
  await b.stop();
  b = await startBroker({ dataDir: dir.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  t.teardown(() => b.stop());
  const topic = b.broker.metadata.topic('durable');
  t.equal(topic?.partitions.length, 2);
  t.equal(topic?.topicId, topicId, 'topic id kept');
  const got = await fetchAll(b.port, 'durable', 1, 0);
  t.same(got.map((g) => g.value), Array.from({ length: 10 }, (_, i) => `d${i * 2 + 1}`));
  const a2 = client(b.port).admin();
  await a2.connect();
  const offsets = await a2.fetchTopicOffsets('durable');
  await a2.disconnect();
  t.same(offsets.map((o) => o.high).sort(), ['10', '10']);
});
