// test helpers: the history checker of the fault tests, in the spirit of Jepsen's Kafka checks.
// A test records the producer side (every send attempt: value, key, partition, acknowledged or
// not, the acknowledged offset) and the consumer side (every record read: consumer, partition,
// offset, value), then asks checkHistory() what went wrong:
//
//   lost               acknowledged, never read (the final reads covered every partition); with
//                      finalReadComplete: false only those below the highest offset read in their
//                      partition — the rest are `unseen`, not violations
//   duplicates         one value at two or more (partition, offset)s; a violation only when the
//                      producer was idempotent (a non-idempotent producer's retries may duplicate)
//   offsetConflicts    one (partition, offset) read with two different values
//   backwards          one consumer's offsets in a partition not strictly increasing without a seek
//   phantomNeverSent   a value read that no send attempt had
//   unacknowledgedPresent  a value read whose every attempt failed or timed out: allowed (Kafka may
//                      commit a write it could not acknowledge), counted
//   ackOffsetMismatch  acknowledged at (p, o), read, but not at (p, o): elsewhere (and (p, o) held
//                      another value or was not read). A value never read is only `lost`.
//
// violations = lost + offsetConflicts + backwards + phantomNeverSent + ackOffsetMismatch
//              (+ duplicates when idempotent).

/** One send attempt. A value is unique per record; retries of one record repeat its value. */
export interface SendAttempt {
  value: string;
  partition: number;
  /** The topic (default ''): partitions of different topics are different partitions. */
  topic?: string;
  key?: string | null;
  /** Which producer sent it (for examples only). */
  producer?: string | number;
  /** True when the broker acknowledged the write. */
  acked: boolean;
  /** The offset the acknowledgement gave (when acked). */
  offset?: number;
}

/** One record as a consumer read it. */
export interface ReadRecord {
  /** Which consumer (or consumer session) read it: offsets are checked per consumer and partition. */
  consumer: string | number;
  partition: number;
  topic?: string;
  offset: number;
  value: string;
  key?: string | null;
  /**
   * This read follows a seek, a rebalance or a restart of the consumer on this partition:
   * it is not compared with the consumer's previous offset.
   */
  afterSeek?: boolean;
}

export interface HistoryOptions {
  /** The producer was idempotent: duplicates are violations. Default false. */
  idempotent?: boolean;
  /**
   * The reads include a read of every partition from its start to its end after the writes
   * stopped, so an acknowledged value never read is lost. Default true. With false, an
   * acknowledged value never read is lost only when some read reached past its acknowledged offset.
   */
  finalReadComplete?: boolean;
  /** Examples kept per anomaly (default 10). */
  maxExamples?: number;
}

export interface Anomalies<T> {
  count: number;
  examples: T[];
}

export interface LostWrite {
  value: string;
  topic: string;
  partition: number;
  ackedOffset?: number;
  /** What the reads found at the acknowledged offset, when it was read. */
  atAckedOffset?: string;
  producer?: string | number;
}

export interface Duplicate {
  value: string;
  /** Every place the value was read at, "topic/partition@offset" or "partition@offset". */
  at: string[];
}

export interface OffsetConflict {
  topic: string;
  partition: number;
  offset: number;
  values: string[];
}

export interface BackwardsRead {
  consumer: string | number;
  topic: string;
  partition: number;
  from: number;
  to: number;
  /** Index of the read in the reads array. */
  index: number;
}

export interface PhantomRead {
  value: string;
  topic: string;
  partition: number;
  offset: number;
}

export interface AckOffsetMismatch {
  value: string;
  topic: string;
  partition: number;
  ackedOffset: number;
  /** Where the value was read (may be empty when only the acked offset was read, holding another value). */
  readAt: string[];
  /** The value read at the acknowledged offset, when that offset was read. */
  atAckedOffset?: string;
}

export interface HistoryTotals {
  /** Send attempts. */
  attempts: number;
  /** Distinct values sent. */
  sent: number;
  /** Distinct values acknowledged (at least one attempt). */
  acknowledged: number;
  /** Records read, repeats included. */
  read: number;
  /** Distinct (partition, offset)s read. */
  distinctOffsetsRead: number;
  /** Distinct values read. */
  distinctValuesRead: number;
}

export interface HistoryReport {
  totals: HistoryTotals;
  lost: Anomalies<LostWrite>;
  /** Acknowledged, never read, above everything read in its partition (finalReadComplete: false only). */
  unseen: Anomalies<LostWrite>;
  duplicates: Anomalies<Duplicate>;
  /** True when duplicates were not counted as violations (producer not idempotent). */
  duplicatesAllowed: boolean;
  offsetConflicts: Anomalies<OffsetConflict>;
  backwards: Anomalies<BackwardsRead>;
  phantomNeverSent: Anomalies<PhantomRead>;
  unacknowledgedPresent: Anomalies<PhantomRead>;
  ackOffsetMismatch: Anomalies<AckOffsetMismatch>;
  violations: number;
  ok: boolean;
  /** One line: totals, the violations by kind, the allowed anomalies. */
  summary(): string;
  /** Multi-line: the summary and the examples of every non-empty anomaly. */
  details(): string;
}

class Collector<T> implements Anomalies<T> {
  count = 0;
  examples: T[] = [];
  constructor(private readonly max: number) {}
  add(item: T): void {
    this.count++;
    if (this.examples.length < this.max) this.examples.push(item);
  }
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function place(topic: string, partition: number, offset: number): string {
  return topic === '' ? `${partition}@${offset}` : `${topic}/${partition}@${offset}`;
}

interface ValueInfo {
  topic: string;
  partition: number;
  producer?: string | number;
  acked: boolean;
  /** Distinct acknowledged offsets (an app-level retry may be acknowledged twice). */
  ackedOffsets: number[];
}

interface OffsetCell {
  topic: string;
  partition: number;
  offset: number;
  values: Set<string>;
}

export function checkHistory(sends: readonly SendAttempt[], reads: readonly ReadRecord[], options: HistoryOptions = {}): HistoryReport {
  const idempotent = options.idempotent ?? false;
  const finalReadComplete = options.finalReadComplete ?? true;
  const max = options.maxExamples ?? 10;

  // Producer side, by value.
  const sent = new Map<string, ValueInfo>();
  for (const s of sends) {
    const topic = s.topic ?? '';
    let info = sent.get(s.value);
    if (info === undefined) {
      info = { topic, partition: s.partition, producer: s.producer, acked: false, ackedOffsets: [] };
      sent.set(s.value, info);
    }
    if (s.acked) {
      info.acked = true;
      // An acknowledged attempt says where the value went.
      info.topic = topic;
      info.partition = s.partition;
      if (s.offset !== undefined && s.offset >= 0 && !info.ackedOffsets.includes(s.offset)) info.ackedOffsets.push(s.offset);
    }
  }

  // Consumer side: what each (partition, offset) held, where each value was read, the frontier.
  const cells = new Map<string, OffsetCell>();
  const valueAt = new Map<string, Set<string>>(); // value → cell keys
  const maxReadOffset = new Map<string, number>(); // tp → highest offset read
  const lastOffset = new Map<string, number>(); // consumer + tp → last offset read
  const backwards = new Collector<BackwardsRead>(max);
  reads.forEach((r, index) => {
    const topic = r.topic ?? '';
    const tp = tpKey(topic, r.partition);
    const cellKey = `${tp}\u0000${r.offset}`;
    let cell = cells.get(cellKey);
    if (cell === undefined) {
      cell = { topic, partition: r.partition, offset: r.offset, values: new Set() };
      cells.set(cellKey, cell);
    }
    cell.values.add(r.value);
    let at = valueAt.get(r.value);
    if (at === undefined) {
      at = new Set();
      valueAt.set(r.value, at);
    }
    at.add(cellKey);
    maxReadOffset.set(tp, Math.max(maxReadOffset.get(tp) ?? -1, r.offset));

    const consumerKey = `${String(r.consumer)}\u0000${tp}`;
    const prev = lastOffset.get(consumerKey);
    if (prev !== undefined && r.afterSeek !== true && r.offset <= prev) {
      backwards.add({ consumer: r.consumer, topic, partition: r.partition, from: prev, to: r.offset, index });
    }
    lastOffset.set(consumerKey, r.offset);
  });

  const offsetConflicts = new Collector<OffsetConflict>(max);
  for (const cell of cells.values()) {
    if (cell.values.size > 1) offsetConflicts.add({ topic: cell.topic, partition: cell.partition, offset: cell.offset, values: [...cell.values] });
  }

  const duplicates = new Collector<Duplicate>(max);
  const phantomNeverSent = new Collector<PhantomRead>(max);
  const unacknowledgedPresent = new Collector<PhantomRead>(max);
  for (const [value, at] of valueAt) {
    const cellsOfValue = [...at].map((k) => cells.get(k)).filter((c): c is OffsetCell => c !== undefined);
    if (at.size > 1) duplicates.add({ value, at: cellsOfValue.map((c) => place(c.topic, c.partition, c.offset)) });
    const first = cellsOfValue[0];
    const info = sent.get(value);
    if (info === undefined) phantomNeverSent.add({ value, topic: first.topic, partition: first.partition, offset: first.offset });
    else if (!info.acked) unacknowledgedPresent.add({ value, topic: first.topic, partition: first.partition, offset: first.offset });
  }

  const lost = new Collector<LostWrite>(max);
  const unseen = new Collector<LostWrite>(max);
  const ackOffsetMismatch = new Collector<AckOffsetMismatch>(max);
  let acknowledged = 0;
  for (const [value, info] of sent) {
    if (!info.acked) continue;
    acknowledged++;
    const tp = tpKey(info.topic, info.partition);
    const at = valueAt.get(value);
    if (at === undefined) {
      const w: LostWrite = { value, topic: info.topic, partition: info.partition, producer: info.producer };
      if (info.ackedOffsets.length > 0) {
        w.ackedOffset = Math.min(...info.ackedOffsets);
        const cell = cells.get(`${tp}\u0000${w.ackedOffset}`);
        if (cell !== undefined) w.atAckedOffset = [...cell.values].join(' | ');
      }
      const frontier = maxReadOffset.get(tp) ?? -1;
      // Without a complete final read, a write is lost when reads went past it: past its acked
      // offset, or (offset unknown) past anything at all in its partition.
      const passed = w.ackedOffset !== undefined ? frontier > w.ackedOffset : frontier >= 0;
      if (finalReadComplete || passed) lost.add(w);
      else unseen.add(w);
    }
    for (const offset of info.ackedOffsets) {
      const cell = cells.get(`${tp}\u0000${offset}`);
      if (at === undefined) break; // never read anywhere: lost (or unseen), counted above
      if (cell?.values.has(value) === true) continue;
      const readAt = [...at].map((k) => cells.get(k)).filter((c): c is OffsetCell => c !== undefined).map((c) => place(c.topic, c.partition, c.offset));
      const m: AckOffsetMismatch = { value, topic: info.topic, partition: info.partition, ackedOffset: offset, readAt };
      if (cell !== undefined) m.atAckedOffset = [...cell.values].join(' | ');
      ackOffsetMismatch.add(m);
    }
  }

  const violations =
    lost.count + offsetConflicts.count + backwards.count + phantomNeverSent.count + ackOffsetMismatch.count + (idempotent ? duplicates.count : 0);
  const totals: HistoryTotals = {
    attempts: sends.length,
    sent: sent.size,
    acknowledged,
    read: reads.length,
    distinctOffsetsRead: cells.size,
    distinctValuesRead: valueAt.size,
  };
  const summary = (): string =>
    `${totals.sent} sent (${totals.attempts} attempts), ${totals.acknowledged} acknowledged, ${totals.read} read ` +
    `(${totals.distinctOffsetsRead} offsets, ${totals.distinctValuesRead} values): ${violations} violation(s) — ` +
    `lost ${lost.count}, duplicates ${duplicates.count}${idempotent ? '' : ' (allowed)'}, offset conflicts ${offsetConflicts.count}, ` +
    `backwards ${backwards.count}, never sent ${phantomNeverSent.count}, ack-offset mismatch ${ackOffsetMismatch.count}; ` +
    `unacknowledged but present ${unacknowledgedPresent.count}${finalReadComplete ? '' : `, unseen ${unseen.count}`}`;
  const report: HistoryReport = {
    totals,
    lost,
    unseen,
    duplicates,
    duplicatesAllowed: !idempotent,
    offsetConflicts,
    backwards,
    phantomNeverSent,
    unacknowledgedPresent,
    ackOffsetMismatch,
    violations,
    ok: violations === 0,
    summary,
    details() {
      const lines = [summary()];
      const sections: Array<[string, Anomalies<unknown>]> = [
        ['lost', lost],
        ['unseen', unseen],
        ['duplicates', duplicates],
        ['offset conflicts', offsetConflicts],
        ['backwards', backwards],
        ['never sent', phantomNeverSent],
        ['unacknowledged but present', unacknowledgedPresent],
        ['ack-offset mismatch', ackOffsetMismatch],
      ];
      for (const [name, a] of sections) {
        if (a.count === 0) continue;
        lines.push(`${name}: ${a.count}${a.count > a.examples.length ? ` (first ${a.examples.length})` : ''}`);
        for (const e of a.examples) lines.push(`  ${JSON.stringify(e)}`);
      }
      return lines.join('\n');
    },
  };
  return report;
}
