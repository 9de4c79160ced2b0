// bench/ room: rebalance time when a third member joins a stable group of two, classic protocol
// against the KIP-848 consumer protocol, with Apache Kafka's Java KafkaConsumer
// (`npm run bench:rebalance`, issue 11). One in-process Spool broker per configuration; per round
// a fresh topic of 6 partitions and a fresh group: members A and B start and settle (3 partitions
// each), then C starts. Measured on the broker's clock, from the third member's arrival (classic:
// the rebalance starting, PreparingRebalance; consumer: the group epoch bump of C's first
// heartbeat) to (1) the coordinator's view of the group settling — classic: Stable after
// SyncGroup, consumer: every member reconciled to the new epoch — and (2) the last of the three
// clients reporting its final two partitions from its rebalance listener. JVM start-up is outside
// both. Members: test/interop/groups/java/GroupMember (classic: range then cooperative-sticky,
// eager range wins; session.timeout.ms 10000, heartbeat.interval.ms 1000) and
// test/interop/groups/java848/ConsumerProtocolMember (group.protocol=consumer, uniform assignor),
// compiled with javac against test/interop/java/target/dependency (scripts/setup-interop.sh).
//
//   BENCH_ROUNDS                       rounds per configuration (default 3)
//   BENCH_CONSUMER_HEARTBEAT_MS        group.consumer.heartbeat.interval.ms values, comma list
//                                      (default 5000,1000: Kafka's default and the classic members' 1 s)
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import kafkajs from 'kafkajs';
import type { StableGeneration } from '../src/coordinator/group/index.js';
import { startBroker } from '../src/index.js';
import { envInt, execBounded, repoRoot } from './common.js';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 6;
const dependencies = join(repoRoot, 'test', 'interop', 'java', 'target', 'dependency');
const sources = {
  classic: { dir: join(repoRoot, 'test', 'interop', 'groups', 'java'), file: 'GroupMember.java', main: 'spool.interop.groups.GroupMember' },
  consumer: { dir: join(repoRoot, 'test', 'interop', 'groups', 'java848'), file: 'ConsumerProtocolMember.java', main: 'spool.interop.groups.ConsumerProtocolMember' },
} as const;
type Protocol = keyof typeof sources;

interface Member {
  proc: ChildProcessWithoutNullStreams;
  /** Latest partitions the client reports owning, and when (Date.now) it reported them. */
  owned: number[];
  at: number;
}

function classesOf(p: Protocol): string {
  return join(sources[p].dir, 'target', 'classes');
}

async function build(p: Protocol): Promise<void> {
  const s = sources[p];
  const r = await execBounded('javac', ['-cp', `${dependencies}/*`, '-d', classesOf(p), join(s.dir, s.file)], 180_000);
  if (r.code !== 0) throw new Error(`javac ${s.file} failed:\n${r.output}`);
}

function startMember(p: Protocol, bootstrap: string, topic: string, group: string, name: string): Member {
  const s = sources[p];
  const proc = spawn('java', ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${classesOf(p)}:${dependencies}/*`, s.main, bootstrap, topic, group, name], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const m: Member = { proc, owned: [], at: 0 };
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (!line.startsWith('{"ev":"assigned"') && !line.startsWith('{"ev":"revoked"')) return;
    const e = JSON.parse(line) as { ev: string; partitions: number[] };
    if (e.ev === 'assigned') m.owned = e.partitions;
    else m.owned = m.owned.filter((x) => !e.partitions.includes(x));
    m.at = Date.now();
  });
  proc.stderr.resume();
  return m;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stopAll(members: Member[]): Promise<void> {
  await Promise.all(
    members.map(
      (m) =>
        new Promise<void>((resolve) => {
          if (m.proc.exitCode !== null || m.proc.signalCode !== null) {
            resolve();
            return;
          }
          m.proc.once('close', () => resolve());
          m.proc.kill('SIGKILL');
        }),
    ),
  );
}

interface Sample {
  coordinatorMs: number;
  clientsMs: number;
}

async function runConfig(protocol: Protocol, heartbeatMs: number, rounds: number): Promise<Sample[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'spool-bench-rebalance-'));
  const running = await startBroker({ dataDir, host: '127.0.0.1', port: 0, config: { 'group.consumer.heartbeat.interval.ms': String(heartbeatMs) } });
  const broker = running.broker;
  const bootstrap = running.bootstrap;
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'bench-rebalance', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const samples: Sample[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const topic = `rebalance-${protocol}-${heartbeatMs}-${round}`;
      const group = `${topic}-group`;
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
      const stable: StableGeneration[] = [];
      const stableAt: number[] = [];
      const off = broker.groupCoordinator.onStableGeneration((g) => {
        if (g.groupId !== group) return;
        stable.push(g);
        stableAt.push(Date.now());
      });
      const members = [startMember(protocol, bootstrap, topic, group, 'A'), startMember(protocol, bootstrap, topic, group, 'B')];
      try {
        await waitFor(() => members.every((m) => m.owned.length === 3) && stable.some((g) => g.assignments.length === 2), 120_000, 'two members to settle');
        await new Promise((r) => setTimeout(r, 1500));
        const before = stable.length;
        members.push(startMember(protocol, bootstrap, topic, group, 'C'));
        await waitFor(() => stable.slice(before).some((g) => g.assignments.length === 3), 120_000, 'the third member to be reconciled');
        await waitFor(() => members.every((m) => m.owned.length === 2), 60_000, 'every client to hold two partitions');
        const i = stable.findIndex((g, k) => k >= before && g.assignments.length === 3);
        const g = stable[i];
        const joinedAt = stableAt[i] - g.rebalanceMs;
        const clientsDone = Math.max(...members.map((m) => m.at));
        samples.push({ coordinatorMs: g.rebalanceMs, clientsMs: clientsDone - joinedAt });
        process.stdout.write(`  ${protocol} hb=${heartbeatMs} round ${round + 1}: coordinator ${g.rebalanceMs} ms, clients ${clientsDone - joinedAt} ms\n`);
      } finally {
        off();
        await stopAll(members);
      }
    }
  } finally {
    await admin.disconnect();
    await running.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return samples;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  if (!existsSync(dependencies)) throw new Error(`${dependencies} is missing: run bash scripts/setup-interop.sh`);
  const rounds = envInt('BENCH_ROUNDS', 3);
  const heartbeats = (process.env.BENCH_CONSUMER_HEARTBEAT_MS ?? '5000,1000').split(',').map((x) => Number(x.trim()));
  await build('classic');
  await build('consumer');
  const rows: Array<{ label: string; samples: Sample[] }> = [];
  rows.push({ label: 'classic (heartbeat.interval.ms 1000)', samples: await runConfig('classic', 5000, rounds) });
  for (const hb of heartbeats) rows.push({ label: `consumer (group.consumer.heartbeat.interval.ms ${hb})`, samples: await runConfig('consumer', hb, rounds) });
  process.stdout.write('\nthird member joining a stable group of two (6 partitions), median of rounds, ms:\n');
  process.stdout.write('protocol                                          coordinator   clients\n');
  for (const r of rows) {
    process.stdout.write(`${r.label.padEnd(50)}${String(median(r.samples.map((s) => s.coordinatorMs))).padStart(11)}${String(median(r.samples.map((s) => s.clientsMs))).padStart(10)}\n`);
  }
}

const bound = setTimeout(() => {
  process.stderr.write('bench:rebalance: overall time bound (15 min) reached\n');
  process.exit(2);
}, 15 * 60_000);
bound.unref();
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:rebalance failed: ${String(err)}\n`);
    process.exit(1);
  },
);
