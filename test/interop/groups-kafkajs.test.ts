// test/interop room (groups): KafkaJS consumer groups against Spool — 3 members over a 6-partition
// topic while 30 000 records are produced; one member SIGKILLed, one joins, one leaves; every
// record consumed at least once; one owner per partition per generation; committed offsets
// survive a broker restart; kafka-consumer-groups --describe shows the group and its lag.
// (KafkaJS has no static membership; the other clients' tests cover it.)
import t from 'tap';
import { join } from 'node:path';
import { removeDir, repoRoot, startSpool, tempDir } from './common.js';
import { churnScenario } from './groups/scenario.js';

const memberScript = join(repoRoot, 'dist', 'test', 'interop', 'groups', 'kafkajs-member.js');

t.test('KafkaJS consumer group against Spool', async (t) => {
  const dataDir = tempDir('interop-groups-kafkajs');
  const spool = await startSpool(dataDir, { config: { 'group.initial.rebalance.delay.ms': 1000 } });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await churnScenario(t, spool, 'kafkajs', (bootstrap, topic, group, name) => ({
    cmd: process.execPath,
    args: [memberScript, bootstrap, topic, group, name],
  }));
});
