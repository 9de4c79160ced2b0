// test/interop room: the one older Apache Kafka Java client kept in the matrix (issue 16) —
// the JavaClient program of java.test.ts, compiled against kafka-clients 4.1.0 by
// scripts/setup-interop.sh (step 4a, test/interop/java/target-4.1), runs the same round trip:
// every codec, content, order and offsets across a broker restart, and offsetsForTimes.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, removeDir, requireToolchain, run, startSpool, tempDir, works } from './common.js';
import { fullRoundTrip, type ClientCommand } from './roundtrip.js';

const OLD_VERSION = '4.1.0';
const javaDir = join(interopDir, 'java');
const targetDir = join(javaDir, 'target-4.1');
const depDir = join(targetDir, 'dependency');
const classpath = `${join(targetDir, 'classes')}:${depDir}/*`;
const java: ClientCommand = (args) => ({
  cmd: 'java',
  args: ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'spool.interop.JavaClient', ...args],
});

const built =
  existsSync(join(targetDir, 'classes', 'spool', 'interop', 'JavaClient.class')) &&
  existsSync(join(depDir, `kafka-clients-${OLD_VERSION}.jar`));
const ready = built && (await works('java', ['-version']));

t.test(`Java client (kafka-clients ${OLD_VERSION}) against Spool`, async (t) => {
  if (!requireToolchain(t, ready, `java or the Java client built against kafka-clients ${OLD_VERSION} (test/interop/java/target-4.1) is missing`)) return;

  await t.test(`the classpath holds only kafka-clients ${OLD_VERSION}, and the client reports it`, async (t) => {
    const clientJars = readdirSync(depDir).filter((f) => f.startsWith('kafka-clients-'));
    t.same(clientJars, [`kafka-clients-${OLD_VERSION}.jar`], 'one kafka-clients jar, the old one');
    const r = await run('java', ['-Xmx128m', '-cp', `${depDir}/*`, join(javaDir, 'version', 'KafkaVersion.java')], { timeoutMs: 60_000 });
    t.equal(r.code, 0, `KafkaVersion exits 0${r.code === 0 ? '' : `; stderr: ${r.stderr.slice(-1000)}`}`);
    t.equal(r.stdout.trim(), OLD_VERSION, 'AppInfoParser.getVersion() on that classpath');
  });

  const dataDir = tempDir('interop-java41');
  const spool = await startSpool(dataDir);
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });

  await t.test('10 000 records per codec survive a restart: content, order, offsets, offsetsForTimes', async (t) => {
    await fullRoundTrip(t, spool, java, 'java41', { noMatch: 'minus1', withTimestamp: true });
  });
});
