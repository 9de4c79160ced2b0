// test/interop room: Apache Kafka 4.4's own kafka-configs (org.apache.kafka.tools.ConfigCommand,
// from the Maven jars) alters and describes dynamic group configs (--entity-type groups,
// ConfigResource GROUP) on Spool: the override is stored and described back, the other group
// configs show their broker defaults, and a value outside the broker's bounds is refused with
// Kafka's message.
import t from 'tap';
import { removeDir, requireToolchain, startSpool, tempDir } from './common.js';
import { kafkaToolsAvailable, runKafkaClass } from './kafka-tools.js';

const ready = await kafkaToolsAvailable();

t.test('kafka-configs --entity-type groups against Spool', async (t) => {
  if (!requireToolchain(t, ready, 'Kafka 4.4 tool jars or java not found')) return;
  const dir = tempDir('kafka-configs-groups');
  const spool = await startSpool(dir, { config: { 'offsets.topic.num.partitions': 1 } });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dir);
  });
  const configs = (args: string[]) =>
    runKafkaClass('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', spool.bootstrap, '--entity-type', 'groups', '--entity-name', 'orders-share', ...args], 60_000);

  const altered = await configs(['--alter', '--add-config', 'share.auto.offset.reset=earliest,share.delivery.count.limit=3']);
  t.equal(altered.code, 0, `alter exits 0\n${altered.stderr}`);
  t.match(altered.stdout, /Completed updating config for group orders-share\./);

  const described = await configs(['--describe']);
  t.equal(described.code, 0, `describe exits 0\n${described.stderr}`);
  t.match(described.stdout, /Dynamic configs for group orders-share are:/);
  t.match(described.stdout, /share\.auto\.offset\.reset=earliest sensitive=false synonyms=\{DYNAMIC_GROUP_CONFIG:share\.auto\.offset\.reset=earliest/);
  t.match(described.stdout, /share\.delivery\.count\.limit=3 sensitive=false synonyms=\{DYNAMIC_GROUP_CONFIG:share\.delivery\.count\.limit=3/);
  t.notMatch(described.stdout, /share\.record\.lock\.duration\.ms/, '--describe lists the dynamic (overridden) configs only');

  const refused = await configs(['--alter', '--add-config', 'share.record.lock.duration.ms=1000000']);
  t.not(refused.code, 0, 'an out-of-bounds value is refused');
  t.match(refused.stderr + refused.stdout, /share\.record\.lock\.duration\.ms must be in the range 15000 to 60000 inclusive\./);

  const deleted = await configs(['--alter', '--delete-config', 'share.delivery.count.limit']);
  t.equal(deleted.code, 0, `delete exits 0\n${deleted.stderr}`);
  const after = await configs(['--describe']);
  t.notMatch(after.stdout, /share\.delivery\.count\.limit/, 'the deleted override is gone');
  t.match(after.stdout, /share\.auto\.offset\.reset=earliest/);
});
