// storage room tests: the produce-path append as both engines serve it. The native engine writes
// an append's packed result into a reused array (a new one when the append holds more batches than
// it has room for) and answers logStartOffset / logEndOffset from a cache that every call which
// may change the log resets; these check that what callers see is exactly what the TS engine sees.
import t from 'tap';
import { StorageErrorCode, defaultLogConfig, type AppendResult } from '../../src/storage/engine.js';
import { decodeBatches, fixCrc, simpleBatches } from '../helpers/batches.js';
import { enginesUnderTest, readSlice, removeDir, tempDir } from '../helpers/engines.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;

/** Offsets and counts of an append, as comparable plain data. */
function shape(r: AppendResult): unknown {
  return {
    firstOffset: r.firstOffset,
    lastOffset: r.lastOffset,
    logEndOffset: r.logEndOffset,
    batches: r.batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount, b.sizeInBytes]),
  };
}

const engines = await enginesUnderTest(t);

for (const engine of engines) {
  t.test(`${engine.name}: appends of 1, 64, 65 and 200 batches report every batch; offsets follow each change`, async (t) => {
    const dir = tempDir();
    t.teardown(() => removeDir(dir));
    // Small segments so deleteSegmentsBefore has whole segments to drop.
    const log = await engine.openLog(dir, { ...defaultLogConfig, segmentBytes: 8 * 1024 });
    t.teardown(() => log.close());
    let end = 0;
    for (const n of [1, 64, 65, 200, 1]) {
      const bytes = simpleBatches(n, 2, T0 + end, 8);
      t.equal(log.logEndOffset, end, `log end offset before the ${n}-batch append`);
      const r = log.append(bytes, { now: T0 });
      t.equal(r.batches.length, n, `${n} batches reported`);
      t.equal(r.firstOffset, end);
      t.equal(r.lastOffset, end + 2 * n - 1);
      t.equal(r.logEndOffset, end + 2 * n);
      t.same(
        r.batches.map((b) => b.baseOffset),
        Array.from({ length: n }, (_, i) => end + 2 * i),
        'batch base offsets in order',
      );
      t.ok(r.batches.every((b) => b.recordCount === 2 && b.lastOffset === b.baseOffset + 1 && b.sizeInBytes > 0));
      end += 2 * n;
      t.equal(log.logEndOffset, end, 'log end offset after the append');
    }
    t.equal(log.logStartOffset, 0);

    // A refused append changes nothing, and the offsets read after it are the log's.
    const corrupt = simpleBatches(1, 2, T0, 8);
    corrupt[corrupt.length - 1] ^= 0xff;
    t.throws(() => log.append(corrupt, { now: T0 }), { code: StorageErrorCode.CORRUPT_MESSAGE });
    t.equal(log.logEndOffset, end, 'log end offset unchanged by a refused append');
    const badCount = simpleBatches(1, 2, T0, 8);
    badCount.writeInt32BE(5, 57); // recordsCount 5, lastOffsetDelta 1
    fixCrc(badCount);
    t.throws(() => log.append(badCount, { now: T0 }));
    t.equal(log.logEndOffset, end);

    // Every record is on disk in append order.
    const offsets: number[] = [];
    // A read stops at its segment's end: read on from the next offset, a bounded number of times.
    for (let i = 0; i < 100 && (offsets.at(-1) ?? -1) < end - 1; i++) {
      const slice = log.read((offsets.at(-1) ?? -1) + 1, 1 << 24);
      for (const b of decodeBatches(readSlice(slice))) offsets.push(...b.records.map((r) => r.offset));
      slice.release?.();
    }
    t.same(offsets, Array.from({ length: end }, (_, i) => i), 'offsets 0.. end - 1, in order, no gaps');

    const deleted = log.deleteSegmentsBefore(200);
    t.ok(deleted > 0, 'segments deleted');
    t.equal(log.logStartOffset, 200, 'log start offset raised to 200');
    t.equal(log.logEndOffset, end);

    log.truncateTo(end - 4); // the last two 2-record batches
    t.equal(log.logEndOffset, end - 4, 'log end offset after truncateTo');
    const again = log.append(simpleBatches(1, 1, T0, 8), { now: T0 });
    t.equal(again.firstOffset, end - 4, 'the next append starts at the truncation point');
    t.equal(log.logEndOffset, end - 3);

    log.roll();
    t.equal(log.logEndOffset, end - 3, 'roll keeps the offsets');
  });

  t.test(`${engine.name}: follower appends report their batches and move the log end offset`, async (t) => {
    const leaderDir = tempDir();
    const followerDir = tempDir();
    t.teardown(() => {
      removeDir(leaderDir);
      removeDir(followerDir);
    });
    const leader = await engine.openLog(leaderDir, defaultLogConfig);
    const follower = await engine.openLog(followerDir, defaultLogConfig);
    t.teardown(async () => {
      await leader.close();
      await follower.close();
    });
    const first = leader.append(simpleBatches(70, 1, T0, 8), { now: T0, leaderEpoch: 3 });
    const second = leader.append(simpleBatches(2, 3, T0, 8), { now: T0, leaderEpoch: 3 });
    const slice = leader.read(0, 1 << 24);
    const bytes = readSlice(slice);
    slice.release?.();
    const split = first.batches.reduce((n, b) => n + b.sizeInBytes, 0);
    const f1 = follower.appendAsFollower(bytes.subarray(0, split));
    t.same(shape(f1), shape(first), 'a 70-batch follower append reports what the leader appended');
    t.equal(follower.logEndOffset, 70);
    const f2 = follower.appendAsFollower(bytes.subarray(split));
    t.same(shape(f2), shape(second));
    t.equal(follower.logEndOffset, 76);
    t.throws(() => follower.appendAsFollower(bytes.subarray(0, split)), 'offsets below the log end are refused');
    t.equal(follower.logEndOffset, 76, 'and change nothing');
  });
}

t.test('native: a closed log refuses offset reads (no cached answer)', async (t) => {
  const native = engines.find((e) => e.name === 'native');
  if (native === undefined) {
    t.comment('native engine not loaded');
    return;
  }
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const log = await native.openLog(dir, defaultLogConfig);
  log.append(simpleBatches(1, 1, T0, 8), { now: T0 });
  t.equal(log.logEndOffset, 1);
  t.equal(log.logStartOffset, 0);
  await log.close();
  t.throws(() => log.logEndOffset, 'logEndOffset after close');
  t.throws(() => log.logStartOffset, 'logStartOffset after close');
});
