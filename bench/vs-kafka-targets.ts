// bench/ room: the brokers bench/vs-kafka.ts compares, each one child process on loopback with
// fresh temp dirs: Spool as `node dist/src/cli/main.js start --engine <native|ts>`, Apache Kafka
// as a single combined broker+controller KRaft node from the jars, started as kafka-server-start
// starts it (1 GiB heap, G1). CPU and RSS come from /proc/<pid> of that one process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execBounded, kafkaBrokerJvm, kafkaJarsDir, kafkaToolJvm, pidCpuSeconds, repoRoot } from './common.js';

export type TargetName = 'spool-native' | 'spool-ts' | 'kafka';

export interface Target {
  name: TargetName;
  host: string;
  port: number;
  /** Port of the SSL listener, when started with one (bench/tls.ts). */
  sslPort?: number;
  /** Wall time from spawn to the listener accepting, ms. */
  startMs: number;
  /** The broker process (for /proc: fds, RSS). */
  pid: number;
  cpuSeconds: () => number;
  /** Resident set size now, bytes (VmRSS). */
  rssBytes: () => number;
  stop: () => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      server.close(() => {
        if (addr === null || typeof addr === 'string') reject(new Error('no port'));
        else resolve(addr.port);
      });
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Spawns, keeps the last 20 KB of output, waits for the port; SIGTERM then SIGKILL on stop. */
async function launch(name: TargetName, command: string, args: string[], cwd: string, port: number, dir: string, readyDelayMs: number): Promise<Target> {
  const started = performance.now();
  const child: ChildProcess = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (b: Buffer): void => {
    output = (output + b.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || pid === undefined) {
      await stop();
      throw new Error(`${name} exited with ${child.exitCode ?? '?'} before listening\n${output}`);
    }
    if (await canConnect(port)) {
      const startMs = performance.now() - started;
      // Kafka's listener accepts before the broker has registered with its controller.
      await new Promise((r) => setTimeout(r, readyDelayMs));
      return { name, host: '127.0.0.1', port, startMs, pid, cpuSeconds: () => pidCpuSeconds(pid), rssBytes: () => rssOf(pid), stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await exited;
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`${name} did not listen on ${port} within 120 s\n${output}`);
}

export async function startSpool(engine: 'native' | 'ts'): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `spool-vs-kafka-${engine}-`));
  const port = await freePort();
  // SPOOL_BENCH_NODE_ARGS: extra node flags for the Spool brokers (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`,
  // `--perf-basic-prof` for perf; docs/benchmarks.md "Produce profile").
  const nodeArgs = (process.env.SPOOL_BENCH_NODE_ARGS ?? '').split(' ').filter((x) => x !== '');
  // SPOOL_BENCH_SPOOL_ROOT: run the Spool build in that directory (its dist/ and native/), e.g. a
  // copy taken before a change, to compare builds in one session.
  const root = process.env.SPOOL_BENCH_SPOOL_ROOT ?? repoRoot;
  const args = [
    ...nodeArgs,
    join(root, 'dist', 'src', 'cli', 'main.js'),
    'start',
    '--engine',
    engine,
    '--log-level',
    'warn',
    '-o',
    `log.dirs=${join(dir, 'data')}`,
    '-o',
    `listeners=PLAINTEXT://127.0.0.1:${port}`,
    '-o',
    'spool.admin.listeners=',
  ];
  return launch(engine === 'native' ? 'spool-native' : 'spool-ts', process.execPath, args, dir, port, dir, 200);
}

export interface KafkaOptions {
  /** Adds an SSL listener with this PEM keystore file (private key, then the certificate chain). */
  sslKeystorePem?: string;
}

export async function startKafka(options: KafkaOptions = {}): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-vs-kafka-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  const sslPort = options.sslKeystorePem === undefined ? undefined : await freePort();
  const ssl = sslPort === undefined ? '' : `,SSL://127.0.0.1:${sslPort}`;
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${ssl}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}${ssl}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': join(dir, 'kafka-logs'),
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
  };
  if (options.sslKeystorePem !== undefined) {
    // An unencrypted PKCS#8 key needs no ssl.key.password (DefaultSslEngineFactory's PEM store).
    props['ssl.keystore.type'] = 'PEM';
    props['ssl.keystore.location'] = options.sslKeystorePem;
  }
  // Extra broker settings for experiments (comma list of key=value), e.g.
  // SPOOL_BENCH_KAFKA_CONFIG=log.index.size.max.bytes=1048576 (see docs/benchmarks.md, 1,000 partitions).
  for (const kv of (process.env.SPOOL_BENCH_KAFKA_CONFIG ?? '').split(',').filter((x) => x !== '')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`SPOOL_BENCH_KAFKA_CONFIG: ${kv} is not key=value`);
    props[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
  }
  const propsFile = join(dir, 'server.properties');
  writeFileSync(propsFile, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const clusterId = randomBytes(16).toString('base64url');
  const format = await execBounded('java', [...kafkaToolJvm(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], 120_000);
  if (format.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kafka-storage format failed (jars in ${kafkaJarsDir}):\n${format.output}`);
  }
  const args = [...kafkaBrokerJvm(['-Xmx1G', '-Xms1G']), `-Dkafka.logs.dir=${join(dir, 'app-logs')}`, 'kafka.Kafka', propsFile];
  const target = await launch('kafka', 'java', args, dir, port, dir, 1500);
  return sslPort === undefined ? target : { ...target, sslPort };
}

export function startTarget(name: TargetName): Promise<Target> {
  switch (name) {
    case 'spool-native':
      return startSpool('native');
    case 'spool-ts':
      return startSpool('ts');
    case 'kafka':
      return startKafka();
  }
}
