// coordinator/share room: how share-partition leaders and group coordinators reach the durable
// state of a share-partition (Kafka's Persister). The share coordinator keeping it is the leader
// of the key's __share_group_state partition, which may be another broker: the inter-broker
// persister (api/share-state.ts) sends it Initialize/Read/Write/Delete/ReadShareGroupStateSummary.
// LocalStatePersister serves everything from this broker's own state store (one broker, tests).
import type { SharePartitionKey } from './records.js';
import type { PersistedShareState } from './share-partition.js';
import type { ShareStateStore } from './state-store.js';

export interface ShareStateSummaryView {
  stateEpoch: number;
  leaderEpoch: number;
  /** -1 when initialized without a start offset (the leader picks it on first use). */
  startOffset: number;
}

/**
 * A summary as the persister answers it: null for "no state" — what ReadShareGroupStateSummary
 * answers for a key without state (state epoch 0, no start offset, leader epoch -1), which a state
 * only initialized by the group coordinator (no leader read it yet) also is. Local and remote
 * share coordinators answer alike through this.
 */
export function summaryOrNull(s: ShareStateSummaryView | null): ShareStateSummaryView | null {
  if (s === null || (s.stateEpoch === 0 && s.startOffset < 0 && s.leaderEpoch < 0)) return null;
  return s;
}

/** Every method rejects with a KafkaError carrying the share coordinator's error code. */
export interface ShareStatePersister {
  /** ReadShareGroupState at the leader's epoch: null when no state was written. */
  read(key: SharePartitionKey, leaderEpoch: number): Promise<PersistedShareState | null>;
  /** WriteShareGroupState: the whole state (FENCED_STATE_EPOCH / FENCED_LEADER_EPOCH when older than the stored one). */
  write(key: SharePartitionKey, state: PersistedShareState, leaderEpoch: number): Promise<void>;
  /** InitializeShareGroupState. */
  initialize(key: SharePartitionKey, stateEpoch: number, startOffset: number): Promise<void>;
  /** DeleteShareGroupState. */
  delete(key: SharePartitionKey): Promise<void>;
  /** ReadShareGroupStateSummary: null when no state was written (see summaryOrNull). */
  readSummary(key: SharePartitionKey): Promise<ShareStateSummaryView | null>;
  /** Closes its connections (the partition manager's close). */
  close?(): void;
}

/** The persister of a single broker: the state store of this broker is every key's share coordinator. */
export class LocalStatePersister implements ShareStatePersister {
  constructor(
    private readonly store: ShareStateStore,
    private readonly loadTimeoutMs: number,
  ) {}

  async read(key: SharePartitionKey, leaderEpoch: number): Promise<PersistedShareState | null> {
    await this.loaded(key);
    return this.store.readForLeader(key, leaderEpoch);
  }

  write(key: SharePartitionKey, state: PersistedShareState, leaderEpoch: number): Promise<void> {
    return this.store.write(key, state, leaderEpoch);
  }

  async initialize(key: SharePartitionKey, stateEpoch: number, startOffset: number): Promise<void> {
    await this.loaded(key);
    await this.store.initialize(key, stateEpoch, startOffset);
  }

  async delete(key: SharePartitionKey): Promise<void> {
    await this.loaded(key);
    await this.store.delete(key);
  }

  async readSummary(key: SharePartitionKey): Promise<ShareStateSummaryView | null> {
    await this.loaded(key);
    return summaryOrNull(this.store.summary(key));
  }

  /** Waits a while for the key's shard to load (a just-created __share_group_state); the store throws the shard's error after. */
  private async loaded(key: SharePartitionKey): Promise<void> {
    await this.store.awaitLoaded(this.store.partitionFor(key), this.loadTimeoutMs);
  }
}
