// test/interop room: KafkaJS 2 against Spool — producer (keys, headers, null values, explicit
// partitions, every codec: gzip built in, zstd via zstd-napi, snappy/lz4 via the harness's
// literal-only encoders) and admin (createTopics, fetchTopicMetadata, deleteTopics,
// fetchTopicOffsetsByTimestamp). KafkaJS consumers need a group, so another real client
// (librdkafka, else the Java client) reads the data back after a broker restart.
import t from 'tap';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODECS, PARTITIONS, interopDir, removeDir, requireToolchain, runId, startSpool, tempDir, works } from './common.js';
import { checkTimes, consumeAndCheck, createTopics, produceAll, restartBroker, runClient, summary, type ClientCommand } from './roundtrip.js';

const here = dirname(fileURLToPath(import.meta.url));
const kafkajsProgram = join(here, 'kafkajs', 'client.js');
const kafkajs: ClientCommand = (args) => ({ cmd: process.execPath, args: [kafkajsProgram, ...args] });

const python = process.env.PYTHON ?? 'python3';
const javaDir = join(interopDir, 'java');
const readers: Array<{ name: string; available: () => Promise<boolean>; command: ClientCommand }> = [
  {
    name: 'librdkafka',
    available: () => works(python, ['-c', 'import confluent_kafka']),
    command: (args) => ({ cmd: python, args: [join(interopDir, 'python', 'client.py'), ...args] }),
  },
  {
    name: 'java',
    available: async () => existsSync(join(javaDir, 'target', 'classes')) && (await works('java', ['-version'])),
    command: (args) => ({
      cmd: 'java',
      args: ['-Xmx256m', '-cp', `${join(javaDir, 'target', 'classes')}:${join(javaDir, 'target', 'dependency')}/*`, 'spool.interop.JavaClient', ...args],
    }),
  },
];

let reader: (typeof readers)[number] | undefined;
for (const r of readers) {
  if (await r.available()) {
    reader = r;
    break;
  }
}

t.test('KafkaJS against Spool', async (t) => {
  const dataDir = tempDir('interop-kafkajs');
  const spool = await startSpool(dataDir);
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });

  await t.test('admin creates, describes and deletes a topic', async (t) => {
    const topic = `kafkajs-admin-${runId()}`;
    const r = await runClient(kafkajs, ['admin', spool.bootstrap, topic, '0', 'none', String(PARTITIONS), '0']);
    interface AdminSummary {
      created: boolean;
      createdAgain: boolean;
      partitions: Array<{ partition: number; leader: number; replicas: number; isr: number }>;
      listedBeforeDelete: boolean;
      listedAfterDelete: boolean;
    }
    const s = summary(t, r, 'admin') as AdminSummary | undefined;
    t.equal(s?.created, true, 'createTopics creates it');
    t.equal(s?.createdAgain, false, 'createTopics of an existing topic reports nothing created');
    t.same(s?.partitions.map((p) => p.partition), [0, 1, 2, 3], 'fetchTopicMetadata lists every partition');
    t.ok(s?.partitions.every((p) => p.leader >= 0 && p.replicas === 1 && p.isr === 1), 'each partition has a leader, one replica, one ISR member');
    t.equal(s?.listedBeforeDelete, true, 'listTopics shows it');
    t.equal(s?.listedAfterDelete, false, 'listTopics no longer shows it after deleteTopics');
  });

  await t.test('10 000 records per codec survive a restart and read back exactly', async (t) => {
    const chosen = reader;
    if (!requireToolchain(t, chosen !== undefined, 'no reading client (confluent_kafka or the Java client) is installed') || chosen === undefined) return;
    const baseTs = Date.now();
    const id = runId();
    const topicFor = (codec: string) => `kafkajs-${codec}-${id}`;
    await createTopics(t, kafkajs, spool.bootstrap, CODECS.map(topicFor));
    const produced = await produceAll(t, kafkajs, spool.bootstrap, topicFor, baseTs);
    await restartBroker(t, spool);
    for (const codec of CODECS) {
      if (!produced.has(codec)) continue;
      t.comment(`reading ${topicFor(codec)} with ${chosen.name}`);
      await consumeAndCheck(t, chosen.command, spool.bootstrap, topicFor(codec), baseTs);
      // KafkaJS reports the high watermark, not -1, where no record is that late.
      await checkTimes(t, kafkajs, spool.bootstrap, topicFor(codec), baseTs, { noMatch: 'end', withTimestamp: false });
    }
  });
});
