// replication/ room: where requests wait (Kafka's delayed-operation purgatories). Fetches wait for
// data (a partition's high watermark or log end offset moved); acks=all produces wait for the
// high watermark to pass their last offset. Both are bounded: past the bound a fetch is answered
// at once with what it has, and a produce is refused rather than queued without limit.
import { ErrorCode, KafkaError } from '../errors.js';
import type { Partition } from './partition.js';

interface Waiter {
  complete: () => void;
}

/** Waiters on partitions' changes: completion check, timeout, shutdown. */
class Purgatory {
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(readonly maxWaiters: number) {}

  get size(): number {
    return this.waiters.size;
  }

  get isFull(): boolean {
    return this.closed || this.waiters.size >= this.maxWaiters;
  }

  /**
   * Resolves true when `isSatisfied()` turns true after a change of one of `partitions`, false
   * after `maxWaitMs` or at shutdown — whichever comes first.
   */
  wait(partitions: Partition[], maxWaitMs: number, isSatisfied: () => boolean): Promise<boolean> {
    if (isSatisfied()) return Promise.resolve(true);
    if (this.isFull || maxWaitMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const unsubscribers: Array<() => void> = [];
      let checkScheduled = false;
      let satisfied = false;
      const waiter: Waiter = {
        complete: () => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          for (const unsubscribe of unsubscribers) unsubscribe();
          resolve(satisfied);
        },
      };
      const timer = setTimeout(waiter.complete, maxWaitMs);
      // Many appends in one tick wake the waiter once.
      const onChange = (): void => {
        if (checkScheduled) return;
        checkScheduled = true;
        setImmediate(() => {
          checkScheduled = false;
          if (this.waiters.has(waiter) && isSatisfied()) {
            satisfied = true;
            waiter.complete();
          }
        });
      };
      for (const partition of new Set(partitions)) unsubscribers.push(partition.onChange(onChange));
      this.waiters.add(waiter);
    });
  }

  /** Answers every waiter now (broker shutdown). */
  shutdown(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.complete();
  }
}

/** Fetch long polls (fetch.max.wait.ms from the client; bounded by spool.fetch.purgatory.max.requests). */
export class FetchPurgatory extends Purgatory {}

/** acks=all produces and coordinator writes waiting for the ISR (the high watermark). */
export class ProducePurgatory extends Purgatory {
  /**
   * Resolves once the high watermark reached `requiredOffset`; rejects with REQUEST_TIMED_OUT
   * after `timeoutMs` (Kafka's request.timeout.ms from the producer) or when the purgatory is
   * full, and with NOT_LEADER_OR_FOLLOWER when leadership was lost meanwhile.
   */
  async waitForHighWatermark(partition: Partition, requiredOffset: number, timeoutMs: number): Promise<void> {
    const leaderEpoch = partition.leaderEpoch;
    const done = (): boolean => partition.highWatermark >= requiredOffset || partition.leaderEpoch !== leaderEpoch || !partition.isLeader;
    if (!done() && this.isFull) {
      throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `Too many requests waiting for replication (${this.maxWaiters})`, { topic: partition.topic, partition: partition.index });
    }
    await this.wait([partition], timeoutMs, done);
    if (partition.leaderEpoch !== leaderEpoch || !partition.isLeader) {
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `Leadership of ${partition.topic}-${partition.index} changed while waiting for replication`);
    }
    if (partition.highWatermark < requiredOffset) {
      throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `Replication of offset ${requiredOffset - 1} did not complete within ${timeoutMs} ms`, {
        topic: partition.topic,
        partition: partition.index,
      });
    }
  }
}
