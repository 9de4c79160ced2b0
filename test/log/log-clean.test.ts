// log room tests: Log.clean on both engines, through a replication Partition (which gives the
// cleaner its last stable offset and producer state): the latest value per key stays, aborted
// records go, the txnindex files follow the replaced segments (entries merged into the new
// segment's index, dropped with their abort marker), an index orphaned by a crash between the
// engine's swap and the merge is merged at open, and a follower copies the compacted log with its
// offset gaps.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import { Log, toLogConfig, txnIndexFileName, type AbortedTxn } from '../../src/log/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';
import { Partition } from '../../src/replication/partition.js';
import type { StorageEngine } from '../../src/storage/engine.js';
import { decodeBatches, type DecodedBatch } from '../helpers/batches.js';
import { enginesUnderTest, removeDir, tempDir } from '../helpers/engines.js';

const engines = await enginesUnderTest(t);
const T0 = Date.now();

const config = new BrokerConfig({ env: {} }).resolveTopicConfig({ 'cleanup.policy': 'compact', 'segment.bytes': '700', 'file.delete.delay.ms': '0' });

async function openPartition(engine: StorageEngine, dir: string, leader = 1): Promise<Partition> {
  const pl = await engine.openLog(dir, toLogConfig(config));
  const log = new Log('c', 0, pl, config, (err) => {
    throw err;
  });
  return new Partition({ topic: 'c', topicId: 'id', partition: 0, replicas: [1, 2], isr: [1], leader, leaderEpoch: 0, partitionEpoch: 0 }, log, 1);
}

function put(p: Partition, key: string, value: string | null): void {
  p.appendRecordsToLeader(encodeRecordBatch([{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp: T0 }]), 1, 'client', T0);
}

/** An aborted transaction of `producerId`: one record of key `key`, then the abort marker. */
function abortedTxn(p: Partition, producerId: number, key: string): void {
  p.appendRecordsToLeader(
    encodeRecordBatch([{ key: Buffer.from(key), value: Buffer.from('aborted'), timestamp: T0 }], { producerId, producerEpoch: 0, baseSequence: 0, isTransactional: true }),
    1,
    'client',
    T0,
  );
  p.appendTxnMarker(producerId, 0, 0, false, T0);
}

/** A later (idempotent) batch of the producer: its aborted batch is no longer its last one, which the cleaner would keep. */
function moreFrom(p: Partition, producerId: number): void {
  p.appendRecordsToLeader(encodeRecordBatch([{ key: Buffer.from(`p${producerId}`), value: Buffer.from('later'), timestamp: T0 }], { producerId, producerEpoch: 0, baseSequence: 1 }), 1, 'client', T0);
}

/** Every batch of the log, in order (bounded by the log end offset). */
function readAll(log: Log): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let offset = log.logStartOffset;
  for (let guard = 0; offset < log.logEndOffset && guard < 100_000; guard++) {
    const batches = decodeBatches(log.readBytes(offset, 1 << 20));
    const last = batches.at(-1);
    if (last === undefined) break;
    out.push(...batches);
    offset = last.lastOffset + 1;
  }
  return out;
}

function rawAll(log: Log): Buffer[] {
  const out: Buffer[] = [];
  let offset = log.logStartOffset;
  for (let guard = 0; offset < log.logEndOffset && guard < 100_000; guard++) {
    const buf = log.readBytes(offset, 1 << 20);
    const last = decodeBatches(buf).at(-1);
    if (last === undefined) break;
    out.push(buf);
    offset = last.lastOffset + 1;
  }
  return out;
}

function txnIndexBases(dir: string): number[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.txnindex'))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

function activeBase(log: Log): number {
  return log.segments().at(-1)?.baseOffset ?? log.logEndOffset;
}

function round(log: Log, now: number, deleteRetentionMs: number, firstDirtyOffset = log.logStartOffset): ReturnType<Log['clean']> {
  return log.clean({ firstDirtyOffset, endOffset: activeBase(log), now, deleteRetentionMs, maxMapEntries: 10_000, segmentBytes: 1 << 20, ioMaxBytesPerSecond: Infinity });
}

for (const engine of engines) {
  t.test(`${engine.name}: Log.clean keeps the latest value per key and the txnindex in step with the segments`, async (t) => {
    const dir = tempDir('spool-log-clean-');
    t.teardown(() => removeDir(dir));
    const p = await openPartition(engine, dir);
    const log = p.log;
    // Rounds of updates of 8 keys, with two aborted transactions far apart (two txnindex files).
    for (let r = 0; r < 12; r++) {
      // k0 is deleted in round 5 (a tombstone well below the active segment) and never written again.
      for (let k = r > 5 ? 1 : 0; k < 8; k++) put(p, `k${k}`, r === 5 && k === 0 ? null : `v${r}-${k}`);
      if (r === 2) abortedTxn(p, 1000, 'k1');
      if (r === 8) abortedTxn(p, 2000, 'k2');
      if (r === 9) {
        moreFrom(p, 1000);
        moreFrom(p, 2000);
      }
    }
    for (let k = 0; k < 4; k++) put(p, `tail${k}`, 'x'); // the active segment
    const segmentsBefore = log.segments().length;
    const indexesBefore = txnIndexBases(dir);
    t.equal(indexesBefore.length, 2, 'two segments hold an abort marker');
    const aborted = log.collectAbortedTxns(0, log.logEndOffset);
    t.same(
      aborted.map((a) => a.producerId),
      [1000, 2000],
    );
    const end = activeBase(log);
    const leo = log.logEndOffset;
    // What a reader of the section below `end` should see after cleaning: the last value per key.
    const expected = new Map<string, string | null>();
    for (const b of readAll(log)) {
      if (b.lastOffset >= end || (b.attributes & 0x30) !== 0) continue; // transactional (all aborted here) or control
      for (const r of b.records) expected.set(r.key?.toString() ?? '', r.value === null ? null : r.value.toString());
    }

    const r1 = await round(log, T0, 0);
    t.notOk(r1.abandoned);
    t.equal(r1.cleanedUpTo, end, 'the whole dirty section was mapped');
    t.ok(r1.groups.length >= 1 && r1.groups.length < segmentsBefore - 1, `segments grouped: ${segmentsBefore - 1} non-active into ${r1.groups.length}`);
    t.equal(log.logEndOffset, leo, 'the log end offset does not move');
    const batches = readAll(log);
    const offsets = batches.flatMap((b) => b.records.map((r) => r.offset));
    t.same(
      offsets,
      [...offsets].sort((a, b) => a - b),
      'offsets still increase',
    );
    const below = batches.filter((b) => b.lastOffset < end && (b.attributes & 0x20) === 0).flatMap((b) => b.records);
    const seen = new Map<string, string | null>();
    for (const r of below) {
      const key = r.key?.toString() ?? '';
      t.notOk(seen.has(key), `key ${key} appears once in the cleaned section`);
      seen.set(key, r.value === null ? null : r.value.toString());
    }
    t.same(Object.fromEntries(seen), Object.fromEntries(expected), 'the latest value of each key (a tombstone stays until its delete horizon)');
    t.equal(expected.get('k0'), null, 'k0 ends with its tombstone');
    t.notOk(
      below.some((r) => r.value?.toString() === 'aborted'),
      'aborted records are gone',
    );
    const bases = new Set(log.segments().map((s) => s.baseOffset));
    const indexes = txnIndexBases(dir);
    t.ok(
      indexes.every((b) => bases.has(b)),
      `every txnindex belongs to a segment (${indexes.join(',')})`,
    );
    t.same(
      log.collectAbortedTxns(0, log.logEndOffset).map((a) => a.producerId),
      [1000, 2000],
      'the abort markers stay until their delete horizon, and so do their entries',
    );

    // More updates (a dirty section for the next round), then a round past the delete horizons.
    for (let r = 0; r < 3; r++) for (let k = 4; k < 8; k++) put(p, `k${k}`, `w${r}`);
    const r2 = await round(log, T0 + 10, 0, r1.cleanedUpTo);
    t.notOk(r2.abandoned);
    // As Kafka: round 1 saw the aborted data (the markers stay, no horizon yet), round 2 finds
    // the transactions empty and gives their markers a delete horizon, round 3 (past it) drops them.
    t.same(
      log.collectAbortedTxns(0, log.logEndOffset).map((a) => a.producerId),
      [1000, 2000],
      'markers still there after round 2',
    );
    for (let r = 0; r < 3; r++) for (let k = 4; k < 8; k++) put(p, `k${k}`, `u${r}`);
    const r3 = await round(log, T0 + 20, 0, r2.cleanedUpTo);
    t.notOk(r3.abandoned);
    const markers = readAll(log).filter((b) => (b.attributes & 0x20) !== 0 && b.lastOffset < end);
    t.same(markers, [], 'past the horizon, with their data gone (and a later batch of each producer), the abort markers go');
    t.same(log.collectAbortedTxns(0, log.logEndOffset), [], 'and so do their txnindex entries');
    t.same(txnIndexBases(dir), [], 'no txnindex file is left');
    const keys = readAll(log)
      .filter((b) => b.lastOffset < end)
      .flatMap((b) => b.records.map((r) => r.key?.toString()));
    t.notOk(keys.includes('k0'), 'the tombstone is gone after its delete horizon');
    p.close();
    await log.close();
  });

  t.test(`${engine.name}: a txnindex orphaned by a crash between the swap and the merge is merged at open`, async (t) => {
    const dir = tempDir('spool-log-clean-');
    t.teardown(() => removeDir(dir));
    let p = await openPartition(engine, dir);
    for (let r = 0; r < 6; r++) {
      for (let k = 0; k < 8; k++) put(p, `k${k}`, `v${r}`);
      if (r === 1) abortedTxn(p, 1000, 'k1');
      if (r === 4) abortedTxn(p, 2000, 'k2');
    }
    for (let k = 0; k < 4; k++) put(p, `tail${k}`, 'x');
    const [first, second] = txnIndexBases(dir);
    const firstBytes = readFileSync(join(dir, txnIndexFileName(first)));
    const secondBytes = readFileSync(join(dir, txnIndexFileName(second)));
    const entries: AbortedTxn[] = p.log.collectAbortedTxns(0, p.log.logEndOffset);
    const r1 = await round(p.log, T0, 86_400_000);
    const group = r1.groups.find((g) => g.replaced.includes(first) && g.replaced.includes(second));
    t.ok(group, 'both marker segments went into one new segment');
    t.same(txnIndexBases(dir), [group?.baseOffset], 'one txnindex, at the new segment');
    p.close();
    await p.log.close();

    // The state a crash right after the engine's swap leaves: the old indexes as they were.
    writeFileSync(join(dir, txnIndexFileName(first)), firstBytes);
    writeFileSync(join(dir, txnIndexFileName(second)), secondBytes);
    p = await openPartition(engine, dir);
    t.same(txnIndexBases(dir), [group?.baseOffset], 'the orphan is merged into the index of the segment holding it');
    t.same(p.log.collectAbortedTxns(0, p.log.logEndOffset), entries, 'no entry lost');
    p.close();
    await p.log.close();
  });

  t.test(`${engine.name}: a follower copies a compacted leader log, offset gaps included`, async (t) => {
    const leaderDir = tempDir('spool-log-clean-');
    const followerDir = tempDir('spool-log-clean-');
    t.teardown(() => {
      removeDir(leaderDir);
      removeDir(followerDir);
    });
    const leader = await openPartition(engine, leaderDir);
    for (let r = 0; r < 10; r++) for (let k = 0; k < 6; k++) put(leader, `k${k}`, `v${r}`);
    for (let k = 0; k < 4; k++) put(leader, `tail${k}`, 'x');
    await round(leader.log, T0, 86_400_000);
    const leaderBatches = readAll(leader.log);
    t.ok(leaderBatches[0].baseOffset > 0, `the leader's first batch is at ${leaderBatches[0].baseOffset}: a gap at the start`);

    const follower = await openPartition(engine, followerDir, 2);
    // As the fetcher does: every answer appended as it comes, from the follower's log end offset.
    for (const chunk of rawAll(leader.log)) follower.appendRecordsAsFollower(chunk);
    t.equal(follower.logEndOffset, leader.logEndOffset);
    t.same(
      readAll(follower.log).map((b) => [b.baseOffset, b.lastOffset, b.records.map((r) => r.offset)]),
      leaderBatches.map((b) => [b.baseOffset, b.lastOffset, b.records.map((r) => r.offset)]),
      'the same batches at the same offsets',
    );
    // A refetch of what it holds is skipped, not refused.
    t.equal(follower.appendRecordsAsFollower(rawAll(leader.log)[0]), null);
    for (const p of [leader, follower]) {
      p.close();
      await p.log.close();
    }
  });
}
