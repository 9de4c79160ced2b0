// broker room test (issue 15 item 5): a partition costs one file descriptor, its active segment's
// .log, as in Kafka (which mmaps its indexes): the .index and .timeindex are opened by path only
// while they are written, resized or fsynced, and nothing else (txn index, producer snapshots,
// leader epoch checkpoint, partition.metadata) stays open per idle partition. Both engines, one
// in-process broker each: 300 partitions created, one record produced to each and read back, every
// log flushed; the process's fds grow by at most ~1.1 per partition (3 per partition before).
// Then index lookups on a log that rolled (a Fetch from the middle of a multi-segment log,
// ListOffsets by timestamp), before and after a restart that loads the sealed segments' index
// files from disk.
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ListOffsetsRequest, ListOffsetsResponse } from '../../src/protocol/messages/list-offsets.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { loadEngine } from '../../src/storage/loader.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;
type ListOffsetsRes = ReturnType<typeof ListOffsetsResponse.decodeBuffer>;

const PARTITIONS = 300;
/** Batches written to the rolled log: ~30 per 4 KiB segment, so 4 segments. */
const ROLLED_BATCHES = 120;
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

const nativeAvailable = await loadEngine('native').then(
  () => true,
  () => false,
);

/** Open fds of this process (the broker runs in it); `under` counts only those below a directory. */
function openFds(under?: string): number {
  const names = readdirSync('/proc/self/fd');
  if (under === undefined) return names.length;
  let n = 0;
  for (const e of names) {
    try {
      if (readlinkSync(`/proc/self/fd/${e}`).startsWith(under)) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}

async function produce(c: RawClient, topic: string, parts: Array<{ index: number; records: Buffer }>): Promise<number[]> {
  const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: parts }],
  });
  return res.responses[0].partitionResponses.map((p) => p.errorCode);
}

/** Fetch from `offset` of every partition in `partitions`: per partition, its error and records as "offset:value". */
async function fetchFrom(c: RawClient, topic: string, partitions: number[], offset: number, maxBytes = 1 << 20): Promise<Map<number, { errorCode: number; records: string[] }>> {
  const res = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 64 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: partitions.map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: maxBytes })) }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const out = new Map<number, { errorCode: number; records: string[] }>();
  for (const p of res.responses[0].partitions) {
    const records = p.records === null ? [] : decodeBatches(p.records).flatMap((b) => b.records.map((r) => `${r.offset}:${r.value?.toString() ?? ''}`));
    out.set(p.partitionIndex, { errorCode: p.errorCode, records });
  }
  return out;
}

async function offsetForTime(c: RawClient, topic: string, timestamp: number): Promise<[number, number, number]> {
  const res = await c.request<ListOffsetsRes>(2, 5, ListOffsetsRequest, ListOffsetsResponse, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
  });
  const p = res.topics[0].partitions[0];
  return [p.errorCode, p.offset, p.timestamp];
}

/** Lookups on the rolled log: Fetch from offsets in the middle of sealed segments and the active one, ListOffsets by time. */
async function checkLookups(t: Test, c: RawClient, when: string): Promise<void> {
  for (const offset of [1, 45, 77, ROLLED_BATCHES - 2]) {
    const got = (await fetchFrom(c, 'rolled', [0], offset, 200)).get(0);
    t.equal(got?.errorCode, ErrorCode.NONE, `${when}: Fetch at ${offset} answers`);
    t.equal(got?.records[0], `${offset}:v${offset}`, `${when}: Fetch at ${offset} starts at that record`);
  }
  for (const i of [0, 1, 45, 77, ROLLED_BATCHES - 1]) {
    t.same(await offsetForTime(c, 'rolled', T0 + i * 1000), [ErrorCode.NONE, i, T0 + i * 1000], `${when}: ListOffsets at record ${i}'s time`);
    if (i > 0) t.same(await offsetForTime(c, 'rolled', T0 + i * 1000 - 500), [ErrorCode.NONE, i, T0 + i * 1000], `${when}: ListOffsets just before record ${i}'s time`);
  }
  t.same(await offsetForTime(c, 'rolled', T0 + ROLLED_BATCHES * 1000), [ErrorCode.NONE, -1, -1], `${when}: ListOffsets after the last record: none`);
}

if (process.platform !== 'linux') {
  t.comment('needs Linux (/proc/self/fd): nothing to test here');
} else {
  for (const engine of ['ts', 'native'] as const) {
    t.test(`${engine} engine: one fd per partition; index lookups on a rolled log`, async (t) => {
      if (engine === 'native' && !nativeAvailable) {
        t.fail('native engine not built (npm run build:native)');
        return;
      }
      const d = tempDir('spool-partition-fds-');
      let b: RunningBroker | null = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine, logLevel: 'silent' });
      let c = await RawClient.connect(b.port);
      t.teardown(async () => {
        c.close();
        await b?.stop();
        d.cleanup();
      });

      // What a first topic opens once for the whole broker (checkpoints, the first log) is not per partition.
      await b.broker.createTopic('warm', 1);
      t.same(await produce(c, 'warm', [{ index: 0, records: buildBatch({ baseTimestamp: Date.now(), records: [{ key: null, value: 'w', timestampDelta: 0 }] }) }]), [ErrorCode.NONE]);
      await b.broker.logManager.advanceRecoveryPoints();
      const before = openFds();

      await b.broker.createTopic('many', PARTITIONS);
      const ids = Array.from({ length: PARTITIONS }, (_, i) => i);
      const codes = await produce(
        c,
        'many',
        ids.map((index) => ({ index, records: buildBatch({ baseTimestamp: Date.now(), records: [{ key: null, value: `p${index}`, timestampDelta: 0 }] }) })),
      );
      t.same(codes, ids.map(() => ErrorCode.NONE), `one record produced to each of ${PARTITIONS} partitions`);
      const read = await fetchFrom(c, 'many', ids, 0);
      t.same(
        ids.map((p) => read.get(p)?.records),
        ids.map((p) => [`0:p${p}`]),
        'each partition reads its record back',
      );
      await b.broker.logManager.advanceRecoveryPoints();
      const after = openFds();
      const underData = openFds(join(d.dir, 'many-'));
      t.comment(`${engine}: ${after - before} more fds for ${PARTITIONS} partitions (${underData} under their directories)`);
      t.ok(after - before <= Math.ceil(1.1 * PARTITIONS) + 10, `fds grew by ${after - before} for ${PARTITIONS} partitions: at most ~1.1 each`);
      t.ok(underData <= PARTITIONS, `${underData} fds under the partitions' directories: at most one each`);

      // A log that rolls: 4 KiB segments, an index entry per batch; flushed every 25 batches (the
      // active segment's pending index entries are written and fsynced by path).
      await b.broker.createTopic('rolled', 1, { 'segment.bytes': '4096', 'index.interval.bytes': '1' });
      for (let i = 0; i < ROLLED_BATCHES; i++) {
        const batch = buildBatch({ baseTimestamp: T0 + i * 1000, records: [{ key: 'k'.repeat(60), value: `v${i}`, timestampDelta: 0 }] });
        const [code] = await produce(c, 'rolled', [{ index: 0, records: batch }]);
        if (code !== ErrorCode.NONE) {
          t.fail(`produce ${i}: error ${code}`);
          return;
        }
        if (i % 25 === 24) await b.broker.logManager.advanceRecoveryPoints();
      }
      await b.broker.logManager.advanceRecoveryPoints();
      const rolledDir = join(d.dir, 'rolled-0');
      const logs = readdirSync(rolledDir).filter((n) => n.endsWith('.log')).sort();
      t.ok(logs.length >= 3, `the log rolled: ${logs.length} segments`);
      t.ok(openFds(rolledDir) <= 1, `${openFds(rolledDir)} fd open under the rolled log's directory (its active .log)`);
      await checkLookups(t, c, 'before the restart');

      // Sealed segments' index files hold their entries (trimmed), the active one's is preallocated.
      for (const log of logs.slice(0, -1)) {
        const index = statSync(join(rolledDir, log.replace(/\.log$/, '.index'))).size;
        const time = statSync(join(rolledDir, log.replace(/\.log$/, '.timeindex'))).size;
        t.ok(index > 0 && index % 8 === 0 && time > 0 && time % 12 === 0, `${log}: index files trimmed to their entries (${index}, ${time} bytes)`);
      }

      // After a clean restart the sealed segments' indexes are loaded from their files.
      c.close();
      await b.stop();
      b = null;
      b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine, logLevel: 'silent' });
      c = await RawClient.connect(b.port);
      await checkLookups(t, c, 'after the restart');
    });
  }
}
