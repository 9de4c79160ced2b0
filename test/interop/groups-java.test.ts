// test/interop room (groups): Apache Kafka's Java KafkaConsumer (classic protocol, default
// assignors: range first) consumer groups against Spool — membership churn under load,
// at-least-once, one owner per partition per generation (with the generation the client reports),
// offsets across a broker restart, kafka-consumer-groups --describe; and a static member
// (group.instance.id) restarting without a rebalance.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, removeDir, requireToolchain, run, startSpool, tempDir, works } from './common.js';
import { churnScenario, staticMemberScenario, type MemberCommand } from './groups/scenario.js';

const dependencies = join(interopDir, 'java', 'target', 'dependency');
const dir = join(interopDir, 'groups', 'java');
const classes = join(dir, 'target', 'classes'); // target/ is git-ignored
const mainClass = join(classes, 'spool', 'interop', 'groups', 'GroupMember.class');

/**
 * Compiles the member against the kafka-clients jars the Java interop build fetched, when the
 * class is missing or older than GroupMember.java or those jars (setup-interop.sh does the same).
 */
async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  const sources = [join(dir, 'GroupMember.java'), dependencies];
  if (!isStale(mainClass, sources)) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, join(dir, 'GroupMember.java')], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());
const command: MemberCommand = (bootstrap, topic, group, name, instanceId) => ({
  cmd: 'java',
  args: [
    '-Xmx128m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-cp',
    `${classes}:${dependencies}/*`,
    'spool.interop.groups.GroupMember',
    bootstrap,
    topic,
    group,
    name,
    ...(instanceId !== undefined ? [instanceId] : []),
  ],
});

t.test('Java KafkaConsumer groups against Spool', async (t) => {
  if (!requireToolchain(t, ready, 'java/javac or the Java interop dependencies (test/interop/java/target/dependency) are missing')) return;
  const dataDir = tempDir('interop-groups-java');
  const spool = await startSpool(dataDir, { config: { 'group.initial.rebalance.delay.ms': 1000 } });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await t.test('membership churn under load, offsets across a restart', async (t) => {
    await churnScenario(t, spool, 'java', command, 'range');
  });
  await t.test('a static member restarts without a rebalance', async (t) => {
    await staticMemberScenario(t, spool, 'java', command);
  });
});
