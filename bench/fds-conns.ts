// bench/ room: resource figures of a broker process, native engine against TS engine (issue 8).
//   1. File descriptors per sealed segment: /proc/<pid>/fd of a broker before and after a topic
//      (segment.bytes 1 MiB, Kafka's minimum) is filled to SPOOL_FDS_SEGMENTS sealed segments, and
//      again after a restart on the same data dir, before and after a Fetch from offset 0.
//   2. RSS under idle connections: VmRSS of a broker before and after a separate node process
//      opens SPOOL_CONNS (default 8000) raw TCP connections to it that send nothing.
// Linux only (/proc). Each broker runs in its own child process; the connections come from another
// one. Needs `ulimit -n` above SPOOL_CONNS + a few hundred (children inherit it).
//
//   node dist/bench/fds-conns.js            SPOOL_BENCH_ENGINES (default native,ts)
//   SPOOL_FDS_SEGMENTS (default 100)        SPOOL_CONNS (default 8000)
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaConnection, decodeFetchResponse, encodeFetchRequest, runProduce } from './loadgen.js';

type EngineName = 'native' | 'ts';
type BrokerModule = typeof import('../src/index.js');

type ChildMessage =
  | { type: 'ready'; host: string; port: number }
  | { type: 'created' }
  | { type: 'opened'; open: number; failed: number }
  | { type: 'still'; open: number }
  | { type: 'error'; message: string };
type ParentMessage = { type: 'create'; topic: string; configs: Record<string, string> } | { type: 'count' } | { type: 'stop' };

const TOPIC = 'fds-bench';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

function send(m: ChildMessage): void {
  if (process.send === undefined) throw new Error('needs an IPC channel to the parent (run it through fork)');
  process.send(m);
}

// ---- child: one broker ------------------------------------------------------------------------

async function serve(engine: EngineName, dataDir: string): Promise<void> {
  const mod = (await import(new URL('../src/index.js', import.meta.url).href)) as BrokerModule;
  const running = await mod.startBroker({ dataDir, host: '127.0.0.1', port: 0, engine, config: { 'max.connections': '10000' } });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void running.stop().finally(() => process.exit(0));
  };
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'create') {
      running.broker.createTopic(m.topic, 1, m.configs).then(
        () => send({ type: 'created' }),
        (err: unknown) => send({ type: 'error', message: String(err) }),
      );
    } else if (m.type === 'stop') stop();
  });
  process.on('disconnect', stop);
  send({ type: 'ready', host: running.host, port: running.port });
}

// ---- child: idle connections ------------------------------------------------------------------

async function holdConnections(host: string, port: number, n: number): Promise<void> {
  const sockets: Socket[] = [];
  let open = 0;
  let failed = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        open++;
        sockets.push(s);
        resolve();
      });
      s.once('error', () => {
        failed++;
        resolve();
      });
      s.once('close', () => {
        if (sockets.includes(s)) open--;
      });
    });
  // 200 at a time, well inside the listen backlog.
  for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, one));
  send({ type: 'opened', open, failed });
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'count') send({ type: 'still', open });
    else if (m.type === 'stop') {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- parent -----------------------------------------------------------------------------------

function nextMessage(child: ChildProcess, what: string, timeoutMs = 120_000): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    child.once('message', (m: ChildMessage) => {
      clearTimeout(timer);
      if (m.type === 'error') reject(new Error(m.message));
      else resolve(m);
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ type: 'stop' } satisfies ParentMessage);
  });
}

interface Broker {
  child: ChildProcess;
  pid: number;
  host: string;
  port: number;
}

async function startBrokerChild(engine: EngineName, dataDir: string): Promise<Broker> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', engine, dataDir], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  child.stdout?.pipe(process.stderr);
  const m = await nextMessage(child, `${engine} broker start`, 30_000);
  if (m.type !== 'ready' || child.pid === undefined) throw new Error(`unexpected ${m.type}`);
  return { child, pid: child.pid, host: m.host, port: m.port };
}

/** Open fds of `pid`, how many of them point under `dir`, and those by file extension. */
function fds(pid: number, dir?: string): { total: number; under: number; kinds: Record<string, number> } {
  const entries = readdirSync(`/proc/${pid}/fd`);
  let under = 0;
  const kinds: Record<string, number> = {};
  if (dir !== undefined) {
    for (const e of entries) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${e}`);
        if (!target.startsWith(dir)) continue;
        under++;
        const ext = /\.[a-z]+$/.exec(target)?.[0] ?? target.slice(dir.length);
        kinds[ext] = (kinds[ext] ?? 0) + 1;
      } catch {
        // closed between readdir and readlink
      }
    }
  }
  return { total: entries.length, under, kinds };
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface FdResult {
  engine: EngineName;
  sealed: number;
  before: number;
  after: number;
  afterInTopic: number;
  restart: number;
  restartInTopic: number;
  restartAfterFetch: number;
  restartAfterFetchInTopic: number;
  /** fds under the partition dir by file extension: live, after restart, after the fetch. */
  kinds: Array<Record<string, number>>;
}

async function fdBench(engine: EngineName, segments: number): Promise<FdResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `spool-fds-${engine}-`));
  const partDir = join(dataDir, `${TOPIC}-0`);
  try {
    let b = await startBrokerChild(engine, dataDir);
    await sleep(1000);
    const before = fds(b.pid).total;
    b.child.send({ type: 'create', topic: TOPIC, configs: { 'segment.bytes': String(1024 * 1024) } } satisfies ParentMessage);
    await nextMessage(b.child, 'topic creation');
    const conn = await KafkaConnection.open(b.host, b.port);
    // ~480 KB batches: two fill a 1 MiB segment, the third rolls it.
    const recordsPerBatch = 8;
    const recordSize = 60_000;
    const batchBytes = recordsPerBatch * (recordSize + 16) + 61;
    let endOffset = 0;
    try {
      const r = await runProduce(conn, { topic: TOPIC, partition: 0, acks: 1, totalBytes: 2 * segments * batchBytes, recordsPerBatch, recordSize, inFlight: 4 });
      endOffset = r.endOffset;
    } finally {
      conn.close();
    }
    await sleep(1000);
    const sealed = readdirSync(partDir).filter((f) => f.endsWith('.log')).length - 1;
    const afterFds = fds(b.pid, partDir);
    await stopChild(b.child);
    b = await startBrokerChild(engine, dataDir);
    await sleep(1000);
    const restartFds = fds(b.pid, partDir);
    // A Fetch from offset 0 touches the oldest sealed segment.
    const c2 = await KafkaConnection.open(b.host, b.port);
    try {
      const res = decodeFetchResponse(await c2.request(encodeFetchRequest(TOPIC, 0, 0, 1024 * 1024, 500)));
      if (res.errorCode !== 0 || res.highWatermark < endOffset) throw new Error(`fetch after restart: error ${res.errorCode}, hw ${res.highWatermark}`);
    } finally {
      c2.close();
    }
    await sleep(500);
    const fetchFds = fds(b.pid, partDir);
    await stopChild(b.child);
    return {
      engine,
      sealed,
      before,
      after: afterFds.total,
      afterInTopic: afterFds.under,
      restart: restartFds.total,
      restartInTopic: restartFds.under,
      restartAfterFetch: fetchFds.total,
      restartAfterFetchInTopic: fetchFds.under,
      kinds: [afterFds.kinds, restartFds.kinds, fetchFds.kinds],
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface ConnResult {
  engine: EngineName;
  asked: number;
  opened: number;
  stillOpen: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  fdsBefore: number;
  fdsAfter: number;
}

async function connBench(engine: EngineName, n: number): Promise<ConnResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `spool-conns-${engine}-`));
  try {
    const b = await startBrokerChild(engine, dataDir);
    try {
      await sleep(2000);
      const rssBeforeKiB = rssKiB(b.pid);
      const fdsBefore = fds(b.pid).total;
      const holder = fork(fileURLToPath(import.meta.url), ['--hold', b.host, String(b.port), String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      try {
        const opened = await nextMessage(holder, 'connections');
        if (opened.type !== 'opened') throw new Error(`unexpected ${opened.type}`);
        // Let the broker settle (accept queues drained, any per-connection buffers allocated).
        await sleep(5000);
        const rssAfterKiB = rssKiB(b.pid);
        const fdsAfter = fds(b.pid).total;
        holder.send({ type: 'count' } satisfies ParentMessage);
        const still = await nextMessage(holder, 'count');
        return {
          engine,
          asked: n,
          opened: opened.open,
          stillOpen: still.type === 'still' ? still.open : -1,
          rssBeforeKiB,
          rssAfterKiB,
          fdsBefore,
          fdsAfter,
        };
      } finally {
        await stopChild(holder);
      }
    } finally {
      await stopChild(b.child);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const names = (process.env.SPOOL_BENCH_ENGINES ?? 'native,ts').split(',').map((e) => e.trim());
  for (const e of names) if (e !== 'native' && e !== 'ts') throw new Error(`SPOOL_BENCH_ENGINES: unknown engine ${e}`);
  const engines = names as EngineName[];
  const segments = envInt('SPOOL_FDS_SEGMENTS', 100);
  const conns = envInt('SPOOL_CONNS', 8000);
  const results: { fds: FdResult[]; conns: ConnResult[] } = { fds: [], conns: [] };
  console.log('engine  sealed  fds before  after (in topic dir)  fds/sealed  restart (in dir)  after fetch@0 (in dir)');
  for (const engine of engines) {
    const r = await fdBench(engine, segments);
    results.fds.push(r);
    console.log(
      `${engine.padEnd(7)} ${String(r.sealed).padStart(6)} ${String(r.before).padStart(11)} ${String(r.after).padStart(6)} (${r.afterInTopic})`.padEnd(42) +
        ` ${((r.after - r.before) / r.sealed).toFixed(2).padStart(10)}  ${String(r.restart).padStart(7)} (${r.restartInTopic})`.padEnd(30) +
        ` ${r.restartAfterFetch} (${r.restartAfterFetchInTopic})`,
    );
  }
  console.log('engine  connections open  RSS before MiB  RSS after MiB  KiB/conn  fds before  fds after');
  for (const engine of engines) {
    const r = await connBench(engine, conns);
    results.conns.push(r);
    console.log(
      `${engine.padEnd(7)} ${`${r.stillOpen}/${r.asked}`.padStart(16)} ${(r.rssBeforeKiB / 1024).toFixed(1).padStart(15)} ${(r.rssAfterKiB / 1024).toFixed(1).padStart(14)} ` +
        `${((r.rssAfterKiB - r.rssBeforeKiB) / Math.max(1, r.stillOpen)).toFixed(2).padStart(9)} ${String(r.fdsBefore).padStart(11)} ${String(r.fdsAfter).padStart(10)}`,
    );
  }
  console.log(JSON.stringify(results));
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3] as EngineName, process.argv[4]);
} else if (process.argv[2] === '--hold') {
  await holdConnections(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else {
  await main();
}
