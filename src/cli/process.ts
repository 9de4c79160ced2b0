// cli/ room: child processes and ports for `spool cluster up` and the multi-process test harness
// (test/helpers/cluster.ts): spawn with output to a log file, signal, stop (SIGTERM, then SIGKILL
// after a bound), restart with the same command line, wait until a TCP port accepts, pick free
// ports. Every live child is SIGKILLed when this process exits, so a crash leaves no orphans.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export interface SpawnSpec {
  command: string;
  args: string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Own process group: a terminal's Ctrl-C then reaches only the parent, which stops the children
   * in order (brokers before etcd). Default true.
   */
  detached?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.signal('SIGKILL');
  });
}

/** Every process started through ManagedProcess and not yet exited. */
export function liveProcesses(): ManagedProcess[] {
  return [...live];
}

/** One child process, restartable with the same command line and log file. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private exitInfo: ExitInfo | undefined;
  private paused = false;

  constructor(
    readonly name: string,
    readonly spec: SpawnSpec,
  ) {}

  /** Spawns the process (again, after it exited). Throws if it is still running. */
  start(): void {
    if (this.running) throw new Error(`${this.name} is already running (pid ${String(this.pid)})`);
    installExitHook();
    const fd = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, this.spec.args, {
        cwd: this.spec.cwd,
        env: this.spec.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: this.spec.detached ?? true,
      });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.exitInfo = undefined;
    this.paused = false;
    live.add(this);
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      let settled = false;
      const done = (info: ExitInfo): void => {
        // 'error' and 'exit' may both fire; only the first counts.
        if (settled) return;
        settled = true;
        this.exitInfo = info;
        live.delete(this);
        resolve(info);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (err) => {
        // spawn failure (ENOENT, EACCES): no 'exit' follows.
        try {
          writeToLog(this.spec.logFile, `spawn ${this.spec.command} failed: ${err.message}\n`);
        } catch {
          // the log is best effort
        }
        done({ code: 127, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  get isPaused(): boolean {
    return this.running && this.paused;
  }

  /** How the last run ended; undefined while running or before the first start. */
  get lastExit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Resolves when the current run ends (at once when not running). */
  get exited(): Promise<ExitInfo> {
    return this.exitPromise;
  }

  /** Sends a signal; false when not running. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running || this.child === undefined) return false;
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }

  /** SIGSTOP: the process freezes (sockets stay open, nothing is answered). */
  pause(): void {
    if (this.signal('SIGSTOP')) this.paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (this.signal('SIGCONT')) this.paused = false;
  }

  /**
   * SIGTERM, then SIGKILL when it has not exited after `graceMs`. A paused process is continued
   * so it can handle the SIGTERM.
   */
  async stop(graceMs = 10_000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo ?? { code: null, signal: null };
    this.signal('SIGTERM');
    this.resume();
    const timer = new Promise<'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), graceMs);
      void this.exitPromise.then(() => clearTimeout(t));
    });
    const first = await Promise.race([this.exitPromise, timer]);
    if (first !== 'timeout') return first;
    return this.kill();
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo ?? { code: null, signal: null };
    this.signal('SIGKILL');
    return this.exitPromise;
  }

  /** The last `bytes` of the log file, for error messages. */
  logTail(bytes = 2000): string {
    return tailOfFile(this.spec.logFile, bytes);
  }
}

function writeToLog(file: string, text: string): void {
  appendFileSync(file, text);
}

export function tailOfFile(file: string, bytes = 2000): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const length = Math.min(size, bytes);
  const buf = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const finish = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export interface WaitOptions {
  host?: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Give up at once (with this process's log tail) when it exits while we wait. */
  process?: ManagedProcess;
}

/** Resolves once host:port accepts a TCP connection; rejects after `timeoutMs` (default 30 s). */
export async function waitForPort(port: number, opts: WaitOptions = {}): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  await waitUntil(`${host}:${port} to accept connections`, () => canConnect(port, host), opts);
}

/** Polls `check` until it returns true, failing early when `opts.process` exits. */
export async function waitUntil(what: string, check: () => Promise<boolean>, opts: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const interval = opts.intervalMs ?? 100;
  const proc = opts.process;
  for (;;) {
    if (proc !== undefined && !proc.running) {
      const exit = proc.lastExit;
      const how = exit?.signal != null ? `signal ${exit.signal}` : `code ${String(exit?.code ?? null)}`;
      throw new Error(`${proc.name} exited (${how}) while waiting for ${what}; log ${proc.spec.logFile}:\n${proc.logTail()}`);
    }
    if (await check()) return;
    if (Date.now() >= deadline) {
      const tail = proc !== undefined ? `; log ${proc.spec.logFile}:\n${proc.logTail()}` : '';
      throw new Error(`timed out waiting for ${what}${tail}`);
    }
    await sleep(interval);
  }
}

/** True when nothing listens on host:port (we can bind it). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` distinct free ports: binds port 0 that many times, holding every socket until all are
 * chosen so no two are equal, then releases them. Another process may still take one before it is
 * used; callers that bind later retry or fail clearly.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen({ port: 0, host, exclusive: true }, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('listening socket has no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port;
}
