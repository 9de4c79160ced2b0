// bench/ room: share-group delivery throughput (KIP-932, issue 11): 4 KafkaShareConsumers
// (Apache Kafka's Java client 4.4, threads of one JVM, explicit acknowledgement) sharing one
// partition of an in-process Spool broker. Per round a fresh topic is filled with BENCH_RECORDS
// records (100-byte values, 100 per batch) and a fresh share group starts at offset 0
// (AlterShareGroupOffsets); the figure is records accepted per second from the first delivery to
// the last acceptance (JVM start-up and the group join are outside it). Two acknowledgement
// paths: piggy-backed on the next ShareFetch, and commitSync (a ShareAcknowledge per poll).
// The consumer is test/interop/share/java/ShareConsumers.java, compiled with javac against
// test/interop/java/target/dependency (scripts/setup-interop.sh fetches it).
//
//   BENCH_RECORDS   records per round (default 50000)
//   BENCH_ROUNDS    rounds per acknowledgement path (default 3)
//   BENCH_CONSUMERS consumers sharing the partition (default 4)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startBroker } from '../src/index.js';
import { envInt, execBounded, repoRoot } from './common.js';

const { Kafka, logLevel } = kafkajs;
const dependencies = join(repoRoot, 'test', 'interop', 'java', 'target', 'dependency');
const dir = join(repoRoot, 'test', 'interop', 'share', 'java');
const classes = join(dir, 'target', 'classes');
const RECORDS = envInt('BENCH_RECORDS', 50_000);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const CONSUMERS = envInt('BENCH_CONSUMERS', 4);
const BATCH = 100;

async function main(): Promise<void> {
  if (!existsSync(dependencies)) throw new Error(`missing ${dependencies}: run bash scripts/setup-interop.sh`);
  const built = await execBounded('javac', ['-cp', `${dependencies}/*`, '-d', classes, join(dir, 'ShareConsumers.java')], 180_000);
  if (built.code !== 0) throw new Error(`javac ShareConsumers.java failed:\n${built.output}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'spool-bench-share-'));
  const broker = await startBroker({ dataDir, port: 0, host: '127.0.0.1', config: { 'share.coordinator.state.topic.num.partitions': 3 } });
  const bootstrap = `${broker.host}:${broker.port}`;
  const kafka = new Kafka({ clientId: 'bench-share', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const value = 'x'.repeat(100);
  const results: Array<{ path: string; rate: number; ms: number }> = [];
  try {
    for (const path of ['piggyback', 'commitSync'] as const) {
      for (let round = 0; round < ROUNDS; round++) {
        const topic = `bench-share-${path}-${round}`;
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
        await admin.disconnect();
        const producer = kafka.producer();
        await producer.connect();
        for (let sent = 0; sent < RECORDS; sent += BATCH) {
          await producer.send({ topic, acks: 1, messages: Array.from({ length: Math.min(BATCH, RECORDS - sent) }, () => ({ value })) });
        }
        await producer.disconnect();
        const args = [
          '-Xmx512m',
          '-cp',
          `${classes}:${dependencies}/*`,
          'spool.interop.share.ShareConsumers',
          bootstrap,
          `bench-group-${path}-${round}`,
          topic,
          String(CONSUMERS),
          '10000',
          '300000',
          '--reset-earliest',
          '--expect',
          String(RECORDS),
          ...(path === 'piggyback' ? ['--piggyback'] : []),
        ];
        const r = await execBounded('java', args, 360_000);
        const stats = /^STATS (\d+) (\d+)$/m.exec(r.output);
        if (r.code !== 0 || stats === null) throw new Error(`ShareConsumers failed (${r.code}):\n${r.output.slice(-3000)}`);
        const accepted = Number(stats[1]);
        const ms = Math.max(1, Number(stats[2]));
        if (accepted < RECORDS) throw new Error(`only ${accepted} of ${RECORDS} records accepted:\n${r.output.slice(-3000)}`);
        const rate = (accepted / ms) * 1000;
        results.push({ path, rate, ms });
        console.log(`${path} round ${round + 1}: ${accepted} records in ${ms} ms = ${Math.round(rate).toLocaleString('en-US')} records/s`);
      }
    }
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const path of ['piggyback', 'commitSync']) {
    const rates = results.filter((r) => r.path === path).map((r) => r.rate).sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)] ?? 0;
    console.log(`share group, ${CONSUMERS} consumers on 1 partition, ${path}: median ${Math.round(median).toLocaleString('en-US')} records/s over ${rates.length} rounds`);
  }
}

await main();
