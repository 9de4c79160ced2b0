// coordinator/runtime room: an in-memory CoordinatorPartitionLog and a manually advanced Clock, for
// unit tests and simulations of coordinators without a broker. Appends can be failed or held, so a
// test can show what a coordinator does before and after its write is committed.
import { assert } from '../../errors.js';
import type { Clock, CoordinatorLogEntry, CoordinatorPartitionLog, CoordinatorRecord, TimerHandle, TransactionalProducer, TransactionMarker } from './ports.js';

/** A stored entry: a record (with its transaction) or, with an empty key, a marker. */
export type StoredEntry = CoordinatorRecord & { txn?: TransactionalProducer; marker?: TransactionMarker };

interface HeldAppend {
  partition: number;
  records: StoredEntry[];
  resolve(r: { lastOffset: number }): void;
  reject(err: unknown): void;
}

export class MemoryPartitionLog implements CoordinatorPartitionLog {
  /** Committed records (and markers, with an empty key) per partition, oldest first. */
  readonly partitions: StoredEntry[][];
  /** Leader epoch of every append call, in call order (held and failed ones included). */
  readonly appendEpochs: Array<{ partition: number; leaderEpoch: number }> = [];
  /** When set, the next append rejects with it (fault injection). */
  failNextAppend: Error | null = null;
  /** When true, appends wait (uncommitted, unreadable) until releaseHeld() or failHeld(). */
  holdAppends = false;
  /** Appends to these partitions wait as with holdAppends. */
  readonly heldPartitions = new Set<number>();
  private held: HeldAppend[] = [];

  constructor(readonly numPartitions = 50) {
    this.partitions = Array.from({ length: numPartitions }, () => []);
  }

  appendMarker(partition: number, leaderEpoch: number, marker: TransactionMarker): Promise<void> {
    return this.append(partition, leaderEpoch, [{ key: Buffer.alloc(0), value: null, marker: { ...marker } }]).then(() => undefined);
  }

  append(partition: number, leaderEpoch: number, records: StoredEntry[], txn?: TransactionalProducer): Promise<{ lastOffset: number }> {
    if (partition < 0 || partition >= this.numPartitions) return Promise.reject(new RangeError(`no partition ${partition}`));
    this.appendEpochs.push({ partition, leaderEpoch });
    const failure = this.failNextAppend;
    if (failure !== null) {
      this.failNextAppend = null;
      return Promise.reject(failure);
    }
    const copies: StoredEntry[] = records.map((r) => ({
      key: Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      ...(txn !== undefined ? { txn: { ...txn } } : {}),
      ...(r.marker !== undefined ? { marker: r.marker } : {}),
    }));
    if (this.holdAppends || this.heldPartitions.has(partition)) {
      return new Promise((resolve, reject) => this.held.push({ partition, records: copies, resolve, reject }));
    }
    return Promise.resolve(this.commit(partition, copies));
  }

  /** Appends waiting because of holdAppends. */
  get heldAppends(): number {
    return this.held.length;
  }

  /** Commits the held appends (of `partition`, or all), in order, and stops holding them. */
  releaseHeld(partition?: number): void {
    for (const h of this.takeHeld(partition)) h.resolve(this.commit(h.partition, h.records));
  }

  /** Fails the held appends (of `partition`, or all) with `err`: nothing is written. Stops holding them. */
  failHeld(err: Error, partition?: number): void {
    for (const h of this.takeHeld(partition)) h.reject(err);
  }

  private takeHeld(partition: number | undefined): HeldAppend[] {
    if (partition === undefined) {
      this.holdAppends = false;
      this.heldPartitions.clear();
    } else {
      this.heldPartitions.delete(partition);
    }
    const taken = this.held.filter((h) => partition === undefined || h.partition === partition);
    this.held = this.held.filter((h) => !taken.includes(h));
    return taken;
  }

  read(partition: number): Iterable<CoordinatorLogEntry> {
    assert(partition >= 0 && partition < this.numPartitions, 'no such partition', { partition, numPartitions: this.numPartitions });
    // A snapshot: records committed while a shard loads are not part of that load.
    return this.partitions[partition].map((e): CoordinatorLogEntry => (e.marker !== undefined ? { marker: e.marker } : e));
  }

  private commit(partition: number, records: StoredEntry[]): { lastOffset: number } {
    const log = this.partitions[partition];
    log.push(...records);
    return { lastOffset: log.length - 1 };
  }
}

interface ScheduledTask {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private seq = 0;
  private tasks: ScheduledTask[] = [];

  constructor(private current = 1_700_000_000_000) {}

  now(): number {
    return this.current;
  }

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const task: ScheduledTask = { due: this.current + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.tasks.push(task);
    return { cancel: () => (task.cancelled = true) };
  }

  get pendingTimers(): number {
    return this.tasks.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward, firing due timers in order (including ones they schedule), at most 100 000. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let i = 0; i < 100_000; i++) {
      this.tasks = this.tasks.filter((t) => !t.cancelled);
      let next: ScheduledTask | undefined;
      for (const t of this.tasks) if (t.due <= target && (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      if (next === undefined) {
        this.current = target;
        return;
      }
      this.current = next.due;
      next.cancelled = true;
      next.fn();
    }
    throw new Error('ManualClock.advance: more than 100000 timers fired; a timer reschedules itself at zero delay');
  }
}
