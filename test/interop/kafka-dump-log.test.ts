// test/interop room: Apache Kafka's own kafka-dump-log (org.apache.kafka.tools.DumpLogSegments, from the
// Maven jars) reads segments written by both storage engines: every batch and record with the
// right offsets and counts, every codec decoded, and the .index/.timeindex files consistent
// with the .log (no "Mismatches", no out-of-order timestamps).
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Codec, defaultLogConfig, type StorageEngine } from '../../src/storage/engine.js';
import { loadEngine } from '../../src/storage/loader.js';
import type { StorageLogger } from '../../src/storage/logger.js';
import { buildBatch, type TestHeader } from '../helpers/batches.js';
import { removeDir, requireToolchain, tempDir } from './common.js';
import { dumpLogSegments, kafkaToolsAvailable } from './kafka-tools.js';

const ready = await kafkaToolsAvailable();
const BATCHES = 240;
const CODEC_CYCLE: Codec[] = [Codec.none, Codec.gzip, Codec.snappy, Codec.lz4, Codec.zstd];
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
// Recent timestamps: older ones would make segment.ms (7 days) roll a segment on every append.
const BASE_TS = Date.now() - 60_000;
const LOG_CONFIG = { ...defaultLogConfig, segmentBytes: 48 * 1024, indexIntervalBytes: 1024 };
const silent: StorageLogger = { warn: () => undefined };

interface Expected {
  batches: Array<{ baseOffset: number; lastOffset: number; count: number; codec: string }>;
  /** key and payload text DumpLogSegments prints for each offset (undefined = absent, i.e. null). */
  records: Array<{ key: string | undefined; payload: string | undefined; headerKeys: string }>;
}

interface BatchRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: TestHeader[];
  /** Absolute CreateTime; batchOf turns it into the delta from the batch's first record. */
  timestamp: number;
}

function recordFor(offset: number): BatchRecord {
  const headers: TestHeader[] = [];
  if (offset % 3 >= 1) headers.push({ key: 'h-offset', value: Buffer.from(String(offset)) });
  if (offset % 3 === 2) headers.push({ key: 'h-null', value: null });
  return {
    key: offset % 5 === 0 ? null : Buffer.from(`key-${offset}`),
    value: offset % 7 === 3 ? null : Buffer.from(`value-${offset}-${'0123456789'.repeat(offset % 17)}`),
    headers,
    timestamp: BASE_TS + offset * 3,
  };
}

/** One v2 batch at baseOffset 0 (the log assigns the real offset), compressed by `engine`. */
function batchOf(engine: StorageEngine, records: BatchRecord[], codec: Codec): Buffer {
  const baseTimestamp = records[0].timestamp;
  return buildBatch({
    records: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestampDelta: r.timestamp - baseTimestamp })),
    baseTimestamp,
    codec,
    compress: (c, data) => engine.compress(c as Codec, data),
  });
}

/**
 * Appends BATCHES batches (sometimes several per append call) and closes the log. Batches are
 * compressed by `builder` (the engine under test unless told otherwise).
 */
async function writeLog(engine: StorageEngine, dir: string, builder: StorageEngine = engine): Promise<Expected> {
  const log = await engine.openLog(dir, LOG_CONFIG);
  const expected: Expected = { batches: [], records: [] };
  let next = 0;
  let pending: Buffer[] = [];
  for (let j = 0; j < BATCHES; j++) {
    const count = 1 + ((j * 7) % 40);
    const codec = CODEC_CYCLE[j % CODEC_CYCLE.length];
    const records: BatchRecord[] = [];
    for (let k = 0; k < count; k++) {
      const r = recordFor(next + k);
      records.push(r);
      expected.records.push({
        key: r.key?.toString(),
        payload: r.value?.toString(),
        headerKeys: `[${r.headers.map((h) => h.key).join(',')}]`,
      });
    }
    pending.push(batchOf(builder, records, codec));
    expected.batches.push({ baseOffset: next, lastOffset: next + count - 1, count, codec: CODEC_NAMES[codec] });
    next += count;
    // Every third append carries three batches at once, like a multi-batch produce.
    if (j % 3 !== 0 || pending.length === 3) {
      log.append(Buffer.concat(pending));
      pending = [];
    }
  }
  if (pending.length > 0) log.append(Buffer.concat(pending));
  await log.close();
  return expected;
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d{20}\.(log|index|timeindex)$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

for (const kind of ['ts', 'native'] as const) {
  t.test(`kafka-dump-log reads segments written by the ${kind} engine`, async (t) => {
    if (!requireToolchain(t, ready, 'Kafka jars (.cache/kafka-jars) or java are missing')) return;
    let engine: StorageEngine;
    try {
      engine = await loadEngine(kind, silent);
    } catch (e) {
      if (!requireToolchain(t, false, `the ${kind} storage engine does not load: ${String(e)}`)) return;
      return;
    }
    const root = tempDir(`dump-log-${kind}`);
    t.teardown(() => removeDir(root));
    const dir = join(root, 'dump-0');
    const expected = await writeLog(engine, dir);
    const files = segmentFiles(dir);
    const logs = files.filter((f) => f.endsWith('.log'));
    t.ok(logs.length >= 2, `the log rolled into several segments (${logs.length})`);

    const out = await dumpLogSegments(files);
    const lines = out.split('\n');

    const batches = lines
      .map((l) => /^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .* compresscodec: (\w+) crc: \d+ isvalid: (\w+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    t.same(
      batches.map((m) => ({ baseOffset: Number(m[1]), lastOffset: Number(m[2]), count: Number(m[3]), codec: m[4] })),
      expected.batches,
      `every batch is listed with its offsets, record count and codec (${expected.batches.length} batches)`,
    );
    t.same(batches.filter((m) => m[5] !== 'true').map((m) => m[0]), [], 'every batch has isvalid: true (CRC-32C checks)');

    const records = lines
      .map((l) => /^\| offset: (\d+) CreateTime: (\d+) keySize: (-?\d+) valueSize: (-?\d+) sequence: -?\d+ headerKeys: (\[[^\]]*\])(?: key: (.*?))?(?: payload: (.*))?$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    t.equal(records.length, expected.records.length, `deep iteration decodes every record (${expected.records.length})`);
    const problems: string[] = [];
    records.forEach((m, i) => {
      const want = expected.records[i];
      const got = { offset: Number(m[1]), ts: Number(m[2]), key: m[6], payload: m[7], headerKeys: m[5] };
      const wantAll = { offset: i, ts: BASE_TS + i * 3, key: want.key, payload: want.payload, headerKeys: want.headerKeys };
      if (problems.length < 10 && JSON.stringify(got) !== JSON.stringify(wantAll)) {
        problems.push(`got ${JSON.stringify(got).slice(0, 200)}, want ${JSON.stringify(wantAll).slice(0, 200)}`);
      }
    });
    t.same(problems, [], 'each record has its offset, CreateTime, key, payload and header keys');

    const complaints = lines.filter((l) => /mismatch|out of order|not found in the log|corrupt|exception|error|invalid/i.test(l));
    t.same(complaints.slice(0, 10), [], 'no index/time-index mismatch or corruption reported');

    const indexEntries = lines.filter((l) => /^offset: \d+ position: \d+$/.test(l)).length;
    const timeEntries = lines.filter((l) => /^timestamp: \d+ offset: \d+$/.test(l)).length;
    t.ok(indexEntries > 0, `the offset indexes have entries (${indexEntries})`);
    t.ok(timeEntries > 0, `the time indexes have entries (${timeEntries})`);
    t.equal(
      lines.filter((l) => l.startsWith('Dumping ')).length,
      files.length,
      `the tool dumped all ${files.length} files`,
    );
  });
}

t.test('kafka-dump-log does report a damaged index (so its silence above means something)', async (t) => {
  if (!requireToolchain(t, ready, 'Kafka jars (.cache/kafka-jars) or java are missing')) return;
  const engine = await loadEngine('ts', silent);
  const root = tempDir('dump-log-damaged');
  t.teardown(() => removeDir(root));
  const dir = join(root, 'damaged-0');
  await writeLog(engine, dir);
  const index = segmentFiles(dir).find((f) => f.endsWith('.index') && readFileSync(f).length >= 16);
  if (index === undefined) {
    t.fail('no segment has two index entries to damage');
    return;
  }
  // Point the second entry at the first batch: its offset no longer matches the log there.
  const bytes = readFileSync(index);
  bytes.writeInt32BE(0, 12);
  writeFileSync(index, bytes);
  const out = await dumpLogSegments([index.replace(/\.index$/, '.log'), index]);
  t.match(out, /Mismatches in :/, 'the tool reports the index/log mismatch');
});

t.test('both engines write byte-identical segment files for the same batches', async (t) => {
  let ts: StorageEngine;
  let native: StorageEngine;
  try {
    ts = await loadEngine('ts', silent);
    native = await loadEngine('native', silent);
  } catch (e) {
    if (!requireToolchain(t, false, `a storage engine does not load: ${String(e)}`)) return;
    return;
  }
  const root = tempDir('dump-log-identical');
  t.teardown(() => removeDir(root));
  // The same input bytes for both (compressed by the TS engine): codecs may differ, files may not.
  await writeLog(ts, join(root, 'ts-0'), ts);
  await writeLog(native, join(root, 'native-0'), ts);
  const read = (dir: string) => new Map(segmentFiles(dir).map((f) => [f.slice(dir.length + 1), readFileSync(f)]));
  const a = read(join(root, 'ts-0'));
  const b = read(join(root, 'native-0'));
  t.same([...b.keys()], [...a.keys()], 'same file names');
  const different = [...a].filter(([name, bytes]) => !b.get(name)?.equals(bytes)).map(([name]) => name);
  t.same(different, [], 'every .log, .index and .timeindex file has the same bytes');
});
