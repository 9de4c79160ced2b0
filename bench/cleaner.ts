// bench (compaction, issue 9 item 7): log cleaner throughput of each storage engine, side by side.
// For each codec (SPOOL_BENCH_CLEAN_CODECS, default "none,zstd") it builds SPOOL_BENCH_CLEAN_BYTES
// (default 100 MB) of batches whose records update SPOOL_BENCH_CLEAN_KEYS (default 10,000) keys in
// turn (100-byte values of random text, 100 records a batch), appends them to a fresh log of each
// engine (64 MiB segments), rolls, and times one PartitionLog.clean() round over the whole log
// (offset map of every key, then every segment rewritten keeping each key's latest record).
// Reported: MB/s of dirty log cleaned (log bytes before the round / wall time), CPU-s/GiB (process
// CPU time, all threads, per GiB of dirty log: steadier than MB/s on a busy machine), the bytes
// left, and the native/TS ratio of both. The segment files stay in the page cache (no fsync of
// the appends), so this measures the cleaner's CPU, plus the fsync of the cleaned segments.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Codec, defaultLogConfig, type LogConfig, type StorageEngine } from '../src/storage/engine.js';
import { loadNativeEngine } from '../src/storage/loader.js';
import { tsEngine } from '../src/storage/ts/index.js';
import { buildBatch, type TestRecord } from '../test/helpers/batches.js';

const TOTAL = Number(process.env.SPOOL_BENCH_CLEAN_BYTES ?? 100 * 1000 * 1000);
const KEYS = Number(process.env.SPOOL_BENCH_CLEAN_KEYS ?? 10_000);
const CODECS = (process.env.SPOOL_BENCH_CLEAN_CODECS ?? 'none,zstd').split(',').map((c) => c.trim()) as Array<keyof typeof Codec>;
const VALUE_BYTES = 100;
const PER_BATCH = 100;
const SEGMENT_BYTES = 64 * 1024 * 1024;
const MB = 1000 * 1000;
const GIB = 1024 * 1024 * 1024;

interface Result {
  engine: string;
  codec: string;
  dirtyBytes: number;
  keptBytes: number;
  recordsRead: number;
  recordsRetained: number;
  seconds: number;
  cpuSeconds: number;
}

function randomText(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = 0x61 + (x & 0x0f);
  }
  return out;
}

/** Batches of about TOTAL bytes; record i updates key i % KEYS. */
function makeBatches(codec: keyof typeof Codec): Buffer[] {
  const batches: Buffer[] = [];
  const compress = (c: number, data: Buffer): Buffer => tsEngine.compress(c as Codec, data);
  const baseTimestamp = Date.now();
  let bytes = 0;
  let i = 0;
  while (bytes < TOTAL) {
    const records: TestRecord[] = [];
    for (let r = 0; r < PER_BATCH; r++, i++) {
      records.push({ key: `key-${String(i % KEYS).padStart(8, '0')}`, value: randomText(VALUE_BYTES, i + 1), timestampDelta: r });
    }
    const batch = buildBatch({ records, baseTimestamp, codec: Codec[codec], compress });
    batches.push(batch);
    bytes += batch.length;
  }
  return batches;
}

function dirBytes(dir: string, suffix: string): number {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

async function run(name: string, engine: StorageEngine, codec: keyof typeof Codec, batches: Buffer[]): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `spool-bench-cleaner-${name}-`));
  try {
    const config: LogConfig = { ...defaultLogConfig, segmentBytes: SEGMENT_BYTES };
    const log = await engine.openLog(dir, config);
    for (const batch of batches) log.append(batch);
    log.roll();
    const dirtyBytes = dirBytes(dir, '.log');
    const endOffset = log.logEndOffset;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const result = await log.clean({
      firstDirtyOffset: 0,
      endOffset,
      now: Date.now(),
      deleteRetentionMs: 86_400_000,
      maxMapEntries: Math.max(KEYS * 2, 1_000_000),
      segmentBytes: SEGMENT_BYTES,
      ioMaxBytesPerSecond: Infinity,
      abortedTxns: [],
      producerLastOffsets: [],
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (result.abandoned) throw new Error(`${name}: the round was abandoned`);
    if (result.cleanedUpTo !== endOffset) throw new Error(`${name}: cleaned up to ${result.cleanedUpTo}, not ${endOffset}`);
    const keptBytes = dirBytes(dir, '.log');
    await log.close();
    return {
      engine: name,
      codec,
      dirtyBytes,
      keptBytes,
      recordsRead: result.recordsRead,
      recordsRetained: result.recordsRetained,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mbs = (r: Result) => r.dirtyBytes / MB / r.seconds;
const cpuPerGib = (r: Result) => r.cpuSeconds / (r.dirtyBytes / GIB);

async function main(): Promise<void> {
  const engines: Array<[string, StorageEngine]> = [['ts', tsEngine]];
  try {
    engines.unshift(['native', await loadNativeEngine()]);
  } catch (err) {
    console.error(`native engine not available: ${(err as Error).message}`);
  }
  console.log(`cleaner bench: ${(TOTAL / MB).toFixed(0)} MB dirty log, ${KEYS} keys, ${VALUE_BYTES}-byte values, ${PER_BATCH} records a batch`);
  const results: Result[] = [];
  for (const codec of CODECS) {
    if (!(codec in Codec)) throw new Error(`unknown codec ${codec}`);
    const batches = makeBatches(codec);
    for (const [name, engine] of engines) {
      const r = await run(name, engine, codec, batches);
      results.push(r);
      console.log(
        `${r.codec.padEnd(5)} ${r.engine.padEnd(7)} ${(r.dirtyBytes / MB).toFixed(1).padStart(7)} MB -> ${(r.keptBytes / MB).toFixed(2).padStart(6)} MB` +
          `  records ${r.recordsRead} -> ${r.recordsRetained}  ${r.seconds.toFixed(2)} s  ${mbs(r).toFixed(1).padStart(7)} MB/s` +
          `  ${cpuPerGib(r).toFixed(2).padStart(7)} CPU-s/GiB`,
      );
    }
    const native = results.find((r) => r.codec === codec && r.engine === 'native');
    const ts = results.find((r) => r.codec === codec && r.engine === 'ts');
    if (native && ts) {
      console.log(`${codec.padEnd(5)} native/ts: throughput x${(mbs(native) / mbs(ts)).toFixed(2)}, CPU per GiB x${(cpuPerGib(native) / cpuPerGib(ts)).toFixed(2)}`);
    }
  }
  console.log(JSON.stringify({ bench: 'cleaner', totalBytes: TOTAL, keys: KEYS, results }));
}

await main();
