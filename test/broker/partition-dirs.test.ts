// broker tests: partition directories are never adopted by the wrong topic, and deleting never
// fails on long names — each partition dir carries Kafka's partition.metadata (topic id); a dir
// whose id differs (its topic was deleted and re-created, or the metadata file was lost) is set
// aside as "-stray" instead of serving old records; delete names are shortened to fit 255 bytes.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { tempDir } from '../helpers/broker.js';

const { Kafka, logLevel } = kafkajs;

async function withBroker<T>(dir: string, fn: (b: RunningBroker, kafka: InstanceType<typeof Kafka>) => Promise<T>): Promise<T> {
  const b = await startBroker({ dataDir: dir, port: 0, host: '127.0.0.1' });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${b.port}`], logLevel: logLevel.NOTHING });
  try {
    return await fn(b, kafka);
  } finally {
    await b.stop();
  }
}

async function produce(kafka: InstanceType<typeof Kafka>, topic: string, values: string[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
  await producer.disconnect();
}

t.test('a partition dir of a lost topic is not adopted by a new topic of the same name', async (t) => {
  const d = tempDir('spool-partition-dirs-');
  t.teardown(d.cleanup);
  const oldId = await withBroker(d.dir, async (b, kafka) => {
    await b.broker.createTopic('orders', 1);
    await produce(kafka, 'orders', ['old-1', 'old-2', 'old-3']);
    const text = readFileSync(join(d.dir, 'orders-0', 'partition.metadata'), 'utf8');
    const topicId = b.broker.metadata.topic('orders')?.topicId;
    t.equal(text, `version: 0\ntopic_id: ${topicId}\n`, "partition.metadata in Kafka's format");
    return topicId;
  });
  // The metadata is lost (an operator removed it, or a different cluster reuses the dir).
  rmSync(join(d.dir, '__spool_topics.json'));
  await withBroker(d.dir, async (b, kafka) => {
    await produce(kafka, 'orders', ['new-1']);
    const newId = b.broker.metadata.topic('orders')?.topicId;
    t.not(newId, oldId, 'the auto-created topic has a new id');
    const log = b.broker.logManager.getLog('orders', 0);
    t.equal(log?.logStartOffset, 0);
    t.equal(log?.logEndOffset, 1, 'the new topic starts empty: the old records are not served');
    const stray = readdirSync(d.dir).filter((n) => n.startsWith('orders-0.') && n.endsWith('-stray'));
    t.equal(stray.length, 1, 'the old directory is kept aside as -stray');
    t.ok(existsSync(join(d.dir, stray[0], '00000000000000000000.log')), 'with its data, for the operator');
    t.equal(readFileSync(join(d.dir, 'orders-0', 'partition.metadata'), 'utf8'), `version: 0\ntopic_id: ${newId}\n`);
  });
});

t.test('a topic with a 249-character name is deleted and re-created empty', async (t) => {
  const d = tempDir('spool-partition-dirs-long-');
  t.teardown(d.cleanup);
  const name = 'x'.repeat(249);
  await withBroker(d.dir, async (b, kafka) => {
    const admin = kafka.admin();
    await admin.connect();
    t.teardown(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }] });
    await produce(kafka, name, ['a', 'b']);
    await admin.deleteTopics({ topics: [name] });
    t.equal(b.broker.metadata.topic(name), undefined, 'deleted');
    const renamed = readdirSync(d.dir).filter((n) => n.endsWith('-delete'));
    t.ok(renamed.every((n) => Buffer.byteLength(n) <= 255), 'the delete name fits in 255 bytes');
    await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }] });
    await produce(kafka, name, ['c']);
    t.equal(b.broker.logManager.getLog(name, 0)?.logEndOffset, 1, 're-created empty: nothing deleted comes back');
  });
});
