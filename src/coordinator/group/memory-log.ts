// coordinator/group room: an in-memory OffsetsLog and a manually advanced Clock, for unit tests and
// simulations of the coordinator without a broker.
import type { Clock, OffsetsLog, OffsetsRecord, TimerHandle } from './ports.js';

export class MemoryOffsetsLog implements OffsetsLog {
  readonly partitions: OffsetsRecord[][];
  /** When set, the next append rejects with it (fault injection). */
  failNextAppend: Error | null = null;

  constructor(readonly numPartitions = 50) {
    this.partitions = Array.from({ length: numPartitions }, () => []);
  }

  append(partition: number, records: OffsetsRecord[]): Promise<void> {
    if (partition < 0 || partition >= this.numPartitions) return Promise.reject(new RangeError(`no partition ${partition}`));
    const failure = this.failNextAppend;
    if (failure !== null) {
      this.failNextAppend = null;
      return Promise.reject(failure);
    }
    this.partitions[partition]!.push(...records.map((r) => ({ key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) })));
    return Promise.resolve();
  }

  read(partition: number): Iterable<OffsetsRecord> {
    return this.partitions[partition]!;
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
