// test/interop room (groups): librdkafka (confluent-kafka-python) with group.protocol=consumer (the
// KIP-848 consumer group protocol) against Spool: three members, one SIGKILLed, one added, while
// records are produced — every record consumed, no partition owned by two members in one epoch
// (broker side; librdkafka does not expose its member epoch), committed offsets, offsets resumed
// after a broker restart.
import t from 'tap';
import { join } from 'node:path';
import { interopDir, removeDir, requireToolchain, startSpool, tempDir, works } from './common.js';
import { startMember } from './groups/harness.js';
import { KIP848_BROKER_CONFIG, kip848ChurnScenario } from './groups/kip848-scenario.js';

const python = process.env.PYTHON ?? 'python3';
// librdkafka serves group.protocol=consumer from 2.12 (confluent-kafka ≥ 2.12).
const ready = await works(python, ['-c', 'import confluent_kafka, sys; sys.exit(0 if confluent_kafka.libversion()[1] >= 0x020c0000 else 1)']);

t.test('librdkafka with group.protocol=consumer against Spool', async (t) => {
  if (!requireToolchain(t, ready, `${python} cannot import confluent_kafka ≥ 2.12`)) return;
  const dataDir = tempDir('interop-groups-librdkafka-848');
  const spool = await startSpool(dataDir, { config: KIP848_BROKER_CONFIG });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await t.test('membership churn under load, offsets across a restart', async (t) => {
    await kip848ChurnScenario(t, spool, 'librdkafka', {
      start: (bootstrap, topic, group, name) => startMember(name, python, [join(interopDir, 'groups', 'confluent_member_848.py'), bootstrap, topic, group, name]),
      records: 1200,
      clientEpochs: false,
      kafkaTools: false,
    });
  });
});
