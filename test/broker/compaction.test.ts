// broker tests: log compaction end to end with KafkaJS, on both storage engines. A randomized
// model test — random keys, updates and tombstones over several cleaning rounds of a topic with
// small segments — checks what a consumer reading from the beginning sees against a model (the
// latest value per key, tombstones gone after delete.retention.ms, offsets increasing), and the
// cleaner checkpoint surviving a restart.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/broker.js';
import {
  activeSegmentBase,
  brokerEngines,
  consumeAll,
  partitionLog,
  prng,
  sleep,
  startCompactingBroker,
  waitCleanedUpToActive,
  type KafkaClient,
} from '../log/compaction-helpers.js';

const DELETE_RETENTION_MS = 300;
const KEYS = 40;
const PHASES = 5;
const OPS_PER_PHASE = 240;
const PER_SEND = 40;

async function send(kafka: KafkaClient, topic: string, messages: Array<{ key: string; value: string | null }>): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  // Several records per request: one batch each, a few batches per 4 KiB segment.
  for (let i = 0; i < messages.length; i += PER_SEND) await producer.send({ topic, messages: messages.slice(i, i + PER_SEND).map((m) => ({ ...m, partition: 0 })) });
  await producer.disconnect();
}

for (const engine of await brokerEngines(t)) {
  t.test(`${engine}: random updates and tombstones over several cleaning rounds read back as the model says`, async (t) => {
    const seed = Number(process.env.COMPACTION_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.comment(`seed ${seed} (COMPACTION_SEED to replay)`);
    const random = prng(seed);
    const d = tempDir('spool-compaction-');
    t.teardown(d.cleanup);
    let { running, kafka } = await startCompactingBroker(d.dir, engine);
    t.teardown(() => running.stop());
    const topic = 'model';
    await running.broker.createTopic(topic, 1, {
      'cleanup.policy': 'compact',
      'segment.bytes': '4096',
      'min.cleanable.dirty.ratio': '0.01',
      'delete.retention.ms': String(DELETE_RETENTION_MS),
    });
    const model = new Map<string, string | null>();
    let version = 0;
    for (let phase = 0; phase < PHASES; phase++) {
      const ops: Array<{ key: string; value: string | null }> = [];
      for (let i = 0; i < OPS_PER_PHASE; i++) {
        const key = `k${Math.floor(random() * KEYS)}`;
        const value = random() < 0.15 ? null : `v${version++}-${'x'.repeat(Math.floor(random() * 20))}`;
        ops.push({ key, value });
        model.set(key, value);
      }
      await send(kafka, topic, ops);
      await waitCleanedUpToActive(running, topic);
    }
    const log = partitionLog(running, topic);
    const cleaner = running.broker.logManager.cleaner;
    t.ok(cleaner !== null && cleaner.totals.rounds >= PHASES, `the cleaner ran ${cleaner?.totals.rounds} rounds`);

    // Every phase record leaves the active segment, each tombstone gets its delete horizon, and
    // a round after delete.retention.ms drops them: two filler rounds DELETE_RETENTION_MS apart.
    for (let filler = 0; filler < 2; filler++) {
      await sleep(DELETE_RETENTION_MS + 50);
      const fill = Array.from({ length: 120 }, (_, i) => ({ key: `f${i % 10}`, value: `fill${filler}-${i}-${'y'.repeat(60)}` })); // > 2 segments: the phases' tail leaves the active one
      await send(kafka, topic, fill);
      for (const m of fill) model.set(m.key, m.value);
      await waitCleanedUpToActive(running, topic);
    }
    const checkpoint = cleaner?.checkpointOf(topic, 0) ?? -1;
    t.equal(checkpoint, activeSegmentBase(log), 'cleaned up to the active segment');

    const check = async (label: string): Promise<void> => {
      const records = await consumeAll(kafka, topic);
      const offsets = records.map((r) => r.offset);
      t.ok(
        offsets.every((o, i) => i === 0 || o > offsets[i - 1]),
        `${label}: offsets increase`,
      );
      const seen = new Map<string, string | null>();
      const cleanedKeys = new Set<string>();
      let duplicates = 0;
      for (const r of records) {
        if (r.offset < checkpoint) {
          if (cleanedKeys.has(r.key)) duplicates++;
          cleanedKeys.add(r.key);
        }
        seen.set(r.key, r.value);
      }
      t.equal(duplicates, 0, `${label}: each key at most once in the cleaned section`);
      t.same(
        records.filter((r) => r.value === null).map((r) => `${r.key}@${r.offset}`),
        [],
        `${label}: no tombstone left after delete.retention.ms`,
      );
      const expected = new Map([...model].filter(([, v]) => v !== null));
      t.same(Object.fromEntries([...seen].sort()), Object.fromEntries([...expected].sort()), `${label}: the latest value of every live key, and no deleted key`);
      const total = PHASES * OPS_PER_PHASE + 240;
      t.ok(records.length < total / 2, `${label}: ${records.length} of ${total} records left`);
    };
    await check('after cleaning');

    const checkpointFile = join(d.dir, 'cleaner-offset-checkpoint');
    t.ok(existsSync(checkpointFile), 'cleaner-offset-checkpoint is written in the log dir');
    t.match(readFileSync(checkpointFile, 'utf8'), new RegExp(`^0\\n\\d+\\n(?:.*\\n)*${topic} 0 ${checkpoint}\\n`), "in Kafka's checkpoint format");
    await running.stop();
    ({ running, kafka } = await startCompactingBroker(d.dir, engine));
    t.equal(running.broker.logManager.cleaner?.checkpointOf(topic, 0), checkpoint, 'the checkpoint is read at start');
    await check('after a restart');
  });
}
