// coordinator/runtime room: what the coordinator runtime needs from the partitions below it. The
// replication layer implements CoordinatorPartitionLog over the internal topic's Partitions; unit
// tests implement it in memory. Nothing here knows about groups or transactions.

/** One key/value record of an internal topic; `value` null is a tombstone. */
export interface CoordinatorRecord {
  key: Buffer;
  value: Buffer | null;
}

/** The producer a transactional write belongs to (its records wait for a marker). */
export interface TransactionalProducer {
  producerId: number;
  producerEpoch: number;
}

/** A transaction marker: the end of `producerId`'s transaction, committed or aborted. */
export interface TransactionMarker extends TransactionalProducer {
  coordinatorEpoch: number;
  commit: boolean;
}

/** What a shard replays: a record (with its producer when written in a transaction) or a marker. */
export type CoordinatorLogEntry = (CoordinatorRecord & { txn?: TransactionalProducer }) | { marker: TransactionMarker };

/** The internal topic's partitions as the runtime sees them (one shard per partition). */
export interface CoordinatorPartitionLog {
  /**
   * Appends `records` as one batch to `partition`, which this broker leads at `leaderEpoch`
   * (a transactional batch of `txn` when given). Resolves with the batch's last offset once it
   * is committed (the high watermark passed it); rejects with a KafkaError
   * (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE,
   * REQUEST_TIMED_OUT, INVALID_PRODUCER_EPOCH, …) when it was not written or not committed.
   */
  append(partition: number, leaderEpoch: number, records: CoordinatorRecord[], txn?: TransactionalProducer): Promise<{ lastOffset: number }>;
  /** Writes a transaction marker to `partition` (led here at `leaderEpoch`); resolves once committed. */
  appendMarker(partition: number, leaderEpoch: number, marker: TransactionMarker): Promise<void>;
  /** Every committed record and marker of `partition`, oldest first (used when a shard loads). */
  read(partition: number): AsyncIterable<CoordinatorLogEntry> | Iterable<CoordinatorLogEntry>;
}

/**
 * Leadership of an internal topic's partitions, as the replica manager follows it: the runtime
 * loads a shard on election and unloads it on resignation (or a newer epoch elsewhere).
 */
export interface CoordinatorLeadershipListener {
  onElection(partition: number, leaderEpoch: number): void;
  onResignation(partition: number, leaderEpoch: number | null): void;
}

export interface TimerHandle {
  cancel(): void;
}

/** Time and timers, injected so shards and tests run on a manual clock. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `delayMs`; the handle cancels it. Timers must not keep the process alive. */
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

/** The subset of pino the coordinators use. */
export interface CoordinatorLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
