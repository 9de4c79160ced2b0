// test/interop room: what every real-client interop test shares — the record spec all client
// programs produce, the checks the tap tests make on what a client read back, toolchain detection,
// child-process running, and starting/restarting Spool through its public startBroker() API.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The codecs every client round-trips (Kafka's compression.type names). */
export const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CodecName = (typeof CODECS)[number];

export const RECORD_COUNT = 10_000;
export const PARTITIONS = 4;

/** The repository root, found from this file whether it runs from test/ or dist/test/. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}`);
})();

export const interopDir = join(repoRoot, 'test', 'interop');

export interface SpecRecord {
  p: number;
  k: string | null;
  v: string | null;
  h: Array<[string, string]>;
  ts: number;
}

/**
 * Record i of the shared spec. Every client program implements the same function, so one
 * expectation checks them all: keys null every 5th, values null every 7th (from 3), zero to two
 * headers, explicit partition i % partitions, CreateTime baseTs + i.
 */
export function specRecord(i: number, partitions: number, baseTs: number): SpecRecord {
  const h: Array<[string, string]> = [];
  if (i % 3 >= 1) h.push(['h-index', String(i)]);
  if (i % 3 === 2) h.push(['h-parity', i % 2 === 0 ? 'even' : 'odd']);
  return {
    p: i % partitions,
    k: i % 5 === 0 ? null : `key-${i}`,
    v: i % 7 === 3 ? null : `value-${i}-${'abcdefghij'.repeat(i % 13)}`,
    h,
    ts: baseTs + i,
  };
}

/** One record as a client program prints it (one JSON object per line). */
export interface ConsumedRecord {
  p: number;
  o: number;
  ts: number;
  k: string | null;
  v: string | null;
  h: Array<[string, string | null]>;
}

export function parseJsonLines(stdout: string): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  for (const line of stdout.split('\n')) {
    const s = line.trim();
    if (s.startsWith('{')) out.push(JSON.parse(s) as ConsumedRecord);
  }
  return out;
}

/** The last JSON object a program printed (summaries are printed on one line). */
export function parseLastJson(stdout: string): unknown {
  const lines = stdout.trim().split('\n').filter((l) => l.trim().startsWith('{'));
  const last = lines.at(-1);
  if (last === undefined) throw new Error(`no JSON in output: ${stdout.slice(0, 500)}`);
  return JSON.parse(last);
}

/**
 * Compares what a client read back with the spec: per partition, offsets 0..n-1 in order, and
 * each record's key, value, headers and timestamp. Returns human-readable mismatches (at most
 * `limit`) so a failing test says what was wrong without printing 10 000 assertions.
 */
export function diffAgainstSpec(
  records: ConsumedRecord[],
  count: number,
  partitions: number,
  baseTs: number,
  opts: { checkTimestamps?: boolean; limit?: number; headers?: (i: number) => Array<[string, string]> } = {},
): string[] {
  const limit = opts.limit ?? 20;
  const problems: string[] = [];
  const byPartition = new Map<number, ConsumedRecord[]>();
  for (const r of records) {
    const list = byPartition.get(r.p) ?? [];
    list.push(r);
    byPartition.set(r.p, list);
  }
  for (let p = 0; p < partitions; p++) {
    const got = byPartition.get(p) ?? [];
    const expectedCount = Math.floor(count / partitions) + (p < count % partitions ? 1 : 0);
    if (got.length !== expectedCount) problems.push(`partition ${p}: ${got.length} records, expected ${expectedCount}`);
    for (let j = 0; j < got.length && problems.length < limit; j++) {
      const r = got[j];
      const i = j * partitions + p;
      const want = specRecord(i, partitions, baseTs);
      const where = `partition ${p} position ${j} (record ${i})`;
      if (r.o !== j) problems.push(`${where}: offset ${r.o}, expected ${j}`);
      if (r.k !== want.k) problems.push(`${where}: key ${JSON.stringify(r.k)}, expected ${JSON.stringify(want.k)}`);
      if (r.v !== want.v) problems.push(`${where}: value ${JSON.stringify(r.v ?? null).slice(0, 60)}, expected ${JSON.stringify(want.v ?? null).slice(0, 60)}`);
      const wantHeaders = opts.headers?.(i) ?? want.h;
      if (JSON.stringify(r.h) !== JSON.stringify(wantHeaders)) problems.push(`${where}: headers ${JSON.stringify(r.h)}, expected ${JSON.stringify(wantHeaders)}`);
      if (opts.checkTimestamps !== false && r.ts !== want.ts) problems.push(`${where}: timestamp ${r.ts}, expected ${want.ts}`);
    }
  }
  for (const p of byPartition.keys()) if (p < 0 || p >= partitions) problems.push(`records from unexpected partition ${p}`);
  return problems.slice(0, limit);
}

export interface TimeQueryResult {
  ts: number;
  p: number;
  offset: number;
  timestamp: number;
}

/** Timestamps worth asking ListOffsets about: the first, a middle, the last, and past the end. */
export function timeTargets(count: number, baseTs: number): number[] {
  return [baseTs - 1000, baseTs, baseTs + Math.floor(count / 2) + 1, baseTs + count - 1, baseTs + count + 1000];
}

/**
 * Kafka's answer to ListOffsets(timestamp) for the spec's records: the first offset whose
 * timestamp >= target, with that record's timestamp; offset -1 / timestamp -1 when none.
 */
export function expectedTimes(targets: number[], count: number, partitions: number, baseTs: number): TimeQueryResult[] {
  const out: TimeQueryResult[] = [];
  for (const ts of targets) {
    for (let p = 0; p < partitions; p++) {
      let found: TimeQueryResult = { ts, p, offset: -1, timestamp: -1 };
      for (let i = Math.max(0, ts - baseTs); i < count; i++) {
        if (i % partitions === p) {
          found = { ts, p, offset: Math.floor(i / partitions), timestamp: baseTs + i };
          break;
        }
      }
      out.push(found);
    }
  }
  return out;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program to completion with a hard time limit; never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** True when `cmd args` runs and exits 0 (used to detect toolchains). */
export async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    const r = await run(cmd, args, { timeoutMs: 30_000 });
    return r.code === 0;
  } catch {
    return false;
  }
}

/**
 * True when `output` is missing or older than any of `sources` (files, or directories searched
 * recursively), so a test rebuilds a client program after its source was edited, not only when
 * the build output is absent.
 */
export function isStale(output: string, sources: string[]): boolean {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  const newer = (path: string): boolean => {
    if (!existsSync(path)) return false;
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs > built;
    return readdirSync(path).some((name) => newer(join(path, name)));
  };
  return sources.some(newer);
}

/** Minimal view of tap's Test used here, so helpers need no tap types. */
export interface TapLike {
  fail(message: string): unknown;
  plan(n: number, comment?: string): unknown;
  comment(...args: unknown[]): unknown;
}

/**
 * A missing toolchain fails the test under CI (CI=true) and skips it, with the reason,
 * on a developer machine. Returns true when the test may go on.
 */
export function requireToolchain(t: TapLike, available: boolean, reason: string): boolean {
  if (available) return true;
  if (process.env.CI === 'true') {
    t.fail(`${reason} (CI=true: run bash scripts/setup-interop.sh; npm install runs it unless SPOOL_SKIP_TOOLCHAINS=1)`);
  } else {
    t.comment(`skipping: ${reason}; run scripts/setup-interop.sh`);
    t.plan(0, reason);
  }
  return false;
}

/** A short random suffix so topic names never collide across runs on one broker. */
export function runId(): string {
  return Math.random().toString(36).slice(2, 8);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `spool-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The embeddable broker API from src/index.ts, as far as these tests use it. */
export interface RunningBroker {
  host: string;
  port: number;
  stop(): Promise<void>;
}

interface SpoolModule {
  startBroker(options: {
    dataDir: string;
    port: number;
    host?: string;
    engine?: 'native' | 'ts' | 'auto';
    config?: Record<string, string | number | boolean>;
  }): Promise<RunningBroker>;
}

/** src/index.js next to this file's compiled location (dist/test/interop → dist/src). */
async function loadSpool(): Promise<SpoolModule> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'src', 'index.js'), join(repoRoot, 'dist', 'src', 'index.js')];
  const path = candidates.find((c) => existsSync(c));
  if (path === undefined) throw new Error(`Spool's src/index.js is not built (looked in ${candidates.join(', ')})`);
  return (await import(pathToFileURL(path).href)) as SpoolModule;
}

export interface SpoolHandle {
  readonly bootstrap: string;
  readonly broker: RunningBroker;
  /** Stops the broker and starts it again on the same data directory and, if it can, port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts Spool on `dataDir`. With SPOOL_INTEROP_EXTERNAL_BOOTSTRAP set (developers only: e.g. a
 * real Kafka from real-kafka.ts, to prove a test itself), uses that broker instead and restart
 * does nothing.
 */
export async function startSpool(
  dataDir: string,
  opts: { engine?: 'native' | 'ts' | 'auto'; config?: Record<string, string | number | boolean> } = {},
): Promise<SpoolHandle> {
  const external = process.env.SPOOL_INTEROP_EXTERNAL_BOOTSTRAP;
  if (external !== undefined && external !== '') {
    const [host, port] = external.split(':') as Array<string | undefined>;
    const broker: RunningBroker = { host: host ?? '127.0.0.1', port: Number(port), stop: async () => undefined };
    return { bootstrap: external, broker, restart: async () => undefined, stop: async () => undefined };
  }
  const spool = await loadSpool();
  const engine = opts.engine ?? (process.env.SPOOL_INTEROP_ENGINE as 'native' | 'ts' | 'auto' | undefined) ?? 'auto';
  const start = (port: number) => spool.startBroker({ dataDir, port, host: '127.0.0.1', engine, config: opts.config });
  let broker = await start(0);
  let stopped = false;
  const handle: SpoolHandle = {
    get bootstrap() {
      return `${broker.host}:${broker.port}`;
    },
    get broker() {
      return broker;
    },
    async restart() {
      const port = broker.port;
      await broker.stop();
      // Same port keeps the clients' bootstrap valid; the OS may briefly refuse it, so retry,
      // then fall back to a fresh port (the tests read `bootstrap` after restart).
      let lastError: unknown;
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          broker = await start(port);
          return;
        } catch (e) {
          lastError = e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      try {
        broker = await start(0);
      } catch (e) {
        throw new Error(`restart failed: ${String(lastError)} / ${String(e)}`, { cause: e });
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await broker.stop();
    },
  };
  return handle;
}
