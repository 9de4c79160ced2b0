// bench/ room: what a test suite embedding Spool waits for (`npm run bench:embed`): startBroker()
// itself, the first consumer-group read with KafkaJS (Kafka's defaults against the `dev` preset),
// and stop() of a broker holding many partitions — closing the logs one after another (what
// LogManager.close did before) against stop() as it is (all at once), on a given data dir, and
// stop() of startBroker()'s temporary dir (its removal included). Both engines, in process.
//
//   SPOOL_BENCH_ENGINES      comma list (default native,ts)
//   SPOOL_BENCH_PARTITIONS   partitions for the stop() measurement (default 800)
//   SPOOL_BENCH_RECORD_SIZE  bytes of the record each partition holds per round (default 4096)
//   SPOOL_BENCH_ROUNDS       produce rounds before the stop (default 4)
//   SPOOL_BENCH_JSON=1       also print the results as one JSON line
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startBroker, type RunningBroker } from '../src/index.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
type EngineName = 'native' | 'ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

const engines = (process.env.SPOOL_BENCH_ENGINES ?? 'native,ts').split(',').map((s) => s.trim()) as EngineName[];
const partitions = envInt('SPOOL_BENCH_PARTITIONS', 800);
const recordSize = envInt('SPOOL_BENCH_RECORD_SIZE', 4096);
const rounds = envInt('SPOOL_BENCH_ROUNDS', 4);

function client(b: RunningBroker): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'bench-embed', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await f();
  return { ms: performance.now() - start, value };
}

/** From consumer.connect() to the first record delivered, in a new group (bounded: 60 s). */
async function firstGroupRead(b: RunningBroker): Promise<number> {
  await b.broker.createTopic('first', 1);
  const producer = client(b).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: 'first', messages: [{ value: 'hello' }] });
  await producer.disconnect();
  const consumer = client(b).consumer({ groupId: 'bench-group' });
  const { ms } = await timed(async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: 'first', fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 60 s')), 60_000);
      consumer
        .run({
          eachMessage: () => {
            clearTimeout(timer);
            resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  });
  await consumer.disconnect();
  return ms;
}

/** A broker holding `partitions` partitions with unflushed data, ready to be stopped. */
async function loadedBroker(engine: EngineName, dataDir?: string): Promise<RunningBroker> {
  const b = await startBroker({ engine, dataDir });
  await b.broker.createTopic('wide', partitions);
  const producer = client(b).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const value = Buffer.alloc(recordSize, 'x');
  for (let r = 0; r < rounds; r++) {
    await producer.send({ topic: 'wide', acks: 1, messages: Array.from({ length: partitions }, (_, p) => ({ partition: p, value })) });
  }
  await producer.disconnect();
  return b;
}

interface EngineResult {
  engine: EngineName;
  startMs: number;
  stopEmptyMs: number;
  firstGroupReadKafkaMs: number;
  firstGroupReadDevMs: number;
  stopSequentialMs: number;
  stopParallelMs: number;
  stopTempDirMs: number;
}

async function benchEngine(engine: EngineName): Promise<EngineResult> {
  const started = await timed(() => startBroker({ engine }));
  const stopEmpty = await timed(() => started.value.stop());

  const kafkaPreset = await startBroker({ engine, preset: 'kafka' });
  const firstGroupReadKafkaMs = await firstGroupRead(kafkaPreset);
  await kafkaPreset.stop();
  const devPreset = await startBroker({ engine });
  const firstGroupReadDevMs = await firstGroupRead(devPreset);
  await devPreset.stop();

  // Before: each log closed (flush + close) only after the previous one finished.
  const dirs = [mkdtempSync(join(tmpdir(), 'spool-bench-')), mkdtempSync(join(tmpdir(), 'spool-bench-'))];
  const before = await loadedBroker(engine, dirs[0]);
  const stopSequential = await timed(async () => {
    for (const log of before.broker.logManager.allLogs()) await log.close();
    await before.stop();
  });
  const after = await loadedBroker(engine, dirs[1]);
  const stopParallel = await timed(() => after.stop());
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  const temp = await loadedBroker(engine);
  const stopTempDir = await timed(() => temp.stop());

  return {
    engine,
    startMs: started.ms,
    stopEmptyMs: stopEmpty.ms,
    firstGroupReadKafkaMs,
    firstGroupReadDevMs,
    stopSequentialMs: stopSequential.ms,
    stopParallelMs: stopParallel.ms,
    stopTempDirMs: stopTempDir.ms,
  };
}

const results: EngineResult[] = [];
for (const engine of engines) {
  const r = await benchEngine(engine);
  results.push(r);
  const f = (ms: number): string => `${ms.toFixed(0)} ms`;
  console.log(`${engine}:`);
  console.log(`  startBroker() (temp dir, dev preset)      ${f(r.startMs)}   stop() of it ${f(r.stopEmptyMs)}`);
  console.log(`  first group read, preset kafka            ${f(r.firstGroupReadKafkaMs)}`);
  console.log(`  first group read, preset dev              ${f(r.firstGroupReadDevMs)}`);
  console.log(`  stop(), ${partitions} partitions x ${rounds} records of ${recordSize} B:`);
  console.log(`    logs closed one after another (before)  ${f(r.stopSequentialMs)}`);
  console.log(`    stop() as is (all at once)              ${f(r.stopParallelMs)}`);
  console.log(`    stop() of a temporary dir (removal too) ${f(r.stopTempDirMs)}`);
}
if (process.env.SPOOL_BENCH_JSON === '1') console.log(JSON.stringify({ partitions, recordSize, rounds, results }));
