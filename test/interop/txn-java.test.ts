// test/interop room (transactions, issue 13): Apache Kafka's Java client (kafka-clients 4.1,
// java/src/main/java/spool/interop/TxnClient.java) against the broker —
//   - 10 transactions × 100 records over 3 partitions, commit/abort alternating: every record is
//     acknowledged at the offset Kafka gives it (one control record after each transaction on
//     each partition); a read_committed consumer reads exactly the committed records, in order,
//     with gaps at the markers and the aborted records; read_uncommitted reads all of them;
//   - ListOffsets (Admin, READ_COMMITTED vs READ_UNCOMMITTED) and consumer endOffsets while a
//     transaction is open: read_committed stays at the last stable offset, and a read_committed
//     consumer stops there; after the commit both are at the log end;
//   - fencing: a second producer with the same transactional.id fences the first, whose open
//     transaction is aborted;
//   - consume-transform-produce with sendOffsetsToTransaction: the group's offsets move only when
//     the transaction commits.
// Runs against Spool by default; SPOOL_TXN_TARGET=kafka runs it against Apache Kafka (the reference release, 4.4) itself
// (see txn/harness.ts for that and the protocol trace it prints).
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, requireToolchain, run, runId, works, type RunResult } from './common.js';
import {
  diffConsumed,
  diffDelivered,
  parseRecords,
  perPartition,
  programSummary,
  reportTrace,
  startTxnTarget,
  TXN_PARTITIONS,
  txnLayout,
} from './txn/harness.js';

const javaDir = join(interopDir, 'java');
const dependencies = join(javaDir, 'target', 'dependency');
const classes = join(javaDir, 'target', 'classes');
const source = join(javaDir, 'src', 'main', 'java', 'spool', 'interop', 'TxnClient.java');
const mainClass = join(classes, 'spool', 'interop', 'TxnClient.class');

/** Compiles TxnClient when missing or older than its source (setup-interop.sh's mvn package does the same). */
async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  if (!isStale(mainClass, [source])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());

function txnClient(...args: string[]): Promise<RunResult> {
  return run(
    'java',
    ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${classes}:${dependencies}/*`, 'spool.interop.TxnClient', ...args],
    { timeoutMs: 90_000 },
  );
}

t.test('Java client transactions', async (t) => {
  if (!requireToolchain(t, ready, 'java or the built Java client (test/interop/java/target) is missing')) return;
  const target = await startTxnTarget(t, 'java');
  if (target === null) return;
  t.teardown(() => target.stop());
  t.comment(`target: ${target.kind}`);
  const bootstrap = target.bootstrap;
  const id = runId();
  const P = TXN_PARTITIONS;
  const TXNS = 10;
  const PER_TXN = 100;
  const topic = `txn-java-${id}`;
  const layout = txnLayout(TXNS, PER_TXN, P);

  await t.test('10 transactions × 100 records, commit/abort alternating: offsets, read_committed, read_uncommitted', async (t) => {
    const { ok, s } = programSummary(t, await txnClient('produce-txns', bootstrap, topic, String(P), `txn-java-${id}`, String(TXNS), String(PER_TXN)), 'produce-txns');
    t.equal(s.initTransactions, 'ok', 'initTransactions succeeds');
    const outcomes = (s.transactions ?? []) as Array<{ t: number; outcome: string; error: string | null }>;
    t.equal(outcomes.length, TXNS, `${TXNS} transactions ran`);
    t.same(outcomes.filter((o) => o.error !== null), [], 'every commitTransaction / abortTransaction succeeded');
    t.same(s.sendErrors, [], 'no send failed');
    t.same(diffDelivered((s.offsets ?? []) as Array<[number, number, number]>, layout), [], 'every record acknowledged at its offset (a marker after each transaction on each partition)');

    if (!ok) {
      t.fail('consumers not run: the transactional producer failed');
      return;
    }
    const rc = await txnClient('consume', bootstrap, topic, String(P), 'read_committed', String(TXNS / 2 * PER_TXN));
    const rcSummary = programSummary(t, rc, 'read_committed consumer').s;
    const rcRecords = parseRecords(rc.stdout);
    const committed = layout.records.filter((r) => r.committed);
    t.same(diffConsumed(rcRecords, committed, P), [], `read_committed: the ${committed.length} committed records, in order, at their offsets, with headers`);
    t.same(perPartition(rcSummary.endOffsets, P), layout.ends, 'read_committed endOffsets = log end (no open transaction): markers included');
    t.same(perPartition(rcSummary.positions, P), layout.ends, 'read_committed position ends past the last marker');
    const markerOffsets = new Set(layout.markers.map((m) => `${m.p}/${m.o}`));
    t.equal(layout.markers.length, TXNS * P, 'the layout has one marker per transaction per partition');
    t.notOk(rcRecords.some((r) => markerOffsets.has(`${r.p}/${r.o}`)), 'no record at a marker offset');
    // The gaps: after each committed transaction's last record on a partition, one offset is skipped.
    const gaps = committed.filter((r, i) => {
      const next = committed.slice(i + 1).find((n) => n.p === r.p);
      return next !== undefined && next.o !== r.o + 1;
    }).length;
    const seenGaps = rcRecords.filter((r, i) => {
      const next = rcRecords.slice(i + 1).find((n) => n.p === r.p);
      return next !== undefined && next.o !== r.o + 1;
    }).length;
    t.equal(seenGaps, gaps, `read_committed offsets show the ${gaps} gaps (marker + aborted records) between committed transactions`);

    const ru = await txnClient('consume', bootstrap, topic, String(P), 'read_uncommitted', String(TXNS * PER_TXN));
    const ruSummary = programSummary(t, ru, 'read_uncommitted consumer').s;
    const ruRecords = parseRecords(ru.stdout);
    t.same(diffConsumed(ruRecords, layout.records, P), [], `read_uncommitted: all ${layout.records.length} records (aborted ones too), markers skipped`);
    t.same(perPartition(ruSummary.endOffsets, P), layout.ends, 'read_uncommitted endOffsets = log end');
  });

  await t.test('ListOffsets by isolation level while a transaction is open', async (t) => {
    const OPEN = 30;
    const { s } = programSummary(t, await txnClient('open-txn', bootstrap, topic, String(P), `txn-java-open-${id}`, String(OPEN)), 'open-txn');
    const before = layout.ends;
    const perP = (n: number) => Array.from({ length: P }, (_, p) => Math.floor(n / P) + (p < n % P ? 1 : 0));
    const openEnd = before.map((e, p) => e + perP(OPEN)[p]);
    const delivered = (s.offsets ?? []) as Array<[number, number, number]>;
    t.same(
      delivered.filter(([i, p, o]) => p !== i % P || o !== before[p] + Math.floor(i / P)),
      [],
      'open transaction records appended at the log end',
    );
    const open = (s.whileOpen ?? {}) as Record<string, unknown>;
    t.same(perPartition(open.adminReadCommitted, P), before, 'Admin.listOffsets(latest, READ_COMMITTED) = last stable offset (start of the open transaction)');
    t.same(perPartition(open.adminReadUncommitted, P), openEnd, 'Admin.listOffsets(latest, READ_UNCOMMITTED) = high watermark (open records included)');
    t.same(perPartition(open.consumerEndReadCommitted, P), before, 'read_committed consumer endOffsets = last stable offset');
    t.same(perPartition(open.consumerEndReadUncommitted, P), openEnd, 'read_uncommitted consumer endOffsets = high watermark');
    t.equal(open.readCommittedRecords, 500, 'a read_committed consumer reads the 500 committed records and nothing of the open transaction');
    t.same(open.readCommittedOpenRecords, [], 'no open-transaction record is returned to read_committed');
    t.same(perPartition(open.readCommittedPositions, P), before, 'read_committed position stops at the last stable offset');
    t.equal(s.committed, true, 'the open transaction commits');
    const after = (s.afterCommit ?? {}) as Record<string, unknown>;
    const committedEnd = openEnd.map((e) => e + 1);
    t.same(perPartition(after.adminReadCommitted, P), committedEnd, 'after commit READ_COMMITTED latest = log end (after the marker)');
    t.same(perPartition(after.adminReadUncommitted, P), committedEnd, 'after commit READ_UNCOMMITTED latest = log end');
    t.equal(after.readCommittedRecords, 500 + OPEN, 'after commit read_committed reads the open transaction too');
  });

  await t.test('a second producer with the same transactional.id fences the first', async (t) => {
    const fenceTopic = `txn-java-fence-${id}`;
    const { ok, s } = programSummary(t, await txnClient('fence', bootstrap, fenceTopic, `txn-java-fence-${id}`), 'fence');
    t.same(s.aOffsets, [0, 1, 2, 3, 4], 'producer A wrote a-0..a-4 at 0..4 in its open transaction');
    t.equal(s.bInit, 'ok', "producer B's initTransactions succeeds (and aborts A's transaction)");
    // Apache Kafka 4.1 answers the fenced producer's Produce with INVALID_PRODUCER_EPOCH (the client
    // reports InvalidProducerEpochException for the send and again from commitTransaction, an
    // abortable error) and its EndTxn with PRODUCER_FENCED (ProducerFencedException), with
    // transaction.version 0, 1 and 2 alike.
    t.equal(s.aSendError, 'InvalidProducerEpochException', "A's next send fails: INVALID_PRODUCER_EPOCH");
    t.equal(s.aCommitError, 'InvalidProducerEpochException', "A's commitTransaction fails with the send's error");
    t.equal(s.aAbortError, 'ProducerFencedException', "A's abortTransaction fails: EndTxn answers PRODUCER_FENCED");
    t.same(s.bOffsets, [6, 7, 8, 9, 10], "B's records follow A's abort marker (offset 5)");
    t.equal(s.bCommit, 'ok', 'B commits');

    if (!ok) {
      t.fail('consumers not run: the producers failed');
      return;
    }
    const rc = await txnClient('consume', bootstrap, fenceTopic, '1', 'read_committed', '5');
    programSummary(t, rc, 'read_committed consumer');
    t.same(
      parseRecords(rc.stdout).map((r) => `${r.o}:${String(r.v)}`),
      ['6:b-0', '7:b-1', '8:b-2', '9:b-3', '10:b-4'],
      "read_committed sees only B's records",
    );
    const ru = await txnClient('consume', bootstrap, fenceTopic, '1', 'read_uncommitted', '10');
    const ruSummary = programSummary(t, ru, 'read_uncommitted consumer').s;
    t.same(
      parseRecords(ru.stdout).map((r) => `${r.o}:${String(r.v)}`),
      ['0:a-0', '1:a-1', '2:a-2', '3:a-3', '4:a-4', '6:b-0', '7:b-1', '8:b-2', '9:b-3', '10:b-4'],
      "read_uncommitted sees A's aborted records and B's; a-5 was never written",
    );
    t.same(perPartition(ruSummary.endOffsets, 1), [12], 'log end 12: 10 records and 2 markers');
  });

  await t.test('consume-transform-produce: sendOffsetsToTransaction commits group offsets only with the transaction', async (t) => {
    const inTopic = `txn-java-in-${id}`;
    const outTopic = `txn-java-out-${id}`;
    const N = 10;
    const { ok, s } = programSummary(t, await txnClient('ctp', bootstrap, inTopic, outTopic, String(P), `txn-java-group-${id}`, `txn-java-ctp-${id}`, String(N)), 'ctp');
    t.equal(s.inputRead, P * N, 'the group consumer read the input');
    const steps = (s.steps ?? {}) as Record<string, unknown>;
    const all = (n: number) => Array.from({ length: P }, () => n);
    const none = Array.from({ length: P }, () => null);
    t.same(perPartition(steps.before, P), none, 'no committed offsets at first');
    t.same(perPartition(steps.txn1Open, P), none, 'offsets sent to the open transaction are not visible yet');
    t.same(perPartition(steps.txn1Committed, P), all(N / 2), 'committing the transaction commits the offsets');
    t.same(perPartition(steps.txn2Aborted, P), all(N / 2), 'an aborted transaction leaves the committed offsets unchanged');
    t.same(perPartition(steps.txn3Committed, P), all(N), 'the retried transaction commits the new offsets');
    t.same(perPartition(steps.consumerCommitted, P), all(N), "the consumer's committed() (require_stable) agrees");

    if (!ok) {
      t.fail('consumers not run: the transform failed');
      return;
    }
    // Output: per partition out of txn 1 at 0..4, marker 5; txn 2 (aborted) at 6..10, marker 11;
    // txn 3 at 12..16, marker 17.
    const expected = (committedOnly: boolean) => {
      const out: string[] = [];
      for (let p = 0; p < P; p++) {
        for (let i = 0; i < N / 2; i++) out.push(`${p}/${i}:out-in-${p}-${i}`);
        if (!committedOnly) for (let i = N / 2; i < N; i++) out.push(`${p}/${i + 1}:out-in-${p}-${i}`);
        for (let i = N / 2; i < N; i++) out.push(`${p}/${i + 7}:out-in-${p}-${i}`);
      }
      return out;
    };
    const sorted = (stdout: string) =>
      parseRecords(stdout)
        .sort((a, b) => a.p - b.p || a.o - b.o)
        .map((r) => `${r.p}/${r.o}:${String(r.v)}`);
    const rc = await txnClient('consume', bootstrap, outTopic, String(P), 'read_committed', String(P * N));
    const rcSummary = programSummary(t, rc, 'read_committed consumer of the output').s;
    t.same(sorted(rc.stdout), expected(true), 'read_committed output: every input transformed exactly once, in order');
    t.same(perPartition(rcSummary.endOffsets, P), all(3 * (N / 2) + 3), 'output log end: 15 records and 3 markers per partition');
    const ru = await txnClient('consume', bootstrap, outTopic, String(P), 'read_uncommitted', String((P * N * 3) / 2));
    programSummary(t, ru, 'read_uncommitted consumer of the output');
    t.same(sorted(ru.stdout), expected(false), 'read_uncommitted output includes the aborted attempt');
  });

  reportTrace(t, target);
});
