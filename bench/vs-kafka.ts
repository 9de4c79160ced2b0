// bench/ room: Spool (native engine), Spool (TS engine) and Apache Kafka side by side, one run,
// same load generator (`npm run bench:vs-kafka`). Each broker is one child process on loopback
// with fresh temp dirs (bench/vs-kafka-targets.ts); the load is the project's raw-socket loadgen
// (bench/vs-kafka-load.ts: Produce v9 with one v2 batch of 1 KiB records per partition per
// request, pipelined; Fetch v11 per partition, pipelined). Rounds are interleaved: every round
// starts each target afresh, in an order rotated by one per round, runs the rows below and stops
// it; the table reports, per target and row, the median over the rounds.
//
// Rows (each a time-bounded phase after an unmeasured warm-up on its own topic):
//   produce acks=1      8 partitions, one request = 8 batches (one per partition)
//   produce acks=all    8 partitions
//   consume             both topics above read back from offset 0 (page cache warm for all)
//   produce zstd        acks=1, 8 partitions, zstd batches (MB/s and CPU counted on the
//                       uncompressed batch bytes; values from a 16-symbol alphabet, ~2x)
//   produce 1000p       acks=1, 1,000 partitions, each request 8 of them, rotating
// Broker CPU is user+system of the broker process from /proc/<pid>/stat, per GiB of batch bytes
// moved in the phase; RSS is VmRSS after the last row. Linux only.
//
//   SPOOL_BENCH_ROUNDS           rounds (default 2)
//   SPOOL_BENCH_SECONDS          seconds per measured phase (default 10)
//   SPOOL_BENCH_WARMUP_SECONDS   unmeasured produce + consume before the rows (default 5)
//   SPOOL_BENCH_TARGETS          comma list (default spool-native,spool-ts,kafka)
//   SPOOL_BENCH_ROWS             comma list of row keys: acks1,acksall,consume,zstd,p1000 (default all)
//   SPOOL_BENCH_INFLIGHT         pipelined requests (default 8)
//   SPOOL_BENCH_BATCH_RECORDS    records per batch (default 16: ~16.5 KB, batch.size 16 KiB)
//   SPOOL_BENCH_RECORD_SIZE      record value bytes (default 1024)
//   SPOOL_BENCH_FETCH_BYTES      partition max bytes per fetch (default 1 MiB)
//   SPOOL_KAFKA_JARS             Kafka jars (default .cache/kafka-jars)
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { GiB, envInt, kafkaJarsVersion, machineBusySeconds, resultsFile } from './common.js';
import { KafkaConnection, ensureTopic, percentile } from './loadgen.js';
import { runConsumePhase, runProducePhase, waitForLeaders, type BatchShape, type ProduceStats } from './vs-kafka-load.js';
import { startTarget, type Target, type TargetName } from './vs-kafka-targets.js';

const ALL_TARGETS: readonly TargetName[] = ['spool-native', 'spool-ts', 'kafka'];
const ALL_ROWS = ['acks1', 'acksall', 'consume', 'zstd', 'p1000'] as const;
type RowKey = (typeof ALL_ROWS)[number];
const ROW_LABEL: Record<RowKey, string> = {
  acks1: 'produce acks=1 8p',
  acksall: 'produce acks=all 8p',
  consume: 'consume 8p',
  zstd: 'produce zstd acks=1 8p',
  p1000: 'produce acks=1 1000p',
};

interface RowResult {
  row: RowKey;
  mbPerSec: number;
  brokerCpuSecPerGiB: number;
  clientCpuSecPerGiB: number;
  bytes: number;
  seconds: number;
  /** Closed-loop produce request latency (not end-to-end at a fixed rate), ms. */
  requestP50Ms: number | null;
  requestP99Ms: number | null;
  /** Consume only: false when the time bound cut it short. */
  complete?: boolean;
}

interface RoundResult {
  target: TargetName;
  round: number;
  startMs: number;
  rssIdleBytes: number;
  rssAfterBytes: number;
  rows: RowResult[];
}

function listEnv<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...all];
  const list = raw.split(',').map((s) => s.trim());
  for (const v of list) if (!(all as readonly string[]).includes(v)) throw new Error(`${name}: unknown ${v} (one of ${all.join(', ')})`);
  return list as T[];
}

function clientCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function measured<T extends { bytes: number; seconds: number }>(
  target: Target,
  row: RowKey,
  run: () => Promise<T>,
  extra: (r: T) => Partial<RowResult>,
): Promise<RowResult> {
  const brokerBefore = target.cpuSeconds();
  const clientBefore = clientCpu();
  const r = await run();
  const broker = target.cpuSeconds() - brokerBefore;
  const client = clientCpu() - clientBefore;
  return {
    row,
    mbPerSec: r.bytes / 1e6 / r.seconds,
    brokerCpuSecPerGiB: (broker * GiB) / r.bytes,
    clientCpuSecPerGiB: (client * GiB) / r.bytes,
    bytes: r.bytes,
    seconds: r.seconds,
    requestP50Ms: null,
    requestP99Ms: null,
    ...extra(r),
  };
}

function latencyOf(r: ProduceStats): Partial<RowResult> {
  return { requestP50Ms: percentile(r.latenciesMs, 50), requestP99Ms: percentile(r.latenciesMs, 99) };
}

async function benchTarget(name: TargetName, round: number, rows: RowKey[]): Promise<RoundResult> {
  const seconds = envInt('SPOOL_BENCH_SECONDS', 10);
  const warmupSeconds = envInt('SPOOL_BENCH_WARMUP_SECONDS', 5);
  const inFlight = envInt('SPOOL_BENCH_INFLIGHT', 8);
  const fetchBytes = envInt('SPOOL_BENCH_FETCH_BYTES', 1024 * 1024);
  const plain: BatchShape = { recordsPerBatch: envInt('SPOOL_BENCH_BATCH_RECORDS', 16), recordSize: envInt('SPOOL_BENCH_RECORD_SIZE', 1024), zstd: false };
  const zstd: BatchShape = { ...plain, zstd: true };
  const target = await startTarget(name);
  try {
    const rssIdleBytes = target.rssBytes();
    const topics: Array<{ topic: string; partitions: number; shape: BatchShape }> = [
      { topic: 'warmup', partitions: 8, shape: plain },
      { topic: 'acks1', partitions: 8, shape: plain },
      { topic: 'acksall', partitions: 8, shape: plain },
    ];
    if (rows.includes('zstd')) topics.push({ topic: 'zstd', partitions: 8, shape: zstd });
    if (rows.includes('p1000')) topics.push({ topic: 'p1000', partitions: 1000, shape: plain });
    const conn = await KafkaConnection.open(target.host, target.port);
    try {
      for (const t of topics) {
        await ensureTopic(target.host, target.port, t.topic, t.partitions);
        await waitForLeaders(conn, t.topic, t.partitions, t.shape);
      }
      const phase = { partitionsPerRequest: 8, inFlight, seconds };
      // Warm-up: JIT (V8 and HotSpot) and page cache, on both paths.
      await runProducePhase(conn, { ...phase, topic: 'warmup', partitions: 8, acks: 1, shape: plain, seconds: warmupSeconds });
      await runConsumePhase(conn, [{ topic: 'warmup', partitions: 8 }], fetchBytes, inFlight, warmupSeconds);
      const runRow = async (row: RowKey): Promise<RowResult> => {
        switch (row) {
          case 'acks1':
          case 'acksall':
            return measured(target, row, () => runProducePhase(conn, { ...phase, topic: row, partitions: 8, acks: row === 'acks1' ? 1 : -1, shape: plain }), latencyOf);
          case 'consume': {
            const read = [
              { topic: 'acks1', partitions: 8 },
              { topic: 'acksall', partitions: 8 },
            ];
            return measured(target, row, () => runConsumePhase(conn, read, fetchBytes, inFlight, seconds), (r) => ({ complete: r.complete }));
          }
          case 'zstd':
            return measured(target, row, () => runProducePhase(conn, { ...phase, topic: 'zstd', partitions: 8, acks: 1, shape: zstd }), latencyOf);
          case 'p1000':
            return measured(target, row, () => runProducePhase(conn, { ...phase, topic: 'p1000', partitions: 1000, acks: 1, shape: plain }), latencyOf);
        }
      };
      const results: RowResult[] = [];
      for (const row of rows) {
        console.error(`  round ${round + 1} ${name}: ${ROW_LABEL[row]}`);
        try {
          results.push(await runRow(row));
        } catch (err) {
          // One row failing (say, 1,000 leaders not ready in time) leaves the others standing.
          const message = `${name} round ${round + 1} ${ROW_LABEL[row]}: ${(err as Error).message.split('\n')[0]}`;
          console.error(message);
          rowFailures.push(message);
          process.exitCode = 1;
        }
      }
      return { target: name, round, startMs: target.startMs, rssIdleBytes, rssAfterBytes: target.rssBytes(), rows: results };
    } finally {
      conn.close();
    }
  } finally {
    await target.stop();
  }
}

/** Rows that failed, for the results file. */
const rowFailures: string[] = [];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Summary {
  target: TargetName;
  rounds: number;
  startMs: number;
  rssAfterMiB: number;
  rows: Map<RowKey, { mbPerSec: number; brokerCpuSecPerGiB: number; clientCpuSecPerGiB: number; requestP99Ms: number | null }>;
}

function summarize(target: TargetName, runs: RoundResult[]): Summary {
  const rows = new Map<RowKey, { mbPerSec: number; brokerCpuSecPerGiB: number; clientCpuSecPerGiB: number; requestP99Ms: number | null }>();
  for (const row of runs[0].rows.map((r) => r.row)) {
    const all = runs.map((r) => r.rows.find((x) => x.row === row)).filter((x): x is RowResult => x !== undefined);
    const p99 = all.map((x) => x.requestP99Ms).filter((v): v is number => v !== null);
    rows.set(row, {
      mbPerSec: median(all.map((x) => x.mbPerSec)),
      brokerCpuSecPerGiB: median(all.map((x) => x.brokerCpuSecPerGiB)),
      clientCpuSecPerGiB: median(all.map((x) => x.clientCpuSecPerGiB)),
      requestP99Ms: p99.length === 0 ? null : median(p99),
    });
  }
  return {
    target,
    rounds: runs.length,
    startMs: median(runs.map((r) => r.startMs)),
    rssAfterMiB: median(runs.map((r) => r.rssAfterBytes)) / (1024 * 1024),
    rows,
  };
}

function printTable(summaries: Summary[], rows: RowKey[]): void {
  console.log(`${'target'.padEnd(13)} ${'row'.padEnd(23)} ${'MB/s'.padStart(8)} ${'broker CPU-s/GiB'.padStart(17)} ${'client CPU-s/GiB'.padStart(17)} ${'req p99 ms'.padStart(11)}`);
  for (const s of summaries) {
    for (const row of rows) {
      const r = s.rows.get(row);
      if (r === undefined) continue;
      console.log(
        `${s.target.padEnd(13)} ${ROW_LABEL[row].padEnd(23)} ${r.mbPerSec.toFixed(1).padStart(8)} ${r.brokerCpuSecPerGiB.toFixed(2).padStart(17)} ` +
          `${r.clientCpuSecPerGiB.toFixed(2).padStart(17)} ${(r.requestP99Ms === null ? '-' : r.requestP99Ms.toFixed(1)).padStart(11)}`,
      );
    }
    console.log(`${s.target.padEnd(13)} ${'RSS after run (MiB)'.padEnd(23)} ${s.rssAfterMiB.toFixed(0).padStart(8)}   start-up to listening ${s.startMs.toFixed(0)} ms`);
  }
}

function printRatios(summaries: Summary[], rows: RowKey[]): void {
  const by = new Map(summaries.map((s) => [s.target, s]));
  const pairs: Array<[TargetName, TargetName]> = [
    ['spool-native', 'kafka'],
    ['spool-ts', 'kafka'],
    ['spool-native', 'spool-ts'],
  ];
  console.log('\nratios (throughput: higher is better for the first; CPU per byte: the first over the second, lower is better)');
  for (const [a, b] of pairs) {
    const sa = by.get(a);
    const sb = by.get(b);
    if (sa === undefined || sb === undefined) continue;
    for (const row of rows) {
      const ra = sa.rows.get(row);
      const rb = sb.rows.get(row);
      if (ra === undefined || rb === undefined) continue;
      console.log(
        `${`${a}/${b}`.padEnd(22)} ${ROW_LABEL[row].padEnd(23)} MB/s x${(ra.mbPerSec / rb.mbPerSec).toFixed(2)}  CPU/GiB x${(ra.brokerCpuSecPerGiB / rb.brokerCpuSecPerGiB).toFixed(2)}`,
      );
    }
    console.log(`${`${a}/${b}`.padEnd(22)} ${'RSS after run'.padEnd(23)} x${(sa.rssAfterMiB / sb.rssAfterMiB).toFixed(2)}`);
  }
}

async function main(): Promise<void> {
  const rounds = envInt('SPOOL_BENCH_ROUNDS', 2);
  const targets = listEnv('SPOOL_BENCH_TARGETS', ALL_TARGETS);
  const rows = listEnv('SPOOL_BENCH_ROWS', ALL_ROWS);
  if (targets.includes('kafka') && kafkaJarsVersion() === null) throw new Error('Kafka jars missing: run scripts/setup-interop.sh or set SPOOL_KAFKA_JARS');
  const loadBefore = loadavg();
  const busyBefore = machineBusySeconds();
  const wallBefore = performance.now();
  const runs = new Map<TargetName, RoundResult[]>();
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round, so drift in the machine's load does not favour one target.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    for (const name of order) {
      try {
        const r = await benchTarget(name, round, rows);
        runs.set(name, [...(runs.get(name) ?? []), r]);
      } catch (err) {
        const message = `${name} round ${round + 1}: ${(err as Error).message}`;
        console.error(message);
        failures.push(message);
        process.exitCode = 1;
      }
    }
  }
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  const machineBusy = (machineBusySeconds() - busyBefore) / wallSeconds;
  const summaries = targets.flatMap((t) => {
    const list = runs.get(t);
    return list === undefined ? [] : [summarize(t, list)];
  });
  console.log(`Kafka ${kafkaJarsVersion() ?? '?'}; ${rounds} round(s), median per metric; ${envInt('SPOOL_BENCH_SECONDS', 10)} s per phase`);
  console.log(
    `machine: load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after; ` +
      `all processes busy ${machineBusy.toFixed(2)} CPUs on average during the run`,
  );
  printTable(summaries, rows);
  printRatios(summaries, rows);
  const file = resultsFile('vs-kafka');
  writeFileSync(
    file,
    JSON.stringify(
      {
        kafkaVersion: kafkaJarsVersion(),
        node: process.version,
        rounds,
        loadBefore,
        loadAfter: loadavg(),
        machineBusyCpus: machineBusy,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SPOOL_BENCH_'))),
        failures: [...failures, ...rowFailures],
        runs: Object.fromEntries(runs),
        summaries: summaries.map((s) => ({ ...s, rows: Object.fromEntries(s.rows) })),
      },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${file}`);
}

await main();
