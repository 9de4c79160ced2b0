// fault tests (issue 8): file descriptors are bounded by configuration, not by the number of
// segments — a broker with more segments than its open-file limit restarts and serves them under
// `ulimit -n 256` — and a ListOffsets by timestamp over a large compressed batch leaves the event
// loop to other clients. Both engines; Linux only (/proc, ulimit).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import t from 'tap';
import kafkajs from 'kafkajs';
import { startBroker } from '../../src/index.js';
import { Codec } from '../../src/storage/engine.js';
import { buildBatch } from '../helpers/batches.js';
import { tempDir } from '../helpers/broker.js';

const { Kafka, logLevel } = kafkajs;

const TOPIC = 'many-segments';
/** Kafka's minimum for segment.bytes. */
const SEGMENT_BYTES = 1024 * 1024;
/**
 * Kafka's minimum for segment.ms: every batch, its timestamp older than that, starts a segment of
 * its own, so many segments cost little data.
 */
const SEGMENT_MS = 1;
/** More segments than `ulimit -n 256` leaves descriptors for. */
const SEGMENTS = 280;
const VALUE_BYTES = 1024;
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const ENGINES = ['native', 'ts'] as const;
const INDEX_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/index.js');

function fdsUnder(pid: number | 'self', dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(`/proc/${String(pid)}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${String(pid)}/fd/${e}`).startsWith(dir + path.sep)) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}

/** A broker child under `ulimit -n 256`; resolves with its port once it listens. */
function startLimitedBroker(dataDir: string, engine: string): Promise<{ child: ChildProcess; port: number }> {
  const script = path.join(dataDir, '..', `limited-broker-${engine}.mjs`);
  fs.writeFileSync(
    script,
    `import { startBroker } from ${JSON.stringify(INDEX_JS)};
const running = await startBroker({ dataDir: process.argv[2], engine: process.argv[3], host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ port: running.port }));
process.on('SIGTERM', () => { running.stop().then(() => process.exit(0), () => process.exit(1)); });
`,
  );
  const child = spawn('bash', ['-c', `ulimit -n 256 && exec "$0" "$1" "$2" "$3"`, process.execPath, script, dataDir, engine], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`limited broker did not start: ${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`limited broker exited with ${String(code)}: ${stderr}`));
    });
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
  });
}

function stopChild(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

if (process.platform !== 'linux') {
  t.comment('needs Linux (/proc, ulimit): nothing to test here');
} else {
  // The data is written once (both engines write the same files), then served after a restart
  // under `ulimit -n 256` by each engine in turn.
  void t.test(`fds stay bounded with ${SEGMENTS} segments, and a restart under ulimit -n 256 serves them`, async (t) => {
    const { dir: root, cleanup } = tempDir('spool-fds-');
    const dataDir = path.join(root, 'data');
    const partDir = path.join(dataDir, `${TOPIC}-0`);
    t.teardown(cleanup);
    const running = await startBroker({ dataDir, engine: 'native', host: '127.0.0.1', port: 0 });
    try {
      await running.broker.createTopic(TOPIC, 1, { 'segment.bytes': String(SEGMENT_BYTES), 'segment.ms': String(SEGMENT_MS) });
      const partition = running.broker.replicaManager.getPartitionOrError(TOPIC, 0);
      const value = Buffer.alloc(VALUE_BYTES);
      for (let i = 0; i < SEGMENTS; i++) {
        value.fill(i & 0xff);
        partition.appendRecordsToLeader(buildBatch({ records: [{ key: `k${i}`, value, timestampDelta: 0 }], baseTimestamp: T0 + i }), 1, 'client', Date.now());
      }
      const segments = fs.readdirSync(partDir).filter((n) => n.endsWith('.log')).length;
      t.equal(segments, SEGMENTS, `${SEGMENTS} segments (segment.bytes ${SEGMENT_BYTES}, segment.ms ${SEGMENT_MS})`);
      const live = fdsUnder('self', partDir);
      t.comment(`${running.broker.engine.name}: ${live} fds under the partition dir with ${segments - 1} sealed segments`);
      t.ok(live <= segments - 1 + 4, `at most one fd per sealed segment (${live} for ${segments - 1})`);
    } finally {
      await running.stop();
    }

    for (const engine of ENGINES) {
      const limited = await startLimitedBroker(dataDir, engine);
      let exit: number | null;
      try {
        const kafka = new Kafka({ clientId: 'fds', brokers: [`127.0.0.1:${limited.port}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
        const consumer = kafka.consumer({ groupId: `fds-${engine}`, maxBytesPerPartition: 1024 * 1024 });
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        let next = 0;
        let wrong = 0;
        const done = new Promise<void>((resolve) => {
          void consumer.run({
            eachMessage: ({ message }) => {
              const offset = Number(message.offset);
              const v = message.value;
              if (offset !== next || v?.length !== VALUE_BYTES || v[0] !== (offset & 0xff) || v[VALUE_BYTES - 1] !== (offset & 0xff)) wrong++;
              next = offset + 1;
              if (next === SEGMENTS) resolve();
              return Promise.resolve();
            },
          });
        });
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            done,
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`${engine}: consumed ${next} of ${SEGMENTS}`)), 120_000);
            }),
          ]);
        } finally {
          clearTimeout(timer);
        }
        await consumer.disconnect();
        t.equal(next, SEGMENTS, `${engine}: every record of every segment served after the restart`);
        t.equal(wrong, 0, `${engine}: in order, with the right bytes`);
        const pid = limited.child.pid;
        if (pid !== undefined) {
          const open = fdsUnder(pid, partDir);
          t.comment(`${engine} under ulimit -n 256: ${open} fds under the partition dir after reading ${SEGMENTS} segments`);
          t.ok(open <= 64 + 4, `${engine}: the bound (a quarter of the open-file limit) holds: ${open} open`);
        }
      } finally {
        exit = await stopChild(limited.child);
      }
      t.equal(exit, 0, `${engine}: the limited broker stops cleanly`);
    }
  });

  void t.test('ListOffsets by timestamp over a large compressed batch leaves the event loop to other clients', async (t) => {
    for (const engine of ENGINES) {
      await t.test(engine, async (t) => {
        const running = await startBroker({ engine, host: '127.0.0.1', port: 0 });
        t.teardown(() => running.stop());
        const topic = 'compressed-ts';
        await running.broker.createTopic(topic, 1, {});
        const partition = running.broker.replicaManager.getPartitionOrError(topic, 0);
        // a ~0.6 MB zstd batch of ~29 MiB of records (within the 64x decompressed-size limit): each
        // value 48 KiB of zeros and 1 KiB of noise.
        const compress = (codec: number, data: Buffer): Buffer => running.broker.engine.compress(codec as Codec, data);
        const perBatch = 600;
        for (let b = 0; b < 1; b++) {
          const records = Array.from({ length: perBatch }, (_, j) => ({
            key: `k${b}.${j}`,
            value: Buffer.concat([Buffer.alloc(48 * 1024), randomBytes(1024)]),
            timestampDelta: j,
          }));
          const batch = buildBatch({ records, baseTimestamp: T0 + b * perBatch, codec: Codec.zstd, compress });
          t.ok(batch.length < 1_000_000, `batch ${b}: ${batch.length} bytes compressed`);
          partition.appendRecordsToLeader(batch, 1, 'client', Date.now());
        }
        const kafka = new Kafka({ clientId: 'ts', brokers: [running.bootstrap], logLevel: logLevel.NOTHING });
        const lookup = kafka.admin();
        const other = kafka.admin();
        await lookup.connect();
        await other.connect();
        await other.fetchTopicMetadata({ topics: [topic] });
        const target = T0 + perBatch - 1; // the last record of the batch
        const lookupState = { answered: false };
        const listed = lookup.fetchTopicOffsetsByTimestamp(topic, target).then((r) => {
          lookupState.answered = true;
          return r;
        });
        const answered = (): boolean => lookupState.answered;
        let metadataBefore = 0;
        for (let i = 0; i < 2000 && !answered(); i++) {
          const m = await other.fetchTopicMetadata({ topics: [topic] });
          if (m.topics[0].partitions.length !== 1) t.fail('wrong Metadata answer');
          if (!answered()) metadataBefore++;
        }
        const offsets = await listed;
        t.same(
          offsets.map((o) => ({ partition: o.partition, offset: o.offset })),
          [{ partition: 0, offset: String(perBatch - 1) }],
          'the offset of the record at that timestamp',
        );
        t.ok(metadataBefore > 0, `another client's Metadata answered while the lookup ran (${metadataBefore} before it)`);
        await lookup.disconnect();
        await other.disconnect();
      });
    }
  });
}
