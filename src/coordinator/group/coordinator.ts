// coordinator/group room: the group coordinator the API handlers call (classic JoinGroup/SyncGroup/
// Heartbeat/LeaveGroup, committed offsets, group administration). A facade over the coordinator
// runtime: one GroupCoordinatorShard per __consumer_offsets partition, loaded when this broker
// becomes its leader; each request goes to its group's shard, or is answered with that
// partition's availability error.
import { ErrorCode as E } from '../../errors.js';
import type { CoordinatorLeadershipListener, CoordinatorPartitionLog, TransactionalProducer, TransactionMarker } from '../runtime/ports.js';
import { CoordinatorRuntime } from '../runtime/runtime.js';
import { GROUP_STATES, type GroupState, type JoinGroupResult, type SyncGroupResult } from './group.js';
import { CONSUMER_OFFSETS_TOPIC } from './offsets-topic.js';
import type { Clock, GroupCoordinatorConfig, GroupLogger } from './ports.js';
import { partitionForGroup } from './records.js';
import {
  joinError,
  syncError,
  type DescribedGroup,
  type FetchedOffsets,
  type HeartbeatParams,
  type JoinGroupParams,
  type LeaveGroupResult,
  type ListedGroup,
  type MemberIdentity,
  type OffsetCommitParams,
  type StableGeneration,
  type SyncGroupParams,
  type TopicPartitionErrors,
} from './requests.js';
import { GroupCoordinatorShard, writeErrorCode } from './shard.js';
import type { ConsumerHeartbeatParams, ConsumerHeartbeatResult, DescribedConsumerGroup, TopicsView } from './consumer-coordinator.js';

export * from './requests.js';

export interface GroupCoordinatorDeps {
  /** __consumer_offsets as the replication layer (or a test) provides it. */
  log: CoordinatorPartitionLog;
  /** Partitions of __consumer_offsets (offsets.topic.num.partitions of the existing topic). */
  numPartitions: number;
  clock: Clock;
  logger: GroupLogger;
  config: GroupCoordinatorConfig;
}

export class GroupCoordinator implements CoordinatorLeadershipListener {
  private readonly runtime: CoordinatorRuntime<GroupCoordinatorShard>;
  private readonly stableListeners = new Set<(g: StableGeneration) => void>();
  private closed = false;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    this.runtime = new CoordinatorRuntime<GroupCoordinatorShard>({
      topic: CONSUMER_OFFSETS_TOPIC,
      numPartitions: deps.numPartitions,
      log: deps.log,
      clock: deps.clock,
      logger: deps.logger,
      shardFactory: (context) =>
        new GroupCoordinatorShard({
          context,
          clock: deps.clock,
          logger: deps.logger,
          config: deps.config,
          onStableGeneration: (g) => {
            for (const listener of this.stableListeners) listener(g);
          },
        }),
    });
  }

  get numPartitions(): number {
    return this.deps.numPartitions;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.deps.numPartitions);
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership of __consumer_offsets partitions

  onElection(partition: number, leaderEpoch: number): void {
    this.runtime.onElection(partition, leaderEpoch);
  }

  onResignation(partition: number, leaderEpoch: number | null): void {
    this.runtime.onResignation(partition, leaderEpoch);
  }

  /**
   * Resolves with NONE once `partition`'s shard is loaded (COORDINATOR_LOAD_IN_PROGRESS after
   * `timeoutMs`, NOT_COORDINATOR when not led here), so a first request need not retry.
   */
  awaitLoaded(partition: number, timeoutMs: number): Promise<number> {
    return this.runtime.awaitLoaded(partition, timeoutMs);
  }

  /** FindCoordinator's error for a group: NONE, COORDINATOR_NOT_AVAILABLE while loading, NOT_COORDINATOR. */
  coordinatorErrorFor(groupId: string): number {
    const err = this.runtime.shardError(this.partitionFor(groupId));
    return err === E.COORDINATOR_LOAD_IN_PROGRESS ? E.COORDINATOR_NOT_AVAILABLE : err;
  }

  /** Unloads every shard: timers cancelled, waiting requests answered NOT_COORDINATOR. */
  close(): void {
    this.closed = true;
    this.runtime.close();
  }

  /** Observes every generation that becomes Stable (metrics, tests); returns the unsubscribe. */
  onStableGeneration(listener: (g: StableGeneration) => void): () => void {
    this.stableListeners.add(listener);
    return () => this.stableListeners.delete(listener);
  }

  /**
   * Runs `op` on the shard of `groupId`'s partition, or answers `unavailable(code)` with the
   * partition's error (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR).
   */
  private onShard<R>(groupId: string, op: (shard: GroupCoordinatorShard) => R, unavailable: (code: number) => R): R {
    const partition = this.partitionFor(groupId);
    const err = this.runtime.shardError(partition);
    if (err !== E.NONE) return unavailable(err);
    return this.runtime.runInMemoryOperation(partition, op);
  }

  groupState(groupId: string): GroupState | null {
    return this.onShard(groupId, (shard) => shard.groupState(groupId), () => null);
  }

  // ---------------------------------------------------------------------------------------------
  // Membership (classic protocol)

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    return this.onShard(p.groupId, (shard) => shard.joinGroup(p), (code) => Promise.resolve(joinError(p.memberId, code)));
  }

  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    return this.onShard(p.groupId, (shard) => shard.syncGroup(p), (code) => Promise.resolve(syncError(code)));
  }

  heartbeat(p: HeartbeatParams): number {
    return this.onShard(p.groupId, (shard) => shard.heartbeat(p), (code) => code);
  }

  /** LeaveGroup; v0-2 send one member id, v3+ a batch of members by member id or group.instance.id. */
  leaveGroup(groupId: string, members: MemberIdentity[]): LeaveGroupResult {
    return this.onShard(groupId, (shard) => shard.leaveGroup(groupId, members), (code) => ({ errorCode: code, members: [] }));
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets

  /** OffsetCommit: answered once the commit is committed to __consumer_offsets. */
  commitOffsets(p: OffsetCommitParams): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] =>
      p.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((x) => ({ partitionIndex: x.partitionIndex, errorCode })) }));
    return this.onShard(p.groupId, (shard) => shard.commitOffsets(p), (code) => Promise.resolve(all(code)));
  }

  /** TxnOffsetCommit: offsets written in the producer's transaction, committed with it. */
  commitTransactionalOffsets(p: OffsetCommitParams, txn: TransactionalProducer): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] =>
      p.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((x) => ({ partitionIndex: x.partitionIndex, errorCode })) }));
    return this.onShard(p.groupId, (shard) => shard.commitTransactionalOffsets(p, txn), (code) => Promise.resolve(all(code)));
  }

  /**
   * WriteTxnMarkers for __consumer_offsets-`partition`: writes the marker through the shard (so
   * its pending transactional offsets settle in order with other writes). Resolves with an error code.
   */
  async completeTransaction(partition: number, marker: TransactionMarker): Promise<number> {
    if (partition < 0 || partition >= this.deps.numPartitions) return E.UNKNOWN_TOPIC_OR_PARTITION;
    const err = this.runtime.shardError(partition);
    if (err !== E.NONE) return err === E.COORDINATOR_LOAD_IN_PROGRESS ? E.COORDINATOR_LOAD_IN_PROGRESS : E.NOT_LEADER_OR_FOLLOWER;
    try {
      return await this.runtime.runInMemoryOperation(partition, (shard) => shard.completeTransaction(marker));
    } catch (err) {
      return writeErrorCode(err, E.UNKNOWN_SERVER_ERROR);
    }
  }

  /**
   * OffsetFetch for one group; `topics` null means every committed partition. With
   * `requireStable`, a partition with an offset commit in an open transaction answers
   * UNSTABLE_OFFSET_COMMIT (the client retries).
   */
  fetchOffsets(
    groupId: string,
    topics: Array<{ name: string; partitionIndexes: number[] }> | null,
    requireStable = false,
    member?: { memberId: string | null; memberEpoch: number },
  ): FetchedOffsets {
    const partition = this.partitionFor(groupId);
    const err = this.runtime.shardError(partition);
    if (err !== E.NONE) return { errorCode: err, topics: [] };
    return this.runtime.scheduleReadOperation(partition, (shard) => {
      const fetched = shard.fetchOffsets(groupId, topics, member);
      if (!requireStable) return fetched;
      for (const t of fetched.topics) {
        for (const x of t.partitions) if (shard.hasPendingTxnOffset(groupId, t.name, x.partitionIndex)) x.errorCode = E.UNSTABLE_OFFSET_COMMIT;
      }
      return fetched;
    });
  }

  deleteOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: Array<{ partitionIndex: number }> }>,
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    return this.onShard(groupId, (shard) => shard.deleteOffsets(groupId, topics), (code) => Promise.resolve({ errorCode: code, topics: [] }));
  }

  // ---------------------------------------------------------------------------------------------
  // KIP-848 consumer groups

  /** ConsumerGroupHeartbeat on the group's shard (or the partition's availability error). */
  consumerGroupHeartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    return this.onShard(
      p.groupId,
      (shard) => shard.consumerGroupHeartbeat(p),
      (code) => Promise.resolve({ errorCode: code, errorMessage: null, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null }),
    );
  }

  describeConsumerGroups(groupIds: string[], topics: TopicsView): DescribedConsumerGroup[] {
    return groupIds.map((groupId) => {
      const partition = this.partitionFor(groupId);
      const err = this.runtime.shardError(partition);
      if (err !== E.NONE) {
        return { errorCode: err, errorMessage: null, groupId, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] };
      }
      return this.runtime.scheduleReadOperation(partition, (shard) => shard.describeConsumerGroup(groupId, topics));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Administration

  describeGroups(groupIds: string[]): DescribedGroup[] {
    return groupIds.map((groupId) => {
      const partition = this.partitionFor(groupId);
      const err = this.runtime.shardError(partition);
      if (err !== E.NONE) return { errorCode: err, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
      return this.runtime.scheduleReadOperation(partition, (shard) => shard.describeGroup(groupId));
    });
  }

  /**
   * ListGroups over every shard this broker leads; `statesFilter` empty means all, names compare
   * case-insensitively as in Kafka. While a shard loads the answer is COORDINATOR_LOAD_IN_PROGRESS.
   */
  listGroups(statesFilter: string[]): { errorCode: number; groups: ListedGroup[] } {
    if (this.closed) return { errorCode: E.NOT_COORDINATOR, groups: [] };
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    const groups: ListedGroup[] = [];
    for (const partition of this.runtime.ownedPartitions()) {
      const err = this.runtime.shardError(partition);
      if (err === E.COORDINATOR_LOAD_IN_PROGRESS) return { errorCode: err, groups: [] };
      if (err !== E.NONE) continue;
      groups.push(...this.runtime.scheduleReadOperation(partition, (shard) => shard.listGroups(wanted)));
    }
    return { errorCode: E.NONE, groups };
  }

  /** DeleteGroups: each group is removed by its own shard; shards work in parallel. */
  deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    return Promise.all(
      groupIds.map(async (groupId) => ({
        groupId,
        errorCode: await this.onShard(
          groupId,
          (shard) => shard.deleteGroup(groupId),
          (code) => Promise.resolve(code),
        ).catch((err: unknown) => writeErrorCode(err)),
      })),
    );
  }
}

export { GROUP_STATES };
