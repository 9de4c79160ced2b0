// replication/ room: one partition as this broker holds it — leader epoch, replicas, ISR, high
// watermark, last stable offset, log start offset, producer state and its Log. Kafka's
// Partition.scala in small: the high watermark is the smallest log end offset in the ISR, so with
// one replica it is the log end offset ("HW = LEO" is just the ISR rule with ISR = [leader]).
import { dirname } from 'node:path';
import type { PartitionState } from '../cluster/index.js';
import { ErrorCode, KafkaError, assert } from '../errors.js';
import type { DeferredSync, Log } from '../log/index.js';
import { readOnlyReason } from '../log/disk-space.js';
import { batchHeaders } from '../records/batch-layout.js';
import { txnMarkerOf } from '../records/control.js';
import { ControlRecordType, encodeControlBatch } from '../protocol/record-batch.js';
import type { AppendResult, BatchSummary, FileSlice, TimestampAndOffset } from '../storage/engine.js';
import { checkClientBatches } from './append-checks.js';
import { LeaderEpochFileCache, UNDEFINED_EPOCH } from './leader-epoch-cache.js';
import { ProducerStateManager, type CompletedTxn, type ProducerBatchMetadata, type ProducerStateLogger, type WrittenBatch } from './producer-state.js';

/** A client that sends no currentLeaderEpoch (-1) is not checked against ours. */
export const NO_LEADER_EPOCH = -1;

export type AppendOrigin = 'client' | 'coordinator';

export type LeaderAppend =
  | { kind: 'appended'; result: AppendResult }
  /** A retried idempotent batch already in the log: answer with its original offsets. */
  | { kind: 'duplicate'; batch: ProducerBatchMetadata };

/** Asks the controller to change the ISR (Kafka's AlterPartition): compare-and-set on the epochs. */
export type IsrChangeRequester = (partition: Partition, isr: number[]) => Promise<void>;

export interface PartitionOptions {
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  requestIsrChange: IsrChangeRequester;
  now?: () => number;
  /** producer.id.expiration.ms (default 86400000). */
  producerIdExpirationMs?: number;
  /** producer.id.expiration.check.interval.ms (default 600000). */
  producerIdExpirationCheckIntervalMs?: number;
  /** Where producer state snapshot problems are reported (a corrupt file, a failed write). */
  logger?: ProducerStateLogger;
  /**
   * A batch of new partitions being created: the first leader epoch checkpoint of an empty log
   * leaves its fsyncs to this batch, which the creator flushes before it reports the partitions
   * created (see DeferredSync). Only the constructor uses it.
   */
  deferredSync?: DeferredSync;
}

/** What the leader knows of one follower, from its fetches. */
interface FollowerState {
  logEndOffset: number;
  /** Last time its fetch reached the leader's log end offset (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpTimeMs: number;
}

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
  readonly producerState: ProducerStateManager;
  /** Unsubscribes the producer state snapshot hooks from the log (roll, close). */
  private readonly detachFromLog: () => void;
  readonly leaderEpochCache: LeaderEpochFileCache;
  /** What the followers reported in their fetches (leader only). */
  private readonly followers = new Map<number, FollowerState>();
  private readonly listeners = new Set<() => void>();
  /** An AlterPartition in flight: one at a time, the next waits for its answer (as Kafka). */
  private isrChangeInFlight = false;
  private readonly options: PartitionOptions;
  private readonly now: () => number;
  /** Completed transactions whose marker is at or above the high watermark (Kafka's unreplicatedTxns). */
  private unreplicatedTxns: Array<{ firstOffset: number; lastOffset: number }> = [];

  constructor(
    state: PartitionState,
    readonly log: Log,
    readonly localBrokerId: number,
    options?: Partial<PartitionOptions>,
  ) {
    this.options = {
      replicaLagTimeMaxMs: options?.replicaLagTimeMaxMs ?? 30000,
      requestIsrChange: options?.requestIsrChange ?? (() => Promise.resolve()),
      now: options?.now,
      producerIdExpirationMs: options?.producerIdExpirationMs,
      producerIdExpirationCheckIntervalMs: options?.producerIdExpirationCheckIntervalMs,
      logger: options?.logger,
    };
    this.now = options?.now ?? Date.now;
    this.topic = state.topic;
    this.index = state.partition;
    this.state = { ...state };
    this.producerState = new ProducerStateManager({
      topic: this.topic,
      partition: this.index,
      dir: log.dir,
      producerIdExpirationMs: this.options.producerIdExpirationMs,
      producerIdExpirationCheckIntervalMs: this.options.producerIdExpirationCheckIntervalMs,
      logger: this.options.logger,
      // Every aborted transaction the state learns of (append, replication, replay at load) goes
      // to the transaction index; entries it already holds are ignored.
      onAbortedTxn: (txn) => log.appendAbortedTxn(txn),
    });
    this.producerState.load(log.logStartOffset, log.logEndOffset, (offset, maxBytes) => log.readBytes(offset, maxBytes), this.now());
    // Kafka snapshots producer state at every segment roll (bounding the replay on open) and at
    // clean shutdown (no replay at all). The roll hook runs before this append's batches reach
    // the state, so the snapshot describes exactly the log below the append.
    const offRoll = log.onRoll(() => this.snapshotProducerState(false));
    const offClose = log.onClose(() => this.snapshotProducerState(true));
    // The log cleaner never cleans past the last stable offset and keeps each producer's last
    // batch (Kafka's lastRecordsOfActiveProducers), both known here.
    const offCleaner = log.setCleanerStateProvider({
      lastStableOffset: () => this.lastStableOffset,
      producerLastOffsets: () => this.producerState.snapshotEntries().filter((e) => e.lastOffset >= 0).map((e): [number, number] => [e.producerId, e.lastOffset]),
    });
    this.detachFromLog = () => {
      offRoll();
      offClose();
      offCleaner();
    };
    const fresh = log.logStartOffset === 0 && log.logEndOffset === 0;
    this.leaderEpochCache = new LeaderEpochFileCache(log.dir, fresh ? options?.deferredSync : undefined);
    // Logs written before the checkpoint existed hold epoch 0 only (one node, epoch never bumped).
    if (this.leaderEpochCache.latestEpoch() === UNDEFINED_EPOCH && log.logEndOffset > log.logStartOffset) {
      this.leaderEpochCache.assign(0, log.logStartOffset);
    }
    this.hw = log.logStartOffset;
    this.applyState(state);
    this.leaderEpochCache.stopDeferring();
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
  /**
   * Kafka's last stable offset: the high watermark, held back by the first offset of any open
   * transaction and of any completed one whose marker is not replicated yet (above the high
   * watermark), so read_committed consumers only see decided, committed data.
   */
  get lastStableOffset(): number {
    let lso = this.hw;
    const undecided = this.producerState.firstUndecidedOffset();
    if (undecided !== null && undecided < lso) lso = undecided;
    for (const txn of this.unreplicatedTxns) {
      if (txn.lastOffset >= this.hw && txn.firstOffset < lso) lso = txn.firstOffset;
    }
    return Math.max(lso, this.log.logStartOffset);
  }

  /** Aborted transactions overlapping [fetchOffset, upperBoundOffset) for a read_committed fetch. */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): Array<{ producerId: number; firstOffset: number }> {
    return this.log.collectAbortedTxns(fetchOffset, upperBoundOffset).map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }));
  }

  /** Completed transactions are "unreplicated" until the high watermark passes their marker. */
  private trackCompleted(completed: readonly CompletedTxn[]): void {
    for (const txn of completed) this.unreplicatedTxns.push({ firstOffset: txn.firstOffset, lastOffset: txn.lastOffset });
    if (this.unreplicatedTxns.length > 0) this.unreplicatedTxns = this.unreplicatedTxns.filter((t) => t.lastOffset >= this.hw);
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
    // Called on every append: no copy of the set unless there are several listeners (one may
    // unsubscribe another while they run).
    if (this.listeners.size === 0) return;
    if (this.listeners.size === 1) {
      // Taken before the call, so one it adds is not run in this round (as with the copy).
      this.listeners.values().next().value?.();
      return;
    }
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
    const wasLeader = this.isLeader;
    this.state = { ...next, replicas: [...next.replicas], isr: [...next.isr] };
    if (this.isLeader) {
      this.leaderEpochCache.assign(next.leaderEpoch, this.log.logEndOffset);
      if (epochChanged || !wasLeader || this.followers.size === 0) {
        // A new leader knows nothing of its followers yet: each gets a full lag period to fetch.
        // (A partition created with this broker already leader comes here with wasLeader true.)
        this.followers.clear();
        const now = this.now();
        for (const replica of this.state.replicas) {
          if (replica !== this.localBrokerId) this.followers.set(replica, { logEndOffset: -1, lastCaughtUpTimeMs: now });
        }
      }
      for (const replica of this.followers.keys()) if (!this.state.replicas.includes(replica)) this.followers.delete(replica);
      this.maybeIncrementHighWatermark();
    } else {
      this.followers.clear();
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

  /** A log dir that was full at start is read-only (log/disk-space.ts): appends are refused. */
  private refuseWhenReadOnly(): void {
    const reason = readOnlyReason(dirname(this.log.dir));
    if (reason !== null) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, reason, this.where());
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
    this.refuseWhenReadOnly();
    const headers = batchHeaders(records);
    if (origin === 'client') checkClientBatches(headers, config, now, this.where());
    // Epoch and sequence checks for every batch, in order, before anything is written.
    const duplicate = this.producerState.checkAppend(headers, origin);
    if (duplicate) return { kind: 'duplicate', batch: duplicate };
    this.producerState.maybeRemoveExpiredProducers(now);
    const result = this.log.append(records, { now, leaderEpoch: this.state.leaderEpoch });
    this.trackCompleted(this.producerState.update(withMarkers(result.batches, records), result.logEndOffset));
    this.maybeIncrementHighWatermark();
    this.notify();
    return { kind: 'appended', result };
  }

  /**
   * Writes a transaction marker (COMMIT or ABORT control batch) for `producerId` as leader
   * (Kafka's appendEndTxnMarker through WriteTxnMarkers). TRANSACTION_COORDINATOR_FENCED when a
   * newer coordinator already wrote one for this producer; INVALID_PRODUCER_EPOCH when the
   * producer moved to a newer epoch.
   */
  appendTxnMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number, commit: boolean, now: number): AppendResult {
    if (!this.isLeader) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `This broker is not the leader of ${this.topic}-${this.index}`, this.where());
    const entry = this.producerState.lastEntry(producerId);
    const context = { ...this.where(), producerId, producerEpoch, coordinatorEpoch };
    if (entry !== undefined && entry.coordinatorEpoch > coordinatorEpoch) {
      throw new KafkaError(
        ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        `Invalid coordinator epoch for producer ${producerId} at ${this.topic}-${this.index}: ${coordinatorEpoch} (zombie), ${entry.coordinatorEpoch} (current)`,
        context,
      );
    }
    if (entry !== undefined && producerEpoch < entry.producerEpoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `Marker epoch ${producerEpoch} of producer ${producerId} is older than its epoch ${entry.producerEpoch} at ${this.topic}-${this.index}`, context);
    }
    this.refuseWhenReadOnly();
    const batch = encodeControlBatch(commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT, coordinatorEpoch, now, { producerId, producerEpoch, baseSequence: -1 });
    const result = this.log.append(batch, { now, leaderEpoch: this.state.leaderEpoch });
    this.trackCompleted(this.producerState.update(withMarkers(result.batches, batch), result.logEndOffset));
    this.maybeIncrementHighWatermark();
    this.notify();
    return result;
  }

  /**
   * A follower fetched from `fetchOffset`: it holds everything below it (leader side). Moves the
   * high watermark, and asks to add the follower to the ISR once it caught up (its log end offset
   * reached the high watermark and the start of the current leader epoch).
   */
  updateFollowerFetchState(replicaId: number, fetchOffset: number): void {
    if (!this.isLeader || !this.state.replicas.includes(replicaId)) return;
    const leo = this.log.logEndOffset;
    const state = this.followers.get(replicaId) ?? { logEndOffset: -1, lastCaughtUpTimeMs: 0 };
    state.logEndOffset = Math.min(fetchOffset, leo);
    if (fetchOffset >= leo) state.lastCaughtUpTimeMs = this.now();
    this.followers.set(replicaId, state);
    if (this.maybeIncrementHighWatermark()) this.notify();
    if (!this.state.isr.includes(replicaId)) {
      const epochStart = this.leaderEpochCache.epochEntries().at(-1)?.startOffset ?? 0;
      if (state.logEndOffset >= this.hw && state.logEndOffset >= epochStart) this.proposeIsr([...this.state.isr, replicaId]);
    }
  }

  /** ISR followers that have not caught up within replica.lag.time.max.ms (leader side). */
  outOfSyncReplicas(now: number): number[] {
    if (!this.isLeader) return [];
    return this.state.isr.filter((replica) => {
      if (replica === this.localBrokerId) return false;
      const f = this.followers.get(replica);
      return f === undefined || now - f.lastCaughtUpTimeMs > this.options.replicaLagTimeMaxMs;
    });
  }

  /** The leader's periodic check (Kafka's maybeShrinkIsr): lagging followers leave the ISR. */
  maybeShrinkIsr(now: number): void {
    const lagging = this.outOfSyncReplicas(now);
    if (lagging.length > 0) this.proposeIsr(this.state.isr.filter((r) => !lagging.includes(r)));
  }

  private proposeIsr(isr: number[]): void {
    if (this.isrChangeInFlight || !this.isLeader) return;
    this.isrChangeInFlight = true;
    this.options
      .requestIsrChange(this, isr)
      .catch(() => undefined)
      .finally(() => {
        this.isrChangeInFlight = false;
      });
  }

  /** The high watermark moves to the smallest log end offset in the ISR; never backwards. */
  private maybeIncrementHighWatermark(): boolean {
    if (!this.isLeader) return false;
    const logEnd = this.log.logEndOffset;
    let candidate = logEnd;
    // Runs on every append: the ISR of one (the leader) skips the loop.
    const isr = this.state.isr;
    if (isr.length > 1 || (isr.length === 1 && isr[0] !== this.localBrokerId)) {
      for (const replica of isr) {
        if (replica === this.localBrokerId) continue;
        const f = this.followers.get(replica);
        candidate = Math.min(candidate, f === undefined || f.logEndOffset < 0 ? this.hw : f.logEndOffset);
      }
    }
    const logStart = this.log.logStartOffset;
    if (this.hw < logStart) this.hw = logStart;
    if (candidate <= this.hw) return false;
    this.hw = candidate;
    if (this.unreplicatedTxns.length > 0) this.trackCompleted([]);
    // The context object only when the invariant is broken (this runs on every append).
    const ok = logStart <= this.hw && this.hw <= logEnd;
    assert(ok, 'log start <= high watermark <= log end', ok ? undefined : { ...this.where(), logStartOffset: logStart, highWatermark: this.hw, logEndOffset: logEnd });
    return true;
  }

  /**
   * Follower side: appends batches fetched from the leader, with the leader's offsets and epochs
   * (Kafka's appendRecordsToFollowerOrFutureReplica). Batches below the log end offset (a refetch)
   * are skipped; the leader epoch cache learns each batch's epoch.
   */
  appendRecordsAsFollower(records: Buffer): AppendResult | null {
    assert(!this.isLeader, 'a leader never appends as follower', this.where());
    const leo = this.log.logEndOffset;
    const headers = batchHeaders(records);
    const first = headers.findIndex((h) => h.baseOffset + h.lastOffsetDelta >= leo);
    if (first < 0) return null;
    const end = headers.at(-1);
    if (end === undefined) return null;
    const data = records.subarray(headers[first].position, end.position + end.sizeInBytes);
    this.producerState.maybeRemoveExpiredProducers(this.now());
    const result = this.log.appendAsFollower(data);
    for (const h of headers.slice(first)) this.leaderEpochCache.assign(h.partitionLeaderEpoch, h.baseOffset);
    this.trackCompleted(this.producerState.update(withMarkers(result.batches, data), result.logEndOffset));
    this.notify();
    return result;
  }

  /**
   * DeleteRecords on the leader (Kafka's deleteRecordsOnLeader): raises the log start offset to
   * `offset` (-1: the high watermark), deleting the segments wholly below it. Returns the new log
   * start offset. OFFSET_OUT_OF_RANGE above the high watermark; POLICY_VIOLATION on a topic that
   * is compacted only (cleanup.policy without "delete"), as Kafka.
   */
  deleteRecordsOnLeader(offset: number): number {
    if (!this.isLeader) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `This broker is not the leader of ${this.topic}-${this.index}`, this.where());
    if (!this.log.config.cleanupPolicy.includes('delete')) {
      throw new KafkaError(ErrorCode.POLICY_VIOLATION, `Records of partition ${this.topic}-${this.index} can not be deleted due to the configured policy`, this.where());
    }
    const target = offset === -1 ? this.hw : offset;
    if (target < 0 || target > this.hw) {
      throw new KafkaError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `Cannot increment the log start offset to ${target} of partition ${this.topic}-${this.index} since it is larger than the high watermark ${this.hw}`,
        { ...this.where(), offset: target, highWatermark: this.hw },
      );
    }
    if (target > this.log.logStartOffset) {
      this.log.deleteSegmentsBefore(target);
      this.notify();
    }
    return this.log.logStartOffset;
  }

  /** Followers raise their log start offset to the leader's (from its fetch answers), within their log. */
  updateLogStartOffsetAsFollower(leaderLogStartOffset: number): void {
    if (this.isLeader || leaderLogStartOffset <= this.log.logStartOffset) return;
    this.log.deleteSegmentsBefore(Math.min(leaderLogStartOffset, this.log.logEndOffset));
    if (this.hw < this.log.logStartOffset) this.hw = this.log.logStartOffset;
  }

  /** Followers learn the high watermark from their leader's fetch responses. */
  updateHighWatermarkAsFollower(leaderHighWatermark: number): void {
    const next = Math.min(leaderHighWatermark, this.log.logEndOffset);
    if (next > this.hw) {
      this.hw = next;
      if (this.unreplicatedTxns.length > 0) this.trackCompleted([]);
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

  /** offsetForTimestamp off the event loop (what ListOffsets uses). */
  offsetForTimestampAsync(timestamp: number): Promise<TimestampAndOffset | null> {
    return this.log.offsetForTimestampAsync(timestamp);
  }

  maxTimestampAndOffset(): TimestampAndOffset | null {
    return this.log.maxTimestampAndOffset();
  }

  /** Follower side: drops a diverged tail (KIP-101/279) and everything derived from it. */
  truncateTo(offset: number): void {
    assert(!this.isLeader, 'a leader never truncates its log', { ...this.where(), offset });
    this.log.truncateTo(offset);
    this.leaderEpochCache.truncateFromEnd(offset);
    this.producerState.truncateAndReload(this.log.logStartOffset, this.log.logEndOffset, (o, maxBytes) => this.log.readBytes(o, maxBytes), this.now());
    if (this.hw > offset) this.hw = offset;
    this.unreplicatedTxns = this.unreplicatedTxns.filter((t) => t.lastOffset < offset);
    this.notify();
  }

  /** Writes a producer state snapshot at the offset the state covers (segment roll: page cache; close: fsynced). */
  snapshotProducerState(sync: boolean): void {
    this.producerState.takeSnapshot(sync);
  }

  /**
   * The partition is dropped by this broker (its log stays open or is closed by the log manager):
   * snapshots the producer state and stops following the log's roll and close.
   */
  close(): void {
    if (this.log.isAvailable()) this.snapshotProducerState(true);
    this.detachFromLog();
  }
}

/** The engine's batch summaries with the marker of each control batch read from `buf` (the same batches, in order). */
function withMarkers(batches: readonly BatchSummary[], buf: Buffer): readonly WrittenBatch[] {
  if (!batches.some((b) => b.isControl)) return batches;
  const headers = batchHeaders(buf);
  return batches.map((b) => {
    if (!b.isControl) return b;
    const h = headers.find((x) => x.baseOffset === b.baseOffset);
    return { ...b, marker: h === undefined ? null : txnMarkerOf(buf, h) };
  });
}
