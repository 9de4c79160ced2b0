// storage room tests: record-level validation on append (Kafka's DefaultRecord / LogValidator
// rules, docs/storage-format.md "Append" step 1). Every hostile input goes to both engines, on the
// leader and the follower path: both must refuse it with the same error code and leave the log
// untouched; every codec's well-formed batches must still be accepted.
import { gzipSync } from 'node:zlib';
import t, { Test } from 'tap';
import { CompressStream } from 'zstd-napi';
import {
  Codec,
  LogConfig,
  MIN_DECOMPRESSED_LIMIT,
  PartitionLog,
  StorageEngine,
  StorageError,
  StorageErrorCode,
  defaultLogConfig,
} from '../../src/storage/engine.js';
import { snappyCompressRaw } from '../../src/storage/ts/codecs/snappy.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { BATCH_HEADER_SIZE, buildBatch, fixCrc, writeVarint, TestRecord } from '../helpers/batches.js';
import { enginesUnderTest, removeDir, tempDir } from '../helpers/engines.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const compress = (codec: number, data: Buffer): Buffer => tsEngine.compress(codec as Codec, data);
const CODECS = [Codec.none, Codec.gzip, Codec.snappy, Codec.lz4, Codec.zstd] as const;
const COMPRESSED = [Codec.gzip, Codec.snappy, Codec.lz4, Codec.zstd] as const;
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function varints(...values: number[]): number[] {
  const out: number[] = [];
  for (const v of values) writeVarint(out, v);
  return out;
}

interface RawRecord {
  offsetDelta: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: Array<{ keyLength: number; key: Buffer }>;
  /** Replaces the record's length varint. */
  length?: number;
}

/** A record with exactly the given fields, valid or not, framed by its length varint. */
function rawRecord(r: RawRecord): Buffer {
  const parts: Buffer[] = [Buffer.from([0, ...varints(r.offsetDelta * 10, r.offsetDelta)])];
  for (const field of [r.key === undefined ? Buffer.from('k') : r.key, r.value === undefined ? Buffer.from('v') : r.value]) {
    if (field === null) parts.push(Buffer.from(varints(-1)));
    else parts.push(Buffer.from(varints(field.length)), field);
  }
  const headers = r.headers ?? [];
  parts.push(Buffer.from(varints(headers.length)));
  for (const h of headers) parts.push(Buffer.from(varints(h.keyLength)), h.key, Buffer.from([...varints(1), 0x76]));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(varints(r.length ?? body.length)), body]);
}

function records(n: number, from = 0): Buffer {
  return Buffer.concat(Array.from({ length: n }, (_, i) => rawRecord({ offsetDelta: from + i, headers: [{ keyLength: 1, key: Buffer.from('h') }] })));
}

/** A batch declaring `count` records over `payload` (already compressed, if `codec` says so), with a valid CRC. */
function rawBatch(payload: Buffer, count: number, attributes = 0): Buffer {
  const b = Buffer.alloc(BATCH_HEADER_SIZE + payload.length);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt8(2, 16);
  b.writeInt16BE(attributes, 21);
  b.writeInt32BE(count - 1, 23);
  b.writeBigInt64BE(BigInt(T0), 27);
  b.writeBigInt64BE(BigInt(T0), 35);
  b.writeBigInt64BE(-1n, 43);
  b.writeInt16BE(-1, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(count, 57);
  payload.copy(b, BATCH_HEADER_SIZE);
  fixCrc(b);
  return b;
}

/** `records` compressed with `codec` in a batch declaring `count`. */
function batchOf(recordBytes: Buffer, count: number, codec: number = Codec.none, attributes = 0): Buffer {
  return rawBatch(codec === Codec.none ? recordBytes : compress(codec, recordBytes), count, codec | attributes);
}

/** A zstd frame without a content size, as streaming producers write it. */
async function zstdStreamed(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = new CompressStream();
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.end(data);
  });
}

interface Hostile {
  name: string;
  batch: Buffer;
  code: StorageErrorCode;
  /** Expected context.recordIndex; undefined when no single record is at fault. */
  recordIndex?: number;
  config?: Partial<LogConfig>;
  /** The rule needs topic config the follower does not check. */
  leaderOnly?: boolean;
}

const INVALID = StorageErrorCode.INVALID_RECORD;
/** One record whose value is `n` zero bytes: a few hundred bytes once compressed. */
const bombRecord = (n: number): Buffer => rawRecord({ offsetDelta: 0, value: Buffer.alloc(n) });

function hostileInputs(): Hostile[] {
  const cases: Hostile[] = [];
  for (const codec of CODECS) {
    const c = CODEC_NAMES[codec];
    cases.push(
      { name: `${c}: recordsCount 2^31-1 with one record`, batch: batchOf(records(1), 2 ** 31 - 1, codec), code: INVALID, recordIndex: 1 },
      { name: `${c}: 3 records declared, 2 present`, batch: batchOf(records(2), 3, codec), code: INVALID, recordIndex: 2 },
      { name: `${c}: 2 records declared, 3 present`, batch: batchOf(records(3), 2, codec), code: INVALID },
      {
        name: `${c}: offset deltas 0, 2, 1`,
        batch: batchOf(Buffer.concat([0, 2, 1].map((d) => rawRecord({ offsetDelta: d }))), 3, codec),
        code: INVALID,
        recordIndex: 1,
      },
      { name: `${c}: last record truncated`, batch: batchOf(records(3).subarray(0, -4), 3, codec), code: INVALID, recordIndex: 2 },
      { name: `${c}: record length 2^31-1`, batch: batchOf(rawRecord({ offsetDelta: 0, length: 2 ** 31 - 1 }), 1, codec), code: INVALID, recordIndex: 0 },
      { name: `${c}: record length one short`, batch: batchOf(rawRecord({ offsetDelta: 0, length: 7 }), 1, codec), code: INVALID, recordIndex: 0 },
      { name: `${c}: negative record length`, batch: batchOf(rawRecord({ offsetDelta: 0, length: -3 }), 1, codec), code: INVALID, recordIndex: 0 },
      {
        name: `${c}: header key null`,
        batch: batchOf(Buffer.concat([records(1), rawRecord({ offsetDelta: 1, headers: [{ keyLength: -1, key: Buffer.alloc(0) }] })]), 2, codec),
        code: INVALID,
        recordIndex: 1,
      },
      {
        name: `${c}: header key longer than the record`,
        batch: batchOf(rawRecord({ offsetDelta: 0, headers: [{ keyLength: 40, key: Buffer.from('h') }] }), 1, codec),
        code: INVALID,
        recordIndex: 0,
      },
    );
  }
  // Fields the helper cannot express: hand-written record bodies.
  const body = (...bytes: number[]): Buffer => Buffer.from([...varints(bytes.length), ...bytes]);
  cases.push(
    { name: 'key length -2', batch: batchOf(body(0, 0, 0, ...varints(-2, -1, 0)), 1), code: INVALID, recordIndex: 0 },
    { name: 'value length -7', batch: batchOf(body(0, 0, 0, ...varints(-1, -7, 0)), 1, Codec.gzip), code: INVALID, recordIndex: 0 },
    { name: 'header count -1', batch: batchOf(body(0, 0, 0, ...varints(-1, -1, -1)), 1, Codec.lz4), code: INVALID, recordIndex: 0 },
    { name: 'header count larger than the record', batch: batchOf(body(0, 0, 0, ...varints(-1, -1, 60)), 1), code: INVALID, recordIndex: 0 },
    {
      name: 'key longer than the record, bytes after it',
      batch: batchOf(Buffer.concat([body(0, 0, 0, ...varints(30), 0x61), Buffer.alloc(40)]), 1),
      code: INVALID,
      recordIndex: 0,
    },
    { name: 'offset delta varint of 6 bytes', batch: batchOf(body(0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 1, 1, 0), 1), code: INVALID, recordIndex: 0 },
    {
      name: 'timestamp delta varlong of 11 bytes',
      batch: batchOf(body(0, ...Array<number>(10).fill(0x80), 0, 0, 1, 1, 0), 1, Codec.zstd),
      code: INVALID,
      recordIndex: 0,
    },
  );
  for (const codec of COMPRESSED) {
    const c = CODEC_NAMES[codec];
    const good = compress(codec, records(200));
    cases.push(
      { name: `${c}: garbage payload with a valid CRC`, batch: rawBatch(Buffer.from('\x01\x02 definitely not compressed'), 1, codec), code: INVALID },
      // An empty zstd payload is a valid stream of no frames: the first record is missing.
      { name: `${c}: empty payload`, batch: rawBatch(Buffer.alloc(0), 1, codec), code: INVALID, recordIndex: codec === Codec.zstd ? 0 : undefined },
      { name: `${c}: payload cut short`, batch: rawBatch(good.subarray(0, good.length - 5), 200, codec), code: INVALID },
      { name: `${c}: junk after the payload`, batch: rawBatch(Buffer.concat([good, Buffer.from('\x01junk')]), 200, codec), code: INVALID },
    );
  }
  const over = bombRecord(MIN_DECOMPRESSED_LIMIT + 1000);
  for (const codec of [Codec.gzip, Codec.lz4, Codec.zstd]) {
    const batch = batchOf(over, 1, codec);
    cases.push({ name: `${CODEC_NAMES[codec]} bomb: ${batch.length} bytes decompressing past the limit`, batch, code: INVALID });
  }
  // Snappy cannot expand 64:1, but a block may declare any length: refused before allocating.
  cases.push({
    name: 'snappy block declaring 4 GiB',
    batch: rawBatch(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, ...Array<number>(64).fill(0)]), 1, Codec.snappy),
    code: INVALID,
  });
  for (const codec of [5, 6, 7]) {
    cases.push({ name: `compression codec ${codec}`, batch: rawBatch(records(1), 1, codec), code: StorageErrorCode.UNSUPPORTED_COMPRESSION_TYPE });
  }
  const noKey = Buffer.concat([rawRecord({ offsetDelta: 0 }), rawRecord({ offsetDelta: 1, key: null })]);
  for (const codec of [Codec.none, Codec.zstd]) {
    cases.push({
      name: `${CODEC_NAMES[codec]}: record without a key on a compacted topic`,
      batch: batchOf(noKey, 2, codec),
      code: INVALID,
      recordIndex: 1,
      config: { compacted: true },
      leaderOnly: true,
    });
  }
  cases.push({
    name: 'record timestamp past message.timestamp.after.max.ms',
    batch: batchOf(records(3), 3, Codec.snappy),
    code: StorageErrorCode.INVALID_TIMESTAMP,
    recordIndex: 2,
    config: { messageTimestampAfterMaxMs: 15 },
    leaderOnly: true,
  });
  return cases;
}

async function openLog(t: Test, engine: StorageEngine, overrides: Partial<LogConfig> = {}): Promise<PartitionLog> {
  const dir = tempDir('spool-records-');
  const log = await engine.openLog(dir, { ...defaultLogConfig, maxMessageBytes: 8 << 20, ...overrides });
  t.teardown(async () => {
    await log.close();
    removeDir(dir);
  });
  return log;
}

interface Outcome {
  code: number | null;
  recordIndex: unknown;
}

function attempt(fn: () => unknown): Outcome {
  try {
    fn();
    return { code: null, recordIndex: undefined };
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    return { code: err.code, recordIndex: err.context.recordIndex };
  }
}

const sizeOf = (log: PartitionLog): number => log.segments().reduce((n, s) => n + s.sizeInBytes, 0);

t.test('hostile batches are refused with the same code by both engines, and nothing is written', async (t) => {
  const engines = await enginesUnderTest(t);
  const cases = hostileInputs();
  const outcomes = new Map<string, Outcome[]>();
  for (const engine of engines) {
    for (const c of cases) {
      const log = await openLog(t, engine, { ...c.config, messageTimestampType: 'CreateTime' });
      const lead = buildBatch({ records: [{ key: 'a', value: 'first' }], baseTimestamp: T0 });
      log.append(lead, { now: T0 });
      const before = { leo: log.logEndOffset, size: sizeOf(log) };
      // The hostile batch after a good one in the same request: the whole request is refused.
      const request = Buffer.concat([buildBatch({ records: [{ key: 'b', value: 'good' }], baseTimestamp: T0 }), c.batch]);
      const leader = attempt(() => log.append(Buffer.from(request), { now: T0 }));
      t.equal(leader.code, c.code, `${engine.name} ${c.name}: error code`);
      t.equal(leader.recordIndex, c.recordIndex, `${engine.name} ${c.name}: recordIndex`);
      t.same({ leo: log.logEndOffset, size: sizeOf(log) }, before, `${engine.name} ${c.name}: nothing written`);
      outcomes.set(c.name, [...(outcomes.get(c.name) ?? []), leader]);
      if (!c.leaderOnly) {
        const follower = Buffer.from(request);
        follower.writeBigInt64BE(BigInt(before.leo), 0);
        follower.writeBigInt64BE(BigInt(before.leo + 1), follower.length - c.batch.length);
        const asFollower = attempt(() => log.appendAsFollower(follower));
        t.equal(asFollower.code, c.code, `${engine.name} ${c.name}: follower error code`);
        t.same({ leo: log.logEndOffset, size: sizeOf(log) }, before, `${engine.name} ${c.name}: follower wrote nothing`);
      }
      // The partition stays usable.
      t.equal(log.append(buildBatch({ records: [{ key: 'c', value: 'after' }], baseTimestamp: T0 }), { now: T0 }).firstOffset, before.leo);
    }
  }
  if (engines.length === 2) {
    for (const [name, [a, b]] of outcomes) t.same(a, b, `${name}: both engines answer alike`);
  }
});

t.test('well-formed batches of every codec, markers and producer framing variants are accepted by both engines', async (t) => {
  const engines = await enginesUnderTest(t);
  const testRecords: TestRecord[] = Array.from({ length: 300 }, (_, i) => ({
    key: i % 7 === 0 ? null : `key-${i}`,
    value: i % 11 === 0 ? null : Buffer.alloc(i % 50, i & 0xff),
    headers: i % 3 === 0 ? [{ key: 'trace', value: `t${i}` }, { key: 'empty', value: null }] : [],
    timestampDelta: (i * 37) % 1000,
  }));
  const plain = records(2000);
  const half = [records(1000), records(1000, 1000)];
  const gzipTwoMembers = Buffer.concat(half.map((h) => gzipSync(h)));
  const gzipPadded = Buffer.concat([gzipSync(plain), Buffer.alloc(4)]);
  const snappyTwoStreams = Buffer.concat(half.map((h) => compress(Codec.snappy, h)));
  const variants: Array<[string, Buffer]> = [
    ...CODECS.map((codec): [string, Buffer] => [
      `${CODEC_NAMES[codec]} records with null keys, null values and headers`,
      buildBatch({ records: testRecords, baseTimestamp: T0, codec, compress }),
    ]),
    ['gzip with two members', rawBatch(gzipTwoMembers, 2000, Codec.gzip)],
    ['gzip with zero padding after the member', rawBatch(gzipPadded, 2000, Codec.gzip)],
    ['raw snappy (no xerial framing)', rawBatch(snappyCompressRaw(plain), 2000, Codec.snappy)],
    ['xerial snappy with a second stream header', rawBatch(snappyTwoStreams, 2000, Codec.snappy)],
    ['zstd without a content size', rawBatch(await zstdStreamed(plain), 2000, Codec.zstd)],
    ['zstd bomb-like batch just under the limit', batchOf(bombRecord(MIN_DECOMPRESSED_LIMIT - 100), 1, Codec.zstd)],
    [
      'transaction marker (control batch: 4-byte key, 6-byte value)',
      rawBatch(rawRecord({ offsetDelta: 0, key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 7]) }), 1, 0x30),
    ],
  ];
  for (const engine of engines) {
    // Compacted, with a timestamp bound the records meet: the rules do not refuse good records.
    const log = await openLog(t, engine, { messageTimestampBeforeMaxMs: 3_600_000, messageTimestampAfterMaxMs: 3_600_000 });
    const compacted = await openLog(t, engine, { compacted: true });
    for (const [name, batch] of variants) {
      const before = log.logEndOffset;
      const count = batch.readInt32BE(57);
      const r = attempt(() => log.append(Buffer.from(batch), { now: T0 }));
      t.equal(r.code, null, `${engine.name} ${name}: accepted`);
      t.equal(log.logEndOffset, before + count, `${engine.name} ${name}: log end offset moves by the record count`);
      const follower = Buffer.from(batch);
      follower.writeBigInt64BE(BigInt(log.logEndOffset), 0);
      t.equal(attempt(() => log.appendAsFollower(follower)).code, null, `${engine.name} ${name}: accepted as follower`);
    }
    const marker = variants[variants.length - 1][1];
    t.equal(attempt(() => compacted.append(Buffer.from(marker), { now: T0 })).code, null, `${engine.name}: a marker on a compacted topic`);
  }
});

/** Damaged batches per codec (SPOOL_FUZZ_ROUNDS to run more locally). */
const ROUNDS = Number(process.env.SPOOL_FUZZ_ROUNDS ?? 250);

/** xorshift32, so the mutations are the same on every run. */
function prng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

t.test('randomly damaged batches with a fixed-up CRC get the same answer from both engines', async (t) => {
  const engines = await enginesUnderTest(t);
  if (engines.length < 2) {
    t.comment('native engine not available: nothing to compare');
    return;
  }
  const logs = await Promise.all(engines.map((e) => openLog(t, e)));
  const next = prng(Number(process.env.SPOOL_FUZZ_SEED ?? 0x5eed));
  const testRecords: TestRecord[] = Array.from({ length: 40 }, (_, i) => ({
    key: `k${i}`,
    value: Buffer.alloc(20 + (i % 13), 0x41 + (i % 26)),
    headers: i % 4 === 0 ? [{ key: 'h', value: 'v' }] : [],
    timestampDelta: i,
  }));
  let refused = 0;
  for (const codec of CODECS) {
    const good = buildBatch({ records: testRecords, baseTimestamp: T0, codec, compress });
    for (let round = 0; round < ROUNDS; round++) {
      const bad = Buffer.from(good);
      const flips = 1 + (next() % 3);
      for (let i = 0; i < flips; i++) {
        // Anywhere after the CRC: attributes, counts, timestamps, the payload.
        const at = 21 + (next() % (bad.length - 21));
        bad[at] = next() & 0xff;
      }
      fixCrc(bad);
      const answers = logs.map((log) => attempt(() => log.append(Buffer.from(bad), { now: T0 })).code);
      if (answers[0] !== null) refused++;
      t.equal(answers[1], answers[0], `${CODEC_NAMES[codec]} round ${round}: ${engines[1].name} answers like ${engines[0].name}`);
      t.equal(logs[1].logEndOffset, logs[0].logEndOffset, `${CODEC_NAMES[codec]} round ${round}: same log end offset`);
    }
  }
  t.ok(refused > ROUNDS, `most damage is caught (${refused} of ${CODECS.length * ROUNDS} refused)`);
});
