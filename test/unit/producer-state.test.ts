// replication/ room tests: idempotent producer state with Kafka's rules — epoch fencing and
// sequence continuity with their exact error codes, duplicates answered with their original
// offsets, int32 wrap-around, expiration, Kafka's `.snapshot` byte format, and recovery from the
// latest valid snapshot plus a replay of the log (a corrupt snapshot is ignored, not trusted).
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { Log, toLogConfig } from '../../src/log/index.js';
import { Partition } from '../../src/replication/partition.js';
import {
  PRODUCER_ENTRIES_OFFSET,
  decodeSnapshot,
  encodeSnapshot,
  listSnapshots,
  readSnapshotFile,
  snapshotFileName,
  type SnapshotEntry,
} from '../../src/replication/producer-state-snapshot.js';
import { ProducerStateManager, decrementSequence, incrementSequence, inSequence, type ProducerStateLogger } from '../../src/replication/producer-state.js';
import { crc32c } from '../../src/storage/ts/crc32c.js';
import type { StorageEngine } from '../../src/storage/engine.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch } from '../helpers/batches.js';
import { tempDir } from '../helpers/broker.js';
import { enginesUnderTest } from '../helpers/engines.js';

interface Tap {
  teardown(fn: () => unknown): void;
}

const engines = await enginesUnderTest(t);

const INT32_MAX = 2147483647;

interface Warning {
  obj: Record<string, unknown>;
  msg: string;
}

function recordingLogger(): ProducerStateLogger & { warnings: Warning[] } {
  const warnings: Warning[] = [];
  return { warnings, warn: (obj, msg) => warnings.push({ obj, msg }), info: () => undefined };
}

async function openLog(dir: string, overrides: Record<string, string> = {}, engine: StorageEngine = tsEngine): Promise<Log> {
  const topicConfig = new BrokerConfig({ env: {} }).resolveTopicConfig(overrides);
  const pl = await engine.openLog(dir, toLogConfig(topicConfig));
  return new Log('t', 0, pl, topicConfig, (err) => {
    throw err;
  });
}

interface Opened {
  log: Log;
  partition: Partition;
  logger: ReturnType<typeof recordingLogger>;
  /** A clean close (Log.close: the producer state is snapshotted). */
  closeLog: () => Promise<void>;
}

/** A single-replica leader on `dir` (its log opened, its producer state loaded). */
async function openPartition(
  t: Tap,
  dir: string,
  opts: { overrides?: Record<string, string>; expirationMs?: number; checkIntervalMs?: number; engine?: StorageEngine } = {},
): Promise<Opened> {
  const log = await openLog(dir, opts.overrides, opts.engine);
  const logger = recordingLogger();
  const partition = new Partition({ topic: 't', topicId: 'id', partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }, log, 1, {
    producerIdExpirationMs: opts.expirationMs,
    producerIdExpirationCheckIntervalMs: opts.checkIntervalMs,
    logger,
  });
  let closed = false;
  const closeLog = async () => {
    if (closed) return;
    closed = true;
    await log.close();
  };
  t.teardown(closeLog);
  return { log, partition, logger, closeLog };
}

function idem(producerId: number, epoch: number, seq: number, count = 1, timestamp = Date.now()): Buffer {
  return buildBatch({ baseTimestamp: timestamp, producerId, producerEpoch: epoch, baseSequence: seq, records: Array.from({ length: count }, (_, i) => ({ value: `p${producerId}-e${epoch}-s${seq + i}` })) });
}

function errorOf(fn: () => unknown): KafkaError | null {
  try {
    fn();
  } catch (err) {
    if (err instanceof KafkaError) return err;
    throw err;
  }
  return null;
}

function append(p: Partition, records: Buffer, origin: 'client' | 'coordinator' = 'client') {
  return p.appendRecordsToLeader(records, 1, origin, Date.now());
}

/** The state as a snapshot holds it, in producer id order: what recovery must reproduce. */
function snapshotView(p: Partition): SnapshotEntry[] {
  return p.producerState.snapshotEntries().sort((a, b) => a.producerId - b.producerId);
}

t.test('sequence helpers wrap at int32', async (t) => {
  t.equal(incrementSequence(INT32_MAX, 1), 0);
  t.equal(incrementSequence(INT32_MAX - 1, 3), 1);
  t.equal(incrementSequence(5, 4), 9);
  t.equal(decrementSequence(1, 2), INT32_MAX, 'a batch of 2147483647, 0, 1');
  t.equal(decrementSequence(9, 4), 5);
  t.ok(inSequence(INT32_MAX, 0));
  t.ok(inSequence(4, 5));
  t.notOk(inSequence(4, 6));
  t.notOk(inSequence(INT32_MAX, 1));
});

t.test('client appends follow Kafka sequence and epoch rules with exact error codes', async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const { partition: p } = await openPartition(t, d.dir);

  t.test('an unknown producer may start at any sequence (KIP-360: no UNKNOWN_PRODUCER_ID on append)', async (t) => {
    t.equal(append(p, idem(7, 3, 1234, 2)).kind, 'appended');
    t.equal(append(p, idem(7, 3, 1236)).kind, 'appended', 'then continues from there');
  });

  t.test('in sequence: accepted; a gap: OUT_OF_ORDER_SEQUENCE_NUMBER with context, nothing written', async (t) => {
    t.equal(append(p, idem(1, 0, 0, 3)).kind, 'appended');
    t.equal(append(p, idem(1, 0, 3, 2)).kind, 'appended');
    const leo = p.logEndOffset;
    const err = errorOf(() => append(p, idem(1, 0, 6)));
    t.equal(err?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    t.match(err?.context, { topic: 't', partition: 0, producerId: 1, producerEpoch: 0, sequence: 6, lastSequence: 4 });
    t.equal(p.logEndOffset, leo, 'nothing written');
    t.equal(errorOf(() => append(p, idem(1, 0, 4)))?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a sequence already passed that is no retry of a recent batch');
    t.equal(append(p, idem(1, 0, 5)).kind, 'appended', 'the right sequence still goes in');
  });

  t.test('an older epoch: INVALID_PRODUCER_EPOCH; a new epoch must start at 0', async (t) => {
    t.equal(append(p, idem(2, 5, 0, 2)).kind, 'appended');
    const leo = p.logEndOffset;
    const old = errorOf(() => append(p, idem(2, 4, 2)));
    t.equal(old?.code, ErrorCode.INVALID_PRODUCER_EPOCH);
    t.match(old?.context, { producerId: 2, producerEpoch: 4, currentEpoch: 5 });
    const newEpoch = errorOf(() => append(p, idem(2, 6, 2)));
    t.equal(newEpoch?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'new epoch at sequence 2');
    t.match(newEpoch?.context, { producerId: 2, producerEpoch: 6, sequence: 2, currentEpoch: 5 });
    t.equal(p.logEndOffset, leo, 'nothing written');
    t.equal(append(p, idem(2, 6, 0)).kind, 'appended', 'new epoch at sequence 0');
    t.equal(errorOf(() => append(p, idem(2, 5, 2)))?.code, ErrorCode.INVALID_PRODUCER_EPOCH, 'the old epoch is fenced now');
    t.equal(p.producerState.lastEntry(2)?.producerEpoch, 6);
  });

  t.test('a retry of any of the last 5 batches is answered with its original offsets', async (t) => {
    const offsets: Array<[number, number]> = [];
    for (let i = 0; i < 6; i++) {
      const r = append(p, idem(3, 0, i * 2, 2));
      if (r.kind !== 'appended') throw new Error('expected an append');
      offsets.push([r.result.firstOffset, r.result.lastOffset]);
    }
    const leo = p.logEndOffset;
    for (let i = 1; i < 6; i++) {
      const r = append(p, idem(3, 0, i * 2, 2));
      t.same(r.kind === 'duplicate' ? [r.batch.firstOffset, r.batch.lastOffset] : r.kind, offsets[i], `batch ${i} is a duplicate`);
    }
    t.equal(p.logEndOffset, leo, 'no duplicate written');
    t.equal(errorOf(() => append(p, idem(3, 0, 0, 2)))?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'the 6th batch back is no longer known');
    t.equal(errorOf(() => append(p, idem(3, 0, 10, 1)))?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'same first sequence, other range: no duplicate');
  });

  t.test('sequences wrap around after 2147483647', async (t) => {
    t.equal(append(p, idem(4, 0, INT32_MAX - 1, 2)).kind, 'appended', 'ends at 2147483647');
    t.equal(errorOf(() => append(p, idem(4, 0, INT32_MAX)))?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    t.equal(append(p, idem(4, 0, 0, 1)).kind, 'appended', '0 follows 2147483647');
    t.equal(append(p, idem(5, 0, INT32_MAX, 3)).kind, 'appended', 'a batch across the wrap (2147483647, 0, 1)');
    t.equal(p.producerState.lastEntry(5)?.batches.at(-1)?.lastSequence, 1);
    const dup = append(p, idem(5, 0, INT32_MAX, 3));
    t.equal(dup.kind, 'duplicate', 'its retry is recognised');
    t.equal(append(p, idem(5, 0, 2)).kind, 'appended');
  });

  t.test('batches of one request are checked in order, and nothing is written when one fails', async (t) => {
    append(p, idem(6, 0, 0, 2));
    t.equal(append(p, Buffer.concat([idem(6, 0, 2, 2), idem(6, 0, 4, 1)])).kind, 'appended', 'two batches in sequence');
    const leo = p.logEndOffset;
    t.equal(errorOf(() => append(p, Buffer.concat([idem(6, 0, 5, 1), idem(6, 0, 7, 1)])))?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'the second batch leaves a gap');
    t.equal(errorOf(() => append(p, Buffer.concat([idem(6, 0, 5, 1), idem(6, 0, 5, 1)])))?.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'the same batch twice in one request');
    t.equal(p.logEndOffset, leo, 'neither request wrote anything');
    t.equal(p.producerState.lastEntry(6)?.batches.at(-1)?.lastSequence, 4);
  });

  t.test('a producer id without a sequence is an INVALID_RECORD (LogValidator)', async (t) => {
    t.equal(errorOf(() => append(p, idem(8, 0, -1)))?.code, ErrorCode.INVALID_RECORD);
  });

  t.test('coordinator appends are fenced by epoch only', async (t) => {
    append(p, idem(9, 2, 0));
    t.equal(append(p, idem(9, 2, 57), 'coordinator').kind, 'appended', 'no sequence check');
    t.equal(errorOf(() => append(p, idem(9, 1, 0), 'coordinator'))?.code, ErrorCode.INVALID_PRODUCER_EPOCH);
  });
});

t.test('producers idle for producer.id.expiration.ms are forgotten', async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const now = Date.now();
  const { partition: p } = await openPartition(t, d.dir, { expirationMs: 60_000, checkIntervalMs: 0 });
  append(p, idem(1, 0, 0, 1, now - 120_000));
  append(p, idem(2, 0, 0, 1, now));
  // The append of producer 2 ran the expiration check first, with producer 1 already idle.
  append(p, idem(3, 0, 0, 1, now));
  t.notOk(p.producerState.lastEntry(1), 'producer 1 (last batch 2 minutes old) expired');
  t.ok(p.producerState.lastEntry(2));
  t.equal(append(p, idem(1, 0, 17, 1, now)).kind, 'appended', 'an expired producer is unknown again: any sequence');
  t.equal(p.producerState.removeExpiredProducers(now + 61_000), 3);
  t.equal(p.producerState.producerCount, 0);
});

t.test("snapshot bytes are Kafka's ProducerSnapshot v1 with a CRC-32C over the entries", async (t) => {
  const entry: SnapshotEntry = {
    producerId: 0x0102030405,
    epoch: 7,
    lastSequence: 99,
    lastOffset: 1234,
    offsetDelta: 4,
    timestamp: 1700000000000,
    coordinatorEpoch: -1,
    currentTxnFirstOffset: -1,
  };
  const buf = encodeSnapshot([entry]);
  t.equal(buf.length, 2 + 4 + 4 + 46);
  t.equal(buf.readInt16BE(0), 1, 'version 1');
  t.equal(buf.readUInt32BE(2), crc32c(buf, PRODUCER_ENTRIES_OFFSET), 'crc over bytes 6..end');
  t.equal(buf.readInt32BE(6), 1, 'one entry');
  t.equal(buf.readBigInt64BE(10), 0x0102030405n, 'producerId');
  t.equal(buf.readInt16BE(18), 7, 'epoch');
  t.equal(buf.readInt32BE(20), 99, 'lastSequence');
  t.equal(buf.readBigInt64BE(24), 1234n, 'lastOffset');
  t.equal(buf.readInt32BE(32), 4, 'offsetDelta');
  t.equal(buf.readBigInt64BE(36), 1700000000000n, 'timestamp');
  t.equal(buf.readInt32BE(44), -1, 'coordinatorEpoch');
  t.equal(buf.readBigInt64BE(48), -1n, 'currentTxnFirstOffset');
  t.same(decodeSnapshot(buf), [entry], 'round trip');
  t.same(decodeSnapshot(encodeSnapshot([])), [], 'empty');
  t.equal(snapshotFileName(42), '00000000000000000042.snapshot');
  const flipped = Buffer.from(buf);
  flipped[30] ^= 1;
  t.throws(() => decodeSnapshot(flipped), /CRC is no longer valid/);
  t.throws(() => decodeSnapshot(buf.subarray(0, buf.length - 1)), /schema validation/);
  const v2 = Buffer.from(buf);
  v2.writeInt16BE(2, 0);
  t.throws(() => decodeSnapshot(v2), /unknown file version 2/);
});

/** Writes idempotent batches of several producers, across segment rolls (segment.bytes 2048). */
function produceMixed(p: Partition, rounds: number, firstProducerId = 100): void {
  const seqs = new Map<number, number>();
  for (let i = 0; i < rounds; i++) {
    const producerId = firstProducerId + (i % 4);
    const seq = seqs.get(producerId) ?? 0;
    const count = 1 + (i % 3);
    const r = append(p, idem(producerId, 0, seq, count));
    if (r.kind !== 'appended') throw new Error(`round ${i} was not appended`);
    seqs.set(producerId, incrementSequence(seq, count));
    if (i % 7 === 0) append(p, buildBatch({ baseTimestamp: Date.now(), records: [{ value: `plain-${i}` }] }));
  }
}

const SMALL_SEGMENTS = { 'segment.bytes': '2048' };

t.test('segment rolls and clean close write snapshots; reopening loads the last one without replay', async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const first = await openPartition(t, d.dir, { overrides: SMALL_SEGMENTS });
  produceMixed(first.partition, 60);
  t.ok(first.log.segments().length > 3, `rolled (${first.log.segments().length} segments)`);
  const atRoll = listSnapshots(d.dir);
  t.equal(atRoll.length, 2, 'two snapshots kept');
  const segmentBases = new Set(first.log.segments().map((s) => s.baseOffset));
  for (const s of atRoll) t.ok(segmentBases.has(s.offset), `snapshot ${s.offset} sits at a segment base offset`);
  const live = snapshotView(first.partition);
  const leo = first.log.logEndOffset;
  await first.closeLog();
  const files = listSnapshots(d.dir);
  t.equal(files.at(-1)?.offset, leo, 'clean close snapshots at the log end offset');
  t.same(readSnapshotFile(files.at(-1)?.path ?? '').sort((a, b) => a.producerId - b.producerId), live, 'the file holds the live state');

  const second = await openPartition(t, d.dir, { overrides: SMALL_SEGMENTS });
  t.same(snapshotView(second.partition), live, 'loaded state equals the live state');
  t.equal(second.partition.producerState.endOffset, leo);
  const last = second.partition.producerState.lastEntry(101)?.batches.at(-1);
  const retry = last ? append(second.partition, idem(101, 0, last.firstSequence, last.lastSequence - last.firstSequence + 1)) : null;
  t.same(retry?.kind === 'duplicate' ? retry.batch.lastOffset : null, last?.lastOffset, 'a retry of the last batch is still a duplicate');
  t.same(second.logger.warnings, []);
});

for (const engine of engines) t.test(`after a crash (${engine.name} engine): the roll snapshot plus the replayed tail equal the live state`, async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const live = await openPartition(t, d.dir, { overrides: SMALL_SEGMENTS, engine });
  produceMixed(live.partition, 53);
  // A copy of the directory while the log is open is what a kill -9 leaves: no close snapshot.
  const crashed = join(d.dir, '..', `${d.dir.split('/').at(-1)}-crash`);
  cpSync(d.dir, crashed, { recursive: true });
  t.teardown(() => rmSync(crashed, { recursive: true, force: true }));
  const snapshots = listSnapshots(crashed);
  t.ok(snapshots.length > 0 && (snapshots.at(-1)?.offset ?? 0) < live.log.logEndOffset, 'the newest snapshot is behind the log end');
  const recovered = await openPartition(t, crashed, { overrides: SMALL_SEGMENTS, engine });
  t.same(snapshotView(recovered.partition), snapshotView(live.partition), 'snapshot + tail replay = live state');
  t.equal(recovered.partition.producerState.endOffset, live.log.logEndOffset);

  // With every snapshot gone the whole log is replayed: the same state, with the full 5-batch history.
  const bare = `${crashed}-bare`;
  cpSync(crashed, bare, { recursive: true });
  t.teardown(() => rmSync(bare, { recursive: true, force: true }));
  for (const s of listSnapshots(bare)) writeFileSync(s.path, ''); // zero-length: corrupt
  const replayed = await openPartition(t, bare, { overrides: SMALL_SEGMENTS, engine });
  t.same(snapshotView(replayed.partition), snapshotView(live.partition));
  for (const [id, entry] of live.partition.producerState.activeProducers()) {
    t.same(replayed.partition.producerState.lastEntry(id)?.batches, entry.batches, `producer ${id}: all 5 recent batches rebuilt`);
  }
});

t.test('a corrupt snapshot is ignored with a warning naming the file, and the state is rebuilt from the log', async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const first = await openPartition(t, d.dir, { overrides: SMALL_SEGMENTS });
  produceMixed(first.partition, 40);
  const live = snapshotView(first.partition);
  await first.closeLog();
  const newest = listSnapshots(d.dir).at(-1);
  if (!newest) throw new Error('no snapshot');
  const bytes = readFileSync(newest.path);
  bytes[bytes.length - 3] ^= 0xff;
  writeFileSync(newest.path, bytes);
  const stray = join(d.dir, snapshotFileName(999_999));
  writeFileSync(stray, encodeSnapshot([]));

  const second = await openPartition(t, d.dir, { overrides: SMALL_SEGMENTS });
  t.same(snapshotView(second.partition), live, 'state rebuilt from the older snapshot + the log');
  const warned = second.logger.warnings.map((w) => String(w.obj.file));
  t.ok(warned.includes(newest.path), 'warning names the corrupt file');
  t.ok(warned.includes(stray), 'warning names the snapshot above the log end');
  t.notOk(existsSync(newest.path), 'corrupt snapshot deleted');
  t.notOk(existsSync(stray), 'snapshot above the log end deleted');
});

t.test('follower truncation deletes snapshots above the truncation point and rebuilds the state', async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const { partition: p, log } = await openPartition(t, d.dir, { overrides: SMALL_SEGMENTS });
  produceMixed(p, 30);
  const mid = p.logEndOffset;
  const before = snapshotView(p);
  const history = new Map([...p.producerState.activeProducers()].map(([id, e]) => [id, [...e.batches]]));
  produceMixed(p, 30, 200);
  t.ok((listSnapshots(d.dir).at(-1)?.offset ?? 0) > mid, 'a snapshot above the truncation point exists');
  p.applyState({ topic: 't', topicId: 'id', partition: 0, replicas: [1, 2], isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  p.truncateTo(mid);
  t.equal(log.logEndOffset, mid);
  for (const s of listSnapshots(d.dir)) t.ok(s.offset <= mid, `snapshot ${s.offset} is at or below ${mid}`);
  t.same(snapshotView(p), before, 'state as it was at the truncation point');
  t.equal(p.producerState.endOffset, mid);
  for (const [id, entry] of p.producerState.activeProducers()) {
    const last = entry.batches.at(-1);
    t.same(last, history.get(id)?.at(-1), `producer ${id}: last batch as before`);
  }
});

for (const engine of engines) t.test(`Log reports rolls at the new segment base offsets (${engine.name} engine)`, async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const log = await openLog(d.dir, SMALL_SEGMENTS, engine);
  t.teardown(() => log.close());
  const rolls: number[] = [];
  log.onRoll((base) => rolls.push(base));
  for (let i = 0; i < 40; i++) log.append(buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'x'.repeat(200) }] }));
  t.same(rolls, log.segments().slice(1).map((s) => s.baseOffset));
  t.same(readdirSync(d.dir).filter((n) => n.endsWith('.snapshot')), [], 'the log itself writes no snapshots');
});

t.test('a manager without a dir it loaded writes no snapshot into a dir that replaced it', async (t) => {
  const d = tempDir('spool-pstate-');
  t.teardown(d.cleanup);
  const m = new ProducerStateManager({ topic: 't', partition: 0, dir: join(d.dir, 'gone') });
  m.load(0, 0, () => Buffer.alloc(0), Date.now());
  m.update([{ baseOffset: 0, lastOffset: 0, maxTimestamp: Date.now(), producerId: 1, producerEpoch: 0, baseSequence: 0, isTransactional: false, isControl: false }], 1);
  t.equal(m.takeSnapshot(false), null, 'the dir does not exist');
});
