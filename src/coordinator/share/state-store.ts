// coordinator/share room: the share coordinator (Kafka's ShareCoordinator): the durable state of
// every share-partition, one shard per __share_group_state partition on the coordinator runtime.
// State changes only by replaying ShareSnapshot/ShareUpdate records (Kafka's format). Spool
// writes a full ShareSnapshot for every change: a share-partition's state is bounded by
// group.share.partition.max.record.locks, the topic is compacted on the same key, and the last
// snapshot is the whole state, so no update chain needs merging at load. ShareUpdate records
// (written by Kafka) are still merged when replayed.
import { ErrorCode, KafkaError } from '../../errors.js';
import type { Clock, CoordinatorLeadershipListener, CoordinatorLogger, CoordinatorPartitionLog, CoordinatorRecord } from '../runtime/ports.js';
import { CoordinatorRuntime, type CoordinatorShard } from '../runtime/runtime.js';
import {
  SHARE_GROUP_STATE_TOPIC,
  SHARE_SNAPSHOT_RECORD_TYPE,
  coordinatorKey,
  decodeStateRecord,
  encodeSnapshotValue,
  encodeStateKey,
  statePartitionFor,
  type SharePartitionKey,
} from './records.js';
import type { PersistedShareState, StateBatch } from './share-partition.js';

interface StoredState extends PersistedShareState {
  key: SharePartitionKey;
  snapshotEpoch: number;
  leaderEpoch: number;
  createTimestamp: number;
}

class ShareStateShard implements CoordinatorShard {
  readonly states = new Map<string, StoredState>();

  replay(record: CoordinatorRecord): void {
    const r = decodeStateRecord(record.key, record.value);
    if (r.type === 'unknown') return;
    const id = coordinatorKey(r.key);
    if (r.value === null) {
      this.states.delete(id);
      return;
    }
    if (r.type === 'snapshot') {
      const v = r.value;
      this.states.set(id, {
        key: r.key,
        snapshotEpoch: v.snapshotEpoch,
        leaderEpoch: v.leaderEpoch,
        createTimestamp: v.createTimestamp,
        stateEpoch: v.stateEpoch,
        startOffset: v.startOffset,
        stateBatches: v.stateBatches,
      });
      return;
    }
    const current = this.states.get(id);
    if (current === undefined) return;
    const v = r.value;
    if (v.startOffset >= 0) current.startOffset = v.startOffset;
    current.stateBatches = mergeBatches(current.stateBatches, v.stateBatches, current.startOffset);
  }

  onLoaded(): void {
    // No timers: the share coordinator answers reads and writes only.
  }

  onUnloaded(): void {
    this.states.clear();
  }
}

/** Later batches overwrite the offsets they cover; offsets below `startOffset` are dropped. */
function mergeBatches(base: StateBatch[], updates: StateBatch[], startOffset: number): StateBatch[] {
  const byOffset = new Map<number, StateBatch>();
  for (const b of [...base, ...updates]) {
    for (let o = Math.max(b.firstOffset, startOffset); o <= b.lastOffset; o++) byOffset.set(o, b);
  }
  const out: StateBatch[] = [];
  for (const o of [...byOffset.keys()].sort((a, b) => a - b)) {
    const b = byOffset.get(o);
    if (b === undefined) continue;
    const last = out.at(-1);
    if (last?.lastOffset === o - 1 && last.deliveryState === b.deliveryState && last.deliveryCount === b.deliveryCount) last.lastOffset = o;
    else out.push({ firstOffset: o, lastOffset: o, deliveryState: b.deliveryState, deliveryCount: b.deliveryCount });
  }
  return out;
}

export interface ShareStateStoreDeps {
  log: CoordinatorPartitionLog;
  numPartitions: number;
  clock: Clock;
  logger: CoordinatorLogger;
}

/** A stored share-partition state, as DescribeShareGroupOffsets and restarts see it. */
export interface ShareStateSummary extends PersistedShareState {
  key: SharePartitionKey;
  leaderEpoch: number;
}

export class ShareStateStore implements CoordinatorLeadershipListener {
  private readonly runtime: CoordinatorRuntime<ShareStateShard>;

  constructor(private readonly deps: ShareStateStoreDeps) {
    this.runtime = new CoordinatorRuntime<ShareStateShard>({
      topic: SHARE_GROUP_STATE_TOPIC,
      numPartitions: deps.numPartitions,
      log: deps.log,
      clock: deps.clock,
      logger: deps.logger,
      shardFactory: () => new ShareStateShard(),
    });
  }

  get numPartitions(): number {
    return this.deps.numPartitions;
  }

  partitionFor(key: SharePartitionKey): number {
    return statePartitionFor(key, this.deps.numPartitions);
  }

  /** Key type 2 of FindCoordinator: "groupId:topicId:partition" → its state partition. */
  partitionForCoordinatorKey(key: string): number | null {
    const last = key.lastIndexOf(':');
    const mid = key.lastIndexOf(':', last - 1);
    if (mid <= 0 || last <= mid + 1) return null;
    const partition = Number(key.slice(last + 1));
    if (!Number.isInteger(partition) || partition < 0) return null;
    return this.partitionFor({ groupId: key.slice(0, mid), topicId: key.slice(mid + 1, last), partition });
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

  errorFor(partition: number): number {
    return this.runtime.shardError(partition);
  }

  /** The stored state, or null when none was written; throws a KafkaError when the shard is not here. */
  async read(key: SharePartitionKey, loadTimeoutMs: number): Promise<PersistedShareState | null> {
    const partition = this.partitionFor(key);
    const code = await this.runtime.awaitLoaded(partition, loadTimeoutMs);
    if (code !== ErrorCode.NONE) throw new KafkaError(code, `share state for ${coordinatorKey(key)}: ${SHARE_GROUP_STATE_TOPIC}-${partition} is not available here`);
    const s = this.runtime.scheduleReadOperation(partition, (shard) => shard.states.get(coordinatorKey(key)));
    return s === undefined ? null : { stateEpoch: s.stateEpoch, startOffset: s.startOffset, stateBatches: s.stateBatches.map((b) => ({ ...b })) };
  }

  /**
   * Writes the whole state as a ShareSnapshot; resolves once committed. A write older than the
   * stored state is refused, as Kafka's share coordinator does: a lower state epoch
   * (AlterShareGroupOffsets started a new one) with FENCED_STATE_EPOCH, a lower leader epoch (a
   * newer partition leader wrote) with FENCED_LEADER_EPOCH. Leader epoch -1 (admin writes) skips
   * the leader check.
   */
  write(key: SharePartitionKey, state: PersistedShareState, leaderEpoch: number): Promise<void> {
    const partition = this.partitionFor(key);
    return this.runtime.scheduleWriteOperation('write-share-state', partition, (shard) => {
      const current = shard.states.get(coordinatorKey(key));
      if (current !== undefined && state.stateEpoch < current.stateEpoch) {
        throw new KafkaError(ErrorCode.FENCED_STATE_EPOCH, `share state ${coordinatorKey(key)}: state epoch ${state.stateEpoch} is older than the stored ${current.stateEpoch}`);
      }
      if (current !== undefined && leaderEpoch >= 0 && leaderEpoch < current.leaderEpoch) {
        throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, `share state ${coordinatorKey(key)}: leader epoch ${leaderEpoch} is older than the stored ${current.leaderEpoch}`);
      }
      const now = this.deps.clock.now();
      // Start offset -1: "not being written" (WriteShareGroupState), the stored one stays.
      const written = state.startOffset < 0 && current !== undefined ? { ...state, startOffset: current.startOffset } : state;
      const value = encodeSnapshotValue(written, (current?.snapshotEpoch ?? -1) + 1, leaderEpoch, current?.createTimestamp ?? now, now);
      return { records: [{ key: encodeStateKey(SHARE_SNAPSHOT_RECORD_TYPE, key), value }], response: undefined };
    });
  }

  /**
   * ReadShareGroupState as Kafka's share coordinator answers it: the stored state, or null when
   * none was written. A read at a leader epoch older than the stored one is FENCED_LEADER_EPOCH
   * (an older partition leader); a newer one is recorded first (a snapshot at the new epoch), so
   * every later write of an older leader is fenced. Fails at once (NOT_COORDINATOR,
   * COORDINATOR_LOAD_IN_PROGRESS) when the shard is not loaded here.
   */
  readForLeader(key: SharePartitionKey, leaderEpoch: number): Promise<PersistedShareState | null> {
    const partition = this.partitionFor(key);
    return this.runtime.scheduleWriteOperation('read-share-state', partition, (shard) => {
      const current = shard.states.get(coordinatorKey(key));
      if (current === undefined) return { records: [], response: null };
      if (leaderEpoch >= 0 && leaderEpoch < current.leaderEpoch) {
        throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, `share state ${coordinatorKey(key)}: leader epoch ${leaderEpoch} is older than the stored ${current.leaderEpoch}`);
      }
      const response: PersistedShareState = { stateEpoch: current.stateEpoch, startOffset: current.startOffset, stateBatches: current.stateBatches.map((b) => ({ ...b })) };
      if (leaderEpoch <= current.leaderEpoch) return { records: [], response };
      const now = this.deps.clock.now();
      const value = encodeSnapshotValue(current, current.snapshotEpoch + 1, leaderEpoch, current.createTimestamp, now);
      return { records: [{ key: encodeStateKey(SHARE_SNAPSHOT_RECORD_TYPE, key), value }], response };
    });
  }

  /**
   * InitializeShareGroupState: a new state at `stateEpoch` with an empty window starting at
   * `startOffset` (-1: the share-partition leader picks it from share.auto.offset.reset on first
   * use). FENCED_STATE_EPOCH when the stored state has a newer state epoch. A stored state at the
   * same state epoch is kept (resolves false): the group coordinator initializes a newly
   * subscribed partition at epoch 0 without knowing whether its leader already wrote state, and
   * must not wipe it; AlterShareGroupOffsets initializes at a newer epoch. The stored leader epoch
   * is kept, so a former partition leader stays fenced. True when written.
   */
  initialize(key: SharePartitionKey, stateEpoch: number, startOffset: number): Promise<boolean> {
    const partition = this.partitionFor(key);
    return this.runtime.scheduleWriteOperation('initialize-share-state', partition, (shard) => {
      const current = shard.states.get(coordinatorKey(key));
      if (current !== undefined && stateEpoch < current.stateEpoch) {
        throw new KafkaError(ErrorCode.FENCED_STATE_EPOCH, `share state ${coordinatorKey(key)}: state epoch ${stateEpoch} is older than the stored ${current.stateEpoch}`);
      }
      if (current?.stateEpoch === stateEpoch) return { records: [], response: false };
      const now = this.deps.clock.now();
      const value = encodeSnapshotValue({ stateEpoch, startOffset, stateBatches: [] }, (current?.snapshotEpoch ?? -1) + 1, current?.leaderEpoch ?? -1, current?.createTimestamp ?? now, now);
      return { records: [{ key: encodeStateKey(SHARE_SNAPSHOT_RECORD_TYPE, key), value }], response: true };
    });
  }

  /** ReadShareGroupStateSummary: the stored start offset and epochs, or null; throws when the shard is not loaded here. */
  summary(key: SharePartitionKey): { stateEpoch: number; leaderEpoch: number; startOffset: number } | null {
    const partition = this.partitionFor(key);
    const s = this.runtime.scheduleReadOperation(partition, (shard) => shard.states.get(coordinatorKey(key)));
    return s === undefined ? null : { stateEpoch: s.stateEpoch, leaderEpoch: s.leaderEpoch, startOffset: s.startOffset };
  }

  /** Removes a share-partition's state (tombstone). */
  delete(key: SharePartitionKey): Promise<void> {
    const partition = this.partitionFor(key);
    return this.runtime.scheduleWriteOperation('delete-share-state', partition, (shard) => {
      if (!shard.states.has(coordinatorKey(key))) return { records: [], response: undefined };
      return { records: [{ key: encodeStateKey(SHARE_SNAPSHOT_RECORD_TYPE, key), value: null }], response: undefined };
    });
  }

  /** Every stored state of `groupId` in the shards loaded here (DescribeShareGroupOffsets, ListGroups after a restart). */
  statesOfGroup(groupId: string | null): ShareStateSummary[] {
    const out: ShareStateSummary[] = [];
    for (const p of this.runtime.ownedPartitions()) {
      if (this.runtime.shardError(p) !== ErrorCode.NONE) continue;
      this.runtime.scheduleReadOperation(p, (shard) => {
        for (const s of shard.states.values()) {
          if (groupId === null || s.key.groupId === groupId) {
            out.push({ key: s.key, leaderEpoch: s.leaderEpoch, stateEpoch: s.stateEpoch, startOffset: s.startOffset, stateBatches: s.stateBatches });
          }
        }
      });
    }
    return out;
  }

  close(): void {
    this.runtime.close();
  }
}
