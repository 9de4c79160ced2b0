// coordinator/share room: the share-partitions this broker leads (Kafka's SharePartitionManager):
// created on the first ShareFetch for (group, topic, partition) from the state in
// __share_group_state (or, the first time, at the offset share.auto.offset.reset names), their
// acquisition-lock timers, the share sessions, and the writes of their state after every change
// that must survive a restart (acknowledgements, releases, lock expiries). Records acquired but
// not acknowledged when the broker stops are delivered again after it restarts.
import { ErrorCode, KafkaError } from '../../errors.js';
import type { Clock, CoordinatorLogger, TimerHandle } from '../runtime/ports.js';
import type { ShareGroupCoordinator } from './group-coordinator.js';
import { LocalStatePersister, type ShareStatePersister } from './persister.js';
import { coordinatorKey, type SharePartitionKey } from './records.js';
import { ShareSessionCache } from './share-sessions.js';
import { SharePartition, type AcknowledgementBatch, type AcquiredRange, type FetchedBatch, type SharePartitionConfig } from './share-partition.js';
import type { ShareStateStore } from './state-store.js';
import { groupPartitionConfig, type ShareGroupSettingsLookup } from './group-settings.js';

export interface SharePartitionManagerConfig extends SharePartitionConfig {
  /** group.share.max.share.sessions */
  maxShareSessions: number;
  /** How long a read of the state waits for its __share_group_state shard to load. */
  stateLoadTimeoutMs: number;
  /** A share session unused this long may be evicted when the session cache is full (default 60 s). */
  sessionIdleMs?: number;
}

/** The partition's log offsets the manager needs (from the replica manager). */
export interface LogOffsets {
  logStartOffset: number;
  highWatermark: number;
}

interface Entry {
  key: SharePartitionKey;
  leaderEpoch: number;
  ready: Promise<SharePartition>;
  sp: SharePartition | null;
  lockTimer: TimerHandle | null;
  lockTimerAt: number;
  /**
   * The entry's state writes, one at a time (never rejects): a write sent while an older one is
   * still retrying could be overtaken by it and the stored state would go back.
   */
  writes: Promise<void>;
  /** The next write, waiting for the one being sent: every change meanwhile shares it (it snapshots the state when sent). */
  queued: Promise<void> | null;
  /**
   * Dropped because the stored state moved on (AlterShareGroupOffsets, DeleteShareGroupOffsets,
   * a fenced write): its queued writes are not sent. `fenced` is the error they answer, if any.
   */
  discarded: boolean;
  fenced: KafkaError | null;
}

type AvailabilityListener = () => void;

export class SharePartitionManager {
  private readonly entries = new Map<string, Entry>();
  private readonly availabilityListeners = new Set<AvailabilityListener>();
  readonly sessions: ShareSessionCache;
  private readonly persister: ShareStatePersister;
  /** The pending writes of dropped entries, by key: the next load (or admin change) of the key waits for them. */
  private readonly flushing = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      clock: Clock;
      logger: CoordinatorLogger;
      config: SharePartitionManagerConfig;
      store: ShareStateStore;
      groups: ShareGroupCoordinator;
      /** Where the state lives (the share coordinator, maybe on another broker); the local store when absent. */
      persister?: ShareStatePersister;
      /** Each group's dynamic configs (ConfigResource GROUP); absent: `config` for every group. */
      groupSettings?: ShareGroupSettingsLookup;
    },
  ) {
    this.persister = deps.persister ?? new LocalStatePersister(deps.store, deps.config.stateLoadTimeoutMs);
    this.sessions = new ShareSessionCache(deps.config.maxShareSessions, deps.config.sessionIdleMs ?? 60_000, () => deps.clock.now());
    deps.groups.onMemberRemoved((groupId, memberId) => {
      this.sessions.remove(groupId, memberId);
      void this.releaseMember(groupId, memberId);
    });
  }

  get config(): SharePartitionManagerConfig {
    return this.deps.config;
  }

  /** The share-partition, created from its durable state on first use. */
  async get(key: SharePartitionKey, leaderEpoch: number, offsets: LogOffsets): Promise<SharePartition> {
    const id = coordinatorKey(key);
    let entry = this.entries.get(id);
    if (entry !== undefined && entry.leaderEpoch !== leaderEpoch) {
      // Leadership moved away and back: the state on disk is the truth again.
      this.drop(id);
      entry = undefined;
    }
    if (entry === undefined) {
      const created: Entry = {
        key,
        leaderEpoch,
        ready: Promise.resolve(null as unknown as SharePartition),
        sp: null,
        lockTimer: null,
        lockTimerAt: 0,
        writes: Promise.resolve(),
        queued: null,
        discarded: false,
        fenced: null,
      };
      // A write of a previous entry of the key still retrying must land before this one reads.
      created.ready = this.flushed(id).then(() => this.load(created, offsets));
      // The load writes the first state: later writes go after it.
      created.writes = created.ready.then(
        () => undefined,
        () => undefined,
      );
      entry = created;
      this.entries.set(id, created);
      created.ready.catch(() => {
        if (this.entries.get(id) === created) this.entries.delete(id);
      });
    }
    const sp = await entry.ready;
    // Retention or DeleteRecords moved the log start past records still in flight.
    if (sp.startOffset < offsets.logStartOffset) {
      sp.resetStartOffset(offsets.logStartOffset);
      await this.persist(entry);
    }
    return sp;
  }

  /** The loaded share-partition, or undefined (for describe). */
  peek(key: SharePartitionKey): SharePartition | undefined {
    return this.entries.get(coordinatorKey(key))?.sp ?? undefined;
  }

  /** `fetchOffset`: where the read started (offsets the batches skip are archived as gaps). */
  acquire(key: SharePartitionKey, memberId: string, batches: readonly FetchedBatch[], maxRecords: number, fetchOffset?: number): AcquiredRange[] {
    const entry = this.loadedEntry(key);
    const acquired = this.loadedPartition(entry).acquire(memberId, batches, maxRecords, this.deps.clock.now(), fetchOffset);
    if (acquired.length > 0) this.scheduleLockTimer(entry);
    return acquired;
  }

  /** Applies acknowledgements and resolves once the new state is durable. */
  async acknowledge(key: SharePartitionKey, memberId: string, batches: readonly AcknowledgementBatch[]): Promise<void> {
    const entry = this.entries.get(coordinatorKey(key));
    if (entry?.sp == null) throw new KafkaError(ErrorCode.INVALID_RECORD_STATE, `share-partition ${coordinatorKey(key)} has no acquired records`);
    const changed = entry.sp.acknowledge(memberId, batches, this.deps.clock.now());
    this.deps.logger.debug({ shareKey: coordinatorKey(key), memberId, batches: batches.length, startOffset: entry.sp.startOffset, changed }, 'share acknowledgements applied');
    if (!changed) return;
    this.notifyAvailability();
    this.scheduleLockTimer(entry);
    await this.persist(entry);
  }

  /** Called by waiting fetches: records were released (acknowledged RELEASE, lock expiry, member left). */
  onAvailability(listener: AvailabilityListener): () => void {
    this.availabilityListeners.add(listener);
    return () => this.availabilityListeners.delete(listener);
  }

  /** Releases every record `memberId` holds in `groupId`'s share-partitions (leave, session close). */
  async releaseMember(groupId: string, memberId: string): Promise<void> {
    const writes: Array<Promise<void>> = [];
    for (const entry of this.entries.values()) {
      if (entry.key.groupId !== groupId || entry.sp === null) continue;
      if (entry.sp.releaseMember(memberId)) writes.push(this.persist(entry));
    }
    if (writes.length > 0) this.notifyAvailability();
    await Promise.allSettled(writes);
    this.maybeUnloadGroup(groupId);
  }

  /**
   * The group's last share session here closed: its share-partitions are forgotten (their state is
   * durable), as Kafka's leader does when a share group has no member left, so the next use reads
   * the state again (AlterShareGroupOffsets or DeleteShareGroupOffsets may change it meanwhile,
   * on whichever broker coordinates the group).
   */
  private maybeUnloadGroup(groupId: string): void {
    if (this.sessions.hasGroup(groupId)) return;
    for (const [id, entry] of [...this.entries]) {
      if (entry.key.groupId !== groupId || entry.sp === null || entry.sp.acquiredCount() > 0) continue;
      this.drop(id);
    }
  }

  /** The start offset a share-partition has (loaded or stored), or null when it has no state. */
  async startOffset(key: SharePartitionKey): Promise<{ startOffset: number; stateEpoch: number } | null> {
    const sp = this.peek(key);
    if (sp !== undefined) return { startOffset: sp.startOffset, stateEpoch: sp.stateEpoch };
    const stored = await this.persister.readSummary(key);
    return stored === null ? null : { startOffset: stored.startOffset, stateEpoch: stored.stateEpoch };
  }

  /**
   * AlterShareGroupOffsets (on the group coordinator): InitializeShareGroupState at a new state
   * epoch, the window emptied, the start offset set. A leader elsewhere still holding the old
   * state is fenced (FENCED_STATE_EPOCH) at its next write and reads the new state again.
   */
  async alterStartOffset(key: SharePartitionKey, startOffset: number): Promise<void> {
    const id = coordinatorKey(key);
    this.drop(id, true);
    await this.flushed(id);
    const current = await this.persister.readSummary(key);
    // Above any state epoch a leader or the group coordinator's initialization (epoch 0) wrote:
    // the share coordinator keeps a state whose epoch is not older than the initialization's.
    const stateEpoch = (current?.stateEpoch ?? 0) + 1;
    await this.persister.initialize(key, stateEpoch, startOffset);
  }

  /**
   * The group coordinator's InitializeShareGroupState for a topic-partition a share group newly
   * subscribes to: state with no start offset yet (the leader picks it from
   * share.auto.offset.reset on first use), unless state exists. The share coordinator decides
   * atomically: it keeps a state at the same or a newer state epoch (a leader may write between
   * the summary read and the initialization). False when state was found.
   */
  async initializeIfAbsent(key: SharePartitionKey): Promise<boolean> {
    if ((await this.persister.readSummary(key)) !== null) return false;
    try {
      await this.persister.initialize(key, 0, -1);
    } catch (err) {
      // State at a newer state epoch (AlterShareGroupOffsets): it exists.
      if (err instanceof KafkaError && err.code === ErrorCode.FENCED_STATE_EPOCH) return false;
      throw err;
    }
    return true;
  }

  /** DeleteShareGroupOffsets: forgets the share-partition's state. */
  async deleteState(key: SharePartitionKey): Promise<void> {
    const id = coordinatorKey(key);
    this.drop(id, true);
    await this.flushed(id);
    await this.persister.delete(key);
  }

  close(): void {
    for (const id of [...this.entries.keys()]) this.drop(id, true);
    this.flushing.clear();
    this.sessions.clear();
    this.availabilityListeners.clear();
    this.persister.close?.();
  }

  private async load(entry: Entry, offsets: LogOffsets): Promise<SharePartition> {
    const config = groupPartitionConfig(this.deps.config, entry.key.groupId, this.deps.groupSettings);
    // The read records this leader's epoch at the share coordinator: an older leader's writes are fenced from now on.
    const stored = await this.persister.read(entry.key, entry.leaderEpoch);
    let sp: SharePartition;
    if (stored !== null && stored.startOffset >= 0) {
      sp = new SharePartition(config, stored);
    } else {
      const reset = this.deps.groupSettings?.(entry.key.groupId).autoOffsetReset ?? 'latest';
      const startOffset = reset === 'earliest' ? offsets.logStartOffset : offsets.highWatermark;
      sp = new SharePartition(config, { stateEpoch: stored?.stateEpoch ?? 0, startOffset, stateBatches: [] });
      // Kafka's InitializeShareGroupState: the start offset is fixed once, not at every restart.
      await this.persister.write(entry.key, sp.snapshot(), entry.leaderEpoch);
    }
    entry.sp = sp;
    return sp;
  }

  private loadedEntry(key: SharePartitionKey): Entry {
    const entry = this.entries.get(coordinatorKey(key));
    if (entry?.sp == null) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `share-partition ${coordinatorKey(key)} is not loaded`);
    return entry;
  }

  private loadedPartition(entry: Entry): SharePartition {
    if (entry.sp === null) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `share-partition ${coordinatorKey(entry.key)} is not loaded`);
    return entry.sp;
  }

  /**
   * Writes the entry's state; resolves once a snapshot taken after this call is durable. One
   * write per entry is sent at a time: calls made while one is in flight share the next write,
   * which snapshots the state when it is sent, so the last write always carries the newest state.
   */
  private persist(entry: Entry): Promise<void> {
    // Replaced or dropped (AlterShareGroupOffsets, DeleteShareGroupOffsets, a leader change): its
    // state must not overwrite what was written since.
    if (entry.sp === null || this.entries.get(coordinatorKey(entry.key)) !== entry) return Promise.resolve();
    if (entry.queued !== null) return entry.queued;
    const write = entry.writes.then(() => this.sendWrite(entry));
    entry.queued = write;
    entry.writes = write.catch(() => undefined);
    return write;
  }

  private async sendWrite(entry: Entry): Promise<void> {
    // From here on a change needs another write: this one's snapshot is taken now.
    entry.queued = null;
    const sp = entry.sp;
    if (entry.fenced !== null) throw entry.fenced;
    if (sp === null || entry.discarded) return;
    const id = coordinatorKey(entry.key);
    try {
      await this.persister.write(entry.key, sp.snapshot(), entry.leaderEpoch);
    } catch (err) {
      if (err instanceof KafkaError && (err.code === ErrorCode.FENCED_STATE_EPOCH || err.code === ErrorCode.FENCED_LEADER_EPOCH)) {
        // The stored state is newer than this copy: forget it, the next fetch reloads it.
        entry.fenced = err;
        if (this.entries.get(id) === entry) this.drop(id, true);
        this.deps.logger.info({ shareKey: id, code: err.code }, 'share-partition state was fenced; reloading it on next use');
      } else {
        this.deps.logger.warn({ err, shareKey: id }, 'writing share-partition state failed');
      }
      throw err;
    }
  }

  /** Resolves once the writes of the key's dropped entries are done (each is bounded by the persister's deadline). */
  private flushed(id: string): Promise<void> {
    return this.flushing.get(id) ?? Promise.resolve();
  }

  private scheduleLockTimer(entry: Entry): void {
    const deadline = entry.sp?.nextLockDeadline() ?? null;
    if (deadline === null) {
      entry.lockTimer?.cancel();
      entry.lockTimer = null;
      return;
    }
    if (entry.lockTimer !== null && entry.lockTimerAt <= deadline) return;
    entry.lockTimer?.cancel();
    entry.lockTimerAt = deadline;
    entry.lockTimer = this.deps.clock.schedule(Math.max(0, deadline - this.deps.clock.now()), () => {
      entry.lockTimer = null;
      const sp = entry.sp;
      if (sp === null || this.entries.get(coordinatorKey(entry.key)) !== entry) return;
      if (sp.expireLocks(this.deps.clock.now())) {
        this.notifyAvailability();
        void this.persist(entry).catch(() => undefined);
      }
      this.scheduleLockTimer(entry);
    });
  }

  private notifyAvailability(): void {
    for (const l of [...this.availabilityListeners]) l();
  }

  /**
   * Forgets the key's share-partition. Its writes already asked for still go out (the state stays
   * valid: an unloaded group, a leader change) unless `discard` (the stored state moved on); the
   * key's next load waits for them either way.
   */
  private drop(id: string, discard = false): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    entry.lockTimer?.cancel();
    this.entries.delete(id);
    if (discard) entry.discarded = true;
    const pending = Promise.all([entry.writes, this.flushed(id)]).then(() => undefined);
    this.flushing.set(id, pending);
    void pending.then(() => {
      if (this.flushing.get(id) === pending) this.flushing.delete(id);
    });
  }
}
