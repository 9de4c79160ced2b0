// test/interop room (groups): librdkafka consumer groups (confluent-kafka-python) against Spool with
// partition.assignment.strategy=cooperative-sticky — membership churn under load (join, SIGKILL,
// leave), at-least-once, one owner per partition per generation, offsets across a broker restart,
// kafka-consumer-groups --describe; and a static member (group.instance.id) restarting without a
// rebalance.
import t from 'tap';
import { join } from 'node:path';
import { interopDir, removeDir, requireToolchain, startSpool, tempDir, works } from './common.js';
import { churnScenario, staticMemberScenario, type MemberCommand } from './groups/scenario.js';

const python = process.env.PYTHON ?? 'python3';
const script = join(interopDir, 'groups', 'confluent_member.py');
const ready = await works(python, ['-c', 'import confluent_kafka']);
const command: MemberCommand = (bootstrap, topic, group, name, instanceId) => ({
  cmd: python,
  args: ['-u', script, bootstrap, topic, group, name, ...(instanceId !== undefined ? [instanceId] : [])],
});

t.test('librdkafka (cooperative-sticky) consumer groups against Spool', async (t) => {
  if (!requireToolchain(t, ready, `${python} cannot import confluent_kafka`)) return;
  const dataDir = tempDir('interop-groups-python');
  const spool = await startSpool(dataDir, { config: { 'group.initial.rebalance.delay.ms': 1000 } });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await t.test('membership churn under load, offsets across a restart', async (t) => {
    await churnScenario(t, spool, 'librdkafka', command, 'cooperative-sticky');
  });
  await t.test('a static member restarts without a rebalance', async (t) => {
    await staticMemberScenario(t, spool, 'librdkafka', command);
  });
});
