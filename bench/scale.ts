// bench/ room: scale rows (issue 15 item 5, `npm run bench:scale`): Spool native, Spool TS and
// Apache Kafka (bench/vs-kafka-targets.ts, one process each, fresh temp dirs), each started afresh
// per row, in the order Kafka, Spool native, Spool TS. Rows:
//   p10k     end-to-end latency at a fixed rate (bench/vs-kafka-latency.ts: free of coordinated
//            omission, acks=all, 1 KiB records, sticky batches of at most 16 records) over a topic
//            of SPOOL_BENCH_SCALE_PARTITIONS (10,000) partitions, one producer connection; the
//            consumer long-polls every partition in one Fetch.
//   conn1000 the same at SPOOL_BENCH_CONN_RATE over a 100-partition topic, the requests spread over
//            SPOOL_BENCH_CONNECTIONS (1,000) producer connections in turn, so each connection
//            sends a few requests a second; all of them stay open through the row.
// Per row: setup (CreateTopics until every partition takes a record), an unmeasured warm-up at the
// row's rate, then the measured phase; broker RSS after it, its open fds, broker CPU-s per GiB of
// record batches in the phase, p50/p99/p99.9/max latency, and the machine's load average.
// The fd limit of the brokers is this process's (ulimit -n; reported).
//
//   SPOOL_BENCH_TARGETS           comma list (default kafka,spool-native,spool-ts)
//   SPOOL_BENCH_SCALE_ROWS        comma list (default p10k,conn1000)
//   SPOOL_BENCH_SCALE_PARTITIONS  partitions of the p10k row (default 10000)
//   SPOOL_BENCH_SCALE_RATE        MB/s of record values in the p10k row (default 5)
//   SPOOL_BENCH_CONNECTIONS       producer connections of the conn1000 row (default 1000)
//   SPOOL_BENCH_CONN_RATE         MB/s of record values in the conn1000 row (default 2)
//   SPOOL_BENCH_LATENCY_SECONDS   seconds of fixed-rate sending per row (default 15)
//   SPOOL_BENCH_WARMUP_SECONDS    unmeasured sending before it (default 3)
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ErrorCode } from '../src/protocol/index.js';
import { GiB, envInt, envNumber, kafkaJarsVersion, machineBusySeconds, resultsFile } from './common.js';
import {
  KafkaConnection,
  decodeCreatePartitionsResponse,
  decodeCreateTopicsResponse,
  encodeCreatePartitionsRequest,
  encodeCreateTopicsRequest,
} from './loadgen.js';
import { runLatencyPhase, type LatencyPhase } from './vs-kafka-latency.js';
import { buildBatch, encodeProduceV9, produceError, stampBatch } from './vs-kafka-load.js';
import { startTarget, type Target, type TargetName } from './vs-kafka-targets.js';

const ALL_TARGETS: readonly TargetName[] = ['kafka', 'spool-native', 'spool-ts'];
type RowKey = 'p10k' | 'conn1000';
const ALL_ROWS: readonly RowKey[] = ['p10k', 'conn1000'];
const RETRIABLE = new Set<number>([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
/** Bound on topic creation plus leaders. */
const SETUP_TIMEOUT_MS = 900_000;

interface RowResult {
  target: TargetName;
  row: RowKey;
  partitions: number;
  connections: number;
  rateMBps: number;
  setupSeconds: number;
  rssIdleMiB: number;
  rssAfterMiB: number;
  fds: number;
  brokerCpuSecPerGiB: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  received: number;
  total: number;
  aborted: string | null;
  error: string | null;
}

function list<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...all];
  const out = raw.split(',').map((s) => s.trim());
  for (const v of out) if (!(all as readonly string[]).includes(v)) throw new Error(`${name}: unknown ${v} (one of ${all.join(', ')})`);
  return out as T[];
}

function fdsOf(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** CreateTopics, then one record to every partition until all take it (Kafka creates logs after answering). */
async function setupTopic(target: Target, topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + SETUP_TIMEOUT_MS;
  const conn = await KafkaConnection.open(target.host, target.port);
  try {
    const timeoutMs = SETUP_TIMEOUT_MS - 60_000;
    const code = decodeCreateTopicsResponse(await conn.request(encodeCreateTopicsRequest(topic, partitions, timeoutMs)));
    if (code === ErrorCode.POLICY_VIOLATION && partitions > 1) {
      // Kafka's controller refuses an operation of more than 10,000 records (a topic of 10,000
      // partitions is 10,001): half in CreateTopics, the rest in CreatePartitions.
      const half = Math.ceil(partitions / 2);
      console.error(`  ${target.name}: CreateTopics of ${partitions} partitions refused (POLICY_VIOLATION); ${half} then CreatePartitions to ${partitions}`);
      const first = decodeCreateTopicsResponse(await conn.request(encodeCreateTopicsRequest(topic, half, timeoutMs)));
      if (first !== ErrorCode.NONE) throw new Error(`CreateTopics ${topic} (${half}): error code ${first}`);
      const more = decodeCreatePartitionsResponse(await conn.request(encodeCreatePartitionsRequest(topic, partitions, timeoutMs)));
      if (more !== ErrorCode.NONE) throw new Error(`CreatePartitions ${topic}: error code ${more}`);
    } else if (code !== ErrorCode.NONE) throw new Error(`CreateTopics ${topic}: error code ${code}`);
    const { batch } = buildBatch({ recordsPerBatch: 1, recordSize: 16, zstd: false }, 0);
    for (let start = 0; start < partitions; start += 100) {
      const ids = Array.from({ length: Math.min(100, partitions - start) }, (_, i) => start + i);
      // Bounded by the deadline.
      for (;;) {
        stampBatch(batch, Date.now());
        const err = produceError(await conn.request(encodeProduceV9(topic, ids, 1, ids.map(() => batch))));
        if (err === ErrorCode.NONE) break;
        if (!RETRIABLE.has(err) || Date.now() > deadline) throw new Error(`Produce ${topic} (waiting for leaders): error code ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    conn.close();
  }
}

async function runRow(name: TargetName, row: RowKey): Promise<RowResult> {
  const partitions = row === 'p10k' ? envInt('SPOOL_BENCH_SCALE_PARTITIONS', 10_000) : 100;
  const connections = row === 'p10k' ? 1 : envInt('SPOOL_BENCH_CONNECTIONS', 1000);
  const rateMBps = row === 'p10k' ? envNumber('SPOOL_BENCH_SCALE_RATE', 5) : envNumber('SPOOL_BENCH_CONN_RATE', 2);
  const recordSize = 1024;
  const result: RowResult = {
    target: name,
    row,
    partitions,
    connections,
    rateMBps,
    setupSeconds: NaN,
    rssIdleMiB: NaN,
    rssAfterMiB: NaN,
    fds: -1,
    brokerCpuSecPerGiB: NaN,
    p50Ms: NaN,
    p99Ms: NaN,
    p999Ms: NaN,
    maxMs: NaN,
    received: 0,
    total: 0,
    aborted: null,
    error: null,
  };
  const target = await startTarget(name);
  try {
    result.rssIdleMiB = target.rssBytes() / (1024 * 1024);
    const topic = `scale${partitions}`;
    const t0 = performance.now();
    await setupTopic(target, topic, partitions);
    result.setupSeconds = (performance.now() - t0) / 1000;
    console.error(`  ${name} ${row}: ${partitions} partitions ready after ${result.setupSeconds.toFixed(1)} s`);
    const phase: LatencyPhase = {
      topic,
      partitions,
      acks: -1,
      zstd: false,
      recordSize,
      batchRecords: 16,
      rate: (rateMBps * 1e6) / recordSize,
      seconds: envInt('SPOOL_BENCH_WARMUP_SECONDS', 3),
      tickMs: 1,
      maxInFlight: 5,
      drainSeconds: 10,
      connections,
    };
    await runLatencyPhase(target.host, target.port, phase);
    const cpu0 = target.cpuSeconds();
    const stats = await runLatencyPhase(target.host, target.port, { ...phase, seconds: envInt('SPOOL_BENCH_LATENCY_SECONDS', 15) });
    const cpu = target.cpuSeconds() - cpu0;
    result.rssAfterMiB = target.rssBytes() / (1024 * 1024);
    result.fds = fdsOf(target.pid);
    result.brokerCpuSecPerGiB = (cpu * GiB) / stats.bytes;
    result.p50Ms = stats.histogram.percentileMs(50);
    result.p99Ms = stats.histogram.percentileMs(99);
    result.p999Ms = stats.histogram.percentileMs(99.9);
    result.maxMs = stats.histogram.maxUs / 1000;
    result.received = stats.received;
    result.total = stats.total;
    result.aborted = stats.aborted;
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0];
    try {
      result.rssAfterMiB = target.rssBytes() / (1024 * 1024);
      result.fds = fdsOf(target.pid);
    } catch {
      // the broker is gone
    }
  } finally {
    await target.stop();
  }
  return result;
}

const f = (v: number, digits: number, width: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '-').padStart(width);

function ulimitN(): string {
  try {
    return execFileSync('sh', ['-c', 'echo "$(ulimit -Sn) soft, $(ulimit -Hn) hard"'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

async function main(): Promise<void> {
  const targets = list('SPOOL_BENCH_TARGETS', ALL_TARGETS);
  const rows = list('SPOOL_BENCH_SCALE_ROWS', ALL_ROWS);
  if (targets.includes('kafka') && kafkaJarsVersion() === null) throw new Error('Kafka jars missing: run scripts/setup-interop.sh or set SPOOL_KAFKA_JARS');
  const loadBefore = loadavg();
  const busyBefore = machineBusySeconds();
  const wallBefore = performance.now();
  const results: RowResult[] = [];
  for (const row of rows) {
    for (const name of targets) {
      console.error(`${name} ${row}`);
      const r = await runRow(name, row);
      results.push(r);
      if (r.error !== null || r.aborted !== null) {
        console.error(`  ${name} ${row}: ${r.error ?? r.aborted ?? ''}`);
        process.exitCode = 1;
      }
    }
  }
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  const busy = (machineBusySeconds() - busyBefore) / wallSeconds;
  console.log(`Kafka ${kafkaJarsVersion() ?? '-'}; fd limit ${ulimitN()}; wall ${wallSeconds.toFixed(0)} s`);
  console.log(
    `machine: load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after; ` +
      `all processes busy ${busy.toFixed(2)} CPUs on average`,
  );
  console.log(
    `${'target'.padEnd(13)} ${'row'.padEnd(9)} ${'parts'.padStart(6)} ${'conns'.padStart(5)} ${'MB/s'.padStart(5)} ${'setup s'.padStart(8)} ` +
      `${'RSS idle'.padStart(8)} ${'RSS after'.padStart(9)} ${'fds'.padStart(6)} ${'CPU-s/GiB'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ` +
      `${'p99.9 ms'.padStart(9)} ${'max ms'.padStart(8)} ${'received'.padStart(14)}`,
  );
  for (const r of results) {
    console.log(
      `${r.target.padEnd(13)} ${r.row.padEnd(9)} ${String(r.partitions).padStart(6)} ${String(r.connections).padStart(5)} ${f(r.rateMBps, 1, 5)} ${f(r.setupSeconds, 1, 8)} ` +
        `${f(r.rssIdleMiB, 0, 8)} ${f(r.rssAfterMiB, 0, 9)} ${String(r.fds).padStart(6)} ${f(r.brokerCpuSecPerGiB, 1, 9)} ${f(r.p50Ms, 2, 8)} ${f(r.p99Ms, 2, 8)} ` +
        `${f(r.p999Ms, 2, 9)} ${f(r.maxMs, 1, 8)} ${`${r.received}/${r.total}`.padStart(14)}${r.error !== null ? `  FAILED: ${r.error}` : r.aborted !== null ? `  stopped: ${r.aborted}` : ''}`,
    );
  }
  console.log('\nratios (first over second; lower is better)');
  for (const [a, b] of [
    ['spool-native', 'kafka'],
    ['spool-ts', 'kafka'],
  ] as const) {
    for (const row of rows) {
      const ra = results.find((r) => r.target === a && r.row === row && r.error === null);
      const rb = results.find((r) => r.target === b && r.row === row && r.error === null);
      if (ra === undefined || rb === undefined) continue;
      console.log(
        `${`${a}/${b}`.padEnd(20)} ${row.padEnd(9)} RSS x${(ra.rssAfterMiB / rb.rssAfterMiB).toFixed(2)}  CPU/GiB x${(ra.brokerCpuSecPerGiB / rb.brokerCpuSecPerGiB).toFixed(2)}  ` +
          `p50 x${(ra.p50Ms / rb.p50Ms).toFixed(2)}  p99 x${(ra.p99Ms / rb.p99Ms).toFixed(2)}  p99.9 x${(ra.p999Ms / rb.p999Ms).toFixed(2)}  setup x${(ra.setupSeconds / rb.setupSeconds).toFixed(2)}`,
      );
    }
  }
  const file = resultsFile('scale');
  writeFileSync(
    file,
    JSON.stringify(
      {
        kafkaVersion: kafkaJarsVersion(),
        node: process.version,
        fdLimit: ulimitN(),
        loadBefore,
        loadAfter: loadavg(),
        machineBusyCpus: busy,
        wallSeconds,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SPOOL_BENCH_'))),
        results,
      },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${file}`);
}

await main();
