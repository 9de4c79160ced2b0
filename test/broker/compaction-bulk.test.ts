// broker tests: the case — 1,000 keys updated 1,000 times each (1,000,000 records written
// through the leader partition, the fast path) end, once cleaned, with one record per key outside
// the active segment; a KafkaJS consumer from the beginning reads the latest value of every key.
import t from 'tap';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';
import { decodeBatches } from '../helpers/batches.js';
import { tempDir } from '../helpers/broker.js';
import { activeSegmentBase, brokerEngines, consumeAll, logBytes, partitionLog, startCompactingBroker, waitCleanedUpToActive } from '../log/compaction-helpers.js';

const KEYS = 1000;
const UPDATES = 1000;

for (const engine of await brokerEngines(t)) {
  t.test(`${engine}: 1,000 keys updated 1,000 times each leave about 1,000 records outside the active segment`, async (t) => {
    const d = tempDir('spool-compaction-bulk-');
    t.teardown(d.cleanup);
    // Cleaning starts once the writing is done (backoff), so the sizes before and after show.
    const { running, kafka } = await startCompactingBroker(d.dir, engine, { 'log.cleaner.backoff.ms': 50 });
    t.teardown(() => running.stop());
    const topic = 'table';
    await running.broker.createTopic(topic, 1, { 'cleanup.policy': 'compact', 'segment.bytes': String(1 << 20), 'min.cleanable.dirty.ratio': '0.01' });
    const partition = running.broker.replicaManager.getPartition(topic, 0);
    if (partition === undefined) throw new Error('no partition');
    const now = Date.now();
    let peakBytes = 0;
    // One batch per round of updates: every key once. Bounded: UPDATES batches of KEYS records.
    for (let u = 0; u < UPDATES; u++) {
      const batch = encodeRecordBatch(Array.from({ length: KEYS }, (_, k) => ({ key: Buffer.from(`key-${k}`), value: Buffer.from(`v${u}`), timestamp: now })));
      partition.appendRecordsToLeader(batch, 1, 'client', now);
      if (u % 50 === 0) await new Promise((r) => setImmediate(r));
      peakBytes = Math.max(peakBytes, logBytes(partition.log));
    }
    t.equal(partition.logEndOffset, KEYS * UPDATES, '1,000,000 records written');
    const checkpoint = await waitCleanedUpToActive(running, topic, 0, 90_000);
    const log = partitionLog(running, topic);
    const active = activeSegmentBase(log);
    t.equal(checkpoint, active);
    let outside = 0;
    const keys = new Set<string>();
    let offset = log.logStartOffset;
    // Bounded: each read moves past at least one batch, and there are few batches below `active`.
    for (let guard = 0; offset < active && guard < 10_000; guard++) {
      const batches = decodeBatches(log.readBytes(offset, 1 << 20));
      const last = batches.at(-1);
      if (last === undefined) break;
      for (const b of batches) {
        if (b.baseOffset >= active) break;
        outside += b.records.length;
        for (const r of b.records) keys.add(r.key?.toString() ?? '');
      }
      offset = last.lastOffset + 1;
    }
    t.equal(outside, KEYS, `${outside} records outside the active segment: one per key`);
    t.equal(keys.size, KEYS);
    const finalBytes = logBytes(log);
    t.ok(finalBytes < peakBytes / 5, `the partition shrank from ${peakBytes} to ${finalBytes} bytes`);
    const cleaner = running.broker.logManager.cleaner;
    t.comment(`cleaner: ${JSON.stringify(cleaner?.totals)}`);

    const records = await consumeAll(kafka, topic, 60_000);
    const latest = new Map<string, string | null>();
    for (const r of records) latest.set(r.key, r.value);
    t.equal(latest.size, KEYS);
    t.ok(
      [...latest.values()].every((v) => v === `v${UPDATES - 1}`),
      'every key reads its last value',
    );
    t.ok(
      records.every((r, i) => i === 0 || r.offset > records[i - 1].offset),
      'offsets increase',
    );
  });
}
