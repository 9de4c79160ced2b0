// bench (storage room): append and read throughput of each storage engine.
// For each engine and batch size (16 KiB, 1 MiB; 1 KiB records) it appends SPOOL_BENCH_BYTES
// (default 1 GiB) of pre-built batches — one batch per append call, the same Buffer re-used, CRC
// and records validated every time — then reads everything back through read() + fs.readSync of
// the slices. Writes stay in the page cache (no fsync), so this measures engine CPU, not the disk.
// SPOOL_BENCH_CODECS (default "none"; "all" or a list like "gzip,zstd") adds compressed batches,
// whose record values are random text (about 2:1) instead of repeated bytes; MB/s counts batch
// bytes as sent, "rec MB/s" the records decompressed, "cpu" the process CPU time per wall time and
// "MB/cpu-s" the batch bytes appended per second of process CPU (steadier on a busy machine).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Codec, LogConfig, StorageEngine, defaultLogConfig } from '../src/storage/engine.js';
import { loadNativeEngine } from '../src/storage/loader.js';
import { tsEngine } from '../src/storage/ts/index.js';
import { buildBatch, TestRecord } from '../test/helpers/batches.js';

const RECORD_VALUE = 1000; // ~1 KiB per record once key, varints and header are added
const TOTAL = Number(process.env.SPOOL_BENCH_BYTES ?? 1024 * 1024 * 1024);
const READ_MAX_BYTES = 1024 * 1024;

const CODECS = Object.keys(Codec) as Array<keyof typeof Codec>;
const codecsAsked = (process.env.SPOOL_BENCH_CODECS ?? 'none').split(',').map((c) => c.trim());
const BENCH_CODECS = codecsAsked.includes('all') ? CODECS : CODECS.filter((c) => codecsAsked.includes(c));

interface Result {
  engine: string;
  codec: keyof typeof Codec;
  /** The size asked for; batchBytes is what whole 1 KiB records made of it. */
  targetBytes: number;
  batchBytes: number;
  /** Uncompressed size of the batch's records. */
  recordBytes: number;
  appendMBs: number;
  /** Process CPU time over wall time during the appends (1.0 = one core busy). */
  appendCpu: number;
  /** Batch bytes appended per second of process CPU time. */
  appendMBPerCpuSecond: number;
  readMBs: number;
}

/** Deterministic lowercase text: 4 bits of entropy a byte, so codecs reach about 2:1. */
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

function makeBatch(targetBytes: number, codec: keyof typeof Codec): { batch: Buffer; recordBytes: number } {
  const perRecord = RECORD_VALUE + 24;
  const n = Math.max(1, Math.floor((targetBytes - 61) / perRecord));
  const records: TestRecord[] = Array.from({ length: n }, (_, i) => ({
    key: `key-${i.toString().padStart(6, '0')}`,
    value: codec === 'none' ? Buffer.alloc(RECORD_VALUE, i & 0xff) : randomText(RECORD_VALUE, i + 1),
    timestampDelta: i,
  }));
  const plain = buildBatch({ records, baseTimestamp: Date.now() });
  const recordBytes = plain.length - 61;
  if (codec === 'none') return { batch: plain, recordBytes };
  const compress = (c: number, data: Buffer): Buffer => tsEngine.compress(c as Codec, data);
  return { batch: buildBatch({ records, baseTimestamp: Date.now(), codec: Codec[codec], compress }), recordBytes };
}

/** lastOffset of the last batch in `buf` (a slice holds whole batches only). */
function lastOffsetIn(buf: Buffer, length: number): number {
  let pos = 0;
  let last = -1;
  while (pos + 61 <= length) {
    last = Number(buf.readBigInt64BE(pos)) + buf.readInt32BE(pos + 23);
    pos += buf.readInt32BE(pos + 8) + 12;
  }
  return last;
}

async function runOne(engine: StorageEngine, batchBytes: number, codec: keyof typeof Codec): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `spool-bench-${engine.name}-`));
  try {
    const config: LogConfig = { ...defaultLogConfig, maxMessageBytes: 2 * 1024 * 1024 };
    const log = await engine.openLog(dir, config);
    const { batch, recordBytes } = makeBatch(batchBytes, codec);
    const count = Math.max(1, Math.floor(TOTAL / batch.length));

    const cpuStart = process.cpuUsage();
    const appendStart = process.hrtime.bigint();
    for (let i = 0; i < count; i++) log.append(batch);
    const appendNs = Number(process.hrtime.bigint() - appendStart);
    const cpu = process.cpuUsage(cpuStart);
    const written = count * batch.length;

    const readBuf = Buffer.allocUnsafe(Math.max(READ_MAX_BYTES, batch.length));
    let offset = log.logStartOffset;
    let read = 0;
    const readStart = process.hrtime.bigint();
    for (let guard = 0; guard < count + 1 && offset < log.logEndOffset; guard++) {
      const slice = log.read(offset, READ_MAX_BYTES);
      let done = 0;
      while (done < slice.length) {
        const n = fs.readSync(slice.fd, readBuf, done, slice.length - done, slice.position + done);
        if (n === 0) throw new Error(`short read at offset ${offset}`);
        done += n;
      }
      read += slice.length;
      offset = lastOffsetIn(readBuf, slice.length) + 1;
    }
    const readNs = Number(process.hrtime.bigint() - readStart);
    if (read !== written) throw new Error(`${engine.name}: read ${read} bytes back, wrote ${written}`);
    await log.close();
    return {
      engine: engine.name,
      codec,
      targetBytes: batchBytes,
      batchBytes: batch.length,
      recordBytes,
      appendMBs: written / 1e6 / (appendNs / 1e9),
      appendCpu: (cpu.user + cpu.system) / 1e3 / (appendNs / 1e6),
      appendMBPerCpuSecond: written / 1e6 / ((cpu.user + cpu.system) / 1e6),
      readMBs: read / 1e6 / (readNs / 1e9),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const engines: StorageEngine[] = [tsEngine];
  try {
    engines.unshift(await loadNativeEngine());
  } catch (err) {
    console.log(`native engine not available (${(err as Error).message.split('\n')[0]}); ts only`);
  }
  console.log(`storage bench: ${(TOTAL / 1024 / 1024).toFixed(0)} MiB per run, tmp ${os.tmpdir()}`);
  const results: Result[] = [];
  for (const codec of BENCH_CODECS) {
    for (const batchBytes of [16 * 1024, 1024 * 1024]) {
      for (const engine of engines) {
        const r = await runOne(engine, batchBytes, codec);
        results.push(r);
        const recMBs = (r.appendMBs * r.recordBytes) / (r.batchBytes - 61);
        console.log(
          `${r.engine.padEnd(6)} ${r.codec.padEnd(6)} batch ${String(r.batchBytes).padStart(8)} B  append ${r.appendMBs.toFixed(0).padStart(6)} MB/s` +
            ` (rec ${recMBs.toFixed(0).padStart(6)} MB/s, cpu ${r.appendCpu.toFixed(2)}, ${r.appendMBPerCpuSecond.toFixed(0).padStart(6)} MB/cpu-s)` +
            `  read ${r.readMBs.toFixed(0).padStart(6)} MB/s`,
        );
      }
      const native = results.find((r) => r.engine === 'native' && r.codec === codec && r.targetBytes === batchBytes);
      const ts = results.find((r) => r.engine === 'ts' && r.codec === codec && r.targetBytes === batchBytes);
      if (native && ts) {
        console.log(
          `native/ts ${codec} at ${batchBytes / 1024} KiB batches: append ×${(native.appendMBs / ts.appendMBs).toFixed(2)}, read ×${(native.readMBs / ts.readMBs).toFixed(2)}`,
        );
      }
    }
  }
}

await main();
