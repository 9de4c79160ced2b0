// test/interop room (compaction, issue 9 item 1): a compacted topic cleaned by Spool's log cleaner
// (log/cleaner.ts scheduling, PartitionLog.clean in either engine) is read back by Apache Kafka's
// own kafka-dump-log (org.apache.kafka.tools.DumpLogSegments, from the Maven jars).
//
// Traffic, through KafkaJS, on one partition with small segments (many rolls), a low
// min.cleanable.dirty.ratio and a short log.cleaner.backoff.ms:
//   1. 1,000 keys updated UPDATES times each (10,000 records a produce request), the keys' last
//      updates spread over the last 100,000 offsets. UPDATES comes from
//      SPOOL_COMPACTION_DUMP_UPDATES, default 1,000 (1M records) and 200 under CI=true (200,000
//      records, still many segment rolls; producing is nearly all of this file's time);
//   2. tombstones for 100 of the keys;
//   3. transactions: a committed one updating 50 keys, an aborted one updating 50 other keys and
//      writing 50 new keys, a committed one writing 50 new keys;
//   4. a few large filler records, so everything above leaves the active segment.
// Once the cleaner checkpoint reached the active segment, DumpLogSegments must read every
// inactive segment (with its indexes) without complaint, and show exactly one record for each
// key: the last acknowledged one, at the offset it was acknowledged at (so offsets keep their
// gaps), tombstones as null values, nothing of the aborted transaction.
import t from 'tap';
import kafkajs from 'kafkajs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/log/checkpoint.js';
import { CLEANER_OFFSET_CHECKPOINT } from '../../src/log/cleaner.js';
import { removeDir, requireToolchain, runId, startSpool, tempDir } from './common.js';
import { dumpLogSegments, kafkaToolsAvailable } from './kafka-tools.js';

const { Kafka, logLevel } = kafkajs;

const ready = await kafkaToolsAvailable();
const KEYS = 1000;
const UPDATES = Number(process.env.SPOOL_COMPACTION_DUMP_UPDATES ?? (process.env.CI === 'true' ? 200 : 1000));
const PER_REQUEST = 10_000;
/** Rounds over which the keys' last updates spread. */
const SPREAD = 100;
const TOMBSTONES = 100;
const TXN_KEYS = 50;
const SEGMENT_BYTES = 512 * 1024;
const FILLER_BYTES = 200 * 1024;
const CLEAN_TIMEOUT_MS = 180_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const keyName = (k: number) => `key-${String(k).padStart(4, '0')}`;

/** What must survive cleaning: key -> the offset and value (null = tombstone) last acknowledged. */
type Expected = Map<string, { offset: number; value: string | null }>;

function logFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
}

function cleanerCheckpoint(dataDir: string, topic: string): number {
  return readCheckpoint(join(dataDir, CLEANER_OFFSET_CHECKPOINT)).find((e) => e.topic === topic && e.partition === 0)?.offset ?? -1;
}

for (const engine of ['ts', 'native'] as const) {
  t.test(`kafka-dump-log reads a log compacted by the ${engine} engine`, { timeout: 600_000 }, async (t) => {
    if (!requireToolchain(t, ready, 'Kafka jars (.cache/kafka-jars) or java are missing')) return;
    const dataDir = tempDir(`compaction-dump-${engine}`);
    t.teardown(() => removeDir(dataDir));
    const spool = await startSpool(dataDir, {
      engine,
      config: { 'log.cleaner.enable': true, 'log.cleaner.backoff.ms': 100, 'log.cleaner.threads': 1 },
    });
    t.teardown(() => spool.stop());
    const topic = `compacted-${runId()}`;
    const kafka = new Kafka({ brokers: [spool.bootstrap], clientId: 'compaction-dump', logLevel: logLevel.NOTHING, retry: { retries: 5 } });
    const admin = kafka.admin();
    await admin.connect();
    t.teardown(() => admin.disconnect());
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: String(SEGMENT_BYTES) },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
            { name: 'file.delete.delay.ms', value: '0' },
            { name: 'delete.retention.ms', value: '86400000' },
          ],
        },
      ],
    });
    const started = Date.now();
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const expected: Expected = new Map();
    const abortedKeys = new Set<string>();

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const send = async (messages: Array<{ key: string; value: string | null }>) => {
      const [meta] = await producer.send({ topic, acks: -1, messages });
      const base = Number(meta.baseOffset ?? meta.offset);
      messages.forEach((m, i) => expected.set(m.key, { offset: base + i, value: m.value }));
    };

    // 1. 1,000 keys x UPDATES updates. Key k is updated in rounds [k % 100, k % 100 + UPDATES), so the
    //    keys' last updates spread over the last 100 rounds and the survivors' offsets have gaps.
    let messages: Array<{ key: string; value: string }> = [];
    for (let round = 0; round < UPDATES + SPREAD - 1; round++) {
      for (let k = 0; k < KEYS; k++) {
        const first = k % SPREAD;
        if (round < first || round >= first + UPDATES) continue;
        messages.push({ key: keyName(k), value: `v-${k}-${round - first}` });
        if (messages.length === PER_REQUEST) {
          await send(messages);
          messages = [];
        }
      }
    }
    if (messages.length > 0) await send(messages);
    t.comment(`${KEYS * UPDATES} updates produced after ${elapsed()}`);
    // 2. Tombstones.
    await send(Array.from({ length: TOMBSTONES }, (_, k) => ({ key: keyName(k), value: null })));

    // 3. Transactions: commit, abort, commit.
    const txProducer = kafka.producer({ transactionalId: `compaction-dump-${runId()}`, idempotent: true, maxInFlightRequests: 1 });
    await txProducer.connect();
    t.teardown(() => txProducer.disconnect());
    const committed = async (messages: Array<{ key: string; value: string }>) => {
      const txn = await txProducer.transaction();
      const [meta] = await txn.send({ topic, messages });
      await txn.commit();
      const base = Number(meta.baseOffset ?? meta.offset);
      messages.forEach((m, i) => expected.set(m.key, { offset: base + i, value: m.value }));
    };
    await committed(Array.from({ length: TXN_KEYS }, (_, i) => ({ key: keyName(TOMBSTONES + i), value: `committed-${i}` })));
    {
      const txn = await txProducer.transaction();
      const messages = [
        ...Array.from({ length: TXN_KEYS }, (_, i) => ({ key: keyName(TOMBSTONES + TXN_KEYS + i), value: `aborted-${i}` })),
        ...Array.from({ length: TXN_KEYS }, (_, i) => ({ key: `txn-aborted-${i}`, value: `aborted-new-${i}` })),
      ];
      await txn.send({ topic, messages });
      await txn.abort();
      for (let i = 0; i < TXN_KEYS; i++) abortedKeys.add(`txn-aborted-${i}`);
    }
    await committed(Array.from({ length: TXN_KEYS }, (_, i) => ({ key: `txn-new-${i}`, value: `committed-new-${i}` })));

    // 4. Filler: everything above leaves the active segment.
    const filler = 'f'.repeat(FILLER_BYTES);
    for (let i = 0; i * FILLER_BYTES < 2 * SEGMENT_BYTES; i++) {
      await producer.send({ topic, acks: -1, messages: [{ key: `filler-${i}`, value: filler }] });
    }

    // Wait until the cleaner checkpoint reached the active segment and no round is half done.
    const partDir = join(dataDir, `${topic}-0`);
    const activeBase = () => Number(logFiles(partDir).at(-1)?.slice(0, 20) ?? -1);
    const lastData = Math.max(...[...expected.values()].map((e) => e.offset));
    t.ok(activeBase() > lastData, `the active segment (base ${activeBase()}) holds none of the checked records (last ${lastData})`);
    const deadline = Date.now() + CLEAN_TIMEOUT_MS;
    const settled = () =>
      cleanerCheckpoint(dataDir, topic) >= activeBase() &&
      !readdirSync(partDir).some((f) => /\.(cleaned|swap)$/.test(f) || f.endsWith('.deleted'));
    while (!settled() && Date.now() < deadline) await sleep(250);
    t.ok(settled(), `the cleaner checkpoint (${cleanerCheckpoint(dataDir, topic)}) reached the active segment (${activeBase()})`);
    t.comment(`cleaning settled after ${elapsed()}`);
    // Stop the broker so no later round rewrites files while the tool reads them.
    await spool.stop();

    const logs = logFiles(partDir);
    const inactive = logs.slice(0, -1);
    const files = inactive.flatMap((f) => {
      const base = join(partDir, f.slice(0, 20));
      return [`${base}.log`, `${base}.index`, `${base}.timeindex`].filter((p) => existsSync(p));
    });
    t.ok(inactive.length >= 1, `inactive segments after cleaning: ${inactive.length}`);
    const out = await dumpLogSegments(files);
    t.comment(`DumpLogSegments done after ${elapsed()}`);
    const lines = out.split('\n');
    t.equal(lines.filter((l) => l.startsWith('Dumping ')).length, files.length, `the tool dumped all ${files.length} files`);
    const complaints = lines.filter((l) => /mismatch|out of order|not found in the log|corrupt|exception|error|invalid/i.test(l));
    t.same(complaints.slice(0, 10), [], 'no index/time-index mismatch or corruption reported');
    const batches = lines.filter((l) => l.startsWith('baseOffset: '));
    t.same(batches.filter((l) => !l.includes('isvalid: true')).slice(0, 5), [], 'every batch has isvalid: true');

    const records = lines
      .map((l) => /^\| offset: (\d+) \w+: -?\d+ keySize: (-?\d+) valueSize: (-?\d+) sequence: -?\d+ headerKeys: \[[^\]]*\](?: key: (.*?))?(?: payload: (.*))?$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    const markers = lines.filter((l) => l.startsWith('| offset: ') && l.includes('endTxnMarker'));
    const offsets = records.map((m) => Number(m[1]));
    const disordered = offsets.filter((o, i) => i > 0 && o <= offsets[i - 1]);
    t.same(disordered.slice(0, 5), [], 'record offsets strictly increase across the cleaned segments');

    const data = records.filter((m) => !((m[4] as string | undefined) ?? '').startsWith('filler-'));
    t.equal(data.length, expected.size, `one record per key outside the active segment (${data.length}, keys ${expected.size}; ${markers.length} txn markers)`);
    const seen = new Map<string, number>();
    const problems: string[] = [];
    for (const m of data) {
      const key = (m[4] as string | undefined) ?? '<null>';
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const want = expected.get(key);
      const got = { offset: Number(m[1]), value: m[3] === '-1' ? null : ((m[5] as string | undefined) ?? '') };
      if (problems.length < 10 && JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${key}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    t.same(problems, [], 'each key has its last acknowledged value at its acknowledged offset (gaps kept)');
    t.same([...seen].filter(([, n]) => n > 1).slice(0, 5), [], 'no key appears twice');
    t.same([...expected.keys()].filter((k) => !seen.has(k)).slice(0, 5), [], 'no key is missing');
    t.same(data.filter((m) => ((m[5] as string | undefined) ?? '').startsWith('aborted') || abortedKeys.has((m[4] as string | undefined) ?? '')).map((m) => m[0]).slice(0, 5), [], 'no record of the aborted transaction');
    t.equal(data.filter((m) => m[3] === '-1').length, TOMBSTONES, 'the tombstones are kept (delete.retention.ms not reached)');
    t.ok(offsets.length > 0 && offsets[offsets.length - 1] - offsets[0] > 20 * data.length, `offsets keep their gaps (${offsets[0]}..${offsets.at(-1)} for ${offsets.length} records)`);
  });
}
