// coordinator/runtime room: the coordinator runtime (Kafka's CoordinatorRuntime, written for
// Spool). One shard per partition of an internal topic; a shard's state changes only by replaying
// that partition's records, at load and for live writes alike; shards load on election and
// unload on resignation. Nothing here knows about groups or transactions.
import { ErrorCode, KafkaError, assert, errorName } from '../../errors.js';
import type {
  Clock,
  CoordinatorLeadershipListener,
  CoordinatorLogger,
  CoordinatorPartitionLog,
  CoordinatorRecord,
  TimerHandle,
  TransactionalProducer,
  TransactionMarker,
} from './ports.js';

/** The state of one partition, rebuilt by replay. */
export interface CoordinatorShard {
  /**
   * Applies one record (a null value is a tombstone); the only way the shard's durable state
   * changes. `txn`: the record was written in that producer's transaction, and counts only once
   * a COMMIT marker for it is replayed.
   */
  replay(record: CoordinatorRecord, txn?: TransactionalProducer): void;
  /** A transaction marker for this partition (shards without transactional records ignore it). */
  replayEndTransactionMarker?(marker: TransactionMarker): void;
  /** Every record is replayed and the shard serves requests from now on (start timers here). */
  onLoaded(): void;
  /** The shard no longer serves: cancel its timers and answer its waiters with NOT_COORDINATOR. */
  onUnloaded(): void;
}

/** What a write operation decided: the records to append and the answer once they are committed. */
export interface CoordinatorResult<R> {
  records: CoordinatorRecord[];
  response: R;
  /**
   * false: persist only, do not replay. For state the shard already changed itself (classic groups'
   * metadata, as in Kafka); replay of those records happens only at load. Default true.
   */
  replay?: boolean;
  /** Write `records` as a transactional batch of this producer (TxnOffsetCommit). */
  transactional?: TransactionalProducer;
  /** Write this transaction marker (with no records): WriteTxnMarkers for this partition. */
  marker?: TransactionMarker;
}

export type CoordinatorWriteOperation<S, R> = (shard: S) => CoordinatorResult<R>;

/** What a shard sees of the runtime: its partition, its epoch, and writes bound to that epoch. */
export interface CoordinatorShardContext<S> {
  readonly partition: number;
  readonly leaderEpoch: number;
  /** As CoordinatorRuntime.scheduleWriteOperation, but refused once this shard is unloaded or superseded. */
  scheduleWriteOperation<R>(name: string, op: CoordinatorWriteOperation<S, R>): Promise<R>;
}

export type CoordinatorShardFactory<S extends CoordinatorShard> = (context: CoordinatorShardContext<S>) => S;

export interface CoordinatorRuntimeOptions<S extends CoordinatorShard> {
  /** The internal topic's name, for logs and errors. */
  topic: string;
  numPartitions: number;
  log: CoordinatorPartitionLog;
  shardFactory: CoordinatorShardFactory<S>;
  clock: Clock;
  logger: CoordinatorLogger;
  /** Write operations queued on one partition before new ones are refused (COORDINATOR_NOT_AVAILABLE). */
  maxPendingWritesPerPartition?: number;
}

const DEFAULT_MAX_PENDING_WRITES = 10_000;

type ShardState = 'loading' | 'active' | 'closed';

interface PendingWrite<S> {
  name: string;
  op: CoordinatorWriteOperation<S, unknown>;
  settled: boolean;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface LoadWaiter {
  timer: TimerHandle | null;
  resolve(code: number): void;
}

/** One loaded (or loading) shard: the epoch it was elected at and its queue of writes. */
class PartitionContext<S extends CoordinatorShard> {
  state: ShardState = 'loading';
  shard!: S;
  /** Writes run one after another: each starts when the previous one's append has settled. */
  tail: Promise<void> = Promise.resolve();
  readonly pending = new Set<PendingWrite<S>>();

  constructor(
    readonly partition: number,
    readonly epoch: number,
  ) {}

  /** A method, not a field read: the state changes across awaits (a newer election, an unload). */
  is(state: ShardState): boolean {
    return this.state === state;
  }
}

function settle<S>(w: PendingWrite<S>, outcome: { value: unknown } | { error: unknown }): void {
  if (w.settled) return;
  w.settled = true;
  if ('error' in outcome) w.reject(outcome.error);
  else w.resolve(outcome.value);
}

/**
 * Runs the shards of one internal topic.
 *
 * Failed appends: a write operation's records are replayed only after `log.append` resolved, and
 * the next operation on the partition starts only after that, so every operation sees committed
 * state and a failed append changes nothing (the operation's promise rejects with the append's
 * error). Kafka pipelines writes over uncommitted state and rolls back to the last committed
 * snapshot on failure; we trade that pipelining (one append in flight per partition) for not
 * needing snapshots.
 */
export class CoordinatorRuntime<S extends CoordinatorShard> implements CoordinatorLeadershipListener {
  private readonly contexts = new Map<number, PartitionContext<S>>();
  /** Highest leader epoch seen per partition: epochs never go back, older events are stale. */
  private readonly highestEpoch = new Map<number, number>();
  /** awaitLoaded callers per partition; they outlive a load superseded by a newer election. */
  private readonly loadWaiters = new Map<number, Set<LoadWaiter>>();
  private closed = false;
  private readonly maxPendingWrites: number;

  constructor(private readonly options: CoordinatorRuntimeOptions<S>) {
    assert(Number.isInteger(options.numPartitions) && options.numPartitions > 0, 'an internal topic needs at least one partition', {
      topic: options.topic,
      numPartitions: options.numPartitions,
    });
    this.maxPendingWrites = options.maxPendingWritesPerPartition ?? DEFAULT_MAX_PENDING_WRITES;
  }

  get numPartitions(): number {
    return this.options.numPartitions;
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership: load and unload

  /** This broker leads `partition` at `leaderEpoch`: load a new shard by replay (asynchronously). */
  onElection(partition: number, leaderEpoch: number): void {
    this.checkPartition(partition);
    if (this.closed) return;
    const highest = this.highestEpoch.get(partition) ?? -1;
    if (leaderEpoch <= highest) {
      this.options.logger.info({ topic: this.options.topic, partition, leaderEpoch, highestEpoch: highest }, 'ignoring election with a stale leader epoch');
      return;
    }
    this.highestEpoch.set(partition, leaderEpoch);
    const previous = this.contexts.get(partition);
    if (previous !== undefined) this.unload(previous, `superseded by leader epoch ${leaderEpoch}`, true);
    const ctx = new PartitionContext<S>(partition, leaderEpoch);
    ctx.shard = this.options.shardFactory({
      partition,
      leaderEpoch,
      scheduleWriteOperation: <R>(name: string, op: CoordinatorWriteOperation<S, R>) => this.enqueueWrite(ctx, name, op),
    });
    this.contexts.set(partition, ctx);
    void this.load(ctx);
  }

  /**
   * This broker no longer leads `partition`. `leaderEpoch` is the epoch the change belongs to;
   * a resignation older than the loaded shard's epoch is stale and ignored. null: unconditional.
   */
  onResignation(partition: number, leaderEpoch: number | null): void {
    this.checkPartition(partition);
    if (leaderEpoch !== null) this.highestEpoch.set(partition, Math.max(leaderEpoch, this.highestEpoch.get(partition) ?? -1));
    const ctx = this.contexts.get(partition);
    if (ctx === undefined) return;
    if (leaderEpoch !== null && leaderEpoch < ctx.epoch) {
      this.options.logger.info({ topic: this.options.topic, partition, leaderEpoch, loadedEpoch: ctx.epoch }, 'ignoring resignation with a stale leader epoch');
      return;
    }
    this.unload(ctx, 'resigned');
  }

  private async load(ctx: PartitionContext<S>): Promise<void> {
    const { topic, logger } = this.options;
    const started = this.options.clock.now();
    let records = 0;
    try {
      // Await once first so onElection returns with the shard still loading, whatever the log.
      await Promise.resolve();
      if (!ctx.is('loading')) return;
      for await (const entry of this.options.log.read(ctx.partition)) {
        if (!ctx.is('loading')) return;
        if ('marker' in entry) ctx.shard.replayEndTransactionMarker?.(entry.marker);
        else ctx.shard.replay(entry, entry.txn);
        records++;
      }
      if (!ctx.is('loading')) return;
      ctx.state = 'active';
      ctx.shard.onLoaded();
    } catch (err) {
      if (ctx.is('closed')) return;
      logger.error({ topic, partition: ctx.partition, leaderEpoch: ctx.epoch, records, err: String(err) }, 'failed to load coordinator shard');
      this.unload(ctx, 'load failed');
      return;
    }
    logger.info({ topic, partition: ctx.partition, leaderEpoch: ctx.epoch, records, ms: this.options.clock.now() - started }, 'coordinator shard loaded');
    this.answerLoadWaiters(ctx.partition, ErrorCode.NONE);
  }

  /** `superseded`: a newer election replaces this shard, so awaitLoaded callers keep waiting for it. */
  private unload(ctx: PartitionContext<S>, reason: string, superseded = false): void {
    if (ctx.state === 'closed') return;
    const wasLoaded = ctx.state === 'active';
    ctx.state = 'closed';
    if (this.contexts.get(ctx.partition) === ctx) this.contexts.delete(ctx.partition);
    const notCoordinator = new KafkaError(ErrorCode.NOT_COORDINATOR, `${this.options.topic}-${ctx.partition} is no longer led here (${reason})`, {
      topic: this.options.topic,
      partition: ctx.partition,
      leaderEpoch: ctx.epoch,
    });
    for (const w of ctx.pending) settle(w, { error: notCoordinator });
    ctx.pending.clear();
    if (!superseded) this.answerLoadWaiters(ctx.partition, ErrorCode.NOT_COORDINATOR);
    try {
      ctx.shard.onUnloaded();
    } catch (err) {
      this.options.logger.error({ topic: this.options.topic, partition: ctx.partition, err: String(err) }, 'coordinator shard failed to unload cleanly');
    }
    this.options.logger.info({ topic: this.options.topic, partition: ctx.partition, leaderEpoch: ctx.epoch, wasLoaded, reason }, 'coordinator shard unloaded');
  }

  /** Unloads every shard; later elections are ignored. */
  close(): void {
    this.closed = true;
    for (const ctx of [...this.contexts.values()]) this.unload(ctx, 'runtime closed');
  }

  // ---------------------------------------------------------------------------------------------
  // Availability

  /** NONE when the shard serves, COORDINATOR_LOAD_IN_PROGRESS while it loads, else NOT_COORDINATOR. */
  shardError(partition: number): number {
    const ctx = this.contexts.get(partition);
    if (ctx === undefined) return ErrorCode.NOT_COORDINATOR;
    return ctx.state === 'loading' ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Partitions this runtime leads (loading or loaded), ascending. */
  ownedPartitions(): number[] {
    return [...this.contexts.keys()].sort((a, b) => a - b);
  }

  /**
   * Resolves with NONE once `partition`'s shard is loaded, NOT_COORDINATOR if it is not led here
   * (or unloads meanwhile), COORDINATOR_LOAD_IN_PROGRESS if still loading after `timeoutMs`.
   */
  awaitLoaded(partition: number, timeoutMs: number): Promise<number> {
    const error = this.shardError(partition);
    if (error !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return Promise.resolve(error);
    let waiters = this.loadWaiters.get(partition);
    if (waiters === undefined) {
      waiters = new Set();
      this.loadWaiters.set(partition, waiters);
    }
    const set = waiters;
    return new Promise<number>((resolve) => {
      const waiter: LoadWaiter = { timer: null, resolve };
      waiter.timer = this.options.clock.schedule(timeoutMs, () => {
        waiter.timer = null;
        if (set.delete(waiter)) resolve(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      });
      set.add(waiter);
    });
  }

  private answerLoadWaiters(partition: number, code: number): void {
    const waiters = this.loadWaiters.get(partition);
    if (waiters === undefined) return;
    this.loadWaiters.delete(partition);
    for (const w of waiters) {
      w.timer?.cancel();
      w.resolve(code);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Operations

  /**
   * Runs `op` on the partition's shard after every write scheduled before it, appends the records
   * it returns at the shard's leader epoch, replays them (unless `replay: false`) and resolves with
   * its response once the append resolved (committed). Rejects with a KafkaError: the shard's
   * error when it is not loaded, NOT_COORDINATOR when it unloads first, or the append's error.
   * An op that throws rejects with what it threw.
   */
  scheduleWriteOperation<R>(name: string, partition: number, op: CoordinatorWriteOperation<S, R>): Promise<R> {
    this.checkPartition(partition);
    const ctx = this.contexts.get(partition);
    if (ctx?.state !== 'active') return Promise.reject(this.unavailable(partition, name));
    return this.enqueueWrite(ctx, name, op);
  }

  /** Runs `op` now on the loaded shard; throws a KafkaError (see shardError) when there is none. */
  scheduleReadOperation<R>(partition: number, op: (shard: S) => R): R {
    return op(this.activeShard(partition, 'read'));
  }

  /**
   * Runs `op` now on the loaded shard, for changes to state that is not rebuilt from this
   * operation's records (classic group membership: the state machine changes it in memory and
   * persists it with `replay: false` writes). Throws a KafkaError when the shard is not loaded.
   */
  runInMemoryOperation<R>(partition: number, op: (shard: S) => R): R {
    return op(this.activeShard(partition, 'in-memory operation'));
  }

  private activeShard(partition: number, name: string): S {
    this.checkPartition(partition);
    const ctx = this.contexts.get(partition);
    if (ctx?.state !== 'active') throw this.unavailable(partition, name);
    return ctx.shard;
  }

  private unavailable(partition: number, name: string): KafkaError {
    const code = this.shardError(partition);
    return new KafkaError(code, `${name}: ${this.options.topic}-${partition} is not available (${errorName(code)})`, {
      topic: this.options.topic,
      partition,
    });
  }

  private enqueueWrite<R>(ctx: PartitionContext<S>, name: string, op: CoordinatorWriteOperation<S, R>): Promise<R> {
    if (ctx.state !== 'active') return Promise.reject(this.unavailable(ctx.partition, name));
    if (ctx.pending.size >= this.maxPendingWrites) {
      return Promise.reject(
        new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${name}: too many queued writes on ${this.options.topic}-${ctx.partition}`, {
          topic: this.options.topic,
          partition: ctx.partition,
          limit: this.maxPendingWrites,
        }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const w: PendingWrite<S> = { name, op, settled: false, resolve: resolve, reject };
      ctx.pending.add(w);
      ctx.tail = ctx.tail
        .then(() => this.runWrite(ctx, w))
        .catch((err: unknown) => settle(w, { error: err }))
        .finally(() => ctx.pending.delete(w));
    });
  }

  private async runWrite(ctx: PartitionContext<S>, w: PendingWrite<S>): Promise<void> {
    if (w.settled) return;
    if (ctx.state !== 'active') {
      settle(w, { error: this.unavailable(ctx.partition, w.name) });
      return;
    }
    let result: CoordinatorResult<unknown>;
    try {
      result = w.op(ctx.shard);
    } catch (err) {
      settle(w, { error: err });
      return;
    }
    const marker = result.marker;
    if (result.records.length === 0 && marker === undefined) {
      settle(w, { value: result.response });
      return;
    }
    try {
      if (marker !== undefined) await this.options.log.appendMarker(ctx.partition, ctx.epoch, marker);
      else await this.options.log.append(ctx.partition, ctx.epoch, result.records, result.transactional);
    } catch (err) {
      this.options.logger.warn({ topic: this.options.topic, partition: ctx.partition, operation: w.name, err: String(err) }, 'coordinator append failed');
      settle(w, { error: err });
      return;
    }
    // Unloaded while the append was in flight: its waiters already got NOT_COORDINATOR.
    if (!ctx.is('active')) return;
    if (result.replay !== false) {
      try {
        if (marker !== undefined) ctx.shard.replayEndTransactionMarker?.(marker);
        for (const record of result.records) ctx.shard.replay(record, result.transactional);
      } catch (err) {
        // Our own records failed to apply: the shard no longer matches its log, so stop serving it.
        this.options.logger.error({ topic: this.options.topic, partition: ctx.partition, operation: w.name, err: String(err) }, 'replay of a committed write failed');
        settle(w, { error: new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `${w.name}: replay failed: ${String(err)}`) });
        this.unload(ctx, 'replay failed');
        return;
      }
    }
    settle(w, { value: result.response });
  }

  private checkPartition(partition: number): void {
    assert(Number.isInteger(partition) && partition >= 0 && partition < this.options.numPartitions, 'no such internal topic partition', {
      topic: this.options.topic,
      partition,
      numPartitions: this.options.numPartitions,
    });
  }
}
