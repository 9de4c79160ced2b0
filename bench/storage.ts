// bench (storage room): append and read throughput of each storage engine.
// For each engine and batch size (16 KiB, 1 MiB; 1 KiB records) it appends SPOOL_BENCH_BYTES
// (default 1 GiB) of pre-built batches — one batch per append call, the same Buffer re-used, CRC
// validated every time — then reads everything back through read() + fs.readSync of the slices.
// Writes stay in the page cache (no fsync), so this measures engine CPU, not the disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LogConfig, StorageEngine, defaultLogConfig } from '../src/storage/engine.js';
import { loadNativeEngine } from '../src/storage/loader.js';
import { tsEngine } from '../src/storage/ts/index.js';
import { buildBatch, TestRecord } from '../test/helpers/batches.js';

const RECORD_VALUE = 1000; // ~1 KiB per record once key, varints and header are added
const TOTAL = Number(process.env.SPOOL_BENCH_BYTES ?? 1024 * 1024 * 1024);
const READ_MAX_BYTES = 1024 * 1024;

interface Result {
  engine: string;
  /** The size asked for; batchBytes is what whole 1 KiB records made of it. */
  targetBytes: number;
  batchBytes: number;
  appendMBs: number;
  readMBs: number;
}

function makeBatch(targetBytes: number): Buffer {
  const perRecord = RECORD_VALUE + 24;
  const n = Math.max(1, Math.floor((targetBytes - 61) / perRecord));
  const records: TestRecord[] = Array.from({ length: n }, (_, i) => ({
    key: `key-${i.toString().padStart(6, '0')}`,
    value: Buffer.alloc(RECORD_VALUE, i & 0xff),
    timestampDelta: i,
  }));
  return buildBatch({ records, baseTimestamp: Date.now() });
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

async function runOne(engine: StorageEngine, batchBytes: number): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `spool-bench-${engine.name}-`));
  try {
    const config: LogConfig = { ...defaultLogConfig, maxMessageBytes: 2 * 1024 * 1024 };
    const log = await engine.openLog(dir, config);
    const batch = makeBatch(batchBytes);
    const count = Math.max(1, Math.floor(TOTAL / batch.length));

    const appendStart = process.hrtime.bigint();
    for (let i = 0; i < count; i++) log.append(batch);
    const appendNs = Number(process.hrtime.bigint() - appendStart);
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
      targetBytes: batchBytes,
      batchBytes: batch.length,
      appendMBs: written / 1e6 / (appendNs / 1e9),
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
  for (const batchBytes of [16 * 1024, 1024 * 1024]) {
    for (const engine of engines) {
      const r = await runOne(engine, batchBytes);
      results.push(r);
      console.log(
        `${r.engine.padEnd(6)} batch ${String(r.batchBytes).padStart(8)} B  append ${r.appendMBs.toFixed(0).padStart(6)} MB/s  read ${r.readMBs.toFixed(0).padStart(6)} MB/s`,
      );
    }
    const native = results.find((r) => r.engine === 'native' && r.targetBytes === batchBytes);
    const ts = results.find((r) => r.engine === 'ts' && r.targetBytes === batchBytes);
    if (native && ts) {
      console.log(
        `native/ts at ${batchBytes / 1024} KiB batches: append ×${(native.appendMBs / ts.appendMBs).toFixed(2)}, read ×${(native.readMBs / ts.readMBs).toFixed(2)}`,
      );
    }
  }
}

await main();
