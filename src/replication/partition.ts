// replication/ room: one partition as this broker holds it — leader epoch, replicas, ISR, high
// watermark, last stable offset, log start offset, producer state and its Log. Kafka's
// Partition.scala in small: the high watermark is the smallest log end offset in the ISR, so with
// one replica it is the log end offset ("HW = LEO" is just the ISR rule with ISR = [leader]).
import type { PartitionState } from '../cluster/index.js';
import { ErrorCode, KafkaError, assert } from '../errors.js';
import type { Log } from '../log/index.js';
import { batchHeaders } from '../records/batch-layout.js';
import type { AppendResult, FileSlice, TimestampAndOffset } from '../storage/engine.js';
import { checkClientBatches } from './append-checks.js';
import { LeaderEpochFileCache, UNDEFINED_EPOCH } from './leader-epoch-cache.js';
import { ProducerStateManager, type ProducerBatchMetadata } from './producer-state.js';

/** A client that sends no currentLeaderEpoch (-1) is not checked against ours. */
export const NO_LEADER_EPOCH = -1;

export type AppendOrigin = 'client' | 'coordinator';

export type LeaderAppend =
  | { kind: 'appended'; result: AppendResult }
  /** A retried idempotent batch already in the log: answer with its original offsets. */
  | { kind: 'duplicate'; batch: ProducerBatchMetadata };

export interface EpochEndOffset {
  errorCode: number;
  leaderEpoch: number;
  endOffset: number;
}

export class Partition {
  readonly topic: string;
  readonly index: number;
  private state: PartitionState;
  private hw = 0;
  readonly producerState = new ProducerStateManager();
  readonly leaderEpochCache: LeaderEpochFileCache;
  /** Log end offsets the followers reported in their last fetch (leader only). */
  private readonly followerEndOffsets = new Map<number, number>();
  private readonly listeners = new Set<() => void>();

  constructor(
    state: PartitionState,
    readonly log: Log,
    readonly localBrokerId: number,
  ) {
    this.topic = state.topic;
    this.index = state.partition;
    this.state = { ...state };
    this.leaderEpochCache = new LeaderEpochFileCache(log.dir);
    // Logs written before the checkpoint existed hold epoch 0 only (one node, epoch never bumped).
    if (this.leaderEpochCache.latestEpoch() === UNDEFINED_EPOCH && log.logEndOffset > log.logStartOffset) {
      this.leaderEpochCache.assign(0, log.logStartOffset);
    }
    this.hw = log.logStartOffset;
    this.applyState(state);
  }

  get topicId(): string {
    return this.state.topicId;
  }
  get leaderEpoch(): number {
    return this.state.leaderEpoch;
  }
  get partitionEpoch(): number {
    return this.state.partitionEpoch;
  }
  get leaderId(): number {
    return this.state.leader;
  }
  get replicas(): readonly number[] {
    return this.state.replicas;
  }
  get isr(): readonly number[] {
    return this.state.isr;
  }
  get isLeader(): boolean {
    return this.state.leader === this.localBrokerId;
  }
  get highWatermark(): number {
    return this.hw;
  }
  /** No transactions yet: nothing is ever undecided, so the last stable offset is the high watermark. */
  get lastStableOffset(): number {
    return this.hw;
  }
  get logStartOffset(): number {
    return this.log.logStartOffset;
  }
  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  /** Runs `listener` when the high watermark or log end offset moves; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /**
   * Applies the controller's latest state. Leader epochs never go back; a new epoch on the leader
   * starts at the log end offset in the epoch cache (Kafka's maybeAssignEpochStartOffset).
   */
  applyState(next: PartitionState): void {
    assert(next.topic === this.topic && next.partition === this.index, 'partition state for another partition', { topic: this.topic, partition: this.index });
    assert(next.leaderEpoch >= this.state.leaderEpoch, 'leader epochs never go back', {
      topic: this.topic,
      partition: this.index,
      current: this.state.leaderEpoch,
      next: next.leaderEpoch,
    });
    const epochChanged = next.leaderEpoch !== this.state.leaderEpoch;
    this.state = { ...next, replicas: [...next.replicas], isr: [...next.isr] };
    if (this.isLeader) {
      this.leaderEpochCache.assign(next.leaderEpoch, this.log.logEndOffset);
      if (epochChanged) this.followerEndOffsets.clear();
      for (const replica of this.followerEndOffsets.keys()) if (!this.state.replicas.includes(replica)) this.followerEndOffsets.delete(replica);
      this.maybeIncrementHighWatermark();
    }
    this.notify();
  }

  /**
   * Kafka's getLocalLog check: the client's epoch first (FENCED_LEADER_EPOCH when it is older
   * than ours, UNKNOWN_LEADER_EPOCH when newer), then leadership when the caller needs the leader.
   */
  checkLeaderEpoch(currentLeaderEpoch: number, requireLeader = true): number {
    if (currentLeaderEpoch !== NO_LEADER_EPOCH) {
      if (currentLeaderEpoch < this.state.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
      if (currentLeaderEpoch > this.state.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    }
    if (requireLeader && !this.isLeader) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (!this.log.isAvailable()) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return ErrorCode.NONE;
  }

  private where(): { topic: string; partition: number } {
    return { topic: this.topic, partition: this.index };
  }

  /**
   * Appends as leader. `requiredAcks` -1 needs min.insync.replicas in the ISR before the write
   * (NOT_ENOUGH_REPLICAS). Client batches are checked as Kafka's LogValidator does; coordinator
   * batches (internal topics) are the broker's own.
   */
  appendRecordsToLeader(records: Buffer, requiredAcks: number, origin: AppendOrigin, now: number): LeaderAppend {
    if (!this.isLeader) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `This broker is not the leader of ${this.topic}-${this.index}`, this.where());
    const config = this.log.config;
    if (requiredAcks === -1 && this.state.isr.length < config.minInsyncReplicas) {
      throw new KafkaError(
        ErrorCode.NOT_ENOUGH_REPLICAS,
        `The size of the current ISR [${this.state.isr.join(', ')}] is insufficient to satisfy the min.isr requirement of ${config.minInsyncReplicas}`,
        this.where(),
      );
    }
    const headers = batchHeaders(records);
    if (origin === 'client') checkClientBatches(headers, config, now, this.where());
    const single = headers.length === 1 && headers[0].sizeInBytes === records.length ? headers[0] : null;
    if (single !== null && single.producerId >= 0 && single.baseSequence >= 0) {
      const duplicate = this.producerState.findDuplicate(single.producerId, single.producerEpoch, single.baseSequence, single.baseSequence + single.lastOffsetDelta);
      if (duplicate) return { kind: 'duplicate', batch: duplicate };
    }
    const result = this.log.append(records, { now, leaderEpoch: this.state.leaderEpoch });
    this.producerState.update(result.batches);
    this.maybeIncrementHighWatermark();
    this.notify();
    return { kind: 'appended', result };
  }

  /** A follower fetched from `fetchOffset`: it holds everything below it (leader side). */
  updateFollowerFetchState(replicaId: number, fetchOffset: number): void {
    if (!this.isLeader || !this.state.replicas.includes(replicaId)) return;
    this.followerEndOffsets.set(replicaId, Math.min(fetchOffset, this.log.logEndOffset));
    if (this.maybeIncrementHighWatermark()) this.notify();
  }

  /** The high watermark moves to the smallest log end offset in the ISR; never backwards. */
  private maybeIncrementHighWatermark(): boolean {
    if (!this.isLeader) return false;
    let candidate = this.log.logEndOffset;
    for (const replica of this.state.isr) {
      if (replica === this.localBrokerId) continue;
      candidate = Math.min(candidate, this.followerEndOffsets.get(replica) ?? this.hw);
    }
    const logStart = this.log.logStartOffset;
    if (this.hw < logStart) this.hw = logStart;
    if (candidate <= this.hw) return false;
    this.hw = candidate;
    assert(this.log.logStartOffset <= this.hw && this.hw <= this.log.logEndOffset, 'log start <= high watermark <= log end', {
      ...this.where(),
      logStartOffset: this.log.logStartOffset,
      highWatermark: this.hw,
      logEndOffset: this.log.logEndOffset,
    });
    return true;
  }

  /** Followers learn the high watermark from their leader's fetch responses. */
  updateHighWatermarkAsFollower(leaderHighWatermark: number): void {
    const next = Math.min(leaderHighWatermark, this.log.logEndOffset);
    if (next > this.hw) {
      this.hw = next;
      this.notify();
    }
  }

  /** Reads whole batches from `offset`, never past `maxOffset` (the high watermark for consumers). */
  read(offset: number, maxBytes: number, maxOffset: number): FileSlice {
    const slice = this.log.read(offset, maxBytes, maxOffset);
    return slice;
  }

  /** OffsetForLeaderEpoch for this partition (Kafka's lastOffsetForLeaderEpoch). */
  lastOffsetForLeaderEpoch(currentLeaderEpoch: number, leaderEpoch: number, requireLeader: boolean): EpochEndOffset {
    const errorCode = this.checkLeaderEpoch(currentLeaderEpoch, requireLeader);
    if (errorCode !== ErrorCode.NONE) return { errorCode, leaderEpoch: -1, endOffset: -1 };
    const found = this.leaderEpochCache.endOffsetFor(leaderEpoch, this.log.logEndOffset);
    return { errorCode: ErrorCode.NONE, leaderEpoch: found.epoch, endOffset: found.endOffset };
  }

  /** The leader epoch the record at `offset` was written in (ListOffsets answers it). */
  epochForOffset(offset: number): number {
    return this.leaderEpochCache.epochForOffset(offset);
  }

  offsetForTimestamp(timestamp: number): TimestampAndOffset | null {
    return this.log.offsetForTimestamp(timestamp);
  }

  maxTimestampAndOffset(): TimestampAndOffset | null {
    return this.log.maxTimestampAndOffset();
  }

  /** Follower side: drops a diverged tail (KIP-101/279) and everything derived from it. */
  truncateTo(offset: number): void {
    assert(!this.isLeader, 'a leader never truncates its log', { ...this.where(), offset });
    this.log.truncateTo(offset);
    this.leaderEpochCache.truncateFromEnd(offset);
    this.producerState.truncateTo(offset);
    if (this.hw > offset) this.hw = offset;
    this.notify();
  }
}
