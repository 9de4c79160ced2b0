// storage room tests: the native and TS engines must be interchangeable — same bytes on disk for
// the same calls, each able to open, read and extend the other's logs, and to read the other's
// compressed batches. Needs the native addon; without it (outside CI) only a comment is printed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { Test } from 'tap';
import { Codec, LogConfig, PartitionLog, StorageEngine, defaultLogConfig } from '../../src/storage/engine.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch, decodeBatches, simpleBatches, TestRecord } from '../helpers/batches.js';
import { dirContents, loadNative, readSlice, removeDir, tempDir } from '../helpers/engines.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig, ...overrides };
}

function recs(n: number, tag: string, tsStep = 3, valueSize = 20): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `${tag}-${i}`,
    value: Buffer.alloc(valueSize, (i * 31 + tag.length) & 0xff),
    headers: i % 2 === 0 ? [{ key: 'trace', value: `${tag}/${i}` }] : [],
    timestampDelta: i * tsStep,
  }));
}

function readAll(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let offset = log.logStartOffset;
  for (let guard = 0; guard < 100_000 && offset < log.logEndOffset; guard++) {
    const bytes = readSlice(log.read(offset, 1 << 16));
    const batches = decodeBatches(bytes, (c, b) => tsEngine.decompress(c as Codec, b));
    if (batches.length === 0) throw new Error(`no batch at offset ${offset}`);
    parts.push(bytes);
    offset = batches[batches.length - 1].lastOffset + 1;
  }
  return Buffer.concat(parts);
}

interface Scenario {
  name: string;
  config: LogConfig;
  /** Runs the calls; `reopen` closes and opens the log with the engine under test. */
  run(log: PartitionLog, reopen: () => Promise<PartitionLog>): Promise<PartitionLog>;
}

const compressTs = (c: number, b: Buffer): Buffer => tsEngine.compress(c as Codec, b);

const scenarios: Scenario[] = [
  {
    name: 'CreateTime appends of mixed sizes across segment.bytes rolls',
    config: config({ segmentBytes: 4000, indexIntervalBytes: 300 }),
    async run(log) {
      for (let i = 0; i < 40; i++) {
        const parts = Array.from({ length: 1 + (i % 3) }, (_, j) =>
          buildBatch({ records: recs(1 + ((i + j) % 5), `a${i}.${j}`, 2, 10 + ((i * 7) % 90)), baseTimestamp: T0 + ((i * 37) % 50) * 10 }),
        );
        log.append(Buffer.concat(parts), { now: T0, leaderEpoch: i >> 3 });
      }
      return log;
    },
  },
  {
    name: 'LogAppendTime with segment.ms rolls and compressed batches',
    config: config({ messageTimestampType: 'LogAppendTime', segmentMs: 1000, indexIntervalBytes: 150 }),
    async run(log) {
      for (let i = 0; i < 24; i++) {
        const codec = i % 5;
        const batch = buildBatch({ records: recs(4, `b${i}`), baseTimestamp: T0 + i, codec, compress: compressTs });
        log.append(batch, { now: T0 + i * 300 });
      }
      return log;
    },
  },
  {
    name: 'full indexes, explicit rolls, follower appends',
    config: config({ maxIndexSize: 40, indexIntervalBytes: 1 }),
    async run(log) {
      for (let i = 0; i < 30; i++) {
        if (i % 9 === 8) log.roll();
        if (i % 4 === 3) {
          log.appendAsFollower(buildBatch({ records: recs(2, `f${i}`), baseTimestamp: T0 + i * 5, baseOffset: log.logEndOffset, partitionLeaderEpoch: 3 }));
        } else {
          log.append(simpleBatches(2, 2, T0 + i * 5), { now: T0 });
        }
      }
      return log;
    },
  },
  {
    name: 'truncate, delete, reopen, then more appends',
    config: config({ segmentBytes: 2500, indexIntervalBytes: 200 }),
    async run(log, reopen) {
      for (let i = 0; i < 30; i++) log.append(buildBatch({ records: recs(3, `c${i}`), baseTimestamp: T0 + i * 100 }), { now: T0 });
      log.truncateTo(70);
      log.deleteSegmentsBefore(20);
      let l = await reopen();
      for (let i = 0; i < 10; i++) l.append(buildBatch({ records: recs(2, `d${i}`), baseTimestamp: T0 + 50 + i }), { now: T0 });
      l.truncateTo(l.logEndOffset - 5);
      l = await reopen();
      for (let i = 0; i < 10; i++) l.append(buildBatch({ records: recs(5, `e${i}`), baseTimestamp: T0 + 5000 + i }), { now: T0 });
      return l;
    },
  },
];

async function runScenario(engine: StorageEngine, dir: string, s: Scenario): Promise<{ leo: number; data: Buffer }> {
  let log = await engine.openLog(dir, s.config);
  const reopen = async (): Promise<PartitionLog> => {
    const start = log.logStartOffset;
    await log.close();
    log = await engine.openLog(dir, s.config, { logStartOffset: start });
    return log;
  };
  log = await s.run(log, reopen);
  const result = { leo: log.logEndOffset, data: readAll(log) };
  await log.close();
  return result;
}

function sameDirs(t: Test, a: string, b: string, what: string): void {
  const ca = dirContents(a);
  const cb = dirContents(b);
  t.same([...cb.keys()], [...ca.keys()], `${what}: same file names`);
  for (const [name, bytes] of ca) {
    const other = cb.get(name);
    t.ok(other?.equals(bytes), `${what}: ${name} byte-identical (${bytes.length} bytes)`);
  }
}

t.test('native and ts storage engines are interchangeable', async (t) => {
  const native = await loadNative();
  if (native.engine === null) {
    if (process.env.CI === 'true') t.fail(`native storage engine did not load: ${native.reason}`);
    else t.comment(`native storage engine not available, cross-engine checks not run: ${native.reason}`);
    return;
  }
  const nativeEngine = native.engine;
  const engines: Array<[StorageEngine, StorageEngine]> = [
    [tsEngine, nativeEngine],
    [nativeEngine, tsEngine],
  ];

  for (const s of scenarios) {
    await t.test(`same calls, same files: ${s.name}`, async (t) => {
      const a = tempDir();
      const b = tempDir();
      t.teardown(() => {
        removeDir(a);
        removeDir(b);
      });
      const ra = await runScenario(tsEngine, a, s);
      const rb = await runScenario(nativeEngine, b, s);
      t.equal(rb.leo, ra.leo, 'same log end offset');
      t.ok(rb.data.equals(ra.data), 'same bytes read back');
      t.ok(fs.readdirSync(a).length >= 3, 'the scenario wrote segments');
      sameDirs(t, a, b, s.name);
    });
  }

  await t.test('deleted segments wait out fileDeleteDelayMs as the same *.deleted files', async (t) => {
    const cfg = config({ segmentBytes: 2000, indexIntervalBytes: 150 });
    const dirs: string[] = [];
    const open: PartitionLog[] = [];
    for (const engine of [tsEngine, nativeEngine]) {
      const dir = tempDir();
      t.teardown(() => removeDir(dir));
      dirs.push(dir);
      const log = await engine.openLog(dir, cfg);
      for (let i = 0; i < 30; i++) log.append(buildBatch({ records: recs(3, `f${i}`), baseTimestamp: T0 + i * 10 }), { now: T0 });
      log.deleteSegmentsBefore(40);
      log.truncateTo(60);
      // Below the first segment: every segment goes, the active one with its preallocated indexes.
      t.ok(log.segments()[0].baseOffset > 20);
      log.truncateTo(20);
      for (let i = 0; i < 3; i++) log.append(buildBatch({ records: recs(2, `g${i}`), baseTimestamp: T0 + i }), { now: T0 });
      await log.flush();
      t.ok(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted')).length >= 6, `${engine.name}: deleted files wait`);
      open.push(log);
    }
    sameDirs(t, dirs[0], dirs[1], 'while open, within the delay');
    for (const log of open) await log.close();
    t.same(fs.readdirSync(dirs[0]).filter((n) => n.endsWith('.deleted')), [], 'close removes them');
    sameDirs(t, dirs[0], dirs[1], 'after close');
  });

  await t.test('preallocated index files have the same size while the log is open', async (t) => {
    const cfg = config({ maxIndexSize: 1000 });
    const sizes: number[][] = [];
    for (const engine of [tsEngine, nativeEngine]) {
      const dir = tempDir();
      t.teardown(() => removeDir(dir));
      const log = await engine.openLog(dir, cfg);
      log.append(simpleBatches(3, 2, T0));
      sizes.push(['index', 'timeindex'].map((ext) => fs.statSync(path.join(dir, `${'0'.repeat(20)}.${ext}`)).size));
      await log.close();
    }
    t.same(sizes[0], [1000, 996]);
    t.same(sizes[1], sizes[0]);
  });

  for (const [writer, reader] of engines) {
    await t.test(`a log written by ${writer.name} is opened, read and extended by ${reader.name}`, async (t) => {
      const cfg = config({ segmentBytes: 3000, indexIntervalBytes: 250 });
      const dir = tempDir();
      const ref = tempDir();
      t.teardown(() => {
        removeDir(dir);
        removeDir(ref);
      });
      const first = (): Buffer[] =>
        Array.from({ length: 25 }, (_, i) => buildBatch({ records: recs(3, `w${i}`, 4), baseTimestamp: T0 + i * 20, codec: i % 5, compress: compressTs }));
      const second = (): Buffer[] => Array.from({ length: 10 }, (_, i) => buildBatch({ records: recs(2, `x${i}`), baseTimestamp: T0 + 1000 + i }));

      const w = await writer.openLog(dir, cfg);
      for (const b of first()) w.append(b, { now: T0 });
      const written = { leo: w.logEndOffset, data: readAll(w), segs: w.segments().map((x) => [x.baseOffset, x.sizeInBytes, x.maxTimestamp]) };
      const ts = w.offsetForTimestamp(T0 + 205);
      const max = w.maxTimestampAndOffset();
      await w.close();

      const r = await reader.openLog(dir, cfg);
      t.equal(r.recoveredBytesTruncated, 0);
      t.equal(r.logEndOffset, written.leo);
      t.same(r.segments().map((x) => [x.baseOffset, x.sizeInBytes, x.maxTimestamp]), written.segs);
      t.ok(readAll(r).equals(written.data), `${reader.name} reads what ${writer.name} wrote`);
      t.same(r.offsetForTimestamp(T0 + 205), ts);
      t.same(r.maxTimestampAndOffset(), max);
      for (const b of second()) r.append(b, { now: T0 });
      const extended = readAll(r);
      await r.close();

      const back = await writer.openLog(dir, cfg);
      t.ok(readAll(back).equals(extended), `${writer.name} reads what ${reader.name} appended`);
      await back.close();

      // The same calls through one engine alone leave the same files.
      const solo = await writer.openLog(ref, cfg);
      for (const b of first()) solo.append(b, { now: T0 });
      await solo.close();
      const solo2 = await writer.openLog(ref, cfg);
      for (const b of second()) solo2.append(b, { now: T0 });
      await solo2.close();
      sameDirs(t, ref, dir, 'mixed engines vs one engine');
    });
  }

  await t.test('each engine decompresses what the other compressed', async (t) => {
    const payload = Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.from(`record ${i} ${'x'.repeat(i % 40)}\n`)));
    for (const [name, codec] of Object.entries(Codec)) {
      if (codec === Codec.none) continue;
      for (const [from, to] of engines) {
        const packed = from.compress(codec, payload);
        t.ok(packed.length < payload.length, `${name}: ${from.name} compresses`);
        t.ok(to.decompress(codec, packed).equals(payload), `${name}: ${from.name} → ${to.name}`);
        const dir = tempDir();
        const log = await to.openLog(dir, config());
        const batch = buildBatch({
          records: recs(6, name, 9),
          baseTimestamp: T0,
          codec,
          compress: (c, b) => from.compress(c as Codec, b),
        });
        log.append(batch);
        t.same(log.offsetForTimestamp(T0 + 20), { timestamp: T0 + 27, offset: 3 }, `${name}: ${to.name} finds a record inside a ${from.name} batch`);
        await log.close();
        removeDir(dir);
      }
    }
  });

  t.equal(nativeEngine.crc32c(Buffer.from('123456789')), 0xe3069283, 'native crc32c check value');
  t.equal(tsEngine.crc32c(Buffer.from('123456789')), 0xe3069283, 'ts crc32c check value');
  const big = Buffer.alloc(100_003);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  t.equal(tsEngine.crc32c(big), nativeEngine.crc32c(big), 'crc32c agrees on 100 kB of noise');
});
