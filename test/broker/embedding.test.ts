// broker room tests: embedding Spool in a test suite through startBroker() — a temporary data
// dir removed by stop(), the `dev` preset (no initial rebalance delay, one-replica internal
// topics), settings the caller gives winning over the preset, and a stop() that closes many
// partitions at once without losing what they hold.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { brokerPresets, startBroker } from '../../src/index.js';
import { tempDir } from '../helpers/broker.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

function client(bootstrap: string): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'embed-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

/** Consumes `topic` from the beginning in group `groupId` until `count` values arrived (bounded: 60 s). */
async function groupRead(bootstrap: string, topic: string, groupId: string, count: number): Promise<string[]> {
  const consumer = client(bootstrap).consumer({ groupId });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${values.length} of ${count} records within 60 s`)), 60_000);
      consumer
        .run({
          eachMessage: ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length >= count) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

t.test('startBroker() with no options: temp dir, loopback ephemeral port, dev preset; stop() removes the dir', async (t) => {
  const b = await startBroker();
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await b.stop();
  });
  t.ok(b.dataDir.startsWith(tmpdir()), `data dir ${b.dataDir} is a temporary one`);
  t.ok(existsSync(join(b.dataDir, '.lock')), 'locked like any log dir');
  t.equal(b.host, '127.0.0.1');
  t.not(b.port, 9092, 'an ephemeral port');
  t.equal(b.bootstrap, `127.0.0.1:${b.port}`);
  const config = b.broker.config;
  t.equal(config.getNumber('group.initial.rebalance.delay.ms'), 0);
  t.equal(config.getBoolean('auto.create.topics.enable'), true);
  t.equal(config.getNumber('offsets.topic.replication.factor'), 1);

  // A test's first steps: produce to an auto-created topic, read it back in a consumer group.
  const producer = client(b.bootstrap).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic: 'orders', messages: [{ value: 'o1' }, { value: 'o2' }, { value: 'o3' }] });
  await producer.disconnect();
  t.same(await groupRead(b.bootstrap, 'orders', 'g1', 3), ['o1', 'o2', 'o3'], 'first group read');
  const offsetsTopic = b.broker.metadata.topic('__consumer_offsets');
  t.equal(offsetsTopic?.partitions.length, 1, 'dev preset: one __consumer_offsets partition');

  await b.stop();
  stopped = true;
  t.notOk(existsSync(b.dataDir), 'stop() removed the temporary dir');
});

t.test('an explicit data dir is kept; the kafka preset keeps Kafka defaults; given settings beat the preset', async (t) => {
  const d = tempDir('spool-embed-');
  t.teardown(d.cleanup);
  const b = await startBroker({ dataDir: d.dir, preset: 'kafka', config: { 'offsets.topic.num.partitions': 3 } });
  t.equal(b.dataDir, d.dir);
  t.equal(b.broker.config.getNumber('group.initial.rebalance.delay.ms'), 3000, 'Kafka default');
  t.equal(b.broker.config.getNumber('offsets.topic.num.partitions'), 3, 'config wins');
  await b.stop();
  t.ok(existsSync(d.dir), 'a given data dir is never removed');

  const dev = await startBroker({ numPartitions: 4, config: { 'group.initial.rebalance.delay.ms': 250 } });
  t.teardown(() => dev.stop());
  t.equal(dev.broker.config.getNumber('group.initial.rebalance.delay.ms'), 250, 'config wins over the dev preset');
  t.equal(dev.broker.config.getNumber('offsets.topic.num.partitions'), Number(brokerPresets.dev['offsets.topic.num.partitions']));
  const admin = client(dev.bootstrap).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const producer = client(dev.bootstrap).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic: 'auto', messages: [{ value: 'x' }] });
  await producer.disconnect();
  const meta = await admin.fetchTopicMetadata({ topics: ['auto'] });
  t.equal(meta.topics[0].partitions.length, 4, 'numPartitions applies to auto-created topics');
});

t.test('stop() closes every partition (all at once) and keeps what they hold', async (t) => {
  const d = tempDir('spool-embed-');
  t.teardown(d.cleanup);
  const partitions = 60;
  let b = await startBroker({ dataDir: d.dir });
  await b.broker.createTopic('wide', partitions);
  const producer = client(b.bootstrap).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: 'wide', acks: -1, messages: Array.from({ length: partitions }, (_, p) => ({ partition: p, value: `p${p}` })) });
  await producer.disconnect();
  const logs = b.broker.logManager.allLogs().filter((l) => l.topic === 'wide');
  t.equal(logs.length, partitions);
  await b.stop();
  t.ok(logs.every((l) => !l.isAvailable()), 'every log closed');

  b = await startBroker({ dataDir: d.dir });
  t.teardown(() => b.stop());
  const admin = client(b.bootstrap).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const offsets = await admin.fetchTopicOffsets('wide');
  t.equal(offsets.length, partitions);
  t.ok(offsets.every((o) => o.high === '1'), 'each partition kept its record');
});
