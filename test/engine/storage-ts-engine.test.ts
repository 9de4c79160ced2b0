// storage room tests: pieces specific to the TS engine — CRC-32C against known vectors and a
// bitwise reference, the test batch builder, and that concurrent flushes share fsyncs.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import t, { Test } from 'tap';
import { defaultLogConfig } from '../../src/storage/engine.js';
import { crc32c } from '../../src/storage/ts/crc32c.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch, decodeBatches, simpleBatches } from '../helpers/batches.js';
import { removeDir, tempDir } from '../helpers/engines.js';

const require = createRequire(import.meta.url);

function crc32cBitwise(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

t.test('crc32c matches the RFC 3720 vectors and a bitwise reference on every alignment', async (t) => {
  t.equal(crc32c(Buffer.alloc(0)), 0);
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  const noise = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 2654435761) >>> 24));
  for (let start = 0; start < 9; start++) {
    for (const end of [start, start + 1, start + 7, start + 8, start + 9, 150, 299, 300]) {
      t.equal(crc32c(noise, start, end), crc32cBitwise(noise.subarray(start, end)), `[${start}, ${end})`);
    }
  }
  for (let shift = 0; shift < 4; shift++) {
    // Views at every byte offset of their ArrayBuffer, for the aligned word loop.
    const view = noise.subarray(shift);
    t.equal(crc32c(view), crc32cBitwise(view), `view at byteOffset +${shift}`);
  }
  t.throws(() => crc32c(noise, 10, 301), RangeError);
});

t.test('the test batch builder and decoder agree with each other', async (t) => {
  const b = buildBatch({
    records: [
      { key: 'a', value: 'x'.repeat(200), headers: [{ key: 'h1', value: null }], timestampDelta: 3 },
      { key: null, value: 'y', timestampDelta: 1_000_000_000_000 },
    ],
    baseTimestamp: 5,
    producerId: 2 ** 40,
    producerEpoch: 3,
    baseSequence: 9,
    transactional: true,
  });
  const [d] = decodeBatches(b);
  t.ok(d.crcValid);
  t.match(d, { lastOffset: 1, producerId: 2 ** 40, producerEpoch: 3, baseSequence: 9, maxTimestamp: 1_000_000_000_005, attributes: 0x10 });
  t.same(d.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.length]), [
    [0, 8, 'a', 200],
    [1, 1_000_000_000_005, null, 1],
  ]);
  t.same(d.records[0].headers, [{ key: 'h1', value: null }]);
});

/** Makes every fs.fsync take 20 ms longer and counts the calls, for this test only. */
function slowFsync(t: Test): { calls: number } {
  const fs = require('node:fs') as typeof import('node:fs');
  const original = fs.fsync;
  const counter = { calls: 0 };
  fs.fsync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    counter.calls++;
    setTimeout(() => original(fd, cb), 20);
  }) as typeof fs.fsync;
  syncBuiltinESMExports();
  t.teardown(() => {
    fs.fsync = original;
    syncBuiltinESMExports();
  });
  return counter;
}

t.test('concurrent flush() calls share fsyncs (group commit)', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const counter = slowFsync(t);
  const log = await tsEngine.openLog(dir, defaultLogConfig);
  log.append(simpleBatches(5, 2, Date.now()));
  const first = log.flush();
  const rest: Array<Promise<void>> = [];
  for (let i = 0; i < 50; i++) {
    log.append(simpleBatches(1, 1, Date.now()));
    rest.push(log.flush());
  }
  await Promise.all([first, ...rest]);
  // One round for the first caller and one shared by the fifty that came during it; each round
  // syncs the .log and both index files (plus the directory once, for the new segment).
  t.ok(counter.calls > 0, 'fsync was called');
  t.ok(counter.calls <= 8, `51 flushes cost ${counter.calls} fsyncs, not 51 rounds`);
  counter.calls = 0;
  await log.flush();
  t.ok(counter.calls >= 1 && counter.calls <= 4, 'a lone flush still syncs');
  await log.close();
});

t.test('rolling or deleting segments while an fsync runs does not fail the flush', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  slowFsync(t);
  const log = await tsEngine.openLog(dir, defaultLogConfig);
  const now = Date.now();
  log.append(simpleBatches(3, 2, now));
  const during = log.flush();
  log.roll();
  log.append(simpleBatches(1, 2, now));
  const next = log.flush();
  log.roll();
  log.append(simpleBatches(1, 2, now));
  t.equal(log.deleteSegmentsBefore(8), 2, 'both rolled segments deleted mid-flush');
  await t.resolves(during, 'the flush that was running');
  await t.resolves(next, 'the flush queued behind it');
  await t.resolves(log.flush(), 'a later flush');
  t.equal(log.logEndOffset, 10);
  await log.close();
});
