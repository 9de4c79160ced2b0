// replication/ room: follower fetchers (Kafka's ReplicaFetcherThread). One fetcher per leader
// broker fetches every partition this broker follows from it, with Kafka's own protocol: Fetch
// with this broker's replica id (its fetch offset tells the leader how far it is, which moves the
// leader's high watermark and ISR), appended as follower; after a leader change the follower
// first truncates a divergent tail with OffsetForLeaderEpoch (KIP-101/279).
import type { Logger } from 'pino';
import type { MetadataStore } from '../cluster/index.js';
import type { BrokerConfig } from '../config/index.js';
import { ErrorCode, errorName, KafkaError } from '../errors.js';
import { BrokerConnection } from '../network/index.js';
import { ApiKey } from '../protocol/index.js';
import { interBrokerAddress, interBrokerRoute, type InterBrokerRoute } from './inter-broker.js';
import { UNDEFINED_EPOCH } from './leader-epoch-cache.js';
import type { Partition } from './partition.js';

const FETCH_VERSION = 12;
/** Longest wait between SASL authentication attempts to a leader that refuses this broker's credentials. */
const MAX_AUTH_BACKOFF_MS = 10_000;

const SASL_FAILURES: ReadonlySet<number> = new Set([ErrorCode.SASL_AUTHENTICATION_FAILED, ErrorCode.UNSUPPORTED_SASL_MECHANISM, ErrorCode.ILLEGAL_SASL_STATE]);

/** A refused SASL handshake or authentication (not a network error). */
function isSaslFailure(err: unknown): boolean {
  return err instanceof KafkaError && SASL_FAILURES.has(err.code);
}
const OFFSET_FOR_LEADER_EPOCH_VERSION = 4;

interface FetchState {
  partition: Partition;
  /** The epoch this fetch state was made for; a new leader epoch replaces it. */
  leaderEpoch: number;
  /** True until the divergent tail (if any) has been truncated against this leader. */
  needsTruncation: boolean;
  /** After an error on this partition, it is skipped until then. */
  backoffUntil: number;
}

export interface ReplicaFetcherSettings {
  waitMaxMs: number;
  minBytes: number;
  maxBytes: number;
  responseMaxBytes: number;
  backoffMs: number;
  socketTimeoutMs: number;
  /** inter.broker.listener.name: which of the leader's listeners to fetch from, and how. */
  interBroker: InterBrokerRoute;
}

export function replicaFetcherSettings(config: BrokerConfig): ReplicaFetcherSettings {
  return {
    waitMaxMs: config.getNumber('replica.fetch.wait.max.ms'),
    minBytes: config.getNumber('replica.fetch.min.bytes'),
    maxBytes: config.getNumber('replica.fetch.max.bytes'),
    responseMaxBytes: config.getNumber('replica.fetch.response.max.bytes'),
    backoffMs: config.getNumber('replica.fetch.backoff.ms'),
    socketTimeoutMs: config.getNumber('replica.socket.timeout.ms'),
    interBroker: interBrokerRoute(config),
  };
}

/** Fetches every partition led by one broker. */
class ReplicaFetcher {
  readonly states = new Map<string, FetchState>();
  private connection: BrokerConnection | null = null;
  /** Aborts the connection being opened (connect, TLS, SASL): stop() must not wait for a stalled handshake. */
  private opening: AbortController | null = null;
  private running = true;
  /** SASL authentication failures in a row (each backs off longer). */
  private authFailures = 0;
  private wake: (() => void) | null = null;
  private readonly loop: Promise<void>;

  constructor(
    readonly leaderId: number,
    private readonly localBrokerId: number,
    private readonly metadata: MetadataStore,
    private readonly settings: ReplicaFetcherSettings,
    private readonly logger: Logger,
  ) {
    this.loop = this.run();
  }

  add(partition: Partition): void {
    this.states.set(`${partition.topic}-${partition.index}`, { partition, leaderEpoch: partition.leaderEpoch, needsTruncation: true, backoffUntil: 0 });
    this.wake?.();
  }

  remove(partition: Partition): void {
    this.states.delete(`${partition.topic}-${partition.index}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    this.opening?.abort();
    this.connection?.close();
    await this.loop;
  }

  /** A method, so that the checks after an await are not narrowed away. */
  private isRunning(): boolean {
    return this.running;
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async connect(): Promise<BrokerConnection | null> {
    if (this.connection?.isOpen) return this.connection;
    this.connection = null;
    const leader = this.metadata.brokers().find((b) => b.nodeId === this.leaderId);
    if (leader === undefined) return null;
    const address = interBrokerAddress(this.settings.interBroker, leader);
    if (address === null) {
      this.logger.warn(
        { leaderId: this.leaderId, listener: this.settings.interBroker.listenerName },
        this.settings.interBroker.unreachable
          ? 'the inter-broker listener is SASL but no inter-broker SASL is configured; set sasl.mechanism.inter.broker.protocol (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and the broker\'s credentials in listener.name.<listener>.<mechanism>.sasl.jaas.config, or name a PLAINTEXT or SSL listener in inter.broker.listener.name'
          : 'the leader has no endpoint on the inter-broker listener',
      );
      return null;
    }
    const opening = new AbortController();
    this.opening = opening;
    let connection: BrokerConnection;
    try {
      // Bounded: open() gives up after connectTimeoutMs in all (connect, TLS and SASL), or when stop() aborts it.
      connection = await BrokerConnection.open({
        ...address,
        clientId: `spool-replica-fetcher-${this.localBrokerId}`,
        maxResponseBytes: this.settings.responseMaxBytes + 1024 * 1024,
        connectTimeoutMs: this.settings.socketTimeoutMs,
        signal: opening.signal,
      });
    } finally {
      if (this.opening === opening) this.opening = null;
    }
    // stop() came while it opened: no request goes out for a stopped fetcher.
    if (!this.isRunning()) {
      connection.close();
      return null;
    }
    this.connection = connection;
    return connection;
  }

  private async run(): Promise<void> {
    // Bounded by `running`: every pass either fetches, backs off or idles.
    while (this.running) {
      const now = Date.now();
      const ready = [...this.states.values()].filter((s) => s.backoffUntil <= now && s.partition.leaderId === this.leaderId && !s.partition.isLeader);
      if (ready.length === 0) {
        await this.idle(this.states.size === 0 ? 60_000 : this.settings.backoffMs);
        continue;
      }
      try {
        const connection = await this.connect();
        if (!this.isRunning()) return;
        if (connection === null) {
          await this.idle(this.settings.backoffMs);
          continue;
        }
        const truncating = ready.filter((s) => s.needsTruncation);
        if (truncating.length > 0) await this.truncate(connection, truncating);
        const fetching = ready.filter((s) => !s.needsTruncation && this.states.get(`${s.partition.topic}-${s.partition.index}`) === s);
        if (fetching.length > 0) await this.fetch(connection, fetching);
        this.authFailures = 0;
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() clears it while a request is in flight
        if (!this.running) return;
        this.connection?.close();
        this.connection = null;
        if (isSaslFailure(err)) {
          // Wrong credentials do not fix themselves quickly: log an error and back off longer each time (bounded).
          const backoffMs = Math.min(this.settings.backoffMs * 2 ** Math.min(this.authFailures, 10), MAX_AUTH_BACKOFF_MS);
          this.authFailures++;
          this.logger.error(
            { leaderId: this.leaderId, listener: this.settings.interBroker.listenerName, mechanism: this.settings.interBroker.sasl?.mechanism, err: (err as Error).message, attempt: this.authFailures, backoffMs },
            'SASL authentication to the leader failed (sasl.mechanism.inter.broker.protocol, the listener\'s sasl.jaas.config username/password); retrying after a backoff',
          );
          await this.idle(backoffMs);
          continue;
        }
        this.logger.warn({ leaderId: this.leaderId, err: err instanceof Error ? err.message : String(err) }, 'replica fetch from leader failed; backing off');
        await this.idle(this.settings.backoffMs);
      }
    }
  }

  /** KIP-279: ask the leader where our last epoch ends there, and cut what we hold beyond it. */
  private async truncate(connection: BrokerConnection, states: FetchState[]): Promise<void> {
    const byTopic = new Map<string, FetchState[]>();
    for (const s of states) byTopic.set(s.partition.topic, [...(byTopic.get(s.partition.topic) ?? []), s]);
    const res = await connection.request(
      ApiKey.OffsetForLeaderEpoch,
      OFFSET_FOR_LEADER_EPOCH_VERSION,
      {
        replicaId: this.localBrokerId,
        topics: [...byTopic].map(([topic, list]) => ({
          topic,
          partitions: list.map((s) => ({ partition: s.partition.index, currentLeaderEpoch: s.leaderEpoch, leaderEpoch: s.partition.leaderEpochCache.latestEpoch() })),
        })),
      },
      this.settings.socketTimeoutMs,
    );
    for (const t of res.topics) {
      for (const p of t.partitions) {
        const s = this.states.get(`${t.topic}-${p.partition}`);
        if (s === undefined || s.partition.isLeader) continue;
        if (p.errorCode !== ErrorCode.NONE) {
          this.onPartitionError(s, p.errorCode, 'OffsetForLeaderEpoch');
          continue;
        }
        const partition = s.partition;
        const leo = partition.logEndOffset;
        let target: number;
        if (partition.leaderEpochCache.latestEpoch() === UNDEFINED_EPOCH || p.leaderEpoch === UNDEFINED_EPOCH || p.endOffset < 0) {
          // No common epoch: keep only what is known committed.
          target = Math.min(partition.highWatermark, leo);
        } else if (p.leaderEpoch === partition.leaderEpochCache.latestEpoch()) {
          target = Math.min(p.endOffset, leo);
        } else {
          // The leader's newest epoch at or below ours is older: our own end of that epoch bounds it too.
          target = Math.min(p.endOffset, partition.leaderEpochCache.endOffsetFor(p.leaderEpoch, leo).endOffset);
        }
        if (target < leo) {
          this.logger.info({ topic: partition.topic, partition: partition.index, from: leo, to: target, leaderId: this.leaderId }, 'follower truncating a divergent tail');
          partition.truncateTo(Math.max(target, partition.logStartOffset));
        }
        s.needsTruncation = false;
      }
    }
  }

  private async fetch(connection: BrokerConnection, states: FetchState[]): Promise<void> {
    const byTopic = new Map<string, FetchState[]>();
    for (const s of states) byTopic.set(s.partition.topic, [...(byTopic.get(s.partition.topic) ?? []), s]);
    const res = await connection.request(
      ApiKey.Fetch,
      FETCH_VERSION,
      {
        replicaId: this.localBrokerId,
        maxWaitMs: this.settings.waitMaxMs,
        minBytes: this.settings.minBytes,
        maxBytes: this.settings.responseMaxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [...byTopic].map(([topic, list]) => ({
          topic,
          partitions: list.map((s) => ({
            partition: s.partition.index,
            currentLeaderEpoch: s.leaderEpoch,
            fetchOffset: s.partition.logEndOffset,
            lastFetchedEpoch: s.partition.leaderEpochCache.latestEpoch(),
            logStartOffset: s.partition.logStartOffset,
            partitionMaxBytes: this.settings.maxBytes,
          })),
        })),
        forgottenTopicsData: [],
        rackId: '',
      },
      this.settings.socketTimeoutMs + this.settings.waitMaxMs,
    );
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`fetch from leader ${this.leaderId} failed: ${errorName(res.errorCode)}`);
    for (const t of res.responses) {
      for (const p of t.partitions) {
        const s = this.states.get(`${t.topic}-${p.partitionIndex}`);
        // Leadership may have moved while the fetch was in flight: its answer is stale then.
        if (s === undefined || s.partition.isLeader || s.partition.leaderEpoch !== s.leaderEpoch) continue;
        if (p.errorCode !== ErrorCode.NONE) {
          this.onPartitionError(s, p.errorCode, 'Fetch');
          continue;
        }
        if (p.records !== null && p.records.length > 0) s.partition.appendRecordsAsFollower(p.records);
        s.partition.updateHighWatermarkAsFollower(p.highWatermark);
        // DeleteRecords and retention on the leader move its log start offset; followers follow.
        if (p.logStartOffset >= 0) s.partition.updateLogStartOffsetAsFollower(p.logStartOffset);
      }
    }
  }

  private onPartitionError(s: FetchState, errorCode: number, what: string): void {
    const partition = s.partition;
    if (errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) s.needsTruncation = true;
    s.backoffUntil = Date.now() + this.settings.backoffMs;
    this.logger.debug({ topic: partition.topic, partition: partition.index, leaderId: this.leaderId, error: errorName(errorCode) }, `${what} from leader refused; backing off`);
  }
}

/** The fetchers of this broker, one per leader it follows (Kafka's ReplicaFetcherManager). */
export class ReplicaFetcherManager {
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private closed = false;

  constructor(
    private readonly localBrokerId: number,
    private readonly metadata: MetadataStore,
    private readonly settings: ReplicaFetcherSettings,
    private readonly logger: Logger,
  ) {}

  /** Starts (or restarts, on a new leader or epoch) following `partition` from its leader. */
  follow(partition: Partition): void {
    if (this.closed) return;
    this.unfollow(partition);
    if (partition.leaderId < 0 || partition.isLeader) return;
    let fetcher = this.fetchers.get(partition.leaderId);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher(partition.leaderId, this.localBrokerId, this.metadata, this.settings, this.logger);
      this.fetchers.set(partition.leaderId, fetcher);
    }
    fetcher.add(partition);
  }

  unfollow(partition: Partition): void {
    for (const fetcher of this.fetchers.values()) fetcher.remove(partition);
  }

  /** Partitions being fetched from each leader (for tests and the admin plane). */
  fetching(): Map<number, string[]> {
    return new Map([...this.fetchers].map(([leader, f]) => [leader, [...f.states.keys()]]));
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    this.fetchers.clear();
  }
}
