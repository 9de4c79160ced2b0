// test/fault room: exactly-once delivery of an idempotent producer across broker crashes. The
// broker runs as `spool start` in a child process; an unmodified Java producer (acks=all,
// enable.idempotence, 5 in flight) writes as fast as it can while the broker is killed with
// SIGKILL and restarted on the same data dir and port, SPOOL_FAULT_ROUNDS times (default 3).
// Retried batches that the dead broker had already written must be recognised from the producer
// state rebuilt on open (snapshot + log replay), so in the end every acknowledged record is at
// its acknowledged offset and no value is in the log twice.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { interopDir, isStale, removeDir, repoRoot, requireToolchain, run, tempDir, works } from '../interop/common.js';

const dependencies = join(interopDir, 'java', 'target', 'dependency');
const source = join(repoRoot, 'test', 'fault', 'java', 'IdempotentProducer.java');
const classes = join(repoRoot, 'test', 'fault', 'java', 'target', 'classes'); // target/ is git-ignored
const mainClass = join(classes, 'spool', 'fault', 'IdempotentProducer.class');
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

const ROUNDS = Number(process.env.SPOOL_FAULT_ROUNDS ?? 3);
const PARTITIONS = 3;
/** Bounds the producer (and this test's memory) should many rounds run at full speed. */
const MAX_RECORDS = 20_000_000;

async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  if (!isStale(mainClass, [source, dependencies])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());

function javaArgs(...args: string[]): string[] {
  return ['-Xmx256m', '-XX:+UseSerialGC', '-cp', `${classes}:${dependencies}/*`, 'spool.fault.IdempotentProducer', ...args];
}

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Broker {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<void>;
  output: () => string;
}

/** `spool start` on `dataDir` and `port`; resolves once it logged that it started. */
async function startBroker(dataDir: string, port: number): Promise<Broker> {
  const child = spawn(
    process.execPath,
    [cli, 'start', '--override', `log.dirs=${dataDir}`, '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`, '--override', `num.partitions=${PARTITIONS}`],
    { stdio: ['pipe', 'pipe', 'pipe'], cwd: repoRoot },
  );
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out.slice(-2000)}`)), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
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
  // Keep draining so the pipe never fills; only the tail matters for diagnostics.
  child.stdout.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  return { child, exited, output: () => out };
}

/** Starts again on the same port; the OS may briefly refuse it right after the kill. */
async function restartBroker(dataDir: string, port: number): Promise<Broker> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      return await startBroker(dataDir, port);
    } catch (err) {
      lastError = err;
      await sleep(300);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

t.test('idempotent Java producer: no duplicates and no lost acknowledged records across kill -9', { timeout: 170_000 }, async (t) => {
  if (!requireToolchain(t, ready, 'java/javac or the Java interop dependencies (test/interop/java/target/dependency) are missing')) return;
  const dataDir = tempDir('fault-kill9');
  const port = await freePort();
  let broker = await startBroker(dataDir, port);
  const producer = spawn('java', javaArgs('produce', `127.0.0.1:${port}`, 'exactly-once', String(PARTITIONS), String(MAX_RECORDS)), { stdio: ['pipe', 'pipe', 'pipe'] });
  const producerExited = new Promise<number | null>((resolve) => producer.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (producer.exitCode === null && producer.signalCode === null) {
      producer.kill('SIGKILL');
      await producerExited;
    }
    if (broker.child.exitCode === null && broker.child.signalCode === null) {
      broker.child.kill('SIGKILL');
      await broker.exited;
    }
    removeDir(dataDir);
  });
  // Record i goes to partition i % PARTITIONS, so its acknowledged offset is all there is to keep.
  let ackedOffset = new Float64Array(1 << 20).fill(-1);
  let ackCount = 0;
  const failures: string[] = [];
  let summary = '';
  let pending = '';
  let producerErr = '';
  const onLine = (line: string) => {
    if (line.startsWith('a ')) {
      const [, i, , o] = line.split(' ').map(Number);
      while (i >= ackedOffset.length) {
        const grown = new Float64Array(ackedOffset.length * 2).fill(-1);
        grown.set(ackedOffset);
        ackedOffset = grown;
      }
      ackedOffset[i] = o;
      ackCount++;
    } else if (line.startsWith('e ')) failures.push(line);
    else if (line.startsWith('done ')) summary = line;
  };
  producer.stdout.on('data', (b: Buffer) => {
    const lines = (pending + b.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  producer.stderr.on('data', (b: Buffer) => (producerErr = (producerErr + b.toString()).slice(-5000)));

  /** Waits until the producer made progress since `base` (acknowledged records reach the broker). */
  const progressed = async (base: number, what: string) => {
    const deadline = Date.now() + 40_000;
    while (ackCount <= base + 1000) {
      if (Date.now() > deadline) throw new Error(`no producer progress ${what}; producer stderr: ${producerErr}; broker: ${broker.output().slice(-2000)}`);
      await sleep(50);
    }
  };

  await progressed(0, 'before the first kill');
  for (let round = 1; round <= ROUNDS; round++) {
    await sleep(500 + Math.floor(Math.random() * 1500));
    broker.child.kill('SIGKILL');
    await broker.exited;
    const before = ackCount;
    broker = await restartBroker(dataDir, port);
    await progressed(before, `after restart ${round}`);
  }
  await sleep(500);
  producer.stdin.end();
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([producerExited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 100_000)))]);
  clearTimeout(timer);
  t.equal(code, 0, `producer exited cleanly (stderr: ${producerErr.slice(-500)})`);
  if (pending !== '') onLine(pending);
  t.ok(summary !== '', 'producer printed its summary');

  const read = await run('java', javaArgs('read', `127.0.0.1:${port}`, 'exactly-once', String(PARTITIONS)), { timeoutMs: 90_000 });
  t.equal(read.code, 0, `reader exited cleanly (stderr: ${read.stderr.slice(-500)})`);
  const ends = new Array<number>(PARTITIONS).fill(0);
  for (const line of read.stdout.split('\n')) {
    if (!line.startsWith('end ')) continue;
    const [, p, end, position] = line.split(' ').map(Number);
    ends[p] = end;
    t.equal(position, end, `partition ${p} read to its end offset ${end}`);
  }
  /** valueAt[p][o]: the record index stored at offset o of partition p (-1: none read). */
  const valueAt = ends.map((end) => new Float64Array(end).fill(-1));
  /** The first offset each value was read at (values are record indexes; -1: not read yet). */
  const firstSeenAt = new Float64Array(ackedOffset.length * 2).fill(-1);
  const duplicates: string[] = [];
  let records = 0;
  for (const line of read.stdout.split('\n')) {
    if (!line.startsWith('r ')) continue;
    const [, p, o, v] = line.split(' ').map(Number);
    if (o < valueAt[p].length) valueAt[p][o] = v;
    if (!(v >= 0 && v < firstSeenAt.length)) duplicates.push(`unexpected value ${v} at ${p}/${o}`);
    else if (firstSeenAt[v] >= 0) duplicates.push(`value ${v} at ${p}/${firstSeenAt[v]} and ${p}/${o}`);
    else firstSeenAt[v] = o;
    records++;
  }
  const losses: string[] = [];
  for (let i = 0; i < ackedOffset.length; i++) {
    const o = ackedOffset[i];
    if (o < 0) continue;
    const p = i % PARTITIONS;
    const v = o < valueAt[p].length ? valueAt[p][o] : -1;
    if (v !== i) losses.push(`record ${i} acknowledged at ${p}/${o}, found ${v < 0 ? 'nothing' : v} there`);
  }
  t.comment(`rounds: ${ROUNDS}; producer (done sent acked failed): ${summary}; acknowledged: ${ackCount}; failed sends: ${failures.length}; records read: ${records}`);
  t.comment(`violations: ${duplicates.length} duplicated values, ${losses.length} lost acknowledged records`);
  for (const d of duplicates.slice(0, 10)) t.comment(`duplicate: ${d}`);
  for (const l of losses.slice(0, 10)) t.comment(`lost: ${l}`);
  for (const f of failures.slice(0, 5)) t.comment(`failed send: ${f}`);
  t.ok(ackCount > 0, 'records were acknowledged');
  t.equal(duplicates.length, 0, 'no value at two offsets');
  t.equal(losses.length, 0, 'every acknowledged record is at its acknowledged offset');

  broker.child.kill('SIGTERM');
  await broker.exited;
});
