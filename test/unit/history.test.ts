// test helpers' own tests: the fault tests' history checker (test/helpers/history.ts) fed crafted
// histories — a clean one has no violation, and each anomaly is found, counted and exemplified.
import t from 'tap';
import { checkHistory, type ReadRecord, type SendAttempt } from '../helpers/history.js';

/** Producer 0 writes n values to partition p, each acknowledged at offsets 0..n-1. */
function ackedRun(n: number, partition = 0, producer = 0, firstOffset = 0): SendAttempt[] {
  return Array.from({ length: n }, (_, i) => ({
    value: `p${producer}-${partition}-${i}`,
    key: `k${i}`,
    partition,
    producer,
    acked: true,
    offset: firstOffset + i,
  }));
}

/** What a consumer reading those sends in offset order sees. */
function readAll(sends: SendAttempt[], consumer: string | number = 'c0'): ReadRecord[] {
  return sends
    .filter((s) => s.acked && s.offset !== undefined)
    .sort((a, b) => a.partition - b.partition || a.offset! - b.offset!)
    .map((s) => ({ consumer, partition: s.partition, offset: s.offset!, value: s.value, key: s.key }));
}

t.test('a clean history has no violations', async (t) => {
  const sends = [...ackedRun(50, 0), ...ackedRun(30, 1)];
  // Two consumers: one reads everything, one reads partition 1 twice with a seek back.
  const reads = [...readAll(sends, 'c0'), ...readAll(sends.filter((s) => s.partition === 1), 'c1')];
  reads.push(...readAll(sends.filter((s) => s.partition === 1), 'c1').map((r, i) => ({ ...r, afterSeek: i === 0 })));
  const report = checkHistory(sends, reads);
  t.equal(report.violations, 0, report.details());
  t.ok(report.ok);
  t.same(report.totals, { attempts: 80, sent: 80, acknowledged: 80, read: 80 + 30 + 30, distinctOffsetsRead: 80, distinctValuesRead: 80 });
  for (const k of ['lost', 'duplicates', 'offsetConflicts', 'backwards', 'phantomNeverSent', 'unacknowledgedPresent', 'ackOffsetMismatch', 'unseen'] as const) {
    t.equal(report[k].count, 0, k);
  }
  t.match(report.summary(), /^80 sent \(80 attempts\), 80 acknowledged, 140 read .*: 0 violation\(s\)/);
  t.notMatch(report.summary(), /\n/, 'summary is one line');
});

t.test('empty histories are clean', async (t) => {
  const report = checkHistory([], []);
  t.equal(report.violations, 0);
  t.equal(report.totals.sent, 0);
});

t.test('an acknowledged write never read is lost', async (t) => {
  const sends = ackedRun(10);
  const reads = readAll(sends).filter((r) => r.offset !== 4 && r.offset !== 7);
  const report = checkHistory(sends, reads);
  t.equal(report.lost.count, 2);
  t.same(
    report.lost.examples.map((l) => [l.value, l.ackedOffset]),
    [
      ['p0-0-4', 4],
      ['p0-0-7', 7],
    ],
  );
  t.equal(report.violations, 2);
  t.equal(report.ackOffsetMismatch.count, 0, 'a value never read is only lost');
  t.match(report.summary(), /lost 2/);
  t.match(report.details(), /p0-0-4/);
});

t.test('without a complete final read, only writes below the read frontier are lost', async (t) => {
  const sends = ackedRun(10);
  // Read 0..5 except 2: 2 is lost (6..9 were never reached: unseen).
  const reads = readAll(sends).filter((r) => r.offset <= 5 && r.offset !== 2);
  const report = checkHistory(sends, reads, { finalReadComplete: false });
  t.equal(report.lost.count, 1);
  t.equal(report.lost.examples[0].value, 'p0-0-2');
  t.equal(report.unseen.count, 4);
  t.equal(report.violations, 1);
  t.match(report.summary(), /unseen 4/);
  // The default treats them all as lost.
  t.equal(checkHistory(sends, reads).lost.count, 5);
});

t.test('an unacknowledged write that is never read is fine; one that is read is counted, not a violation', async (t) => {
  const sends: SendAttempt[] = [
    ...ackedRun(3),
    { value: 'p0-0-3', partition: 0, acked: false },
    { value: 'p0-0-4', partition: 0, acked: false },
  ];
  const reads = [...readAll(sends), { consumer: 'c0', partition: 0, offset: 3, value: 'p0-0-4' }];
  const report = checkHistory(sends, reads);
  t.equal(report.unacknowledgedPresent.count, 1);
  t.same(report.unacknowledgedPresent.examples[0], { value: 'p0-0-4', topic: '', partition: 0, offset: 3 });
  t.equal(report.lost.count, 0);
  t.equal(report.violations, 0);
  t.equal(report.totals.acknowledged, 3);
  t.equal(report.totals.sent, 5);
});

t.test('a retried record: acknowledged once after a failed attempt', async (t) => {
  const sends: SendAttempt[] = [
    { value: 'v0', partition: 0, acked: false },
    { value: 'v0', partition: 0, acked: true, offset: 1 },
  ];
  // The failed attempt was committed too (offset 0): a duplicate, allowed without idempotence.
  const reads: ReadRecord[] = [
    { consumer: 'c', partition: 0, offset: 0, value: 'v0' },
    { consumer: 'c', partition: 0, offset: 1, value: 'v0' },
  ];
  const report = checkHistory(sends, reads);
  t.equal(report.totals.attempts, 2);
  t.equal(report.totals.sent, 1);
  t.equal(report.totals.acknowledged, 1);
  t.equal(report.duplicates.count, 1);
  t.same(report.duplicates.examples[0], { value: 'v0', at: ['0@0', '0@1'] });
  t.ok(report.duplicatesAllowed);
  t.equal(report.unacknowledgedPresent.count, 0, 'one acknowledged attempt makes the value acknowledged');
  t.equal(report.ackOffsetMismatch.count, 0, 'the value was read at its acknowledged offset');
  t.equal(report.violations, 0);
  t.match(report.summary(), /duplicates 1 \(allowed\)/);
});

t.test('duplicates are violations for an idempotent producer', async (t) => {
  const sends = ackedRun(5);
  const reads = [...readAll(sends), { consumer: 'c0', partition: 0, offset: 5, value: 'p0-0-2' }];
  const lenient = checkHistory(sends, reads);
  t.equal(lenient.duplicates.count, 1);
  t.equal(lenient.violations, 0);
  const strict = checkHistory(sends, reads, { idempotent: true });
  t.equal(strict.duplicates.count, 1);
  t.notOk(strict.duplicatesAllowed);
  t.equal(strict.violations, 1);
  t.notMatch(strict.summary(), /allowed/);
});

t.test('re-reading the same offset from two consumers is not a duplicate', async (t) => {
  const sends = ackedRun(5);
  const report = checkHistory(sends, [...readAll(sends, 'a'), ...readAll(sends, 'b')], { idempotent: true });
  t.equal(report.duplicates.count, 0);
  t.equal(report.violations, 0);
});

t.test('one offset read with two different values is a conflict', async (t) => {
  const sends = [...ackedRun(5), { value: 'other', partition: 0, acked: false }];
  const reads = [...readAll(sends, 'a'), { consumer: 'b', partition: 0, offset: 3, value: 'other' }];
  const report = checkHistory(sends, reads);
  t.equal(report.offsetConflicts.count, 1);
  t.same(report.offsetConflicts.examples[0], { topic: '', partition: 0, offset: 3, values: ['p0-0-3', 'other'] });
  t.equal(report.unacknowledgedPresent.count, 1);
  t.equal(report.violations, 1);
});

t.test('offsets going backwards for one consumer without a seek', async (t) => {
  const sends = ackedRun(6);
  const r = readAll(sends, 'c');
  // c reads 0,1,2,3 then 2 again (no seek), then 4,5; a re-read of the same offset counts too.
  const reads: ReadRecord[] = [r[0], r[1], r[2], r[3], r[2], r[4], r[4], r[5]];
  const report = checkHistory(sends, reads);
  t.equal(report.backwards.count, 2);
  t.same(report.backwards.examples[0], { consumer: 'c', topic: '', partition: 0, from: 3, to: 2, index: 4 });
  t.same(report.backwards.examples[1], { consumer: 'c', topic: '', partition: 0, from: 4, to: 4, index: 6 });
  t.equal(report.duplicates.count, 0);
  t.equal(report.violations, 2);

  // The same with the seeks declared is clean.
  const seeked = reads.map((x, i) => (i === 4 || i === 6 ? { ...x, afterSeek: true } : x));
  t.equal(checkHistory(sends, seeked).violations, 0);

  // Offsets are per consumer and per partition: interleaving partitions or consumers is fine.
  const two = [...ackedRun(3, 0), ...ackedRun(3, 1)];
  const a = readAll(two, 'a');
  const b = readAll(two, 'b');
  const interleaved = [a[3], a[0], b[0], a[4], a[1], b[1], a[5], a[2], b[2]];
  t.equal(checkHistory(two, interleaved, { finalReadComplete: false }).backwards.count, 0);
});

t.test('a value read that was never sent is a phantom', async (t) => {
  const sends = ackedRun(3);
  const reads = [...readAll(sends), { consumer: 'c0', partition: 0, offset: 3, value: 'ghost' }];
  const report = checkHistory(sends, reads);
  t.equal(report.phantomNeverSent.count, 1);
  t.same(report.phantomNeverSent.examples[0], { value: 'ghost', topic: '', partition: 0, offset: 3 });
  t.equal(report.unacknowledgedPresent.count, 0);
  t.equal(report.violations, 1);
});

t.test('an acknowledged offset that disagrees with where the value was read', async (t) => {
  const sends = ackedRun(4);
  // The broker acknowledged p0-0-1 at 1 and p0-0-2 at 2, but they sit the other way round.
  const reads: ReadRecord[] = [
    { consumer: 'c', partition: 0, offset: 0, value: 'p0-0-0' },
    { consumer: 'c', partition: 0, offset: 1, value: 'p0-0-2' },
    { consumer: 'c', partition: 0, offset: 2, value: 'p0-0-1' },
    { consumer: 'c', partition: 0, offset: 3, value: 'p0-0-3' },
  ];
  const report = checkHistory(sends, reads);
  t.equal(report.ackOffsetMismatch.count, 2);
  t.same(report.ackOffsetMismatch.examples[0], { value: 'p0-0-1', topic: '', partition: 0, ackedOffset: 1, readAt: ['0@2'], atAckedOffset: 'p0-0-2' });
  t.equal(report.lost.count, 0);
  t.equal(report.violations, 2);

  // Read in another partition than acknowledged, acked offset never read: still a mismatch.
  const moved = checkHistory([{ value: 'x', partition: 0, acked: true, offset: 0 }], [{ consumer: 'c', partition: 1, offset: 0, value: 'x' }]);
  t.equal(moved.ackOffsetMismatch.count, 1);
  t.same(moved.ackOffsetMismatch.examples[0].readAt, ['1@0']);
  t.equal(moved.ackOffsetMismatch.examples[0].atAckedOffset, undefined);
});

t.test('topics keep their partitions apart', async (t) => {
  const sends: SendAttempt[] = [
    { topic: 'a', value: 'a0', partition: 0, acked: true, offset: 0 },
    { topic: 'b', value: 'b0', partition: 0, acked: true, offset: 0 },
  ];
  const reads: ReadRecord[] = [
    { consumer: 'c', topic: 'a', partition: 0, offset: 0, value: 'a0' },
    { consumer: 'c', topic: 'b', partition: 0, offset: 0, value: 'b0' },
  ];
  const report = checkHistory(sends, reads, { idempotent: true });
  t.equal(report.violations, 0, report.details());
  t.equal(report.totals.distinctOffsetsRead, 2);
});

t.test('examples are bounded, counts are not; violations add up', async (t) => {
  const sends = ackedRun(100);
  const reads: ReadRecord[] = [{ consumer: 'c', partition: 0, offset: 0, value: 'p0-0-0' }, { consumer: 'c', partition: 0, offset: 1, value: 'nobody' }];
  const report = checkHistory(sends, reads, { maxExamples: 3 });
  t.equal(report.lost.count, 99);
  t.equal(report.lost.examples.length, 3);
  t.equal(report.phantomNeverSent.count, 1);
  t.equal(report.violations, 100);
  t.notOk(report.ok);
  t.match(report.details(), /lost: 99 \(first 3\)/);
});
