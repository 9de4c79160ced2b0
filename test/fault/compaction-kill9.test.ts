// test/fault room (compaction, issue 9 item 6): the log cleaner survives kill -9. The broker runs as
// `spool start` in a child process (log.cleaner.backoff.ms small); a compacted topic with small
// segments and min.cleanable.dirty.ratio=0.01 takes a stream of updates of 200 keys (KafkaJS, acks=all,
// each value carrying a global sequence number), so the cleaner is busy all the time. The broker is
// killed with SIGKILL SPOOL_FAULT_ROUNDS times (default 3; 2 under CI=true), at varied points: as soon as a
// `.cleaned` file appears (a round writing its output), as soon as a `.swap` file appears (a
// round swapping its output in), or after a random delay; then restarted on the same data dir.
// After each restart a consumer reads the partition from the beginning and, at the end (after a
// last acknowledged update of every key and a settled cleaner), the files are checked:
//   - offsets strictly increase (no offset twice), and an acknowledged value is at its offset;
//   - per key, sequence numbers increase with the offset (an old value never follows a newer one);
//   - no record comes back: an offset absent from the previous read (below its end) stays absent;
//   - for every key the latest acknowledged value (or a newer, unacknowledged one) is read, and
//     at the end exactly the latest acknowledged value, at its acknowledged offset;
//   - no `.cleaned`/`.swap` file left over from the killed process, none at the end, and the
//     segments' offset ranges are disjoint and ascending (no duplicate segment).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { readCheckpoint } from '../../src/log/checkpoint.js';
import { CLEANER_OFFSET_CHECKPOINT } from '../../src/log/cleaner.js';
import { removeDir, repoRoot, tempDir } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const ROUNDS = Number(process.env.SPOOL_FAULT_ROUNDS ?? (process.env.CI === 'true' ? 2 : 3));
const KEYS = 200;
const PER_SEND = 250;
const SEGMENT_BYTES = 16 * 1024;
/** Bounds the producer should a round take long. */
const MAX_SENDS = 4000;
const TOPIC = 'compacted';

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
  startedAt: number;
  output: () => string;
}

async function startBroker(dataDir: string, port: number, engine: string): Promise<Broker> {
  const overrides = [
    `log.dirs=${dataDir}`,
    `listeners=PLAINTEXT://127.0.0.1:${port}`,
    `spool.engine=${engine}`,
    'log.cleaner.backoff.ms=20',
    'log.cleaner.threads=1',
    // Every read joins a fresh consumer group: no initial rebalance delay (Kafka's default: 3 s).
    'group.initial.rebalance.delay.ms=0',
  ];
  const startedAt = Date.now();
  const child = spawn(process.execPath, [cli, 'start', ...overrides.flatMap((o) => ['--override', o])], { stdio: ['pipe', 'pipe', 'pipe'], cwd: repoRoot });
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stderr.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out.slice(-2000)}`)), 30_000);
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
  return { child, exited, startedAt, output: () => out };
}

async function restartBroker(dataDir: string, port: number, engine: string): Promise<Broker> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      return await startBroker(dataDir, port, engine);
    } catch (err) {
      lastError = err;
      await sleep(300);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

interface Acked {
  key: string;
  offset: number;
}

interface ReadRecord {
  offset: number;
  key: string;
  seq: number;
}

/** Reads the partition from the beginning up to its high watermark and at least past offset `mustReach`. */
async function readAll(kafka: KafkaClient, label: string, mustReach: number): Promise<{ records: ReadRecord[]; end: number; duplicates: number[] }> {
  const admin = kafka.admin();
  await admin.connect();
  let end: number;
  try {
    const [p] = await admin.fetchTopicOffsets(TOPIC);
    end = Number(p.high);
  } finally {
    await admin.disconnect();
  }
  const records: ReadRecord[] = [];
  const duplicates: number[] = [];
  const seen = new Set<number>();
  if (end === 0 && mustReach < 0) return { records, end, duplicates };
  const consumer = kafka.consumer({ groupId: `reader-${label}-${Math.random().toString(36).slice(2)}`, maxBytes: 4 * 1024 * 1024 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let last = -1;
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (seen.has(offset)) duplicates.push(offset);
          seen.add(offset);
          records.push({ offset, key: m.key?.toString() ?? '', seq: Number(m.value?.toString().split(':')[1] ?? -1) });
          last = Math.max(last, offset);
        }
        await Promise.resolve();
      },
    });
    const deadline = Date.now() + 60_000;
    // Compaction leaves offset gaps, so the end is reached when the last read offset + 1 reaches
    // the high watermark or, if the last records were cleaned away, when nothing comes for a while.
    let quietSince = Date.now();
    let count = 0;
    while ((last + 1 < end || last < mustReach) && Date.now() < deadline) {
      await sleep(100);
      if (records.length !== count) {
        count = records.length;
        quietSince = Date.now();
      } else if (count > 0 && Date.now() - quietSince > 5000) break;
    }
  } finally {
    await consumer.disconnect();
  }
  records.sort((a, b) => a.offset - b.offset);
  return { records, end, duplicates };
}

function logFileNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
}

/** [first batch's base offset, last batch's last offset] of each segment (v2 batch headers). */
function segmentRanges(dir: string): Array<{ name: string; base: number; first: number; last: number }> {
  return logFileNames(dir).map((name) => {
    const buf = readFileSync(join(dir, name));
    let pos = 0;
    let first = -1;
    let last = -1;
    while (pos + 61 <= buf.length) {
      const base = Number(buf.readBigInt64BE(pos));
      const length = buf.readInt32BE(pos + 8);
      if (first < 0) first = base;
      last = base + buf.readInt32BE(pos + 23);
      pos += 12 + length;
    }
    return { name, base: Number(name.slice(0, 20)), first, last };
  });
}

const ENGINES = (process.env.SPOOL_FAULT_ENGINES ?? 'native,ts').split(',');

for (const engine of ENGINES) {
  t.test(`compaction across kill -9 (${engine} engine)`, { timeout: 300_000 }, async (t) => {
    const dataDir = tempDir(`fault-compaction-${engine}`);
    const partDir = join(dataDir, `${TOPIC}-0`);
    const port = await freePort();
    let broker = await startBroker(dataDir, port, engine);
    t.teardown(async () => {
      if (broker.child.exitCode === null && broker.child.signalCode === null) {
        broker.child.kill('SIGKILL');
        await broker.exited;
      }
      removeDir(dataDir);
    });
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${port}`],
      clientId: 'compaction-kill9',
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: TOPIC,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: String(SEGMENT_BYTES) },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
            { name: 'file.delete.delay.ms', value: '0' },
          ],
        },
      ],
    });
    await admin.disconnect();

    /** seq -> key and acknowledged offset; attempted holds every seq sent (acknowledged or not). */
    const acked = new Map<number, Acked>();
    const lastAcked = new Map<string, number>();
    let nextSeq = 0;
    // No client retries: a send that failed (the broker died) was written once or not at all, and
    // its values (unique sequence numbers) are simply not acknowledged.
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    let sends = 0;
    let sendErrors = 0;
    const send = async (keys: string[]) => {
      const messages = keys.map((key) => ({ key, value: `${key}:${nextSeq++}` }));
      const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages });
      const base = Number(meta.baseOffset ?? meta.offset);
      messages.forEach((m, i) => {
        const seq = Number(m.value.split(':')[1]);
        acked.set(seq, { key: m.key, offset: base + i });
        lastAcked.set(m.key, seq);
      });
    };
    /** Reads pause the producer, so what was acknowledged before a read is what it must find. */
    const flow = { producing: true, paused: false, idle: true };
    const producerLoop = (async () => {
      while (flow.producing && sends < MAX_SENDS) {
        flow.idle = flow.paused;
        if (flow.paused) {
          await sleep(20);
          continue;
        }
        sends++;
        try {
          await send(Array.from({ length: PER_SEND }, (_, i) => `k${(sends * 37 + i * 7) % KEYS}`));
        } catch {
          sendErrors++;
          await sleep(200);
        }
      }
    })();
    t.teardown(async () => {
      flow.producing = false;
      await producerLoop;
      await producer.disconnect().catch(() => undefined);
    });

    const maxAckedOffset = () => Math.max(-1, ...[...lastAcked.values()].map((seq) => acked.get(seq)?.offset ?? -1));
    let previous: { present: Set<number>; end: number } | null = null;
    const problems: string[] = [];
    const perLabel = new Map<string, number>();
    const problem = (s: string) => {
      const label = s.slice(0, s.indexOf(':'));
      const n = perLabel.get(label) ?? 0;
      perLabel.set(label, n + 1);
      if (n < 5) problems.push(s);
    };
    /** The invariants of one read (see the file header). */
    const check = (label: string, read: { records: ReadRecord[]; end: number; duplicates: number[] }) => {
      if (read.duplicates.length > 0) problem(`${label}: offsets read twice: ${read.duplicates.slice(0, 5).join(',')}`);
      const lastSeqOfKey = new Map<string, { seq: number; offset: number }>();
      read.records.forEach((r, i) => {
        if (i > 0 && r.offset <= read.records[i - 1].offset) problem(`${label}: offset ${r.offset} after ${read.records[i - 1].offset}`);
        const a = acked.get(r.seq);
        if (a !== undefined && a.offset !== r.offset) problem(`${label}: seq ${r.seq} at ${r.offset}, acknowledged at ${a.offset}`);
        if (!(r.seq >= 0 && r.seq < nextSeq)) problem(`${label}: unknown value seq ${r.seq} at ${r.offset}`);
        const before = lastSeqOfKey.get(r.key);
        if (before !== undefined && before.seq >= r.seq) problem(`${label}: key ${r.key}: seq ${r.seq} at ${r.offset} after seq ${before.seq} at ${before.offset}`);
        lastSeqOfKey.set(r.key, { seq: r.seq, offset: r.offset });
        if (previous !== null && r.offset < previous.end && !previous.present.has(r.offset)) problem(`${label}: offset ${r.offset} (key ${r.key}) came back`);
      });
      for (const [key, seq] of lastAcked) {
        const got = lastSeqOfKey.get(key);
        if (got === undefined || got.seq < seq) problem(`${label}: key ${key}: last acknowledged seq ${seq} at ${acked.get(seq)?.offset}, read ${JSON.stringify(got)}`);
      }
      previous = { present: new Set(read.records.map((r) => r.offset)), end: read.end };
      return lastSeqOfKey;
    };

    const waitFor = async (cond: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!cond() && Date.now() < deadline) await sleep(2);
      return cond();
    };
    const hasFile = (suffix: string) => {
      try {
        return readdirSync(partDir).some((f) => f.endsWith(suffix));
      } catch {
        return false;
      }
    };
    const killedAt: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Let some history (and some segments) build up first.
      const sendsBefore = sends;
      await waitFor(() => sends >= sendsBefore + 10, 30_000);
      const mode = ['cleaned', 'swap', 'random'][(round - 1) % 3];
      let hit = false;
      if (mode === 'cleaned') hit = await waitFor(() => hasFile('.cleaned'), 20_000);
      else if (mode === 'swap') hit = await waitFor(() => hasFile('.swap'), 20_000);
      else await sleep(100 + Math.floor(Math.random() * 1500));
      broker.child.kill('SIGKILL');
      await broker.exited;
      const leftovers = readdirSync(partDir).filter((f) => /\.(cleaned|swap)$/.test(f));
      killedAt.push(`${mode}${mode === 'random' ? '' : hit ? ' (seen)' : ' (not seen in 20 s)'}: ${leftovers.length} .cleaned/.swap files`);
      broker = await restartBroker(dataDir, port, engine);
      flow.paused = true;
      await waitFor(() => flow.idle, 60_000);
      const read = await readAll(kafka, `round-${round}`, maxAckedOffset());
      flow.paused = false;
      t.comment(`round ${round}: read ${read.records.length} records up to offset ${read.records.at(-1)?.offset} (high watermark ${read.end}); ${acked.size} acknowledged so far`);
      check(`round ${round}`, read);
      // Files from the killed process that recovery did not resolve (the log is open: it was read).
      const stale = readdirSync(partDir)
        .filter((f) => /\.(cleaned|swap)$/.test(f))
        .map((f) => ({ f, age: broker.startedAt - statSync(join(partDir, f)).mtimeMs }))
        .filter(({ age }) => age > 0);
      t.same(stale, [], `round ${round}: no .cleaned/.swap file of the killed process left after restart`);
    }
    flow.producing = false;
    await producerLoop;
    t.comment(`kills: ${killedAt.join('; ')}; ${sends} sends, ${sendErrors} failed, ${acked.size} records acknowledged`);

    // One last acknowledged update of every key, then let the cleaner settle.
    for (let attempt = 0; ; attempt++) {
      try {
        await send(Array.from({ length: KEYS }, (_, k) => `k${k}`));
        break;
      } catch (err) {
        if (attempt >= 10) throw err;
        await sleep(500);
      }
    }
    const activeBase = () => Number(logFileNames(partDir).at(-1)?.slice(0, 20) ?? -1);
    const checkpoint = () => readCheckpoint(join(dataDir, CLEANER_OFFSET_CHECKPOINT)).find((e) => e.topic === TOPIC)?.offset ?? -1;
    const settled = await waitFor(() => checkpoint() >= activeBase() && !hasFile('.cleaned') && !hasFile('.swap'), 60_000);
    t.ok(settled, `the cleaner checkpoint (${checkpoint()}) reached the active segment (${activeBase()})`);
    const last = check('final', await readAll(kafka, 'final', maxAckedOffset()));
    const finalWrong = [...lastAcked].filter(([key, seq]) => last.get(key)?.seq !== seq || last.get(key)?.offset !== acked.get(seq)?.offset);
    t.same(finalWrong.slice(0, 5), [], 'every key reads as its last acknowledged value at its acknowledged offset');
    t.same([...perLabel], [], 'problems per read');
    t.same(problems, [], 'no duplicate, out-of-order, resurrected or lost record in any read');

    broker.child.kill('SIGTERM');
    await broker.exited;
    t.same(readdirSync(partDir).filter((f) => /\.(cleaned|swap)$/.test(f)), [], 'no .cleaned/.swap file at the end');
    const ranges = segmentRanges(partDir);
    const overlaps = ranges.filter((r, i) => (r.first >= 0 && r.first < r.base) || (i > 0 && ranges[i - 1].last >= 0 && r.first >= 0 && r.first <= ranges[i - 1].last));
    t.same(overlaps, [], `segments hold disjoint ascending offset ranges (${ranges.length} segments)`);
    t.ok(ranges.length >= 2 && acked.size > 10 * KEYS, `the history rolled and was compacted (${ranges.length} segments, ${acked.size} acknowledged updates)`);
  });
}
