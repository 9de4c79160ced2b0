// storage room tests: PartitionLog.clean (log compaction, docs/storage-format.md "Cleaning") against
// every engine — a randomized model test, the offset map bound, segment grouping, producer-state
// empty batches, crash leftovers, appends during a round, abandoned rounds, follower appends of
// cleaned data, and the TS and native engines' outputs compared.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { CleanOptions, CleanResult, Codec, LogConfig, PartitionLog, StorageEngine, defaultLogConfig } from '../../src/storage/engine.js';
import { buildBatch, decodeBatches, type DecodedBatch, type TestRecord } from '../helpers/batches.js';
import { enginesUnderTest, readSlice, removeDir, tempDir } from '../helpers/engines.js';

const T0 = 1_700_000_000_000;
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 2048, indexIntervalBytes: 256, fileDeleteDelayMs: 0 };
const name = (base: number, ext: string): string => `${String(base).padStart(20, '0')}.${ext}`;

async function openLog(t: Test, engine: StorageEngine, config: LogConfig = cfg, dir = tempDir('spool-clean-')): Promise<PartitionLog> {
  const log = await engine.openLog(dir, config);
  t.teardown(async () => {
    await log.close().catch(() => undefined);
    removeDir(dir);
  });
  return log;
}

function optionsFor(log: PartitionLog, over: Partial<CleanOptions> = {}): CleanOptions {
  const segs = log.segments();
  return {
    firstDirtyOffset: log.logStartOffset,
    endOffset: segs[segs.length - 1].baseOffset,
    now: T0,
    deleteRetentionMs: 1000,
    maxMapEntries: 1_000_000,
    segmentBytes: 1 << 20,
    ioMaxBytesPerSecond: Infinity,
    abortedTxns: [],
    producerLastOffsets: [],
    ...over,
  };
}

/** Raw bytes of the whole log, slice by slice from the log start. */
function readRaw(log: PartitionLog): Buffer[] {
  const parts: Buffer[] = [];
  let offset = log.logStartOffset;
  for (let guard = 0; guard < 100_000 && offset < log.logEndOffset; guard++) {
    const bytes = readSlice(log.read(offset, 1 << 20));
    if (bytes.length === 0) break;
    parts.push(bytes);
    offset = lastOffsetOf(bytes) + 1;
  }
  return parts;
}

/** lastOffset of the last batch in `bytes` (headers only). */
function lastOffsetOf(bytes: Buffer): number {
  let pos = 0;
  let last = -1;
  while (pos + 61 <= bytes.length) {
    last = Number(bytes.readBigInt64BE(pos)) + bytes.readInt32BE(pos + 23);
    pos += bytes.readInt32BE(pos + 8) + 12;
  }
  return last;
}

function readAll(log: PartitionLog, engine: StorageEngine): DecodedBatch[] {
  return readRaw(log).flatMap((bytes) => decodeBatches(bytes, (codec, data) => engine.decompress(codec as Codec, data)));
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /\.(cleaned|swap)$/.test(n));
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function marker(producerId: number, commit: boolean, baseTimestamp: number): Buffer {
  return buildBatch({
    records: [{ key: Buffer.from([0, 0, 0, commit ? 1 : 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }],
    control: true,
    transactional: true,
    producerId,
    producerEpoch: 0,
    baseTimestamp,
  });
}

/** One record as the model knows it. */
interface Truth {
  key: string | null;
  value: string | null;
  aborted: boolean;
  /** `now` of the first round whose cleaned range held this record. */
  firstCleaned?: number;
}

/** Builds a log from a seeded random workload and checks it after every clean round. */
async function modelTest(t: Test, engine: StorageEngine, seed: number): Promise<void> {
  const random = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const log = await openLog(t, engine);
  const D = 1000;
  const truth = new Map<number, Truth>();
  const aborted: CleanOptions['abortedTxns'] = [];
  const producerLast = new Map<number, number>();
  const open = new Map<number, { first: number; offsets: number[] }>();
  let checkpoint = 0;
  let cleanedTo = 0;
  let clock = T0;
  let valueSeq = 0;
  const codecs = [Codec.none, Codec.none, Codec.none, Codec.gzip, Codec.zstd];

  for (let round = 0; round < 6; round++) {
    for (let b = 0; b < 40; b++) {
      clock += 3;
      const txnProducer = 1000 + Math.floor(random() * 2);
      const roll = random();
      if (roll < 0.12 && open.has(txnProducer)) {
        const txn = open.get(txnProducer);
        if (!txn) continue;
        const commit = random() < 0.5;
        const r = log.append(marker(txnProducer, commit, clock), { now: clock });
        if (!commit) {
          aborted.push({ producerId: txnProducer, firstOffset: txn.first, lastOffset: r.firstOffset });
          for (const o of txn.offsets) {
            const rec = truth.get(o);
            if (rec) rec.aborted = true;
          }
        }
        open.delete(txnProducer);
        continue;
      }
      const transactional = roll < 0.35;
      const producerId = transactional ? txnProducer : roll < 0.5 ? 7 : -1;
      const records: TestRecord[] = [];
      const n = 1 + Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        const keyless = random() < 0.03;
        const tomb = random() < 0.15;
        records.push({ key: keyless ? null : `k${Math.floor(random() * 25)}`, value: tomb ? null : `v${valueSeq++}`, timestampDelta: i });
      }
      const codec = pick(codecs);
      const batch = buildBatch({
        records,
        baseTimestamp: clock,
        codec,
        compress: (c, d) => engine.compress(c as Codec, d),
        producerId,
        producerEpoch: producerId >= 0 ? 0 : -1,
        baseSequence: producerId >= 0 ? 0 : -1,
        transactional,
      });
      const r = log.append(batch, { now: clock });
      records.forEach((rec, i) => {
        truth.set(r.firstOffset + i, {
          key: rec.key === null || rec.key === undefined ? null : String(rec.key),
          value: rec.value === null || rec.value === undefined ? null : String(rec.value),
          aborted: false,
        });
      });
      if (producerId >= 0) producerLast.set(producerId, r.lastOffset);
      if (transactional) {
        const txn = open.get(producerId) ?? { first: r.firstOffset, offsets: [] };
        for (let i = 0; i < n; i++) txn.offsets.push(r.firstOffset + i);
        open.set(producerId, txn);
      }
    }
    log.roll();
    const now = T0 + (round + 1) * 700;
    const segs = log.segments();
    // The LSO bound: no open transaction's data may be cleaned.
    const lso = Math.min(log.logEndOffset, ...[...open.values()].map((x) => x.first));
    const endOffset = Math.min(segs[segs.length - 1].baseOffset, lso);
    const options = optionsFor(log, {
      firstDirtyOffset: checkpoint,
      endOffset,
      now,
      deleteRetentionMs: D,
      maxMapEntries: pick([8, 15, 1000]),
      segmentBytes: pick([1500, 6000, 1 << 20]),
      abortedTxns: [...aborted].sort((a, b) => a.firstOffset - b.firstOffset),
      producerLastOffsets: [...producerLast],
    });
    const result = await log.clean(options);
    t.notOk(result.abandoned, `seed ${seed} round ${round}: not abandoned`);
    t.ok(result.cleanedUpTo >= checkpoint && result.cleanedUpTo <= endOffset, `round ${round}: cleanedUpTo ${result.cleanedUpTo} in [${checkpoint}, ${endOffset}]`);
    checkpoint = result.cleanedUpTo;
    cleanedTo = Math.max(cleanedTo, result.cleanedUpTo);
    for (const [offset, rec] of truth) if (offset < result.cleanedUpTo && rec.firstCleaned === undefined) rec.firstCleaned = now;

    // What the log holds now, against the model.
    const batches = readAll(log, engine);
    let last = -1;
    let orderOk = true;
    let truthOk = true;
    const present = new Map<number, { key: string | null; value: string | null }>();
    for (const b of batches) {
      if (b.baseOffset <= last || b.lastOffset < b.baseOffset || !b.crcValid) orderOk = false;
      let prev = b.baseOffset - 1;
      for (const r of b.records) {
        if (r.offset <= prev || r.offset > b.lastOffset) orderOk = false;
        prev = r.offset;
      }
      last = b.lastOffset;
      if (b.attributes & 0x20) continue;
      for (const r of b.records) {
        const want = truth.get(r.offset);
        const got = { key: r.key === null ? null : r.key.toString(), value: r.value === null ? null : r.value.toString() };
        if (want?.key !== got.key || want.value !== got.value) truthOk = false;
        present.set(r.offset, got);
      }
    }
    t.ok(orderOk, `round ${round}: batch and record offsets strictly increase, CRCs valid`);
    t.ok(truthOk, `round ${round}: every record is the one appended at its offset (never renumbered)`);
    const latest = new Map<string, number>();
    for (const [offset, rec] of truth) if (rec.key !== null && !rec.aborted) latest.set(rec.key, Math.max(latest.get(rec.key) ?? -1, offset));
    const problems: string[] = [];
    for (const [key, offset] of latest) {
      const rec = truth.get(offset);
      if (!rec) continue;
      const expired = rec.value === null && rec.firstCleaned !== undefined && now >= rec.firstCleaned + D;
      if (expired && present.has(offset)) problems.push(`${key}: tombstone at ${offset} past its horizon is still there`);
      if (!expired && !present.has(offset)) problems.push(`${key}: latest record at ${offset} is missing`);
    }
    const seen = new Set<string>();
    for (const [offset, got] of present) {
      if (offset >= cleanedTo) continue;
      if (got.key === null) problems.push(`keyless record at ${offset} below the cleaned point`);
      else if (seen.has(got.key)) problems.push(`${got.key} twice below the cleaned point (${offset})`);
      else seen.add(got.key);
      if (truth.get(offset)?.aborted) problems.push(`aborted record at ${offset} below the cleaned point`);
    }
    t.same(problems, [], `round ${round}: latest value per key kept, tombstones until their horizon, no duplicates or aborted data below ${cleanedTo}`);
    t.same(leftovers(log.dir), [], `round ${round}: no .cleaned or .swap files`);
  }
  // The cleaned log survives a reopen unchanged.
  const before = readRaw(log);
  await log.close();
  const reopened = await engine.openLog(log.dir, cfg);
  t.same(Buffer.concat(readRaw(reopened)), Buffer.concat(before), 'reopened: same bytes');
  await reopened.close();
}

/** A log of `segments` inactive segments, each holding `keysPerSegment` distinct keys. */
async function segmentsOfKeys(t: Test, engine: StorageEngine, segments: number, keysPerSegment: number, config: LogConfig = cfg): Promise<PartitionLog> {
  const log = await openLog(t, engine, config);
  for (let s = 0; s < segments; s++) {
    for (let k = 0; k < keysPerSegment; k++) {
      log.append(buildBatch({ records: [{ key: `s${s}k${k}`, value: `v${s}` }, { key: `shared${k}`, value: `x${s}` }], baseTimestamp: T0 + s }), { now: T0 });
    }
    log.roll();
  }
  return log;
}

t.test('storage clean', async (t) => {
  const engines = await enginesUnderTest(t);
  for (const engine of engines) {
    await t.test(`${engine.name} engine`, async (t) => {
      for (const seed of [1, 2, 3]) {
        await t.test(`randomized model, seed ${seed}`, async (t) => {
          await modelTest(t, engine, seed);
        });
      }

      await t.test('offset map full: cleanedUpTo stops at a segment boundary, the first dirty segment is mapped whole', async (t) => {
        const log = await segmentsOfKeys(t, engine, 3, 10);
        const bases = log.segments().map((s) => s.baseOffset);
        const full = await log.clean(optionsFor(log, { maxMapEntries: 25 }));
        t.equal(full.cleanedUpTo, bases[1], 'the second segment (10 new keys) did not fit 25 after 20');
        t.same(full.groups.map((g) => g.replaced), [[bases[0]]], 'only the mapped segment is cleaned');
        const tiny = await log.clean(optionsFor(log, { firstDirtyOffset: full.cleanedUpTo, maxMapEntries: 5 }));
        t.equal(tiny.cleanedUpTo, bases[2], 'a first dirty segment larger than the map is still mapped whole');
        const rest = await log.clean(optionsFor(log, { firstDirtyOffset: tiny.cleanedUpTo }));
        t.equal(rest.cleanedUpTo, bases[3], 'an unbounded map reaches endOffset');
        const shared = readAll(log, engine)
          .flatMap((b) => b.records)
          .filter((r) => r.key?.toString().startsWith('shared'));
        t.same(
          shared.map((r) => r.value?.toString()),
          Array.from({ length: 10 }, () => 'x2'),
          'each shared key keeps its latest value only',
        );
        const none = await log.clean(optionsFor(log, { firstDirtyOffset: rest.cleanedUpTo }));
        t.same([none.cleanedUpTo, none.groups], [rest.cleanedUpTo, []], 'nothing dirty: nothing done');
      });

      await t.test('segments are grouped by segmentBytes and keep the first base offset', async (t) => {
        const log = await segmentsOfKeys(t, engine, 6, 8);
        const before = log.segments();
        const size = before[0].sizeInBytes;
        const r = await log.clean(optionsFor(log, { segmentBytes: size * 2 + 10 }));
        t.same(
          r.groups.map((g) => g.replaced),
          [0, 2, 4].map((i) => [before[i].baseOffset, before[i + 1].baseOffset]),
          'pairs of segments',
        );
        t.same(
          log.segments().map((s) => s.baseOffset),
          [before[0].baseOffset, before[2].baseOffset, before[4].baseOffset, before[6].baseOffset],
          'one new segment per group, named after its first segment',
        );
        t.same(
          r.groups.map((g) => g.sizeInBytes),
          log.segments().slice(0, 3).map((s) => s.sizeInBytes),
          'group sizes are the new segment sizes',
        );
        t.equal(r.bytesWritten, r.groups.reduce((a, g) => a + g.sizeInBytes, 0));
        t.ok(r.recordsRead >= r.recordsRetained && r.recordsRetained > 0);
        const one = await log.clean(optionsFor(log, { firstDirtyOffset: r.cleanedUpTo }));
        t.same(one.groups, [], 'nothing dirty');
        const all = await log.clean(optionsFor(log, { firstDirtyOffset: 0, segmentBytes: 1 << 20 }));
        t.equal(all.groups.length, 1, 'a large segmentBytes takes every cleaned segment in one group');
        t.same(fs.readdirSync(log.dir).filter((n) => n.endsWith('.log')), [name(0, 'log'), name(before[6].baseOffset, 'log')]);
      });

      await t.test("a producer's last batch is kept as an empty batch", async (t) => {
        const log = await openLog(t, engine);
        const first = buildBatch({ records: [{ key: 'a', value: '1' }, { key: 'b', value: '1' }], baseTimestamp: T0, producerId: 42, producerEpoch: 3, baseSequence: 5 });
        log.append(first, { now: T0 });
        log.append(buildBatch({ records: [{ key: 'c', value: '1' }], baseTimestamp: T0, producerId: 43, producerEpoch: 0, baseSequence: 0 }), { now: T0 });
        log.append(buildBatch({ records: [{ key: 'a', value: '2' }, { key: 'b', value: '2' }, { key: 'c', value: '2' }], baseTimestamp: T0 + 5 }), { now: T0 });
        log.roll();
        const r = await log.clean(optionsFor(log, { producerLastOffsets: [[42, 1]] }));
        t.equal(r.recordsRetained, 3);
        const batches = readAll(log, engine);
        t.same(
          batches.map((b) => [b.baseOffset, b.lastOffset, b.records.length]),
          [
            [0, 1, 0],
            [3, 5, 3],
          ],
          'producer 42 keeps an empty batch, producer 43 (no longer in producer state) loses its batch',
        );
        const empty = readRaw(log)[0].subarray(0, 61);
        t.equal(empty.readInt32BE(8), 49, 'batch length 49: header only');
        t.equal(Number(empty.readBigInt64BE(27)), -1, 'baseTimestamp -1');
        t.equal(Number(empty.readBigInt64BE(35)), T0, 'maxTimestamp kept');
        t.same([Number(empty.readBigInt64BE(43)), empty.readInt16BE(51), empty.readInt32BE(53), empty.readInt32BE(57)], [42, 3, 5, 0], 'producer fields kept, no records');
        t.ok(batches[0].crcValid, 'CRC valid');
      });

      await t.test('tombstones and markers get a delete horizon, then go', async (t) => {
        const log = await openLog(t, engine);
        log.append(buildBatch({ records: [{ key: 'a', value: '1' }], baseTimestamp: T0 }), { now: T0 });
        log.append(buildBatch({ records: [{ key: 'a', value: null, timestampDelta: 3 }, { key: 'b', value: 'x', timestampDelta: 7 }], baseTimestamp: T0 + 10 }), { now: T0 });
        log.append(buildBatch({ records: [{ key: 't', value: 'v' }], baseTimestamp: T0, transactional: true, producerId: 9, producerEpoch: 0, baseSequence: 0 }), { now: T0 });
        log.append(marker(9, true, T0 + 20), { now: T0 });
        log.append(buildBatch({ records: [{ key: 't', value: 'w' }], baseTimestamp: T0 + 30 }), { now: T0 });
        log.roll();
        const now = T0 + 5000;
        await log.clean(optionsFor(log, { now, deleteRetentionMs: 100 }));
        let batches = readAll(log, engine);
        const tomb = batches.find((b) => b.records.some((r) => r.key?.toString() === 'a'));
        t.ok(tomb, 'the tombstone stays until its horizon');
        t.equal((tomb?.attributes ?? 0) & 0x40, 0x40, 'attribute bit 0x40');
        t.equal(tomb?.baseTimestamp, now + 100, 'baseTimestamp holds deleteHorizonMs');
        t.same(
          tomb?.records.map((r) => [r.offset, r.timestamp]),
          [
            [1, T0 + 13],
            [2, T0 + 17],
          ],
          'record timestamps unchanged (deltas rebased on the horizon)',
        );
        t.equal(tomb?.maxTimestamp, T0 + 17);
        const markerOf = (bs: DecodedBatch[]): DecodedBatch | undefined => bs.find((b) => b.attributes & 0x20);
        t.equal(markerOf(batches)?.attributes, 0x30, 'the commit marker stays as it was: its transaction had data in this round');
        t.notOk(batches.some((b) => b.records.some((r) => r.value?.toString() === 'v')), 'the superseded transactional record is gone');
        await log.clean(optionsFor(log, { now: now + 99, deleteRetentionMs: 100 }));
        batches = readAll(log, engine);
        t.equal(batches.filter((b) => b.records.some((r) => r.key?.toString() === 'a')).length, 1, 'the tombstone is still there just before its horizon');
        t.equal(markerOf(batches)?.attributes, 0x70, 'no data of its transaction left: the marker gets a horizon');
        t.equal(markerOf(batches)?.baseTimestamp, now + 199);
        await log.clean(optionsFor(log, { now: now + 100, deleteRetentionMs: 100 }));
        batches = readAll(log, engine);
        t.same(
          batches.flatMap((b) => b.records.map((r) => [r.offset, r.key?.toString()])),
          [
            [2, 'b'],
            [4, '\u0000\u0000\u0000\u0001'],
            [5, 't'],
          ],
          'the tombstone is gone at its horizon, the values and the marker stay',
        );
        await log.clean(optionsFor(log, { now: now + 199, deleteRetentionMs: 100 }));
        t.notOk(markerOf(readAll(log, engine)), 'the marker is gone at its horizon');
        t.same(log.offsetForTimestamp(T0 + 14), { timestamp: T0 + 17, offset: 2 }, 'offsetForTimestamp over a rebuilt batch');
      });

      await t.test('crash leftovers: .cleaned removed, .swap completed with and without the old segments', async (t) => {
        const build = async (dir: string): Promise<PartitionLog> => {
          const log = await engine.openLog(dir, cfg);
          for (let s = 0; s < 3; s++) {
            for (let k = 0; k < 6; k++) log.append(buildBatch({ records: [{ key: `k${k}`, value: `v${s}.${k}` }], baseTimestamp: T0 + s }), { now: T0 });
            log.roll();
          }
          return log;
        };
        const cleanDir = tempDir('spool-clean-');
        t.teardown(() => removeDir(cleanDir));
        const reference = await build(cleanDir);
        const bases = reference.segments().map((s) => s.baseOffset);
        const r = await reference.clean(optionsFor(reference));
        t.same(r.groups.map((g) => g.replaced), [bases.slice(0, 3)], 'one group of three segments');
        const expected = Buffer.concat(readRaw(reference));
        await reference.close();
        const cleanedFiles = ['log', 'index', 'timeindex'].map((ext) => fs.readFileSync(path.join(cleanDir, name(0, ext))));

        for (const scenario of ['cleaned', 'swap with old segments', 'swap without old segments', 'swap half renamed']) {
          const dir = tempDir('spool-clean-');
          t.teardown(() => removeDir(dir));
          const log = await build(dir);
          const original = Buffer.concat(readRaw(log));
          await log.close();
          const exts = ['log', 'index', 'timeindex'];
          if (scenario === 'cleaned') {
            exts.forEach((ext, i) => fs.writeFileSync(path.join(dir, `${name(0, ext)}.cleaned`), cleanedFiles[i]));
          } else {
            exts.forEach((ext, i) => fs.writeFileSync(path.join(dir, `${name(0, ext)}.swap`), cleanedFiles[i]));
            if (scenario !== 'swap with old segments') {
              for (const base of bases.slice(0, 3)) {
                for (const ext of exts) fs.renameSync(path.join(dir, name(base, ext)), path.join(dir, `${name(base, ext)}.deleted`));
              }
            }
            if (scenario === 'swap half renamed') fs.renameSync(path.join(dir, `${name(0, 'index')}.swap`), path.join(dir, name(0, 'index')));
          }
          const reopened = await engine.openLog(dir, cfg);
          const bytes = Buffer.concat(readRaw(reopened));
          t.same(bytes, scenario === 'cleaned' ? original : expected, `${scenario}: the log reads as ${scenario === 'cleaned' ? 'before the round' : 'after the round'}`);
          const offsets = decodeBatches(bytes, (c, d) => engine.decompress(c as Codec, d)).flatMap((b) => b.records.map((x) => x.offset));
          t.same(offsets, [...new Set(offsets)].sort((a, b) => a - b), `${scenario}: no duplicate offsets`);
          t.same(
            fs.readdirSync(dir).filter((n) => /\.(cleaned|swap|deleted)$/.test(n)),
            [],
            `${scenario}: no leftovers`,
          );
          t.equal(reopened.logEndOffset, 18, `${scenario}: log end offset kept`);
          await reopened.close();
        }
      });

      await t.test('appends, reads and flushes go on during a round', async (t) => {
        const log = await segmentsOfKeys(t, engine, 8, 40);
        const leo = log.logEndOffset;
        const round = log.clean(optionsFor(log, { ioMaxBytesPerSecond: 200_000 }));
        const state = { settled: false };
        void round.finally(() => {
          state.settled = true;
        });
        let appended = 0;
        let unreadable = 0;
        for (let i = 0; i < 2000 && !state.settled; i++) {
          log.append(buildBatch({ records: [{ key: `live${i}`, value: 'x' }], baseTimestamp: T0 }), { now: T0 });
          appended++;
          if (readSlice(log.read(leo + i, 1 << 16)).length === 0) unreadable++;
          if (readSlice(log.read(0, 1 << 16)).length === 0) unreadable++;
          if (i % 10 === 0) await log.flush();
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        t.equal(unreadable, 0, 'reads during the round return data');
        const r = await round;
        t.notOk(r.abandoned, 'the round finishes');
        t.ok(appended > 1, `appended ${appended} batches while the round ran`);
        t.equal(log.logEndOffset, leo + appended);
        const live = readAll(log, engine)
          .flatMap((b) => b.records)
          .filter((x) => x.key?.toString().startsWith('live'));
        t.equal(live.length, appended, 'every concurrent append is readable');
        await t.rejects(
          Promise.all([log.clean(optionsFor(log, { ioMaxBytesPerSecond: 100_000, firstDirtyOffset: 0 })), log.clean(optionsFor(log))]),
          'a second concurrent round is refused',
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
      });

      await t.test('a round abandons when a source segment is deleted meanwhile', async (t) => {
        const log = await segmentsOfKeys(t, engine, 6, 40);
        const before = readRaw(log);
        const bases = log.segments().map((s) => s.baseOffset);
        const round = log.clean(optionsFor(log, { ioMaxBytesPerSecond: 100_000 }));
        await new Promise((resolve) => setTimeout(resolve, 20));
        t.equal(log.deleteSegmentsBefore(bases[1]), 1, 'retention deletes the first segment');
        const r = await round;
        t.ok(r.abandoned, 'abandoned');
        t.same(leftovers(log.dir), [], 'its .cleaned files are gone');
        const after = Buffer.concat(readRaw(log));
        t.same(after, Buffer.concat(before).subarray(before[0].length), 'the log is as retention left it');
        const again = await log.clean(optionsFor(log));
        t.notOk(again.abandoned, 'the next round runs');
      });

      await t.test('a round abandons when a source segment is truncated, or the log closed, meanwhile', async (t) => {
        const log = await segmentsOfKeys(t, engine, 6, 40);
        const bases = log.segments().map((s) => s.baseOffset);
        const round = log.clean(optionsFor(log, { ioMaxBytesPerSecond: 100_000 }));
        await new Promise((resolve) => setTimeout(resolve, 20));
        log.truncateTo(bases[3] + 6);
        const r = await round;
        t.ok(r.abandoned, 'truncation: abandoned');
        t.equal(r.cleanedUpTo, 0, 'the checkpoint does not move');
        t.same(leftovers(log.dir), [], 'no .cleaned files');
        t.equal(log.logEndOffset, bases[3] + 6);
        t.equal(readAll(log, engine).flatMap((b) => b.records).length, bases[3] + 6, 'nothing lost below the truncation point');
        const closing = log.clean(optionsFor(log, { ioMaxBytesPerSecond: 100_000 }));
        await new Promise((resolve) => setTimeout(resolve, 20));
        await log.close();
        t.ok((await closing).abandoned, 'close: abandoned');
        t.same(leftovers(log.dir), [], 'no .cleaned files after close');
      });

      await t.test('a follower appends cleaned batches and ends with the same bytes', async (t) => {
        const leader = await openLog(t, engine);
        for (let i = 0; i < 60; i++) {
          const records: TestRecord[] = [0, 1, 2].map((j) => ({ key: `k${(i * 3 + j) % 11}`, value: (i + j) % 7 === 0 ? null : `v${i}.${j}`, timestampDelta: j }));
          leader.append(
            buildBatch({ records, baseTimestamp: T0 + i, codec: i % 4 === 3 ? Codec.gzip : Codec.none, compress: (c, d) => engine.compress(c as Codec, d), producerId: i % 5, producerEpoch: 0, baseSequence: i }),
            { now: T0 },
          );
        }
        const p = leader.append(
          buildBatch({ records: [{ key: 'k0', value: 'p' }, { key: 'k1', value: 'p' }], baseTimestamp: T0 + 90, producerId: 2, producerEpoch: 0, baseSequence: 60 }),
          { now: T0 },
        );
        leader.append(buildBatch({ records: [{ key: 'k0', value: 'last' }, { key: 'k1', value: 'last' }, { key: 'gone', value: null }], baseTimestamp: T0 + 100 }), { now: T0 });
        leader.roll();
        const producerLastOffsets: Array<[number, number]> = [[2, p.lastOffset]];
        await leader.clean(optionsFor(leader, { producerLastOffsets, now: T0 + 10 }));
        const slices = readRaw(leader);
        const batches = slices.flatMap((s) => decodeBatches(s, (c, d) => engine.decompress(c as Codec, d)));
        t.ok(batches.some((b) => b.records.length === 0), 'the cleaned log holds an empty batch');
        t.ok(batches.some((b) => b.records.length > 0 && b.lastOffset - b.baseOffset + 1 > b.records.length), 'and batches with offset gaps');
        t.ok(batches.some((b) => b.attributes & 0x40), 'and delete horizons');
        t.ok(batches[0].baseOffset > 0, 'and it starts past offset 0');
        const follower = await openLog(t, engine);
        for (const s of slices) follower.appendAsFollower(Buffer.from(s));
        t.same(Buffer.concat(readRaw(follower)), Buffer.concat(slices), 'same bytes');
        t.equal(follower.logEndOffset, leader.logEndOffset, 'same log end offset');
        t.same(follower.offsetForTimestamp(T0 + 30), leader.offsetForTimestamp(T0 + 30), 'offsetForTimestamp alike');
        t.same(follower.maxTimestampAndOffset(), leader.maxTimestampAndOffset());
        const again = Buffer.from(slices[0]);
        t.throws(() => follower.appendAsFollower(again), 'a first offset below the log end offset is refused');
        const dir = follower.dir;
        await follower.close();
        const reopened = await engine.openLog(dir, cfg);
        t.teardown(() => reopened.close());
        t.same(Buffer.concat(readRaw(reopened)), Buffer.concat(slices), 'recovery keeps the cleaned batches');
        t.equal(reopened.logEndOffset, leader.logEndOffset);
        // The leader path keeps full validation.
        const emptyBatch = findEmpty(slices);
        t.equal(emptyBatch.length, 61);
        t.throws(() => reopened.append(emptyBatch, { now: T0 }), 'a leader append refuses an empty batch');
      });
    });
  }

  if (engines.length === 2) {
    await t.test('ts and native clean the same input alike', async (t) => {
      for (const codec of [Codec.none, Codec.lz4]) {
        const dirs: string[] = [];
        const results: CleanResult[] = [];
        const records: DecodedBatch[][] = [];
        for (const engine of engines) {
          const dir = tempDir('spool-clean-x-');
          t.teardown(() => removeDir(dir));
          dirs.push(dir);
          const log = await engine.openLog(dir, cfg);
          const random = rng(99);
          const aborted: CleanOptions['abortedTxns'] = [];
          for (let i = 0; i < 120; i++) {
            const recs: TestRecord[] = Array.from({ length: 1 + (i % 3) }, (_, j) => ({
              key: random() < 0.02 ? null : `k${Math.floor(random() * 15)}`,
              value: random() < 0.2 ? null : `v${i}.${j}`,
              timestampDelta: j * 3,
              headers: j === 1 ? [{ key: 'h', value: `x${i}` }] : [],
            }));
            const txn = i % 10 === 4;
            const r = log.append(
              buildBatch({ records: recs, baseTimestamp: T0 + i, codec, compress: (c, d) => engine.compress(c as Codec, d), producerId: txn ? 77 : i % 3, producerEpoch: 0, baseSequence: i, transactional: txn }),
              { now: T0 },
            );
            if (txn) {
              const m = log.append(marker(77, i % 20 !== 4, T0 + i), { now: T0 });
              if (i % 20 === 4) aborted.push({ producerId: 77, firstOffset: r.firstOffset, lastOffset: m.firstOffset });
            }
          }
          log.roll();
          const opts = (now: number, first: number): CleanOptions =>
            optionsFor(log, { now, firstDirtyOffset: first, maxMapEntries: 12, segmentBytes: 5000, abortedTxns: aborted, producerLastOffsets: [[0, 5], [1, 100], [2, 80]] });
          let r = await log.clean(opts(T0 + 1000, 0));
          for (let k = 0; k < 5 && r.cleanedUpTo < opts(0, 0).endOffset; k++) r = await log.clean(opts(T0 + 1000, r.cleanedUpTo));
          r = await log.clean(opts(T0 + 3000, 0));
          results.push(r);
          records.push(readAll(log, engine));
          await log.close();
        }
        // Compressed bytes may differ between the engines' codecs: their sizes are left out.
        const shape = (r: CleanResult): unknown =>
          codec === Codec.none ? r : { ...r, bytesRead: 0, bytesWritten: 0, groups: r.groups.map((g) => ({ ...g, sizeInBytes: 0 })) };
        t.same(shape(results[1]), shape(results[0]), `codec ${codec}: same result`);
        const strip = (bs: DecodedBatch[]): unknown =>
          bs.map((b) => ({ ...b, crc: 0, sizeInBytes: 0, records: b.records.map((r) => ({ ...r, key: r.key?.toString(), value: r.value?.toString(), headers: r.headers.map((h) => [h.key, h.value?.toString()]) })) }));
        t.same(strip(records[1]), strip(records[0]), `codec ${codec}: same batches and records`);
        if (codec === Codec.none) {
          const files = (dir: string): Map<string, Buffer> =>
            new Map(fs.readdirSync(dir).filter((n) => /\.(log|index|timeindex)$/.test(n)).sort().map((n) => [n, fs.readFileSync(path.join(dir, n))]));
          const [a, b] = dirs.map(files);
          t.same([...b.keys()], [...a.keys()], 'same segment files');
          for (const [n, bytes] of a) t.ok(b.get(n)?.equals(bytes), `${n} byte-identical`);
        }
      }
    });
  }
});

/** The first empty batch (recordsCount 0) among the slices. */
function findEmpty(slices: Buffer[]): Buffer {
  for (const s of slices) {
    let pos = 0;
    while (pos + 61 <= s.length) {
      const size = s.readInt32BE(pos + 8) + 12;
      if (s.readInt32BE(pos + 57) === 0) return Buffer.from(s.subarray(pos, pos + size));
      pos += size;
    }
  }
  return Buffer.alloc(0);
}
