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
   * Resolves once the high watermark reached `requiredOffset` with at least `minInsyncReplicas` in
   * the ISR (Kafka's checkEnoughReplicasReachOffset). Rejects with NOT_ENOUGH_REPLICAS_AFTER_APPEND
   * when the high watermark got there only because the ISR shrank below it, REQUEST_TIMED_OUT after
   * `timeoutMs` (the producer's request timeout) or when the purgatory is full, and
   * NOT_LEADER_OR_FOLLOWER when leadership changed meanwhile.
   */
  async waitForHighWatermark(partition: Partition, requiredOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<void> {
    const leaderEpoch = partition.leaderEpoch;
    const where = { topic: partition.topic, partition: partition.index };
    const deposed = (): boolean => partition.leaderEpoch !== leaderEpoch || !partition.isLeader;
    const done = (): boolean => partition.highWatermark >= requiredOffset || deposed();
    if (!done() && this.isFull) {
      throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `Too many requests waiting for replication (${this.maxWaiters})`, where);
    }
    await this.wait([partition], timeoutMs, done);
    if (deposed()) {
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `Leadership of ${partition.topic}-${partition.index} changed while waiting for replication`, where);
    }
    if (partition.highWatermark < requiredOffset) {
      throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `Replication of offset ${requiredOffset - 1} did not complete within ${timeoutMs} ms`, where);
    }
    if (partition.isr.length < minInsyncReplicas) {
      throw new KafkaError(
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        `The ISR [${partition.isr.join(', ')}] shrank below min.insync.replicas ${minInsyncReplicas} after the append`,
        where,
      );
    }
  }
}
