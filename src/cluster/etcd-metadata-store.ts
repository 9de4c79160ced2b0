// cluster/ room: the MetadataStore of a cluster, kept in etcd (key layout in etcd-keys.ts).
//
// - Every state change is one etcd Txn that compares the create or mod revision of what it read
//   (compare-and-set). Leases only say who is alive (broker registrations, the controller key);
//   nothing relies on them, or on locks, for mutual exclusion.
// - Each broker follows the prefix with one watch and applies its events, in revision order, to an
//   in-memory image; the listeners see them as ordered MetadataEvents. A write resolves once this
//   broker applied the revision it wrote. The watch resumes from the last revision received after
//   a reconnect; if that revision was compacted away it reloads a snapshot and publishes the
//   difference.
// - The broker holding the `controller` key acts as controller: when a broker's registration goes
//   (lease expired, or revoked at clean shutdown) it elects new leaders from the ISR (controller.ts)
//   and writes them with a Txn that also compares the controller key's mod revision it won with, so
//   a deposed controller cannot write. Any broker that sees no controller campaigns.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3, type ICompare, type IKeyValue, type IOptions, type IRequestOp, type ITxnResponse, type IWatchResponse, type Lease, type Watcher } from 'etcd3';
import { ConfigError, type BrokerConfig } from '../config/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { applyPlannedChange, planPartitionChange, uncleanElectionEnabled } from './controller.js';
import { decideElection, electionResult, electionResultsFor, electionTargets } from './elections.js';
import {
  EtcdKeys,
  decodeBroker,
  decodeController,
  decodePartition,
  decodeTopic,
  encodeBroker,
  encodeController,
  encodePartition,
  encodeTopic,
  initialPartitionState,
  partitionStateFrom,
  prefixEnd,
  type TopicRecord,
} from './etcd-keys.js';
import { loadOrCreateMetaProperties } from './meta-properties.js';
import type {
  AclRecord,
  ElectionResult,
  ElectionTarget,
  ElectionType,
  MetadataStore,
  NewTopic,
  PartitionChange,
  ScramCredentialDeletion,
  ScramCredentialRecord,
  ScramMechanismName,
} from './metadata-store.js';
import { assignReplicas, continuationStartIndex } from './replica-assignment.js';
import {
  applyPartitionChange,
  checkNewPartitionCount,
  checkNewTopic,
  checkTopicDeletionEnabled,
  resolveReplicationFactor,
  topicAlreadyExists,
  topicConfigOverrides,
  unknownPartition,
  unknownTopic,
} from './topic-rules.js';
import { INTERNAL_TOPICS, randomKafkaUuid } from './topics.js';
import type { BrokerRegistration, MetadataEvent, MetadataListener, PartitionState, ProducerIdBlock, TopicImage } from './types.js';

export const ETCD_PRODUCER_ID_BLOCK_SIZE = 1000;
/** etcd's default --max-request-bytes (1.5 MiB); a Txn above it is refused by the server. */
export const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's default --max-txn-ops: operations (and separately compares) per Txn. */
export const ETCD_MAX_TXN_OPS = 128;
/** Partitions the controller changes per Txn (each takes 2 compares + 1 put, plus leader checks). */
const CONTROLLER_BATCH = 40;
/** Times an election decides a partition again after it changed under the write. */
const ELECTION_ATTEMPTS = 5;
/** Controller Txns in flight at once. */
const CONTROLLER_CONCURRENCY = 8;
/** Keys per page when reading a snapshot (a page must fit the gRPC message limit). */
const SNAPSHOT_PAGE = 500;

/** What the store logs through (pino's Logger fits). */
export interface MetadataLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silentLogger: MetadataLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface EtcdMetadataStoreOptions {
  /** Default: spool.etcd.endpoints. */
  endpoints?: string[];
  /** Default: spool.etcd.prefix. */
  prefix?: string;
  logger?: MetadataLogger;
}

/** Result of one controller pass (runControllerPass). */
export interface ControllerPassResult {
  /** Partitions the pass decided to change. */
  planned: number;
  /** Partitions written. */
  written: number;
  /** True when etcd refused a write because the controller key is no longer the one won with. */
  fenced: boolean;
}

interface TopicEntry {
  image: TopicImage;
  record: TopicRecord;
  createRevision: number;
  modRevision: number;
  /** Mod revision of each partition's key; 0 while it has none (initial state). */
  partitionMods: number[];
}

interface BrokerEntry {
  registration: BrokerRegistration;
  lease: string;
  createRevision: number;
  modRevision: number;
}

interface ControllerEntry {
  nodeId: number;
  epoch: number;
  modRevision: number;
}

interface Waiter {
  revision: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

type Distributive<T> = T extends unknown ? Omit<T, 'version'> : never;
type PendingEvent = Distributive<MetadataEvent>;
type WatchItem = { kind: 'events'; events: Array<{ type: 'put' | 'delete'; kv: IKeyValue }> } | { kind: 'reload' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Txn building blocks.
const buf = (s: string): Buffer => Buffer.from(s);
const createIs = (key: string, revision: number | string): ICompare => ({ key: buf(key), target: 'Create', result: 'Equal', create_revision: revision });
const modIs = (key: string, revision: number | string): ICompare => ({ key: buf(key), target: 'Mod', result: 'Equal', mod_revision: revision });
const put = (key: string, value: string, lease?: string): IRequestOp => ({ request_put: { key: buf(key), value: buf(value), ...(lease === undefined ? {} : { lease }) } });
const get = (key: string): IRequestOp => ({ request_range: { key: buf(key) } });
const del = (key: string): IRequestOp => ({ request_delete_range: { key: buf(key) } });
const delPrefix = (prefix: string): IRequestOp => ({ request_delete_range: { key: buf(prefix), range_end: prefixEnd(prefix) } });

/** The cluster id in a log dir's meta.properties, if it has one. */
function metaPropertiesClusterId(dir: string): string | null {
  const path = join(dir, 'meta.properties');
  if (!existsSync(path)) return null;
  const m = /^cluster\.id=(.+)$/m.exec(readFileSync(path, 'utf8'));
  return m ? m[1].trim() : null;
}

function sameConfigs(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function samePartition(a: PartitionState, b: PartitionState): boolean {
  const same = (x: number[], y: number[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return a.leader === b.leader && a.leaderEpoch === b.leaderEpoch && a.partitionEpoch === b.partitionEpoch && same(a.isr, b.isr) && same(a.replicas, b.replicas);
}

export class EtcdMetadataStore implements MetadataStore {
  clusterId = '';
  /** Increases by one per published event. */
  version = 0;
  /** The etcd revision this broker's image reflects (every change of the prefix up to it applied). */
  revision = 0;

  private readonly keys: EtcdKeys;
  private readonly endpoints: string[];
  private readonly logger: MetadataLogger;
  private readonly sessionTtlSeconds: number;
  private readonly requestTimeoutMs: number;
  private client: Etcd3 | null = null;

  // The image.
  private readonly topicsByName = new Map<string, TopicEntry>();
  private readonly topicsById = new Map<string, TopicEntry>();
  private readonly brokersById = new Map<number, BrokerEntry>();
  private controller: ControllerEntry | null = null;
  /** ACLs by etcd key; `aclList` is replaced (never mutated) at each change. */
  private readonly aclsByKey = new Map<string, AclRecord>();
  private aclList: readonly AclRecord[] = [];
  /** Dynamic group configs by group id, from /spool/<prefix>/group-configs/ keys. */
  private readonly groupConfigMap = new Map<string, Readonly<Record<string, string>>>();
  private readonly listeners = new Set<MetadataListener>();

  // Following the prefix.
  private watcher: Watcher | null = null;
  /** Highest revision handed to the apply queue: a reconnecting watch resumes after it. */
  private receivedRevision = 0;
  private readonly queue: WatchItem[] = [];
  private draining = false;
  private waiters: Waiter[] = [];

  // This broker's session.
  private lease: Lease | null = null;
  private leaseId = '';
  /** Leases this store held before (lost to a connection problem): its own, safe to revoke. */
  private readonly formerLeases = new Set<string>();
  private registration: Omit<BrokerRegistration, 'epoch'> | null = null;
  private renewingSession = false;

  // Acting as controller.
  /** Mod revision of the controller key this broker won with; 0 when it is not controller. */
  private token = 0;
  private campaigning = false;
  private reconciling = false;
  private reconcileAgain = false;
  /** Brokers whose registration went away since the last complete controller pass. */
  private readonly fencedSinceLastPass = new Set<number>();
  /** Partitions (topicId/partition) changed since the last pass, or 'all' after a broker change. */
  private dirty: Set<string> | 'all' = 'all';

  private closed = false;

  constructor(
    private readonly dataDir: string,
    private readonly config: BrokerConfig,
    options: EtcdMetadataStoreOptions = {},
  ) {
    this.endpoints = options.endpoints ?? config.getList('spool.etcd.endpoints');
    if (this.endpoints.length === 0) throw new ConfigError('spool.etcd.endpoints', null, 'the etcd metadata store needs at least one endpoint');
    this.keys = new EtcdKeys(options.prefix ?? config.getString('spool.etcd.prefix'));
    this.logger = options.logger ?? silentLogger;
    this.sessionTtlSeconds = Math.max(1, Math.ceil(config.getNumber('broker.session.timeout.ms') / 1000));
    this.requestTimeoutMs = config.getNumber('spool.etcd.request.timeout.ms');
  }

  private get nodeId(): number {
    return this.config.nodeId;
  }

  private get etcd(): Etcd3 {
    if (!this.client || this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed');
    return this.client;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    this.client = new Etcd3(this.clientOptions());
    try {
      this.clusterId = await this.initClusterId();
      // The log dir must belong to this cluster and node (Kafka's meta.properties check).
      loadOrCreateMetaProperties(this.dataDir, this.nodeId, this.clusterId);
      const { kvs, revision } = await this.readSnapshot();
      this.applySnapshot(kvs);
      this.revision = revision;
      this.receivedRevision = revision;
      this.startWatch(revision + 1);
      await this.openSession();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.token = 0;
    const lease = this.lease;
    this.lease = null;
    this.leaseId = '';
    const watcher = this.watcher;
    this.watcher = null;
    // Revoking the lease deletes the registration (and the controller key) at once, so the
    // controller moves leadership away without waiting for the session timeout.
    if (lease) await Promise.race([lease.revoke().catch(() => undefined), sleep(2000)]);
    if (watcher) await Promise.race([watcher.cancel().catch(() => undefined), sleep(1000)]);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed'));
    }
    this.waiters = [];
    this.listeners.clear();
    this.client?.close();
  }

  private clientOptions(): IOptions {
    // Failures are handled here (retries only where a write can be told apart from a retry), so
    // the client neither retries nor opens a circuit breaker that would delay reconnection.
    const passThrough = {
      execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
      onSuccess: () => ({ dispose: () => undefined }),
      onFailure: () => ({ dispose: () => undefined }),
    };
    type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
    type Backoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;
    const backoff = (ms: number): Backoff => ({ duration: ms, next: () => backoff(Math.min(ms * 2, 2000)) });
    return {
      hosts: this.endpoints,
      dialTimeout: 5000,
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5000,
        'grpc.max_receive_message_length': 256 * 1024 * 1024,
      },
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.requestTimeoutMs }),
      faultHandling: {
        host: () => passThrough as unknown as Policy,
        global: passThrough as unknown as Policy,
        watchBackoff: backoff(100),
      },
    };
  }

  /** Created once by the first broker (create revision 0); a configured cluster.id must match. */
  private async initClusterId(): Promise<string> {
    const configured = this.config.get('cluster.id');
    const wanted = typeof configured === 'string' ? configured : null;
    const candidate = wanted ?? metaPropertiesClusterId(this.dataDir) ?? randomKafkaUuid();
    const key = this.keys.clusterId;
    const res = await this.txn([createIs(key, 0)], [put(key, candidate)], [get(key)]);
    const id = res.succeeded ? candidate : (res.responses.at(0)?.response_range.kvs.at(0)?.value.toString() ?? '');
    if (id === '') throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `etcd key ${key} is empty`);
    if (wanted !== null && wanted !== id) {
      throw new ConfigError('cluster.id', wanted, `etcd (${this.keys.base}) belongs to cluster ${id}`);
    }
    return id;
  }

  // ---- reads ----------------------------------------------------------------------------------

  topics(): TopicImage[] {
    return [...this.topicsByName.values()].map((e) => e.image);
  }
  topic(name: string): TopicImage | undefined {
    return this.topicsByName.get(name)?.image;
  }
  topicById(topicId: string): TopicImage | undefined {
    return this.topicsById.get(topicId)?.image;
  }
  partition(topic: string, partition: number): PartitionState | undefined {
    return this.topicsByName.get(topic)?.image.partitions[partition];
  }
  brokers(): BrokerRegistration[] {
    return [...this.brokersById.values()].map((b) => b.registration).sort((a, b) => a.nodeId - b.nodeId);
  }
  controllerId(): number {
    return this.controller?.nodeId ?? -1;
  }
  /** Epoch of the current controller (bumped at every election); -1 when none is known. */
  controllerEpoch(): number {
    return this.controller?.epoch ?? -1;
  }
  /** True while this broker holds the controller key it won. */
  isController(): boolean {
    return this.token > 0 && this.controller?.modRevision === this.token && !this.closed;
  }
  /** The mod revision of the controller key this broker won with (its fencing token); 0 if none. */
  get controllerToken(): number {
    return this.token;
  }
  /** The etcd lease of this broker's session ('' before start or after close). */
  get sessionLeaseId(): string {
    return this.leaseId;
  }

  subscribe(listener: MetadataListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- etcd calls -----------------------------------------------------------------------------

  private async txn(compare: ICompare[], success: IRequestOp[], failure: IRequestOp[] = []): Promise<ITxnResponse> {
    try {
      return await this.etcd.kv.txn({ compare, success, failure });
    } catch (err) {
      throw this.etcdError(err);
    }
  }

  private async getKv(key: string): Promise<IKeyValue | undefined> {
    try {
      const res = await this.etcd.kv.range({ key: buf(key) });
      return res.kvs[0];
    } catch (err) {
      throw this.etcdError(err);
    }
  }

  private etcdError(err: unknown): Error {
    if (err instanceof KafkaError || err instanceof ConfigError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (/too large/i.test(message)) return new KafkaError(ErrorCode.POLICY_VIOLATION, `etcd refused the request: ${message}`);
    // Retriable for Kafka clients: the write may be retried once etcd answers again.
    return new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `etcd is unavailable: ${message}`);
  }

  /** Every key of the prefix at one revision, read in pages. */
  private async readSnapshot(): Promise<{ kvs: IKeyValue[]; revision: number }> {
    const end = prefixEnd(this.keys.base);
    const kvs: IKeyValue[] = [];
    let from = buf(this.keys.base);
    let revision = 0;
    for (;;) {
      let res;
      try {
        res = await this.etcd.kv.range({ key: from, range_end: end, limit: SNAPSHOT_PAGE, ...(revision > 0 ? { revision } : {}) });
      } catch (err) {
        throw this.etcdError(err);
      }
      if (revision === 0) revision = Number(res.header.revision);
      kvs.push(...res.kvs);
      const last = res.kvs.at(-1);
      if (!res.more || last === undefined) return { kvs, revision };
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  /** Resolves once this broker applied `revision` (REQUEST_TIMED_OUT after the request timeout). */
  waitForRevision(revision: number): Promise<void> {
    if (this.revision >= revision) return Promise.resolve();
    if (this.closed) return Promise.reject(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        revision,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `metadata revision ${revision} was not applied within ${this.requestTimeoutMs} ms (applied: ${this.revision})`));
        }, this.requestTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private resolveWaiters(): void {
    const ready = this.waiters.filter((w) => w.revision <= this.revision);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.revision > this.revision);
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  // ---- following the prefix -------------------------------------------------------------------

  private startWatch(fromRevision: number): void {
    const watcher = this.etcd.watch().prefix(this.keys.base).startRevision(String(fromRevision)).watcher();
    this.watcher = watcher;
    watcher.on('data', (res: IWatchResponse) => {
      if (this.watcher !== watcher || this.closed) return;
      const events = res.events
        .filter((ev) => Number(ev.kv.mod_revision) > this.receivedRevision)
        .map((ev) => ({ type: ev.type.toLowerCase() === 'delete' ? ('delete' as const) : ('put' as const), kv: ev.kv }));
      const last = events.at(-1);
      if (last === undefined) return;
      this.receivedRevision = Number(last.kv.mod_revision);
      this.enqueue({ kind: 'events', events });
    });
    // The client resumes a broken watch from the revision after the last response header, which
    // can skip events still being replayed; resume from the last event received instead.
    watcher.on('disconnected', (err: Error) => {
      if (this.watcher !== watcher || this.closed) return;
      watcher.request.start_revision = String(this.receivedRevision + 1);
      this.logger.warn({ err: err.message, resumeFrom: this.receivedRevision + 1 }, 'etcd watch disconnected; resuming');
    });
    // Cancelled by etcd: typically the revision to resume from was compacted. Reload a snapshot.
    watcher.on('error', (err: Error) => {
      if (this.watcher !== watcher || this.closed) return;
      this.watcher = null;
      this.logger.warn({ err: err.message }, 'etcd watch cancelled; reloading the metadata snapshot');
      this.enqueue({ kind: 'reload' });
    });
  }

  private enqueue(item: WatchItem): void {
    this.queue.push(item);
    this.drain();
  }

  /** Applies queued watch batches one at a time, in order; listeners may be async. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    void (async () => {
      try {
        for (let item = this.queue.shift(); item !== undefined && !this.closed; item = this.queue.shift()) {
          if (item.kind === 'events') await this.applyBatch(item.events);
          else await this.reload();
        }
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'applying etcd metadata failed');
      } finally {
        this.draining = false;
      }
      if (this.queue.length > 0 && !this.closed) this.drain();
    })();
  }

  private async applyBatch(events: Array<{ type: 'put' | 'delete'; kv: IKeyValue }>): Promise<void> {
    for (const ev of events) {
      let out: PendingEvent[] = [];
      try {
        out = this.applyKv(ev.type, ev.kv);
      } catch (err) {
        this.logger.error({ key: ev.kv.key.toString(), err: (err as Error).message }, 'ignoring a malformed metadata key');
      }
      for (const e of out) await this.publish(e);
      this.revision = Math.max(this.revision, Number(ev.kv.mod_revision));
    }
    this.resolveWaiters();
    this.afterApply();
  }

  private async reload(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const { kvs, revision } = await this.readSnapshot();
        const events = this.applySnapshot(kvs);
        for (const e of events) await this.publish(e);
        this.revision = Math.max(this.revision, revision);
        this.receivedRevision = revision;
        this.startWatch(revision + 1);
        this.resolveWaiters();
        this.afterApply();
        return;
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, attempt }, 'reloading the metadata snapshot failed; retrying');
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }

  private async publish(event: PendingEvent): Promise<void> {
    this.version++;
    const full: MetadataEvent = { ...event, version: this.version };
    for (const listener of [...this.listeners]) {
      try {
        await listener(full);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, event: full.type, version: full.version }, 'metadata listener failed');
      }
    }
  }

  /** Applies one key change to the image; returns the events it makes. */
  private applyKv(type: 'put' | 'delete', kv: IKeyValue): PendingEvent[] {
    if (kv.key.toString().startsWith(this.aclPrefix)) {
      this.applyAclKv(type, kv);
      return [];
    }
    if (kv.key.toString().startsWith(this.groupConfigPrefix)) {
      this.applyGroupConfigKv(type, kv);
      return [];
    }
    const key = this.keys.parse(kv.key.toString());
    const mod = Number(kv.mod_revision);
    switch (key.kind) {
      case 'broker': {
        if (type === 'delete') {
          // The controller fences a broker that went away even if it is back by its next pass
          // (a restarted broker may have lost unflushed records: it must not stay in an ISR).
          if (this.brokersById.delete(key.nodeId) && this.isController()) this.fencedSinceLastPass.add(key.nodeId);
          this.dirty = 'all';
          return [];
        }
        const record = decodeBroker(kv.value);
        const registration: BrokerRegistration = { ...record, nodeId: key.nodeId, epoch: Number(kv.create_revision) };
        this.brokersById.set(key.nodeId, { registration, lease: kv.lease, createRevision: Number(kv.create_revision), modRevision: mod });
        this.dirty = 'all';
        return [{ type: 'broker-registered', broker: registration }];
      }
      case 'controller': {
        const previous = this.controller;
        this.controller = type === 'delete' ? null : { ...decodeController(kv.value), modRevision: mod };
        if (this.token > 0 && this.controller?.modRevision !== this.token) {
          this.logger.warn({ nodeId: this.nodeId, newController: this.controller?.nodeId ?? -1 }, 'no longer controller');
          this.token = 0;
        } else if (previous?.nodeId !== this.controller?.nodeId) {
          this.logger.info({ controller: this.controller?.nodeId ?? -1, epoch: this.controller?.epoch ?? -1 }, 'controller changed');
        }
        return [];
      }
      case 'topic':
        return type === 'delete' ? this.removeTopic(key.name) : this.putTopic(kv);
      case 'partition': {
        if (type === 'delete') return []; // only with its topic, whose deletion is the event
        const entry = this.topicsById.get(key.topicId);
        if (!entry || key.partition >= entry.image.partitions.length) return [];
        const state = partitionStateFrom(entry.image.name, entry.image.topicId, key.partition, decodePartition(kv.value));
        entry.image.partitions[key.partition] = state;
        entry.partitionMods[key.partition] = mod;
        this.markDirty(entry.image.topicId, key.partition);
        return [{ type: 'partition-changed', partition: state }];
      }
      default:
        return [];
    }
  }

  /** Only the controller tracks what its next pass must look at. */
  private markDirty(topicId: string, partition: number): void {
    if (this.dirty !== 'all' && this.isController()) this.dirty.add(`${topicId}/${partition}`);
  }

  private removeTopic(name: string): PendingEvent[] {
    const entry = this.topicsByName.get(name);
    if (!entry) return [];
    this.topicsByName.delete(name);
    this.topicsById.delete(entry.image.topicId);
    return [{ type: 'topic-deleted', topic: entry.image }];
  }

  private putTopic(kv: IKeyValue): PendingEvent[] {
    const record = decodeTopic(kv.value);
    const createRevision = Number(kv.create_revision);
    const modRevision = Number(kv.mod_revision);
    const existing = this.topicsByName.get(record.name);
    const events: PendingEvent[] = [];
    if (existing?.createRevision === createRevision) {
      // Same topic: partitions added and/or configs replaced.
      const have = existing.image.partitions.length;
      if (record.replicas.length > have) {
        const added = record.replicas.slice(have).map((r, i) => initialPartitionState(record.name, record.topicId, have + i, r));
        existing.image.partitions.push(...added);
        existing.partitionMods.push(...added.map(() => 0));
        for (const p of added) this.markDirty(record.topicId, p.partition);
        events.push({ type: 'partitions-created', topic: record.name, partitions: added });
      }
      if (!sameConfigs(existing.image.configs, record.configs)) {
        existing.image.configs = { ...record.configs };
        events.push({ type: 'topic-configs-changed', topic: record.name, configs: { ...record.configs } });
      }
      existing.record = record;
      existing.modRevision = modRevision;
      return events;
    }
    if (existing) events.push(...this.removeTopic(record.name));
    const image: TopicImage = {
      name: record.name,
      topicId: record.topicId,
      internal: record.internal,
      configs: { ...record.configs },
      partitions: record.replicas.map((r, p) => initialPartitionState(record.name, record.topicId, p, r)),
    };
    const entry: TopicEntry = { image, record, createRevision, modRevision, partitionMods: record.replicas.map(() => 0) };
    this.topicsByName.set(record.name, entry);
    this.topicsById.set(record.topicId, entry);
    for (const p of image.partitions) this.markDirty(record.topicId, p.partition);
    events.push({ type: 'topic-created', topic: image });
    return events;
  }

  /**
   * Brings the image to a snapshot (all keys of the prefix at one revision) and returns the events
   * that tell listeners the difference. At start nobody listens yet.
   */
  private applySnapshot(kvs: IKeyValue[]): PendingEvent[] {
    const events: PendingEvent[] = [];
    const apply = (type: 'put' | 'delete', kv: IKeyValue): void => {
      try {
        events.push(...this.applyKv(type, kv));
      } catch (err) {
        this.logger.error({ key: kv.key.toString(), err: (err as Error).message }, 'ignoring a malformed metadata key');
      }
    };
    const gone = (key: string): IKeyValue => ({ key: buf(key), create_revision: '0', mod_revision: '0', version: '0', value: Buffer.alloc(0), lease: '0' });
    const parsed = kvs.map((kv) => ({ kv, key: this.keys.parse(kv.key.toString()) }));
    this.replaceAcls(kvs.filter((kv) => kv.key.toString().startsWith(this.aclPrefix)));
    this.replaceGroupConfigs(kvs.filter((kv) => kv.key.toString().startsWith(this.groupConfigPrefix)));

    const brokers = new Set<number>();
    let controller: IKeyValue | undefined;
    const topics = new Set<string>();
    for (const { kv, key } of parsed) {
      if (key.kind === 'broker') {
        brokers.add(key.nodeId);
        const have = this.brokersById.get(key.nodeId);
        if (have?.modRevision !== Number(kv.mod_revision) || have.createRevision !== Number(kv.create_revision)) apply('put', kv);
      } else if (key.kind === 'controller') {
        controller = kv;
      } else if (key.kind === 'topic') {
        topics.add(key.name);
        const have = this.topicsByName.get(key.name);
        if (have?.modRevision !== Number(kv.mod_revision)) apply('put', kv);
      }
    }
    for (const nodeId of [...this.brokersById.keys()]) if (!brokers.has(nodeId)) apply('delete', gone(this.keys.broker(nodeId)));
    if (controller) {
      if (this.controller?.modRevision !== Number(controller.mod_revision)) apply('put', controller);
    } else if (this.controller) {
      apply('delete', gone(this.keys.controller));
    }
    for (const name of [...this.topicsByName.keys()]) if (!topics.has(name)) apply('delete', gone(this.keys.topic(name)));
    // Partition keys after their topics (they sort before them). A key that vanished without its
    // topic cannot happen: partition keys are only deleted with the topic.
    for (const { kv, key } of parsed) {
      if (key.kind !== 'partition') continue;
      const entry = this.topicsById.get(key.topicId);
      if (!entry || key.partition >= entry.image.partitions.length) continue;
      if (entry.partitionMods[key.partition] === Number(kv.mod_revision)) continue;
      const before = entry.image.partitions[key.partition];
      const out = this.applyKv('put', kv);
      const after = entry.image.partitions[key.partition];
      if (!samePartition(before, after)) events.push(...out);
    }
    return events;
  }

  /** After each applied batch: campaign when there is no controller, act when this broker is it. */
  private afterApply(): void {
    if (this.closed) return;
    if (this.controller === null) this.campaign();
    else if (this.isController()) this.scheduleControllerPass();
  }

  // ---- session: lease and registration --------------------------------------------------------

  private async openSession(): Promise<void> {
    const lease = this.etcd.lease(this.sessionTtlSeconds);
    lease.on('lost', (err: Error) => this.onSessionLost(lease, err));
    const id = await lease.grant().catch((err: unknown) => {
      throw this.etcdError(err);
    });
    if (this.closed) {
      await lease.revoke().catch(() => undefined);
      return;
    }
    this.lease = lease;
    this.leaseId = id;
  }

  /** The lease could not be renewed in time: open a new session and register again. */
  private onSessionLost(lease: Lease, err: Error): void {
    if (this.closed || lease !== this.lease) return;
    this.logger.warn({ nodeId: this.nodeId, lease: this.leaseId, err: err.message }, 'etcd session lost; registering again');
    if (this.leaseId !== '') this.formerLeases.add(this.leaseId);
    this.lease = null;
    this.leaseId = '';
    this.token = 0;
    if (this.renewingSession) return;
    this.renewingSession = true;
    void (async () => {
      for (let attempt = 0; !this.closed && this.lease === null; attempt++) {
        try {
          await this.openSession();
          if (this.registration) await this.putRegistration(this.registration);
        } catch (e) {
          this.logger.warn({ err: (e as Error).message, attempt }, 'renewing the etcd session failed; retrying');
          await sleep(Math.min(200 * 2 ** attempt, 2000));
        }
      }
      this.renewingSession = false;
      this.afterApply();
    })();
  }

  async registerBroker(registration: Omit<BrokerRegistration, 'epoch'>): Promise<BrokerRegistration> {
    this.assertOpen();
    // broker.rack is the default rack of this broker's registration.
    const rack = registration.rack ?? (this.config.getString('broker.rack') || null);
    const reg = { nodeId: registration.nodeId, host: registration.host, port: registration.port, rack, endpoints: registration.endpoints };
    const revision = await this.putRegistration(reg);
    this.registration = reg;
    await this.waitForRevision(revision);
    this.campaign();
    const applied = this.brokersById.get(reg.nodeId);
    return applied ? applied.registration : { ...reg, epoch: revision };
  }

  /**
   * Puts the registration under this session's lease; returns the revision written. A key held by
   * another live lease is another process with the same node.id, or this node's previous process
   * whose session has not expired yet: wait for that lease to expire, and refuse with
   * DUPLICATE_BROKER_REGISTRATION if it is still renewed after its TTL.
   */
  private async putRegistration(reg: Omit<BrokerRegistration, 'epoch'>): Promise<number> {
    const key = this.keys.broker(reg.nodeId);
    const value = encodeBroker(reg);
    let deadline = 0;
    for (;;) {
      this.assertOpen();
      const leaseId = this.leaseId;
      if (leaseId === '') throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'no etcd session (lease) yet');
      const res = await this.txn([createIs(key, 0)], [put(key, value, leaseId)], [get(key)]);
      if (res.succeeded) return Number(res.header.revision);
      const kv = res.responses.at(0)?.response_range.kvs.at(0);
      if (kv === undefined) continue; // deleted in between
      if (kv.lease === leaseId) {
        const upd = await this.txn([modIs(key, kv.mod_revision)], [put(key, value, leaseId)]);
        if (upd.succeeded) return Number(upd.header.revision);
        continue;
      }
      if (this.formerLeases.has(kv.lease)) {
        await this.etcd.leaseClient.leaseRevoke({ ID: kv.lease }).catch(() => undefined);
        continue;
      }
      const live = await this.etcd.leaseClient.leaseTimeToLive({ ID: kv.lease }).catch((err: unknown) => {
        throw this.etcdError(err);
      });
      const ttl = Number(live.TTL);
      const granted = Number(live.grantedTTL);
      if (deadline === 0) deadline = Date.now() + (Math.max(ttl, granted) + 1) * 1000;
      if (Date.now() > deadline) {
        throw new KafkaError(
          ErrorCode.DUPLICATE_BROKER_REGISTRATION,
          `Another broker is registered with node.id ${reg.nodeId}: its etcd session (lease ${kv.lease}) is still alive after its ${granted} s TTL.`,
        );
      }
      await sleep(ttl > 0 ? Math.min(500, ttl * 1000) : 100);
    }
  }

  // ---- controller -----------------------------------------------------------------------------

  /**
   * Tries to become controller: create the controller key under this session's lease and bump
   * controller_epoch in the same Txn. Only a registered broker campaigns.
   */
  private campaign(): void {
    if (this.closed || this.campaigning || this.registration === null || this.leaseId === '' || this.controller !== null) return;
    this.campaigning = true;
    void (async () => {
      try {
        const leaseId = this.leaseId;
        const epochKv = await this.getKv(this.keys.controllerEpoch);
        const epoch = (epochKv ? Number(epochKv.value.toString()) : 0) + 1;
        const res = await this.txn(
          [createIs(this.keys.controller, 0), epochKv ? modIs(this.keys.controllerEpoch, epochKv.mod_revision) : createIs(this.keys.controllerEpoch, 0)],
          [put(this.keys.controller, encodeController({ nodeId: this.nodeId, epoch }), leaseId), put(this.keys.controllerEpoch, String(epoch))],
        );
        if (!res.succeeded || this.closed) return; // another broker won; its key arrives through the watch
        this.token = Number(res.header.revision);
        this.dirty = 'all';
        this.logger.info({ nodeId: this.nodeId, epoch, token: this.token }, 'became controller');
        await this.waitForRevision(this.token);
        this.scheduleControllerPass();
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'controller election attempt failed');
      } finally {
        this.campaigning = false;
      }
      // Lost the race, or etcd failed: try again while there is still no controller.
      if (!this.closed && this.controller === null) setTimeout(() => this.campaign(), 200).unref();
    })();
  }

  private passRequested(): boolean {
    return this.reconcileAgain;
  }

  private scheduleControllerPass(): void {
    if (!this.isController()) return;
    if (this.reconciling) {
      this.reconcileAgain = true;
      return;
    }
    this.reconciling = true;
    void (async () => {
      try {
        do {
          this.reconcileAgain = false;
          await this.runControllerPass();
        } while (this.passRequested() && this.isController());
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'controller pass failed; retrying');
        setTimeout(() => this.scheduleControllerPass(), 500).unref();
      } finally {
        this.reconciling = false;
      }
    })();
  }

  /**
   * One controller pass over every partition of the image: leaders and ISRs follow the live
   * brokers (planPartitionChange). Each Txn compares the controller key's mod revision (`token`,
   * default this broker's), each partition key's mod revision, its topic's create revision and each
   * new leader's registration, so a deposed controller or a stale image writes nothing. `fence`
   * treats those brokers as dead for this pass (tests, and brokers that went since the last pass).
   */
  async runControllerPass(options: { token?: number; fence?: number[] } = {}): Promise<ControllerPassResult> {
    const token = options.token ?? this.token;
    const result: ControllerPassResult = { planned: 0, written: 0, fenced: false };
    if (token <= 0 || this.closed) return result;
    const fenced = new Set([...this.fencedSinceLastPass, ...(options.fence ?? [])]);
    const live = new Set([...this.brokersById.keys()].filter((id) => !fenced.has(id)));
    const uncleanDefault = this.config.getBoolean('unclean.leader.election.enable');
    // Look at every partition after a broker change, else only at those changed since last time.
    const dirty = fenced.size > 0 ? 'all' : this.dirty;
    this.dirty = new Set();
    const candidates: Array<{ entry: TopicEntry; state: PartitionState }> = [];
    if (dirty === 'all') {
      for (const entry of this.topicsByName.values()) for (const state of entry.image.partitions) candidates.push({ entry, state });
    } else {
      for (const id of dirty) {
        const slash = id.lastIndexOf('/');
        const entry = this.topicsById.get(id.slice(0, slash));
        const state = entry?.image.partitions.at(Number(id.slice(slash + 1)));
        if (entry && state) candidates.push({ entry, state });
      }
    }
    const changes: Array<{ entry: TopicEntry; next: PartitionState; mod: number }> = [];
    for (const { entry, state } of candidates) {
      const plan = planPartitionChange(state, live, uncleanElectionEnabled(entry.image.configs, uncleanDefault));
      if (plan === null) continue;
      if (plan.unclean) this.logger.warn({ topic: state.topic, partition: state.partition, leader: plan.leader }, 'unclean leader election');
      changes.push({ entry, next: applyPlannedChange(state, plan), mod: entry.partitionMods[state.partition] });
    }
    result.planned = changes.length;
    const progress = { lastRevision: 0, complete: true };
    const writeBatch = async (batch: typeof changes): Promise<void> => {
      const written = await this.writeAsController(token, batch);
      if (written.outcome !== 'written') {
        progress.complete = false;
        // 'conflict': a partition or broker changed under us; its event marks it for the next pass.
        if (written.outcome === 'fenced') result.fenced = true;
        return;
      }
      result.written += batch.length;
      progress.lastRevision = Math.max(progress.lastRevision, written.revision);
      for (const { next } of batch) {
        this.logger.info({ topic: next.topic, partition: next.partition, leader: next.leader, leaderEpoch: next.leaderEpoch, isr: next.isr }, 'controller changed partition');
      }
    };
    // Disjoint partitions: several Txns in flight at once.
    const batches: Array<typeof changes> = [];
    for (let i = 0; i < changes.length; i += CONTROLLER_BATCH) batches.push(changes.slice(i, i + CONTROLLER_BATCH));
    for (let i = 0; i < batches.length && !result.fenced; i += CONTROLLER_CONCURRENCY) {
      await Promise.all(batches.slice(i, i + CONTROLLER_CONCURRENCY).map(writeBatch));
    }
    if (result.fenced) this.logger.warn({ nodeId: this.nodeId, token }, 'controller write refused: no longer controller');
    if (progress.complete) for (const id of fenced) this.fencedSinceLastPass.delete(id);
    if (progress.lastRevision > 0) await this.waitForRevision(progress.lastRevision);
    return result;
  }

  /**
   * Writes partition states as the controller, in one Txn that compares the controller key's mod
   * revision (`token`), each topic's create revision, each partition key's mod revision (the state
   * the change was decided on) and each new leader's registration. 'fenced': the controller key is
   * no longer the one won with (this broker stops acting as controller); 'conflict': something the
   * change was decided on moved; `revision` is etcd's revision then.
   */
  private async writeAsController(
    token: number,
    batch: ReadonlyArray<{ entry: TopicEntry; next: PartitionState; mod: number }>,
  ): Promise<{ outcome: 'written' | 'conflict' | 'fenced'; revision: number }> {
    const compare: ICompare[] = [modIs(this.keys.controller, token)];
    const ops: IRequestOp[] = [];
    const leaders = new Set<number>();
    for (const { entry, next, mod } of batch) {
      const key = this.keys.partition(entry.image.topicId, next.partition);
      compare.push(createIs(this.keys.topic(entry.image.name), entry.createRevision), modIs(key, mod));
      ops.push(put(key, encodePartition(next)));
      if (next.leader >= 0) leaders.add(next.leader);
    }
    for (const leader of leaders) {
      const broker = this.brokersById.get(leader);
      if (broker) compare.push(createIs(this.keys.broker(leader), broker.createRevision));
    }
    const res = await this.txn(compare, ops, [get(this.keys.controller)]);
    const revision = Number(res.header.revision);
    if (res.succeeded) return { outcome: 'written', revision };
    const current = res.responses.at(0)?.response_range.kvs.at(0);
    if (current?.mod_revision === String(token)) return { outcome: 'conflict', revision };
    if (token === this.token) this.token = 0;
    return { outcome: 'fenced', revision };
  }

  /**
   * ElectLeaders on the controller (see MetadataStore.electLeaders). Decided on this broker's image
   * once it caught up with etcd's current revision, with the brokers fenced since the last pass
   * counted as dead (a broker that restarted is not in sync until its leader says so); written
   * with writeAsController's compare-and-set, so a deposed controller or a partition that changed
   * meanwhile writes nothing (such partitions are decided again on the newer image).
   */
  async electLeaders(type: ElectionType, partitions: ElectionTarget[] | null): Promise<ElectionResult[]> {
    this.assertOpen();
    const token = this.token;
    const notController = (): KafkaError =>
      new KafkaError(ErrorCode.NOT_CONTROLLER, `Broker ${this.nodeId} is not the controller (the controller is ${this.controllerId()})`);
    if (!this.isController()) throw notController();
    let current;
    try {
      current = await this.etcd.kv.range({ key: buf(this.keys.controller) });
    } catch (err) {
      throw this.etcdError(err);
    }
    await this.waitForRevision(Number(current.header.revision));
    if (!this.isController() || this.token !== token) throw notController();

    const { known, unknown } = electionTargets(partitions, (name) => this.topic(name), () => this.topics());
    const results: ElectionResult[] = [...unknown];
    let lastRevision = 0;
    let pending = known;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const live = new Set([...this.brokersById.keys()].filter((id) => !this.fencedSinceLastPass.has(id)));
      const changes: Array<{ entry: TopicEntry; next: PartitionState; mod: number; target: ElectionTarget; unclean: boolean }> = [];
      for (const target of pending) {
        const entry = this.topicsByName.get(target.topic);
        const state = entry?.image.partitions.at(target.partition);
        if (!entry || !state) {
          results.push(electionResult(target, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `No such partition as ${target.topic}-${target.partition}`));
          continue;
        }
        const decision = decideElection(state, type, live);
        if (decision.kind === 'refuse') results.push(electionResult(target, decision.errorCode, decision.errorMessage));
        else changes.push({ entry, next: decision.next, mod: entry.partitionMods[target.partition], target, unclean: decision.unclean });
      }
      const retry: ElectionTarget[] = [];
      let conflictRevision = 0;
      let fenced = false;
      for (let i = 0; i < changes.length; i += CONTROLLER_BATCH) {
        const batch = changes.slice(i, i + CONTROLLER_BATCH);
        const written = fenced ? null : await this.writeAsController(token, batch);
        if (written?.outcome === 'written') {
          lastRevision = Math.max(lastRevision, written.revision);
          for (const { next, target, unclean } of batch) {
            results.push(electionResult(target, ErrorCode.NONE, null));
            const fields = { topic: next.topic, partition: next.partition, leader: next.leader, leaderEpoch: next.leaderEpoch, isr: next.isr, election: type };
            if (unclean) this.logger.warn(fields, 'unclean leader election');
            else this.logger.info(fields, 'leader elected');
          }
        } else if (written?.outcome === 'conflict') {
          conflictRevision = Math.max(conflictRevision, written.revision);
          retry.push(...batch.map((c) => c.target));
        } else {
          fenced = true;
          if (lastRevision === 0) throw notController();
          for (const { target } of batch) results.push(electionResult(target, ErrorCode.NOT_CONTROLLER, notController().message));
        }
      }
      if (retry.length > 0 && attempt >= ELECTION_ATTEMPTS - 1) {
        for (const target of retry) results.push(electionResult(target, ErrorCode.REQUEST_TIMED_OUT, `${target.topic}-${target.partition} kept changing; try again`));
        break;
      }
      if (retry.length > 0) await this.waitForRevision(conflictRevision);
      pending = retry;
    }
    if (lastRevision > 0) await this.waitForRevision(lastRevision);
    return electionResultsFor(partitions, results);
  }

  // ---- writes ---------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed');
  }

  private checkRequestSize(bytes: number, what: string): void {
    if (bytes > ETCD_MAX_REQUEST_BYTES - 4096) {
      throw new KafkaError(ErrorCode.POLICY_VIOLATION, `${what} needs ${bytes} bytes in one etcd request; etcd accepts at most ${ETCD_MAX_REQUEST_BYTES}.`);
    }
  }

  private imageFromRecord(record: TopicRecord): TopicImage {
    return {
      name: record.name,
      topicId: record.topicId,
      internal: record.internal,
      configs: { ...record.configs },
      partitions: record.replicas.map((r, p) => initialPartitionState(record.name, record.topicId, p, r)),
    };
  }

  private async readTopic(name: string): Promise<{ kv: IKeyValue; record: TopicRecord }> {
    const kv = await this.getKv(this.keys.topic(name));
    if (!kv) throw unknownTopic(name);
    return { kv, record: decodeTopic(kv.value) };
  }

  async createTopic(spec: NewTopic, options: { validateOnly?: boolean } = {}): Promise<TopicImage> {
    this.assertOpen();
    checkNewTopic(spec, this.topicsByName.keys());
    const configs = topicConfigOverrides(spec.configs);
    const replicationFactor = resolveReplicationFactor(spec, this.config);
    const replicas = assignReplicas(this.brokers(), spec.partitions, replicationFactor);
    const record: TopicRecord = { name: spec.name, topicId: randomKafkaUuid(), internal: spec.internal || INTERNAL_TOPICS.has(spec.name), configs, replicas };
    if (options.validateOnly) return this.imageFromRecord(record);
    const key = this.keys.topic(spec.name);
    const value = encodeTopic(record);
    this.checkRequestSize(key.length + value.length, `Topic '${spec.name}' with ${spec.partitions} partitions`);
    const nameKey = this.keys.topicName(spec.name);
    const res = await this.txn([createIs(key, 0), createIs(nameKey, 0)], [put(key, value), put(nameKey, spec.name)], [get(key), get(nameKey)]);
    if (!res.succeeded) {
      const existing = res.responses.at(0)?.response_range.kvs.at(0);
      if (existing) {
        // Let the caller find the winner in this broker's image.
        await this.waitForRevision(Number(existing.mod_revision)).catch(() => undefined);
        throw topicAlreadyExists(spec.name);
      }
      const colliding = res.responses.at(1)?.response_range.kvs.at(0)?.value.toString() ?? '?';
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${spec.name}' collides with existing topic: ${colliding}`);
    }
    await this.waitForRevision(Number(res.header.revision));
    const created = this.topicsById.get(record.topicId);
    return created ? created.image : this.imageFromRecord(record);
  }

  async deleteTopic(name: string): Promise<TopicImage> {
    this.assertOpen();
    checkTopicDeletionEnabled(this.config);
    for (;;) {
      const { kv, record } = await this.readTopic(name);
      const res = await this.txn([createIs(this.keys.topic(name), kv.create_revision)], [del(this.keys.topic(name)), del(this.keys.topicName(name)), delPrefix(this.keys.partitionsOf(record.topicId))]);
      if (!res.succeeded) continue; // deleted or re-created meanwhile: read again
      const image = this.topicsById.get(record.topicId)?.image ?? this.imageFromRecord(record);
      await this.waitForRevision(Number(res.header.revision));
      return image;
    }
  }

  async createPartitions(name: string, totalCount: number, options: { validateOnly?: boolean } = {}): Promise<TopicImage> {
    this.assertOpen();
    for (;;) {
      const { kv, record } = await this.readTopic(name);
      const current = record.replicas.length;
      checkNewPartitionCount(current, totalCount);
      const brokers = this.brokers();
      const added = assignReplicas(brokers, totalCount - current, record.replicas[0]?.length ?? 1, {
        startPartitionId: current,
        fixedStartIndex: continuationStartIndex(brokers, record.replicas[0] ?? []),
      });
      if (options.validateOnly) return this.topic(name) ?? this.imageFromRecord(record);
      const key = this.keys.topic(name);
      const value = encodeTopic({ ...record, replicas: [...record.replicas, ...added] });
      this.checkRequestSize(key.length + value.length, `Topic '${name}' with ${totalCount} partitions`);
      const res = await this.txn([modIs(key, kv.mod_revision)], [put(key, value)]);
      if (!res.succeeded) continue;
      await this.waitForRevision(Number(res.header.revision));
      return this.topicsById.get(record.topicId)?.image ?? this.imageFromRecord(record);
    }
  }

  async alterTopicConfigs(name: string, configs: Record<string, string | null>, options: { validateOnly?: boolean } = {}): Promise<TopicImage> {
    this.assertOpen();
    const overrides = topicConfigOverrides(configs);
    for (;;) {
      const { kv, record } = await this.readTopic(name);
      if (options.validateOnly) return this.topic(name) ?? this.imageFromRecord(record);
      const key = this.keys.topic(name);
      const res = await this.txn([modIs(key, kv.mod_revision)], [put(key, encodeTopic({ ...record, configs: overrides }))]);
      if (!res.succeeded) continue;
      await this.waitForRevision(Number(res.header.revision));
      return this.topicsById.get(record.topicId)?.image ?? this.imageFromRecord(record);
    }
  }

  /**
   * AlterPartition: checked against the partition's current state in etcd (FENCED_LEADER_EPOCH,
   * INVALID_UPDATE_VERSION), written with a Txn comparing the mod revision of that state and the
   * topic's create revision, so nothing changed in between. Only the partition's key is read (and
   * the topic key's revisions, not its value, which grows with the partition count).
   */
  async alterPartition(change: PartitionChange): Promise<PartitionState> {
    this.assertOpen();
    const where = { topic: change.topic, partition: change.partition };
    for (let attempt = 0; ; attempt++) {
      const entry = this.topicsByName.get(change.topic);
      if (!entry) {
        // Not applied here yet (or gone): catch up with etcd before answering.
        const known = await this.txn([], [{ request_range: { key: buf(this.keys.topic(change.topic)), keys_only: true } }]);
        const kv = known.responses.at(0)?.response_range.kvs.at(0);
        if (!kv || attempt > 0) throw unknownTopic(change.topic);
        await this.waitForRevision(Number(kv.mod_revision));
        continue;
      }
      const replicas = change.partition >= 0 ? entry.record.replicas.at(change.partition) : undefined;
      if (replicas === undefined) throw unknownPartition(change.topic, change.partition);
      const topicKey = this.keys.topic(change.topic);
      const key = this.keys.partition(entry.image.topicId, change.partition);
      const read = await this.txn([], [get(key), { request_range: { key: buf(topicKey), keys_only: true } }]);
      const partKv = read.responses.at(0)?.response_range.kvs.at(0);
      const topicKv = read.responses.at(1)?.response_range.kvs.at(0);
      if (!topicKv) throw unknownTopic(change.topic);
      if (Number(topicKv.create_revision) !== entry.createRevision) {
        // The topic was deleted and created again: catch up with it, then decide.
        await this.waitForRevision(Number(topicKv.mod_revision));
        continue;
      }
      const current = partKv
        ? partitionStateFrom(change.topic, entry.image.topicId, change.partition, decodePartition(partKv.value))
        : initialPartitionState(change.topic, entry.image.topicId, change.partition, replicas);
      const next = applyPartitionChange(current, change);
      const strangers = next.isr.filter((b) => !next.replicas.includes(b));
      if (strangers.length > 0 || (next.leader >= 0 && !next.replicas.includes(next.leader))) {
        throw new KafkaError(ErrorCode.INELIGIBLE_REPLICA, `Brokers [${strangers.join(',')}] are not replicas of ${change.topic}-${change.partition}`, where);
      }
      // Kafka (KIP-841) lets only live brokers join an ISR: each one added must be registered,
      // with the registration this broker knows, when the change is written.
      const joining = next.isr.filter((b) => !current.isr.includes(b));
      const compare = [createIs(topicKey, entry.createRevision), modIs(key, partKv?.mod_revision ?? 0)];
      for (const b of joining) {
        const broker = this.brokersById.get(b);
        if (!broker) throw new KafkaError(ErrorCode.INELIGIBLE_REPLICA, `Broker ${b} is not registered and cannot join the ISR of ${change.topic}-${change.partition}`, where);
        compare.push(createIs(this.keys.broker(b), broker.createRevision));
      }
      const res = await this.txn(compare, [put(key, encodePartition(next))], joining.map((b) => ({ request_range: { key: buf(this.keys.broker(b)), keys_only: true } })));
      if (res.succeeded) {
        await this.waitForRevision(Number(res.header.revision));
        return this.topicsById.get(entry.image.topicId)?.image.partitions[change.partition] ?? next;
      }
      const gone = joining.filter((b, i) => String(this.brokersById.get(b)?.createRevision) !== res.responses.at(i)?.response_range.kvs.at(0)?.create_revision);
      if (gone.length > 0) {
        throw new KafkaError(ErrorCode.INELIGIBLE_REPLICA, `Brokers [${gone.join(',')}] are no longer registered and cannot join the ISR of ${change.topic}-${change.partition}`, where);
      }
      // Changed between the read and the write: the next read answers with the right error.
      if (attempt >= 10) throw new KafkaError(ErrorCode.INVALID_UPDATE_VERSION, `${change.topic}-${change.partition} keeps changing; try again`, where);
    }
  }

  async allocateProducerIds(): Promise<ProducerIdBlock> {
    this.assertOpen();
    const key = this.keys.producerIds;
    for (;;) {
      const kv = await this.getKv(key);
      const first = kv ? Number(kv.value.toString()) : 0;
      if (!Number.isSafeInteger(first) || first < 0) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `malformed etcd key ${key}`);
      const res = await this.txn([kv ? modIs(key, kv.mod_revision) : createIs(key, 0)], [put(key, String(first + ETCD_PRODUCER_ID_BLOCK_SIZE))]);
      if (res.succeeded) return { firstProducerId: first, size: ETCD_PRODUCER_ID_BLOCK_SIZE };
    }
  }

  // ---- SCRAM credentials: /spool/<prefix>/scram/<mechanism>/<user, URI-encoded>, read on demand ----

  private scramKey(user: string, mechanism: ScramMechanismName): string {
    return `${this.keys.base}scram/${mechanism}/${encodeURIComponent(user)}`;
  }

  async scramCredential(user: string, mechanism: ScramMechanismName): Promise<ScramCredentialRecord | undefined> {
    const kv = await this.getKv(this.scramKey(user, mechanism));
    return kv ? (JSON.parse(kv.value.toString()) as ScramCredentialRecord) : undefined;
  }

  async scramCredentials(): Promise<ScramCredentialRecord[]> {
    const prefix = `${this.keys.base}scram/`;
    try {
      const res = await this.etcd.kv.range({ key: buf(prefix), range_end: prefixEnd(prefix) });
      return res.kvs.map((kv) => JSON.parse(kv.value.toString()) as ScramCredentialRecord);
    } catch (err) {
      throw this.etcdError(err);
    }
  }

  async alterScramCredentials(upsertions: ScramCredentialRecord[], deletions: ScramCredentialDeletion[]): Promise<void> {
    this.assertOpen();
    const ops = [
      ...deletions.map((d) => del(this.scramKey(d.user, d.mechanism))),
      ...upsertions.map((u) => put(this.scramKey(u.user, u.mechanism), JSON.stringify(u))),
    ];
    if (ops.length > 0) await this.txn([], ops);
  }

  // ---- ACLs: /spool/<prefix>/acls/<sha-256 of the binding>, followed by the watch like topics ----

  private get aclPrefix(): string {
    return `${this.keys.base}acls/`;
  }

  private aclKey(acl: AclRecord): string {
    const identity = JSON.stringify([acl.resourceType, acl.resourceName, acl.patternType, acl.principal, acl.host, acl.operation, acl.permissionType]);
    return `${this.aclPrefix}${createHash('sha256').update(identity).digest('base64url')}`;
  }

  private applyAclKv(type: 'put' | 'delete', kv: IKeyValue): void {
    const key = kv.key.toString();
    if (type === 'delete') this.aclsByKey.delete(key);
    else this.aclsByKey.set(key, decodeAcl(kv.value));
    this.aclList = Object.freeze([...this.aclsByKey.values()]);
  }

  /** A snapshot's ACL keys replace the image's. */
  private replaceAcls(kvs: IKeyValue[]): void {
    this.aclsByKey.clear();
    for (const kv of kvs) {
      try {
        this.aclsByKey.set(kv.key.toString(), decodeAcl(kv.value));
      } catch (err) {
        this.logger.error({ key: kv.key.toString(), err: (err as Error).message }, 'ignoring a malformed metadata key');
      }
    }
    this.aclList = Object.freeze([...this.aclsByKey.values()]);
  }

  acls(): readonly AclRecord[] {
    return this.aclList;
  }

  createAcls(acls: AclRecord[]): Promise<void> {
    const puts = new Map<string, AclRecord>();
    for (const acl of acls) {
      const key = this.aclKey(acl);
      if (!this.aclsByKey.has(key)) puts.set(key, acl);
    }
    return this.writeAclOps([...puts].map(([key, acl]) => put(key, encodeAcl(acl))));
  }

  deleteAcls(acls: AclRecord[]): Promise<void> {
    const keys = new Set(acls.map((acl) => this.aclKey(acl)).filter((key) => this.aclsByKey.has(key)));
    return this.writeAclOps([...keys].map((key) => del(key)));
  }

  /** Writes in Txns of at most etcd's operation limit; resolves once this broker applied them. */
  private async writeAclOps(ops: IRequestOp[]): Promise<void> {
    let revision = 0;
    for (let i = 0; i < ops.length; i += ETCD_MAX_TXN_OPS) {
      const res = await this.txn([], ops.slice(i, i + ETCD_MAX_TXN_OPS));
      revision = Number(res.header.revision);
    }
    if (revision > 0) await this.waitForRevision(revision);
  }

  // ---- Dynamic group configs: /spool/<prefix>/group-configs/<base64url group id>, followed by the watch ----

  private get groupConfigPrefix(): string {
    return `${this.keys.base}group-configs/`;
  }

  private groupConfigKey(groupId: string): string {
    return `${this.groupConfigPrefix}${Buffer.from(groupId, 'utf8').toString('base64url')}`;
  }

  private applyGroupConfigKv(type: 'put' | 'delete', kv: IKeyValue): void {
    const groupId = Buffer.from(kv.key.toString().slice(this.groupConfigPrefix.length), 'base64url').toString('utf8');
    if (type === 'delete') this.groupConfigMap.delete(groupId);
    else this.groupConfigMap.set(groupId, decodeGroupConfigs(kv.value));
  }

  /** A snapshot's group config keys replace the image's. */
  private replaceGroupConfigs(kvs: IKeyValue[]): void {
    this.groupConfigMap.clear();
    for (const kv of kvs) {
      try {
        this.applyGroupConfigKv('put', kv);
      } catch (err) {
        this.logger.error({ key: kv.key.toString(), err: (err as Error).message }, 'ignoring a malformed metadata key');
      }
    }
  }

  groupConfigs(groupId: string): Readonly<Record<string, string>> | undefined {
    return this.groupConfigMap.get(groupId);
  }

  async alterGroupConfigs(groupId: string, configs: Record<string, string>): Promise<void> {
    const key = this.groupConfigKey(groupId);
    const op = Object.keys(configs).length === 0 ? del(key) : put(key, JSON.stringify(configs));
    const res = await this.txn([], [op]);
    await this.waitForRevision(Number(res.header.revision));
  }
}

function decodeGroupConfigs(value: Buffer): Readonly<Record<string, string>> {
  const o = JSON.parse(value.toString()) as unknown;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('group configs: not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string') throw new Error(`group configs.${k}: not a string`);
    out[k] = v;
  }
  return Object.freeze(out);
}

function encodeAcl(acl: AclRecord): string {
  return JSON.stringify({
    resourceType: acl.resourceType,
    resourceName: acl.resourceName,
    patternType: acl.patternType,
    principal: acl.principal,
    host: acl.host,
    operation: acl.operation,
    permissionType: acl.permissionType,
  });
}

function decodeAcl(value: Buffer): AclRecord {
  const o = JSON.parse(value.toString()) as Record<string, unknown>;
  const int = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`acl.${k}: not an integer`);
    return v;
  };
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw new Error(`acl.${k}: not a string`);
    return v;
  };
  return {
    resourceType: int('resourceType'),
    resourceName: str('resourceName'),
    patternType: int('patternType'),
    principal: str('principal'),
    host: str('host'),
    operation: int('operation'),
    permissionType: int('permissionType'),
  };
}
