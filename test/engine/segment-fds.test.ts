// storage room tests (issue 8): file descriptors of sealed segments, FileSlice leases, the
// spool.log.max.open.segment.files bound, offsets checked at recovery (a baseOffset is outside the
// CRC), and offset-for-timestamp off the event loop — against every engine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { Codec, LogConfig, PartitionLog, StorageEngine, defaultLogConfig, effectiveMaxOpenSegmentFiles, type FileSlice } from '../../src/storage/engine.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { enginesUnderTest, readSlice, removeDir, tempDir } from '../helpers/engines.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const SEGMENTS = 60;
// One ~1 KB batch per segment: every append after the first rolls.
const cfg: LogConfig = { ...defaultLogConfig, segmentBytes: 1000, indexIntervalBytes: 200 };

/** fds of this process whose target lies under `dir`. */
function fdsUnder(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${e}`).startsWith(dir + path.sep)) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}

function batchFor(i: number): Buffer {
  return buildBatch({ records: [{ key: `k${i}`, value: Buffer.alloc(1000, i & 0xff), timestampDelta: 0 }], baseTimestamp: T0 + i * 1000 });
}

async function fill(engine: StorageEngine, dir: string, config: LogConfig = cfg): Promise<PartitionLog> {
  const log = await engine.openLog(dir, config);
  for (let i = 0; i < SEGMENTS; i++) log.append(batchFor(i), { now: T0 });
  return log;
}

/** The one-record batch at `offset`, checked: its offset and its value's fill byte. */
function checkSlice(t: { fail(message: string): void }, slice: FileSlice, offset: number, bytes: Buffer): boolean {
  const batches = decodeBatches(bytes);
  const b = batches[0] as (typeof batches)[number] | undefined;
  const ok = b?.baseOffset === offset && b.records[0].value?.[0] === (offset & 0xff) && bytes.length === slice.length;
  if (!ok) t.fail(`offset ${offset}: wrong bytes through fd ${slice.fd} (${bytes.length} of ${slice.length})`);
  return ok;
}

function readAsync(slice: FileSlice): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.alloc(slice.length);
    fs.read(slice.fd, buf, 0, slice.length, slice.position, (err, n) => (err ? reject(err) : resolve(buf.subarray(0, n))));
  });
}

void t.test('sealed segments', async (t) => {
  const platformHasProc = fs.existsSync('/proc/self/fd');
  for (const engine of await enginesUnderTest(t)) {
    await t.test(`${engine.name}: at most one fd per sealed segment, none when idle`, async (t) => {
      if (!platformHasProc) {
        t.comment('no /proc/self/fd on this platform: nothing to count');
        return;
      }
      const dir = tempDir();
      try {
        const log = await fill(engine, dir);
        const sealed = log.segments().length - 1;
        t.equal(sealed, SEGMENTS - 1, 'one segment per batch');
        const live = fdsUnder(dir);
        t.comment(`${engine.name}: ${live} fds under the partition dir with ${sealed} sealed segments (before: ~3 per segment)`);
        t.ok(live <= 4, `${live} fds for ${sealed} sealed segments after the rolls: only the active segment's stay open`);
        // Reading every segment opens its .log; released slices let the handles go again.
        for (let o = 0; o < SEGMENTS; o++) {
          const slice = log.read(o, 1 << 20);
          checkSlice(t, slice, o, readSlice(slice));
          slice.release?.();
        }
        const afterReads = fdsUnder(dir);
        t.ok(afterReads <= sealed + 4, `${afterReads} fds after reading all ${sealed} sealed segments (<= 1 each)`);
        await log.close();
        t.equal(fdsUnder(dir), 0, 'close releases every fd');
        const reopened = await engine.openLog(dir, cfg);
        const restart = fdsUnder(dir);
        t.ok(restart <= 4, `${restart} fds after reopening ${sealed} sealed segments: none opened before a read`);
        t.equal(reopened.logEndOffset, SEGMENTS);
        await reopened.close();
      } finally {
        removeDir(dir);
      }
    });

    await t.test(`${engine.name}: the bound closes idle fds; leased ones stay valid`, async (t) => {
      const dir = tempDir();
      engine.setMaxOpenSegmentFiles(4);
      try {
        const log = await fill(engine, dir);
        // Idle reads: never more than the bound open at once.
        for (let o = 0; o < SEGMENTS - 1; o++) {
          const slice = log.read(o, 1 << 20);
          readSlice(slice);
          slice.release?.();
          if (engine.openSegmentFiles() > 4) {
            t.fail(`${engine.openSegmentFiles()} sealed-segment fds open after reading offset ${o}, bound 4`);
            break;
          }
        }
        t.ok(engine.openSegmentFiles() <= 4, `open sealed-segment fds within the bound (${engine.openSegmentFiles()})`);
        if (platformHasProc) t.ok(fdsUnder(dir) <= 4 + 3, `${fdsUnder(dir)} fds under the dir with bound 4`);

        // Leased slices: held past the bound while other segments are read (opened, closed, their
        // fd numbers reused); every read through a held fd returns that segment's bytes.
        const held: Array<{ offset: number; slice: FileSlice }> = [];
        for (let o = 0; o < SEGMENTS - 1; o += 6) held.push({ offset: o, slice: log.read(o, 1 << 20) });
        t.ok(engine.openSegmentFiles() >= held.length, 'leased fds are not closed by the bound');
        let wrong = 0;
        for (let round = 0; round < 3; round++) {
          const pending: Array<Promise<void>> = [];
          for (let o = 1; o < SEGMENTS - 1; o += 2) {
            const slice = log.read(o, 1 << 20);
            pending.push(
              readAsync(slice).then((bytes) => {
                if (!checkSlice(t, slice, o, bytes)) wrong++;
                slice.release?.();
              }),
            );
          }
          for (const h of held) {
            pending.push(
              readAsync(h.slice).then((bytes) => {
                if (!checkSlice(t, h.slice, h.offset, bytes)) wrong++;
              }),
            );
          }
          await Promise.all(pending);
        }
        t.equal(wrong, 0, 'no EBADF and no wrong bytes through leased fds while idle ones close');
        for (const h of held) {
          h.slice.release?.();
          h.slice.release?.(); // twice: harmless
        }
        const next = log.read(SEGMENTS - 2, 1 << 20);
        next.release?.();
        t.ok(engine.openSegmentFiles() <= 4, `released leases let the bound close them (${engine.openSegmentFiles()} open)`);
        await log.close();
      } finally {
        engine.setMaxOpenSegmentFiles(1024);
        removeDir(dir);
      }
    });
  }
});

/** Where fd `fd` points now, or null when it is closed. */
function fdTarget(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

// A lease never expires into a close: its fd number could be reused by another open() while a
// slow send still writes from it (another segment's, another topic's bytes). Past the expiry
// (max(file.delete.delay.ms, 10 s)) it is only a leak alarm. Both engines share one wait.
void t.test('a slice held past its lease expiry keeps its fd and its bytes', async (t) => {
  const engines = await enginesUnderTest(t);
  const platformHasProc = fs.existsSync('/proc/self/fd');
  const runs: Array<{ engine: StorageEngine; dir: string; log: PartitionLog; held: Array<{ offset: number; slice: FileSlice; target: string | null }>; expiredBefore: number }> = [];
  try {
    for (const engine of engines) {
      const dir = tempDir();
      engine.setMaxOpenSegmentFiles(3);
      // No delete delay: the lease expiry is its floor, 10 s.
      const log = await fill(engine, dir, { ...cfg, fileDeleteDelayMs: 0 });
      const expiredBefore = engine.segmentLeases().expired;
      const held = [5, 17, 29, 41].map((offset) => {
        const slice = log.read(offset, 1 << 20);
        return { offset, slice, target: platformHasProc ? fdTarget(slice.fd) : null };
      });
      t.ok(engine.segmentLeases().held >= held.length, `${engine.name}: the held slices count as live leases`);
      runs.push({ engine, dir, log, held, expiredBefore });
    }
    // The lease expiry is at least 10 s whatever file.delete.delay.ms says.
    await new Promise((resolve) => setTimeout(resolve, 10_300));
    for (const { engine, dir, log, held, expiredBefore } of runs) {
      // Churn: every other segment opened and closed again under a bound of 3, twice.
      let wrong = 0;
      for (let round = 0; round < 2; round++) {
        for (let o = 0; o < SEGMENTS - 1; o++) {
          if (held.some((h) => h.offset === o)) continue;
          const slice = log.read(o, 1 << 20);
          if (!checkSlice(t, slice, o, readSlice(slice))) wrong++;
          slice.release?.();
        }
      }
      t.equal(wrong, 0, `${engine.name}: the churn read the right bytes`);
      for (const h of held) {
        if (platformHasProc) t.equal(fdTarget(h.slice.fd), h.target, `${engine.name}: fd ${h.slice.fd} of offset ${h.offset} still open on its own segment`);
        t.ok(checkSlice(t, h.slice, h.offset, await readAsync(h.slice)), `${engine.name}: offset ${h.offset} read through its expired lease`);
      }
      t.ok(engine.segmentLeases().expired > expiredBefore, `${engine.name}: the leases held past expiry raised the leak alarm`);
      // A log closed (as a deleted topic's is) while a slice is held: the fd stays until released.
      const last = held[held.length - 1];
      for (const h of held.slice(0, -1)) h.slice.release?.();
      await log.close();
      t.ok(checkSlice(t, last.slice, last.offset, readSlice(last.slice)), `${engine.name}: a held slice survives its log's close`);
      if (platformHasProc) t.equal(fdsUnder(dir), 1, `${engine.name}: only the held slice's fd is open after the close`);
      last.slice.release?.();
      if (platformHasProc) t.equal(fdsUnder(dir), 0, `${engine.name}: the last release closes it`);
      t.equal(engine.segmentLeases().held, 0, `${engine.name}: no lease left`);
    }
  } finally {
    for (const r of runs) {
      r.engine.setMaxOpenSegmentFiles(1024);
      removeDir(r.dir);
    }
  }
});

void t.test('the bound never exceeds a quarter of the open-file limit', (t) => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            256                  4096                 files\n';
  t.equal(effectiveMaxOpenSegmentFiles(1024, limits), 64);
  t.equal(effectiveMaxOpenSegmentFiles(10, limits), 10);
  t.equal(effectiveMaxOpenSegmentFiles(0, ''), 1);
  t.end();
});

void t.test('recovery checks base offsets, which the CRC does not cover', async (t) => {
  for (const engine of await enginesUnderTest(t)) {
    // [byte of the 8-byte baseOffset, xor]: 2 -> 0 (goes back), negative, far past 32 bits.
    for (const [at, bit] of [
      [7, 0x02],
      [0, 0x80],
      [3, 0x80],
    ] as const) {
      await t.test(`${engine.name}: baseOffset byte ${at} ^ 0x${bit.toString(16)}`, async (t) => {
        const dir = tempDir();
        try {
          const log = await engine.openLog(dir, defaultLogConfig);
          const sizes: number[] = [];
          for (let i = 0; i < 3; i++) {
            const b = buildBatch({ records: [0, 1].map((j) => ({ key: `k${i}`, value: `v${i}.${j}`, timestampDelta: j })), baseTimestamp: T0 });
            sizes.push(b.length);
            log.append(b, { now: T0 });
          }
          await log.close();
          const file = path.join(dir, `${'0'.padStart(20, '0')}.log`);
          const bytes = fs.readFileSync(file);
          bytes[sizes[0] + at] ^= bit;
          fs.writeFileSync(file, bytes);

          const recovered = await engine.openLog(dir, defaultLogConfig, { recoveryPoint: 0 });
          t.equal(recovered.logEndOffset, 2, 'cut before the batch whose offsets are wrong');
          t.equal(recovered.recoveredBytesTruncated, sizes[1] + sizes[2], 'that batch and the ones after it are dropped');
          t.equal(fs.statSync(file).size, sizes[0]);
          await recovered.close();
        } finally {
          removeDir(dir);
        }
      });
    }
  }
});

void t.test('offsetForTimestampAsync answers as offsetForTimestamp', async (t) => {
  for (const engine of await enginesUnderTest(t)) {
    await t.test(engine.name, async (t) => {
      const dir = tempDir();
      try {
        const log = await engine.openLog(dir, { ...defaultLogConfig, segmentBytes: 4096 });
        // Compressed batches of 500 records: each lookup decompresses the batch it lands in.
        const compress = (codec: number, data: Buffer): Buffer => engine.compress(codec as Codec, data);
        for (let i = 0; i < 40; i++) {
          const records = Array.from({ length: 500 }, (_, j) => ({ key: `k${i}.${j}`, value: Buffer.alloc(200, j & 0xff), timestampDelta: j }));
          log.append(buildBatch({ records, baseTimestamp: T0 + i * 1000, codec: Codec.gzip, compress }), { now: T0 });
        }
        t.ok(log.segments().length > 1, 'several segments');
        for (const ts of [T0 - 1, T0, T0 + 250, T0 + 17 * 1000 + 499, T0 + 39 * 1000 + 499, T0 + 40 * 1000]) {
          const got = await log.offsetForTimestampAsync(ts);
          t.same(got, log.offsetForTimestamp(ts), `timestamp ${ts - T0}`);
        }
        t.same(await log.offsetForTimestampAsync(T0 + 17 * 1000 + 499), { timestamp: T0 + 17 * 1000 + 499, offset: 17 * 500 + 499 });
        t.equal(await log.offsetForTimestampAsync(T0 + 40 * 1000), null);
        await log.close();
      } finally {
        removeDir(dir);
      }
    });
  }
});
