// broker tests (issue 8, item 5): a damaged batch in a rolled segment is never skipped — a Fetch
// at its offset gets CORRUPT_MESSAGE (logged), not later offsets — and recovery is Kafka's: a
// clean stop leaves `.kafka_cleanshutdown` and the recovery-point checkpoint, the next start
// trusts the logs and cuts nothing; without the marker (a crash) every segment from the
// recovery point on is checked and the log is cut at the first bad batch, with one log line
// giving the batches and bytes dropped. Both engines.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, openSync, readSync, writeSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { readCheckpoint, writeCheckpoint } from '../../src/log/checkpoint.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { loadNative } from '../helpers/engines.js';

const { Kafka, logLevel } = kafkajs;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

const TOPIC = 'damaged';
const SENDS = 30;
const PER_SEND = 5;
const TOTAL = SENDS * PER_SEND;

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

async function withBroker<T>(engine: 'ts' | 'native', dir: string, lines: LogLine[], fn: (b: RunningBroker) => Promise<T>): Promise<T> {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.length > 0) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  const b = await startBroker({ dataDir: dir, port: 0, host: '127.0.0.1', engine, config: { 'log.segment.bytes': 2000 }, logger: pino({ level: 'info' }, stream) });
  try {
    return await fn(b);
  } finally {
    await b.stop();
  }
}

/** Batches of a segment file: (position, size, baseOffset, lastOffset). */
function batchesOf(file: string): Array<{ position: number; size: number; baseOffset: number; lastOffset: number }> {
  const buf = readFileSync(file);
  const out = [];
  for (let pos = 0; pos + 61 <= buf.length; ) {
    const size = buf.readInt32BE(pos + 8) + 12;
    const baseOffset = Number(buf.readBigInt64BE(pos));
    out.push({ position: pos, size, baseOffset, lastOffset: baseOffset + buf.readInt32BE(pos + 23) });
    pos += size;
  }
  return out;
}

function flipByte(file: string, position: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, position);
  b[0] ^= 0x5a;
  writeSync(fd, b, 0, 1, position);
  closeSync(fd);
}

function logFiles(partDir: string): Map<string, number> {
  return new Map(
    readdirSync(partDir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .map((n) => [n, statSync(join(partDir, n)).size]),
  );
}

async function fetchAt(port: number, offset: number): Promise<FetchRes['responses'][number]['partitions'][number]> {
  const c = await RawClient.connect(port);
  try {
    const body = {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    };
    const res = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, body);
    return res.responses[0].partitions[0];
  } finally {
    c.close();
  }
}

t.test('corrupt batches in rolled segments and recovery after clean and unclean stops', async (t) => {
  const engines: Array<'ts' | 'native'> = ['ts'];
  const native = await loadNative();
  if (native.engine) engines.push('native');
  else if (process.env.CI === 'true') t.fail(`native storage engine did not load: ${native.reason}`);
  for (const engine of engines) {
    await t.test(`${engine} engine`, async (t) => {
      const d = tempDir('spool-corrupt-segment-');
      t.teardown(d.cleanup);
      const partDir = join(d.dir, `${TOPIC}-0`);
      const lines: LogLine[] = [];

      // 1. Data over several segments, then a clean stop.
      await withBroker(engine, d.dir, lines, async (b) => {
        await b.broker.createTopic(TOPIC, 1);
        const kafka = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        for (let i = 0; i < SENDS; i++) {
          await producer.send({ topic: TOPIC, messages: Array.from({ length: PER_SEND }, (_, j) => ({ value: `${'x'.repeat(60)}-${i}-${j}`, partition: 0 })) });
        }
        await producer.disconnect();
      });
      t.ok(existsSync(join(d.dir, '.kafka_cleanshutdown')), 'a clean stop leaves the marker');
      const points = readCheckpoint(join(d.dir, 'recovery-point-offset-checkpoint'));
      t.same(points.find((e) => e.topic === TOPIC && e.partition === 0)?.offset, TOTAL, 'the recovery point is the flushed log end');
      const segs = [...logFiles(partDir).keys()];
      t.ok(segs.length >= 3, `several segments (${segs.length})`);

      // 2. One byte of the second batch of the first (rolled) segment flipped: its CRC fails.
      const firstFile = join(partDir, segs[0]);
      const bad = batchesOf(firstFile)[1];
      flipByte(firstFile, bad.position + bad.size - 3);
      const before = logFiles(partDir);

      // 3. Clean start: nothing cut; a Fetch at the bad batch gets an error, never later offsets.
      lines.length = 0;
      await withBroker(engine, d.dir, lines, async (b) => {
        t.notOk(existsSync(join(d.dir, '.kafka_cleanshutdown')), 'the marker is removed at start');
        const at = await fetchAt(b.port, bad.baseOffset);
        t.equal(at.errorCode, 2, 'CORRUPT_MESSAGE at the damaged offset');
        t.notOk(at.records !== null && at.records.length > 0, 'no records served in its place');
        const head = await fetchAt(b.port, 0);
        t.equal(head.errorCode, 0, 'the batches before it are served');
        t.equal(b.broker.logManager.getLog(TOPIC, 0)?.logEndOffset, TOTAL, 'nothing truncated');
      });
      t.same(logFiles(partDir), before, 'no segment changed size on a clean start');
      t.ok(lines.some((l) => l.msg === 'read of a corrupt batch refused'), 'the corrupt read is logged');
      t.notOk(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('recovered log')), 'no recovery truncation');

      // 4. Unclean (as after kill -9: no marker, the recovery point below the damage, as when
      // the later data had not been flushed yet): cut at the bad batch, counts logged.
      rmSync(join(d.dir, '.kafka_cleanshutdown'));
      const cp = join(d.dir, 'recovery-point-offset-checkpoint');
      writeCheckpoint(cp, readCheckpoint(cp).map((e) => (e.topic === TOPIC ? { ...e, offset: 0 } : e)));
      const total = [...before.values()].reduce((a, b) => a + b, 0);
      lines.length = 0;
      await withBroker(engine, d.dir, lines, async (b) => {
        t.equal(b.broker.logManager.getLog(TOPIC, 0)?.logEndOffset, bad.baseOffset, 'the log ends before the bad batch');
        const at = await fetchAt(b.port, bad.baseOffset);
        t.equal(at.errorCode, 0, 'the end of the log: nothing to serve, no error');
        t.equal(at.highWatermark, bad.baseOffset);
      });
      const line = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('recovered log after an unclean shutdown'));
      t.ok(line, 'one line for the truncated partition');
      t.equal(line?.truncatedBytes, total - bad.position, 'bytes dropped');
      t.equal(line?.truncatedBatches, SENDS - 1, 'batches dropped');
      t.same([...logFiles(partDir).keys()], [segs[0]], 'the segments after the cut are deleted');
      t.ok(lines.some((l) => l.msg === 'log dir was not shut down cleanly: logs are checked from their recovery points'));
    });
  }
});

t.test('a real kill -9: no marker, the next start checks from the recovery point and cuts only a damaged batch', async (t) => {
  const d = tempDir('spool-corrupt-kill-');
  const dataDir = join(d.dir, 'data');
  const props = join(d.dir, 'server.properties');
  writeFileSync(props, `log.dirs=${dataDir}\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.segment.bytes=2000\n`);
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'start', '--config', props, '--engine', 'ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    d.cleanup();
  });
  let stdout = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line; output: ${stdout}`)), 15000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'Spool broker started' && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      }
    });
    child.on('exit', () => reject(new Error(`exited early: ${stdout}`)));
  });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < SENDS; i++) {
    await producer.send({ topic: TOPIC, messages: Array.from({ length: PER_SEND }, (_, j) => ({ value: `${'y'.repeat(60)}-${i}-${j}`, partition: 0 })) });
  }
  await producer.disconnect();
  child.kill('SIGKILL');
  await exited;
  t.notOk(existsSync(join(dataDir, '.kafka_cleanshutdown')), 'no marker after kill -9');

  // One byte of the active segment's first batch flipped: it lies after any recovery point.
  const partDir = join(dataDir, `${TOPIC}-0`);
  const segs = [...logFiles(partDir).keys()];
  t.ok(segs.length >= 3, 'several segments');
  const active = join(partDir, segs[segs.length - 1]);
  const activeBase = Number(segs[segs.length - 1].slice(0, 20));
  const activeSize = statSync(active).size;
  const activeBatches = batchesOf(active).length;
  flipByte(active, batchesOf(active)[0].size - 3);
  const lines: LogLine[] = [];
  await withBroker('ts', dataDir, lines, async (b) => {
    t.equal(b.broker.logManager.getLog(TOPIC, 0)?.logEndOffset, activeBase, 'cut at the damaged batch, nothing before it lost');
  });
  t.ok(lines.some((l) => l.msg === 'log dir was not shut down cleanly: logs are checked from their recovery points'));
  const line = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('recovered log after an unclean shutdown'));
  t.equal(line?.truncatedBytes, activeSize, 'bytes dropped, logged');
  t.equal(line?.truncatedBatches, activeBatches, 'batches dropped, logged');
  t.ok(existsSync(join(dataDir, '.kafka_cleanshutdown')), 'the clean stop after it leaves the marker');
});
