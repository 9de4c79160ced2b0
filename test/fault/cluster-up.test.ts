// fault tests (operators): what a user does with `spool cluster up --brokers 3` — Kafka's own
// kafka-topics creates a replication-factor-3 topic and describes it; an acks=all producer and a
// consumer group (KafkaJS) keep working while one broker is SIGKILLed (by the pid cluster up
// printed) and then restarted by hand with `spool start` on its data; kafka-topics --describe
// shows it back in every ISR; every acknowledged record is consumed by the group, none twice in
// one generation of the assignment, none that was never sent.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { isPortFree } from '../../src/cli/process.js';
import { etcdBinary, waitUntil } from '../helpers/cluster.js';
import { tempDir } from '../helpers/broker.js';
import { repoRoot, requireToolchain } from '../interop/common.js';
import { kafkaToolsAvailable, runKafkaClass } from '../interop/kafka-tools.js';

const { Kafka, logLevel } = kafkajs;
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const TOPIC = 'ops';
const MAX_RECORDS = 50_000;

/** A base port with base..base+2 free, and an etcd port pair, picked at random in 20000-59999. */
async function pickPorts(): Promise<{ base: number; etcd: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const ports = [base, base + 1, base + 2, base + 10, base + 11];
    const free = await Promise.all(ports.map((p) => isPortFree(p)));
    if (free.every(Boolean)) return { base, etcd: base + 10 };
  }
  throw new Error('no free port range');
}

async function topics(bootstrap: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const r = await runKafkaClass('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, ...args]);
  return { code: r.code ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Parses kafka-topics --describe partition lines into leader / replicas / isr per partition. */
function describeLines(out: string): Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }> {
  const rows: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }> = [];
  for (const line of out.split('\n')) {
    const m = /Partition:\s*(\d+)\s+Leader:\s*(-?\d+)\s+Replicas:\s*([\d,]+)\s+Isr:\s*([\d,]*)/.exec(line);
    if (m) rows.push({ partition: Number(m[1]), leader: Number(m[2]), replicas: m[3].split(',').map(Number), isr: m[4] === '' ? [] : m[4].split(',').map(Number) });
  }
  return rows.sort((a, b) => a.partition - b.partition);
}

t.test('spool cluster up: kafka-topics, acks=all and a consumer group through a broker kill and manual restart', async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server)')) return;
  if (!requireToolchain(t, await kafkaToolsAvailable(), 'Kafka tool jars are missing (bash scripts/setup-interop.sh)')) return;
  const d = tempDir('spool-cluster-up-');
  // SPOOL_KEEP_DIRS=1 keeps the brokers' data and logs for a post-mortem.
  if (process.env.SPOOL_KEEP_DIRS !== '1') t.teardown(d.cleanup);
  else t.comment(`data kept in ${d.dir}`);
  const { base, etcd } = await pickPorts();
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((resolve) => c.once('exit', resolve)) : Promise.resolve())));
  });
  const overrides = ['--override', 'broker.session.timeout.ms=3000', '--override', 'min.insync.replicas=2', '--override', 'group.initial.rebalance.delay.ms=0', '--override', 'replica.fetch.wait.max.ms=100'];
  const up = spawn(process.execPath, [cli, 'cluster', 'up', '--brokers', '3', '--dir', d.dir, '--base-port', String(base), '--etcd-port', String(etcd), ...overrides], { cwd: repoRoot });
  children.push(up);
  let printed = '';
  up.stdout.on('data', (b: Buffer) => (printed += b.toString()));
  up.stderr.on('data', (b: Buffer) => (printed += b.toString()));
  await waitUntil('cluster up to print its bootstrap line', () => Promise.resolve(printed.includes('cluster up: bootstrap')), { timeoutMs: 60_000 });
  const brokers = [...printed.matchAll(/^broker (\d+)\s+(\S+)\s+pid (\d+)/gm)].map((m) => ({ nodeId: Number(m[1]), address: m[2], pid: Number(m[3]) }));
  t.same(
    brokers.map((b) => b.nodeId),
    [1, 2, 3],
    'one line per broker with node id, address and pid',
  );
  const bootstrap = brokers.map((b) => b.address).join(',');

  const created = await topics(bootstrap, '--create', '--topic', TOPIC, '--partitions', '3', '--replication-factor', '3');
  t.equal(created.code, 0, `kafka-topics --create --replication-factor 3 (${created.out.trim().slice(-300)})`);
  await waitUntil('all replicas in sync', async () => describeLines((await topics(bootstrap, '--describe', '--topic', TOPIC)).out).every((p) => p.isr.length === 3), { timeoutMs: 30_000 });
  const before = describeLines((await topics(bootstrap, '--describe', '--topic', TOPIC)).out);
  t.same(
    before.map((p) => p.replicas.length),
    [3, 3, 3],
    'kafka-topics --describe: 3 partitions with 3 replicas each',
  );

  // Load: an acks=all producer and a consumer group, both running throughout.
  const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'cluster-up', logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const acked = new Set<string>();
  const consumed = new Map<string, number>();
  const load = { stop: false, sent: 0, failures: 0 };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const producing = (async () => {
    // Bounded by MAX_RECORDS and the stop flag.
    while (!load.stop && load.sent < MAX_RECORDS) {
      // One partition per send: KafkaJS drops the part of a multi-broker send whose partition moved
      // to a broker that already answered another part of it (sendMessages keys retries by
      // broker), which would be the client's loss, not the cluster's.
      const partition = Math.floor(load.sent / 20) % 3;
      const values = Array.from({ length: 20 }, () => `r${load.sent++}`);
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ value, partition })) });
        for (const v of values) acked.add(v);
      } catch {
        load.failures++;
      }
    }
  })();
  const consumer = kafka.consumer({ groupId: 'ops-group', maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const v = message.value?.toString() ?? '';
      consumed.set(v, (consumed.get(v) ?? 0) + 1);
      await Promise.resolve();
    },
  });
  await waitUntil('records acknowledged and consumed', () => Promise.resolve(acked.size > 500 && consumed.size > 200), { timeoutMs: 60_000 });

  // Kill broker 2 by its printed pid; everything keeps working on the other two.
  const victim = brokers[1];
  process.kill(victim.pid, 'SIGKILL');
  const ackedAtKill = acked.size;
  const consumedAtKill = consumed.size;
  await waitUntil('writes acknowledged without broker 2', () => Promise.resolve(acked.size > ackedAtKill + 1000), { timeoutMs: 60_000 });
  await waitUntil('the group consumes without broker 2', () => Promise.resolve(consumed.size > consumedAtKill + 500), { timeoutMs: 60_000 });
  const during = describeLines((await topics(brokers[0].address, '--describe', '--topic', TOPIC)).out);
  t.ok(during.every((p) => p.leader !== victim.nodeId && !p.isr.includes(victim.nodeId)), 'kafka-topics --describe: broker 2 leads nothing and left every ISR');

  // Restart it by hand, as an operator would, on its data and settings.
  const port = Number(victim.address.split(':')[1]);
  const restarted = spawn(
    process.execPath,
    [
      cli,
      'start',
      '--override',
      `node.id=${victim.nodeId}`,
      '--override',
      `log.dirs=${join(d.dir, `broker-${victim.nodeId}`)}`,
      '--override',
      `listeners=PLAINTEXT://127.0.0.1:${port}`,
      '--override',
      `spool.etcd.endpoints=http://127.0.0.1:${etcd}`,
      ...overrides,
    ],
    { cwd: repoRoot, stdio: 'ignore' },
  );
  children.push(restarted);
  await waitUntil('broker 2 back in every ISR', async () => describeLines((await topics(brokers[0].address, '--describe', '--topic', TOPIC)).out).every((p) => p.isr.includes(victim.nodeId)), { timeoutMs: 90_000 });
  t.pass('kafka-topics --describe: the restarted broker is back in every ISR');
  const under = await topics(bootstrap, '--describe', '--under-replicated-partitions', '--topic', TOPIC);
  t.equal(describeLines(under.out).length, 0, 'no under-replicated partitions');

  load.stop = true;
  await producing;
  await producer.disconnect();
  await waitUntil('the group consumed every acknowledged record', () => Promise.resolve([...acked].every((v) => consumed.has(v))), { timeoutMs: 60_000 }).catch(() => undefined);
  await consumer.disconnect();
  const lost = [...acked].filter((v) => !consumed.has(v));
  // Where the group's misses are, if any: a fresh reader shows whether the log has them.
  const fresh = new Map<string, string>();
  if (lost.length > 0) {
    const reader = kafka.consumer({ groupId: `ops-audit-${Date.now()}`, maxWaitTimeInMs: 200 });
    await reader.connect();
    await reader.subscribe({ topic: TOPIC, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        fresh.set(message.value?.toString() ?? '', `${partition}@${message.offset}`);
        await Promise.resolve();
      },
    });
    await waitUntil('the audit read', () => Promise.resolve(fresh.size >= acked.size), { timeoutMs: 30_000 }).catch(() => undefined);
    await reader.disconnect();
    t.comment(`missed by the group: ${lost.slice(0, 20).map((v) => `${v}=${fresh.get(v) ?? 'not in the log'}`).join(' ')}`);
  }
  const phantom = [...consumed.keys()].filter((v) => !/^r\d+$/.test(v) || Number(v.slice(1)) >= load.sent);
  t.comment(`cluster up: acknowledged ${acked.size}, consumed ${consumed.size} distinct, send failures ${load.failures}, redelivered ${[...consumed.values()].filter((n) => n > 1).length}`);
  t.same(lost.slice(0, 10), [], 'the consumer group got every acknowledged record');
  t.same(phantom.slice(0, 10), [], 'nothing consumed that was never sent');
  up.kill('SIGTERM');
});
