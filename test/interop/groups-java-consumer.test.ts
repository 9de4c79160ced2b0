// test/interop room (groups): Apache Kafka's Java KafkaConsumer with group.protocol=consumer (the
// KIP-848 consumer group protocol, ConsumerGroupHeartbeat) against Spool — three members, one
// SIGKILLed, one added, while records are produced: every record consumed, no partition owned by
// two members in one epoch (broker side and as the clients' rebalance listeners report it),
// kafka-consumer-groups --describe, offsets resumed after a broker restart; and a broker-side
// regular expression subscription that picks up a topic created later.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, removeDir, requireToolchain, run, runId, startSpool, tempDir, works } from './common.js';
import { sleep, startMember, waitFor, type MemberProcess } from './groups/harness.js';
import { KIP848_BROKER_CONFIG, describe, kafkaFor, kip848ChurnScenario } from './groups/kip848-scenario.js';

const dependencies = join(interopDir, 'java', 'target', 'dependency');
const dir = join(interopDir, 'groups', 'java848');
const classes = join(dir, 'target', 'classes'); // target/ is git-ignored
const mainClass = join(classes, 'spool', 'interop', 'groups', 'ConsumerProtocolMember.class');

/** Compiles the member against the kafka-clients jars of the Java interop build when stale. */
async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  const source = join(dir, 'ConsumerProtocolMember.java');
  if (!isStale(mainClass, [source, dependencies])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());

function javaMember(bootstrap: string, topic: string, group: string, name: string, assignor?: string): MemberProcess {
  return startMember(name, 'java', [
    '-Xmx128m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-cp',
    `${classes}:${dependencies}/*`,
    'spool.interop.groups.ConsumerProtocolMember',
    bootstrap,
    topic,
    group,
    name,
    '-',
    ...(assignor !== undefined ? [assignor] : []),
  ]);
}

t.test('Java KafkaConsumer with group.protocol=consumer against Spool', async (t) => {
  if (!requireToolchain(t, ready, 'java/javac or the Java interop dependencies (test/interop/java/target/dependency) are missing')) return;
  const dataDir = tempDir('interop-groups-java-848');
  // Short heartbeat interval and session: reconciliation and the killed member's eviction are quick.
  const spool = await startSpool(dataDir, { config: KIP848_BROKER_CONFIG });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });

  await t.test('membership churn under load, offsets across a restart', async (t) => {
    await kip848ChurnScenario(t, spool, 'java', { start: (bootstrap, topic, group, name) => javaMember(bootstrap, topic, group, name), records: 3000, clientEpochs: true, kafkaTools: true });
  });

  await t.test('a broker-side regex subscription follows topic creation', async (t) => {
    const prefix = `rx${runId()}`;
    const group = `${prefix}-group`;
    const admin = kafkaFor(spool).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: `${prefix}-a`, numPartitions: 2 }, { topic: `${prefix}x-other`, numPartitions: 1 }] });
    const m = javaMember(spool.bootstrap, `re:${prefix}-.*`, group, 'R', 'range');
    t.teardown(() => m.kill());
    const producer = kafkaFor(spool).producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}-a`, messages: Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `a-${i}` })) });
    await producer.send({ topic: `${prefix}x-other`, messages: [{ value: 'not matched' }] });
    const records = () => m.events.filter((e) => e.ev === 'rec').length;
    t.ok(await waitFor(() => records() >= 10, 60_000), 'the member reads the matching topic');
    await admin.createTopics({ topics: [{ topic: `${prefix}-b`, numPartitions: 2 }] });
    await producer.send({ topic: `${prefix}-b`, messages: Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `b-${i}` })) });
    t.ok(await waitFor(() => records() >= 20, 60_000), `a matching topic created later is assigned and read (${records()} records)`);
    await sleep(500);
    t.equal(records(), 20, 'the topic that does not match is not read');
    const described = describe(spool, group);
    t.equal(described.assignorName, 'range', 'the member asked for the range assignor');
    t.equal(described.members[0]?.subscribedTopicRegex, `${prefix}-.*`);
    await producer.disconnect();
    await admin.disconnect();
    await m.stop();
  });
});
