// coordinator/txn room: one __transaction_state partition's transactions (Kafka's
// TransactionStateManager + TransactionCoordinator state machine, transaction protocol versions 1
// and 2). Version 2 (KIP-890 part 2) is decided per request by the client's versions (EndTxn v5,
// Produce v12+, TxnOffsetCommit v5): every transaction end bumps the producer epoch (the markers
// carry the bumped epoch, EndTxn answers it), and an exhausted epoch moves to NextProducerId.
// State changes only by replaying the partition's records; each operation decides the record it
// writes. A PrepareCommit/PrepareAbort record, once replayed on a loaded shard, starts the marker
// round: markers go to every partition of the transaction, then CompleteCommit/CompleteAbort is
// written. Timers abort transactions past their timeout (bumping the epoch: the producer is
// fenced) and forget transactional ids idle past transactional.id.expiration.ms.
import { ErrorCode as E } from '../../errors.js';
import type { Clock, CoordinatorLogger, CoordinatorRecord, TimerHandle } from '../runtime/ports.js';
import type { CoordinatorResult, CoordinatorShard, CoordinatorShardContext } from '../runtime/runtime.js';
import { TxnState, decodeTxnKey, decodeTxnValue, encodeTxnKey, encodeTxnValue, type TxnTopicPartitions } from './records.js';

/** Producer epochs are int16; Kafka moves to a new producer id before the epoch would overflow. */
const MAX_PRODUCER_EPOCH = 32767;

/** Kafka's TransactionMetadata.isEpochExhausted: a V2 end could not bump it once more and stay below MAX. */
function isEpochExhausted(epoch: number): boolean {
  return epoch >= MAX_PRODUCER_EPOCH - 1;
}

/** The transaction version a request speaks: 2 for EndTxn v5, Produce v12+, TxnOffsetCommit v5, AddPartitionsToTxn v5 adds. */
export type ClientTransactionVersion = 0 | 1 | 2;

/** Internal answer of an InitProducerId operation that needs a fresh producer id first. */
export const NEEDS_PRODUCER_ID = -1000;

export interface TxnMetadata {
  transactionalId: string;
  producerId: number;
  /** The producer id before the last one (KIP-360), -1 when none. */
  previousProducerId: number;
  /** Transactions V2: the producer id the Complete state moves to (epoch exhausted), -1 when none. */
  nextProducerId: number;
  /** The transaction version of the client's last transaction (Kafka's ClientTransactionVersion). */
  clientTransactionVersion: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** topic → partitions in the transaction. */
  partitions: Map<string, Set<number>>;
  startTimestampMs: number;
  lastUpdateTimestampMs: number;
}

export interface TxnCoordinatorConfig {
  /** transaction.max.timeout.ms (default 900000). */
  transactionMaxTimeoutMs: number;
  /** transactional.id.expiration.ms (default 604800000). */
  transactionalIdExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms (default 10000). */
  abortTimedOutTransactionCleanupIntervalMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms (default 3600000). */
  removeExpiredTransactionalIdCleanupIntervalMs: number;
}

export const defaultTxnCoordinatorConfig: TxnCoordinatorConfig = {
  transactionMaxTimeoutMs: 900000,
  transactionalIdExpirationMs: 604800000,
  abortTimedOutTransactionCleanupIntervalMs: 10000,
  removeExpiredTransactionalIdCleanupIntervalMs: 3600000,
};

/** What the marker round of one transaction writes. */
export interface MarkerRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  commit: boolean;
  partitions: TxnTopicPartitions[];
}

/** Writes markers to partition leaders (local or over WriteTxnMarkers). */
export interface TxnMarkerWriter {
  /**
   * Writes the marker to every partition of `request`, retrying each until it is written, the
   * partition is gone, or `stillNeeded()` turns false; resolves when that is so for all.
   */
  writeMarkers(request: MarkerRequest, stillNeeded: () => boolean): Promise<void>;
}

export interface TxnShardDeps {
  context: CoordinatorShardContext<TransactionShard>;
  clock: Clock;
  logger: CoordinatorLogger;
  config: TxnCoordinatorConfig;
  markers: TxnMarkerWriter;
}

export interface InitProducerIdAnswer {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

/** EndTxn's answer: with transactions V2 the producer id and epoch the next transaction uses. */
export type EndTxnAnswer = InitProducerIdAnswer;

function partitionsOf(md: TxnMetadata): TxnTopicPartitions[] {
  return [...md.partitions].map(([topic, set]) => ({ topic, partitions: [...set].sort((a, b) => a - b) }));
}

/**
 * The epoch a fencing abort (a new producer instance, a timeout) writes. Kafka bumps once to fence
 * and, for a transactions-V2 transaction, once more in the abort itself, so that an EndTxn retry
 * of the fenced producer (epoch + 1 would look like a V2 retry) is still fenced.
 */
function fencedEpoch(md: TxnMetadata): number {
  return Math.min(md.producerEpoch + (md.clientTransactionVersion >= 2 ? 2 : 1), MAX_PRODUCER_EPOCH);
}

function isPrepare(state: TxnState): boolean {
  return state === TxnState.PrepareCommit || state === TxnState.PrepareAbort || state === TxnState.PrepareEpochFence;
}

export class TransactionShard implements CoordinatorShard {
  readonly txns = new Map<string, TxnMetadata>();
  private loaded = false;
  private unloaded = false;
  /** Transactional ids whose marker round is running. */
  private readonly completing = new Set<string>();
  private readonly timers = new Set<TimerHandle>();

  constructor(private readonly deps: TxnShardDeps) {}

  get partition(): number {
    return this.deps.context.partition;
  }

  /** The coordinator epoch markers carry: the leader epoch of this __transaction_state partition. */
  get coordinatorEpoch(): number {
    return this.deps.context.leaderEpoch;
  }

  // ---------------------------------------------------------------------------------------------
  // Replay, load, unload

  replay(record: CoordinatorRecord): void {
    let id: string;
    try {
      id = decodeTxnKey(record.key);
    } catch (err) {
      this.deps.logger.warn({ partition: this.partition, err: String(err) }, 'skipping unreadable __transaction_state key');
      return;
    }
    if (record.value === null) {
      this.txns.delete(id);
      return;
    }
    const v = decodeTxnValue(record.value);
    const partitions = new Map<string, Set<number>>();
    for (const t of v.partitions) partitions.set(t.topic, new Set(t.partitions));
    this.txns.set(id, {
      transactionalId: id,
      producerId: v.producerId,
      previousProducerId: v.previousProducerId,
      nextProducerId: v.nextProducerId ?? -1,
      clientTransactionVersion: v.clientTransactionVersion ?? 0,
      producerEpoch: v.producerEpoch,
      timeoutMs: v.transactionTimeoutMs,
      state: v.state,
      partitions,
      startTimestampMs: v.startTimestampMs,
      lastUpdateTimestampMs: v.lastUpdateTimestampMs,
    });
    // A decided transaction on a serving shard: send its markers now (at load, onLoaded does).
    if (this.loaded && isPrepare(v.state)) queueMicrotask(() => this.completeTransaction(id));
  }

  onLoaded(): void {
    this.loaded = true;
    for (const [id, md] of this.txns) if (isPrepare(md.state)) this.completeTransaction(id);
    this.every(this.deps.config.abortTimedOutTransactionCleanupIntervalMs, () => this.abortTimedOutTransactions());
    this.every(this.deps.config.removeExpiredTransactionalIdCleanupIntervalMs, () => this.removeExpiredTransactionalIds());
  }

  onUnloaded(): void {
    this.unloaded = true;
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
  }

  private every(intervalMs: number, fn: () => void): void {
    const tick = (): void => {
      if (this.unloaded) return;
      try {
        fn();
      } catch (err) {
        this.deps.logger.error({ partition: this.partition, err: String(err) }, 'transaction coordinator timer failed');
      }
      const next = this.deps.clock.schedule(intervalMs, tick);
      this.timers.add(next);
    };
    this.timers.add(this.deps.clock.schedule(intervalMs, tick));
  }

  // ---------------------------------------------------------------------------------------------
  // Records

  private record(md: TxnMetadata): CoordinatorRecord {
    return {
      key: encodeTxnKey(md.transactionalId),
      value: encodeTxnValue({
        producerId: md.producerId,
        producerEpoch: md.producerEpoch,
        previousProducerId: md.previousProducerId,
        nextProducerId: md.nextProducerId,
        clientTransactionVersion: md.clientTransactionVersion,
        transactionTimeoutMs: md.timeoutMs,
        state: md.state,
        partitions: partitionsOf(md),
        lastUpdateTimestampMs: md.lastUpdateTimestampMs,
        startTimestampMs: md.startTimestampMs,
      }),
    };
  }

  private next(md: TxnMetadata, changes: Partial<TxnMetadata>): TxnMetadata {
    return { ...md, partitions: new Map([...md.partitions].map(([t, s]) => [t, new Set(s)])), lastUpdateTimestampMs: this.deps.clock.now(), ...changes };
  }

  // ---------------------------------------------------------------------------------------------
  // Operations (run by the runtime, one at a time per partition, on committed state)

  /**
   * InitProducerId with a transactional id (Kafka's handleInitProducerId, KIP-360 included).
   * `freshProducerId` is a producer id allocated beforehand, used when the id is new or its epoch
   * is exhausted; without one such a case answers NEEDS_PRODUCER_ID.
   */
  initProducerIdOp(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: number; producerEpoch: number },
    freshProducerId: number | null,
  ): CoordinatorResult<InitProducerIdAnswer> {
    const fail = (errorCode: number): CoordinatorResult<InitProducerIdAnswer> => ({ records: [], response: { errorCode, producerId: -1, producerEpoch: -1 } });
    const now = this.deps.clock.now();
    const md = this.txns.get(transactionalId);
    if (md === undefined) {
      if (freshProducerId === null) return fail(NEEDS_PRODUCER_ID);
      const created: TxnMetadata = {
        transactionalId,
        producerId: freshProducerId,
        previousProducerId: -1,
        nextProducerId: -1,
        clientTransactionVersion: 0,
        producerEpoch: 0,
        timeoutMs,
        state: TxnState.Empty,
        partitions: new Map(),
        startTimestampMs: -1,
        lastUpdateTimestampMs: now,
      };
      return { records: [this.record(created)], response: { errorCode: E.NONE, producerId: created.producerId, producerEpoch: 0 } };
    }
    if (isPrepare(md.state)) return fail(E.CONCURRENT_TRANSACTIONS);
    if (md.state === TxnState.Ongoing) {
      // A new instance of the producer: fence the old one (epoch + 1) and abort its transaction;
      // the client retries and gets the next epoch once the abort completed.
      const fenced = this.next(md, { producerEpoch: fencedEpoch(md), state: TxnState.PrepareAbort });
      this.deps.logger.info({ transactionalId, producerId: md.producerId, epoch: fenced.producerEpoch }, 'fencing the previous producer: aborting its open transaction');
      return { records: [this.record(fenced)], response: { errorCode: E.CONCURRENT_TRANSACTIONS, producerId: -1, producerEpoch: -1 } };
    }
    if (expected.producerId >= 0) {
      const retryOfLast = expected.producerId === md.producerId && expected.producerEpoch === md.producerEpoch;
      if (!retryOfLast) {
        // A retried InitProducerId whose answer was lost: the id and epoch it already got.
        if (expected.producerId === md.previousProducerId || (expected.producerId === md.producerId && expected.producerEpoch === md.producerEpoch - 1)) {
          return { records: [], response: { errorCode: E.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch } };
        }
        return fail(E.PRODUCER_FENCED);
      }
    }
    let producerId = md.producerId;
    let previousProducerId = md.previousProducerId;
    let producerEpoch = md.producerEpoch + 1;
    if (producerEpoch >= MAX_PRODUCER_EPOCH) {
      if (freshProducerId === null) return fail(NEEDS_PRODUCER_ID);
      previousProducerId = md.producerId;
      producerId = freshProducerId;
      producerEpoch = 0;
    }
    // The client transaction version is kept (Kafka's prepareIncrementProducerEpoch): its next EndTxn decides it again.
    const bumped = this.next(md, { producerId, previousProducerId, nextProducerId: -1, producerEpoch, timeoutMs, state: TxnState.Empty, partitions: new Map(), startTimestampMs: -1 });
    return { records: [this.record(bumped)], response: { errorCode: E.NONE, producerId, producerEpoch } };
  }

  /** Kafka's producer id / epoch checks shared by AddPartitionsToTxn, AddOffsetsToTxn and EndTxn. */
  private checkProducer(md: TxnMetadata | undefined, producerId: number, producerEpoch: number): number {
    if (md?.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING;
    if (md.producerEpoch !== producerEpoch) return E.PRODUCER_FENCED;
    if (md.state === TxnState.PrepareEpochFence) return E.CONCURRENT_TRANSACTIONS;
    return E.NONE;
  }

  /**
   * AddPartitionsToTxn / AddOffsetsToTxn: the partitions join the (possibly new) transaction.
   * `clientTransactionVersion` 2 for the implicit adds of transactions V2 (Produce v12+,
   * TxnOffsetCommit v5, AddPartitionsToTxn v5 from a leader): recorded with the transaction.
   */
  addPartitionsOp(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: TxnTopicPartitions[],
    clientTransactionVersion: ClientTransactionVersion | null = null,
  ): CoordinatorResult<number> {
    const md = this.txns.get(transactionalId);
    const code = this.checkProducer(md, producerId, producerEpoch);
    if (code !== E.NONE || md === undefined) return { records: [], response: code };
    if (isPrepare(md.state)) return { records: [], response: E.CONCURRENT_TRANSACTIONS };
    if (md.state === TxnState.Dead) return { records: [], response: E.INVALID_TXN_STATE };
    const ongoing = md.state === TxnState.Ongoing;
    const missing = partitions.some((t) => t.partitions.some((p) => md.partitions.get(t.topic)?.has(p) !== true));
    const tvChanges = clientTransactionVersion !== null && clientTransactionVersion !== md.clientTransactionVersion;
    if (ongoing && !missing && !tvChanges) return { records: [], response: E.NONE };
    const next = this.next(md, ongoing ? {} : { partitions: new Map(), startTimestampMs: this.deps.clock.now() });
    if (clientTransactionVersion !== null) next.clientTransactionVersion = clientTransactionVersion;
    next.state = TxnState.Ongoing;
    for (const t of partitions) {
      let set = next.partitions.get(t.topic);
      if (set === undefined) {
        set = new Set();
        next.partitions.set(t.topic, set);
      }
      for (const p of t.partitions) set.add(p);
    }
    return { records: [this.record(next)], response: E.NONE };
  }

  /** AddPartitionsToTxn v4+ verifyOnly (KIP-890 part 1): are these partitions in the open transaction? */
  verifyPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnTopicPartitions[]): Map<string, number> {
    const md = this.txns.get(transactionalId);
    const code = this.checkProducer(md, producerId, producerEpoch);
    const out = new Map<string, number>();
    for (const t of partitions) {
      for (const p of t.partitions) {
        const inTxn = md?.state === TxnState.Ongoing && md.partitions.get(t.topic)?.has(p) === true;
        out.set(`${t.topic}:${p}`, code !== E.NONE ? code : inTxn ? E.NONE : E.TRANSACTION_ABORTABLE);
      }
    }
    return out;
  }

  /**
   * EndTxn (Kafka's endTransaction from a client). Ongoing → PrepareCommit/PrepareAbort; a retry of
   * a finished one succeeds. With `clientTransactionVersion` 2 (EndTxn v5) the prepared state
   * carries epoch + 1 (the markers' epoch, answered to the client); an exhausted epoch takes
   * `freshProducerId` as NextProducerId (answered with epoch 0; without one: NEEDS_PRODUCER_ID).
   * Whether a request is a retry follows the transaction version stored with the transaction: V2
   * retries come with the epoch before the bump.
   */
  endTxnOp(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    clientTransactionVersion: ClientTransactionVersion = 1,
    freshProducerId: number | null = null,
  ): CoordinatorResult<EndTxnAnswer> {
    const answer = (errorCode: number, cur?: TxnMetadata): CoordinatorResult<EndTxnAnswer> => ({
      records: [],
      response: { errorCode, producerId: cur?.producerId ?? -1, producerEpoch: cur?.producerEpoch ?? -1 },
    });
    const md = this.txns.get(transactionalId);
    if (md === undefined) return answer(E.INVALID_PRODUCER_ID_MAPPING);
    const storedV2 = md.clientTransactionVersion >= 2;
    // Kafka's retryOnOverflow / retryOnEpochBump: a V2 EndTxn whose answer was lost.
    const retryOnOverflow = storedV2 && md.previousProducerId === producerId && producerEpoch === MAX_PRODUCER_EPOCH - 1 && md.producerEpoch === 0;
    const retryOnEpochBump = storedV2 && md.producerId === producerId && md.producerEpoch === producerEpoch + 1;
    let validEpoch: boolean;
    if (!storedV2) validEpoch = producerEpoch === md.producerEpoch;
    else if (md.state === TxnState.PrepareCommit || md.state === TxnState.PrepareAbort) validEpoch = retryOnEpochBump;
    else if (md.state === TxnState.CompleteCommit || md.state === TxnState.CompleteAbort) validEpoch = retryOnEpochBump || retryOnOverflow;
    else validEpoch = producerEpoch === md.producerEpoch;
    if (md.producerId !== producerId && !retryOnOverflow) return answer(E.INVALID_PRODUCER_ID_MAPPING);
    if (!validEpoch) return answer(E.PRODUCER_FENCED);
    switch (md.state) {
      case TxnState.Ongoing: {
        const v2 = clientTransactionVersion >= 2;
        let nextProducerId = -1;
        if (v2 && isEpochExhausted(md.producerEpoch)) {
          if (freshProducerId === null) return answer(NEEDS_PRODUCER_ID);
          nextProducerId = freshProducerId;
        }
        const prepared = this.next(md, {
          state: commit ? TxnState.PrepareCommit : TxnState.PrepareAbort,
          producerEpoch: v2 ? md.producerEpoch + 1 : md.producerEpoch,
          nextProducerId,
          clientTransactionVersion,
        });
        // V2: the client continues with the bumped epoch, or with the next producer id at epoch 0.
        const response: EndTxnAnswer =
          nextProducerId >= 0
            ? { errorCode: E.NONE, producerId: nextProducerId, producerEpoch: 0 }
            : { errorCode: E.NONE, producerId: prepared.producerId, producerEpoch: prepared.producerEpoch };
        return { records: [this.record(prepared)], response };
      }
      case TxnState.CompleteCommit:
        return answer(commit ? E.NONE : E.INVALID_TXN_STATE, md);
      case TxnState.CompleteAbort:
        return answer(commit ? E.INVALID_TXN_STATE : E.NONE, md);
      case TxnState.PrepareCommit:
        return answer(commit ? E.CONCURRENT_TRANSACTIONS : E.INVALID_TXN_STATE);
      case TxnState.PrepareAbort:
        return answer(commit ? E.INVALID_TXN_STATE : E.CONCURRENT_TRANSACTIONS);
      default:
        return answer(E.INVALID_TXN_STATE);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Marker rounds and timers

  /** Sends the markers of a decided transaction, then writes its Complete state. */
  private completeTransaction(transactionalId: string): void {
    const md = this.txns.get(transactionalId);
    if (this.unloaded || md === undefined || !isPrepare(md.state) || this.completing.has(transactionalId)) return;
    const commit = md.state === TxnState.PrepareCommit;
    const decided = { state: md.state, producerId: md.producerId, producerEpoch: md.producerEpoch };
    const same = (cur: TxnMetadata | undefined): cur is TxnMetadata =>
      cur?.state === decided.state && cur.producerId === decided.producerId && cur.producerEpoch === decided.producerEpoch;
    this.completing.add(transactionalId);
    const request: MarkerRequest = {
      transactionalId,
      producerId: md.producerId,
      producerEpoch: md.producerEpoch,
      coordinatorEpoch: this.coordinatorEpoch,
      commit,
      partitions: partitionsOf(md),
    };
    this.deps.markers
      .writeMarkers(request, () => !this.unloaded && same(this.txns.get(transactionalId)))
      .then(() => {
        if (this.unloaded || !same(this.txns.get(transactionalId))) return E.NONE;
        return this.deps.context.scheduleWriteOperation('CompleteTransaction', (shard) => {
          const cur = shard.txns.get(transactionalId);
          if (!same(cur)) return { records: [], response: E.NONE };
          const done = shard.next(cur, { state: commit ? TxnState.CompleteCommit : TxnState.CompleteAbort, partitions: new Map() });
          if (cur.nextProducerId >= 0) {
            // Transactions V2 with an exhausted epoch: the markers are written, move to the next id (Kafka's prepareComplete).
            done.previousProducerId = cur.producerId;
            done.producerId = cur.nextProducerId;
            done.producerEpoch = 0;
            done.nextProducerId = -1;
          }
          return { records: [shard.record(done)], response: E.NONE };
        });
      })
      .catch((err: unknown) => {
        // Retried by the next timer pass.
        this.deps.logger.warn({ transactionalId, partition: this.partition, err: String(err) }, 'completing a transaction failed; will retry');
      })
      .finally(() => this.completing.delete(transactionalId));
  }

  /** Aborts transactions open longer than their timeout, fencing their producer (epoch + 1). */
  private abortTimedOutTransactions(): void {
    const now = this.deps.clock.now();
    for (const [id, md] of this.txns) {
      if (isPrepare(md.state)) {
        this.completeTransaction(id);
        continue;
      }
      if (md.state !== TxnState.Ongoing || md.startTimestampMs + md.timeoutMs > now) continue;
      const epoch = md.producerEpoch;
      void this.deps.context
        .scheduleWriteOperation('AbortTimedOutTransaction', (shard) => {
          const cur = shard.txns.get(id);
          if (cur?.state !== TxnState.Ongoing || cur.producerEpoch !== epoch) return { records: [], response: E.NONE };
          shard.deps.logger.info({ transactionalId: id, producerId: cur.producerId, timeoutMs: cur.timeoutMs }, 'aborting a transaction past its timeout');
          const aborting = shard.next(cur, { producerEpoch: fencedEpoch(cur), state: TxnState.PrepareAbort });
          return { records: [shard.record(aborting)], response: E.NONE };
        })
        .catch((err: unknown) => this.deps.logger.warn({ transactionalId: id, err: String(err) }, 'aborting a timed out transaction failed; will retry'));
    }
  }

  /** Forgets transactional ids with no transaction for transactional.id.expiration.ms (a tombstone). */
  private removeExpiredTransactionalIds(): void {
    const now = this.deps.clock.now();
    const expiration = this.deps.config.transactionalIdExpirationMs;
    for (const [id, md] of this.txns) {
      const idle = md.state === TxnState.Empty || md.state === TxnState.CompleteCommit || md.state === TxnState.CompleteAbort;
      if (!idle || md.lastUpdateTimestampMs + expiration > now) continue;
      const stamp = md.lastUpdateTimestampMs;
      void this.deps.context
        .scheduleWriteOperation('ExpireTransactionalId', (shard) => {
          const cur = shard.txns.get(id);
          if (cur?.lastUpdateTimestampMs !== stamp) return { records: [], response: E.NONE };
          return { records: [{ key: encodeTxnKey(id), value: null }], response: E.NONE };
        })
        .catch((err: unknown) => this.deps.logger.warn({ transactionalId: id, err: String(err) }, 'expiring a transactional id failed'));
    }
  }
}
