// test helpers: a multi-process cluster for cluster and fault tests — etcd and N `spool start`
// broker processes on free loopback ports, each with handles to SIGKILL, SIGSTOP/SIGCONT, SIGTERM
// and restart (same node id, data dir and port). Built on the code behind `spool cluster up`
// (src/cli/cluster.ts, src/cli/process.ts); every process started here is killed at teardown (the
// test's, when a tap Test is given, and in any case when the test process exits).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  brokerSpawnSpec,
  etcdEndpoint,
  etcdSpawnSpec,
  findEtcd,
  EtcdNotFoundError,
  spoolMainScript,
  waitForEtcd,
  type Engine,
} from '../../src/cli/cluster.js';
import { BrokerConnection } from '../../src/network/index.js';
import { ApiKey } from '../../src/protocol/index.js';
import { ManagedProcess, freePorts, liveProcesses, waitForPort as waitForPortImpl, type ExitInfo, type WaitOptions } from '../../src/cli/process.js';

export { freePort, freePorts, canConnect, sleep, waitUntil } from '../../src/cli/process.js';
export { EtcdNotFoundError, type Engine };

type SettingValue = string | number | boolean;

/** The part of tap's Test the harness uses, so helpers need no tap types. */
export interface TeardownLike {
  teardown(fn: () => unknown): unknown;
}

/** Resolves once 127.0.0.1:port (or opts.host) accepts TCP; rejects after opts.timeoutMs (30 s). */
export function waitForPort(port: number, opts: WaitOptions = {}): Promise<void> {
  return waitForPortImpl(port, opts);
}

/** The etcd binary (SPOOL_ETCD_BIN or PATH), or null: tests skip, or fail under CI=true. */
export function etcdBinary(): string | null {
  try {
    return findEtcd();
  } catch (e) {
    if (e instanceof EtcdNotFoundError) return null;
    throw e;
  }
}

/** Kills (SIGKILL) every process this harness started that is still running. */
export async function killAllProcesses(): Promise<void> {
  await Promise.all(liveProcesses().map((p) => p.kill()));
}

// ---------------------------------------------------------------------------------------------
// etcd

export interface EtcdHandle {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** Undefined when not running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** SIGTERM, SIGKILL after graceMs (default 10 s). */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** SIGKILL. */
  kill(): Promise<ExitInfo>;
  /** SIGSTOP: etcd freezes with its sockets open. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops it if running (SIGKILL when `hard`), starts it on the same data dir and ports, waits for /health. */
  restart(opts?: { hard?: boolean }): Promise<void>;
}

export interface StartEtcdOptions {
  /** Defaults to SPOOL_ETCD_BIN or `etcd` on PATH (EtcdNotFoundError when neither). */
  bin?: string;
  t?: TeardownLike;
  timeoutMs?: number;
}

/**
 * Starts a one-member etcd with data in <dir>/etcd and its log in <dir>/etcd.log, on free
 * loopback client and peer ports; resolves once GET /health answers true.
 */
export async function startEtcd(dir: string, opts: StartEtcdOptions = {}): Promise<EtcdHandle> {
  mkdirSync(dir, { recursive: true });
  const [clientPort, peerPort] = await freePorts(2);
  const dataDir = join(dir, 'etcd');
  const logFile = join(dir, 'etcd.log');
  const proc = new ManagedProcess('etcd', etcdSpawnSpec({ bin: opts.bin, dataDir, logFile, clientPort, peerPort }));
  const endpoint = etcdEndpoint({ clientPort });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const launch = async (): Promise<void> => {
    proc.start();
    await waitForEtcd(endpoint, { process: proc, timeoutMs });
  };
  opts.t?.teardown(() => proc.kill());
  try {
    await launch();
  } catch (e) {
    await proc.kill();
    throw e;
  }
  return {
    endpoint,
    clientPort,
    peerPort,
    dataDir,
    logFile,
    get pid() {
      return proc.running ? proc.pid : undefined;
    },
    get running() {
      return proc.running;
    },
    stop: (graceMs?: number) => proc.stop(graceMs),
    kill: () => proc.kill(),
    pause: () => proc.pause(),
    resume: () => proc.resume(),
    async restart(restartOpts = {}) {
      if (restartOpts.hard === true) await proc.kill();
      else await proc.stop();
      await launch();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// brokers

export interface BrokerHandle {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** host:port */
  readonly address: string;
  /** log.dirs of this broker: <dir>/broker-<nodeId>. */
  readonly logDir: string;
  /** stdout+stderr: <dir>/broker-<nodeId>.log (appended across restarts). */
  readonly logFile: string;
  /** Undefined when not running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly paused: boolean;
  /** How the last run ended (undefined while running). */
  readonly lastExit: ExitInfo | undefined;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<ExitInfo>;
  /** SIGSTOP. */
  sigstop(): void;
  /** SIGCONT. */
  sigcont(): void;
  /** SIGTERM (clean shutdown), SIGKILL after graceMs (default 15 s). */
  stop(graceMs?: number): Promise<ExitInfo>;
  /**
   * Stops it if running (SIGKILL when `hard`, else SIGTERM), starts it again with the same node
   * id, data dir, port and settings, and waits until the port accepts.
   */
  restart(opts?: { hard?: boolean; timeoutMs?: number }): Promise<void>;
  /** Resolves when the current run ends. */
  readonly exited: Promise<ExitInfo>;
  /** The last bytes of the log file. */
  logTail(bytes?: number): string;
}

export interface ClusterOptions {
  brokers: number;
  /** Root directory: broker-<i>/ (log.dirs), broker-<i>.log, etcd/ and etcd.log live here. */
  dir: string;
  /** Storage engine of every broker (default: SPOOL_TEST_ENGINE or auto). */
  engine?: Engine;
  /** An etcd to join; by default one is started in `dir`. `false`: brokers without etcd (standalone). */
  etcd?: EtcdHandle | false;
  /** Settings for every broker. */
  config?: Record<string, SettingValue>;
  /** Settings for one broker (win over `config`). */
  brokerConfig?: (nodeId: number) => Record<string, SettingValue> | undefined;
  /** First node id (default 1); brokers get firstNodeId .. firstNodeId + brokers - 1. */
  firstNodeId?: number;
  /** Per-broker start-up bound (default 60 s). */
  timeoutMs?: number;
  /** SPOOL_LOG_LEVEL of the brokers (default: the test's SPOOL_LOG_LEVEL, else info). */
  logLevel?: string;
  /** Registers teardown with this test: every process is SIGKILLed. */
  t?: TeardownLike;
}

export interface ClusterProcesses {
  readonly dir: string;
  /** Undefined when started with etcd: false. */
  readonly etcd: EtcdHandle | undefined;
  readonly brokers: BrokerHandle[];
  /** host:port,host:port,... of every broker. */
  readonly bootstrap: string;
  broker(nodeId: number): BrokerHandle;
  /** SIGTERM every broker (in parallel), then etcd when this cluster started it. */
  stop(): Promise<void>;
  /** SIGKILL every process of this cluster. */
  kill(): Promise<void>;
}

/**
 * Starts `brokers` broker processes (`node dist/src/cli/main.js start` with node.id, log.dirs,
 * listeners and spool.etcd.endpoints overrides) on free ports, and etcd first unless given one.
 * Resolves once every broker's port accepts TCP.
 */
export async function startClusterProcesses(opts: ClusterOptions): Promise<ClusterProcesses> {
  const dir = opts.dir;
  mkdirSync(dir, { recursive: true });
  const mainScript = spoolMainScript();
  if (!existsSync(mainScript)) throw new Error(`${mainScript} is not built (npx tsc -p tsconfig.json)`);
  const ownEtcd = opts.etcd === undefined;
  const etcd = opts.etcd === false ? undefined : (opts.etcd ?? (await startEtcd(dir, { t: opts.t })));
  const engine = opts.engine ?? (process.env.SPOOL_TEST_ENGINE as Engine | undefined) ?? 'auto';
  const firstNodeId = opts.firstNodeId ?? 1;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const host = '127.0.0.1';
  const ports = await freePorts(opts.brokers);
  const env: NodeJS.ProcessEnv = { ...process.env, SPOOL_LOG_LEVEL: opts.logLevel ?? process.env.SPOOL_LOG_LEVEL ?? 'info' };

  const processes: ManagedProcess[] = [];
  const handles: BrokerHandle[] = [];
  for (let i = 0; i < opts.brokers; i++) {
    const nodeId = firstNodeId + i;
    const port = ports[i];
    const logDir = join(dir, `broker-${nodeId}`);
    const proc = new ManagedProcess(
      `broker ${nodeId}`,
      brokerSpawnSpec({
        nodeId,
        port,
        host,
        logDir,
        logFile: join(dir, `broker-${nodeId}.log`),
        etcdEndpoints: etcd ? [etcd.endpoint] : [],
        engine,
        overrides: { ...opts.config, ...opts.brokerConfig?.(nodeId) },
        env,
        mainScript,
      }),
    );
    processes.push(proc);
    handles.push(brokerHandle(proc, nodeId, host, port, logDir, timeoutMs));
  }

  const kill = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.kill()));
    if (ownEtcd) await etcd?.kill();
  };
  opts.t?.teardown(kill);
  try {
    for (const p of processes) p.start();
    await Promise.all(handles.map((h, i) => waitForPortImpl(h.port, { host, process: processes[i], timeoutMs })));
    // Clients ask the controller for admin requests: wait until every broker knows one and all
    // brokers are registered (right after start a broker may answer Metadata with controller -1,
    // which KafkaJS's admin does not retry).
    await Promise.all(handles.map((h) => waitForController(h.host, h.port, handles.length, timeoutMs)));
  } catch (e) {
    await kill();
    throw e;
  }

  return {
    dir,
    etcd,
    brokers: handles,
    bootstrap: handles.map((h) => h.address).join(','),
    broker(nodeId: number) {
      const h = handles.find((b) => b.nodeId === nodeId);
      if (h === undefined) throw new Error(`no broker with node id ${nodeId} (have ${handles.map((b) => b.nodeId).join(', ')})`);
      return h;
    },
    async stop() {
      await Promise.all(processes.map((p) => p.stop(15_000)));
      if (ownEtcd) await etcd?.stop();
    },
    kill,
  };
}

/** Polls Metadata on one broker until it names a controller and lists `brokers` brokers. */
async function waitForController(host: string, port: number, brokers: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  for (;;) {
    try {
      const c = await BrokerConnection.open({ host, port, clientId: 'cluster-helper', maxResponseBytes: 1 << 20, connectTimeoutMs: 2000 });
      try {
        const md = await c.request(ApiKey.Metadata, 9, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, 2000);
        if (md.controllerId >= 0 && md.brokers.length >= brokers) return;
      } finally {
        c.close();
      }
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`broker ${host}:${port} knows no controller after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function brokerHandle(proc: ManagedProcess, nodeId: number, host: string, port: number, logDir: string, timeoutMs: number): BrokerHandle {
  return {
    nodeId,
    host,
    port,
    address: `${host}:${port}`,
    logDir,
    logFile: proc.spec.logFile,
    get pid() {
      return proc.running ? proc.pid : undefined;
    },
    get running() {
      return proc.running;
    },
    get paused() {
      return proc.isPaused;
    },
    get lastExit() {
      return proc.lastExit;
    },
    get exited() {
      return proc.exited;
    },
    kill9: () => proc.kill(),
    sigstop: () => proc.pause(),
    sigcont: () => proc.resume(),
    stop: (graceMs = 15_000) => proc.stop(graceMs),
    async restart(restartOpts = {}) {
      if (restartOpts.hard === true) await proc.kill();
      else await proc.stop(15_000);
      // The port was ours a moment ago; the old process has exited, so the listen succeeds
      // (Node sets SO_REUSEADDR), unless another process grabbed it meanwhile.
      proc.start();
      await waitForPortImpl(port, { host, process: proc, timeoutMs: restartOpts.timeoutMs ?? timeoutMs });
    },
    logTail: (bytes?: number) => proc.logTail(bytes),
  };
}
