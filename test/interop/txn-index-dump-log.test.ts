// test/interop room: the aborted-transaction index (`.txnindex`) is written by the log layer above
// the storage engines, so the same transactional traffic leaves byte-identical .txnindex files
// (and segments) with either engine, through rolls, a truncation with a producer-state style
// replay, and retention; and Apache Kafka's own kafka-dump-log (org.apache.kafka.tools.DumpLogSegments,
// from the Maven jars) prints every entry back, each at an ABORT marker of its segment's .log.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import { Log, toLogConfig, txnIndexFileName, type AbortedTxn } from '../../src/log/index.js';
import type { StorageEngine } from '../../src/storage/engine.js';
import { loadEngine } from '../../src/storage/loader.js';
import type { StorageLogger } from '../../src/storage/logger.js';
import { buildBatch } from '../helpers/batches.js';
import { dirContents } from '../helpers/engines.js';
import { removeDir, requireToolchain, tempDir } from './common.js';
import { dumpLogSegments, kafkaToolsAvailable } from './kafka-tools.js';

const ready = await kafkaToolsAvailable();
const silent: StorageLogger = { warn: () => undefined };
const BASE_TS = Date.now() - 60_000;
const topicConfig = new BrokerConfig({ env: {} }).resolveTopicConfig({ 'segment.bytes': '1500', 'file.delete.delay.ms': '0' });

/** One step of the traffic: a data batch of a transaction, or its end marker. */
interface Step {
  producerId: number;
  kind: 'data' | 'abort' | 'commit';
  records: number;
}

/** Deterministic interleaved transactions of four producers (no randomness: both engines see the same). */
function traffic(steps: number, seed: number): Step[] {
  const out: Step[] = [];
  const open = new Set<number>();
  for (let i = 0; i < steps; i++) {
    const producerId = 1000 + ((i * 7 + seed) % 4);
    const roll = (i * 13 + seed * 5) % 10;
    if (open.has(producerId) && roll < 3) {
      out.push({ producerId, kind: roll < 2 ? 'abort' : 'commit', records: 1 });
      open.delete(producerId);
    } else {
      out.push({ producerId, kind: 'data', records: 1 + (i % 4) });
      open.add(producerId);
    }
  }
  for (const producerId of [...open].sort()) out.push({ producerId, kind: 'abort', records: 1 });
  return out;
}

function batchFor(step: Step, epoch: number): Buffer {
  if (step.kind === 'data') {
    return buildBatch({
      records: Array.from({ length: step.records }, (_, k) => ({ key: `k${k}`, value: `txn-value-${step.producerId}-${k}`, timestampDelta: k })),
      baseTimestamp: BASE_TS,
      producerId: step.producerId,
      producerEpoch: epoch,
      baseSequence: 0,
      transactional: true,
    });
  }
  // Kafka's EndTransactionMarker: key = int16 version 0, int16 type (0 abort, 1 commit);
  // value = int16 version 0, int32 coordinatorEpoch.
  const key = Buffer.alloc(4);
  key.writeInt16BE(step.kind === 'abort' ? 0 : 1, 2);
  const value = Buffer.alloc(6);
  value.writeInt32BE(3, 2);
  return buildBatch({
    records: [{ key, value }],
    baseTimestamp: BASE_TS,
    producerId: step.producerId,
    producerEpoch: epoch,
    transactional: true,
    control: true,
  });
}

/** What producer state knows from the log: first offset of each open transaction. */
class TxnModel {
  readonly open = new Map<number, number>();
  /** Every abort, as Kafka's UnifiedLog would index it. */
  readonly aborted: AbortedTxn[] = [];

  apply(step: Step, offset: number): AbortedTxn | null {
    if (step.kind === 'data') {
      if (!this.open.has(step.producerId)) this.open.set(step.producerId, offset);
      return null;
    }
    const firstOffset = this.open.get(step.producerId) ?? offset;
    this.open.delete(step.producerId);
    if (step.kind === 'commit') return null;
    // Kafka's ProducerStateManager.lastStableOffset: the first offset of the earliest other
    // open transaction, else the marker's offset + 1.
    const others = [...this.open.values()];
    const lastStableOffset = others.length > 0 ? Math.min(...others) : offset + 1;
    const txn = { producerId: step.producerId, firstOffset, lastOffset: offset, lastStableOffset };
    this.aborted.push(txn);
    return txn;
  }
}

interface Written {
  dir: string;
  /** Aborted transactions whose markers are still in the log, in marker order. */
  expected: AbortedTxn[];
  segmentBases: number[];
  collected: AbortedTxn[][];
}

/** The same calls on `engine`: transactions, a truncation and replay, more transactions, retention. */
async function writeTxnLog(engine: StorageEngine, dir: string): Promise<Written> {
  const pl = await engine.openLog(dir, toLogConfig(topicConfig));
  let log = new Log('txn', 0, pl, topicConfig, (err) => {
    throw err;
  });
  const history: Array<{ step: Step; offset: number }> = [];
  const run = (steps: Step[], epoch: number, model: TxnModel): void => {
    for (const step of steps) {
      const { firstOffset } = log.append(batchFor(step, epoch), { now: BASE_TS });
      history.push({ step, offset: firstOffset });
      const txn = model.apply(step, firstOffset);
      if (txn) log.appendAbortedTxn(txn);
    }
  };

  let model = new TxnModel();
  run(traffic(90, 1), 0, model);
  // A follower-style truncation in the middle of a segment, then producer state rebuilt from the
  // log: every marker below the cut is re-applied (replays the index ignores).
  const cut = history[Math.floor(history.length * 0.6)].offset + 1;
  log.truncateTo(cut);
  const kept = history.filter((h) => h.offset < cut);
  history.length = 0;
  model = new TxnModel();
  for (const h of kept) {
    history.push(h);
    const txn = model.apply(h.step, h.offset);
    if (txn) log.appendAbortedTxn(txn);
  }
  run(traffic(70, 2), 1, model);

  // Close and reopen (the index files are found again), then retention drops the first segments.
  await log.close();
  log = new Log('txn', 0, await engine.openLog(dir, toLogConfig(topicConfig)), topicConfig, (err) => {
    throw err;
  });
  const bases = log.segments().map((s) => s.baseOffset);
  log.deleteSegmentsBefore(bases[3]);
  const segmentBases = log.segments().map((s) => s.baseOffset);
  const logStart = segmentBases[0];
  const expected = model.aborted.filter((a) => a.lastOffset >= logStart);
  const leo = log.logEndOffset;
  const collected = [
    log.collectAbortedTxns(logStart, leo),
    log.collectAbortedTxns(segmentBases[1] + 3, segmentBases[2] + 2),
    log.collectAbortedTxns(Math.floor((logStart + leo) / 2), leo),
  ];
  await log.close();
  return { dir, expected, segmentBases, collected };
}

/** The segment (base offset) whose range holds `offset`. */
function segmentOf(bases: number[], offset: number): number {
  let found = bases[0];
  for (const b of bases) if (b <= offset) found = b;
  return found;
}

t.test('both engines leave byte-identical .txnindex files for the same transactions', async (t) => {
  let ts: StorageEngine;
  let native: StorageEngine;
  try {
    ts = await loadEngine('ts', silent);
    native = await loadEngine('native', silent);
  } catch (e) {
    if (!requireToolchain(t, false, `a storage engine does not load: ${String(e)}`)) return;
    return;
  }
  const root = tempDir('txnindex-identical');
  t.teardown(() => removeDir(root));
  const a = await writeTxnLog(ts, join(root, 'ts-0'));
  const b = await writeTxnLog(native, join(root, 'native-0'));
  t.ok(a.segmentBases.length >= 4, `several segments survive retention (${a.segmentBases.length})`);
  t.ok(a.expected.length >= 5, `several aborted transactions remain (${a.expected.length})`);
  t.same(b.segmentBases, a.segmentBases, 'same segments');
  const filesA = dirContents(a.dir);
  const filesB = dirContents(b.dir);
  const txnNames = [...filesA.keys()].filter((n) => n.endsWith('.txnindex'));
  t.ok(txnNames.length >= 3, `several segments have a txnindex (${txnNames.length})`);
  t.same([...filesB.keys()], [...filesA.keys()], 'same file names (segments and txnindexes)');
  const different = [...filesA].filter(([name, bytes]) => !filesB.get(name)?.equals(bytes)).map(([name]) => name);
  t.same(different, [], 'every file has the same bytes, .txnindex included');
  t.same(b.collected, a.collected, 'collectAbortedTxns answers the same');
  t.same(a.collected[0], a.expected, 'the whole log: every aborted transaction whose marker is kept, in order');
  for (const name of txnNames) t.equal(filesA.get(name)!.length % 34, 0, `${name}: whole 34-byte entries`);
});

for (const kind of ['ts', 'native'] as const) {
  t.test(`kafka-dump-log prints the .txnindex entries written over the ${kind} engine`, async (t) => {
    if (!requireToolchain(t, ready, 'Kafka jars (.cache/kafka-jars) or java are missing')) return;
    let engine: StorageEngine;
    try {
      engine = await loadEngine(kind, silent);
    } catch (e) {
      if (!requireToolchain(t, false, `the ${kind} storage engine does not load: ${String(e)}`)) return;
      return;
    }
    const root = tempDir(`txnindex-dump-${kind}`);
    t.teardown(() => removeDir(root));
    const { dir, expected, segmentBases } = await writeTxnLog(engine, join(root, 'txn-0'));
    const txnFiles = readdirSync(dir)
      .filter((n) => n.endsWith('.txnindex'))
      .sort()
      .map((n) => join(dir, n));
    const logFiles = readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .map((n) => join(dir, n));
    const out = await dumpLogSegments([...logFiles, ...txnFiles]);

    // Group the tool's txnindex lines by the file it was dumping.
    const printed = new Map<string, AbortedTxn[]>();
    const aborts = new Set<number>();
    let current = '';
    for (const line of out.split('\n')) {
      const dumping = /^Dumping (.*)$/.exec(line);
      if (dumping) {
        current = dumping[1].split('/').pop() ?? '';
        continue;
      }
      const m = /^version: (\d+) producerId: (-?\d+) firstOffset: (-?\d+) lastOffset: (-?\d+) lastStableOffset: (-?\d+)$/.exec(line);
      if (m) {
        t.equal(m[1], '0', `${current}: version 0`);
        const list = printed.get(current) ?? [];
        list.push({ producerId: Number(m[2]), firstOffset: Number(m[3]), lastOffset: Number(m[4]), lastStableOffset: Number(m[5]) });
        printed.set(current, list);
        continue;
      }
      const marker = /^\| offset: (\d+) .* endTxnMarker: ABORT coordinatorEpoch: 3$/.exec(line);
      if (marker) aborts.add(Number(marker[1]));
    }
    const want = new Map<string, AbortedTxn[]>();
    for (const txn of expected) {
      const name = txnIndexFileName(segmentOf(segmentBases, txn.lastOffset));
      want.set(name, [...(want.get(name) ?? []), txn]);
    }
    t.same(
      [...printed.keys()].sort(),
      [...want.keys()].sort(),
      'the tool lists entries for exactly the segments holding abort markers',
    );
    for (const [name, txns] of want) t.same(printed.get(name), txns, `${name}: every entry, in order, with Kafka's field values`);
    const lost = expected.filter((x) => !aborts.has(x.lastOffset)).map((x) => x.lastOffset);
    t.same(lost, [], 'each entry\'s lastOffset is an ABORT marker in the .log, as the tool decodes it');
    const complaints = out.split('\n').filter((l) => /exception|error|corrupt|unexpected|Ignoring/i.test(l));
    t.same(complaints.slice(0, 10), [], 'the tool complains about nothing');
  });
}
