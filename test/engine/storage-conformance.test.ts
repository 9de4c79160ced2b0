// storage room tests: the PartitionLog contract, run unchanged against every storage engine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { Test } from 'tap';
import { CompressStream } from 'zstd-napi';
import { snappyCompressRaw } from '../../src/storage/ts/codecs/snappy.js';
import {
  Codec,
  LogConfig,
  PartitionLog,
  StorageEngine,
  StorageError,
  StorageErrorCode,
  defaultLogConfig,
} from '../../src/storage/engine.js';
import { buildBatch, decodeBatches, fixCrc, simpleBatches, TestRecord } from '../helpers/batches.js';
import { enginesUnderTest, readSlice, removeDir, tempDir } from '../helpers/engines.js';

// Near the wall clock: segment.ms (7 days by default) counts from the first batch's timestamp.
const T0 = Math.floor(Date.now() / 1000) * 1000;

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig, ...overrides };
}

async function withLog(
  t: Test,
  engine: StorageEngine,
  cfg: LogConfig,
  fn: (log: PartitionLog, dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const log = await engine.openLog(dir, cfg);
  try {
    await fn(log, dir);
  } finally {
    await log.close();
  }
}

function expectError(t: Test, fn: () => unknown, code: StorageErrorCode, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected StorageError ${code}, nothing was thrown`);
  } catch (err) {
    t.ok(err instanceof StorageError || (err as { code?: unknown }).code !== undefined, `${what}: a StorageError`);
    t.equal((err as StorageError).code, code, `${what}: error code ${code}`);
  }
}

function readAll(log: PartitionLog, from: number): Buffer {
  const parts: Buffer[] = [];
  let offset = from;
  for (let guard = 0; guard < 100_000 && offset < log.logEndOffset; guard++) {
    const slice = log.read(offset, 1 << 20);
    const bytes = readSlice(slice);
    const batches = decodeBatches(bytes);
    if (batches.length === 0) throw new Error(`no batch at offset ${offset}`);
    parts.push(bytes);
    offset = batches[batches.length - 1].lastOffset + 1;
  }
  return Buffer.concat(parts);
}

/**
 * Whether `fd` is open on `file`. On Linux /proc tells the file an fd refers to, so a closed fd
 * whose number was reused meanwhile does not count; elsewhere, whether the fd is open at all.
 */
function fdOpenOn(fd: number, file: string): boolean {
  if (process.platform === 'linux') {
    const real = path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      return target === real || target === `${real} (deleted)`;
    } catch {
      return false;
    }
  }
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

function records(n: number, prefix: string, tsStep = 1): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `${prefix}-k${i}`,
    value: `${prefix}-v${i}`,
    headers: [{ key: 'h', value: `${i}` }],
    timestampDelta: i * tsStep,
  }));
}

/** The index entries docs/storage-format.md step 5 prescribes for batches appended in order. */
function expectedIndexes(
  batches: Array<{ size: number; lastOffset: number; maxTimestamp: number }>,
  base: number,
  interval: number,
): { offsets: Array<[number, number]>; times: Array<[number, number]> } {
  const offsets: Array<[number, number]> = [];
  const times: Array<[number, number]> = [];
  let maxTs = -1;
  let maxOff = base;
  let since = 0;
  let pos = 0;
  const maybeTime = (ts: number, off: number): void => {
    const last = times.at(-1);
    if (ts > (last ? last[0] : -1) && off >= (last ? last[1] : base)) times.push([ts, off]);
  };
  for (const b of batches) {
    if (b.maxTimestamp > maxTs) {
      maxTs = b.maxTimestamp;
      maxOff = b.lastOffset;
    }
    if (since > interval) {
      const last = offsets.at(-1);
      if (!last || b.lastOffset > last[0]) offsets.push([b.lastOffset, pos]);
      maybeTime(maxTs, maxOff);
      since = 0;
    }
    since += b.size;
    pos += b.size;
  }
  maybeTime(maxTs, maxOff);
  return { offsets, times };
}

function parseIndex(file: string, base: number): Array<[number, number]> {
  const b = fs.readFileSync(file);
  const out: Array<[number, number]> = [];
  for (let p = 0; p + 8 <= b.length; p += 8) out.push([base + b.readInt32BE(p), b.readInt32BE(p + 4)]);
  return out;
}

function parseTimeIndex(file: string, base: number): Array<[number, number]> {
  const b = fs.readFileSync(file);
  const out: Array<[number, number]> = [];
  for (let p = 0; p + 12 <= b.length; p += 12) out.push([Number(b.readBigInt64BE(p)), base + b.readInt32BE(p + 8)]);
  return out;
}

function seg(base: number, ext: string): string {
  return `${String(base).padStart(20, '0')}.${ext}`;
}

t.test('storage engine conformance', async (t) => {
  const engines = await enginesUnderTest(t);
  for (const engine of engines) {
    await t.test(`${engine.name} engine`, async (t) => {
      await t.test('append then read returns the same records with offsets assigned', async (t) => {
        await withLog(t, engine, config(), (log) => {
          const input = Buffer.concat([
            buildBatch({ records: records(3, 'a'), baseTimestamp: T0, producerId: 7, producerEpoch: 1, baseSequence: 0 }),
            buildBatch({ records: records(2, 'b'), baseTimestamp: T0 + 10, baseOffset: 999 }),
            buildBatch({ records: [{ key: null, value: null }], baseTimestamp: T0 + 20, transactional: true, producerId: 8, producerEpoch: 0, baseSequence: 5 }),
          ]);
          const result = log.append(input, { leaderEpoch: 4 });
          t.equal(result.firstOffset, 0);
          t.equal(result.lastOffset, 5);
          t.equal(result.logEndOffset, 6);
          t.equal(result.maxTimestamp, T0 + 20);
          t.equal(result.logAppendTime, -1);
          t.same(
            result.batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount]),
            [[0, 2, 3], [3, 4, 2], [5, 5, 1]],
          );
          t.match(result.batches[0], { producerId: 7, producerEpoch: 1, baseSequence: 0, isTransactional: false, isControl: false, maxTimestamp: T0 + 2 });
          t.match(result.batches[2], { producerId: 8, isTransactional: true, sizeInBytes: input.length - result.batches[0].sizeInBytes - result.batches[1].sizeInBytes });
          t.equal(log.logEndOffset, 6);

          const slice = log.read(0, 1 << 20);
          const bytes = readSlice(slice);
          t.ok(bytes.equals(input), 'the log holds the batches as rewritten in place by append');
          const decoded = decodeBatches(bytes);
          t.same(decoded.map((b) => b.partitionLeaderEpoch), [4, 4, 4]);
          t.ok(decoded.every((b) => b.crcValid), 'CRCs stay valid: baseOffset and epoch are outside the CRC');
          const recs = decoded.flatMap((b) => b.records);
          t.same(recs.map((r) => r.offset), [0, 1, 2, 3, 4, 5]);
          t.same(recs.map((r) => r.key?.toString() ?? null), ['a-k0', 'a-k1', 'a-k2', 'b-k0', 'b-k1', null]);
          t.same(recs.map((r) => r.value?.toString() ?? null), ['a-v0', 'a-v1', 'a-v2', 'b-v0', 'b-v1', null]);
          t.same(recs[1].headers.map((h) => [h.key, h.value?.toString()]), [['h', '1']]);
          t.same(recs.map((r) => r.timestamp), [T0, T0 + 1, T0 + 2, T0 + 10, T0 + 11, T0 + 20]);

          const second = log.append(simpleBatches(1, 4, T0 + 30));
          t.equal(second.firstOffset, 6, 'the next append continues at the log end offset');
          t.equal(log.logEndOffset, 10);
        });
      });

      await t.test('fetch from the middle of a batch returns the whole batch', async (t) => {
        await withLog(t, engine, config(), (log) => {
          log.append(simpleBatches(4, 5, T0));
          for (const offset of [0, 3, 7, 14, 19]) {
            const batches = decodeBatches(readSlice(log.read(offset, 1)));
            t.equal(batches.length, 1, `offset ${offset}: one batch`);
            t.equal(batches[0].baseOffset, Math.floor(offset / 5) * 5, `offset ${offset}: starts at its batch`);
          }
        });
      });

      await t.test('read returns at least one batch even when it is larger than maxBytes', async (t) => {
        await withLog(t, engine, config(), (log) => {
          log.append(buildBatch({ records: [{ value: Buffer.alloc(5000, 1) }], baseTimestamp: T0 }));
          log.append(simpleBatches(1, 1, T0));
          const slice = log.read(0, 100);
          const batches = decodeBatches(readSlice(slice));
          t.equal(batches.length, 1);
          t.ok(slice.length > 5000, 'the whole oversized batch');
        });
      });

      await t.test('read stops at maxBytes on whole batches and at maxOffset', async (t) => {
        await withLog(t, engine, config(), (log) => {
          const input = simpleBatches(10, 2, T0);
          log.append(input);
          const size = input.length / 10;
          t.equal(log.read(0, size * 3).length, size * 3, 'exactly three batches fit');
          t.equal(log.read(0, size * 3 + size - 1).length, size * 3, 'a partial batch is never included');
          t.equal(log.read(4, 1 << 20).length, size * 8, 'from offset 4 to the end');
          const bounded = log.read(0, 1 << 20, 6);
          t.same(decodeBatches(readSlice(bounded)).map((b) => b.baseOffset), [0, 2, 4], 'batches whose baseOffset < maxOffset');
          t.equal(log.read(6, 1 << 20, 6).length, 0, 'first batch at maxOffset: nothing');
          t.equal(log.read(7, 1 << 20, 7).length, size, 'a batch that starts below maxOffset is returned whole');
        });
      });

      await t.test('read at the log end is empty; outside the log is OFFSET_OUT_OF_RANGE', async (t) => {
        await withLog(t, engine, config(), (log) => {
          t.equal(log.read(0, 100).length, 0, 'empty log, offset 0');
          log.append(simpleBatches(2, 2, T0));
          t.equal(log.read(4, 100).length, 0, 'offset == logEndOffset');
          expectError(t, () => log.read(5, 100), StorageErrorCode.OFFSET_OUT_OF_RANGE, 'past the end');
          expectError(t, () => log.read(-1, 100), StorageErrorCode.OFFSET_OUT_OF_RANGE, 'negative');
        });
      });

      await t.test('every validation error has its Kafka code and writes nothing', async (t) => {
        await withLog(t, engine, config({ maxMessageBytes: 2000 }), (log, dir) => {
          log.append(simpleBatches(1, 2, T0));
          const good = (): Buffer => simpleBatches(1, 3, T0);
          const cases: Array<[string, () => Buffer, StorageErrorCode]> = [
            ['empty buffer', () => Buffer.alloc(0), StorageErrorCode.INVALID_RECORD],
            ['magic 1', () => {
              const b = good();
              b.writeInt8(1, 16);
              return b;
            }, StorageErrorCode.CORRUPT_MESSAGE],
            ['fewer bytes than a batch header', () => Buffer.concat([good(), good().subarray(0, 40)]), StorageErrorCode.CORRUPT_MESSAGE],
            ['batchLength past the end of the buffer', () => {
              const b = good();
              return b.subarray(0, b.length - 1);
            }, StorageErrorCode.CORRUPT_MESSAGE],
            ['batchLength below the header size', () => {
              const b = good();
              b.writeInt32BE(40, 8);
              return b;
            }, StorageErrorCode.CORRUPT_MESSAGE],
            ['batch larger than max.message.bytes', () => buildBatch({ records: [{ value: Buffer.alloc(3000) }], baseTimestamp: T0 }), StorageErrorCode.MESSAGE_TOO_LARGE],
            ['CRC mismatch', () => {
              const b = good();
              b[b.length - 1] ^= 0xff;
              return b;
            }, StorageErrorCode.CORRUPT_MESSAGE],
            ['codec 5', () => {
              const b = good();
              b.writeInt16BE(5, 21);
              fixCrc(b);
              return b;
            }, StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE],
            ['recordsCount != lastOffsetDelta + 1', () => {
              const b = good();
              b.writeInt32BE(5, 23);
              fixCrc(b);
              return b;
            }, StorageErrorCode.INVALID_RECORD],
            ['recordsCount 0', () => {
              const b = good();
              b.writeInt32BE(-1, 23);
              b.writeInt32BE(0, 57);
              fixCrc(b);
              return b;
            }, StorageErrorCode.INVALID_RECORD],
          ];
          const logFile = path.join(dir, seg(0, 'log'));
          for (const [what, make, code] of cases) {
            // A valid batch in front proves the whole request is refused, not just the bad batch.
            const buf = what === 'empty buffer' ? make() : Buffer.concat([good(), make()]);
            const before = fs.readFileSync(logFile);
            expectError(t, () => log.append(buf), code, what);
            t.equal(log.logEndOffset, 2, `${what}: log end offset unchanged`);
            t.ok(fs.readFileSync(logFile).equals(before), `${what}: .log unchanged`);
          }
          t.equal(log.append(good()).firstOffset, 2, 'the log still accepts valid batches');
        });
      });

      await t.test('LogAppendTime rewrites maxTimestamp and the attributes with a valid CRC', async (t) => {
        await withLog(t, engine, config({ messageTimestampType: 'LogAppendTime' }), (log) => {
          const now = T0 + 50_000;
          const result = log.append(simpleBatches(2, 3, T0), { now });
          t.equal(result.logAppendTime, now);
          t.equal(result.maxTimestamp, now);
          t.same(result.batches.map((b) => b.maxTimestamp), [now, now]);
          const decoded = decodeBatches(readSlice(log.read(0, 1 << 20)));
          for (const b of decoded) {
            t.ok(b.logAppendTime, 'timestamp type bit set');
            t.equal(b.maxTimestamp, now);
            t.equal(b.baseTimestamp, b.baseOffset === 0 ? T0 : T0 + 3, 'baseTimestamp left alone');
            t.ok(b.crcValid, 'CRC recomputed');
            t.ok(b.records.every((r) => r.timestamp === now), 'records read as the append time');
          }
          t.same(log.offsetForTimestamp(now), { timestamp: now, offset: 0 });
          t.same(log.offsetForTimestamp(now + 1), null);
          t.same(log.maxTimestampAndOffset(), { timestamp: now, offset: 0 });
        });
      });

      await t.test('segments roll on segment.bytes', async (t) => {
        const one = simpleBatches(1, 2, T0).length;
        await withLog(t, engine, config({ segmentBytes: one * 3 }), (log, dir) => {
          for (let i = 0; i < 7; i++) log.append(simpleBatches(1, 2, T0 + i));
          t.same(log.segments().map((s) => [s.baseOffset, s.sizeInBytes]), [[0, one * 3], [6, one * 3], [12, one]]);
          t.ok(fs.existsSync(path.join(dir, seg(6, 'log'))));
          t.equal(log.append(simpleBatches(4, 2, T0)).firstOffset, 14, 'an append larger than segment.bytes still goes into one segment');
          t.same(log.segments().map((s) => s.baseOffset), [0, 6, 12, 14]);
          const whole = decodeBatches(readAll(log, 0));
          t.same(whole.map((b) => b.baseOffset), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20], 'reads cross segments');
        });
      });

      await t.test('segments roll on segment.ms measured from the first batch timestamp', async (t) => {
        await withLog(t, engine, config({ segmentMs: 1000 }), (log) => {
          log.append(simpleBatches(1, 1, T0), { now: T0 });
          log.append(simpleBatches(1, 1, T0 + 500), { now: T0 + 1000 });
          t.equal(log.segments().length, 1, 'exactly segment.ms later: no roll');
          log.append(simpleBatches(1, 1, T0 + 600), { now: T0 + 1001 });
          t.same(log.segments().map((s) => s.baseOffset), [0, 2]);
          log.append(simpleBatches(1, 1, T0 + 700), { now: T0 + 1500 });
          t.equal(log.segments().length, 2, 'the new segment counts from its own first batch');
        });
      });

      await t.test('segments roll when an index is full, and roll() starts a new segment', async (t) => {
        // 24 bytes: 3 offset-index entries, 2 time-index entries; index on every batch.
        await withLog(t, engine, config({ maxIndexSize: 24, indexIntervalBytes: 1 }), (log, dir) => {
          t.equal(fs.statSync(path.join(dir, seg(0, 'index'))).size, 24, 'offset index preallocated');
          t.equal(fs.statSync(path.join(dir, seg(0, 'timeindex'))).size, 24, 'time index preallocated');
          for (let i = 0; i < 6; i++) log.append(simpleBatches(1, 1, T0 + i));
          // Batches 1 and 2 each add an entry to both indexes; two 12-byte entries fill the time
          // index, so batch 3 starts a new segment, and likewise batch 6 would.
          t.same(log.segments().map((s) => s.baseOffset), [0, 3], 'rolled on a full time index');
          t.same(parseTimeIndex(path.join(dir, seg(0, 'timeindex')), 0), [[T0 + 1, 1], [T0 + 2, 2]], 'rolled time index trimmed');
          const size = simpleBatches(1, 1, T0).length;
          t.same(parseIndex(path.join(dir, seg(0, 'index')), 0), [[1, size], [2, 2 * size]], 'rolled offset index trimmed');
          const count = log.segments().length;
          log.roll();
          t.equal(log.segments().length, count + 1, 'roll() adds a segment');
          t.equal(log.segments()[count].baseOffset, 6, 'at the log end offset');
          log.roll();
          t.equal(log.segments().length, count + 1, 'roll() on an empty active segment does nothing');
        });
      });

      await t.test('index entries land every index.interval.bytes, as in Kafka', async (t) => {
        const interval = 300;
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const log = await engine.openLog(dir, config({ indexIntervalBytes: interval }));
        const appended: Array<{ size: number; lastOffset: number; maxTimestamp: number }> = [];
        const tsPattern = [5, 3, 9, 9, 2, 12, 1, 15, 15, 4, 20, 7];
        for (let i = 0; i < 36; i++) {
          const n = 1 + (i % 4);
          const r = log.append(
            buildBatch({ records: records(n, `r${i}`), baseTimestamp: T0 + tsPattern[i % tsPattern.length] * 10 + i }),
          );
          appended.push(...r.batches.map((b) => ({ size: b.sizeInBytes, lastOffset: b.lastOffset, maxTimestamp: b.maxTimestamp })));
        }
        t.equal(fs.statSync(path.join(dir, seg(0, 'index'))).size, Math.floor(defaultLogConfig.maxIndexSize / 8) * 8, 'active index preallocated');
        await log.close();
        const want = expectedIndexes(appended, 0, interval);
        t.ok(want.offsets.length > 3, 'the sequence produces several entries');
        t.same(parseIndex(path.join(dir, seg(0, 'index')), 0), want.offsets, '.index entries');
        t.same(parseTimeIndex(path.join(dir, seg(0, 'timeindex')), 0), want.times, '.timeindex entries, trimmed on close');
      });

      await t.test('offsetForTimestamp finds the first record at or after the timestamp', async (t) => {
        await withLog(t, engine, config({ segmentBytes: 600, indexIntervalBytes: 100 }), (log) => {
          for (let i = 0; i < 20; i++) {
            log.append(buildBatch({ records: records(3, `x${i}`, 10), baseTimestamp: T0 + i * 100 }));
          }
          t.ok(log.segments().length > 2, 'spread over segments');
          t.same(log.offsetForTimestamp(0), { timestamp: T0, offset: 0 });
          t.same(log.offsetForTimestamp(T0 + 1), { timestamp: T0 + 10, offset: 1 });
          t.same(log.offsetForTimestamp(T0 + 720), { timestamp: T0 + 720, offset: 23 });
          t.same(log.offsetForTimestamp(T0 + 1021), { timestamp: T0 + 1100, offset: 33 });
          t.same(log.offsetForTimestamp(T0 + 1920), { timestamp: T0 + 1920, offset: 59 });
          t.equal(log.offsetForTimestamp(T0 + 1921), null, 'after the largest timestamp');
        });
      });

      for (const [name, codec] of Object.entries(Codec)) {
        if (codec === Codec.none) continue;
        await t.test(`offsetForTimestamp looks inside ${name} batches`, async (t) => {
          await withLog(t, engine, config(), (log) => {
            const compress = (c: number, b: Buffer): Buffer => engine.compress(c as Codec, b);
            log.append(buildBatch({ records: records(10, 'c0', 7), baseTimestamp: T0, codec, compress }));
            log.append(buildBatch({ records: records(10, 'c1', 7), baseTimestamp: T0 + 1000, codec, compress }));
            t.same(log.offsetForTimestamp(T0 + 22), { timestamp: T0 + 28, offset: 4 });
            t.same(log.offsetForTimestamp(T0 + 63), { timestamp: T0 + 63, offset: 9 });
            t.same(log.offsetForTimestamp(T0 + 64), { timestamp: T0 + 1000, offset: 10 });
            t.same(log.offsetForTimestamp(T0 + 1050), { timestamp: T0 + 1056, offset: 18 });
            t.same(log.maxTimestampAndOffset(), { timestamp: T0 + 1063, offset: 19 });
            const decoded = decodeBatches(readSlice(log.read(0, 1 << 20)), (c, b) => engine.decompress(c as Codec, b));
            t.equal(decoded[1].records[3].value?.toString(), 'c1-v3', 'the stored batch decompresses');
          });
        });
      }

      await t.test('decompress accepts zstd frames without a content size and raw snappy', async (t) => {
        const payload = Buffer.from('spool '.repeat(2000));
        const frame = await new Promise<Buffer>((resolve, reject) => {
          // The streaming compressor does not know the size up front, like some producers.
          const chunks: Buffer[] = [];
          const stream = new CompressStream();
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => resolve(Buffer.concat(chunks)));
          stream.on('error', reject);
          stream.end(payload);
        });
        t.ok(engine.decompress(Codec.zstd, frame).equals(payload), 'zstd without content size');
        t.ok(engine.decompress(Codec.snappy, snappyCompressRaw(payload)).equals(payload), 'raw snappy block');
        t.ok(engine.decompress(Codec.snappy, engine.compress(Codec.snappy, payload)).equals(payload), 'xerial snappy');
        t.same(
          [...engine.compress(Codec.snappy, payload).subarray(0, 8)],
          [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00],
          'snappy output uses the xerial framing Kafka clients expect',
        );
        t.same([...engine.compress(Codec.lz4, payload).subarray(0, 4)], [0x04, 0x22, 0x4d, 0x18], 'lz4 frame magic');
        t.equal(engine.crc32c(Buffer.from('123456789')), 0xe3069283, 'crc32c check value');
      });

      await t.test('maxTimestampAndOffset is the record with the largest timestamp', async (t) => {
        await withLog(t, engine, config({ segmentBytes: 400 }), (log) => {
          t.equal(log.maxTimestampAndOffset(), null, 'empty log');
          log.append(buildBatch({ records: records(3, 'a'), baseTimestamp: T0 + 100 }));
          log.append(
            buildBatch({
              records: [{ value: 'x', timestampDelta: 5 }, { value: 'y', timestampDelta: 900 }, { value: 'z', timestampDelta: 1 }],
              baseTimestamp: T0,
            }),
          );
          for (let i = 0; i < 5; i++) log.append(buildBatch({ records: records(2, `b${i}`), baseTimestamp: T0 + 200 + i }));
          t.ok(log.segments().length > 1);
          t.same(log.maxTimestampAndOffset(), { timestamp: T0 + 900, offset: 4 });
          t.same(log.offsetForTimestamp(T0 + 500), { timestamp: T0 + 900, offset: 4 });
        });
      });

      await t.test('truncateTo removes batches at and after the offset, across segments', async (t) => {
        await withLog(t, engine, config({ segmentBytes: 500, indexIntervalBytes: 50 }), (log, dir) => {
          for (let i = 0; i < 12; i++) log.append(simpleBatches(1, 3, T0 + i * 10));
          const segsBefore = log.segments().map((s) => s.baseOffset);
          t.ok(segsBefore.length >= 3);
          log.truncateTo(40);
          t.equal(log.logEndOffset, 36, 'an offset inside a batch drops that whole batch');
          log.truncateTo(100);
          t.equal(log.logEndOffset, 36, 'truncating past the end does nothing');
          const cut = segsBefore[1] + 3;
          log.truncateTo(cut);
          t.equal(log.logEndOffset, cut);
          t.same(log.segments().map((s) => s.baseOffset), segsBefore.slice(0, 2), 'later segments deleted');
          t.notOk(fs.existsSync(path.join(dir, seg(segsBefore[2], 'log'))), 'their files removed');
          t.same(decodeBatches(readAll(log, 0)).map((b) => b.lastOffset + 1).pop(), cut);
          t.same(log.offsetForTimestamp(T0 + 1000), null, 'no timestamps beyond the truncation point');
          t.equal(log.maxTimestampAndOffset()?.offset, cut - 1);
          const r = log.append(simpleBatches(1, 2, T0 + 5000));
          t.equal(r.firstOffset, cut, 'appends continue at the new log end offset');
          t.same(log.offsetForTimestamp(T0 + 4000), { timestamp: T0 + 5000, offset: cut });
          log.truncateTo(0);
          t.equal(log.logEndOffset, 0);
          t.equal(log.read(0, 100).length, 0);
          t.equal(log.append(simpleBatches(1, 1, T0)).firstOffset, 0);
        });
      });

      await t.test('deleteSegmentsBefore deletes whole segments and raises logStartOffset', async (t) => {
        await withLog(t, engine, config({ segmentBytes: 400 }), (log, dir) => {
          for (let i = 0; i < 12; i++) log.append(simpleBatches(1, 3, T0 + i * 10));
          const bases = log.segments().map((s) => s.baseOffset);
          t.ok(bases.length >= 3);
          t.equal(log.deleteSegmentsBefore(bases[1] - 1), 0, 'a segment that still holds the offset stays');
          t.equal(log.logStartOffset, bases[1] - 1);
          expectError(t, () => log.read(0, 100), StorageErrorCode.OFFSET_OUT_OF_RANGE, 'below logStartOffset');
          t.equal(log.deleteSegmentsBefore(bases[2]), 2);
          t.same(log.segments().map((s) => s.baseOffset), bases.slice(2));
          t.notOk(fs.existsSync(path.join(dir, seg(0, 'log'))));
          t.notOk(fs.existsSync(path.join(dir, seg(0, 'index'))));
          t.equal(log.logStartOffset, bases[2]);
          t.equal(decodeBatches(readSlice(log.read(bases[2], 1 << 20)))[0].baseOffset, bases[2]);
          t.equal(log.deleteSegmentsBefore(1_000_000), bases.length - 3, 'never the active segment');
          t.equal(log.segments().length, 1);
          t.equal(log.logStartOffset, 36, 'capped at the log end offset');
          t.equal(log.offsetForTimestamp(0), null, 'nothing readable below logStartOffset');
          t.equal(log.append(simpleBatches(1, 1, T0)).firstOffset, 36);
          t.same(log.offsetForTimestamp(0), { timestamp: T0, offset: 36 });
          log.truncateTo(5);
          t.same([log.logStartOffset, log.logEndOffset], [5, 5], 'truncating below the first segment starts the log over');
          t.same(log.segments().map((s) => [s.baseOffset, s.sizeInBytes]), [[5, 0]]);
          t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.log')), [seg(5, 'log')]);
          t.equal(log.append(simpleBatches(1, 1, T0)).firstOffset, 5);
        });
      });

      await t.test('segments dropped by retention or truncation keep their fd for fileDeleteDelayMs', async (t) => {
        await withLog(t, engine, config({ segmentBytes: 400, fileDeleteDelayMs: 50 }), async (log, dir) => {
          for (let i = 0; i < 24; i++) log.append(simpleBatches(1, 3, T0 + i * 10));
          const bases = log.segments().map((s) => s.baseOffset);
          t.ok(bases.length >= 6, `enough segments (${bases.length})`);
          const first = log.read(0, 1 << 20);
          const firstBytes = readSlice(first);
          t.equal(log.deleteSegmentsBefore(bases[2]), 2);
          t.notOk(fs.existsSync(path.join(dir, seg(0, 'log'))), 'gone under its segment name');
          for (const ext of ['log', 'index', 'timeindex']) {
            t.ok(fs.existsSync(path.join(dir, `${seg(0, ext)}.deleted`)), `.${ext} renamed to .${ext}.deleted`);
          }
          t.same(readSlice(first), firstBytes, 'a slice taken before retention still reads its bytes');
          t.ok(fdOpenOn(first.fd, path.join(dir, `${seg(0, 'log')}.deleted`)), 'its fd is still the deleted file');

          const later = log.read(bases[4], 1 << 20);
          const laterBytes = readSlice(later);
          log.truncateTo(bases[3]);
          t.same(log.segments().map((s) => s.baseOffset), [bases[2], bases[3]], 'truncation dropped the later segments');
          t.notOk(fs.existsSync(path.join(dir, seg(bases[4], 'log'))));
          t.ok(fs.existsSync(path.join(dir, `${seg(bases[4], 'log')}.deleted`)));
          t.same(readSlice(later), laterBytes, 'a slice taken before truncation still reads its bytes');
          // The base offset is free again at once: the same appends roll a new segment there.
          for (let i = 0; i < 24 && log.logEndOffset <= bases[4]; i++) log.append(simpleBatches(1, 3, T0 + i * 10));
          t.ok(log.segments().some((s) => s.baseOffset === bases[4]), 'a new segment took the old base offset');
          t.same(readSlice(later), laterBytes, 'the new segment does not disturb the old slice');

          await new Promise((resolve) => setTimeout(resolve, 120));
          t.ok(fs.readdirSync(dir).some((n) => n.endsWith('.deleted')), 'nothing happens without a call');
          log.segments();
          t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted')), [], 'a later call removes expired files');
          // A lease never expires into a close (a send may still use the fd number): the fds of
          // slices still held close at their release.
          t.ok(fdOpenOn(first.fd, path.join(dir, `${seg(0, 'log')}.deleted`)), 'a slice still held keeps its fd');
          t.same(readSlice(first), firstBytes, 'and its bytes');
          first.release?.();
          later.release?.();
          t.notOk(fdOpenOn(first.fd, path.join(dir, `${seg(0, 'log')}.deleted`)), 'the release closes their fds');
          t.notOk(fdOpenOn(later.fd, path.join(dir, `${seg(bases[4], 'log')}.deleted`)));
        });
      });

      await t.test('close() closes and removes deleted segments still in their delay', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const log = await engine.openLog(dir, config({ segmentBytes: 400 }));
        for (let i = 0; i < 8; i++) log.append(simpleBatches(1, 3, T0 + i * 10));
        const slice = log.read(0, 1 << 20);
        t.ok(log.deleteSegmentsBefore(log.segments()[1].baseOffset) === 1);
        const deletedLog = path.join(dir, `${seg(0, 'log')}.deleted`);
        t.ok(fdOpenOn(slice.fd, deletedLog), 'open during the default 60 s delay');
        await log.close();
        t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted')), []);
        t.ok(fdOpenOn(slice.fd, deletedLog), 'a slice still held keeps its fd through close()');
        slice.release?.();
        t.notOk(fdOpenOn(slice.fd, deletedLog), 'closed at its release');
      });

      await t.test('reopening a log preserves offsets, segments, indexes and reads', async (t) => {
        const dir = tempDir();
        t.teardown(() => removeDir(dir));
        const cfg = config({ segmentBytes: 700, indexIntervalBytes: 120 });
        const log = await engine.openLog(dir, cfg);
        for (let i = 0; i < 15; i++) log.append(buildBatch({ records: records(3, `p${i}`, 5), baseTimestamp: T0 + i * 50 }));
        const before = {
          leo: log.logEndOffset,
          segments: log.segments().map((s) => [s.baseOffset, s.sizeInBytes, s.maxTimestamp]),
          data: readAll(log, 0),
          ts: log.offsetForTimestamp(T0 + 333),
          max: log.maxTimestampAndOffset(),
        };
        await log.close();
        const files = new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
        const again = await engine.openLog(dir, cfg, { logStartOffset: 3 });
        t.equal(again.recoveredBytesTruncated, 0);
        t.equal(again.logEndOffset, before.leo);
        t.equal(again.logStartOffset, 3);
        t.same(again.segments().map((s) => [s.baseOffset, s.sizeInBytes, s.maxTimestamp]), before.segments);
        const firstBatchSize = decodeBatches(before.data)[0].sizeInBytes;
        t.ok(readAll(again, 3).equals(before.data.subarray(firstBatchSize)), 'same bytes from the batch holding logStartOffset');
        expectError(t, () => again.read(2, 100), StorageErrorCode.OFFSET_OUT_OF_RANGE, 'below the checkpointed logStartOffset');
        t.same(again.offsetForTimestamp(T0 + 333), before.ts);
        t.same(again.maxTimestampAndOffset(), before.max);
        t.equal(again.append(simpleBatches(1, 1, T0 + 9999)).firstOffset, before.leo);
        again.truncateTo(before.leo);
        await again.close();
        for (const [name, bytes] of files) {
          t.ok(fs.readFileSync(path.join(dir, name)).equals(bytes), `${name} identical after reopen, append, truncate, close`);
        }
      });

      await t.test('appendAsFollower keeps offsets, epochs and timestamps', async (t) => {
        await withLog(t, engine, config({ messageTimestampType: 'LogAppendTime' }), (log) => {
          const batch = buildBatch({ records: records(2, 'f'), baseTimestamp: T0, baseOffset: 0, partitionLeaderEpoch: 9 });
          const r = log.appendAsFollower(batch);
          t.equal(r.lastOffset, 1);
          t.equal(r.logAppendTime, -1);
          const next = buildBatch({ records: records(1, 'g'), baseTimestamp: T0 + 5, baseOffset: 2, partitionLeaderEpoch: 10 });
          log.appendAsFollower(next);
          const decoded = decodeBatches(readSlice(log.read(0, 1 << 20)));
          t.same(decoded.map((b) => [b.baseOffset, b.partitionLeaderEpoch, b.maxTimestamp, b.logAppendTime]), [
            [0, 9, T0 + 1, false],
            [2, 10, T0 + 5, false],
          ]);
          // Below the log end offset is refused (Kafka's UnexpectedAppendOffset); above it is a
          // compacted leader's gap and accepted, as are gaps between batches (docs/storage-format.md).
          const behind = buildBatch({ records: records(1, 'h'), baseTimestamp: T0, baseOffset: 2 });
          expectError(t, () => log.appendAsFollower(behind), StorageErrorCode.INVALID_RECORD, 'first batch below the log end offset');
          const contiguous = buildBatch({ records: records(1, 'i'), baseTimestamp: T0, baseOffset: 3 });
          const overlapping = buildBatch({ records: records(1, 'j'), baseTimestamp: T0, baseOffset: 3 });
          expectError(t, () => log.appendAsFollower(Buffer.concat([contiguous, overlapping])), StorageErrorCode.CORRUPT_MESSAGE, 'batches whose offsets do not rise');
          t.equal(log.logEndOffset, 3, 'nothing written');
          const gapped = buildBatch({ records: records(1, 'k'), baseTimestamp: T0, baseOffset: 9 });
          log.appendAsFollower(Buffer.concat([contiguous, gapped]));
          t.equal(log.logEndOffset, 10, 'a gap between batches (compacted away on the leader) is kept');
          const far = buildBatch({ records: records(1, 'l'), baseTimestamp: T0, baseOffset: 20 });
          log.appendAsFollower(far);
          t.equal(log.logEndOffset, 21, 'a first batch past the log end offset is accepted');
          t.same(
            decodeBatches(readSlice(log.read(3, 1 << 20))).map((b) => b.baseOffset),
            [3, 9, 20],
          );
        });
      });

      await t.test('flush: concurrent callers all resolve, including after a roll', async (t) => {
        await withLog(t, engine, config(), async (log) => {
          await log.flush();
          log.append(simpleBatches(3, 2, T0));
          const first = Promise.all(Array.from({ length: 8 }, () => log.flush()));
          log.append(simpleBatches(1, 2, T0));
          log.roll();
          log.append(simpleBatches(1, 2, T0));
          const second = Promise.all(Array.from({ length: 8 }, () => log.flush()));
          await first;
          await second;
          t.equal(log.logEndOffset, 10);
          t.pass('every flush resolved');
        });
      });

      await t.test('I/O failures and use after close are KAFKA_STORAGE_ERROR', async (t) => {
        const root = tempDir();
        t.teardown(() => removeDir(root));
        const file = path.join(root, 'not-a-directory');
        fs.writeFileSync(file, 'x');
        await t.rejects(engine.openLog(file, config()), { code: StorageErrorCode.KAFKA_STORAGE_ERROR });
        const log = await engine.openLog(path.join(root, 'p-0'), config());
        log.append(simpleBatches(1, 1, T0));
        await log.close();
        expectError(t, () => log.append(simpleBatches(1, 1, T0)), StorageErrorCode.KAFKA_STORAGE_ERROR, 'append after close');
        expectError(t, () => log.read(0, 100), StorageErrorCode.KAFKA_STORAGE_ERROR, 'read after close');
      });

      await t.test('a missing directory is created with an empty segment at logStartOffset', async (t) => {
        const root = tempDir();
        t.teardown(() => removeDir(root));
        const dir = path.join(root, 'topic-0');
        const log = await engine.openLog(dir, config(), { logStartOffset: 42 });
        t.equal(log.logStartOffset, 42);
        t.equal(log.logEndOffset, 42);
        t.equal(log.append(simpleBatches(1, 1, T0)).firstOffset, 42);
        await log.close();
        t.ok(fs.existsSync(path.join(dir, seg(42, 'log'))));
        t.equal(fs.statSync(path.join(dir, seg(42, 'index'))).size, 0, 'index trimmed on close');
      });

      await t.test('a truncation whose index files cannot be cut still cuts the log', async (t) => {
        const cfg = config({ indexIntervalBytes: 1 });
        let dir = '';
        await withLog(t, engine, cfg, async (log, d) => {
          dir = d;
          log.append(simpleBatches(6, 1, T0));
          await log.flush();
          // The index files cannot be opened (a directory in the way; out of fds, in life).
          const saved = ['index', 'timeindex'].map((ext) => {
            const file = path.join(dir, seg(0, ext));
            const bytes = fs.readFileSync(file);
            fs.rmSync(file);
            fs.mkdirSync(file);
            return { file, bytes };
          });
          log.truncateTo(3);
          t.equal(log.logEndOffset, 3, 'log end offset follows the cut');
          t.same(decodeBatches(readAll(log, 0)).map((b) => b.baseOffset), [0, 1, 2]);
          for (const { file, bytes } of saved) {
            fs.rmdirSync(file);
            fs.writeFileSync(file, bytes);
          }
          t.equal(log.append(simpleBatches(2, 1, T0 + 10)).firstOffset, 3);
          await log.flush();
          log.roll();
          log.append(simpleBatches(1, 1, T0 + 20));
        });
        // Sealed with the entries of what is left: lookups in it are right after a restart.
        const reopened = await engine.openLog(dir, cfg);
        t.teardown(() => reopened.close());
        for (let offset = 0; offset < 6; offset++) {
          t.equal(decodeBatches(readSlice(reopened.read(offset, 1))).at(0)?.baseOffset, offset, `read at ${offset}`);
        }
        t.equal(reopened.offsetForTimestamp(T0 + 10)?.offset, 3);
      });

      await t.test('a roll whose new segment cannot be created changes nothing and leaks no fd', async (t) => {
        await withLog(t, engine, config(), async (log, dir) => {
          log.append(simpleBatches(2, 1, T0));
          const blocked = path.join(dir, seg(2, 'index'));
          fs.mkdirSync(blocked);
          const fdsOnNewLog = (): number =>
            fs.readdirSync('/proc/self/fd').filter((fd) => {
              try {
                return fs.readlinkSync(`/proc/self/fd/${fd}`) === path.join(fs.realpathSync(dir), seg(2, 'log'));
              } catch {
                return false;
              }
            }).length;
          expectError(t, () => { log.roll(); }, StorageErrorCode.KAFKA_STORAGE_ERROR, 'roll');
          if (process.platform === 'linux') t.equal(fdsOnNewLog(), 0, "no fd left on the new segment's .log");
          t.same(log.segments().map((s) => s.baseOffset), [0], 'the active segment is unchanged');
          t.equal(log.append(simpleBatches(1, 1, T0 + 1)).firstOffset, 2, 'appends go on');
          fs.rmdirSync(blocked);
          log.roll();
          t.same(log.segments().map((s) => s.baseOffset), [0, 3]);
          t.same(decodeBatches(readAll(log, 0)).map((b) => b.baseOffset), [0, 1, 2]);
        });
      });

      await t.test("a deleted topic's log leaves a recreated topic's files alone (markDeleted)", async (t) => {
        const root = tempDir();
        t.teardown(() => removeDir(root));
        const dir = path.join(root, 'T-0');
        const cfg = config({ indexIntervalBytes: 1 });
        // The old log: entries of its own in memory (the TS engine writes them at flush), a
        // segment awaiting deletion, and an active segment 0 it would seal at close.
        const old = await engine.openLog(dir, { ...cfg, fileDeleteDelayMs: 60_000 });
        for (let i = 0; i < 8; i++) old.append(simpleBatches(1, 1 + i, T0 + i, 30));
        old.roll();
        old.append(simpleBatches(2, 1, T0 + 9, 30));
        old.truncateTo(old.logEndOffset - 1);
        old.markDeleted();
        fs.renameSync(dir, path.join(root, 'T-0-delete'));
        // The recreated topic: other batch sizes, segment 0 rolled (sealed, trimmed), more after.
        const fresh = await engine.openLog(dir, cfg);
        for (let i = 0; i < 5; i++) fresh.append(simpleBatches(1, 3, T0 + 100 + i, 50));
        fresh.roll();
        fresh.append(simpleBatches(2, 2, T0 + 200, 20));
        await fresh.flush();
        const snapshot = (): Record<string, string> =>
          Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('hex')]));
        const before = snapshot();
        const middle = readAll(fresh, 7);
        expectError(t, () => old.append(simpleBatches(1, 1, T0)), StorageErrorCode.KAFKA_STORAGE_ERROR, 'append to a deleted log');
        expectError(t, () => { old.roll(); }, StorageErrorCode.KAFKA_STORAGE_ERROR, 'roll of a deleted log');
        expectError(t, () => { old.truncateTo(0); }, StorageErrorCode.KAFKA_STORAGE_ERROR, 'truncation of a deleted log');
        t.same(decodeBatches(readSlice(old.read(36, 1 << 20))).map((b) => b.baseOffset), [36], 'the active segment still reads through its open fd');
        // A sealed segment's closed fd is never reopened by path (that would be the new topic's file).
        let first: number | string;
        try {
          first = decodeBatches(readSlice(old.read(0, 1 << 20)))[0].records.length;
        } catch (err) {
          first = (err as StorageError).code === StorageErrorCode.KAFKA_STORAGE_ERROR ? 'refused' : String(err);
        }
        t.ok(first === 1 || first === 'refused', `a sealed segment reads the old data or is refused (${first})`);
        await old.flush();
        await old.close();
        t.same(snapshot(), before, "the new topic's files are untouched by the old log's flush and close");
        await fresh.close();
        t.ok(fs.existsSync(path.join(root, 'T-0-delete', seg(0, 'log'))), 'the old files are left for the caller to remove');
        const reopened = await engine.openLog(dir, cfg);
        t.teardown(() => reopened.close());
        t.same(readAll(reopened, 7), middle, 'reads from the middle of the rolled segment after a restart');
        t.same(reopened.segments().map((s) => s.baseOffset), [0, 15]);
      });
    });
  }
});
