// coordinator/share room: one share-partition (KIP-932) as its partition leader keeps it: the
// share-partition start offset (SPSO), the in-flight window of records above it, and for each
// in-flight offset its delivery state, delivery count, and (while acquired) the member holding
// it and its acquisition-lock deadline. Kafka's SharePartition, written for Spool, tracking
// state per offset: the window is bounded by group.share.partition.max.record.locks, so the
// map never holds more than that many acquired-or-pending offsets.
//
// Transitions: AVAILABLE --acquire--> ACQUIRED (delivery count + 1, lock starts);
// ACQUIRED --ACCEPT--> ACKNOWLEDGED; --RELEASE or lock expiry--> AVAILABLE, or ARCHIVED once the
// delivery count reached group.share.delivery.count.limit; --REJECT--> ARCHIVED. The start
// offset moves up over the leading ACKNOWLEDGED/ARCHIVED offsets, which are then forgotten.
import { ErrorCode, KafkaError } from '../../errors.js';

export const RecordState = { AVAILABLE: 0, ACQUIRED: 1, ACKNOWLEDGED: 2, ARCHIVED: 4 } as const;
export type RecordState = (typeof RecordState)[keyof typeof RecordState];

/** Acknowledge types on the wire (ShareFetch/ShareAcknowledge AcknowledgeTypes). */
export const AcknowledgeType = { GAP: 0, ACCEPT: 1, RELEASE: 2, REJECT: 3, RENEW: 4 } as const;

export interface SharePartitionConfig {
  /** group.share.record.lock.duration.ms */
  lockDurationMs: number;
  /** group.share.delivery.count.limit */
  deliveryCountLimit: number;
  /** group.share.partition.max.record.locks */
  maxRecordLocks: number;
}

/**
 * A share-partition's settings: fixed, or read live (a group's dynamic configs) once per
 * operation — one snapshot serves every record the operation touches.
 */
export type SharePartitionSettings = SharePartitionConfig | (() => SharePartitionConfig);

/** A contiguous run of offsets with one state and delivery count (persisted state, Kafka's StateBatch). */
export interface StateBatch {
  firstOffset: number;
  lastOffset: number;
  deliveryState: number;
  deliveryCount: number;
}

/** What the durable state holds for a share-partition (ShareSnapshotValue's essentials). */
export interface PersistedShareState {
  stateEpoch: number;
  startOffset: number;
  stateBatches: StateBatch[];
}

export interface AcquiredRange {
  firstOffset: number;
  lastOffset: number;
  deliveryCount: number;
}

/** A record batch read from the log: its offsets, and whether it is a control batch (a marker). */
export interface FetchedBatch {
  baseOffset: number;
  lastOffset: number;
  isControl?: boolean;
}

export interface AcknowledgementBatch {
  firstOffset: number;
  lastOffset: number;
  /** One type for the whole range, or one per offset. */
  acknowledgeTypes: number[];
}

interface InFlight {
  state: RecordState;
  deliveryCount: number;
  memberId: string | null;
  lockExpiresAt: number;
}

export class SharePartition {
  private startOffsetValue: number;
  /** Offsets in [startOffset, endOffset) are in flight; endOffset is the next offset never acquired. */
  private endOffsetValue: number;
  private readonly inFlight = new Map<number, InFlight>();
  private stateEpochValue: number;
  private readonly settings: SharePartitionSettings;

  constructor(settings: SharePartitionSettings, initial: PersistedShareState) {
    this.settings = settings;
    const config = this.config;
    this.startOffsetValue = initial.startOffset;
    this.endOffsetValue = initial.startOffset;
    this.stateEpochValue = initial.stateEpoch;
    for (const b of initial.stateBatches) {
      for (let o = Math.max(b.firstOffset, initial.startOffset); o <= b.lastOffset; o++) {
        // An offset acquired when the state was written is available again (its lock is gone).
        // One whose delivery count reached the limit is not delivered again (the snapshot keeps an
        // acquired offset as AVAILABLE with its count).
        let state = b.deliveryState === RecordState.ACQUIRED ? RecordState.AVAILABLE : (b.deliveryState as RecordState);
        if (state === RecordState.AVAILABLE && b.deliveryCount >= config.deliveryCountLimit) state = RecordState.ARCHIVED;
        this.inFlight.set(o, { state, deliveryCount: b.deliveryCount, memberId: null, lockExpiresAt: 0 });
        if (o + 1 > this.endOffsetValue) this.endOffsetValue = o + 1;
      }
    }
    this.advanceStartOffset();
  }

  /** The settings now (a fresh snapshot of live ones): read once per operation. */
  get config(): SharePartitionConfig {
    return typeof this.settings === 'function' ? this.settings() : this.settings;
  }

  get startOffset(): number {
    return this.startOffsetValue;
  }

  get endOffset(): number {
    return this.endOffsetValue;
  }

  get stateEpoch(): number {
    return this.stateEpochValue;
  }

  /** Offsets currently acquired (for metrics and tests). */
  acquiredCount(): number {
    let n = 0;
    for (const r of this.inFlight.values()) if (r.state === RecordState.ACQUIRED) n++;
    return n;
  }

  stateOf(offset: number): { state: RecordState; deliveryCount: number; memberId: string | null } {
    if (offset < this.startOffsetValue) return { state: RecordState.ACKNOWLEDGED, deliveryCount: 0, memberId: null };
    const r = this.inFlight.get(offset);
    if (r === undefined) return { state: RecordState.AVAILABLE, deliveryCount: 0, memberId: null };
    return { state: r.state, deliveryCount: r.deliveryCount, memberId: r.memberId };
  }

  /**
   * The offset a fetch should read from: the lowest AVAILABLE in-flight offset, else the end of
   * the window; null when the window is full (max.record.locks) and nothing in it is available.
   */
  nextFetchOffset(): number | null {
    for (let o = this.startOffsetValue; o < this.endOffsetValue; o++) {
      const r = this.inFlight.get(o);
      if (r === undefined || r.state === RecordState.AVAILABLE) return o;
    }
    return this.endOffsetValue < this.startOffsetValue + this.config.maxRecordLocks ? this.endOffsetValue : null;
  }

  /**
   * Acquires for `memberId` the AVAILABLE offsets among the fetched batches (each [baseOffset,
   * lastOffset]), whole batches at a time until `maxRecords` are acquired (Kafka may exceed it to
   * keep batch boundaries), never past the in-flight limit. Returns the acquired runs.
   * `fetchOffset` is where the read started: offsets the batches skip (before the first one, or
   * between two — compacted away, or no records) have no record and are ARCHIVED, so the start
   * offset can move past them. Without it, only the gaps between batches are.
   */
  acquire(memberId: string, batches: readonly FetchedBatch[], maxRecords: number, now: number, fetchOffset?: number): AcquiredRange[] {
    const out: AcquiredRange[] = [];
    const config = this.config;
    const limit = this.startOffsetValue + config.maxRecordLocks;
    let acquired = 0;
    let cursor = fetchOffset ?? batches.at(0)?.baseOffset ?? 0;
    for (const batch of batches) {
      if (acquired >= maxRecords) break;
      this.archiveGap(cursor, Math.min(batch.baseOffset, limit));
      cursor = Math.max(cursor, batch.lastOffset + 1);
      for (let o = Math.max(batch.baseOffset, this.startOffsetValue); o <= batch.lastOffset && o < limit; o++) {
        let r = this.inFlight.get(o);
        if (r === undefined) {
          r = { state: RecordState.AVAILABLE, deliveryCount: 0, memberId: null, lockExpiresAt: 0 };
          this.inFlight.set(o, r);
          if (o >= this.endOffsetValue) this.endOffsetValue = o + 1;
        }
        if (r.state === RecordState.AVAILABLE && r.deliveryCount >= config.deliveryCountLimit) r.state = RecordState.ARCHIVED;
        if (r.state !== RecordState.AVAILABLE) continue;
        if (batch.isControl === true) {
          // A transaction marker is no record for a consumer: it is never delivered.
          r.state = RecordState.ARCHIVED;
          continue;
        }
        r.state = RecordState.ACQUIRED;
        r.deliveryCount++;
        r.memberId = memberId;
        r.lockExpiresAt = now + config.lockDurationMs;
        acquired++;
        const last = out.at(-1);
        if (last?.lastOffset === o - 1 && last.deliveryCount === r.deliveryCount) last.lastOffset = o;
        else out.push({ firstOffset: o, lastOffset: o, deliveryCount: r.deliveryCount });
      }
    }
    this.advanceStartOffset();
    return out;
  }

  /**
   * Applies a member's acknowledgements. Every offset must be ACQUIRED by `memberId`, else the
   * whole call fails with INVALID_RECORD_STATE and changes nothing (as Kafka validates first).
   * RENEW extends the lock. Returns whether durable state changed.
   */
  acknowledge(memberId: string, batches: readonly AcknowledgementBatch[], now: number): boolean {
    for (const b of batches) {
      if (b.lastOffset < b.firstOffset || b.acknowledgeTypes.length === 0) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `bad acknowledgement range [${b.firstOffset}, ${b.lastOffset}]`);
      }
      if (b.acknowledgeTypes.length !== 1 && b.acknowledgeTypes.length !== b.lastOffset - b.firstOffset + 1) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `acknowledgement types for [${b.firstOffset}, ${b.lastOffset}] do not match the range`);
      }
      for (let o = b.firstOffset; o <= b.lastOffset; o++) {
        const type = typeAt(b, o);
        if (type < AcknowledgeType.GAP || type > AcknowledgeType.RENEW) throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown acknowledge type ${type}`);
        const r = this.inFlight.get(o);
        if (r?.state !== RecordState.ACQUIRED || r.memberId !== memberId) {
          throw new KafkaError(ErrorCode.INVALID_RECORD_STATE, `offset ${o} is not acquired by member ${memberId}`);
        }
      }
    }
    let changed = false;
    const config = this.config;
    for (const b of batches) {
      for (let o = b.firstOffset; o <= b.lastOffset; o++) {
        const r = this.inFlight.get(o);
        if (r === undefined) continue;
        const type = typeAt(b, o);
        if (type === AcknowledgeType.RENEW) {
          r.lockExpiresAt = now + config.lockDurationMs;
          continue;
        }
        changed = true;
        r.memberId = null;
        if (type === AcknowledgeType.ACCEPT) r.state = RecordState.ACKNOWLEDGED;
        else if (type === AcknowledgeType.RELEASE) r.state = releasedState(r, config);
        else r.state = RecordState.ARCHIVED; // REJECT, and GAP (an offset with no record)
      }
    }
    if (changed) this.advanceStartOffset();
    return changed;
  }

  /** Releases every lock whose deadline passed; returns whether anything changed. */
  expireLocks(now: number): boolean {
    let changed = false;
    let config: SharePartitionConfig | null = null;
    for (const r of this.inFlight.values()) {
      if (r.state === RecordState.ACQUIRED && r.lockExpiresAt <= now) {
        config ??= this.config;
        r.state = releasedState(r, config);
        r.memberId = null;
        changed = true;
      }
    }
    if (changed) this.advanceStartOffset();
    return changed;
  }

  /** The earliest lock deadline, or null when nothing is acquired. */
  nextLockDeadline(): number | null {
    let min: number | null = null;
    for (const r of this.inFlight.values()) if (r.state === RecordState.ACQUIRED && (min === null || r.lockExpiresAt < min)) min = r.lockExpiresAt;
    return min;
  }

  /** A member left or its share session closed: its acquired records become available again. */
  releaseMember(memberId: string): boolean {
    let changed = false;
    let config: SharePartitionConfig | null = null;
    for (const r of this.inFlight.values()) {
      if (r.state === RecordState.ACQUIRED && r.memberId === memberId) {
        config ??= this.config;
        r.state = releasedState(r, config);
        r.memberId = null;
        changed = true;
      }
    }
    if (changed) this.advanceStartOffset();
    return changed;
  }

  /**
   * Log start offset moved past the window (retention, DeleteRecords): records below it are gone.
   * Also used by AlterShareGroupOffsets (with a new state epoch).
   */
  resetStartOffset(offset: number, newStateEpoch?: number): void {
    for (const o of [...this.inFlight.keys()]) if (o < offset || newStateEpoch !== undefined) this.inFlight.delete(o);
    this.startOffsetValue = offset;
    if (this.endOffsetValue < offset || newStateEpoch !== undefined) this.endOffsetValue = offset;
    if (newStateEpoch !== undefined) this.stateEpochValue = newStateEpoch;
  }

  /** The state to persist: start offset and every in-flight run that is not plain AVAILABLE-never-delivered. */
  snapshot(): PersistedShareState {
    const stateBatches: StateBatch[] = [];
    for (let o = this.startOffsetValue; o < this.endOffsetValue; o++) {
      const r = this.inFlight.get(o);
      if (r === undefined) continue;
      const deliveryState = r.state === RecordState.ACQUIRED ? RecordState.AVAILABLE : r.state;
      if (deliveryState === RecordState.AVAILABLE && r.deliveryCount === 0) continue;
      const last = stateBatches.at(-1);
      if (last?.lastOffset === o - 1 && last.deliveryState === deliveryState && last.deliveryCount === r.deliveryCount) last.lastOffset = o;
      else stateBatches.push({ firstOffset: o, lastOffset: o, deliveryState, deliveryCount: r.deliveryCount });
    }
    return { stateEpoch: this.stateEpochValue, startOffset: this.startOffsetValue, stateBatches };
  }

  /** Offsets in [from, to) with no record in the log: never delivered, ARCHIVED (an acquired one is left alone). */
  private archiveGap(from: number, to: number): void {
    for (let o = Math.max(from, this.startOffsetValue); o < to; o++) {
      const r = this.inFlight.get(o);
      if (r === undefined) {
        this.inFlight.set(o, { state: RecordState.ARCHIVED, deliveryCount: 0, memberId: null, lockExpiresAt: 0 });
        if (o >= this.endOffsetValue) this.endOffsetValue = o + 1;
      } else if (r.state === RecordState.AVAILABLE) {
        r.state = RecordState.ARCHIVED;
      }
    }
  }

  private advanceStartOffset(): void {
    let o = this.startOffsetValue;
    // Bounded by the window size (at most max.record.locks entries).
    for (;;) {
      const r = this.inFlight.get(o);
      if (r === undefined || (r.state !== RecordState.ACKNOWLEDGED && r.state !== RecordState.ARCHIVED)) break;
      this.inFlight.delete(o);
      o++;
    }
    this.startOffsetValue = o;
    if (this.endOffsetValue < o) this.endOffsetValue = o;
  }
}

/** Where a released record goes: AVAILABLE, or ARCHIVED once its delivery count reached the limit. */
function releasedState(r: InFlight, config: SharePartitionConfig): RecordState {
  return r.deliveryCount >= config.deliveryCountLimit ? RecordState.ARCHIVED : RecordState.AVAILABLE;
}

function typeAt(b: AcknowledgementBatch, offset: number): number {
  const t = b.acknowledgeTypes.length === 1 ? b.acknowledgeTypes[0] : b.acknowledgeTypes[offset - b.firstOffset];
  return t;
}
