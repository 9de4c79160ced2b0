// test/interop room (transactions, issue 13): franz-go (go/txn.go, modes txn-* of bin/franz)
// against the broker — a kgo transactional producer (TransactionalID) for 10 transactions × 100
// records over 3 partitions, EndTransaction commit/abort alternating: every record acknowledged at
// the offset Kafka gives it; FetchIsolationLevel(ReadCommitted) reads exactly the committed records
// in order at their offsets, ReadUncommitted all of them; kadm ListEndOffsets /
// ListCommittedOffsets; and a GroupTransactSession (consume-transform-produce with the group's
// offsets in the transaction; an aborted round rewinds to the committed offsets).
// Runs against Spool by default; SPOOL_TXN_TARGET=kafka runs it against Apache Kafka (the reference release, 4.4) itself
// (see txn/harness.ts for that and the protocol trace it prints).
import t from 'tap';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, requireToolchain, run, runId, works, type RunResult } from './common.js';
import { diffConsumed, diffDelivered, parseRecords, perPartition, programSummary, reportTrace, startTxnTarget, TXN_PARTITIONS, txnLayout } from './txn/harness.js';

const dir = join(interopDir, 'go');
const binary = join(dir, 'bin', 'franz');

/**
 * Builds bin/franz when missing or older than its sources (setup-interop.sh runs the same
 * `go build`); a stale binary is still used when no Go is installed to rebuild it.
 */
async function ensureBuilt(): Promise<boolean> {
  const sources = ['main.go', 'txn.go', 'go.mod', 'go.sum'].map((f) => join(dir, f));
  if (!isStale(binary, sources)) return true;
  if (!(await works('go', ['version']))) return existsSync(binary);
  const r = await run('go', ['build', '-buildvcs=false', '-o', binary, '.'], { cwd: dir, timeoutMs: 300_000 });
  if (r.code !== 0 || !existsSync(binary)) return false;
  const now = new Date();
  utimesSync(binary, now, now);
  return true;
}

const ready = await ensureBuilt();

function franz(...args: string[]): Promise<RunResult> {
  return run(binary, args, { timeoutMs: 90_000 });
}

t.test('franz-go transactions', async (t) => {
  if (!requireToolchain(t, ready, `${binary} is not built (go build in test/interop/go)`)) return;
  const target = await startTxnTarget(t, 'go');
  if (target === null) return;
  t.teardown(() => target.stop());
  t.comment(`target: ${target.kind}`);
  const bootstrap = target.bootstrap;
  const id = runId();
  const P = TXN_PARTITIONS;
  const TXNS = 10;
  const PER_TXN = 100;
  const topic = `txn-go-${id}`;
  const layout = txnLayout(TXNS, PER_TXN, P);

  await t.test('10 transactions × 100 records, commit/abort alternating: offsets, ReadCommitted, ReadUncommitted', async (t) => {
    const { ok, s } = programSummary(t, await franz('txn-produce', bootstrap, topic, String(P), `txn-go-${id}`, String(TXNS), String(PER_TXN)), 'txn-produce');
    t.equal(s.initTransactions, 'ok', 'every transaction ran');
    const outcomes = (s.transactions ?? []) as Array<{ error: string | null }>;
    t.equal(outcomes.length, TXNS, `${TXNS} transactions ran`);
    t.same(outcomes.filter((o) => o.error !== null), [], 'every EndTransaction (TryCommit / TryAbort) succeeded');
    t.same(s.sendErrors, [], 'no produce failed');
    t.same(diffDelivered((s.offsets ?? []) as Array<[number, number, number]>, layout), [], 'every record acknowledged at its offset (a marker after each transaction on each partition)');

    if (!ok) {
      t.fail('consumers not run: the transactional producer failed');
      return;
    }
    const committed = layout.records.filter((r) => r.committed);
    const rc = await franz('txn-consume', bootstrap, topic, String(P), 'read_committed', String(committed.length));
    const rcSummary = programSummary(t, rc, 'ReadCommitted consumer').s;
    t.same(diffConsumed(parseRecords(rc.stdout), committed, P), [], `ReadCommitted: the ${committed.length} committed records, in order, at their offsets, with headers`);
    t.same(rcSummary.errors, [], 'ReadCommitted: no fetch errors');
    t.same(perPartition(rcSummary.endOffsets, P), layout.ends, 'kadm ListEndOffsets = log end (markers included)');
    t.same(perPartition(rcSummary.committedEndOffsets, P), layout.ends, 'kadm ListCommittedOffsets (read_committed) = log end: no open transaction');

    const ru = await franz('txn-consume', bootstrap, topic, String(P), 'read_uncommitted', String(layout.records.length));
    const ruSummary = programSummary(t, ru, 'ReadUncommitted consumer').s;
    t.same(diffConsumed(parseRecords(ru.stdout), layout.records, P), [], `ReadUncommitted: all ${layout.records.length} records, aborted ones too`);
    t.same(ruSummary.errors, [], 'ReadUncommitted: no fetch errors');
  });

  await t.test('GroupTransactSession: offsets commit with the transaction, an aborted round is redone', async (t) => {
    const inTopic = `txn-go-in-${id}`;
    const outTopic = `txn-go-out-${id}`;
    const N = 10;
    const { ok, s } = programSummary(t, await franz('txn-session', bootstrap, inTopic, outTopic, String(P), `txn-go-group-${id}`, `txn-go-session-${id}`, String(N)), 'txn-session');
    t.equal(s.produceError, undefined, 'no transactional produce failed');
    const steps = (s.steps ?? {}) as Record<string, unknown>;
    const all = (n: number) => Array.from({ length: P }, () => n);
    t.equal(steps.aConsumed, P * N, 'round A consumed input A');
    t.equal(steps.aCommitted, true, 'round A committed');
    t.same(perPartition(steps.afterA, P), all(N), "the group's offsets moved with the commit");
    t.equal(steps.bAbortedConsumed, P * N, 'round B consumed input B');
    t.equal(steps.bAbortedCommitted, false, 'round B was aborted');
    t.same(perPartition(steps.afterBAborted, P), all(N), 'the aborted round left the offsets unchanged');
    t.equal(steps.bRetriedConsumed, P * N, 'the session rewound: input B consumed again');
    t.equal(steps.bRetriedCommitted, true, 'the retried round committed');
    t.same(perPartition(steps.afterBRetried, P), all(2 * N), 'offsets at the end of the input');

    if (!ok) {
      t.fail('consumer not run: the session failed');
      return;
    }
    // Output per partition: A at 0..9, marker 10; B aborted at 11..20, marker 21; B at 22..31, marker 32.
    const rc = await franz('txn-consume', bootstrap, outTopic, String(P), 'read_committed', String(2 * P * N));
    const rcSummary = programSummary(t, rc, 'ReadCommitted consumer of the output').s;
    const got = parseRecords(rc.stdout)
      .sort((a, b) => a.p - b.p || a.o - b.o)
      .map((r) => `${r.p}/${r.o}:${String(r.v)}`);
    const want: string[] = [];
    for (let p = 0; p < P; p++) {
      for (let i = 0; i < N; i++) want.push(`${p}/${i}:out-in-a-${p}-${i}`);
      for (let i = 0; i < N; i++) want.push(`${p}/${2 * N + 2 + i}:out-in-b-${p}-${i}`);
    }
    t.same(got, want, 'ReadCommitted output: every input transformed exactly once, in order, at its offset');
    t.same(perPartition(rcSummary.endOffsets, P), all(3 * N + 3), 'output log end: 30 records and 3 markers per partition');
  });

  reportTrace(t, target);
});
