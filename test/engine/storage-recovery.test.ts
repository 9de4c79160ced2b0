// storage room tests: opening a log after a crash — torn tails, corrupt last batches, missing or
// damaged indexes, unclean shutdown with preallocated indexes — against every engine, and the
// recovered files compared across engines.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { LogConfig, PartitionLog, StorageEngine, defaultLogConfig } from '../../src/storage/engine.js';
import { buildBatch, decodeBatches, simpleBatches } from '../helpers/batches.js';
import { dirContents, enginesUnderTest, readSlice, removeDir, tempDir } from '../helpers/engines.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 3000, indexIntervalBytes: 200 };
const ACTIVE_LOG = (base: number): string => `${String(base).padStart(20, '0')}.log`;

/** Writes 90 batches of 2..4 records; returns the batch sizes of the active segment in order. */
async function populate(engine: StorageEngine, dir: string): Promise<{ leo: number; activeBase: number; activeBatches: number[] }> {
  const log = await engine.openLog(dir, cfg);
  for (let i = 0; i < 90; i++) {
    log.append(buildBatch({ records: Array.from({ length: 2 + (i % 3) }, (_, j) => ({ key: `k${i}`, value: `v${i}.${j}`, timestampDelta: j })), baseTimestamp: T0 + i * 10 }), { now: T0 });
  }
  const segs = log.segments();
  const active = segs[segs.length - 1];
  const batches = decodeBatches(readSlice(log.read(active.baseOffset, 1 << 20))).map((b) => b.sizeInBytes);
  const leo = log.logEndOffset;
  await log.close();
  return { leo, activeBase: active.baseOffset, activeBatches: batches };
}

function readAll(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let offset = log.logStartOffset;
  for (let guard = 0; guard < 10_000 && offset < log.logEndOffset; guard++) {
    const bytes = readSlice(log.read(offset, 1 << 20));
    const batches = decodeBatches(bytes);
    parts.push(bytes);
    offset = batches[batches.length - 1].lastOffset + 1;
  }
  return Buffer.concat(parts);
}

t.test('storage recovery', async (t) => {
  const engines = await enginesUnderTest(t);
  const recovered = new Map<string, Map<string, Map<string, Buffer>>>();
  const keep = (scenario: string, engine: StorageEngine, dir: string): void => {
    if (!recovered.has(scenario)) recovered.set(scenario, new Map());
    recovered.get(scenario)?.set(engine.name, dirContents(dir));
  };

  for (const engine of engines) {
    await t.test(`${engine.name} engine`, async (t) => {
      await t.test('a torn tail is cut back to the last whole batch', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const { leo, activeBase, activeBatches } = await populate(engine, dir);
        const file = path.join(dir, ACTIVE_LOG(activeBase));
        const size = fs.statSync(file).size;
        const last = activeBatches[activeBatches.length - 1];
        fs.truncateSync(file, size - 5);
        const log = await engine.openLog(dir, cfg);
        t.equal(log.recoveredBytesTruncated, last - 5, 'the partial batch is dropped');
        t.equal(fs.statSync(file).size, size - last);
        const lastBatch = decodeBatches(readAll(log)).pop();
        t.equal(log.logEndOffset, (lastBatch?.lastOffset ?? -1) + 1);
        t.ok(log.logEndOffset < leo);
        t.equal(log.append(simpleBatches(1, 1, T0)).firstOffset, log.logEndOffset - 1, 'appends continue at the recovered end');
        await log.close();
        keep('torn tail', engine, dir);
      });

      await t.test('a flipped byte in the last batch fails its CRC and the batch is dropped', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const { leo, activeBase, activeBatches } = await populate(engine, dir);
        const file = path.join(dir, ACTIVE_LOG(activeBase));
        const bytes = fs.readFileSync(file);
        const last = activeBatches[activeBatches.length - 1];
        bytes[bytes.length - 3] ^= 0x40;
        fs.writeFileSync(file, bytes);
        const log = await engine.openLog(dir, cfg);
        t.equal(log.recoveredBytesTruncated, last, 'bytes dropped reported');
        t.equal(fs.statSync(file).size, bytes.length - last);
        t.ok(decodeBatches(readAll(log)).every((b) => b.crcValid), 'only valid batches are served');
        t.ok(log.logEndOffset < leo && log.logEndOffset >= leo - 4);
        await log.close();
        keep('flipped byte', engine, dir);
      });

      await t.test('corruption in the middle of the active segment drops everything after it', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const { activeBase, activeBatches } = await populate(engine, dir);
        t.ok(activeBatches.length >= 3, 'the active segment holds several batches');
        const file = path.join(dir, ACTIVE_LOG(activeBase));
        const bytes = fs.readFileSync(file);
        const cut = activeBatches[0];
        bytes[cut + 30] ^= 0x01; // inside the second batch's CRC-covered header
        fs.writeFileSync(file, bytes);
        const log = await engine.openLog(dir, cfg);
        t.equal(log.recoveredBytesTruncated, bytes.length - cut);
        t.equal(log.segments().pop()?.sizeInBytes, cut);
        await log.close();
      });

      await t.test('missing and damaged indexes are rebuilt identically', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        await populate(engine, dir);
        const before = dirContents(dir);
        const indexes = [...before.keys()].filter((n) => n.endsWith('index'));
        t.ok(indexes.length >= 6, 'several segments with two indexes each');
        indexes.forEach((name, i) => {
          const p = path.join(dir, name);
          if (i % 2 === 0) fs.rmSync(p);
          else fs.appendFileSync(p, Buffer.from([1, 2, 3]));
        });
        const log = await engine.openLog(dir, cfg);
        t.equal(log.recoveredBytesTruncated, 0);
        await log.close();
        const after = dirContents(dir);
        for (const [name, bytes] of before) {
          t.ok(after.get(name)?.equals(bytes), `${name} identical after recovery`);
        }
      });

      await t.test('an index entry pointing past the .log is rebuilt', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        await populate(engine, dir);
        const before = dirContents(dir);
        const name = `${'0'.repeat(20)}.index`;
        const p = path.join(dir, name);
        const idx = fs.readFileSync(p);
        t.ok(idx.length >= 8);
        idx.writeInt32BE(1 << 30, idx.length - 4);
        fs.writeFileSync(p, idx);
        const log = await engine.openLog(dir, cfg);
        await log.close();
        const original = before.get(name);
        t.ok(original !== undefined && fs.readFileSync(p).equals(original), 'rebuilt from the .log');
      });

      await t.test('unclean shutdown: preallocated indexes found at open are rebuilt', async (t) => {
        const dir = tempDir();
        const crashed = tempDir();
        t.teardown(() => {
          removeDir(dir);
          removeDir(crashed);
        });
        const log = await engine.openLog(dir, cfg);
        for (let i = 0; i < 30; i++) log.append(simpleBatches(1, 3, T0 + i * 7), { now: T0 });
        await log.flush();
        // Copying the directory of an open log is what a crash leaves: no trimming happened.
        for (const name of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, name), path.join(crashed, name));
        const leo = log.logEndOffset;
        const data = readAll(log);
        const ts = log.offsetForTimestamp(T0 + 100);
        await log.close();
        const activeIndex = fs.readdirSync(crashed).filter((n) => n.endsWith('.index')).sort().pop();
        if (activeIndex === undefined) throw new Error(`no .index file in ${crashed}`);
        t.equal(fs.statSync(path.join(crashed, activeIndex)).size, Math.floor(cfg.maxIndexSize / 8) * 8, 'the copy holds a preallocated index');

        const again = await engine.openLog(crashed, cfg);
        t.equal(again.recoveredBytesTruncated, 0);
        t.equal(again.logEndOffset, leo);
        t.ok(readAll(again).equals(data));
        t.same(again.offsetForTimestamp(T0 + 100), ts);
        await again.close();
        const clean = dirContents(dir);
        const fromCrash = dirContents(crashed);
        t.same([...fromCrash.keys()], [...clean.keys()]);
        for (const [name, bytes] of clean) t.ok(fromCrash.get(name)?.equals(bytes), `${name} matches a clean close`);
        keep('unclean shutdown', engine, crashed);
      });

      await t.test('batches larger than any read buffer survive recovery', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const big = { ...cfg, segmentBytes: 64 * 1024 * 1024, maxMessageBytes: 4 * 1024 * 1024 };
        const log = await engine.openLog(dir, big);
        log.append(simpleBatches(2, 2, T0));
        log.append(buildBatch({ records: [{ value: Buffer.alloc(3 * 1024 * 1024, 9) }], baseTimestamp: T0 }));
        log.append(simpleBatches(1, 2, T0));
        await log.close();
        const again = await engine.openLog(dir, big);
        t.equal(again.recoveredBytesTruncated, 0);
        t.equal(again.logEndOffset, 7);
        t.equal(decodeBatches(readSlice(again.read(4, 1))).map((b) => b.records[0].value?.length).pop(), 3 * 1024 * 1024);
        await again.close();
      });

      await t.test('leftover .cleaned, .swap and .deleted files are removed at open', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        await populate(engine, dir);
        const junk = ['00000000000000000000.log.cleaned', '00000000000000000000.log.swap', '00000000000000000000.log.deleted', '00000000000000000000.index.deleted'];
        for (const j of junk) fs.writeFileSync(path.join(dir, j), 'junk');
        const log = await engine.openLog(dir, cfg);
        t.equal(log.logStartOffset, 0);
        await log.close();
        for (const j of junk) t.notOk(fs.existsSync(path.join(dir, j)), `${j} removed`);
      });
    });
  }

  if (engines.length > 1) {
    await t.test('both engines recover to the same bytes', async (t) => {
      for (const [scenario, byEngine] of recovered) {
        const [a, b] = [...byEngine.values()];
        t.same([...b.keys()], [...a.keys()], `${scenario}: same files`);
        for (const [name, bytes] of a) t.ok(b.get(name)?.equals(bytes), `${scenario}: ${name}`);
      }
    });
  }
});
