// bench/ room: transactional produce on one Spool broker and one Apache Kafka node side by side
// (`npm run bench:txn`, issue 13). Both brokers run for the whole benchmark; one JVM load generator
// (bench/java/TxnBench.java: Kafka's own Java client, compiled here with javac into
// dist/bench/java) drives them in interleaved rounds: for every round and every transaction size N,
// each target in turn (the order rotates from one N to the next), a fresh topic of 8 partitions
// and a transactional producer (acks=all, enable.idempotence=true, transactional.id, the client's
// other defaults) that loops begin / N sends of 1 KiB values / commitTransaction for a short
// unmeasured warm-up and then BENCH_SECONDS measured. Per target and N: transactions/s,
// records/s, MB/s (value bytes / 1e6), commitTransaction latency p50/p99/max, and the broker
// process's CPU seconds per GiB of values (/proc/<pid>/stat, so Linux only), then the Spool/Kafka
// ratios. After each round a read_committed consumer reads the round's topic back: it must see
// exactly the records of the committed transactions (every key once), and the log end offsets
// must be those records plus one COMMIT marker per partition and transaction, or the round counts
// as failed and the run exits 1.
//
// Spool: `spool start` with the storage engine of the target (spool = native, spool-ts = TS),
// log level warn. Kafka: a combined broker+controller KRaft node started as kafka-server-start.sh
// does (kafka.Kafka, heap -Xmx1G -Xms1G, kafka-run-class.sh's G1 flags), formatted with
// transaction.version=1 (`kafka`: the protocol Spool offers) or 2 (`kafka-tv2`: KIP-890, what
// Kafka 4.1 formats new clusters with). Both: transaction.state.log.replication.factor=1,
// transaction.state.log.min.isr=1, offsets.topic.replication.factor=1, 50 partitions of
// __transaction_state (both defaults). Before the rounds each target gets a warm-up cycling
// through the sizes: at least BENCH_WARMUP_SECONDS, then until the broker's JIT compiler threads
// used under 10% of its CPU (or 5% of a core) over the last pass (Node has none: Spool stops at
// the minimum), at most BENCH_WARMUP_MAX_SECONDS. The table's JIT column is the share of the
// broker's CPU in the measured windows its JIT threads still took; `other cores` is what the rest
// of the machine (other processes, the idle targets) used meanwhile, to judge the noise. Loopback
// only, everything bounded; every process started is killed at the end, on SIGINT/SIGTERM and
// when the overall bound runs out.
//
//   BENCH_SECONDS               measured seconds per target, size and round (default 5)
//   BENCH_TXN_SIZES             records per transaction, comma list (default 1,10,100,1000)
//   BENCH_ROUNDS                rounds (default 2); results pool every round
//   BENCH_TARGETS               comma list of spool, spool-ts, kafka, kafka-tv2 (default spool,kafka)
//   BENCH_PARTITIONS            partitions of each topic (default 8)
//   BENCH_RECORD_SIZE           value bytes (default 1024)
//   BENCH_PRODUCERS             concurrent transactional producers per round (default 1)
//   BENCH_ROUND_WARMUP_SECONDS  unmeasured load before each window (default 1)
//   BENCH_WARMUP_SECONDS        minimum warm-up per target before the rounds (default 3)
//   BENCH_WARMUP_MAX_SECONDS    ... at most, JIT settled or not (default 30)
//   BENCH_SLOW_MS               commits at least this slow are listed with their time (default 200)
//   BENCH_PRODUCER_CONFIG       extra producer settings, comma list of k=v (e.g. linger.ms=0)
//   BENCH_VERIFY=0              skip the read_committed check
//   BENCH_KAFKA_HEAP            heap flags of the Kafka JVM (default "-Xmx1G -Xms1G")
//   SPOOL_KAFKA_JARS            the Kafka jars (default .cache/kafka-jars)
//   SPOOL_LOG_LEVEL             Spool's log level (default warn)
//   BENCH_SPOOL_NODE_ARGS       node flags of the Spool brokers, e.g. "--trace-gc" (its lines go to the broker log)
//   BENCH_KEEP_DIRS=1           keep the data dirs and logs (printed) instead of removing them
//
// Results: a table on stdout and JSON in bench/results/txn-<date>.json; a broker log with
// warnings or errors is copied next to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { brokerSpawnSpec } from '../src/cli/cluster.js';
import { ManagedProcess, freePorts, liveProcesses, sleep, waitForPort } from '../src/cli/process.js';
import {
  GiB,
  compilerSecondsBetween,
  compilerThreadTicks,
  cpuSecondsOf,
  envInt,
  envNumber,
  execBounded,
  javaRuns,
  kafkaBrokerJvm,
  kafkaJarsVersion,
  kafkaToolJvm,
  machineBusySeconds,
  pidCpuSeconds,
  repoRoot,
  resultsFile,
} from './common.js';
import { percentile } from './loadgen.js';

type TargetName = 'spool' | 'spool-ts' | 'kafka' | 'kafka-tv2';
const TARGET_NAMES: readonly TargetName[] = ['spool', 'spool-ts', 'kafka', 'kafka-tv2'];
const HOST = '127.0.0.1';

function isTargetName(s: string): s is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(s);
}

function isSpool(t: TargetName): boolean {
  return t === 'spool' || t === 'spool-ts';
}

const settings = {
  seconds: envNumber('BENCH_SECONDS', 5),
  sizes: (process.env.BENCH_TXN_SIZES ?? '1,10,100,1000').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_TXN_SIZES: positive integers, got ${JSON.stringify(s)}`);
    return n;
  }),
  rounds: envInt('BENCH_ROUNDS', 2),
  targets: (process.env.BENCH_TARGETS ?? 'spool,kafka').split(',').map((s) => {
    const t = s.trim();
    if (!isTargetName(t)) throw new Error(`BENCH_TARGETS: one of ${TARGET_NAMES.join(', ')}, got ${JSON.stringify(t)}`);
    return t;
  }),
  partitions: envInt('BENCH_PARTITIONS', 8),
  recordSize: envInt('BENCH_RECORD_SIZE', 1024),
  producers: envInt('BENCH_PRODUCERS', 1),
  roundWarmupSeconds: envNumber('BENCH_ROUND_WARMUP_SECONDS', 1),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
  warmupMaxSeconds: envNumber('BENCH_WARMUP_MAX_SECONDS', 30),
  slowMs: envInt('BENCH_SLOW_MS', 200),
  producerConfig: (process.env.BENCH_PRODUCER_CONFIG ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
  verify: process.env.BENCH_VERIFY !== '0',
  kafkaHeap: (process.env.BENCH_KAFKA_HEAP ?? '-Xmx1G -Xms1G').split(' ').filter((a) => a !== ''),
  spoolLogLevel: process.env.SPOOL_LOG_LEVEL ?? 'warn',
  spoolNodeArgs: (process.env.BENCH_SPOOL_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
};
for (const kv of settings.producerConfig) if (!/^[\w.]+=\S+$/.test(kv)) throw new Error(`BENCH_PRODUCER_CONFIG: k=v entries, got ${JSON.stringify(kv)}`);
if (new Set(settings.targets).size !== settings.targets.length) throw new Error('BENCH_TARGETS: a target twice');

// ---- processes -----------------------------------------------------------------------------------

/** Every broker of this run and the load generator, for the kill at the end, on a signal and at the overall bound. */
const started: ManagedProcess[] = [];
let loadgenChild: ChildProcess | undefined;
let runDir: string | undefined;

function removeRunDir(): void {
  if (runDir === undefined) return;
  if (process.env.BENCH_KEEP_DIRS === '1') console.error(`kept ${runDir}`);
  else rmSync(runDir, { recursive: true, force: true });
  runDir = undefined;
}

async function killAll(): Promise<void> {
  loadgenChild?.kill('SIGKILL');
  await Promise.all(started.map((p) => p.kill()));
}

interface Target {
  name: TargetName;
  /** e.g. "spool 0.1.0 (native)", "kafka 4.1.0 (TV 1)". */
  version: string;
  bootstrap: string;
  broker: ManagedProcess;
  /** When the broker process was spawned (ISO): --trace-gc times count from about here. */
  startedAt: string;
}

async function startSpool(name: TargetName, dir: string): Promise<Target> {
  const [port] = await freePorts(1, HOST);
  const engine = name === 'spool-ts' ? 'ts' : 'native';
  const spec = brokerSpawnSpec({
    nodeId: 1,
    port,
    host: HOST,
    logDir: join(dir, 'data'),
    logFile: join(dir, 'broker.log'),
    etcdEndpoints: [],
    engine,
    env: { ...process.env, SPOOL_LOG_LEVEL: settings.spoolLogLevel },
    overrides: {
      'offsets.topic.replication.factor': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'group.initial.rebalance.delay.ms': 0,
    },
  });
  const broker = new ManagedProcess(name, { ...spec, args: [...settings.spoolNodeArgs, ...spec.args] });
  started.push(broker);
  const startedAt = new Date().toISOString();
  broker.start();
  await waitForPort(port, { host: HOST, process: broker, timeoutMs: 60_000 });
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  return { name, version: `spool ${pkg.version} (${engine})`, bootstrap: `${HOST}:${port}`, broker, startedAt };
}

/** One combined broker+controller KRaft node, formatted with the target's transaction.version. */
async function startKafka(name: TargetName, dir: string, kafkaVersion: string): Promise<Target> {
  const [port, controllerPort] = await freePorts(2, HOST);
  const tv = name === 'kafka-tv2' ? 2 : 1;
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
  };
  const file = join(dir, 'server.properties');
  writeFileSync(file, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  // A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.
  const clusterId = randomBytes(16).toString('base64url');
  const format = await execBounded(
    'java',
    [...kafkaToolJvm(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', file, '--feature', `transaction.version=${tv}`],
    120_000,
  );
  if (format.code !== 0) throw new Error(`${name}: kafka-storage format exited with ${format.code}:\n${format.output.slice(-3000)}`);
  const broker = new ManagedProcess(name, { command: 'java', args: [...kafkaBrokerJvm(settings.kafkaHeap), 'kafka.Kafka', file], logFile: join(dir, 'broker.log'), cwd: dir });
  started.push(broker);
  const startedAt = new Date().toISOString();
  broker.start();
  await waitForPort(port, { host: HOST, process: broker, timeoutMs: 120_000 });
  return { name, version: `kafka ${kafkaVersion} (TV ${tv})`, bootstrap: `${HOST}:${port}`, broker, startedAt };
}

// ---- the load generator --------------------------------------------------------------------------

const dependencies = join(repoRoot, 'test', 'interop', 'java', 'target', 'dependency');
const javaSource = join(repoRoot, 'bench', 'java', 'TxnBench.java');
const javaClasses = join(repoRoot, 'dist', 'bench', 'java');
const javaMainClass = join(javaClasses, 'spool', 'bench', 'TxnBench.class');

/** Compiles TxnBench.java when its class is missing or older than the source. */
async function buildLoadgen(): Promise<void> {
  if (!existsSync(dependencies)) throw new Error(`the Java client jars are missing (${dependencies}): run \`bash scripts/setup-interop.sh\``);
  if (existsSync(javaMainClass) && statSync(javaMainClass).mtimeMs >= statSync(javaSource).mtimeMs) return;
  mkdirSync(javaClasses, { recursive: true });
  const r = await execBounded('javac', ['-cp', `${dependencies}/*`, '-d', javaClasses, javaSource], 180_000);
  if (r.code !== 0) throw new Error(`javac ${javaSource} exited with ${r.code}:\n${r.output.slice(-3000)}`);
}

/** Failed commands answer "error <id> <message>"; every wait on that id fails with it. */
class LoadgenError extends Error {}

class Loadgen {
  private readonly lines = new Map<string, string>();
  private readonly waiters = new Map<string, { resolve: (rest: string) => void; reject: (err: Error) => void }>();
  private readonly errors = new Map<string, string>();
  private exited: string | null = null;
  private nextId = 0;

  constructor(private readonly child: ChildProcess) {
    if (child.stdout === null) throw new Error('load generator without stdout pipe');
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.once('exit', (code, signal) => {
      this.exited = `load generator exited (code ${String(code)}, signal ${String(signal)})`;
      for (const w of this.waiters.values()) w.reject(new Error(this.exited));
      this.waiters.clear();
    });
  }

  static start(logFile: string): Loadgen {
    const child = spawn(
      'java',
      ['-Xms512m', '-Xmx1g', '-XX:+UseG1GC', '-cp', `${javaClasses}:${dependencies}/*`, 'spool.bench.TxnBench'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    loadgenChild = child;
    // stderr: the client's log output and stack traces, kept for a failure's context.
    child.stderr.on('data', (b: Buffer) => writeFileSync(logFile, b, { flag: 'a' }));
    return new Loadgen(child);
  }

  id(what: string): string {
    return `${what}.${this.nextId++}`;
  }

  send(line: string): void {
    if (this.exited !== null) throw new Error(this.exited);
    this.child.stdin?.write(line + '\n');
  }

  private onLine(line: string): void {
    const m = /^(\S+) (\S+) ?(.*)$/.exec(line);
    if (m === null) return;
    const [, kind, id, rest] = m;
    if (kind === 'error') {
      this.errors.set(id, rest);
      for (const [key, w] of this.waiters) {
        if (key.endsWith(` ${id}`)) {
          this.waiters.delete(key);
          w.reject(new LoadgenError(rest));
        }
      }
      return;
    }
    const key = `${kind} ${id}`;
    const w = this.waiters.get(key);
    if (w === undefined) this.lines.set(key, rest);
    else {
      this.waiters.delete(key);
      w.resolve(rest);
    }
  }

  /** The rest of the line "<kind> <id> ...", bounded by `timeoutMs`. */
  wait(kind: string, id: string, timeoutMs: number): Promise<string> {
    const key = `${kind} ${id}`;
    const line = this.lines.get(key);
    if (line !== undefined) {
      this.lines.delete(key);
      return Promise.resolve(line);
    }
    const err = this.errors.get(id);
    if (err !== undefined) return Promise.reject(new LoadgenError(err));
    if (this.exited !== null) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`load generator: no "${kind} ${id}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, {
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  quit(): void {
    if (this.exited === null) this.child.stdin?.end('quit\n');
  }
}

// ---- one run -------------------------------------------------------------------------------------

interface RunOutput {
  txns: number;
  records: number;
  seconds: number;
  committed: number;
  slowCommits: Array<{ atMs: number; micros: number }>;
  commitMicros: number[];
}

interface Verified {
  read: number;
  distinct: number;
  duplicates: number;
  outOfRange: number;
  badValues: number;
  valueSize: number;
  endOffsetSum: number;
  seconds: number;
}

interface Window {
  out: RunOutput;
  brokerCpuSeconds: number;
  /** Of brokerCpuSeconds, the JIT compiler threads'. */
  jitCpuSeconds: number;
  loadgenCpuSeconds: number;
  /** CPU seconds of every other process of the machine (the idle other targets included). */
  otherCpuSeconds: number;
  /** Wall-clock start and end of the window (ISO), to match with broker logs. */
  windowStart: string;
  windowEnd: string;
}

interface CpuSample {
  broker: number;
  jit: Map<string, number>;
  loadgen: number;
  self: number;
  machine: number;
}

function sampleCpu(target: Target): CpuSample {
  const u = process.cpuUsage();
  const pid = loadgenChild?.pid;
  return {
    broker: cpuSecondsOf(target.broker),
    jit: compilerThreadTicks([target.broker]),
    loadgen: pid !== undefined ? pidCpuSeconds(pid) : 0,
    self: (u.user + u.system) / 1e6,
    machine: machineBusySeconds(),
  };
}

/** One `run` of the load generator against a target; broker CPU counted between window start and end. */
async function runWindow(lg: Loadgen, target: Target, topic: string, txnId: string, perTxn: number, warmupMs: number, windowMs: number): Promise<Window> {
  const id = lg.id(`${target.name}-n${perTxn}`);
  lg.send(
    [
      'run',
      id,
      target.bootstrap,
      topic,
      settings.partitions,
      txnId,
      perTxn,
      settings.recordSize,
      settings.producers,
      Math.round(warmupMs),
      Math.round(windowMs),
      settings.slowMs,
      ...settings.producerConfig,
    ].join(' '),
  );
  // Topic creation and initTransactions (max.block.ms 60 s) come before the warm-up.
  await lg.wait('window-start', id, 150_000 + warmupMs);
  const a = sampleCpu(target);
  const windowStart = new Date().toISOString();
  await lg.wait('window-end', id, windowMs + 30_000);
  const b = sampleCpu(target);
  const windowEnd = new Date().toISOString();
  // The producers finish their open transaction (bounded at 120 s each) and close (30 s).
  const out = JSON.parse(await lg.wait('result', id, 200_000)) as RunOutput;
  const broker = b.broker - a.broker;
  const loadgen = b.loadgen - a.loadgen;
  return {
    out,
    brokerCpuSeconds: broker,
    jitCpuSeconds: compilerSecondsBetween(a.jit, b.jit),
    loadgenCpuSeconds: loadgen,
    otherCpuSeconds: Math.max(0, b.machine - a.machine - broker - loadgen - (b.self - a.self)),
    windowStart,
    windowEnd,
  };
}

async function verify(lg: Loadgen, target: Target, topic: string, expected: number): Promise<Verified> {
  const id = lg.id(`verify-${target.name}`);
  lg.send(['verify', id, target.bootstrap, topic, settings.partitions, expected].join(' '));
  return JSON.parse(await lg.wait('verified', id, 120_000 + expected / 10)) as Verified;
}

/**
 * Null when the read_committed consumer saw exactly the committed records, else what was wrong.
 * The partitions' end offsets must also be the records plus one COMMIT marker per partition of
 * each transaction (a producer's record g goes to partition g % partitions, so a transaction
 * touches min(N, partitions) of them): nothing aborted or stray in the log.
 */
function verifyProblem(v: Verified, committed: number, perTxn: number): string | null {
  const problems: string[] = [];
  const markers = (committed / perTxn) * Math.min(perTxn, settings.partitions);
  if (v.endOffsetSum !== committed + markers) problems.push(`end offsets sum to ${v.endOffsetSum}, not ${committed} records + ${markers} markers`);
  if (v.read !== committed) problems.push(`read ${v.read} of ${committed} committed records`);
  if (v.distinct !== committed) problems.push(`${v.distinct} distinct keys`);
  if (v.duplicates > 0) problems.push(`${v.duplicates} duplicates`);
  if (v.outOfRange > 0) problems.push(`${v.outOfRange} keys never sent`);
  if (v.badValues > 0 || (v.read > 0 && v.valueSize !== settings.recordSize)) problems.push(`${v.badValues} values of the wrong size (first ${v.valueSize} B)`);
  return problems.length === 0 ? null : problems.join(', ');
}

/**
 * Load before the rounds, cycling through the sizes in passes of 2 s, until the broker's JIT
 * compiler threads used under 10% of its CPU or under 5% of a core over the last pass (after the
 * minimum).
 */
async function warmUp(lg: Loadgen, target: Target): Promise<{ seconds: number; lastJitShare: number }> {
  const t0 = performance.now();
  for (let pass = 0; ; pass++) {
    const n = settings.sizes[pass % settings.sizes.length];
    const w = await runWindow(lg, target, `txn-warmup-n${n}`, `bench-warmup-${target.name}`, n, 0, 2000);
    const lastJitShare = w.jitCpuSeconds / Math.max(w.brokerCpuSeconds, 0.01);
    const jitCores = w.jitCpuSeconds / Math.max(w.out.seconds, 0.01);
    const elapsed = (performance.now() - t0) / 1000;
    if (elapsed >= settings.warmupMaxSeconds || (elapsed >= settings.warmupSeconds && (lastJitShare < 0.1 || jitCores < 0.05))) {
      return { seconds: elapsed, lastJitShare };
    }
  }
}

// ---- results -------------------------------------------------------------------------------------

interface RoundResult {
  round: number;
  target: TargetName;
  perTxn: number;
  topic: string;
  txns: number;
  records: number;
  seconds: number;
  brokerCpuSeconds: number;
  jitCpuSeconds: number;
  loadgenCpuSeconds: number;
  otherCpuSeconds: number;
  windowStart: string | null;
  windowEnd: string | null;
  commitP50Ms: number;
  commitP99Ms: number;
  commitMaxMs: number;
  slowCommits: Array<{ at: string; ms: number }>;
  committed: number;
  verified: Verified | null;
  verifyProblem: string | null;
  error: string | null;
}

interface Summary {
  target: TargetName;
  version: string;
  perTxn: number;
  txnsPerSec: number;
  recordsPerSec: number;
  mbPerSec: number;
  commitP50Ms: number;
  commitP99Ms: number;
  commitMaxMs: number;
  commitMeanMs: number;
  brokerCpuSecPerGiB: number;
  /** Share of the broker's CPU in the windows spent by JIT compiler threads. */
  brokerJitCpuShare: number;
  /** brokerCpuSecPerGiB without the JIT compiler threads' CPU. */
  brokerCpuSecPerGiBExclJit: number;
  /** Cores the rest of the machine (other processes, the idle targets) used during the windows. */
  otherCores: number;
  slowCommits: number;
  seconds: number;
  txns: number;
  records: number;
  /** Records committed over all rounds (each round's unmeasured start included), verified with read_committed. */
  committed: number;
  verified: 'ok' | 'FAILED' | 'skipped';
  errors: string[];
}

function sortedMs(micros: number[]): Float64Array {
  return Float64Array.from(micros, (u) => u / 1000).sort();
}

function summarize(target: Target, perTxn: number, rounds: RoundResult[], micros: number[]): Summary {
  const ok = rounds.filter((r) => r.error === null);
  const sum = (f: (r: RoundResult) => number): number => ok.reduce((s, r) => s + f(r), 0);
  const seconds = sum((r) => r.seconds);
  const txns = sum((r) => r.txns);
  const records = sum((r) => r.records);
  const bytes = records * settings.recordSize;
  const cpu = sum((r) => r.brokerCpuSeconds);
  const lat = sortedMs(micros);
  const errors = rounds.flatMap((r) => [...(r.error !== null ? [r.error] : []), ...(r.verifyProblem !== null ? [r.verifyProblem] : [])]);
  return {
    target: target.name,
    version: target.version,
    perTxn,
    txnsPerSec: seconds > 0 ? txns / seconds : 0,
    recordsPerSec: seconds > 0 ? records / seconds : 0,
    mbPerSec: seconds > 0 ? bytes / 1e6 / seconds : 0,
    commitP50Ms: lat.length > 0 ? percentile(lat, 50) : NaN,
    commitP99Ms: lat.length > 0 ? percentile(lat, 99) : NaN,
    commitMaxMs: lat.length > 0 ? lat[lat.length - 1] : NaN,
    commitMeanMs: lat.length > 0 ? lat.reduce((a, b) => a + b, 0) / lat.length : NaN,
    brokerCpuSecPerGiB: bytes > 0 ? (cpu * GiB) / bytes : NaN,
    brokerJitCpuShare: sum((r) => r.jitCpuSeconds) / Math.max(cpu, 0.01),
    brokerCpuSecPerGiBExclJit: bytes > 0 ? ((cpu - sum((r) => r.jitCpuSeconds)) * GiB) / bytes : NaN,
    otherCores: seconds > 0 ? sum((r) => r.otherCpuSeconds) / seconds : NaN,
    slowCommits: sum((r) => r.slowCommits.length),
    seconds,
    txns,
    records,
    committed: rounds.reduce((s, r) => s + r.committed, 0),
    verified: !settings.verify ? 'skipped' : errors.length === 0 && ok.length === rounds.length ? 'ok' : 'FAILED',
    errors,
  };
}

function fmt(v: number, digits: number, width: number): string {
  return (Number.isFinite(v) ? v.toFixed(digits) : '-').padStart(width);
}

interface LogCheck {
  target: TargetName;
  file: string;
  lines: number;
  /** Lines at warn or above (Spool: pino level >= 40; Kafka: WARN/ERROR/FATAL). */
  problems: number;
  /** The most frequent problem messages with their count and first line. */
  top: Array<{ message: string; count: number; first: string }>;
  copiedTo: string | null;
}

/** Warnings and errors in a broker's log; a log with any is copied next to the results. */
function checkLog(target: Target, resultsJson: string): LogCheck {
  const file = target.broker.spec.logFile;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l !== '');
  const groups = new Map<string, { count: number; first: string }>();
  let problems = 0;
  for (const line of lines) {
    let message: string | null = null;
    if (isSpool(target.name)) {
      if (/^\[\d+:0x[0-9a-f]+\]/.test(line)) continue; // V8's --trace-gc
      try {
        const rec = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
        if ((rec.level ?? 0) >= 40) message = `${rec.level === 40 ? 'warn' : 'error'}: ${rec.msg ?? ''}${rec.err?.message !== undefined ? ` (${rec.err.message})` : ''}`;
      } catch {
        message = `unparsed: ${line.slice(0, 120)}`; // a crash trace or Node warning
      }
    } else {
      const m = /\b(WARN|ERROR|FATAL)\b\s*(.*)$/.exec(line);
      if (m !== null) message = `${m[1]}: ${m[2].replace(/\d+/g, 'N').slice(0, 140)}`;
    }
    if (message === null) continue;
    problems++;
    const g = groups.get(message);
    if (g === undefined) groups.set(message, { count: 1, first: line.slice(0, 600) });
    else g.count++;
  }
  let copiedTo: string | null = null;
  if (problems > 0) {
    copiedTo = resultsJson.replace(/\.json$/, `-${target.name}.log`);
    copyFileSync(file, copiedTo);
  }
  const top = [...groups.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .slice(0, 5)
    .map(([message, g]) => ({ message, count: g.count, first: g.first }));
  return { target: target.name, file, lines: lines.length, problems, top, copiedTo };
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const notes: string[] = [];
  const wantKafka = settings.targets.some((t) => !isSpool(t));
  let kafkaVersion: string | null = null;
  if (!(await javaRuns())) throw new Error('`java -version` failed: the load generator needs Java 17+ (scripts/setup-interop.sh installs it)');
  if (wantKafka) {
    kafkaVersion = kafkaJarsVersion();
    if (kafkaVersion === null) notes.push('Kafka jars missing: fetch them with `bash scripts/setup-interop.sh`; running Spool only');
  }
  const targetNames = settings.targets.filter((t) => isSpool(t) || kafkaVersion !== null);
  await buildLoadgen();
  const clientVersion = readdirSync(dependencies)
    .map((f) => /^kafka-clients-(.+)\.jar$/.exec(f)?.[1])
    .find((v) => v !== undefined);

  const loadAtStart = loadavg()[0];
  runDir = mkdtempSync(join(tmpdir(), 'spool-bench-txn-'));
  const dir = runDir;
  const t0 = performance.now();
  const lg = Loadgen.start(join(dir, 'loadgen.log'));
  const targets = await Promise.all(
    targetNames.map((name) => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      return isSpool(name) ? startSpool(name, d) : startKafka(name, d, kafkaVersion ?? '?');
    }),
  );
  console.error(`brokers up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${targets.map((t) => `${t.version} at ${t.bootstrap}`).join(', ')}`);

  const warmups: Record<string, { seconds: number; lastJitShare: number }> = {};
  for (const target of targets) {
    const w = await warmUp(lg, target);
    warmups[target.name] = w;
    console.error(`${target.name}: warmed up for ${w.seconds.toFixed(1)} s (JIT ${Math.round(w.lastJitShare * 100)}% of broker CPU in the last pass)`);
  }

  const rounds: RoundResult[] = [];
  const latencies = new Map<string, number[]>();
  for (let round = 1; round <= settings.rounds; round++) {
    for (const [i, perTxn] of settings.sizes.entries()) {
      // Rotate the order so that no target always runs first.
      const shift = (round - 1 + i) % targets.length;
      const order = [...targets.slice(shift), ...targets.slice(0, shift)];
      for (const target of order) {
        const topic = `txn-n${perTxn}-r${round}`;
        const r: RoundResult = {
          round,
          target: target.name,
          perTxn,
          topic,
          txns: 0,
          records: 0,
          seconds: 0,
          brokerCpuSeconds: 0,
          jitCpuSeconds: 0,
          loadgenCpuSeconds: 0,
          otherCpuSeconds: 0,
          windowStart: null,
          windowEnd: null,
          commitP50Ms: NaN,
          commitP99Ms: NaN,
          commitMaxMs: NaN,
          slowCommits: [],
          committed: 0,
          verified: null,
          verifyProblem: null,
          error: null,
        };
        try {
          const w = await runWindow(lg, target, topic, `bench-${target.name}-n${perTxn}-r${round}`, perTxn, settings.roundWarmupSeconds * 1000, settings.seconds * 1000);
          const lat = sortedMs(w.out.commitMicros);
          const key = `${target.name}/${perTxn}`;
          latencies.set(key, [...(latencies.get(key) ?? []), ...w.out.commitMicros]);
          Object.assign(r, {
            txns: w.out.txns,
            records: w.out.records,
            seconds: w.out.seconds,
            brokerCpuSeconds: w.brokerCpuSeconds,
            jitCpuSeconds: w.jitCpuSeconds,
            loadgenCpuSeconds: w.loadgenCpuSeconds,
            otherCpuSeconds: w.otherCpuSeconds,
            windowStart: w.windowStart,
            windowEnd: w.windowEnd,
            commitP50Ms: lat.length > 0 ? percentile(lat, 50) : NaN,
            commitP99Ms: lat.length > 0 ? percentile(lat, 99) : NaN,
            commitMaxMs: lat.length > 0 ? lat[lat.length - 1] : NaN,
            slowCommits: w.out.slowCommits.map((s) => ({ at: new Date(s.atMs).toISOString(), ms: s.micros / 1000 })),
            committed: w.out.committed,
          });
          if (settings.verify) {
            r.verified = await verify(lg, target, topic, w.out.committed);
            r.verifyProblem = verifyProblem(r.verified, w.out.committed, perTxn);
          }
        } catch (err) {
          r.error = (err as Error).message;
          if (!(err instanceof LoadgenError)) throw err;
        }
        rounds.push(r);
        console.error(
          `round ${round} N=${perTxn} ${target.name}: ${r.error !== null ? `FAILED: ${r.error}` : `${(r.txns / Math.max(r.seconds, 1e-9)).toFixed(0)} txn/s, ` + `commit p50 ${r.commitP50Ms.toFixed(2)} ms p99 ${r.commitP99Ms.toFixed(2)} ms max ${r.commitMaxMs.toFixed(1)} ms, other processes ${(r.otherCpuSeconds / Math.max(r.seconds, 1e-9)).toFixed(2)} cores` + (r.verified !== null ? `, read_committed ${r.verified.read}/${r.committed}${r.verifyProblem !== null ? ` WRONG: ${r.verifyProblem}` : ' ok'}` : '')}`,
        );
      }
    }
  }
  lg.quit();

  const summaries: Summary[] = [];
  for (const perTxn of settings.sizes) {
    for (const target of targets) {
      const rs = rounds.filter((r) => r.target === target.name && r.perTxn === perTxn);
      summaries.push(summarize(target, perTxn, rs, latencies.get(`${target.name}/${perTxn}`) ?? []));
    }
  }
  const file = resultsFile('txn');
  const logs = targets.map((t) => checkLog(t, file));

  const s = settings;
  console.log(
    `transactional produce, 1 broker per target on ${HOST}; topic of ${s.partitions} partitions, RF 1; ${s.producers} transactional producer(s) ` +
      `(kafka-clients ${clientVersion ?? '?'}, acks=all, idempotent${s.producerConfig.length > 0 ? `, ${s.producerConfig.join(', ')}` : ''}); ${s.recordSize} B values; ` +
      `${s.seconds} s window per target, size and round after ${s.roundWarmupSeconds} s unmeasured; ${s.rounds} round(s)`,
  );
  console.log(
    'target     version                      N    txn/s  records/s    MB/s  commit p50 ms  p99 ms   max ms  mean ms  broker CPU-s/GiB (JIT)  other cores  read_committed',
  );
  for (const r of summaries) {
    console.log(
      `${r.target.padEnd(10)} ${r.version.padEnd(26)} ${String(r.perTxn).padStart(4)} ${fmt(r.txnsPerSec, 0, 8)} ${fmt(r.recordsPerSec, 0, 10)} ${fmt(r.mbPerSec, 1, 7)} ` +
        `${fmt(r.commitP50Ms, 2, 14)} ${fmt(r.commitP99Ms, 2, 7)} ${fmt(r.commitMaxMs, 1, 8)} ${fmt(r.commitMeanMs, 2, 8)} ${fmt(r.brokerCpuSecPerGiB, 2, 17)} ${`${Math.round(r.brokerJitCpuShare * 100)}%`.padStart(5)} ` +
        `${fmt(r.otherCores, 2, 12)}  ` +
        (r.verified === 'ok' ? `ok (${r.committed} records)` : r.verified),
    );
  }
  const ratios: Array<{ spool: TargetName; kafka: TargetName; perTxn: number; txnsPerSec: number; p50: number; p99: number; cpuPerGiB: number; cpuPerGiBExclJit: number }> = [];
  for (const sp of targets.filter((t) => isSpool(t.name))) {
    for (const k of targets.filter((t) => !isSpool(t.name))) {
      const parts: string[] = [];
      for (const perTxn of s.sizes) {
        const a = summaries.find((x) => x.target === sp.name && x.perTxn === perTxn);
        const b = summaries.find((x) => x.target === k.name && x.perTxn === perTxn);
        if (a === undefined || b === undefined) continue;
        const ratio = {
          spool: sp.name,
          kafka: k.name,
          perTxn,
          txnsPerSec: a.txnsPerSec / b.txnsPerSec,
          p50: a.commitP50Ms / b.commitP50Ms,
          p99: a.commitP99Ms / b.commitP99Ms,
          cpuPerGiB: a.brokerCpuSecPerGiB / b.brokerCpuSecPerGiB,
          cpuPerGiBExclJit: a.brokerCpuSecPerGiBExclJit / b.brokerCpuSecPerGiBExclJit,
        };
        ratios.push(ratio);
        parts.push(
          `N=${String(perTxn).padEnd(4)} throughput x${ratio.txnsPerSec.toFixed(2)}, commit p50 x${ratio.p50.toFixed(2)}, p99 x${ratio.p99.toFixed(2)}, ` +
            `broker CPU per byte x${ratio.cpuPerGiB.toFixed(2)} (without Kafka's JIT threads x${ratio.cpuPerGiBExclJit.toFixed(2)})`,
        );
      }
      console.log(`${sp.name}/${k.name}:\n  ${parts.join('\n  ')}`);
    }
  }
  for (const r of summaries) {
    if (r.slowCommits > 0) console.log(`${r.target} N=${r.perTxn}: ${r.slowCommits} commit(s) of ${s.slowMs} ms or more (times in the JSON)`);
    for (const e of r.errors) console.log(`${r.target} N=${r.perTxn}: ${e}`);
  }
  for (const l of logs) {
    console.log(`${l.target} broker log: ${l.lines} lines, ${l.problems} at warn or above${l.copiedTo !== null ? ` (copied to ${l.copiedTo})` : ''}`);
    for (const t of l.top) console.log(`  ${String(t.count).padStart(6)} × ${t.message.slice(0, 160)}`);
  }
  const loadAtEnd = loadavg()[0];
  const busiest = Math.max(...summaries.map((r) => (Number.isFinite(r.otherCores) ? r.otherCores : 0)));
  if (busiest > 0.25 || Math.max(loadAtStart, loadAtEnd) > cpus().length) {
    notes.push(
      `the machine was not idle: other processes used up to ${busiest.toFixed(2)} of ${cpus().length} cores during the windows ` +
        `(load average ${loadAtStart.toFixed(1)} at start, ${loadAtEnd.toFixed(1)} at end); numbers are noisy`,
    );
  }
  for (const n of notes) console.log(`note: ${n}`);
  if (summaries.some((r) => r.verified === 'FAILED')) process.exitCode = 1;

  const json = {
    bench: 'txn',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus().at(0)?.model ?? null, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd },
    kafkaVersion,
    clientVersion: clientVersion ?? null,
    workload: {
      partitions: s.partitions,
      replicationFactor: 1,
      valueBytes: s.recordSize,
      sizes: s.sizes,
      producers: s.producers,
      producerConfig: ['acks=all', 'enable.idempotence=true', 'transactional.id=<per round>', ...s.producerConfig],
      seconds: s.seconds,
      roundWarmupSeconds: s.roundWarmupSeconds,
      rounds: s.rounds,
      warmupMinSeconds: s.warmupSeconds,
      warmupMaxSeconds: s.warmupMaxSeconds,
      kafkaHeap: s.kafkaHeap.join(' '),
      commitLatency: 'commitTransaction() call, in the window',
      mbPerSec: 'value bytes / 1e6 per second',
      cpuPerGiB: 'broker process CPU seconds (user+system) in the window per GiB of values',
    },
    targets: targets.map((t) => ({ name: t.name, version: t.version, bootstrap: t.bootstrap, startedAt: t.startedAt, pid: t.broker.pid ?? null })),
    warmups,
    summaries,
    ratiosSpoolOverKafka: ratios,
    rounds,
    logs,
    notes,
    totalSeconds: (performance.now() - t0) / 1000,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  console.log(`results: ${file} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

// Everything started is killed on a signal and when the overall bound runs out, and the run's
// directory removed; src/cli/process.ts also SIGKILLs live brokers when this process exits.
const aborting = { yes: false };
async function abort(why: string, exitCode: number): Promise<never> {
  aborting.yes = true;
  console.error(`bench:txn: ${why}: killing ${liveProcesses().length + (loadgenChild !== undefined ? 1 : 0)} processes`);
  await Promise.race([killAll(), sleep(5_000)]);
  removeRunDir();
  process.exit(exitCode);
}
process.on('exit', () => loadgenChild?.kill('SIGKILL'));
process.once('SIGINT', () => void abort('SIGINT', 130));
process.once('SIGTERM', () => void abort('SIGTERM', 143));
const boundSeconds =
  300 + settings.targets.length * (settings.warmupMaxSeconds + 60 + settings.rounds * settings.sizes.length * (settings.seconds + settings.roundWarmupSeconds + 60));
setTimeout(() => void abort(`not done after ${boundSeconds} s`, 1), boundSeconds * 1000).unref();

try {
  await main();
} catch (err) {
  if (aborting.yes) await sleep(10_000); // abort() ends the process
  console.error(`bench:txn failed: ${(err as Error).stack ?? String(err)}`);
  const loadgenLog = runDir !== undefined ? join(runDir, 'loadgen.log') : '';
  if (existsSync(loadgenLog)) console.error(`--- load generator stderr, last lines:\n${readFileSync(loadgenLog, 'utf8').slice(-3000)}`);
  for (const p of started) {
    const tail = p.logTail(1500).trim();
    if (tail !== '') console.error(`--- ${p.name} log (${p.spec.logFile}), last lines:\n${tail}`);
  }
  process.exitCode = 1;
} finally {
  await killAll();
  removeRunDir();
}
