// api/ room: where Fetch requests wait for data (Kafka's delayed fetch purgatory). Bounded: beyond
// spool.fetch.purgatory.max.requests waiters a fetch is answered at once with what it has.
import type { Log } from '../log/index.js';

interface Waiter {
  complete: () => void;
}

export class FetchPurgatory {
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(private readonly maxWaiters: number) {}

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Resolves when `isSatisfied()` turns true after an append to one of `logs`, after `maxWaitMs`,
   * or at shutdown — whichever comes first.
   */
  wait(logs: Log[], maxWaitMs: number, isSatisfied: () => boolean): Promise<void> {
    if (this.closed || maxWaitMs <= 0 || this.waiters.size >= this.maxWaiters) return Promise.resolve();
    return new Promise((resolve) => {
      const unsubscribers: Array<() => void> = [];
      let checkScheduled = false;
      const waiter: Waiter = {
        complete: () => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          for (const unsubscribe of unsubscribers) unsubscribe();
          resolve();
        },
      };
      const timer = setTimeout(waiter.complete, maxWaitMs);
      // Many appends in one tick wake the waiter once.
      const onAppend = (): void => {
        if (checkScheduled) return;
        checkScheduled = true;
        setImmediate(() => {
          checkScheduled = false;
          if (this.waiters.has(waiter) && isSatisfied()) waiter.complete();
        });
      };
      for (const log of new Set(logs)) unsubscribers.push(log.onAppend(onAppend));
      this.waiters.add(waiter);
    });
  }

  /** Answers every waiting fetch now (broker shutdown). */
  shutdown(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.complete();
  }
}
