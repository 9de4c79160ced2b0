// bench/ room: how long creating a topic with many partitions takes on one broker
// (`npm run bench:create-topics`), Spool native, Spool TS and Apache Kafka (bench/vs-kafka-targets.ts,
// fresh temp dirs, one process each). Per target and partition count, on a freshly started broker:
//   create    CreateTopics (v4, replication factor 1, timeout 10 min) until its response;
//   leaders   then one produce pass (acks=1, one 16-byte record per partition, 100 partitions per
//             request) retried until every partition accepts: Kafka answers CreateTopics when the
//             controller has committed the records, and creates the logs after that;
//   first     a second pass of one 1 KiB record per partition (the first real writes);
//   second    a third such pass (warm);
// broker CPU-s over create+leaders, RSS and open fds afterwards, the machine's load average.
// Spool keeps 1 fd per partition (its active .log; index files are opened only to be written), as
// Kafka does: 10,000 partitions need `ulimit -n` above ~10,100.
// Kafka's controller refuses a topic of 10,000 partitions in one CreateTopics (POLICY_VIOLATION:
// more than 10,000 records in one operation); that row reports the refusal.
//
//   SPOOL_BENCH_TARGETS     comma list (default spool-native,spool-ts,kafka)
//   SPOOL_BENCH_PARTITIONS  comma list of partition counts (default 1000,10000)
//   SPOOL_KAFKA_JARS        Kafka jars (default .cache/kafka-jars)
import { readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ErrorCode } from '../src/protocol/index.js';
import { kafkaJarsVersion, resultsFile } from './common.js';
import { KafkaConnection, decodeCreateTopicsResponse, encodeCreateTopicsRequest } from './loadgen.js';
import { buildBatch, encodeProduceV9, produceError, stampBatch } from './vs-kafka-load.js';
import { startTarget, type Target, type TargetName } from './vs-kafka-targets.js';

const ALL_TARGETS: readonly TargetName[] = ['spool-native', 'spool-ts', 'kafka'];
const RETRIABLE = new Set<number>([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
const PER_REQUEST = 100;
/** Bound on every step: a step that takes longer fails the row. */
const STEP_TIMEOUT_MS = 600_000;

interface Row {
  target: TargetName;
  partitions: number;
  createSeconds: number;
  leadersSeconds: number;
  firstPassSeconds: number;
  secondPassSeconds: number;
  brokerCpuSeconds: number;
  rssMiB: number;
  fds: number;
  error: string | null;
}

function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** One pass over every partition, `recordSize`-byte records; retries refused requests until `deadline`. */
async function producePass(conn: KafkaConnection, topic: string, partitions: number, recordSize: number, deadline: number): Promise<void> {
  const { batch } = buildBatch({ recordsPerBatch: 1, recordSize, zstd: false }, 0);
  for (let start = 0; start < partitions; start += PER_REQUEST) {
    const ids = Array.from({ length: Math.min(PER_REQUEST, partitions - start) }, (_, i) => start + i);
    // Bounded by the deadline.
    for (;;) {
      stampBatch(batch, Date.now());
      const err = produceError(await conn.request(encodeProduceV9(topic, ids, 1, ids.map(() => batch))));
      if (err === ErrorCode.NONE) break;
      if (!RETRIABLE.has(err) || Date.now() > deadline) throw new Error(`Produce ${topic} partitions ${start}..: error code ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function fdsOf(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

async function measure(target: Target, partitions: number): Promise<Row> {
  const topic = `create${partitions}`;
  const conn = await KafkaConnection.open(target.host, target.port);
  const row: Row = {
    target: target.name,
    partitions,
    createSeconds: NaN,
    leadersSeconds: NaN,
    firstPassSeconds: NaN,
    secondPassSeconds: NaN,
    brokerCpuSeconds: NaN,
    rssMiB: NaN,
    fds: -1,
    error: null,
  };
  try {
    const cpu0 = target.cpuSeconds();
    const t0 = performance.now();
    const code = decodeCreateTopicsResponse(
      await withTimeout('CreateTopics', conn.request(encodeCreateTopicsRequest(topic, partitions, STEP_TIMEOUT_MS)), STEP_TIMEOUT_MS + 10_000),
    );
    const t1 = performance.now();
    row.createSeconds = (t1 - t0) / 1000;
    if (code !== ErrorCode.NONE) throw new Error(`CreateTopics: error code ${code}`);
    await producePass(conn, topic, partitions, 16, Date.now() + STEP_TIMEOUT_MS);
    const t2 = performance.now();
    row.leadersSeconds = (t2 - t1) / 1000;
    row.brokerCpuSeconds = target.cpuSeconds() - cpu0;
    await producePass(conn, topic, partitions, 1024, Date.now() + STEP_TIMEOUT_MS);
    const t3 = performance.now();
    row.firstPassSeconds = (t3 - t2) / 1000;
    await producePass(conn, topic, partitions, 1024, Date.now() + STEP_TIMEOUT_MS);
    row.secondPassSeconds = (performance.now() - t3) / 1000;
    row.rssMiB = target.rssBytes() / (1024 * 1024);
    row.fds = fdsOf(target.pid);
  } catch (err) {
    row.error = (err as Error).message.split('\n')[0];
    try {
      row.rssMiB = target.rssBytes() / (1024 * 1024);
      row.fds = fdsOf(target.pid);
    } catch {
      // the broker is gone
    }
  } finally {
    conn.close();
  }
  return row;
}

function list(name: string, fallback: string): string[] {
  const raw = process.env[name];
  return (raw === undefined || raw === '' ? fallback : raw).split(',').map((s) => s.trim());
}

async function main(): Promise<void> {
  const targets = list('SPOOL_BENCH_TARGETS', ALL_TARGETS.join(',')) as TargetName[];
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`SPOOL_BENCH_TARGETS: unknown ${t}`);
  const counts = list('SPOOL_BENCH_PARTITIONS', '1000,10000').map(Number);
  for (const n of counts) if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`SPOOL_BENCH_PARTITIONS: bad count ${n}`);
  if (targets.includes('kafka') && kafkaJarsVersion() === null) throw new Error('Kafka jars missing: run scripts/setup-interop.sh or set SPOOL_KAFKA_JARS');
  const loadBefore = loadavg();
  const rows: Row[] = [];
  for (const partitions of counts) {
    for (const name of targets) {
      const target = await startTarget(name);
      try {
        const row = await measure(target, partitions);
        rows.push(row);
        console.error(`${name} ${partitions}p: ${JSON.stringify(row)}`);
        if (row.error !== null) process.exitCode = 1;
      } finally {
        await target.stop();
      }
    }
  }
  const loadAfter = loadavg();
  console.log(`Kafka ${kafkaJarsVersion() ?? '-'}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`);
  console.log(
    `${'target'.padEnd(13)} ${'partitions'.padStart(10)} ${'create s'.padStart(9)} ${'leaders s'.padStart(10)} ${'1st pass s'.padStart(11)} ` +
      `${'2nd pass s'.padStart(11)} ${'CPU-s'.padStart(7)} ${'RSS MiB'.padStart(8)} ${'fds'.padStart(6)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.target.padEnd(13)} ${String(r.partitions).padStart(10)} ${r.createSeconds.toFixed(2).padStart(9)} ${r.leadersSeconds.toFixed(2).padStart(10)} ` +
        `${r.firstPassSeconds.toFixed(2).padStart(11)} ${r.secondPassSeconds.toFixed(2).padStart(11)} ${r.brokerCpuSeconds.toFixed(1).padStart(7)} ` +
        `${r.rssMiB.toFixed(0).padStart(8)} ${String(r.fds).padStart(6)}${r.error === null ? '' : `  FAILED: ${r.error}`}`,
    );
  }
  const file = resultsFile('create-topics');
  writeFileSync(file, JSON.stringify({ kafkaVersion: kafkaJarsVersion(), node: process.version, loadBefore, loadAfter, rows }, null, 2));
  console.log(`results: ${file}`);
}

await main();
