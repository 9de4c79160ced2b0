// broker room tests: the log dir's `.lock` (Kafka's LogManager lock). Two brokers on one dir each
// append at the position they believe is the end, so one overwrites the other's acknowledged
// records; with the lock the second refuses to start (in this process and in another), and the
// lock a kill -9 left behind is taken over by the next start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import t from 'tap';
import { Broker, DataDirLockedError, startBroker } from '../../src/index.js';
import { loadEngine } from '../../src/storage/loader.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const indexJs = join(repoRoot, 'dist', 'src', 'index.js');
const cliJs = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const quiet = pino({ level: 'silent' });

const lockMessage = (dir: string): string =>
  `Failed to acquire lock on file .lock in ${dir}. A Kafka instance in another process or thread is using this directory.`;

async function produce(port: number, topic: string, values: string[]): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    for (const value of values) {
      const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records: buildBatch({ baseTimestamp: Date.now(), records: [{ key: null, value }] }) }] }],
      });
      const code = res.responses[0].partitionResponses[0].errorCode;
      if (code !== 0) throw new Error(`produce of ${value} failed with error ${code}`);
    }
  } finally {
    c.close();
  }
}

/** Every record value of partition 0, read from offset 0 (bounded: at most 100 fetches). */
async function readAll(port: number, topic: string): Promise<string[]> {
  const c = await RawClient.connect(port);
  const values: string[] = [];
  try {
    let offset = 0;
    for (let i = 0; i < 100; i++) {
      const res = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const part = res.responses[0].partitions[0];
      if (part.errorCode !== 0) throw new Error(`fetch failed with error ${part.errorCode}`);
      const batches = part.records ? decodeBatches(part.records) : [];
      if (batches.length === 0) break;
      for (const b of batches) for (const r of b.records) if (r.offset >= offset) values.push(r.value?.toString() ?? '');
      const last = batches[batches.length - 1];
      offset = last.baseOffset + last.records.length;
    }
  } finally {
    c.close();
  }
  return values;
}

function embedded(dir: string, engine: 'ts' | 'native', skipLock: boolean): Broker {
  return new Broker({
    overrides: { 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0', 'spool.engine': engine },
    logger: quiet,
    unsafeSkipDataDirLockForTests: skipLock,
  });
}

const nativeAvailable = await loadEngine('native').then(
  () => true,
  () => false,
);

for (const engine of ['ts', 'native'] as const) {
  t.test(`${engine} engine: without the lock, two brokers on one dir lose acknowledged records; with it the second is refused`, async (t) => {
    if (engine === 'native' && !nativeAvailable) {
      t.fail('native engine not built (npm run build:native)');
      return;
    }
    const d = tempDir('spool-lock-');
    t.teardown(d.cleanup);

    // The loss, with the lock bypassed (test-only option): both brokers acknowledge every write.
    const a = embedded(d.dir, engine, true);
    const aPort = (await a.start()).port;
    await a.createTopic('shared', 1);
    await produce(aPort, 'shared', ['a0', 'a1', 'a2']);
    const b = embedded(d.dir, engine, true);
    const bPort = (await b.start()).port;
    await produce(bPort, 'shared', ['b0', 'b1', 'b2']);
    await produce(aPort, 'shared', ['a3', 'a4', 'a5']);
    await a.stop();
    await b.stop();
    const acked = ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'a3', 'a4', 'a5'];
    const reader = await startBroker({ dataDir: d.dir, engine, logger: quiet });
    const survived = await readAll(reader.port, 'shared');
    await reader.stop();
    const lost = acked.filter((v) => !survived.includes(v));
    t.ok(lost.length > 0, `acknowledged records lost without the lock: ${lost.join(',')} (read back: ${survived.join(',')})`);

    // With the lock: the second broker on the dir refuses to start, with Kafka's message.
    const first = await startBroker({ dataDir: d.dir, engine, logger: quiet });
    t.ok(existsSync(join(d.dir, '.lock')), '.lock exists while the broker runs');
    const holder = JSON.parse(readFileSync(join(d.dir, '.lock'), 'utf8')) as { pid: number };
    t.equal(holder.pid, process.pid, 'the lock names its holder');
    const second = embedded(d.dir, engine, false);
    await t.rejects(second.start(), { name: 'DataDirLockedError', message: lockMessage(d.dir) }, 'second embedded broker refused');
    const refused = await second.start().catch((err: unknown) => err);
    t.ok(refused instanceof DataDirLockedError && refused.holder?.pid === process.pid, 'the error names the holder');
    await t.rejects(startBroker({ dataDir: d.dir, engine, logger: quiet }), { message: lockMessage(d.dir) });
    await produce(first.port, 'shared', ['c0']);
    await first.stop();
    t.notOk(existsSync(join(d.dir, '.lock')), 'stop() releases the lock');
    const again = await startBroker({ dataDir: d.dir, engine, logger: quiet });
    t.ok((await readAll(again.port, 'shared')).includes('c0'), 'the dir opens again after a clean stop');
    await again.stop();
  });
}

/** A broker in a child process on `dir`; resolves once it listens. */
function childBroker(dir: string): Promise<ChildProcess> {
  const script = `
    import { startBroker } from ${JSON.stringify(indexJs)};
    const b = await startBroker({ dataDir: ${JSON.stringify(dir)}, logLevel: 'silent' });
    process.stdout.write('listening ' + b.port + '\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child broker did not start within 60 s'));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child broker exited with ${code}`));
    });
  });
}

function runCli(dir: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [cliJs, 'start', '--override', `log.dirs=${dir}`, '--override', 'listeners=PLAINTEXT://127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

t.test('another process: refused while it runs; its lock is taken over after kill -9', async (t) => {
  const d = tempDir('spool-lock-');
  t.teardown(d.cleanup);
  const child = await childBroker(d.dir);
  t.teardown(() => child.kill('SIGKILL'));
  const holder = JSON.parse(readFileSync(join(d.dir, '.lock'), 'utf8')) as { pid: number };
  t.equal(holder.pid, child.pid, 'the child holds the lock');

  await t.rejects(startBroker({ dataDir: d.dir, logger: quiet }), { message: lockMessage(d.dir) }, 'an embedded broker here is refused');
  const cli = await runCli(d.dir);
  t.not(cli.code, 0, '`spool start` on the locked dir fails');
  t.ok(cli.output.includes(lockMessage(d.dir)), '`spool start` prints Kafka\'s message');

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  t.ok(existsSync(join(d.dir, '.lock')), 'kill -9 leaves the lock file behind');

  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const next = await startBroker({ dataDir: d.dir, logger: pino({ level: 'warn' }, sink) });
  t.ok(lines.some((l) => l.includes('taking over the stale .lock') && l.includes(`"pid":${String(child.pid)}`)), 'the takeover is logged with the dead holder');
  const now = JSON.parse(readFileSync(join(d.dir, '.lock'), 'utf8')) as { pid: number };
  t.equal(now.pid, process.pid, 'the new broker holds the lock');
  await next.stop();
  t.notOk(existsSync(join(d.dir, '.lock')));
});
