// test/fault room (issue 15 item 5): a topic created with many partitions survives kill -9 right
// after CreateTopics answers. The broker runs as `spool start` in a child process, once per engine;
// a topic of PARTITIONS partitions is created (its partitions open together, their first leader
// epoch checkpoints fsynced in one batch: ReplicaManager.addPartitions, DeferredSync), the broker is
// killed with SIGKILL as soon as the answer arrives and restarted on the same data dir. Then:
//   - every partition directory is there, with partition.metadata naming the topic id and a
//     leader-epoch-checkpoint holding epoch 0 at offset 0;
//   - Metadata lists the topic with every partition, led by this broker;
//   - a record produced (acks=all) to every partition is at offset 0 of it (ListOffsets high 1).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { loadNative } from '../helpers/engines.js';
import { removeDir, repoRoot, tempDir } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const PARTITIONS = 200;
const TOPIC = 'many';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Broker {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<void>;
}

async function startBroker(dataDir: string, port: number, engine: string): Promise<Broker> {
  const overrides = [`log.dirs=${dataDir}`, `listeners=PLAINTEXT://127.0.0.1:${port}`, `spool.engine=${engine}`, 'spool.admin.listeners='];
  const child = spawn(process.execPath, [cli, 'start', ...overrides.flatMap((o) => ['--override', o])], { stdio: ['pipe', 'pipe', 'pipe'], cwd: repoRoot });
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stderr.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out.slice(-2000)}`)), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      out = (out + b.toString()).slice(-20_000);
      if (out.includes('"msg":"Spool broker started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`broker exited early: ${out.slice(-2000)}`));
    });
  });
  return { child, exited };
}

/** The port may linger briefly after a kill: a few attempts. */
async function restartBroker(dataDir: string, port: number, engine: string): Promise<Broker> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      return await startBroker(dataDir, port, engine);
    } catch (err) {
      lastError = err;
      await sleep(1000);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function kill9(broker: Broker): Promise<void> {
  broker.child.kill('SIGKILL');
  await broker.exited;
}

async function stop(broker: Broker): Promise<void> {
  if (broker.child.exitCode !== null || broker.child.signalCode !== null) return;
  broker.child.kill('SIGTERM');
  const timer = setTimeout(() => broker.child.kill('SIGKILL'), 20_000);
  await broker.exited;
  clearTimeout(timer);
}

async function engines(tap: { fail(m: string): void; comment(m: string): void }): Promise<string[]> {
  const native = await loadNative();
  if (native.engine !== null) return ['ts', 'native'];
  if (process.env.CI === 'true') tap.fail(`native storage engine did not load: ${native.reason}`);
  else tap.comment(`native storage engine not available, testing ts only: ${native.reason}`);
  return ['ts'];
}

for (const engine of await engines(t)) {
  t.test(`${engine} engine: ${PARTITIONS} partitions created, kill -9 at once, all there after the restart`, async (t) => {
    const dir = tempDir(`create-kill9-${engine}`);
    t.teardown(() => removeDir(dir));
    const dataDir = join(dir, 'data');
    const port = await freePort();
    let broker = await startBroker(dataDir, port, engine);
    t.teardown(() => stop(broker));
    const kafka = new Kafka({ clientId: 'create-kill9', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8 } });
    const admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: false, timeout: 120_000 });
    await kill9(broker);
    await admin.disconnect();
    t.ok(created, 'CreateTopics answered: the topic was created');

    // On disk as the killed broker left it (before the restart touches anything).
    const missing: number[] = [];
    const badEpochs: number[] = [];
    const ids = new Set<string>();
    for (let p = 0; p < PARTITIONS; p++) {
      const partitionDir = join(dataDir, `${TOPIC}-${p}`);
      if (!existsSync(partitionDir)) {
        missing.push(p);
        continue;
      }
      const meta = /^topic_id:\s*(\S+)\s*$/m.exec(readFileSync(join(partitionDir, 'partition.metadata'), 'utf8'));
      if (meta !== null) ids.add(meta[1]);
      const epochs = existsSync(join(partitionDir, 'leader-epoch-checkpoint')) ? readFileSync(join(partitionDir, 'leader-epoch-checkpoint'), 'utf8') : '';
      if (epochs !== '0\n1\n0 0\n') badEpochs.push(p);
    }
    t.same(missing, [], 'every partition has its directory');
    t.same(badEpochs, [], 'every partition has leader-epoch-checkpoint with epoch 0 at offset 0');
    t.equal(ids.size, 1, 'every partition.metadata names the same topic id');

    broker = await restartBroker(dataDir, port, engine);
    const admin2 = kafka.admin();
    await admin2.connect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const metadata = await admin2.fetchTopicMetadata({ topics: [TOPIC] });
      const partitions = metadata.topics[0].partitions;
      t.equal(partitions.length, PARTITIONS, 'Metadata lists every partition after the restart');
      t.ok(
        partitions.every((p) => p.partitionErrorCode === 0 && p.leader >= 0),
        'every partition has a leader',
      );
      await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `v${p}` })),
      });
      const offsets = await admin2.fetchTopicOffsets(TOPIC);
      t.equal(offsets.length, PARTITIONS, 'ListOffsets answers for every partition');
      t.same(
        offsets.filter((o) => o.high !== '1' || o.low !== '0').map((o) => o.partition),
        [],
        'every partition took its record at offset 0',
      );
    } finally {
      await producer.disconnect();
      await admin2.disconnect();
      await stop(broker);
    }
  });
}
