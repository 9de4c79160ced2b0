// coordinator/txn room: the transaction coordinator the API handlers call (InitProducerId with a
// transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, ListTransactions,
// DescribeTransactions). A facade over the coordinator runtime: one TransactionShard per
// __transaction_state partition, loaded when this broker leads it.
import { ErrorCode as E, errorCodeOf } from '../../errors.js';
import type { Clock, CoordinatorLeadershipListener, CoordinatorLogger, CoordinatorPartitionLog } from '../runtime/ports.js';
import { CoordinatorRuntime, type CoordinatorWriteOperation } from '../runtime/runtime.js';
import { TRANSACTION_STATE_TOPIC, TXN_STATE_NAMES, TxnState, partitionForTxnId, type TxnTopicPartitions } from './records.js';
import {
  NEEDS_PRODUCER_ID,
  TransactionShard,
  type ClientTransactionVersion,
  type EndTxnAnswer,
  type InitProducerIdAnswer,
  type TxnCoordinatorConfig,
  type TxnMarkerWriter,
} from './shard.js';

export interface TransactionCoordinatorDeps {
  log: CoordinatorPartitionLog;
  numPartitions: number;
  clock: Clock;
  logger: CoordinatorLogger;
  config: TxnCoordinatorConfig;
  markers: TxnMarkerWriter;
  /** A new producer id (from the metadata store's blocks). */
  generateProducerId(): Promise<number>;
}

export interface ListedTransaction {
  transactionalId: string;
  producerId: number;
  transactionState: string;
}

export interface DescribedTransaction {
  errorCode: number;
  transactionalId: string;
  transactionState: string;
  transactionTimeoutMs: number;
  transactionStartTimeMs: number;
  producerId: number;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: number[] }>;
}

export class TransactionCoordinator implements CoordinatorLeadershipListener {
  private readonly runtime: CoordinatorRuntime<TransactionShard>;

  constructor(private readonly deps: TransactionCoordinatorDeps) {
    this.runtime = new CoordinatorRuntime<TransactionShard>({
      topic: TRANSACTION_STATE_TOPIC,
      numPartitions: deps.numPartitions,
      log: deps.log,
      clock: deps.clock,
      logger: deps.logger,
      shardFactory: (context) => new TransactionShard({ context, clock: deps.clock, logger: deps.logger, config: deps.config, markers: deps.markers }),
    });
  }

  get numPartitions(): number {
    return this.deps.numPartitions;
  }

  partitionFor(transactionalId: string): number {
    return partitionForTxnId(transactionalId, this.deps.numPartitions);
  }

  onElection(partition: number, leaderEpoch: number): void {
    this.runtime.onElection(partition, leaderEpoch);
  }

  onResignation(partition: number, leaderEpoch: number | null): void {
    this.runtime.onResignation(partition, leaderEpoch);
  }

  awaitLoaded(partition: number, timeoutMs: number): Promise<number> {
    return this.runtime.awaitLoaded(partition, timeoutMs);
  }

  /** NONE when the id's shard serves here, else COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR. */
  coordinatorErrorFor(transactionalId: string): number {
    return this.runtime.shardError(this.partitionFor(transactionalId));
  }

  close(): void {
    this.runtime.close();
  }

  private async write<R>(transactionalId: string, name: string, op: CoordinatorWriteOperation<TransactionShard, R>, onError: (code: number) => R): Promise<R> {
    const partition = this.partitionFor(transactionalId);
    const err = this.runtime.shardError(partition);
    if (err !== E.NONE) return onError(err);
    try {
      return await this.runtime.scheduleWriteOperation(name, partition, op);
    } catch (e) {
      const code = errorCodeOf(e);
      // A write that could not be committed: the client retries elsewhere (Kafka maps these to NOT_COORDINATOR).
      return onError(code === E.NOT_COORDINATOR || code === E.COORDINATOR_LOAD_IN_PROGRESS || code === E.CONCURRENT_TRANSACTIONS ? code : E.NOT_COORDINATOR);
    }
  }

  /** InitProducerId with a transactional id. */
  async initProducerId(p: { transactionalId: string; transactionTimeoutMs: number; producerId: number; producerEpoch: number }): Promise<InitProducerIdAnswer> {
    const fail = (errorCode: number): InitProducerIdAnswer => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (p.transactionTimeoutMs <= 0 || p.transactionTimeoutMs > this.deps.config.transactionMaxTimeoutMs) return fail(E.INVALID_TRANSACTION_TIMEOUT);
    const expected = { producerId: p.producerId, producerEpoch: p.producerEpoch };
    let fresh: number | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await this.write(p.transactionalId, 'InitProducerId', (shard) => shard.initProducerIdOp(p.transactionalId, p.transactionTimeoutMs, expected, fresh), fail);
      if (answer.errorCode !== NEEDS_PRODUCER_ID) return answer;
      try {
        fresh = await this.deps.generateProducerId();
      } catch {
        return fail(E.COORDINATOR_NOT_AVAILABLE);
      }
    }
    return fail(E.CONCURRENT_TRANSACTIONS);
  }

  /** `clientTransactionVersion` 2 for the implicit adds of transactions V2; null for explicit ones. */
  addPartitionsToTxn(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: TxnTopicPartitions[],
    clientTransactionVersion: ClientTransactionVersion | null = null,
  ): Promise<number> {
    return this.write(
      transactionalId,
      'AddPartitionsToTxn',
      (shard) => shard.addPartitionsOp(transactionalId, producerId, producerEpoch, partitions, clientTransactionVersion),
      (code) => code,
    );
  }

  /** AddPartitionsToTxn v4+ verifyOnly: the error per `topic:partition`. */
  verifyPartitionsInTxn(transactionalId: string, producerId: number, producerEpoch: number, partitions: TxnTopicPartitions[]): Map<string, number> {
    const partition = this.partitionFor(transactionalId);
    const err = this.runtime.shardError(partition);
    if (err !== E.NONE) {
      const out = new Map<string, number>();
      for (const t of partitions) for (const p of t.partitions) out.set(`${t.topic}:${p}`, err);
      return out;
    }
    return this.runtime.scheduleReadOperation(partition, (shard) => shard.verifyPartitions(transactionalId, producerId, producerEpoch, partitions));
  }

  /** EndTxn with transaction protocol version 1 (EndTxn v0-4): the error code. */
  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    return (await this.endTransaction(transactionalId, producerId, producerEpoch, commit, 1)).errorCode;
  }

  /**
   * EndTxn; `clientTransactionVersion` 2 for EndTxn v5 (transactions V2: the epoch is bumped and
   * the answer carries the producer id and epoch the next transaction uses).
   */
  async endTransaction(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    clientTransactionVersion: ClientTransactionVersion,
  ): Promise<EndTxnAnswer> {
    const fail = (errorCode: number): EndTxnAnswer => ({ errorCode, producerId: -1, producerEpoch: -1 });
    let fresh: number | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await this.write(transactionalId, 'EndTxn', (shard) => shard.endTxnOp(transactionalId, producerId, producerEpoch, commit, clientTransactionVersion, fresh), fail);
      if (answer.errorCode !== NEEDS_PRODUCER_ID) return answer;
      try {
        fresh = await this.deps.generateProducerId();
      } catch {
        return fail(E.COORDINATOR_NOT_AVAILABLE);
      }
    }
    return fail(E.CONCURRENT_TRANSACTIONS);
  }

  /**
   * ListTransactions over the shards loaded here, as Kafka's TransactionStateManager: any shard
   * still loading answers COORDINATOR_LOAD_IN_PROGRESS; Dead transactions are never listed; empty
   * filters match all; a duration filter ≥ 0 keeps transactions whose start is more than that
   * long ago (those with no start, -1, included); a pattern must match the whole id.
   */
  listTransactions(
    stateFilters: string[],
    producerIdFilters: number[],
    durationFilterMs: number,
    transactionalIdPattern: RegExp | null = null,
  ): { errorCode: number; unknownStateFilters: string[]; transactions: ListedTransaction[] } {
    const partitions = this.runtime.ownedPartitions();
    if (partitions.some((p) => this.runtime.shardError(p) === E.COORDINATOR_LOAD_IN_PROGRESS)) {
      return { errorCode: E.COORDINATOR_LOAD_IN_PROGRESS, unknownStateFilters: [], transactions: [] };
    }
    const known = new Set(Object.values(TXN_STATE_NAMES));
    const unknownStateFilters = stateFilters.filter((s) => !known.has(s));
    const states = new Set(stateFilters.filter((s) => known.has(s)));
    const pids = new Set(producerIdFilters);
    const now = this.deps.clock.now();
    const transactions: ListedTransaction[] = [];
    for (const partition of partitions) {
      if (this.runtime.shardError(partition) !== E.NONE) continue;
      this.runtime.scheduleReadOperation(partition, (shard) => {
        for (const md of shard.txns.values()) {
          if (md.state === TxnState.Dead) continue;
          const state = TXN_STATE_NAMES[md.state];
          if (pids.size > 0 && !pids.has(md.producerId)) continue;
          // Kafka: only unknown state filters given means nothing matches.
          if (stateFilters.length > 0 && !states.has(state)) continue;
          if (durationFilterMs >= 0 && now - md.startTimestampMs <= durationFilterMs) continue;
          if (transactionalIdPattern !== null && !transactionalIdPattern.test(md.transactionalId)) continue;
          transactions.push({ transactionalId: md.transactionalId, producerId: md.producerId, transactionState: state });
        }
      });
    }
    return { errorCode: E.NONE, unknownStateFilters, transactions };
  }

  /**
   * DescribeTransactions, as Kafka's TransactionCoordinator: an empty id is INVALID_REQUEST, an
   * id not served here NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS, an unknown or Dead one
   * TRANSACTIONAL_ID_NOT_FOUND (the other fields then keep the protocol's defaults).
   */
  describeTransactions(transactionalIds: string[]): DescribedTransaction[] {
    return transactionalIds.map((id) => {
      const none = (errorCode: number): DescribedTransaction => ({
        errorCode,
        transactionalId: id,
        transactionState: '',
        transactionTimeoutMs: 0,
        transactionStartTimeMs: 0,
        producerId: 0,
        producerEpoch: 0,
        topics: [],
      });
      if (id.length === 0) return none(E.INVALID_REQUEST);
      const partition = this.partitionFor(id);
      const err = this.runtime.shardError(partition);
      if (err !== E.NONE) return none(err);
      const md = this.runtime.scheduleReadOperation(partition, (shard) => shard.txns.get(id));
      if (md === undefined || md.state === TxnState.Dead) return none(E.TRANSACTIONAL_ID_NOT_FOUND);
      return {
        errorCode: E.NONE,
        transactionalId: id,
        transactionState: TXN_STATE_NAMES[md.state],
        transactionTimeoutMs: md.timeoutMs,
        transactionStartTimeMs: md.startTimestampMs,
        producerId: md.producerId,
        producerEpoch: md.producerEpoch,
        topics: [...md.partitions].map(([topic, set]) => ({ topic, partitions: [...set].sort((a, b) => a - b) })),
      };
    });
  }
}
