// test/interop room (share groups, KIP-932): Apache Kafka's KafkaShareConsumer (kafka-clients
// 4.4) against Spool — several consumers share one partition and each record is delivered to
// one of them at a time; released records come back up to group.share.delivery.count.limit,
// rejected ones never; the records a killed consumer held return after the acquisition lock;
// acknowledged offsets and delivery counts survive a broker restart; kafka-share-groups
// --describe reads the group. The consumers run as threads of one JVM per step
// (share/java/ShareConsumers.java, compiled here with javac against the 4.4 client jars: it is
// not part of the kafka-clients 4.1 build of setup-interop.sh).
import t from 'tap';
import kafkajs from 'kafkajs';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, removeDir, requireToolchain, run, runId, startSpool, tempDir, works, type SpoolHandle } from './common.js';
import { kafkaToolsAvailable, runKafkaClass } from './kafka-tools.js';

const { Kafka, logLevel } = kafkajs;

const dependencies = join(interopDir, 'java', 'target', 'dependency');
const dir = join(interopDir, 'share', 'java');
const classes = join(dir, 'target', 'classes'); // target/ is git-ignored
const mainClass = join(classes, 'spool', 'interop', 'share', 'ShareConsumers.class');
const LOCK_MS = 2000;
const DELIVERY_LIMIT = 5;

async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  const source = join(dir, 'ShareConsumers.java');
  if (!isStale(mainClass, [source, dependencies])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt()) && (await kafkaToolsAvailable());

interface Delivery {
  consumer: number;
  offset: number;
  count: number;
  value: string;
  ack: string;
}

function javaArgs(bootstrap: string, group: string, topic: string, consumers: number, idleMs: number, options: string[]): string[] {
  return [
    '-Xmx192m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-cp',
    `${classes}:${dependencies}/*`,
    'spool.interop.share.ShareConsumers',
    bootstrap,
    group,
    topic,
    String(consumers),
    String(idleMs),
    '60000',
    ...options,
  ];
}

function deliveries(stdout: string): Delivery[] {
  const out: Delivery[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] !== 'DELIVER' || f.length < 7) continue;
    out.push({ consumer: Number(f[1]), offset: Number(f[3]), count: Number(f[4]), value: f[5] ?? '', ack: f[6] ?? '' });
  }
  return out;
}

async function consume(spool: SpoolHandle, group: string, topic: string, consumers: number, idleMs: number, options: string[]): Promise<{ stdout: string; list: Delivery[] }> {
  const r = await run('java', javaArgs(spool.bootstrap, group, topic, consumers, idleMs, options), { timeoutMs: 120_000 });
  if (r.code !== 0 || !r.stdout.includes('DONE')) throw new Error(`ShareConsumers exited ${r.code}:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  return { stdout: r.stdout, list: deliveries(r.stdout) };
}

async function describeShareGroup(bootstrap: string, group: string): Promise<string> {
  const r = await runKafkaClass('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--bootstrap-server', bootstrap, '--describe', '--group', group]);
  if (r.code !== 0) throw new Error(`kafka-share-groups exited ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/** The START-OFFSET column of kafka-share-groups --describe for topic-partition 0. */
function startOffsetOf(describe: string, group: string, topic: string): number | null {
  for (const line of describe.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === group && f[1] === topic && f[2] === '0') return Number(f[3]);
  }
  return null;
}

async function produce(bootstrap: string, topic: string, batches: string[][]): Promise<void> {
  const kafka = new Kafka({ clientId: 'share-interop', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  // One send per batch: the broker keeps producer batches, so this fixes the batch boundaries.
  for (const values of batches) await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
}

t.test('Java KafkaShareConsumer share groups against Spool', async (t) => {
  if (!requireToolchain(t, ready, 'java/javac, the Java interop jars (test/interop/java/target/dependency) or the Kafka tool jars are missing')) return;
  const dataDir = tempDir('interop-share-java');
  const spool = await startSpool(dataDir, {
    config: {
      'group.share.record.lock.duration.ms': LOCK_MS,
      'group.share.delivery.count.limit': DELIVERY_LIMIT,
      'share.coordinator.state.topic.num.partitions': 3,
      'offsets.topic.num.partitions': 3,
    },
  });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  const id = runId();

  await t.test('three consumers share one partition; released records come back up to the limit, rejected ones never', async (t) => {
    const topic = `share-a-${id}`;
    const group = `share-ga-${id}`;
    const values = [...Array.from({ length: 30 }, (_, i) => `ok-${i}`), 'rel-30', 'rej-31', ...Array.from({ length: 10 }, (_, i) => `ok-${32 + i}`)];
    await produce(spool.bootstrap, topic, values.map((v) => [v]));
    const { stdout, list } = await consume(spool, group, topic, 3, 2500, ['--reset-earliest', '--max-poll', '4', '--sleep-ms', '5']);
    t.notMatch(stdout, /^ERROR/m, 'no consumer failed');
    const seen = new Set<string>();
    for (const d of list) {
      const k = `${d.offset}/${d.count}`;
      t.notOk(seen.has(k), `offset ${d.offset} delivery ${d.count} went to one consumer only`);
      seen.add(k);
    }
    const byOffset = new Map<number, Delivery[]>();
    for (const d of list) byOffset.set(d.offset, [...(byOffset.get(d.offset) ?? []), d]);
    for (let offset = 0; offset < values.length; offset++) {
      const got = byOffset.get(offset) ?? [];
      if ((values[offset] ?? '').startsWith('ok')) t.same(got.map((d) => [d.count, d.ack]), [[1, 'ACCEPT']], `${values[offset] ?? ''} delivered once, accepted`);
    }
    t.same((byOffset.get(30) ?? []).map((d) => d.count), [1, 2, 3, 4, 5], 'a released record is redelivered until the delivery count limit, then archived');
    t.same((byOffset.get(31) ?? []).map((d) => [d.count, d.ack]), [[1, 'REJECT']], 'a rejected record is never redelivered');
    t.ok(new Set(list.map((d) => d.consumer)).size >= 2, 'records went to more than one consumer');
    const described = await describeShareGroup(spool.bootstrap, group);
    t.equal(startOffsetOf(described, group, topic), values.length, `kafka-share-groups --describe: start offset past every record\n${described}`);
  });

  await t.test("a killed consumer's acquired records return after the acquisition lock", async (t) => {
    const topic = `share-b-${id}`;
    const group = `share-gb-${id}`;
    await produce(spool.bootstrap, topic, [['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4']]);
    // The holder acquires and acknowledges nothing; it is killed once it holds records.
    const holder = spawn('java', javaArgs(spool.bootstrap, group, topic, 1, 60_000, ['--reset-earliest', '--hold']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let held = '';
    const holding = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the holder acquired nothing:\n${held}`)), 60_000);
      holder.stdout.on('data', (b: Buffer) => {
        held += b.toString('utf8');
        if (held.includes('HOLDING')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const exited = new Promise<void>((resolve) => holder.on('close', () => resolve()));
    try {
      await holding;
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
    const heldOffsets = deliveries(held).map((d) => d.offset);
    t.same(heldOffsets, [0, 1, 2, 3, 4], 'the killed consumer held every record');
    const { list } = await consume(spool, group, topic, 1, 2000, []);
    t.same(
      list.map((d) => [d.offset, d.count, d.ack]),
      heldOffsets.map((o) => [o, 2, 'ACCEPT']),
      'after the lock expired the records were delivered again, as their second delivery',
    );
  });

  await t.test('acknowledged offsets and delivery counts survive a broker restart', async (t) => {
    const topic = `share-c-${id}`;
    const group = `share-gc-${id}`;
    await produce(spool.bootstrap, topic, [['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4', 'rel-5', 'rel-6', 'rel-7', 'rel-8', 'rel-9']]);
    // Accept ok-*, release rel-* once; stop (releasing) at their second delivery.
    const first = await consume(spool, group, topic, 1, 2500, ['--reset-earliest', '--stop-at-count', '2']);
    t.same(first.list.filter((d) => d.count === 1).map((d) => d.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await spool.restart();
    const after = await describeShareGroup(spool.bootstrap, group);
    t.equal(startOffsetOf(after, group, topic), 5, `the start offset (past the accepted records) came back from __share_group_state\n${after}`);
    const second = await consume(spool, group, topic, 1, 2000, ['--accept-all']);
    t.same(
      second.list.map((d) => [d.offset, d.count]),
      [5, 6, 7, 8, 9].map((o) => [o, 3]),
      'only the released records are delivered again, their delivery count continuing from before the restart',
    );
  });
});
