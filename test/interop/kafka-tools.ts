// test/interop room: Apache Kafka's own tools, run from the Maven Central jars that
// scripts/setup-interop.sh puts in .cache/kafka-jars/ — kafka-dump-log (DumpLogSegments),
// kafka-consumer-groups (ConsumerGroupCommand), and, for developing the client programs only,
// a real single-node KRaft Kafka broker. No test depends on the real broker.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot, run, type RunResult } from './common.js';

export const kafkaJarsDir = process.env.SPOOL_KAFKA_JARS ?? join(repoRoot, '.cache', 'kafka-jars');

/** True when the jars are fetched and a java binary runs. */
export async function kafkaToolsAvailable(): Promise<boolean> {
  if (!existsSync(kafkaJarsDir)) return false;
  if (!readdirSync(kafkaJarsDir).some((f) => /^kafka_2\.13-.*\.jar$/.test(f))) return false;
  try {
    return (await run('java', ['-version'], { timeoutMs: 30_000 })).code === 0;
  } catch {
    return false;
  }
}

const jvmOptions = ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dlog4j2.level=WARN'];

/** Runs a main class from the Kafka jars and returns everything it printed. */
export async function runKafkaClass(mainClass: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run('java', [...jvmOptions, '-cp', `${kafkaJarsDir}/*`, mainClass, ...args], { timeoutMs });
}

function checked(what: string, r: RunResult): string {
  if (r.timedOut) throw new Error(`${what} timed out\n${r.stderr}`);
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  return r.stdout;
}

/**
 * kafka-dump-log: `org.apache.kafka.tools.DumpLogSegments --deep-iteration --print-data-log --files ...`.
 * Returns stdout plus the tool's stderr findings; throws if it exits non-zero. Callers look for
 * mismatch/corruption lines.
 */
export async function dumpLogSegments(files: string[], extraArgs: string[] = []): Promise<string> {
  const r = await runKafkaClass('org.apache.kafka.tools.DumpLogSegments', [
    '--deep-iteration',
    '--print-data-log',
    ...extraArgs,
    '--files',
    files.join(','),
  ]);
  return checked('DumpLogSegments', r) + toolNotes(r);
}

/**
 * What a tool printed on stderr besides SLF4J's start-up noise. DumpLogSegments reports its
 * verification results there ("Mismatches in :...", out-of-order timestamps), so callers must see it.
 */
function toolNotes(r: RunResult): string {
  const notes = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('SLF4J:'));
  return notes.length > 0 ? `\n${notes.join('\n')}\n` : '';
}

/** kafka-consumer-groups --describe --group <group>. Returns what it printed; throws on a non-zero exit. */
export async function consumerGroupsDescribe(bootstrap: string, group: string, extraArgs: string[] = []): Promise<string> {
  const r = await runKafkaClass('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
    '--bootstrap-server',
    bootstrap,
    '--describe',
    '--group',
    group,
    ...extraArgs,
  ]);
  // Some answers ("Consumer group 'g' has no active members.") go to stderr.
  return checked('ConsumerGroupCommand', r) + toolNotes(r);
}

/** A free loopback port (closed again; good enough for a test-only broker). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RealKafka {
  bootstrap: string;
  logDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts Apache Kafka itself (KRaft, combined broker+controller, node 1) on 127.0.0.1 with
 * random ports, formatting `dir` first. For checking the client programs against the reference
 * implementation; Spool's tests never need it.
 */
export async function startRealKafka(dir: string, overrides: Record<string, string> = {}): Promise<RealKafka> {
  const port = await freePort();
  const controllerPort = await freePort();
  const logDir = join(dir, 'kafka-logs');
  mkdirSync(logDir, { recursive: true });
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': logDir,
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    ...overrides,
  };
  const propsFile = join(dir, 'server.properties');
  writeFileSync(propsFile, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  // A KRaft cluster id is 16 random bytes in URL-safe base64 without padding.
  const clusterId = randomBytes(16).toString('base64url');
  checked('StorageTool format', await runKafkaClass('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', propsFile]));

  const child = spawn('java', ['-Xmx768m', '-XX:+UseSerialGC', '-cp', `${kafkaJarsDir}/*`, 'kafka.Kafka', propsFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-20_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Kafka exited with ${child.exitCode}\n${output}`);
    if (await canConnect(port)) {
      // The listener accepts before the broker has registered; give it a moment to be ready.
      await new Promise((r) => setTimeout(r, 1500));
      return {
        bootstrap: `127.0.0.1:${port}`,
        logDir,
        process: child,
        async stop() {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          await exited;
          clearTimeout(timer);
        },
      };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGKILL');
  throw new Error(`Kafka did not start listening on ${port} within 90 s\n${output}`);
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
