// broker tests: DeleteRecords — KafkaJS's admin and Kafka's own kafka-delete-records tool raise a
// partition's log start offset; whole segments below it go; consumers read from the new start;
// offsets above the high watermark get OFFSET_OUT_OF_RANGE, a compact-only topic
// POLICY_VIOLATION; the new start survives a restart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { tempDir } from '../helpers/broker.js';
import { requireToolchain } from '../interop/common.js';
import { kafkaToolsAvailable, runKafkaClass } from '../interop/kafka-tools.js';

const { Kafka, logLevel } = kafkajs;

async function start(dir: string): Promise<RunningBroker> {
  return startBroker({ dataDir: dir, port: 0, host: '127.0.0.1', config: { 'group.initial.rebalance.delay.ms': 0 } });
}

async function fill(kafka: InstanceType<typeof Kafka>, topic: string, n: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  // One record per request: one batch each, so small segments roll often.
  // Keyed: compacted topics refuse records without a key.
  for (let i = 0; i < n; i++) await producer.send({ topic, messages: [{ partition: 0, key: `k${i}`, value: `v${i}` }] });
  await producer.disconnect();
}

async function readFrom(kafka: InstanceType<typeof Kafka>, topic: string, expected: number): Promise<number[]> {
  const consumer = kafka.consumer({ groupId: `r-${topic}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const offsets: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${offsets.length} of ${expected}`)), 20_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        offsets.push(Number(message.offset));
        if (offsets.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
        await Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  return offsets;
}

/** The Kafka error type KafkaJS reports for the first partition of a failed deleteTopicRecords. */
async function failureType(p: Promise<void>): Promise<string> {
  try {
    await p;
    return 'NONE';
  } catch (err) {
    // KafkaJS wraps its KafkaJSDeleteTopicRecordsError (per-partition errors) as the cause.
    interface WithPartitions { partitions?: Array<{ error?: { type?: string } }>; cause?: { partitions?: Array<{ error?: { type?: string } }> } }
    const e = err as WithPartitions;
    const first = (e.partitions ?? e.cause?.partitions)?.[0];
    return first?.error?.type ?? `${String(err)} ${JSON.stringify(first)}`;
  }
}

t.test('DeleteRecords raises the log start offset; consumers start there; it survives a restart', async (t) => {
  const d = tempDir('spool-delete-records-');
  t.teardown(d.cleanup);
  let running = await start(d.dir);
  let kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING });
  await running.broker.createTopic('purge', 1, { 'segment.bytes': '1024' });
  await running.broker.createTopic('table', 1, { 'cleanup.policy': 'compact' });
  await fill(kafka, 'purge', 100);
  const admin = kafka.admin();
  await admin.connect();
  await admin.fetchTopicMetadata({ topics: ['purge', 'table'] });
  const segmentsBefore = running.broker.logManager.getLog('purge', 0)?.segments().length ?? 0;
  t.ok(segmentsBefore > 5, `several segments (${segmentsBefore})`);

  await admin.deleteTopicRecords({ topic: 'purge', partitions: [{ partition: 0, offset: '60' }] });
  const offsets = await admin.fetchTopicOffsets('purge');
  t.same([offsets[0].low, offsets[0].high], ['60', '100'], 'log start offset 60');
  const segmentsAfter = running.broker.logManager.getLog('purge', 0)?.segments() ?? [];
  t.ok(segmentsAfter.length < segmentsBefore && segmentsAfter[0].baseOffset <= 60, 'whole segments below 60 are deleted');
  const read = await readFrom(kafka, 'purge', 40);
  t.same(read, Array.from({ length: 40 }, (_, i) => 60 + i), 'a consumer from the beginning reads 60..99');

  t.equal(await failureType(admin.deleteTopicRecords({ topic: 'purge', partitions: [{ partition: 0, offset: '500' }] })), 'OFFSET_OUT_OF_RANGE', 'above the high watermark');
  await fill(kafka, 'table', 3);
  await admin.fetchTopicMetadata({ topics: ['table'] });
  t.equal(await failureType(admin.deleteTopicRecords({ topic: 'table', partitions: [{ partition: 0, offset: '1' }] })), 'POLICY_VIOLATION', 'a compact-only topic');
  await admin.deleteTopicRecords({ topic: 'purge', partitions: [{ partition: 0, offset: '-1' }] });
  t.equal((await admin.fetchTopicOffsets('purge'))[0].low, '100', 'offset -1: up to the high watermark');
  await admin.disconnect();

  await running.stop();
  running = await start(d.dir);
  t.teardown(() => running.stop());
  kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING });
  const again = kafka.admin();
  await again.connect();
  t.equal((await again.fetchTopicOffsets('purge'))[0].low, '100', 'the log start offset survives a restart');
  await again.disconnect();
});

t.test("Kafka's kafka-delete-records tool", async (t) => {
  if (!requireToolchain(t, await kafkaToolsAvailable(), 'Kafka tool jars are missing (bash scripts/setup-interop.sh)')) return;
  const d = tempDir('spool-delete-records-tool-');
  t.teardown(d.cleanup);
  const running = await start(d.dir);
  t.teardown(() => running.stop());
  const kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING });
  await running.broker.createTopic('tool', 1);
  await fill(kafka, 'tool', 10);
  const json = join(d.dir, 'delete.json');
  writeFileSync(json, JSON.stringify({ version: 1, partitions: [{ topic: 'tool', partition: 0, offset: 7 }] }));
  const r = await runKafkaClass('org.apache.kafka.tools.DeleteRecordsCommand', ['--bootstrap-server', `127.0.0.1:${running.port}`, '--offset-json-file', json]);
  t.equal(r.code, 0, `the tool exits 0 (${r.stderr.slice(-500)})`);
  t.match(r.stdout, /partition: tool-0\s+low_watermark: 7/, 'and reports the low watermark');
  t.equal(running.broker.logManager.getLog('tool', 0)?.logStartOffset, 7);
});
