// replication/ room: ReplicaManager — the Partitions this broker holds, kept in step with the
// metadata store's events (topics created/deleted, partition state changed, configs altered);
// getPartitionOrError with Kafka's errors; the produce and fetch purgatories; leadership
// notifications that the coordinators follow to load and unload their shards.
import type { Logger } from 'pino';
import type { MetadataEvent, MetadataStore, PartitionState, TopicImage } from '../cluster/index.js';
import type { BrokerConfig } from '../config/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { DeferredSync, type Log, type LogManager } from '../log/index.js';
import { NO_LEADER_EPOCH, Partition, type AppendOrigin, type LeaderAppend } from './partition.js';
import { FetchPurgatory, ProducePurgatory } from './purgatory.js';
import { ReplicaFetcherManager, replicaFetcherSettings } from './replica-fetcher.js';

export type LeadershipChange = 'leader' | 'follower' | 'removed';
export type LeadershipListener = (partition: Partition, change: LeadershipChange) => void;

export interface ReplicaManagerOptions {
  localBrokerId: number;
  metadata: MetadataStore;
  logManager: LogManager;
  config: BrokerConfig;
  logger: Logger;
}

export class ReplicaManager {
  readonly localBrokerId: number;
  readonly fetchPurgatory: FetchPurgatory;
  readonly producePurgatory: ProducePurgatory;
  private readonly metadata: MetadataStore;
  private readonly logManager: LogManager;
  private readonly logger: Logger;
  private readonly config: BrokerConfig;
  /** topic → its partitions by index; sparse where this broker holds no replica. */
  private readonly partitions = new Map<string, Array<Partition | undefined>>();
  private readonly leadershipListeners = new Map<string, Set<LeadershipListener>>();
  private unsubscribe: (() => void) | null = null;
  private readonly fetchers: ReplicaFetcherManager;
  private readonly replicaLagTimeMaxMs: number;
  private isrTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> = Promise.resolve();

  constructor(options: ReplicaManagerOptions) {
    this.localBrokerId = options.localBrokerId;
    this.metadata = options.metadata;
    this.logManager = options.logManager;
    this.logger = options.logger;
    this.config = options.config;
    this.replicaLagTimeMaxMs = options.config.getNumber('replica.lag.time.max.ms');
    this.fetchers = new ReplicaFetcherManager(this.localBrokerId, this.metadata, replicaFetcherSettings(options.config), this.logger.child({ room: 'replica-fetcher' }));
    this.fetchPurgatory = new FetchPurgatory(options.config.getNumber('spool.fetch.purgatory.max.requests'));
    this.producePurgatory = new ProducePurgatory(options.config.getNumber('spool.produce.purgatory.max.requests'));
  }

  /** Opens the partitions of the current metadata image, then follows its events. */
  async start(): Promise<void> {
    for (const topic of this.metadata.topics()) await this.addPartitions(topic, topic.partitions);
    this.unsubscribe = this.metadata.subscribe((event) => this.apply(event));
    // Kafka's isr-expiration task: leaders drop followers that stopped catching up.
    this.isrTimer = setInterval(() => {
      const now = Date.now();
      for (const partition of this.allPartitions()) if (partition.isLeader) partition.maybeShrinkIsr(now);
    }, Math.max(100, Math.floor(this.replicaLagTimeMaxMs / 2)));
    this.isrTimer.unref();
  }

  /** Partition leaders ask the controller (metadata store) for ISR changes, naming their epochs. */
  private requestIsrChange(partition: Partition, isr: number[]): Promise<void> {
    // Kafka's isReplicaIsrEligible (KIP-841): a follower this broker does not see registered (its
    // session expired and it has not registered again) cannot join. The store refuses it anyway;
    // asking would cost an etcd request on every fetch of that follower until it registers.
    const registered = new Set(this.metadata.brokers().map((b) => b.nodeId));
    const ineligible = isr.filter((b) => !partition.isr.includes(b) && !registered.has(b));
    if (ineligible.length > 0) {
      this.logger.debug({ topic: partition.topic, partition: partition.index, ineligible }, 'not proposing unregistered brokers for the ISR');
      return Promise.resolve();
    }
    this.logger.info({ topic: partition.topic, partition: partition.index, from: partition.isr, to: isr, leaderEpoch: partition.leaderEpoch }, 'requesting ISR change');
    return this.metadata
      .alterPartition({ topic: partition.topic, partition: partition.index, leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch, isr })
      .then(
        () => undefined,
        (err: unknown) => {
          this.logger.info({ topic: partition.topic, partition: partition.index, err: err instanceof Error ? err.message : String(err) }, 'ISR change refused');
        },
      );
  }

  private async apply(event: MetadataEvent): Promise<void> {
    switch (event.type) {
      case 'topic-created':
        await this.addPartitions(event.topic, event.topic.partitions);
        return;
      case 'partitions-created': {
        const topic = this.metadata.topic(event.topic);
        if (topic) await this.addPartitions(topic, event.partitions);
        return;
      }
      case 'topic-deleted':
        this.removeTopic(event.topic);
        return;
      case 'partition-changed':
        await this.applyPartitionState(event.partition);
        return;
      case 'topic-configs-changed': {
        const held = this.partitions.get(event.topic);
        if (held) await this.logManager.reconfigureTopic(event.topic, held.length, event.configs);
        return;
      }
      case 'broker-registered':
        return;
    }
  }

  private async addPartitions(topic: TopicImage, states: PartitionState[]): Promise<void> {
    let held = this.partitions.get(topic.name);
    if (!held) {
      held = [];
      this.partitions.set(topic.name, held);
    }
    const local = states.filter((state) => state.replicas.includes(this.localBrokerId));
    // One at a time: a failed open (no fds left) must leave nothing half-open behind when the
    // caller rolls the creation back (opening several at once left directories behind then).
    const logs: Log[] = [];
    for (const state of local) logs.push(await this.logManager.getOrCreateLog(topic.name, state.partition, topic.configs, topic.topicId));
    // The new partitions' first leader epoch checkpoints are fsynced together at the end (with
    // their directories and the log dir), before the caller reports them created.
    const deferred = new DeferredSync();
    const created: Partition[] = [];
    for (let i = 0; i < local.length; i++) {
      created.push(
        new Partition(local[i], logs[i], this.localBrokerId, {
          replicaLagTimeMaxMs: this.replicaLagTimeMaxMs,
          requestIsrChange: (p, isr) => this.requestIsrChange(p, isr),
          producerIdExpirationMs: this.config.getNumber('producer.id.expiration.ms'),
          producerIdExpirationCheckIntervalMs: this.config.getNumber('producer.id.expiration.check.interval.ms'),
          logger: this.logger.child({ room: 'producer-state' }),
          deferredSync: deferred,
        }),
      );
    }
    try {
      if (deferred.size > 0) {
        deferred.addDir(this.logManager.dataDir);
        await deferred.flush();
      }
    } finally {
      // Served (leader or follower) only once their files and directory entries are durable, so
      // nothing is acknowledged on a partition whose creation could still be lost. On a failed
      // flush they are held all the same, for the caller's rollback to close them.
      for (const partition of created) {
        held[partition.index] = partition;
        this.applyLeadership(partition, partition.isLeader ? 'leader' : 'follower');
      }
    }
  }

  private async applyPartitionState(state: PartitionState): Promise<void> {
    const partition = this.getPartition(state.topic, state.partition);
    if (!partition) {
      const topic = this.metadata.topic(state.topic);
      if (topic) await this.addPartitions(topic, [state]);
      return;
    }
    const wasLeader = partition.isLeader;
    const oldEpoch = partition.leaderEpoch;
    partition.applyState(state);
    if (partition.isLeader !== wasLeader || partition.leaderEpoch !== oldEpoch) {
      this.applyLeadership(partition, partition.isLeader ? 'leader' : 'follower');
    }
  }

  private removeTopic(topic: TopicImage): void {
    const held = this.partitions.get(topic.name);
    this.partitions.delete(topic.name);
    for (const partition of held ?? []) if (partition) this.applyLeadership(partition, 'removed');
    this.logManager.deleteLogs(topic.name, topic.partitions.map((p) => p.partition), topic.configs);
    this.logger.info({ topic: topic.name, topicId: topic.topicId }, 'deleted topic');
  }

  /** Follows leadership of `topic`'s partitions (the coordinators' internal topics). */
  onLeadershipChange(topic: string, listener: LeadershipListener): () => void {
    let set = this.leadershipListeners.get(topic);
    if (!set) {
      set = new Set();
      this.leadershipListeners.set(topic, set);
    }
    set.add(listener);
    // A listener that subscribes late learns the current state at once.
    for (const p of this.partitions.get(topic) ?? []) if (p) listener(p, p.isLeader ? 'leader' : 'follower');
    return () => set.delete(listener);
  }

  /** Leaders stop fetching; followers (re)start fetching from their leader, truncating first. */
  private applyLeadership(partition: Partition, change: LeadershipChange): void {
    if (change === 'follower') this.fetchers.follow(partition);
    else this.fetchers.unfollow(partition);
    this.notifyLeadership(partition, change);
  }

  private notifyLeadership(partition: Partition, change: LeadershipChange): void {
    for (const listener of this.leadershipListeners.get(partition.topic) ?? []) {
      try {
        listener(partition, change);
      } catch (err) {
        this.logger.error({ err, topic: partition.topic, partition: partition.index, change }, 'leadership listener failed');
      }
    }
  }

  getPartition(topic: string, partition: number): Partition | undefined {
    const held = this.partitions.get(topic);
    return held !== undefined && partition >= 0 && partition < held.length ? held[partition] : undefined;
  }

  partitionsOf(topic: string): Partition[] {
    return (this.partitions.get(topic) ?? []).filter((p): p is Partition => p !== undefined);
  }

  allPartitions(): Partition[] {
    return [...this.partitions.values()].flatMap((held) => held.filter((p): p is Partition => p !== undefined));
  }

  /**
   * The partition if this broker may serve the request, else a KafkaError with Kafka's code:
   * UNKNOWN_TOPIC_OR_PARTITION (no such partition), NOT_LEADER_OR_FOLLOWER (exists, not ours or
   * not the leader when required), FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (the client's
   * currentLeaderEpoch is older / newer than ours).
   */
  getPartitionOrError(topic: string, partition: number, currentLeaderEpoch = NO_LEADER_EPOCH, requireLeader = true): Partition {
    const held = this.getPartition(topic, partition);
    if (!held) {
      const known = this.metadata.partition(topic, partition);
      if (known) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `This broker holds no replica of ${topic}-${partition}`, { topic, partition });
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition: ${topic}-${partition}`, { topic, partition });
    }
    const errorCode = held.checkLeaderEpoch(currentLeaderEpoch, requireLeader);
    if (errorCode !== ErrorCode.NONE) {
      throw new KafkaError(errorCode, `${topic}-${partition} at leader epoch ${held.leaderEpoch} refused a request at epoch ${currentLeaderEpoch}`, {
        topic,
        partition,
        leaderEpoch: held.leaderEpoch,
        currentLeaderEpoch,
      });
    }
    return held;
  }

  /** Appends to a partition this broker leads (see Partition.appendRecordsToLeader). */
  appendToLeader(partition: Partition, records: Buffer, requiredAcks: number, origin: AppendOrigin, now: number): LeaderAppend {
    return partition.appendRecordsToLeader(records, requiredAcks, origin, now);
  }

  /**
   * acks=all completion: waits until the ISR holds `lastOffset` (high watermark past it), then
   * fsyncs when the topic's flush policy asks for it on every message.
   */
  async awaitReplication(partition: Partition, lastOffset: number, timeoutMs: number): Promise<void> {
    await this.producePurgatory.waitForHighWatermark(partition, lastOffset + 1, partition.log.config.minInsyncReplicas, timeoutMs);
    if (partition.log.config.flushMessages <= 1) await partition.log.flush();
  }

  /** Resolves once the fetchers have stopped (after shutdown()). */
  stopped(): Promise<void> {
    return this.stopping;
  }

  /** Partitions being fetched from each leader. */
  fetching(): Map<number, string[]> {
    return this.fetchers.fetching();
  }

  /** Answers every waiting request and stops the fetchers (broker shutdown, before the logs close). */
  shutdown(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.isrTimer) clearInterval(this.isrTimer);
    this.isrTimer = null;
    this.stopping = this.fetchers.shutdown();
    this.fetchPurgatory.shutdown();
    this.producePurgatory.shutdown();
    for (const partition of this.allPartitions()) this.notifyLeadership(partition, 'removed');
  }
}
