// test helpers: a throwaway etcd server (one member, loopback ports, temp data dir) that a test
// starts, kills, restarts on the same data dir and stops. The binary is SPOOL_ETCD_BIN or `etcd`
// on PATH (Debian: apt-get install etcd-server). Without it the test is skipped, or fails under CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_INSTALL_HINT = 'install etcd (apt-get install etcd-server) or set SPOOL_ETCD_BIN to its path';

/** The etcd binary to run, or null when there is none. */
export function findEtcd(): string | null {
  const bin = process.env.SPOOL_ETCD_BIN ?? 'etcd';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return probe.status === 0 && probe.stdout.includes('etcd Version') ? bin : null;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The part of tap's Test used here. */
interface TapLike {
  fail(message: string): unknown;
  plan(n: number, comment?: string): unknown;
  comment(...args: unknown[]): unknown;
}

/** Reports a missing etcd: a failure under CI=true, a skip (plan 0, with the reason) otherwise. */
export function reportMissingEtcd(t: TapLike): void {
  const reason = `etcd not found: ${ETCD_INSTALL_HINT}`;
  if (process.env.CI === 'true') {
    t.fail(`${reason} (CI=true: etcd is required)`);
  } else {
    t.comment(`skipping: ${reason}`);
    t.plan(0, reason);
  }
}

export class EtcdServer {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly bin: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Starts a fresh single-member etcd; resolves once it answers /health. */
  static async start(bin: string): Promise<EtcdServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'spool-etcd-'));
    const server = new EtcdServer(bin, join(dataDir, 'data'), await freePort(), await freePort());
    await server.restart();
    return server;
  }

  /** (Re)starts the process on the same ports and data dir. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('etcd is already running');
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      this.bin,
      [
        '--name', 'default',
        '--data-dir', this.dataDir,
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `default=${peer}`,
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-8192);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', () => {
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (this.child !== child) throw new Error(`etcd exited at start:\n${this.output}`);
      try {
        const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`etcd did not become healthy in 20 s:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the process (SIGKILL: a crash) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  /** Stops the process and removes the data dir. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(join(this.dataDir, '..'), { recursive: true, force: true });
  }
}
