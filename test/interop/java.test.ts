// test/interop room: Apache Kafka's Java client (kafka-clients 4.4) against Spool — producer with
// keys, headers, null values, explicit partitions and every compression.type; assign/seek
// consumer across a broker restart; offsetsForTimes; AdminClient create/describe/delete.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, removeDir, requireToolchain, startSpool, tempDir, works, runId, PARTITIONS } from './common.js';
import { fullRoundTrip, runClient, summary, type ClientCommand } from './roundtrip.js';

const javaDir = join(interopDir, 'java');
const classpath = `${join(javaDir, 'target', 'classes')}:${join(javaDir, 'target', 'dependency')}/*`;
const java: ClientCommand = (args) => ({
  cmd: 'java',
  args: ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'spool.interop.JavaClient', ...args],
});

const built = existsSync(join(javaDir, 'target', 'classes', 'spool', 'interop', 'JavaClient.class'));
const ready = built && (await works('java', ['-version']));

t.test('Java client against Spool', async (t) => {
  if (!requireToolchain(t, ready, 'java or the built Java client (test/interop/java/target) is missing')) return;
  const dataDir = tempDir('interop-java');
  const spool = await startSpool(dataDir);
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });

  await t.test('AdminClient creates, describes and deletes a topic', async (t) => {
    const topic = `java-admin-${runId()}`;
    const r = await runClient(java, ['admin', spool.bootstrap, topic, '0', 'none', String(PARTITIONS), '0']);
    interface AdminSummary {
      created: string;
      duplicateCreateError: string | null;
      describe: { name: string; partitions: Array<{ partition: number; leader: number; replicas: number; isr: number }> };
      listedBeforeDelete: boolean;
      listedAfterDelete: boolean;
      describeDeletedError: string | null;
    }
    const s = summary(t, r, 'admin') as AdminSummary | undefined;
    t.equal(s?.duplicateCreateError, 'TopicExistsException', 'creating it again fails with TOPIC_ALREADY_EXISTS');
    t.equal(s?.describe.name, topic);
    t.same(s?.describe.partitions.map((p) => p.partition), [0, 1, 2, 3], 'describe lists every partition');
    t.ok(s?.describe.partitions.every((p) => p.leader >= 0 && p.replicas === 1 && p.isr === 1), 'each partition has a leader, one replica, one ISR member');
    t.equal(s?.listedBeforeDelete, true, 'listTopics shows the topic');
    t.equal(s?.listedAfterDelete, false, 'listTopics no longer shows it after deleteTopics');
    t.equal(s?.describeDeletedError, 'UnknownTopicOrPartitionException', 'describing the deleted topic fails with UNKNOWN_TOPIC_OR_PARTITION');
  });

  await t.test('10 000 records per codec survive a restart: content, order, offsets, offsetsForTimes', async (t) => {
    await fullRoundTrip(t, spool, java, 'java', { noMatch: 'minus1', withTimestamp: true });
  });
});
