// replication/ room tests: Apache Kafka's own kafka-dump-log (org.apache.kafka.tools.DumpLogSegments, from
// the Maven jars setup-interop.sh fetches) reads the `.snapshot` files Spool writes, with every
// field as written (int32 wrap of the first sequence included). A missing toolchain skips the
// test on a developer machine and fails it under CI=true, as the interop tests do.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { snapshotFileName, writeSnapshotFile, type SnapshotEntry } from '../../src/replication/producer-state-snapshot.js';
import { removeDir, requireToolchain, tempDir } from '../interop/common.js';
import { dumpLogSegments, kafkaToolsAvailable } from '../interop/kafka-tools.js';

const ready = await kafkaToolsAvailable();

t.test("kafka-dump-log reads Spool's producer state snapshots", async (t) => {
  if (!requireToolchain(t, ready, "Apache Kafka's tool jars (.cache/kafka-jars) or java are missing")) return;
  const dir = join(tempDir('pstate-dump'), 't-0');
  t.teardown(() => removeDir(join(dir, '..')));
  const entries: SnapshotEntry[] = [
    { producerId: 4242, epoch: 7, lastSequence: 99, lastOffset: 1234, offsetDelta: 4, timestamp: 1700000000000, coordinatorEpoch: -1, currentTxnFirstOffset: -1 },
    { producerId: 17, epoch: 0, lastSequence: 1, lastOffset: 1200, offsetDelta: 2, timestamp: 1700000000001, coordinatorEpoch: 3, currentTxnFirstOffset: 1100 },
  ];
  mkdirSync(dir, { recursive: true });
  const file = join(dir, snapshotFileName(1235));
  writeSnapshotFile(file, entries, true);
  const out = await dumpLogSegments([file]);
  t.match(out, /producerId: 4242 producerEpoch: 7 coordinatorEpoch: -1 currentTxnFirstOffset: OptionalLong\.empty lastTimestamp: 1700000000000 firstSequence: 95 lastSequence: 99 lastOffset: 1234 offsetDelta: 4 timestamp: 1700000000000/);
  t.match(out, /producerId: 17 producerEpoch: 0 coordinatorEpoch: 3 currentTxnFirstOffset: OptionalLong\[1100\] lastTimestamp: 1700000000001 firstSequence: 2147483647 lastSequence: 1 lastOffset: 1200 offsetDelta: 2/);
});
