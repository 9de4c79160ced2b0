// replication/ room: idempotent producers' recent batches on one partition (Kafka's
// ProducerStateManager, in memory for now): duplicates of the last 5 batches are answered with
// their original offsets instead of being written twice.
import type { BatchSummary } from '../storage/engine.js';

/** An idempotent producer's recent batch on this partition. */
export interface ProducerBatchMetadata {
  firstSequence: number;
  lastSequence: number;
  firstOffset: number;
  lastOffset: number;
}

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the max.in.flight a producer may use. */
const BATCHES_PER_PRODUCER = 5;
/** Bound on tracked producers per partition; the least recently written are forgotten first. */
const MAX_TRACKED_PRODUCERS = 10000;

export class ProducerStateManager {
  private readonly producers = new Map<number, { epoch: number; batches: ProducerBatchMetadata[] }>();

  get producerCount(): number {
    return this.producers.size;
  }

  /** Records the idempotent batches of an append (from the engine's summaries). */
  update(batches: readonly BatchSummary[]): void {
    for (const b of batches) {
      if (b.producerId < 0 || b.baseSequence < 0) continue;
      let entry = this.producers.get(b.producerId);
      if (entry?.epoch !== b.producerEpoch) entry = { epoch: b.producerEpoch, batches: [] };
      this.producers.delete(b.producerId); // re-insert: Map order = least recently written first
      this.producers.set(b.producerId, entry);
      entry.batches.push({ firstSequence: b.baseSequence, lastSequence: b.baseSequence + b.recordCount - 1, firstOffset: b.baseOffset, lastOffset: b.lastOffset });
      if (entry.batches.length > BATCHES_PER_PRODUCER) entry.batches.shift();
      const oldest = this.producers.keys().next();
      if (this.producers.size > MAX_TRACKED_PRODUCERS && oldest.done !== true) this.producers.delete(oldest.value);
    }
  }

  /** A retried batch this partition already holds: its original offsets, else null. */
  findDuplicate(producerId: number, producerEpoch: number, firstSequence: number, lastSequence: number): ProducerBatchMetadata | null {
    const entry = this.producers.get(producerId);
    if (entry?.epoch !== producerEpoch) return null;
    return entry.batches.find((b) => b.firstSequence === firstSequence && b.lastSequence === lastSequence) ?? null;
  }

  /** Forgets everything at or after `offset` (the log was truncated there). */
  truncateTo(offset: number): void {
    for (const [id, entry] of this.producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset);
      if (entry.batches.length === 0) this.producers.delete(id);
    }
  }
}
