// test/interop room (transactions, issue 13): a Kafka Streams application (kafka-streams 4.1 from
// Maven Central, test/interop/streams/, StreamsEos.java) with processing.guarantee=exactly_once_v2
// counts its input exactly across a clean restart and across a kill -9.
//
// The app: stream(input) -> groupBy(value) (a repartition topic) -> count() (a RocksDB store and
// its changelog, both internal topics Streams creates itself) -> to(output), record cache off, so
// every input record yields one output record: the new count of its key. Input record i has value
// "k<i % 100>". Phases, over one state directory (so the restarted app keeps its process id and
// with it its transactional.id):
//   A  produce 1030 records; run the app until the output has them; stop it cleanly (SIGTERM).
//   B  produce 970 more; start the app again; wait for the output.
//   C  produce 3017 more; start the app slowed down (a sleep per count update, so output and
//      changelog records are written all through each transaction) and kill -9 it while a
//      transaction holds data (seen in the protocol trace: a transactional Produce after the
//      last EndTxn, after at least one commit of this run); start it again (no sleep); wait.
// After each phase a read_committed consumer of the output must see, for every key, exactly the
// counts 1, 2, ..., n (n = the true count so far): a record counted twice, lost, or an aborted
// transaction's output shows as a repeated, missing or out-of-order count. At the end, with the
// app stopped: read_uncommitted shows the aborted output of the killed run (so the read_committed
// check meant something), and read_committed ends where read_uncommitted does (no transaction
// left open). The app asks Streams to purge consumed repartition records (Admin.deleteRecords)
// every second; whether that took effect (the repartition topic's log start offsets) is only
// reported, as are the app's WARN/ERROR lines and failed purges.
//
// Target: Spool by default (in this process, its log — debug level, JSON — in the work dir).
// SPOOL_STREAMS_TARGET=kafka runs the same test against Apache Kafka (4.4) itself (KRaft, from
// .cache/kafka-jars, see kafka-tools.ts startRealKafka); SPOOL_STREAMS_KAFKA_TV=0|1|2 sets its
// `transaction.version` feature first (4.1 formats new clusters at 2); SPOOL_TXN_SPOOL_TV=0|1|2
// sets what Spool advertises (spool.transaction.version). Clients reach the broker through a recording proxy
// (test/helpers/kafka-trace.ts) and the test prints which APIs and versions the app used and the
// errors it got; SPOOL_STREAMS_TRACE=0 connects them directly (the kill then falls back to timing).
// The work dir (broker log, each app run's log, state dir) is kept when a check fails or when
// SPOOL_STREAMS_KEEP=1, and its path printed.
// Built by scripts/setup-interop.sh (mvn package dependency:copy-dependencies in
// test/interop/streams); the test rebuilds the class with javac when the source is newer.
import t from 'tap';
import pino from 'pino';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker } from '../../src/index.js';
import { startTraceProxy, summarizeTrace, type TraceEvent, type TraceProxy } from '../helpers/kafka-trace.js';
import { interopDir, isStale, parseLastJson, removeDir, requireToolchain, run, runId, tempDir, works, type RunResult, type TapLike } from './common.js';
import { kafkaToolsAvailable, runKafkaClass, startRealKafka } from './kafka-tools.js';

const streamsDir = join(interopDir, 'streams');
const dependencies = join(streamsDir, 'target', 'dependency');
const classes = join(streamsDir, 'target', 'classes');
const source = join(streamsDir, 'src', 'main', 'java', 'spool', 'interop', 'streams', 'StreamsEos.java');
const mainClass = join(classes, 'spool', 'interop', 'streams', 'StreamsEos.class');

const target = process.env.SPOOL_STREAMS_TARGET === 'kafka' ? 'kafka' : 'spool';
const traced = process.env.SPOOL_STREAMS_TRACE !== '0';
const keep = process.env.SPOOL_STREAMS_KEEP === '1';

const PARTITIONS = 3;
const KEYS = 100;
const PHASE_A = 1030;
const PHASE_B = 970;
const PHASE_C = 3017;
/** Sleep per count update in the run that gets killed: 3017 updates take at least 6 s. */
const SLOW_MS = 2;
/** The killed run must have made this many count updates (some committed) before the kill. */
const KILL_AFTER = 600;
/** Longest wait for the output of one phase. */
const PHASE_TIMEOUT_MS = 45_000;

/** Compiles StreamsEos when missing or older than its source (setup-interop.sh's mvn package does the same). */
async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  if (!isStale(mainClass, [source])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function javaArgs(mode: string, args: string[], extraJvm: string[] = []): string[] {
  return ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...extraJvm, '-cp', `${classes}:${dependencies}/*`, 'spool.interop.streams.StreamsEos', mode, ...args];
}

function tool(mode: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('java', javaArgs(mode, args), { timeoutMs });
}

// ---- the broker ---------------------------------------------------------------------------------

interface Target {
  bootstrap: string;
  trace: TraceProxy | null;
  /** Spool's JSON log (null for Kafka). */
  logFile: string | null;
  stop(): Promise<void>;
}

async function startTarget(t: TapLike, dir: string): Promise<Target | null> {
  const trace = traced ? await startTraceProxy() : null;
  if (target === 'kafka') {
    if (!requireToolchain(t, await kafkaToolsAvailable(), 'SPOOL_STREAMS_TARGET=kafka needs java and .cache/kafka-jars')) {
      await trace?.stop();
      return null;
    }
    const overrides: Record<string, string> = { 'transaction.state.log.num.partitions': '4', 'group.initial.rebalance.delay.ms': '0' };
    if (trace !== null) overrides['advertised.listeners'] = `PLAINTEXT://127.0.0.1:${trace.port}`;
    const kafka = await startRealKafka(join(dir, 'kafka'), overrides);
    const [host, port] = kafka.bootstrap.split(':');
    trace?.setUpstream(host, Number(port));
    const tv = process.env.SPOOL_STREAMS_KAFKA_TV;
    if (tv !== undefined && tv !== '') {
      const r = await runKafkaClass('org.apache.kafka.tools.FeatureCommand', [
        '--bootstrap-server',
        kafka.bootstrap,
        Number(tv) >= 2 ? 'upgrade' : 'downgrade',
        '--feature',
        `transaction.version=${tv}`,
      ]);
      if (r.code !== 0) throw new Error(`setting transaction.version=${tv} failed: ${r.stdout}${r.stderr}`);
      t.comment(`kafka: transaction.version=${tv}`);
    }
    return {
      bootstrap: trace !== null ? `127.0.0.1:${trace.port}` : kafka.bootstrap,
      trace,
      logFile: null,
      async stop() {
        await trace?.stop();
        await kafka.stop();
      },
    };
  }
  const logFile = join(dir, 'spool.log');
  const destination = pino.destination({ dest: logFile, sync: true });
  const logger = pino({ name: 'spool', level: process.env.SPOOL_LOG_LEVEL ?? 'debug' }, destination);
  const config: Record<string, string | number | boolean> = { 'group.initial.rebalance.delay.ms': 0, 'transaction.state.log.num.partitions': 4 };
  // SPOOL_TXN_SPOOL_TV=0|1|2 (as in txn/harness.ts): spool.transaction.version, the transaction.version Spool advertises.
  if ((process.env.SPOOL_TXN_SPOOL_TV ?? '') !== '') config['spool.transaction.version'] = Number(process.env.SPOOL_TXN_SPOOL_TV);
  if (trace !== null) config['advertised.listeners'] = `PLAINTEXT://127.0.0.1:${trace.port}`;
  const spool = await startBroker({ dataDir: join(dir, 'spool-data'), port: 0, host: '127.0.0.1', logger, config });
  trace?.setUpstream(spool.host, spool.port);
  return {
    bootstrap: trace !== null ? `127.0.0.1:${trace.port}` : `${spool.host}:${spool.port}`,
    trace,
    logFile,
    async stop() {
      await trace?.stop();
      await spool.stop();
      destination.flushSync();
    },
  };
}

// ---- the Streams app ----------------------------------------------------------------------------

interface AppRun {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Count updates its stream thread made (reprocessed records again), from its {"processed"} lines. */
  processed: number;
  states: string[];
  fatal: string | null;
  closed: boolean | null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<void>;
  /** Trace events before this run started. */
  traceStart: number;
  startedAt: number;
}

interface AppLine {
  state?: string;
  processed?: number;
  fatal?: string;
  closed?: boolean;
}

function startApp(ctx: Context, name: string, delayMs: number): AppRun {
  const logFile = join(ctx.dir, `app-${name}.log`);
  const fd = openSync(logFile, 'a');
  const jvm = [
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
    // Streams logs a failed repartition purge (DeleteRecords) at debug only.
    '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.TaskManager=debug',
  ];
  const child = spawn('java', javaArgs('app', [ctx.bootstrap, ctx.appId, ctx.input, ctx.output, ctx.stateDir, String(delayMs)], jvm), {
    stdio: ['ignore', 'pipe', fd],
  });
  closeSync(fd);
  const app: AppRun = {
    name,
    child,
    logFile,
    processed: 0,
    states: [],
    fatal: null,
    closed: null,
    exit: null,
    exited: Promise.resolve(),
    traceStart: ctx.trace?.events.length ?? 0,
    startedAt: Date.now(),
  };
  app.exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      app.exit = { code, signal };
      resolve();
    });
  });
  let pending = '';
  child.stdout?.on('data', (b: Buffer) => {
    pending += b.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as AppLine;
      if (l.state !== undefined) app.states.push(`${l.state}@${((Date.now() - app.startedAt) / 1000).toFixed(1)}s`);
      if (l.processed !== undefined) app.processed = l.processed;
      if (l.fatal !== undefined) app.fatal = l.fatal;
      if (l.closed !== undefined) app.closed = l.closed;
    }
  });
  return app;
}

async function waitExit(app: AppRun, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([app.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return done;
}

/** SIGTERM (the app runs KafkaStreams.close(): a last commit); SIGKILL if it has not exited in 40 s. */
async function stopApp(app: AppRun): Promise<boolean> {
  if (app.exit !== null) return false;
  app.child.kill('SIGTERM');
  if (await waitExit(app, 40_000)) return true;
  app.child.kill('SIGKILL');
  await app.exited;
  return false;
}

// ---- reading the output -------------------------------------------------------------------------

interface ReadSummary {
  records: number;
  reachedEnd: boolean;
  error: string | null;
  ends: Record<string, number>;
  positions: Record<string, number>;
  perKey: Record<string, number[]>;
  offsets: Record<string, string[]>;
}

function parseRead(r: RunResult): ReadSummary {
  try {
    return parseLastJson(r.stdout) as ReadSummary;
  } catch {
    return {
      records: 0,
      reachedEnd: false,
      error: `reader printed no summary (exit ${r.code}, signal ${r.signal}): ${r.stderr.slice(-800)}`,
      ends: {},
      positions: {},
      perKey: {},
      offsets: {},
    };
  }
}

/** The output as `isolation` sees it: waits up to `timeoutMs` for `expected` records, then reads to the end. */
async function readOutput(ctx: Context, isolation: 'read_committed' | 'read_uncommitted', expected: number, timeoutMs: number): Promise<ReadSummary> {
  return parseRead(await tool('read', [ctx.bootstrap, ctx.output, isolation, String(expected), String(timeoutMs)], timeoutMs + 60_000));
}

/**
 * Waits for `expected` read_committed output records while `app` runs; gives up early (reading
 * what is there) when the app exits first.
 */
async function waitForOutput(ctx: Context, app: AppRun, expected: number): Promise<ReadSummary> {
  const reader = spawn('java', javaArgs('read', [ctx.bootstrap, ctx.output, 'read_committed', String(expected), String(PHASE_TIMEOUT_MS)]), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  reader.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  reader.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const finished = new Promise<RunResult>((resolve) => {
    reader.once('exit', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, timedOut: false }));
  });
  const appDied = app.exited.then(() => 'died' as const);
  const first = await Promise.race([finished, appDied]);
  if (first !== 'died') return parseRead(first);
  await sleep(3000);
  if (reader.exitCode === null) {
    reader.kill('SIGKILL');
    await finished;
    return readOutput(ctx, 'read_committed', 0, 5000);
  }
  return parseRead(await finished);
}

/** What the output must hold after the first `n` input records: key k<j> counted 1..count(j). */
function expectedCount(n: number, j: number): number {
  return Math.floor(n / KEYS) + (j < n % KEYS ? 1 : 0);
}

/** Keys whose read_committed counts are not exactly 1, 2, ..., n (at most `limit` lines). */
function diffCounts(perKey: Record<string, number[]>, n: number, limit = 12): string[] {
  const problems: string[] = [];
  for (let j = 0; j < KEYS; j++) {
    const want = expectedCount(n, j);
    const got = lookup(perKey, `k${j}`) ?? [];
    const last = got.at(-1) ?? 0;
    const exact = got.length === want && got.every((c, i) => c === i + 1);
    if (!exact) {
      const firstBad = got.findIndex((c, i) => c !== i + 1);
      problems.push(
        `k${j}: ${got.length} updates, final count ${last}, true count ${want}` +
          (firstBad >= 0 ? `; update #${firstBad} is ${got[firstBad]} (expected ${firstBad + 1}): ${JSON.stringify(got.slice(Math.max(0, firstBad - 2), firstBad + 3))}` : ''),
      );
    }
  }
  for (const key of Object.keys(perKey)) if (!/^k\d+$/.test(key) || Number(key.slice(1)) >= KEYS) problems.push(`unexpected key ${key}`);
  return problems.slice(0, limit);
}

/** A record's entry, typed as possibly absent. */
function lookup<T>(record: Record<string, T>, key: string): T | undefined {
  return record[key];
}

function finalCounts(perKey: Record<string, number[]>): string {
  const parts: string[] = [];
  for (let j = 0; j < KEYS; j += 10) parts.push(`k${j}=${lookup(perKey, `k${j}`)?.at(-1) ?? 'none'}`);
  return parts.join(' ');
}

// ---- reporting ----------------------------------------------------------------------------------

interface Context {
  dir: string;
  bootstrap: string;
  trace: TraceProxy | null;
  appId: string;
  input: string;
  output: string;
  stateDir: string;
}

/** WARN/ERROR lines of an app run's log (stack frames dropped, repeats counted), and its purge failures. */
function appLogSummary(app: AppRun, limit = 25): string[] {
  if (!existsSync(app.logFile)) return [];
  const counts = new Map<string, number>();
  for (const line of readFileSync(app.logFile, 'utf8').split('\n')) {
    const m = /^\S+ \[[^\]]+\] (WARN|ERROR) (.*)$/.exec(line);
    const purge = /delete-records request has failed.*?exception=([^,]+)/i.exec(line);
    if (m === null && purge === null) continue;
    // Streams warns about any state.dir under the OS temp dir; ours is a throwaway test dir.
    if (m?.[2].includes('Using an OS temp directory in the state.dir') === true) continue;
    // Drop the thread-specific prefixes and numbers that differ from line to line.
    const key = (m !== null ? `${m[1]} ${m[2]}` : `DEBUG TaskManager: repartition purge (Admin.deleteRecords) failed: ${purge?.[1] ?? ''}`)
      .replace(/stream-thread \[[^\]]+\]/g, 'stream-thread')
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
      .slice(0, 400);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].slice(0, limit).map(([line, n]) => `${n > 1 ? `${n}× ` : ''}${line}`);
}

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** Spool's warnings, errors and refused requests (grouped by message, API and code). */
function brokerLogSummary(logFile: string | null, limit = 40): string[] {
  if (logFile === null || !existsSync(logFile)) return [];
  const counts = new Map<string, { n: number; example: string }>();
  for (const raw of readFileSync(logFile, 'utf8').split('\n')) {
    if (!raw.startsWith('{')) continue;
    let l: LogLine;
    try {
      l = JSON.parse(raw) as LogLine;
    } catch {
      continue;
    }
    if (l.level < 40 && !l.msg.endsWith('refused')) continue;
    const level = l.level >= 50 ? 'ERROR' : l.level >= 40 ? 'WARN' : 'DEBUG';
    const detail = ['api', 'apiVersion', 'code', 'errorCode', 'error', 'reason']
      .filter((k) => l[k] !== undefined)
      .map((k) => `${k}=${typeof l[k] === 'string' ? l[k] : JSON.stringify(l[k])}`)
      .join(' ');
    const key = `${level} ${l.msg} ${detail.replace(/\d{3,}/g, 'N')}`.slice(0, 300);
    const entry = counts.get(key) ?? { n: 0, example: raw.slice(0, 600) };
    entry.n++;
    counts.set(key, entry);
  }
  return [...counts.entries()].slice(0, limit).flatMap(([key, e]) => [`${e.n}× ${key}`, `    e.g. ${e.example}`]);
}

/** The trace with the app id and process id taken out of client ids, so runs group together. */
function traceSummary(events: TraceEvent[], appId: string): string[] {
  const strip = (s: string) => s.replace(appId, '<app>').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<pid>');
  return summarizeTrace(events.map((e) => ({ ...e, client: strip(e.client) })));
}

/** Index just past the last EndTxn in events[from..], and whether a transactional Produce followed it and a commit preceded it. */
function openTxnWithData(events: TraceEvent[], from: number): { committed: boolean; dataAfterLastEnd: boolean } {
  let committed = false;
  let dataAfterLastEnd = false;
  for (let i = from; i < events.length; i++) {
    const e = events[i];
    if (e.apiKey === 26) {
      if ((lookup(e.request, 'committed') ?? []).includes(true) && e.errors.length === 0) committed = true;
      dataAfterLastEnd = false;
    } else if (e.apiKey === 0 && (lookup(e.request, 'batch') ?? []).includes('data+txn')) {
      dataAfterLastEnd = true;
    }
  }
  return { committed, dataAfterLastEnd };
}

// ---- the test -----------------------------------------------------------------------------------

t.test(`Kafka Streams exactly_once_v2 counts exactly across a restart and a kill -9 (${target})`, { timeout: 400_000 }, async (t) => {
  if (!requireToolchain(t, ready, 'java or the built Streams app (test/interop/streams/target) is missing')) return;
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const dir = tempDir('streams-eos');
  const broker = await startTarget(t, dir);
  if (broker === null) {
    removeDir(dir);
    return;
  }
  const id = runId();
  const ctx: Context = {
    dir,
    bootstrap: broker.bootstrap,
    trace: broker.trace,
    appId: `streams-eos-${id}`,
    input: `streams-in-${id}`,
    output: `streams-out-${id}`,
    stateDir: join(dir, 'state'),
  };
  mkdirSync(ctx.stateDir, { recursive: true });
  const apps: AppRun[] = [];
  t.teardown(async () => {
    for (const app of apps) if (app.exit === null) app.child.kill('SIGKILL');
    await Promise.all(apps.map((a) => a.exited));
    for (const app of apps) {
      const lines = appLogSummary(app);
      if (lines.length > 0) t.comment(`app run ${app.name} (${app.logFile}) WARN/ERROR:\n  ${lines.join('\n  ')}`);
    }
    if (broker.trace !== null) t.comment(`protocol trace (${target}):\n${traceSummary(broker.trace.events, ctx.appId).join('\n')}`);
    await broker.stop();
    const brokerLines = brokerLogSummary(broker.logFile);
    if (brokerLines.length > 0) t.comment(`Spool log (${String(broker.logFile)}): warnings, errors, refused requests:\n${brokerLines.join('\n')}`);
    t.comment(`total ${elapsed()}`);
    if (keep || !t.passing()) t.comment(`work dir kept: ${dir}`);
    else removeDir(dir);
  });
  t.comment(`target ${target} at ${broker.bootstrap} after ${elapsed()}; work dir ${dir}`);

  const setup = parseLastJson((await tool('setup', [ctx.bootstrap, ctx.input, ctx.output, String(PARTITIONS)])).stdout) as { error: string | null };
  t.equal(setup.error, null, 'input and output topics created');

  const produce = async (from: number, to: number) => {
    const r = await tool('produce', [ctx.bootstrap, ctx.input, String(from), String(to), String(KEYS)]);
    let s: { produced?: number; error?: string | null } = {};
    try {
      s = parseLastJson(r.stdout) as typeof s;
    } catch {
      s = { error: `no summary: ${r.stderr.slice(-500)}` };
    }
    t.equal(s.error ?? null, null, `input ${from}..${to - 1} produced without error`);
    t.equal(s.produced, to - from, `${to - from} input records acknowledged`);
    t.comment(`input ${from}..${to - 1} produced after ${elapsed()}`);
  };

  /** Checks the read_committed output against the first `n` input records. */
  const check = (what: string, out: ReadSummary, n: number) => {
    t.comment(`${what} after ${elapsed()}: ${out.records} read_committed output records (expected ${n}); ${finalCounts(out.perKey)}`);
    t.equal(out.error, null, `${what}: the read_committed reader had no error`);
    t.equal(out.reachedEnd, true, `${what}: the read_committed reader reached the last stable offset with ${n} records`);
    t.equal(out.records, n, `${what}: one committed output record per input record (${n})`);
    t.same(diffCounts(out.perKey, n), [], `${what}: every key's committed counts are exactly 1..true count (final count = true count, nothing double counted, no aborted output)`);
  };

  const appFailed = (app: AppRun) => (app.fatal !== null ? `fatal: ${app.fatal}` : app.exit !== null ? `exited ${String(app.exit.code ?? app.exit.signal)}` : null);

  // ---- A: first run, clean stop -------------------------------------------------------------------
  await produce(0, PHASE_A);
  const a = startApp(ctx, 'A', 0);
  apps.push(a);
  check('A (first run)', await waitForOutput(ctx, a, PHASE_A), PHASE_A);
  t.equal(appFailed(a), null, 'run A is still running after its output is complete');
  t.ok(await stopApp(a), 'run A stops on SIGTERM');
  t.equal(a.closed, true, 'run A: KafkaStreams.close() completed');
  t.comment(`run A: states ${a.states.join(' > ')}; processed ${a.processed}; ${elapsed()}`);

  // ---- B: more input while stopped, restart ------------------------------------------------------
  await produce(PHASE_A, PHASE_A + PHASE_B);
  const b = startApp(ctx, 'B', 0);
  apps.push(b);
  check('B (after a clean restart)', await waitForOutput(ctx, b, PHASE_A + PHASE_B), PHASE_A + PHASE_B);
  t.equal(appFailed(b), null, 'run B is still running after its output is complete');
  t.equal(b.processed, PHASE_B, 'run B made one count update per new input record (run A committed its input and repartition offsets)');
  t.ok(await stopApp(b), 'run B stops on SIGTERM');
  t.equal(b.closed, true, 'run B: KafkaStreams.close() completed');
  t.comment(`run B: states ${b.states.join(' > ')}; processed ${b.processed}; ${elapsed()}`);

  // ---- C: kill -9 mid-processing, restart ---------------------------------------------------------
  const total = PHASE_A + PHASE_B + PHASE_C;
  await produce(PHASE_A + PHASE_B, total);
  const c1 = startApp(ctx, 'C1-killed', SLOW_MS);
  apps.push(c1);
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  let killedInTxn = false;
  while (Date.now() < deadline && c1.exit === null) {
    if (c1.processed >= KILL_AFTER) {
      if (ctx.trace === null) break;
      const open = openTxnWithData(ctx.trace.events, c1.traceStart);
      if (open.committed && open.dataAfterLastEnd) {
        killedInTxn = true;
        break;
      }
    }
    if (c1.processed >= PHASE_C) break;
    await sleep(20);
  }
  const processedAtKill = c1.processed;
  t.equal(appFailed(c1), null, 'run C1 is running when it is killed');
  c1.child.kill('SIGKILL');
  await c1.exited;
  t.comment(`run C1 killed (SIGKILL) after ${processedAtKill} of ${PHASE_C} count updates${ctx.trace !== null ? `, inside a transaction with data: ${killedInTxn}` : ''}; states ${c1.states.join(' > ')}; ${elapsed()}`);
  t.ok(processedAtKill >= KILL_AFTER && processedAtKill < PHASE_C, `run C1 was killed mid-processing (${processedAtKill} of ${PHASE_C})`);

  const c2 = startApp(ctx, 'C2-after-kill', 0);
  apps.push(c2);
  check('C (after kill -9 and restart)', await waitForOutput(ctx, c2, total), total);
  t.equal(appFailed(c2), null, 'run C2 is still running after its output is complete');
  t.ok(await stopApp(c2), 'run C2 stops on SIGTERM');
  t.equal(c2.closed, true, 'run C2: KafkaStreams.close() completed');
  t.comment(`run C2: states ${c2.states.join(' > ')}; processed ${c2.processed} (${PHASE_C - c2.processed} of phase C committed by C1); ${elapsed()}`);

  // ---- the log as it stays --------------------------------------------------------------------------
  const committed = await readOutput(ctx, 'read_committed', total, 15_000);
  const uncommitted = await readOutput(ctx, 'read_uncommitted', 0, 15_000);
  check('final (app stopped)', committed, total);
  const committedOffsets = new Set(Object.values(committed.offsets).flat());
  const uncommittedOffsets = new Set(Object.values(uncommitted.offsets).flat());
  const aborted = [...uncommittedOffsets].filter((o) => !committedOffsets.has(o));
  const unseen = [...committedOffsets].filter((o) => !uncommittedOffsets.has(o));
  t.comment(
    `output log: ${uncommitted.records} records read_uncommitted, ${committed.records} read_committed, ${aborted.length} aborted; ` +
      `ends read_committed ${JSON.stringify(committed.ends)} read_uncommitted ${JSON.stringify(uncommitted.ends)}`,
  );
  t.equal(uncommitted.error, null, 'the read_uncommitted reader had no error');
  t.same(unseen, [], 'every read_committed record is in the log read_uncommitted too');
  t.ok(aborted.length > 0, `the killed run's open transaction left aborted output in the log (${aborted.length} records), which read_committed skipped`);
  t.same(committed.ends, uncommitted.ends, 'no transaction left open: last stable offset = high watermark on every output partition');

  const repartition = parseLastJson((await tool('offsets', [ctx.bootstrap, `${ctx.appId}-by-key-repartition`])).stdout) as { begin: unknown; end: unknown; error: string | null };
  t.comment(`(${elapsed()}) repartition topic offsets: begin ${JSON.stringify(repartition.begin)} end ${JSON.stringify(repartition.end)} error ${String(repartition.error)} (begin > 0: Streams' DeleteRecords purge took effect)`);
  t.comment(`done after ${elapsed()}`);
});
