// storage room tests: recovery points and clean shutdowns (issue 8, item 5). A damaged batch in a
// rolled segment is never skipped by a read (CORRUPT_MESSAGE instead); after an unclean shutdown
// every segment from the recovery point on is checked and the log is cut at the first bad batch;
// after a clean one nothing is cut. Both engines.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { Test } from 'tap';
import { LogConfig, PartitionLog, StorageEngine, StorageErrorCode, defaultLogConfig } from '../../src/storage/engine.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { enginesUnderTest, readSlice, removeDir, tempDir } from '../helpers/engines.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 3000, indexIntervalBytes: 200 };
const LOG = (base: number): string => `${String(base).padStart(20, '0')}.log`;

interface Layout {
  leo: number;
  /** Base offsets of the segments, in order. */
  bases: number[];
  /** Batches of the first segment: offsets and byte positions. */
  first: Array<{ baseOffset: number; lastOffset: number; position: number; size: number }>;
}

/** 90 batches of 2..4 records over several segments (as storage-recovery.test.ts). */
async function populate(engine: StorageEngine, dir: string): Promise<Layout> {
  const log = await engine.openLog(dir, cfg);
  for (let i = 0; i < 90; i++) {
    log.append(buildBatch({ records: Array.from({ length: 2 + (i % 3) }, (_, j) => ({ key: `k${i}`, value: `v${i}.${j}`, timestampDelta: j })), baseTimestamp: T0 + i * 10 }), { now: T0 });
  }
  const bases = log.segments().map((s) => s.baseOffset);
  let position = 0;
  const first = decodeBatches(readSlice(log.read(0, 1 << 20))).map((b) => {
    const at = position;
    position += b.sizeInBytes;
    return { baseOffset: b.baseOffset, lastOffset: b.lastOffset, position: at, size: b.sizeInBytes };
  });
  const leo = log.logEndOffset;
  await log.close();
  return { leo, bases, first };
}

/** Flips one byte inside the records of a batch (so its CRC fails). */
function flipByte(file: string, position: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, position);
    b[0] ^= 0x5a;
    fs.writeSync(fd, b, 0, 1, position);
  } finally {
    fs.closeSync(fd);
  }
}

function sizes(dir: string): Map<string, number> {
  return new Map(
    fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .map((n) => [n, fs.statSync(path.join(dir, n)).size]),
  );
}

function corruptCode(log: PartitionLog, offset: number): number | null {
  try {
    log.read(offset, 1 << 20);
    return null;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

t.test('storage recovery points and clean shutdowns', async (t) => {
  const engines = await enginesUnderTest(t);
  for (const engine of engines) {
    await t.test(`${engine.name} engine`, async (t) => {
      // The 4th batch of the first (rolled) segment gets a bad CRC.
      const setup = async (t: Test): Promise<{ dir: string; layout: Layout; bad: Layout['first'][number] }> => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const layout = await populate(engine, dir);
        t.ok(layout.bases.length >= 3, 'several segments');
        const bad = layout.first[3];
        flipByte(path.join(dir, LOG(layout.bases[0])), bad.position + bad.size - 2);
        return { dir, layout, bad };
      };

      await t.test('clean start: nothing is cut, a read of the damaged batch is CORRUPT_MESSAGE, never later offsets', async (t) => {
        const { dir, layout, bad } = await setup(t);
        const before = sizes(dir);
        const log = await engine.openLog(dir, cfg, { hadCleanShutdown: true, recoveryPoint: 0 });
        t.equal(log.recoveredBytesTruncated, 0);
        t.equal(log.logEndOffset, layout.leo);
        t.same(sizes(dir), before, 'no file changed size');
        t.equal(corruptCode(log, bad.baseOffset), StorageErrorCode.CORRUPT_MESSAGE, 'offset in the bad batch');
        t.equal(corruptCode(log, bad.lastOffset), StorageErrorCode.CORRUPT_MESSAGE, 'last offset of the bad batch');
        // A read from before it stops short of it.
        const head = decodeBatches(readSlice(log.read(0, 1 << 20)));
        t.equal(head[head.length - 1].lastOffset, bad.baseOffset - 1, 'a slice ends before the bad batch');
        // The batches around it are served.
        const next = layout.first[4];
        t.equal(decodeBatches(readSlice(log.read(next.baseOffset, 1 << 20)))[0].baseOffset, next.baseOffset);
        t.equal(decodeBatches(readSlice(log.read(layout.bases[1], 1 << 20)))[0].baseOffset, layout.bases[1]);
        await log.close();
      });

      await t.test('unclean start from a recovery point below the damage: cut at the bad batch, later segments deleted', async (t) => {
        const { dir, layout, bad } = await setup(t);
        const before = sizes(dir);
        const total = [...before.values()].reduce((a, b) => a + b, 0);
        const log = await engine.openLog(dir, cfg, { recoveryPoint: 0 });
        t.equal(log.logEndOffset, bad.baseOffset, 'the log ends before the bad batch');
        t.equal(log.recoveredBytesTruncated, total - bad.position, 'every byte from the bad batch on');
        t.same([...sizes(dir).keys()], [LOG(layout.bases[0])], 'only the first segment is left');
        t.equal(fs.statSync(path.join(dir, LOG(layout.bases[0]))).size, bad.position);
        const all = decodeBatches(readSlice(log.read(0, 1 << 20)));
        t.equal(all[all.length - 1].lastOffset, bad.baseOffset - 1);
        t.equal(log.append(buildBatch({ records: [{ value: 'after' }], baseTimestamp: T0 })).firstOffset, bad.baseOffset, 'appends go on from the cut');
        await log.close();
        // Reopening cleanly afterwards changes nothing.
        const again = await engine.openLog(dir, cfg, { hadCleanShutdown: true });
        t.equal(again.logEndOffset, bad.baseOffset + 1);
        t.equal(again.recoveredBytesTruncated, 0);
        await again.close();
      });

      await t.test('unclean start from a recovery point past the damage: the flushed segment is trusted, reads refuse it', async (t) => {
        const { dir, layout, bad } = await setup(t);
        const before = sizes(dir);
        const log = await engine.openLog(dir, cfg, { recoveryPoint: layout.bases[1] });
        t.equal(log.recoveredBytesTruncated, 0);
        t.equal(log.logEndOffset, layout.leo);
        t.same(sizes(dir), before);
        t.equal(corruptCode(log, bad.baseOffset), StorageErrorCode.CORRUPT_MESSAGE);
        await log.close();
      });

      await t.test('without a recovery point only the active segment is checked (as before)', async (t) => {
        const { dir, layout, bad } = await setup(t);
        const log = await engine.openLog(dir, cfg);
        t.equal(log.recoveredBytesTruncated, 0);
        t.equal(log.logEndOffset, layout.leo);
        t.equal(corruptCode(log, bad.baseOffset), StorageErrorCode.CORRUPT_MESSAGE);
        await log.close();
      });

      await t.test('a garbled batch length in a rolled segment is CORRUPT_MESSAGE, not the next segment', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const layout = await populate(engine, dir);
        const bad = layout.first[3];
        // batchLength (bytes 8..11) made huge: the header walk cannot go past it.
        const fd = fs.openSync(path.join(dir, LOG(layout.bases[0])), 'r+');
        fs.writeSync(fd, Buffer.from([0x7f, 0, 0, 0]), 0, 4, bad.position + 8);
        fs.closeSync(fd);
        const log = await engine.openLog(dir, cfg, { hadCleanShutdown: true });
        t.equal(corruptCode(log, layout.first[5].baseOffset), StorageErrorCode.CORRUPT_MESSAGE, 'an offset behind the garbled header');
        t.equal(corruptCode(log, bad.baseOffset), StorageErrorCode.CORRUPT_MESSAGE);
        await log.close();
      });

      await t.test('a flipped byte in the active segment: a clean start keeps it (reads refuse it), an unclean one cuts it', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const layout = await populate(engine, dir);
        const activeBase = layout.bases[layout.bases.length - 1];
        const file = path.join(dir, LOG(activeBase));
        const size = fs.statSync(file).size;
        flipByte(file, 80);
        const clean = await engine.openLog(dir, cfg, { hadCleanShutdown: true });
        t.equal(clean.recoveredBytesTruncated, 0, 'clean start: nothing cut');
        t.equal(fs.statSync(file).size, size);
        t.equal(clean.logEndOffset, layout.leo);
        t.equal(corruptCode(clean, activeBase), StorageErrorCode.CORRUPT_MESSAGE);
        await clean.close();
        const unclean = await engine.openLog(dir, cfg, { recoveryPoint: activeBase });
        t.equal(unclean.recoveredBytesTruncated, size, 'unclean start: the active segment is cut at its first (bad) batch');
        t.equal(unclean.logEndOffset, activeBase);
        await unclean.close();
      });
    });
  }
});
