// bench/ room: Spool (native engine), Spool (TS engine) and Apache Kafka side by side, one run,
// same load (`npm run bench:vs-kafka`). Each broker is one child process on loopback with fresh
// temp dirs (bench/vs-kafka-targets.ts). Rounds are interleaved: every round starts each target
// afresh, in an order rotated by one per round (Kafka first in round 1, so the fixed rate of the
// latency rows is known before any target needs it), runs the rows below and stops it; the table
// reports, per target and row, the median over the rounds (latency: percentiles of the rounds'
// merged histograms).
//
// Rows, in this order (each a time-bounded phase after an unmeasured warm-up on its own topic):
//   p8-acks1 p8-acksall p8z-acks1 p8z-acksall p1000-acks1 p1000-acksall p1000z-acks1 p1000z-acksall
//       raw-socket produce (bench/vs-kafka-load.ts: Produce v9, 8 pipelined requests, each one
//       16-record batch of 1 KiB values for each of 8 partitions, the window rotating over the
//       topic), 8 or 1,000 partitions, no compression or zstd (z), acks=1 or all. Both acks rows of
//       a shape write the same topic. zstd MB/s and CPU are counted on uncompressed batch bytes.
//   c8 c8z c1000 c1000z
//       raw-socket consume of that topic from offset 0 to its high watermark (Fetch v11, one
//       partition per request, 8 in flight).
//   lat8 lat1000 (and lat8z lat1000z, not by default)
//       end-to-end latency at a fixed rate, free of coordinated omission (bench/vs-kafka-latency.ts),
//       acks=all, on a topic of its own: p50/p99/p99.9 of consume time minus intended send time.
//       The rate is SPOOL_BENCH_RATE (MB/s of record values) or else 50% of Kafka's produce MB/s
//       (acks=all row of the same shape, else acks=1) in round 1 of this run.
//   rdk-p8-acks1 rdk-p8-acksall rdk-c8 (and rdk-p8z-acks1, rdk-p1000-acks1, rdk-c1000, not by default)
//       the same with librdkafka (confluent-kafka-python, bench/vs-kafka-rdkafka.py) as the client:
//       its defaults (linger.ms 5, sticky partitioner), MB/s on value bytes. Skipped with a message
//       when python3 or confluent-kafka is missing (an error under CI=true).
// Broker CPU is user+system of the broker process from /proc/<pid>/stat, per GiB moved in the
// phase; RSS is VmRSS after the last row. Linux only.
//
//   SPOOL_BENCH_ROUNDS            rounds (default 2)
//   SPOOL_BENCH_SECONDS           seconds per throughput phase (default 3)
//   SPOOL_BENCH_LATENCY_SECONDS   seconds of fixed-rate sending per latency row (default 6)
//   SPOOL_BENCH_RATE              fixed rate of the latency rows, MB/s (default: 50% of Kafka's max)
//   SPOOL_BENCH_WARMUP_SECONDS    unmeasured produce + consume before the rows (default 2)
//   SPOOL_BENCH_SETTLE_SECONDS    before each row, wait (at most this long, default 10) until the
//                                 broker used < 5% of a core over 250 ms: a row's CPU then leaves
//                                 out the fsyncs and writeback work the rows before it left behind
//   SPOOL_BENCH_TARGETS           comma list (default spool-native,spool-ts,kafka)
//   SPOOL_BENCH_ROWS              comma list of row keys (default: all but the optional ones above)
//   SPOOL_BENCH_INFLIGHT          pipelined requests (default 8)
//   SPOOL_BENCH_BATCH_RECORDS     records per batch (default 16: ~16.5 KB, batch.size 16 KiB)
//   SPOOL_BENCH_RECORD_SIZE       record value bytes (default 1024)
//   SPOOL_BENCH_FETCH_BYTES       partition max bytes per fetch (default 1 MiB)
//   SPOOL_BENCH_TICK_MS           latency sender tick (default 1)
//   SPOOL_BENCH_LATENCY_INFLIGHT  latency sender's max in-flight produce requests (default 5)
//   SPOOL_KAFKA_JARS              Kafka jars (default .cache/kafka-jars)
//   SPOOL_BENCH_KAFKA_CONFIG      extra Kafka broker settings, comma list of key=value (default none)
//   SPOOL_BENCH_NODE_ARGS         extra node flags for the Spool brokers, space separated (e.g. --cpu-prof)
//   SPOOL_BENCH_SPOOL_ROOT        directory whose dist/ and native/ the Spool targets run (default this repo)
//   PYTHON                        python with confluent-kafka (default python3)
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { GiB, envInt, envNumber, execBounded, kafkaJarsVersion, machineBusySeconds, repoRoot, resultsFile } from './common.js';
import { KafkaConnection, ensureTopic, percentile } from './loadgen.js';
import { LatencyHistogram } from './vs-kafka-histogram.js';
import { runLatencyPhase, type LatencyStats } from './vs-kafka-latency.js';
import { runConsumePhase, runProducePhase, waitForLeaders, type BatchShape, type ProduceStats } from './vs-kafka-load.js';
import { startTarget, type Target, type TargetName } from './vs-kafka-targets.js';

const ALL_TARGETS: readonly TargetName[] = ['spool-native', 'spool-ts', 'kafka'];

type Kind = 'produce' | 'consume' | 'latency' | 'rdk-produce' | 'rdk-consume';
interface RowSpec {
  kind: Kind;
  partitions: 8 | 1000;
  zstd: boolean;
  acks: 1 | -1;
  label: string;
  optional?: boolean;
}

const spec = (kind: Kind, partitions: 8 | 1000, zstd: boolean, acks: 1 | -1, optional = false): RowSpec => {
  const what = { produce: 'produce', consume: 'consume', latency: 'e2e latency', 'rdk-produce': 'rdk produce', 'rdk-consume': 'rdk consume' }[kind];
  const ack = kind === 'consume' || kind === 'rdk-consume' ? '' : acks === 1 ? ' acks=1' : ' acks=all';
  return { kind, partitions, zstd, acks, label: `${what}${ack} ${partitions}p${zstd ? ' zstd' : ''}`, optional };
};

const ROWS = {
  'p8-acks1': spec('produce', 8, false, 1),
  'p8-acksall': spec('produce', 8, false, -1),
  'p8z-acks1': spec('produce', 8, true, 1),
  'p8z-acksall': spec('produce', 8, true, -1),
  'p1000-acks1': spec('produce', 1000, false, 1),
  'p1000-acksall': spec('produce', 1000, false, -1),
  'p1000z-acks1': spec('produce', 1000, true, 1),
  'p1000z-acksall': spec('produce', 1000, true, -1),
  c8: spec('consume', 8, false, 1),
  c8z: spec('consume', 8, true, 1),
  c1000: spec('consume', 1000, false, 1),
  c1000z: spec('consume', 1000, true, 1),
  lat8: spec('latency', 8, false, -1),
  lat1000: spec('latency', 1000, false, -1),
  lat8z: spec('latency', 8, true, -1, true),
  lat1000z: spec('latency', 1000, true, -1, true),
  'rdk-p8-acks1': spec('rdk-produce', 8, false, 1),
  'rdk-p8-acksall': spec('rdk-produce', 8, false, -1),
  'rdk-c8': spec('rdk-consume', 8, false, 1),
  'rdk-p8z-acks1': spec('rdk-produce', 8, true, 1, true),
  'rdk-p1000-acks1': spec('rdk-produce', 1000, false, 1, true),
  'rdk-c1000': spec('rdk-consume', 1000, false, 1, true),
} as const satisfies Record<string, RowSpec>;
type RowKey = keyof typeof ROWS;
const ALL_ROWS = Object.keys(ROWS) as RowKey[];
const DEFAULT_ROWS = ALL_ROWS.filter((k) => ROWS[k].optional !== true);

/** Topic of a row: one per kind family and shape. */
/**
 * Waits until the target's process used < 5% of a core over 250 ms (at most `maxSeconds`), so a
 * row does not pay for the fsyncs, writeback and GC that the row before it left behind.
 */
async function settle(target: Target, maxSeconds: number): Promise<void> {
  const deadline = performance.now() + maxSeconds * 1000;
  let last = target.cpuSeconds();
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = target.cpuSeconds();
    if (now - last < 0.0125) return;
    last = now;
  }
}

function topicOf(row: RowKey): string {
  const s = ROWS[row];
  const shape = `${s.partitions}${s.zstd ? 'z' : ''}`;
  if (s.kind === 'latency') return `lat${shape}`;
  if (s.kind === 'rdk-produce' || s.kind === 'rdk-consume') return `rdk${shape}`;
  return `t${shape}`;
}

interface LatencyResult {
  rateMBps: number;
  total: number;
  sent: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  sendLagP99Ms: number;
  aborted: string | null;
  histogram: Array<[number, number]>;
  maxUs: number;
}

interface RowResult {
  row: RowKey;
  mbPerSec: number;
  brokerCpuSecPerGiB: number;
  clientCpuSecPerGiB: number;
  bytes: number;
  seconds: number;
  /** Closed-loop produce request latency (not end-to-end at a fixed rate), ms. */
  requestP99Ms: number | null;
  /** Consume only: false when the time bound cut it short. */
  complete?: boolean;
  latency?: LatencyResult;
}

interface RoundResult {
  target: TargetName;
  round: number;
  startMs: number;
  /** Topic creation, leaders and warm-up. */
  setupSeconds: number;
  rssIdleBytes: number;
  rssAfterBytes: number;
  rows: RowResult[];
}

function listEnv<T extends string>(name: string, all: readonly T[], fallback: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...fallback];
  const list = raw.split(',').map((s) => s.trim());
  for (const v of list) if (!(all as readonly string[]).includes(v)) throw new Error(`${name}: unknown ${v} (one of ${all.join(', ')})`);
  // Keep the canonical order: produce before consume before latency.
  return all.filter((v) => list.includes(v));
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
    requestP99Ms: null,
    ...extra(r),
  };
}

function latencyOf(r: ProduceStats): Partial<RowResult> {
  return { requestP99Ms: percentile(r.latenciesMs, 99) };
}

// ---- librdkafka (confluent-kafka-python) ----

const python = process.env.PYTHON ?? 'python3';
const rdkafkaScript = join(repoRoot, 'bench', 'vs-kafka-rdkafka.py');

/** Null when confluent-kafka imports, else why not. */
async function rdkafkaMissing(): Promise<string | null> {
  const r = await execBounded(python, ['-c', 'import confluent_kafka; print(confluent_kafka.libversion()[0])'], 30_000);
  return r.code === 0 ? null : `${python} cannot import confluent_kafka (run scripts/setup-interop.sh): ${r.output.trim().split('\n').at(-1) ?? ''}`;
}

interface RdkafkaResult {
  bytes: number;
  records: number;
  seconds: number;
  clientCpuSeconds: number;
  complete?: boolean;
  brokerCpuSeconds: number;
}

/** Runs the python client; broker CPU is sampled at its START line and at its exit. */
function runRdkafka(target: Target, args: string[], timeoutMs: number): Promise<RdkafkaResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [rdkafkaScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let cpuAtStart: number | null = null;
    let result: Omit<RdkafkaResult, 'brokerCpuSeconds'> | null = null;
    let brokerCpu = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      let nl: number;
      // Bounded by the bytes received: each iteration consumes one line.
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === 'START') cpuAtStart = target.cpuSeconds();
        else if (line.startsWith('RESULT ')) {
          brokerCpu = target.cpuSeconds() - (cpuAtStart ?? 0);
          result = JSON.parse(line.slice(7)) as Omit<RdkafkaResult, 'brokerCpuSeconds'>;
        }
      }
    });
    child.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-4000);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && result !== null && cpuAtStart !== null) resolve({ ...result, brokerCpuSeconds: brokerCpu });
      else reject(new Error(`librdkafka client exited with ${code ?? 'a signal'}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/**
 * The python client alone against librdkafka's in-process mock cluster (no broker process), at
 * the start of the run: what it can push at most on this machine, to show it is not the bottleneck.
 */
async function rdkafkaSelftest(recordSize: number): Promise<string> {
  const r = await execBounded(python, [rdkafkaScript, 'selftest', '3', String(recordSize)], 120_000);
  const line = r.output.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || line === undefined) return `selftest failed: ${r.output.trim().split('\n').at(-1) ?? ''}`;
  const x = JSON.parse(line.slice(7)) as { bytes: number; seconds: number; clientCpuSeconds: number };
  return (
    `${(x.bytes / 1e6 / x.seconds).toFixed(0)} MB/s produce (acks=1, no compression) into librdkafka's in-process mock cluster, ` +
    `${((x.clientCpuSeconds * GiB) / x.bytes).toFixed(2)} CPU-s/GiB (client and mock broker together)`
  );
}

function rdkafkaRow(row: RowKey, r: RdkafkaResult): RowResult {
  return {
    row,
    mbPerSec: r.bytes / 1e6 / r.seconds,
    brokerCpuSecPerGiB: (r.brokerCpuSeconds * GiB) / r.bytes,
    clientCpuSecPerGiB: (r.clientCpuSeconds * GiB) / r.bytes,
    bytes: r.bytes,
    seconds: r.seconds,
    requestP99Ms: null,
    ...(r.complete === undefined ? {} : { complete: r.complete }),
  };
}

// ---- the fixed rate of the latency rows ----

/** MB/s per latency row, fixed on first use for the whole run. */
const latencyRates = new Map<RowKey, { mbPerSec: number; source: string }>();

function rateFor(row: RowKey, measuredBy: TargetName, results: RowResult[]): { mbPerSec: number; source: string } {
  const known = latencyRates.get(row);
  if (known !== undefined) return known;
  const fixed = process.env.SPOOL_BENCH_RATE;
  let rate: { mbPerSec: number; source: string };
  if (fixed !== undefined && fixed !== '') {
    rate = { mbPerSec: envNumber('SPOOL_BENCH_RATE', 1), source: 'SPOOL_BENCH_RATE' };
  } else {
    const s = ROWS[row];
    const shape = `p${s.partitions}${s.zstd ? 'z' : ''}`;
    const base = results.find((r) => r.row === `${shape}-acksall`) ?? results.find((r) => r.row === `${shape}-acks1`);
    if (base === undefined) throw new Error(`${ROWS[row].label}: no produce row of its shape measured before it (add ${shape}-acksall or set SPOOL_BENCH_RATE)`);
    rate = { mbPerSec: base.mbPerSec / 2, source: `50% of ${measuredBy} ${ROWS[base.row].label} (round 1)` };
    if (measuredBy !== 'kafka') console.error(`  note: no Kafka target in this run; ${ROWS[row].label} rate is ${rate.source}`);
  }
  latencyRates.set(row, rate);
  return rate;
}

async function benchTarget(name: TargetName, round: number, rows: RowKey[], rdkafka: boolean): Promise<RoundResult> {
  const seconds = envInt('SPOOL_BENCH_SECONDS', 3);
  const latencySeconds = envInt('SPOOL_BENCH_LATENCY_SECONDS', 6);
  const warmupSeconds = envInt('SPOOL_BENCH_WARMUP_SECONDS', 2);
  const settleSeconds = envNumber('SPOOL_BENCH_SETTLE_SECONDS', 10);
  const inFlight = envInt('SPOOL_BENCH_INFLIGHT', 8);
  const fetchBytes = envInt('SPOOL_BENCH_FETCH_BYTES', 1024 * 1024);
  const recordSize = envInt('SPOOL_BENCH_RECORD_SIZE', 1024);
  const batchRecords = envInt('SPOOL_BENCH_BATCH_RECORDS', 16);
  const tickMs = envInt('SPOOL_BENCH_TICK_MS', 1);
  const shapeOf = (zstd: boolean): BatchShape => ({ recordsPerBatch: batchRecords, recordSize, zstd });
  const target = await startTarget(name);
  const setupStart = performance.now();
  try {
    const rssIdleBytes = target.rssBytes();
    const topics = new Map<string, { partitions: number; zstd: boolean; raw: boolean }>([['warmup', { partitions: 8, zstd: false, raw: true }]]);
    for (const row of rows) {
      const s = ROWS[row];
      if ((s.kind === 'rdk-produce' || s.kind === 'rdk-consume') && !rdkafka) continue;
      topics.set(topicOf(row), { partitions: s.partitions, zstd: s.zstd, raw: !s.kind.startsWith('rdk') });
    }
    const conn = await KafkaConnection.open(target.host, target.port);
    try {
      for (const [topic, t] of topics) {
        await ensureTopic(target.host, target.port, topic, t.partitions);
        // The librdkafka topics stay empty until their rows: its consume row counts what they hold.
        if (t.raw) await waitForLeaders(conn, topic, t.partitions, shapeOf(t.zstd));
      }
      const phase = { partitionsPerRequest: 8, inFlight, seconds };
      // Warm-up: JIT (V8 and HotSpot) and page cache, on both paths.
      await runProducePhase(conn, { ...phase, topic: 'warmup', partitions: 8, acks: 1, shape: shapeOf(false), seconds: warmupSeconds });
      await runConsumePhase(conn, [{ topic: 'warmup', partitions: 8 }], fetchBytes, inFlight, warmupSeconds);
      const setupSeconds = (performance.now() - setupStart) / 1000;
      console.error(`  round ${round + 1} ${name}: listening after ${(target.startMs / 1000).toFixed(1)} s, topics and warm-up ${setupSeconds.toFixed(1)} s`);
      const results: RowResult[] = [];
      const bootstrap = `${target.host}:${target.port}`;
      const runRow = async (row: RowKey): Promise<RowResult | null> => {
        const s = ROWS[row];
        await settle(target, settleSeconds);
        const topic = topicOf(row);
        switch (s.kind) {
          case 'produce':
            return measured(
              target,
              row,
              () => runProducePhase(conn, { ...phase, topic, partitions: s.partitions, acks: s.acks, shape: shapeOf(s.zstd) }),
              latencyOf,
            );
          case 'consume':
            return measured(target, row, () => runConsumePhase(conn, [{ topic, partitions: s.partitions }], fetchBytes, inFlight, seconds), (r) => ({ complete: r.complete }));
          case 'latency': {
            const rate = rateFor(row, name, results);
            const stats = { value: null as LatencyStats | null };
            const r = await measured(
              target,
              row,
              async () => {
                stats.value = await runLatencyPhase(target.host, target.port, {
                  topic,
                  partitions: s.partitions,
                  acks: s.acks,
                  zstd: s.zstd,
                  recordSize,
                  batchRecords,
                  rate: (rate.mbPerSec * 1e6) / recordSize,
                  seconds: latencySeconds,
                  tickMs,
                  maxInFlight: envInt('SPOOL_BENCH_LATENCY_INFLIGHT', 5),
                  drainSeconds: 10,
                });
                return stats.value;
              },
              () => ({}),
            );
            const l = stats.value;
            if (l === null) throw new Error('latency phase returned nothing');
            if (l.aborted !== null) console.error(`  ${name} ${s.label}: stopped early: ${l.aborted}`);
            if (l.received < l.total) console.error(`  ${name} ${s.label}: ${l.total - l.received} of ${l.total} records not consumed within 10 s after the last was due`);
            return {
              ...r,
              latency: {
                rateMBps: rate.mbPerSec,
                total: l.total,
                sent: l.sent,
                received: l.received,
                p50Ms: l.histogram.percentileMs(50),
                p99Ms: l.histogram.percentileMs(99),
                p999Ms: l.histogram.percentileMs(99.9),
                maxMs: l.histogram.maxUs / 1000,
                sendLagP99Ms: l.sendLag.percentileMs(99),
                aborted: l.aborted,
                histogram: l.histogram.toSparse(),
                maxUs: l.histogram.maxUs,
              },
            };
          }
          case 'rdk-produce':
            if (!rdkafka) return null;
            return rdkafkaRow(
              row,
              await runRdkafka(target, ['produce', bootstrap, topic, String(seconds), s.acks === 1 ? '1' : 'all', s.zstd ? 'zstd' : 'none', String(recordSize)], (seconds + 120) * 1000),
            );
          case 'rdk-consume':
            if (!rdkafka) return null;
            return rdkafkaRow(row, await runRdkafka(target, ['consume', bootstrap, topic, String(s.partitions), String(seconds)], (seconds + 120) * 1000));
        }
      };
      for (const row of rows) {
        const s = ROWS[row];
        if ((s.kind === 'rdk-produce' || s.kind === 'rdk-consume') && !rdkafka) continue;
        console.error(`  round ${round + 1} ${name}: ${s.label}`);
        try {
          const r = await runRow(row);
          if (r !== null) results.push(r);
        } catch (err) {
          // One row failing (say, 1,000 leaders not ready in time) leaves the others standing.
          const message = `${name} round ${round + 1} ${s.label}: ${(err as Error).message.split('\n')[0]}`;
          console.error(message);
          rowFailures.push(message);
          process.exitCode = 1;
        }
      }
      return { target: name, round, startMs: target.startMs, setupSeconds, rssIdleBytes, rssAfterBytes: target.rssBytes(), rows: results };
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

interface RowSummary {
  mbPerSec: number;
  brokerCpuSecPerGiB: number;
  clientCpuSecPerGiB: number;
  requestP99Ms: number | null;
  /** Latency rows: percentiles of the merged histograms of all rounds. */
  latency?: { rateMBps: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; sendLagP99Ms: number; total: number; received: number };
}

interface Summary {
  target: TargetName;
  rounds: number;
  startMs: number;
  rssAfterMiB: number;
  rows: Map<RowKey, RowSummary>;
}

function summarize(target: TargetName, runs: RoundResult[], rows: RowKey[]): Summary {
  const out = new Map<RowKey, RowSummary>();
  for (const row of rows) {
    const all = runs.map((r) => r.rows.find((x) => x.row === row)).filter((x): x is RowResult => x !== undefined);
    if (all.length === 0) continue;
    const p99 = all.map((x) => x.requestP99Ms).filter((v): v is number => v !== null);
    const summary: RowSummary = {
      mbPerSec: median(all.map((x) => x.mbPerSec)),
      brokerCpuSecPerGiB: median(all.map((x) => x.brokerCpuSecPerGiB)),
      clientCpuSecPerGiB: median(all.map((x) => x.clientCpuSecPerGiB)),
      requestP99Ms: p99.length === 0 ? null : median(p99),
    };
    const lat = all.map((x) => x.latency).filter((x): x is LatencyResult => x !== undefined);
    if (lat.length > 0) {
      const h = new LatencyHistogram();
      for (const l of lat) h.merge(LatencyHistogram.fromSparse(l.histogram, l.maxUs));
      summary.latency = {
        rateMBps: lat[0].rateMBps,
        p50Ms: h.percentileMs(50),
        p99Ms: h.percentileMs(99),
        p999Ms: h.percentileMs(99.9),
        maxMs: h.maxUs / 1000,
        sendLagP99Ms: Math.max(...lat.map((l) => l.sendLagP99Ms)),
        total: lat.reduce((n, l) => n + l.total, 0),
        received: lat.reduce((n, l) => n + l.received, 0),
      };
    }
    out.set(row, summary);
  }
  return {
    target,
    rounds: runs.length,
    startMs: median(runs.map((r) => r.startMs)),
    rssAfterMiB: median(runs.map((r) => r.rssAfterBytes)) / (1024 * 1024),
    rows: out,
  };
}

const fmt = (v: number, digits: number, width: number): string => v.toFixed(digits).padStart(width);

function printTable(summaries: Summary[], rows: RowKey[]): void {
  const throughputRows = rows.filter((r) => ROWS[r].kind !== 'latency');
  const latencyRows = rows.filter((r) => ROWS[r].kind === 'latency');
  console.log(`${'target'.padEnd(13)} ${'row'.padEnd(28)} ${'MB/s'.padStart(8)} ${'broker CPU-s/GiB'.padStart(17)} ${'client CPU-s/GiB'.padStart(17)} ${'req p99 ms'.padStart(11)}`);
  for (const s of summaries) {
    for (const row of throughputRows) {
      const r = s.rows.get(row);
      if (r === undefined) continue;
      console.log(
        `${s.target.padEnd(13)} ${ROWS[row].label.padEnd(28)} ${fmt(r.mbPerSec, 1, 8)} ${fmt(r.brokerCpuSecPerGiB, 2, 17)} ` +
          `${fmt(r.clientCpuSecPerGiB, 2, 17)} ${(r.requestP99Ms === null ? '-' : r.requestP99Ms.toFixed(1)).padStart(11)}`,
      );
    }
    console.log(`${s.target.padEnd(13)} ${'RSS after run (MiB)'.padEnd(28)} ${fmt(s.rssAfterMiB, 0, 8)}   start-up to listening ${s.startMs.toFixed(0)} ms`);
  }
  if (latencyRows.length === 0) return;
  console.log(
    `\nend-to-end latency at a fixed rate (consume time - intended send time; all rounds merged)\n` +
      `${'target'.padEnd(13)} ${'row'.padEnd(28)} ${'MB/s'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'p99.9 ms'.padStart(9)} ${'max ms'.padStart(8)} ` +
      `${'CPU-s/GiB'.padStart(10)} ${'sender lag p99'.padStart(15)} ${'received'.padStart(16)}`,
  );
  for (const s of summaries) {
    for (const row of latencyRows) {
      const r = s.rows.get(row);
      const l = r?.latency;
      if (r === undefined || l === undefined) continue;
      console.log(
        `${s.target.padEnd(13)} ${ROWS[row].label.padEnd(28)} ${fmt(l.rateMBps, 1, 7)} ${fmt(l.p50Ms, 2, 8)} ${fmt(l.p99Ms, 2, 8)} ${fmt(l.p999Ms, 2, 9)} ${fmt(l.maxMs, 1, 8)} ` +
          `${fmt(r.brokerCpuSecPerGiB, 2, 10)} ${`${l.sendLagP99Ms.toFixed(2)} ms`.padStart(15)} ${`${l.received}/${l.total}`.padStart(16)}`,
      );
    }
  }
}

function printRatios(summaries: Summary[], rows: RowKey[]): void {
  const by = new Map(summaries.map((s) => [s.target, s]));
  const pairs: Array<[TargetName, TargetName]> = [
    ['spool-native', 'kafka'],
    ['spool-ts', 'kafka'],
    ['spool-native', 'spool-ts'],
  ];
  console.log('\nratios (MB/s: higher is better for the first; CPU per byte and latency: the first over the second, lower is better)');
  for (const [a, b] of pairs) {
    const sa = by.get(a);
    const sb = by.get(b);
    if (sa === undefined || sb === undefined) continue;
    for (const row of rows) {
      const ra = sa.rows.get(row);
      const rb = sb.rows.get(row);
      if (ra === undefined || rb === undefined) continue;
      const pair = `${a}/${b}`.padEnd(22);
      const cpu = `CPU/GiB x${(ra.brokerCpuSecPerGiB / rb.brokerCpuSecPerGiB).toFixed(2)}`;
      if (ra.latency !== undefined && rb.latency !== undefined) {
        console.log(
          `${pair} ${ROWS[row].label.padEnd(28)} p50 x${(ra.latency.p50Ms / rb.latency.p50Ms).toFixed(2)}  p99 x${(ra.latency.p99Ms / rb.latency.p99Ms).toFixed(2)}  ` +
            `p99.9 x${(ra.latency.p999Ms / rb.latency.p999Ms).toFixed(2)}  ${cpu}`,
        );
      } else {
        console.log(`${pair} ${ROWS[row].label.padEnd(28)} MB/s x${(ra.mbPerSec / rb.mbPerSec).toFixed(2)}  ${cpu}`);
      }
    }
    console.log(`${`${a}/${b}`.padEnd(22)} ${'RSS after run'.padEnd(28)} x${(sa.rssAfterMiB / sb.rssAfterMiB).toFixed(2)}`);
  }
}

async function main(): Promise<void> {
  const rounds = envInt('SPOOL_BENCH_ROUNDS', 2);
  const targets = listEnv('SPOOL_BENCH_TARGETS', ALL_TARGETS, ALL_TARGETS);
  const rows = listEnv('SPOOL_BENCH_ROWS', ALL_ROWS, DEFAULT_ROWS);
  if (targets.includes('kafka') && kafkaJarsVersion() === null) throw new Error('Kafka jars missing: run scripts/setup-interop.sh or set SPOOL_KAFKA_JARS');
  let rdkafka = false;
  let rdkafkaNote: string | null = null;
  let rdkafkaCeiling: string | null = null;
  if (rows.some((r) => ROWS[r].kind.startsWith('rdk'))) {
    const missing = await rdkafkaMissing();
    if (missing === null) {
      rdkafka = true;
      rdkafkaCeiling = await rdkafkaSelftest(envInt('SPOOL_BENCH_RECORD_SIZE', 1024));
      console.error(`librdkafka client ceiling: ${rdkafkaCeiling}`);
    }
    else if (process.env.CI === 'true') throw new Error(`librdkafka rows: ${missing}`);
    else {
      rdkafkaNote = `librdkafka rows skipped: ${missing}`;
      console.error(rdkafkaNote);
    }
  }
  const loadBefore = loadavg();
  const busyBefore = machineBusySeconds();
  const wallBefore = performance.now();
  const runs = new Map<TargetName, RoundResult[]>();
  const failures: string[] = [];
  // Kafka first in round 1: the latency rows' rate comes from its produce rows.
  const first = Math.max(0, targets.indexOf('kafka'));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round, so drift in the machine's load does not favour one target.
    const order = targets.map((_, i) => targets[(i + first + round) % targets.length]);
    for (const name of order) {
      try {
        const r = await benchTarget(name, round, rows, rdkafka);
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
    return list === undefined ? [] : [summarize(t, list, rows)];
  });
  console.log(
    `Kafka ${kafkaJarsVersion() ?? '?'}; ${rounds} round(s), median per metric; ${envInt('SPOOL_BENCH_SECONDS', 3)} s per throughput phase, ` +
      `${envInt('SPOOL_BENCH_LATENCY_SECONDS', 6)} s per latency phase; wall ${wallSeconds.toFixed(0)} s`,
  );
  console.log(
    `machine: load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after; ` +
      `all processes busy ${machineBusy.toFixed(2)} CPUs on average during the run`,
  );
  if (rdkafkaNote !== null) console.log(rdkafkaNote);
  if (rdkafkaCeiling !== null) console.log(`librdkafka client ceiling: ${rdkafkaCeiling}`);
  for (const [row, rate] of latencyRates) console.log(`${ROWS[row].label}: ${rate.mbPerSec.toFixed(1)} MB/s (${rate.source})`);
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
        wallSeconds,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SPOOL_BENCH_'))),
        rdkafka: rdkafkaNote ?? 'ran',
        rdkafkaCeiling,
        latencyRates: Object.fromEntries(latencyRates),
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
