// cli/ room: a local multi-broker cluster as child processes — etcd plus N `spool start` brokers
// joined through `spool.etcd.endpoints`. `spool cluster up` runs it from a terminal; the
// multi-process test harness (test/helpers/cluster.ts) builds on the same functions.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess, isPortFree, waitForPort, waitUntil, type SpawnSpec } from './process.js';

export const CLUSTER_USAGE = `Usage: spool cluster up --brokers <N> --dir <dir> [--base-port 9092] [--etcd-port 2379]
                        [--engine native|ts|auto] [--host 127.0.0.1] [--config <server.properties>]
                        [--override key=value]...

Starts etcd (data in <dir>/etcd, log <dir>/etcd.log; the binary is SPOOL_ETCD_BIN or \`etcd\` on
PATH) on --etcd-port (peer port: --etcd-port + 1), then N brokers, broker i with node.id=i,
log.dirs=<dir>/broker-i, listener PLAINTEXT://<host>:<base-port + i - 1>, its output in
<dir>/broker-i.log. --config and --override apply to every broker. Prints one line per process,
then runs until SIGINT/SIGTERM: brokers stop first (SIGTERM, SIGKILL after 15 s), then etcd.`;

export type Engine = 'native' | 'ts' | 'auto';

export class EtcdNotFoundError extends Error {
  constructor(detail: string) {
    super(`etcd not found (${detail}); install it with \`apt-get install etcd-server\` or set SPOOL_ETCD_BIN`);
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The etcd binary: SPOOL_ETCD_BIN when set, else `etcd` on PATH. Throws EtcdNotFoundError. */
export function findEtcd(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.SPOOL_ETCD_BIN;
  if (configured !== undefined && configured !== '') {
    if (!isExecutable(configured)) throw new EtcdNotFoundError(`SPOOL_ETCD_BIN=${configured} is not an executable file`);
    return configured;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'etcd');
    if (isExecutable(candidate)) return candidate;
  }
  throw new EtcdNotFoundError('no `etcd` on PATH');
}

/** `node dist/src/cli/main.js`: this file's sibling, so it works from any working directory. */
export function spoolMainScript(): string {
  return fileURLToPath(new URL('./main.js', import.meta.url));
}

export interface EtcdSpec {
  /** Defaults to findEtcd(). */
  bin?: string;
  dataDir: string;
  logFile: string;
  clientPort: number;
  peerPort: number;
  host?: string;
  name?: string;
}

export function etcdEndpoint(spec: Pick<EtcdSpec, 'clientPort' | 'host'>): string {
  return `http://${spec.host ?? '127.0.0.1'}:${spec.clientPort}`;
}

/**
 * A single-member etcd. The initial-cluster flags only matter for an empty data dir, so the same
 * command line restarts it on its data.
 */
export function etcdSpawnSpec(spec: EtcdSpec): SpawnSpec {
  const host = spec.host ?? '127.0.0.1';
  const name = spec.name ?? 'spool-etcd';
  const client = etcdEndpoint(spec);
  const peer = `http://${host}:${spec.peerPort}`;
  return {
    command: spec.bin ?? findEtcd(),
    args: [
      '--name', name,
      '--data-dir', spec.dataDir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${name}=${peer}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
    ],
    logFile: spec.logFile,
  };
}

/** True when etcd answers GET /health with health "true" (it has a leader and serves). */
export async function etcdHealthy(endpoint: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return false;
    const body = (await res.json()) as { health?: unknown };
    return body.health === true || body.health === 'true';
  } catch {
    return false;
  }
}

export async function waitForEtcd(endpoint: string, opts: { timeoutMs?: number; process?: ManagedProcess } = {}): Promise<void> {
  await waitUntil(`etcd at ${endpoint} to answer /health`, () => etcdHealthy(endpoint), { ...opts, intervalMs: 100 });
}

export interface BrokerSpec {
  nodeId: number;
  port: number;
  host?: string;
  /** log.dirs. */
  logDir: string;
  logFile: string;
  /** spool.etcd.endpoints; none: a standalone broker. */
  etcdEndpoints: string[];
  engine?: Engine;
  propertiesFile?: string;
  /** More settings (applied after node.id, log.dirs, listeners and the endpoints, so they win). */
  overrides?: Record<string, string | number | boolean>;
  env?: NodeJS.ProcessEnv;
  /** Defaults to spoolMainScript(). */
  mainScript?: string;
}

export function brokerSpawnSpec(spec: BrokerSpec): SpawnSpec {
  const host = spec.host ?? '127.0.0.1';
  const settings: Record<string, string> = {
    'node.id': String(spec.nodeId),
    'log.dirs': spec.logDir,
    listeners: `PLAINTEXT://${host}:${spec.port}`,
  };
  if (spec.etcdEndpoints.length > 0) settings['spool.etcd.endpoints'] = spec.etcdEndpoints.join(',');
  for (const [k, v] of Object.entries(spec.overrides ?? {})) settings[k] = String(v);
  const args = [spec.mainScript ?? spoolMainScript(), 'start', '--engine', spec.engine ?? 'auto'];
  if (spec.propertiesFile !== undefined) args.push('--config', spec.propertiesFile);
  for (const [k, v] of Object.entries(settings)) args.push('--override', `${k}=${v}`);
  return { command: process.execPath, args, logFile: spec.logFile, env: spec.env };
}

// ---------------------------------------------------------------------------------------------
// `spool cluster up`

export interface ClusterUpArgs {
  brokers: number;
  dir: string;
  basePort: number;
  etcdPort: number;
  engine: Engine;
  host: string;
  propertiesFile?: string;
  overrides: Record<string, string>;
}

export class UsageError extends Error {}

function parseIntArg(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new UsageError(`${flag} expects an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseClusterUpArgs(argv: string[]): ClusterUpArgs {
  let brokers: number | undefined;
  let dir: string | undefined;
  const args: Omit<ClusterUpArgs, 'brokers' | 'dir'> = { basePort: 9092, etcdPort: 2379, engine: 'auto', host: '127.0.0.1', overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eqAt = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eqAt > 0 ? [arg.slice(0, eqAt), arg.slice(eqAt + 1)] : [arg, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv.at(++i);
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--brokers':
      case '-n':
        brokers = parseIntArg(flag, value(), 1, 1000);
        break;
      case '--dir':
      case '-d':
        dir = value();
        break;
      case '--base-port':
        args.basePort = parseIntArg(flag, value(), 1, 65535);
        break;
      case '--etcd-port':
        args.etcdPort = parseIntArg(flag, value(), 1, 65534);
        break;
      case '--engine': {
        const e = value();
        if (e !== 'native' && e !== 'ts' && e !== 'auto') throw new UsageError(`--engine must be native, ts or auto, got "${e}"`);
        args.engine = e;
        break;
      }
      case '--host':
        args.host = value();
        break;
      case '--config':
      case '-c':
        args.propertiesFile = value();
        break;
      case '--override':
      case '-o': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--override expects key=value, got "${kv}"`);
        args.overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  if (brokers === undefined) throw new UsageError('--brokers is required');
  if (dir === undefined) throw new UsageError('--dir is required');
  if (args.basePort + brokers - 1 > 65535) throw new UsageError(`--base-port ${args.basePort} leaves no room for ${brokers} brokers`);
  return { ...args, brokers, dir };
}

export interface ClusterProcess {
  name: string;
  nodeId?: number;
  address: string;
  process: ManagedProcess;
}

/** Stops brokers (in parallel) and then etcd. */
async function stopAll(brokers: ClusterProcess[], etcd: ClusterProcess | undefined, graceMs: number): Promise<void> {
  await Promise.all(brokers.map((b) => b.process.stop(graceMs)));
  if (etcd) await etcd.process.stop(graceMs);
}

/**
 * Runs `spool cluster up`; resolves with the exit code once a signal stopped everything (or
 * start-up failed). `out`/`err` are the terminal's streams.
 */
export async function clusterUp(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let args: ClusterUpArgs;
  try {
    args = parseClusterUpArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`${e.message}\n${CLUSTER_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  return runClusterUp(args, out, err);
}

/** `spool cluster up` with parsed arguments (the commander entry in cli/commands/cluster.ts). */
export async function runClusterUp(args: ClusterUpArgs, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let etcdBin: string;
  try {
    if (args.basePort + args.brokers - 1 > 65535) throw new UsageError(`--base-port ${args.basePort} leaves no room for ${args.brokers} brokers`);
    etcdBin = findEtcd();
  } catch (e) {
    if (e instanceof UsageError || e instanceof EtcdNotFoundError) {
      err.write(`spool: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const dir = isAbsolute(args.dir) ? args.dir : resolve(args.dir);
  mkdirSync(dir, { recursive: true });
  const host = args.host;
  const etcdPeerPort = args.etcdPort + 1;
  const brokerPorts = Array.from({ length: args.brokers }, (_, i) => args.basePort + i);

  for (const port of [args.etcdPort, etcdPeerPort, ...brokerPorts]) {
    if (!(await isPortFree(port, host))) {
      err.write(`port ${host}:${port} is in use; choose other ports with --base-port / --etcd-port\n`);
      return 1;
    }
  }

  const brokers: ClusterProcess[] = [];
  let etcd: ClusterProcess | undefined;
  let stopping = false;
  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((res) => (stopRequested = res));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C: do not wait for anyone.
      err.write(`${signal} again: killing everything\n`);
      for (const p of [...brokers, ...(etcd ? [etcd] : [])]) p.process.signal('SIGKILL');
      return;
    }
    stopping = true;
    stopRequested(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const graceMs = 15_000;

  try {
    const endpoint = etcdEndpoint({ clientPort: args.etcdPort, host });
    const etcdProc = new ManagedProcess(
      'etcd',
      etcdSpawnSpec({ bin: etcdBin, dataDir: join(dir, 'etcd'), logFile: join(dir, 'etcd.log'), clientPort: args.etcdPort, peerPort: etcdPeerPort, host }),
    );
    etcd = { name: 'etcd', address: endpoint, process: etcdProc };
    etcdProc.start();
    await raceStop(waitForEtcd(endpoint, { process: etcdProc, timeoutMs: 30_000 }), stopSignal);
    out.write(`etcd      ${endpoint}  pid ${String(etcdProc.pid)}  data ${join(dir, 'etcd')}  log ${join(dir, 'etcd.log')}\n`);

    for (let i = 1; i <= args.brokers; i++) {
      const port = brokerPorts[i - 1];
      const proc = new ManagedProcess(
        `broker ${i}`,
        brokerSpawnSpec({
          nodeId: i,
          port,
          host,
          logDir: join(dir, `broker-${i}`),
          logFile: join(dir, `broker-${i}.log`),
          etcdEndpoints: [endpoint],
          engine: args.engine,
          propertiesFile: args.propertiesFile,
          overrides: args.overrides,
        }),
      );
      brokers.push({ name: `broker ${i}`, nodeId: i, address: `${host}:${port}`, process: proc });
      proc.start();
    }
    for (const b of brokers) {
      await raceStop(waitForPort(Number(b.address.slice(b.address.lastIndexOf(':') + 1)), { host, process: b.process, timeoutMs: 60_000 }), stopSignal);
      out.write(`broker ${String(b.nodeId)}  ${b.address}  pid ${String(b.process.pid)}  log ${b.process.spec.logFile}\n`);
    }
    writeFileSync(
      join(dir, 'cluster.json'),
      JSON.stringify(
        {
          etcd: { endpoint, pid: etcdProc.pid },
          brokers: brokers.map((b) => ({ nodeId: b.nodeId, address: b.address, pid: b.process.pid, log: b.process.spec.logFile })),
        },
        null,
        2,
      ) + '\n',
    );
    out.write(`cluster up: bootstrap ${brokers.map((b) => b.address).join(',')}  (Ctrl-C stops it)\n`);

    // Run until a signal, or until a child dies on its own (reported, cluster keeps running).
    for (const p of [etcd, ...brokers]) {
      void p.process.exited.then((exit) => {
        if (!stopping) err.write(`${p.name} (pid ${String(p.process.pid)}) exited on its own: code ${String(exit.code)} signal ${String(exit.signal)}; see ${p.process.spec.logFile}\n`);
      });
    }
    const signal = await stopSignal;
    out.write(`${signal}: stopping brokers, then etcd\n`);
    await stopAll(brokers, etcd, graceMs);
    out.write('cluster stopped\n');
    return 0;
  } catch (e) {
    stopping = true;
    if (e instanceof StopRequested) {
      out.write(`${e.signal}: stopping\n`);
      await stopAll(brokers, etcd, graceMs);
      return 0;
    }
    err.write(`cluster up failed: ${e instanceof Error ? e.message : String(e)}\n`);
    await stopAll(brokers, etcd, 5_000);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

class StopRequested extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
  }
}

async function raceStop<T>(work: Promise<T>, stop: Promise<NodeJS.Signals>): Promise<T> {
  return Promise.race([
    work,
    stop.then((signal) => {
      throw new StopRequested(signal);
    }),
  ]);
}
