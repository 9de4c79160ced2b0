// test/interop room: librdkafka (through confluent-kafka-python) against Spool — Producer with
// keys, headers, null values, explicit partitions and every compression.codec; Consumer.assign
// with explicit offsets (no group) across a broker restart; offsets_for_times.
import t from 'tap';
import { join } from 'node:path';
import { interopDir, removeDir, requireToolchain, startSpool, tempDir, works } from './common.js';
import { fullRoundTrip, type ClientCommand } from './roundtrip.js';

const python = process.env.PYTHON ?? 'python3';
const script = join(interopDir, 'python', 'client.py');
const client: ClientCommand = (args) => ({ cmd: python, args: [script, ...args] });
const ready = await works(python, ['-c', 'import confluent_kafka']);

t.test('librdkafka (confluent-kafka-python) against Spool', async (t) => {
  if (!requireToolchain(t, ready, `${python} cannot import confluent_kafka`)) return;
  const dataDir = tempDir('interop-python');
  const spool = await startSpool(dataDir);
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await t.test('10 000 records per codec survive a restart: content, order, offsets, offsets_for_times', async (t) => {
    // librdkafka does not expose the timestamp ListOffsets returned, only the offset.
    await fullRoundTrip(t, spool, client, 'librdkafka', { noMatch: 'minus1', withTimestamp: false });
  });
});
