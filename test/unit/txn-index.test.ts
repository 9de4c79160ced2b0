// log/ room tests: the aborted-transaction index (`.txnindex`), Kafka's TransactionIndex — exact
// entry bytes, Kafka's increasing-lastOffset rule with replays ignored, truncation, the
// collectAbortedTxns search (isComplete), a torn tail — and Log keeping one index per segment in
// step with appends, truncation, retention, reopen and close, on both storage engines.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import {
  ABORTED_TXN_SIZE,
  Log,
  TransactionIndex,
  decodeAbortedTxn,
  encodeAbortedTxn,
  toLogConfig,
  txnIndexFileName,
  type AbortedTxn,
} from '../../src/log/index.js';
import type { PartitionLog, StorageEngine } from '../../src/storage/engine.js';
import { simpleBatches } from '../helpers/batches.js';
import { enginesUnderTest, removeDir, tempDir } from '../helpers/engines.js';

const engines = await enginesUnderTest(t);

function txn(producerId: number, firstOffset: number, lastOffset: number, lastStableOffset = lastOffset + 1): AbortedTxn {
  return { producerId, firstOffset, lastOffset, lastStableOffset };
}

function scratch(t: { teardown(fn: () => unknown): void }): string {
  const dir = tempDir('spool-txnindex-');
  t.teardown(() => removeDir(dir));
  return dir;
}

t.test('an entry is 34 bytes: int16 version 0, then producerId, firstOffset, lastOffset, lastStableOffset as int64 big-endian', async (t) => {
  const bytes = encodeAbortedTxn(txn(0x0102030405, 0x1122, 2 ** 40 + 7, 0x33445566778));
  t.equal(bytes.length, ABORTED_TXN_SIZE);
  t.equal(
    bytes.toString('hex'),
    '0000' + '0000000102030405' + '0000000000001122' + '0000010000000007' + '0000033445566778',
    'exact bytes',
  );
  t.same(decodeAbortedTxn(bytes), txn(0x0102030405, 0x1122, 2 ** 40 + 7, 0x33445566778));
  t.equal(txnIndexFileName(42), '00000000000000000042.txnindex');
  t.throws(() => encodeAbortedTxn(txn(1.5, 0, 1)), /integers/, 'a non-integer field is a bug');
});

t.test('the file is created by the first append only, and appends are Kafka-ordered with replays ignored', async (t) => {
  const dir = scratch(t);
  const path = join(dir, txnIndexFileName(0));
  const index = new TransactionIndex(0, path);
  t.same(index.allAbortedTxns(), [], 'no file: no entries');
  t.same(index.collect(0, 100), { abortedTransactions: [], isComplete: false });
  index.truncateTo(0);
  t.notOk(existsSync(path), 'reads and truncation do not create the file');

  t.equal(index.append(txn(7, 0, 5)), true);
  t.equal(index.append(txn(8, 3, 9, 4)), true);
  t.equal(index.lastOffset(), 9);
  t.equal(index.append(txn(7, 0, 5)), false, 'a replayed entry (lower lastOffset) is ignored');
  t.equal(index.append(txn(9, 9, 9)), false, 'an entry with the same lastOffset is ignored');
  t.equal(readFileSync(path).length, 2 * ABORTED_TXN_SIZE, 'ignored entries wrote nothing');
  t.same(readFileSync(path), Buffer.concat([encodeAbortedTxn(txn(7, 0, 5)), encodeAbortedTxn(txn(8, 3, 9, 4))]));
  await index.flush();
  index.close();

  const again = new TransactionIndex(0, path);
  t.same(again.allAbortedTxns(), [txn(7, 0, 5), txn(8, 3, 9, 4)], 'read back after reopen');
  t.equal(again.append(txn(8, 3, 9, 4)), false, 'the last lastOffset is known after reopen');
  t.equal(again.append(txn(10, 10, 12)), true);
  t.equal(again.entryCount(), 3);
  t.ok(again.delete(), 'deleted');
  t.notOk(existsSync(path));
  t.ok(again.delete(), 'deleting a missing file is fine');
});

t.test('truncateTo drops the entries whose lastOffset >= offset', async (t) => {
  const dir = scratch(t);
  const path = join(dir, txnIndexFileName(100));
  const index = new TransactionIndex(100, path);
  for (const e of [txn(1, 100, 102), txn(2, 101, 105), txn(3, 104, 110), txn(4, 111, 115)]) index.append(e);
  index.truncateTo(116);
  t.equal(index.entryCount(), 4, 'nothing at or past 116');
  index.truncateTo(110);
  t.same(index.allAbortedTxns(), [txn(1, 100, 102), txn(2, 101, 105)], 'lastOffset 110 and 115 dropped');
  t.equal(statSync(path).size, 2 * ABORTED_TXN_SIZE, 'the file is cut');
  t.equal(index.lastOffset(), 105);
  t.equal(index.append(txn(5, 106, 107)), true, 'appends continue after the new last entry');
  index.truncateTo(0);
  t.equal(statSync(path).size, 0, 'truncating below every entry leaves an empty file');
  t.equal(index.lastOffset(), null);
  t.equal(index.append(txn(6, 100, 101)), true, 'an empty index takes any entry');
  index.close();
});

t.test('collect: entries overlapping [fetchOffset, upperBound), stopping at lastStableOffset >= upperBound', async (t) => {
  const dir = scratch(t);
  const index = new TransactionIndex(0, join(dir, txnIndexFileName(0)));
  const a = txn(1, 0, 10, 2); // LSO 2: another transaction was still open
  const b = txn(2, 2, 20, 21);
  const c = txn(3, 25, 30, 31);
  const d = txn(4, 31, 40, 41);
  for (const e of [a, b, c, d]) index.append(e);
  t.same(index.collect(0, 100), { abortedTransactions: [a, b, c, d], isComplete: false });
  t.same(index.collect(11, 25), { abortedTransactions: [b], isComplete: true }, 'c starts at the upper bound: excluded, but its LSO 31 >= 25 completes the search');
  t.same(index.collect(11, 24), { abortedTransactions: [b], isComplete: true }, 'the same below c');
  t.same(index.collect(41, 42), { abortedTransactions: [], isComplete: false }, 'no LSO reaches 42: not complete');
  t.same(index.collect(11, 21), { abortedTransactions: [b], isComplete: true }, 'b has LSO 21 >= 21: complete, c and d not looked at');
  t.same(index.collect(15, 30), { abortedTransactions: [b, c], isComplete: true }, 'c: LSO 31 >= 30');
  t.same(index.collect(41, 50), { abortedTransactions: [], isComplete: false }, 'everything before the fetch');
  t.same(index.collect(0, 1), { abortedTransactions: [a], isComplete: true }, 'a has LSO 2 >= 1');
  index.close();
});

t.test('a torn trailing partial entry is dropped at open', async (t) => {
  const dir = scratch(t);
  const path = join(dir, txnIndexFileName(0));
  const whole = Buffer.concat([encodeAbortedTxn(txn(1, 0, 3)), encodeAbortedTxn(txn(2, 1, 8))]);
  writeFileSync(path, Buffer.concat([whole, encodeAbortedTxn(txn(3, 9, 12)).subarray(0, 20)]));
  const index = new TransactionIndex(0, path);
  t.same(index.allAbortedTxns(), [txn(1, 0, 3), txn(2, 1, 8)], 'the partial entry does not count');
  t.equal(statSync(path).size, whole.length, 'and is cut from the file');
  t.equal(index.append(txn(3, 9, 12)), true, 'the torn entry can be appended again');
  t.equal(statSync(path).size, whole.length + ABORTED_TXN_SIZE);
  t.same(index.allAbortedTxns(), [txn(1, 0, 3), txn(2, 1, 8), txn(3, 9, 12)]);
  index.close();

  const tiny = join(dir, txnIndexFileName(50));
  writeFileSync(tiny, Buffer.alloc(5));
  const empty = new TransactionIndex(50, tiny);
  t.equal(empty.entryCount(), 0);
  t.equal(statSync(tiny).size, 0);
  empty.close();
});

t.test('an entry of an unknown version is an error, as in Kafka', async (t) => {
  const dir = scratch(t);
  const path = join(dir, txnIndexFileName(0));
  const bytes = encodeAbortedTxn(txn(1, 0, 3));
  bytes.writeInt16BE(1, 0);
  writeFileSync(path, bytes);
  const index = new TransactionIndex(0, path);
  t.throws(() => index.collect(0, 10), /unexpected aborted transaction version 1/);
  index.close();
});

// ---- Log: one index per segment ----

const topicConfig = new BrokerConfig({ env: {} }).resolveTopicConfig({ 'file.delete.delay.ms': '0' });

interface Opened {
  log: Log;
  pl: PartitionLog;
}

async function openLog(engine: StorageEngine, dir: string): Promise<Opened> {
  const pl = await engine.openLog(dir, toLogConfig(topicConfig));
  const log = new Log('t', 0, pl, topicConfig, (err) => {
    throw err;
  });
  return { log, pl };
}

const T0 = Date.now();

/** Appends `n` one-record batches (offsets LEO .. LEO+n-1). */
function appendRecords(log: Log, n: number): void {
  for (let i = 0; i < n; i++) log.append(simpleBatches(1, 1, T0));
}

/** A log with segments at 0, 10, 20, 30 and LEO 40. */
async function fourSegments(engine: StorageEngine, dir: string): Promise<Opened> {
  const opened = await openLog(engine, dir);
  for (let s = 0; s < 4; s++) {
    if (s > 0) opened.pl.roll();
    appendRecords(opened.log, 10);
  }
  return opened;
}

function txnFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.includes('.txnindex'))
    .sort();
}

function entriesOf(dir: string, base: number): AbortedTxn[] {
  const bytes = readFileSync(join(dir, txnIndexFileName(base)));
  const out: AbortedTxn[] = [];
  for (let at = 0; at + ABORTED_TXN_SIZE <= bytes.length; at += ABORTED_TXN_SIZE) out.push(decodeAbortedTxn(bytes, at));
  return out;
}

for (const engine of engines) {
  t.test(`${engine.name}: Log writes each entry to the segment holding its marker and collects across segments`, async (t) => {
    const dir = scratch(t);
    const { log } = await fourSegments(engine, dir);
    t.same(
      log.segments().map((s) => s.baseOffset),
      [0, 10, 20, 30],
    );
    t.same(txnFiles(dir), [], 'no txnindex until an aborted transaction');
    const a = txn(1, 2, 5, 6);
    const b = txn(2, 8, 14, 3); // LSO 3: a transaction opened at 3 was still undecided
    const c = txn(3, 3, 16, 17);
    const d = txn(4, 25, 28, 29);
    const e = txn(5, 29, 35, 36);
    for (const x of [a, b, c, d, e]) log.appendAbortedTxn(x);
    t.same(txnFiles(dir), [0, 10, 20, 30].map(txnIndexFileName), 'one file per segment holding a marker');
    t.same(entriesOf(dir, 10), [b, c]);
    log.appendAbortedTxn(c);
    log.appendAbortedTxn(a);
    t.same(entriesOf(dir, 0), [a], 'replays are ignored in the segment they belong to');
    t.same(entriesOf(dir, 10), [b, c]);

    t.same(log.collectAbortedTxns(0, 40), [a, b, c, d, e], 'the whole log');
    t.same(log.collectAbortedTxns(6, 15), [b, c], 'from segment 0: a ends before 6; b and c overlap, c (LSO 17 >= 15) completes the search');
    t.same(log.collectAbortedTxns(15, 20), [c], 'from segment 10: c (LSO 17 < 20), then segment 20 where d starts at 25 but completes (LSO 29)');
    t.same(log.collectAbortedTxns(15, 17), [c], 'c has LSO 17 >= 17: complete in segment 10');
    t.same(log.collectAbortedTxns(20, 30), [d, e], 'segment 20: d (LSO 29 < 30), segment 30: e overlaps (29 < 30)');
    await log.close();
  });
}

t.test('Log.collectAbortedTxns stops at the first complete segment, like LocalLog.collectAbortedTransactions', async (t) => {
  const dir = scratch(t);
  const { log } = await fourSegments(engines[0], dir);
  // Entries chosen to make the stop visible (producer 1's transaction 2..35 would hold Kafka's
  // LSO of the other two at 2; here p3's says 24, so a search ending there never sees p1).
  const p2 = txn(2, 11, 13, 2);
  const p3 = txn(3, 21, 23, 24);
  const p1 = txn(1, 2, 35, 36);
  log.appendAbortedTxn(p2);
  log.appendAbortedTxn(p3);
  log.appendAbortedTxn(p1);
  t.same(log.collectAbortedTxns(12, 20), [p2], 'segment 10 is not complete (LSO 2); segment 20 is (p3: LSO 24 >= 20, not overlapping): p1 is never reached');
  t.same(log.collectAbortedTxns(22, 24), [p3], 'segment 20: p3 has LSO 24 >= 24, the search stops before p1 in segment 30');
  t.same(log.collectAbortedTxns(22, 25), [p3, p1], 'with upper bound 25 it does not stop');
  await log.close();
});

t.test('Log fetches below the first segment or with an empty range look the segment up', async (t) => {
  const dir = scratch(t);
  const { log } = await fourSegments(engines[0], dir);
  const a = txn(1, 12, 14, 15);
  const b = txn(2, 13, 22, 23);
  log.appendAbortedTxn(a);
  log.appendAbortedTxn(b);
  log.deleteSegmentsBefore(10);
  t.same(log.collectAbortedTxns(0, 40), [], 'below the first segment: nothing, as Kafka (no floor segment)');
  t.same(log.collectAbortedTxns(20, 15), [b], 'an empty range still reports a transaction spanning it (Kafka does not short-cut)');
  t.same(log.collectAbortedTxns(15, 14), [], 'a completes segment 10 (LSO 15 >= 14) before b is reached');
  await log.close();
});

for (const engine of engines) {
  t.test(`${engine.name}: truncation, retention, reopen and close keep the txnindex files in step`, async (t) => {
    const dir = scratch(t);
    let { log } = await fourSegments(engine, dir);
    const a = txn(1, 2, 5);
    const b = txn(2, 8, 14);
    const c = txn(3, 15, 18);
    const d = txn(4, 19, 24);
    const e = txn(5, 30, 33);
    for (const x of [a, b, c, d, e]) log.appendAbortedTxn(x);

    log.truncateTo(16);
    t.same(
      log.segments().map((s) => s.baseOffset),
      [0, 10],
    );
    t.same(txnFiles(dir), [0, 10].map(txnIndexFileName), 'the files of segments removed whole are deleted (not renamed)');
    t.same(entriesOf(dir, 10), [b], 'the surviving segment loses the entries at or past 16');
    t.same(log.collectAbortedTxns(0, 16), [a, b]);
    appendRecords(log, 4); // LEO 20
    log.appendAbortedTxn(txn(3, 15, 18));
    t.same(entriesOf(dir, 10), [b, c], 'a marker re-appended after the truncation is indexed again');

    log.appendAbortedTxn(txn(9, 19, 19));
    await log.flush();
    await log.close();

    // Crash leftovers: an index of a segment that is gone, and an entry past the log end.
    writeFileSync(join(dir, txnIndexFileName(50)), encodeAbortedTxn(txn(8, 50, 51)));
    writeFileSync(join(dir, txnIndexFileName(10)), Buffer.concat([readFileSync(join(dir, txnIndexFileName(10))), encodeAbortedTxn(txn(7, 19, 25))]));
    ({ log } = await openLog(engine, dir));
    t.same(txnFiles(dir), [0, 10].map(txnIndexFileName), 'an index without a segment is removed at open');
    t.same(entriesOf(dir, 10), [b, c, txn(9, 19, 19)], 'entries past the log end offset (20) are dropped at open');
    t.same(log.collectAbortedTxns(0, 20), [a, b, c, txn(9, 19, 19)], 'entries survive close and open');

    await log.reconfigure(new BrokerConfig({ env: {} }).resolveTopicConfig({ 'file.delete.delay.ms': '0', 'segment.bytes': '100000' }), engine);
    t.same(log.collectAbortedTxns(0, 20), [a, b, c, txn(9, 19, 19)], 'a reconfigure (engine reopened) keeps them');
    log.appendAbortedTxn(txn(10, 19, 19));
    t.same(entriesOf(dir, 10).length, 3, 'and still ignores replays');

    log.deleteSegmentsBefore(10);
    t.same(txnFiles(dir), [txnIndexFileName(10)], 'retention deletes the txnindex of deleted segments');
    await log.close();
    t.same(txnFiles(dir), [txnIndexFileName(10)], 'close leaves the files');
    t.throws(() => log.collectAbortedTxns(0, 20), /closed/, 'a closed log answers nothing');
  });
}

t.test('applyRetention deletes the txnindex with its segment', async (t) => {
  const dir = scratch(t);
  const config = new BrokerConfig({ env: {} }).resolveTopicConfig({ 'file.delete.delay.ms': '0', 'retention.ms': '1000' });
  const pl = await engines[0].openLog(dir, toLogConfig(config));
  const log = new Log('t', 0, pl, config, (err) => {
    throw err;
  });
  log.append(simpleBatches(1, 5, T0 - 10_000));
  log.appendAbortedTxn(txn(1, 0, 4));
  pl.roll();
  log.append(simpleBatches(1, 5, T0));
  log.appendAbortedTxn(txn(2, 5, 9));
  t.same(txnFiles(dir), [0, 5].map(txnIndexFileName));
  t.equal(log.applyRetention(T0), 1);
  t.same(txnFiles(dir), [txnIndexFileName(5)]);
  t.same(log.collectAbortedTxns(5, 10), [txn(2, 5, 9)]);
  await log.close();
});
