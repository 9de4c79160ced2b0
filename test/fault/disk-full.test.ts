// fault tests (disk full): a broker whose log dir is a 4 MiB tmpfs. Produce until the disk is full
// (KAFKA_STORAGE_ERROR, no crash), every acknowledged record is read back, SIGTERM exits 0; a
// start on the still-full disk comes up read-only (one log line), serves every acknowledged
// record, a group's committed offset and the log's offsets, refuses produce with
// KAFKA_STORAGE_ERROR and exits 0 on SIGTERM; once the planted filler file is deleted the broker
// leaves read-only (its free-space timer) and produce works, live and after a restart.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { ManagedProcess, freePort, waitForPort, waitUntil } from '../../src/cli/process.js';
import { repoRoot, requireToolchain } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const TOPIC = 'full';
const GROUP = 'readers';
const VALUE_PAD = 'x'.repeat(4000);
const MAX_SENDS = 2000;
const READ_ONLY_LINE = 'is full (ENOSPC): serving reads only; produce answers KAFKA_STORAGE_ERROR until space is freed';

function tryMount(dir: string): string | null {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `mount -t tmpfs failed: ${r.stderr || String(r.error)}`;
}

/** The Kafka error type anywhere in a KafkaJS error's chain (retries wrap the broker's error). */
function errorType(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const o = e as { type?: unknown; originalError?: unknown; cause?: unknown };
    if (typeof o.type === 'string' && o.type !== 'UNKNOWN') return o.type;
    e = o.originalError ?? o.cause;
  }
  return undefined;
}

/** Reads the whole topic with `spool consume` (standalone: Metadata, ListOffsets, Fetch; no group writes). */
function consumeAll(bootstrap: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'consume', TOPIC, '--bootstrap-server', bootstrap, '--from-beginning', '--timeout-ms', '2000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`spool consume exited ${String(code)}: ${err}`));
      else resolve(out.split('\n').filter((l) => l !== '').map((l) => l.slice(0, l.indexOf(':'))));
    });
  });
}

t.test('a full log dir: KAFKA_STORAGE_ERROR, read-only restart, clean stops, produce after space is freed', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'spool-disk-full-'));
  const mount = join(work, 'mnt');
  mkdirSync(mount);
  const failure = tryMount(mount);
  if (!requireToolchain(t, failure === null, failure ?? '')) {
    rmSync(work, { recursive: true, force: true });
    return;
  }
  t.teardown(() => {
    spawnSync('umount', ['-l', mount]);
    rmSync(work, { recursive: true, force: true });
  });
  const logDir = join(mount, 'logs');
  const filler = join(mount, 'filler');
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  const logFile = join(work, 'broker.log');
  const broker = new ManagedProcess('broker', {
    command: process.execPath,
    args: [cli, 'start', '--override', `log.dirs=${logDir}`, '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`, '--override', 'spool.admin.listeners=', '--override', 'num.partitions=1', '--override', 'offsets.topic.num.partitions=1'],
    logFile,
    cwd: repoRoot,
  });
  t.teardown(() => broker.kill());
  const kafka = new Kafka({ clientId: 'disk-full', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
  const start = async (): Promise<void> => {
    broker.start();
    await waitForPort(port, { process: broker, timeoutMs: 30_000 });
  };
  const produceOne = async (id: string): Promise<{ ok: true } | { ok: false; type: string | undefined }> => {
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ value: `${id}:${VALUE_PAD}` }] });
      return { ok: true };
    } catch (err) {
      return { ok: false, type: errorType(err) };
    } finally {
      await producer.disconnect();
    }
  };

  // First run: room for the topic, then a filler file takes most of the disk; produce until full.
  await start();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true });
  // A group with a committed offset, read back (OffsetFetch) on the full disk.
  await admin.setOffsets({ groupId: GROUP, topic: TOPIC, partitions: [{ partition: 0, offset: '0' }] });
  await admin.disconnect();
  writeFileSync(filler, Buffer.alloc(1024 * 1024));
  const acked: string[] = [];
  const producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
  let failedWith: string | undefined;
  for (let i = 0; i < MAX_SENDS; i++) {
    try {
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ value: `r${i}:${VALUE_PAD}` }] });
      acked.push(`r${i}`);
    } catch (err) {
      failedWith = errorType(err) ?? String(err);
      break;
    }
  }
  await producer.disconnect();
  t.equal(failedWith, 'KAFKA_STORAGE_ERROR', `the disk filled up after ${acked.length} acknowledged records`);
  t.ok(acked.length > 10, 'records were acknowledged before the disk was full');
  t.ok(broker.running, 'the broker did not crash');
  t.same(await consumeAll(bootstrap), acked, 'every acknowledged record is read back, in order');
  t.same(await broker.stop(15_000), { code: 0, signal: null }, 'SIGTERM on a full disk exits 0');

  // Second run on the still-full disk: read-only.
  await start();
  await waitUntil('the read-only line', () => Promise.resolve(readFileSync(logFile, 'utf8').includes(READ_ONLY_LINE)), { process: broker, timeoutMs: 10_000 });
  t.equal(readFileSync(logFile, 'utf8').split(READ_ONLY_LINE).length - 1, 1, 'one read-only log line');
  t.same(await consumeAll(bootstrap), acked, 'read-only: every acknowledged record is read back');
  const refused = await produceOne('refused');
  t.same(refused, { ok: false, type: 'KAFKA_STORAGE_ERROR' }, 'read-only: produce answers KAFKA_STORAGE_ERROR');
  const readOnlyAdmin = kafka.admin();
  await readOnlyAdmin.connect();
  const committed = await readOnlyAdmin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  t.same(committed.flatMap((c) => c.partitions.map((p) => [p.partition, p.offset])), [[0, '0']], 'read-only: the group\'s committed offset is read (OffsetFetch)');
  const listed = await readOnlyAdmin.fetchTopicOffsets(TOPIC);
  t.same(listed.map((p) => [p.partition, p.low, p.high]), [[0, '0', String(acked.length)]], 'read-only: ListOffsets answers the log start and end');
  await readOnlyAdmin.disconnect();

  // Space comes back: the broker leaves read-only on its own (checked every 5 s).
  rmSync(filler);
  let after: { ok: boolean } = { ok: false };
  for (let attempt = 0; attempt < 30 && !after.ok; attempt++) {
    after = await produceOne('after');
    if (!after.ok) await new Promise((r) => setTimeout(r, 1000));
  }
  t.ok(after.ok, 'produce works again once space is freed');
  t.match(readFileSync(logFile, 'utf8'), /has free space again: accepting produce/, 'leaving read-only is logged');
  t.same(await consumeAll(bootstrap), [...acked, 'after'], 'the new record follows the old ones');
  t.same(await broker.stop(15_000), { code: 0, signal: null }, 'SIGTERM exits 0');

  // And a restart with space is an ordinary writable start.
  await start();
  t.same(await produceOne('restarted'), { ok: true }, 'produce works after a restart with space');
  t.same(await broker.stop(15_000), { code: 0, signal: null }, 'SIGTERM exits 0');
});
