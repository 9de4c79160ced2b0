// test/interop room (transactions, issue 13): librdkafka through confluent-kafka-python
// (python/txn_client.py) against the broker — init_transactions / begin / produce / commit /
// abort for 10 transactions × 100 records over 3 partitions: every record acknowledged at the
// offset Kafka gives it; a read_committed consumer reads exactly the committed records in order at
// their offsets (gaps at markers and aborted records), read_uncommitted all of them; and
// consume-transform-produce with send_offsets_to_transaction.
// Runs against Spool by default; SPOOL_TXN_TARGET=kafka runs it against Apache Kafka (the reference release, 4.4) itself
// (see txn/harness.ts for that and the protocol trace it prints).
import t from 'tap';
import { join } from 'node:path';
import { interopDir, requireToolchain, run, runId, works, type RunResult } from './common.js';
import { diffConsumed, diffDelivered, parseRecords, perPartition, programSummary, reportTrace, startTxnTarget, TXN_PARTITIONS, txnLayout } from './txn/harness.js';

const python = process.env.PYTHON ?? 'python3';
const script = join(interopDir, 'python', 'txn_client.py');
const ready = await works(python, ['-c', 'import confluent_kafka']);

function txnClient(...args: string[]): Promise<RunResult> {
  return run(python, [script, ...args], { timeoutMs: 90_000 });
}

t.test('librdkafka (confluent-kafka-python) transactions', async (t) => {
  if (!requireToolchain(t, ready, `${python} cannot import confluent_kafka`)) return;
  const target = await startTxnTarget(t, 'python');
  if (target === null) return;
  t.teardown(() => target.stop());
  t.comment(`target: ${target.kind}`);
  const bootstrap = target.bootstrap;
  const id = runId();
  const P = TXN_PARTITIONS;
  const TXNS = 10;
  const PER_TXN = 100;
  const topic = `txn-python-${id}`;
  const layout = txnLayout(TXNS, PER_TXN, P);

  await t.test('10 transactions × 100 records, commit/abort alternating: offsets, read_committed, read_uncommitted', async (t) => {
    const { ok, s } = programSummary(t, await txnClient('produce-txns', bootstrap, topic, String(P), `txn-python-${id}`, String(TXNS), String(PER_TXN)), 'produce-txns');
    t.equal(s.initTransactions, 'ok', 'init_transactions succeeds');
    const outcomes = (s.transactions ?? []) as Array<{ error: string | null }>;
    t.equal(outcomes.length, TXNS, `${TXNS} transactions ran`);
    t.same(outcomes.filter((o) => o.error !== null), [], 'every commit_transaction / abort_transaction succeeded');
    t.same(s.sendErrors, [], 'no delivery failed');
    t.same(diffDelivered((s.offsets ?? []) as Array<[number, number, number]>, layout), [], 'every record delivered at its offset (a marker after each transaction on each partition)');

    if (!ok) {
      t.fail('consumers not run: the transactional producer failed');
      return;
    }
    const committed = layout.records.filter((r) => r.committed);
    const rc = await txnClient('consume', bootstrap, topic, String(P), 'read_committed', String(committed.length));
    const rcSummary = programSummary(t, rc, 'read_committed consumer').s;
    t.same(diffConsumed(parseRecords(rc.stdout), committed, P), [], `read_committed: the ${committed.length} committed records, in order, at their offsets, with headers`);
    t.same(rcSummary.errors, [], 'read_committed: no consumer errors');
    t.same(perPartition(rcSummary.highWatermarks, P), layout.ends, 'watermark = log end (markers included)');
    t.same(perPartition(rcSummary.positions, P), layout.ends, 'read_committed position ends past the last marker');

    const ru = await txnClient('consume', bootstrap, topic, String(P), 'read_uncommitted', String(layout.records.length));
    const ruSummary = programSummary(t, ru, 'read_uncommitted consumer').s;
    t.same(diffConsumed(parseRecords(ru.stdout), layout.records, P), [], `read_uncommitted: all ${layout.records.length} records, aborted ones too`);
    t.same(ruSummary.errors, [], 'read_uncommitted: no consumer errors');
  });

  await t.test('consume-transform-produce: send_offsets_to_transaction commits group offsets only with the transaction', async (t) => {
    const inTopic = `txn-python-in-${id}`;
    const outTopic = `txn-python-out-${id}`;
    const N = 10;
    const { ok, s } = programSummary(t, await txnClient('ctp', bootstrap, inTopic, outTopic, String(P), `txn-python-group-${id}`, `txn-python-ctp-${id}`, String(N)), 'ctp');
    t.equal(s.inputRead, P * N, 'the group consumer read the input');
    const steps = (s.steps ?? {}) as Record<string, unknown>;
    const all = (n: number) => Array.from({ length: P }, () => n);
    const none = Array.from({ length: P }, () => null);
    t.same(perPartition(steps.before, P), none, 'no committed offsets at first');
    t.same(perPartition(steps.txn1Open, P), none, 'offsets sent to the open transaction are not visible yet');
    t.same(perPartition(steps.txn1Committed, P), all(N / 2), 'committing the transaction commits the offsets');
    t.same(perPartition(steps.txn2Aborted, P), all(N / 2), 'an aborted transaction leaves the committed offsets unchanged');
    t.same(perPartition(steps.txn3Committed, P), all(N), 'the retried transaction commits the new offsets');
    t.same(perPartition(steps.consumerCommitted, P), all(N), "the consumer's committed() agrees");

    if (!ok) {
      t.fail('consumer not run: the transform failed');
      return;
    }
    const rc = await txnClient('consume', bootstrap, outTopic, String(P), 'read_committed', String(P * N));
    programSummary(t, rc, 'read_committed consumer of the output');
    const got = parseRecords(rc.stdout)
      .sort((a, b) => a.p - b.p || a.o - b.o)
      .map((r) => `${r.p}/${r.o}:${String(r.v)}`);
    const want: string[] = [];
    for (let p = 0; p < P; p++) {
      for (let i = 0; i < N / 2; i++) want.push(`${p}/${i}:out-in-${p}-${i}`);
      for (let i = N / 2; i < N; i++) want.push(`${p}/${i + 7}:out-in-${p}-${i}`);
    }
    t.same(got, want, 'read_committed output: every input transformed exactly once, in order (txn 1 at 0..4, txn 3 at 12..16)');
  });

  reportTrace(t, target);
});
