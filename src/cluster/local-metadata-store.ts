// cluster/ room: the MetadataStore of a single node — the image lives in the data dir
// (__spool_topics.json, meta.properties, __spool_producer_id_block) and this broker is the
// controller. Writes are serialized, checked against the versions they name, persisted
// atomically, then published in order to the listeners.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerConfig } from '../config/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { writeFileAtomic } from '../log/checkpoint.js';
import { decideElection, electionResult, electionResultsFor, electionTargets } from './elections.js';
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
import {
  applyPartitionChange,
  checkNewPartitionCount,
  checkNewTopic,
  checkTopicDeletionEnabled,
  notEnoughBrokers,
  resolveReplicationFactor,
  topicConfigOverrides,
  unknownPartition,
  unknownTopic,
} from './topic-rules.js';
import { INTERNAL_TOPICS, randomKafkaUuid } from './topics.js';
import type { BrokerRegistration, MetadataEvent, MetadataListener, PartitionState, ProducerIdBlock, TopicImage } from './types.js';

const TOPICS_FILE = '__spool_topics.json';
const PRODUCER_ID_FILE = '__spool_producer_id_block';
/** SCRAM credentials (salted, never passwords): {"version":1,"credentials":[ScramCredentialRecord…]}. */
const SCRAM_FILE = '__spool_scram_credentials.json';
/** ACLs: {"version":1,"acls":[AclRecord…]}. */
const ACLS_FILE = '__spool_acls.json';
/** Dynamic group configs: {"version":1,"groups":{groupId: {name: value}}}. */
const GROUP_CONFIGS_FILE = '__spool_group_configs.json';
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/** v1 (before partition state was stored): every partition led by this node at epoch 0. */
interface TopicsFileV1 {
  version: 1;
  topics: Array<{ name: string; topicId: string; partitions: number; configs: Record<string, string>; internal: boolean }>;
}
interface TopicsFileV2 {
  version: 2;
  topics: TopicImage[];
}

type Distributive<T> = T extends unknown ? Omit<T, 'version'> : never;

export class LocalMetadataStore implements MetadataStore {
  clusterId = '';
  version = 0;
  private readonly topicsByName = new Map<string, TopicImage>();
  private readonly topicsById = new Map<string, TopicImage>();
  private readonly brokersById = new Map<number, BrokerRegistration>();
  private readonly listeners = new Set<MetadataListener>();
  /** Serializes writes: each one sees the image the previous one left. */
  private mutation: Promise<unknown> = Promise.resolve();
  private producerIdBlockEnd = 0;
  private closed = false;
  /** The topics file lags the image (a rollback's write failed); see persistTopicsOrRetry. */
  private topicsFileStale = false;
  /** SCRAM credentials by "mechanism user". */
  private readonly scram = new Map<string, ScramCredentialRecord>();

  /** Replaced (never mutated) at each change: acls() hands out the same array until then. */
  private aclList: readonly AclRecord[] = [];
  /** Dynamic group configs by group id (each entry replaced, never mutated). */
  private readonly groupConfigMap = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    private readonly dataDir: string,
    private readonly config: BrokerConfig,
  ) {}

  private get nodeId(): number {
    return this.config.nodeId;
  }

  start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const configured = this.config.get('cluster.id');
    this.clusterId = loadOrCreateMetaProperties(this.dataDir, this.nodeId, typeof configured === 'string' ? configured : null);
    for (const topic of this.readTopicsFile()) this.index(topic);
    const pidPath = join(this.dataDir, PRODUCER_ID_FILE);
    if (existsSync(pidPath)) {
      const end = Number(readFileSync(pidPath, 'utf8').trim());
      if (!Number.isSafeInteger(end) || end < 0) throw new Error(`malformed ${pidPath}`);
      this.producerIdBlockEnd = end;
    }
    const scramPath = join(this.dataDir, SCRAM_FILE);
    if (existsSync(scramPath)) {
      const parsed = JSON.parse(readFileSync(scramPath, 'utf8')) as { version: number; credentials?: ScramCredentialRecord[] };
      if (parsed.version !== 1 || !Array.isArray(parsed.credentials)) throw new Error(`unsupported ${scramPath} format`);
      for (const c of parsed.credentials) this.scram.set(`${c.mechanism} ${c.user}`, c);
    }
    this.aclList = this.readAclsFile();
    this.readGroupConfigsFile();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    return this.mutation.then(() => {
      try {
        if (this.topicsFileStale) this.persistTopics();
      } catch {
        // still no fds: nothing more to do before the process ends
      }
    });
  }

  private readTopicsFile(): TopicImage[] {
    const file = join(this.dataDir, TOPICS_FILE);
    if (!existsSync(file)) return [];
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as TopicsFileV1 | TopicsFileV2;
    if (parsed.version === 2 && Array.isArray(parsed.topics)) return parsed.topics;
    if (parsed.version === 1 && Array.isArray(parsed.topics)) {
      return parsed.topics.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        internal: t.internal,
        configs: t.configs,
        partitions: Array.from({ length: t.partitions }, (_, p) => this.newPartitionState(t.name, t.topicId, p)),
      }));
    }
    throw new Error(`unsupported ${file} format`);
  }

  private persistTopics(): void {
    const file: TopicsFileV2 = { version: 2, topics: [...this.topicsByName.values()] };
    writeFileAtomic(join(this.dataDir, TOPICS_FILE), JSON.stringify(file, null, 2) + '\n');
    this.topicsFileStale = false;
  }

  /**
   * For a rollback, whose write may fail as the creation did (no fds left): the image is right,
   * and the file is written again every second (and at close) until it matches, so a restart
   * never brings back what was undone.
   */
  private persistTopicsOrRetry(): void {
    try {
      this.persistTopics();
    } catch {
      this.topicsFileStale = true;
      setTimeout(() => {
        void this.serialize(() => {
          if (this.topicsFileStale && !this.closed) this.persistTopicsOrRetry();
          return Promise.resolve();
        });
      }, 1000).unref();
    }
  }

  private index(topic: TopicImage): void {
    this.topicsByName.set(topic.name, topic);
    this.topicsById.set(topic.topicId, topic);
  }

  /** One node: this broker is the only replica, leader and ISR, from leader epoch 0. */
  private newPartitionState(topic: string, topicId: string, partition: number): PartitionState {
    return { topic, topicId, partition, replicas: [this.nodeId], isr: [this.nodeId], leader: this.nodeId, leaderEpoch: 0, partitionEpoch: 0 };
  }

  topics(): TopicImage[] {
    return [...this.topicsByName.values()];
  }
  topic(name: string): TopicImage | undefined {
    return this.topicsByName.get(name);
  }
  topicById(topicId: string): TopicImage | undefined {
    return this.topicsById.get(topicId);
  }
  partition(topic: string, partition: number): PartitionState | undefined {
    return this.topicsByName.get(topic)?.partitions[partition];
  }
  brokers(): BrokerRegistration[] {
    return [...this.brokersById.values()];
  }
  controllerId(): number {
    return this.nodeId;
  }

  subscribe(listener: MetadataListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mutation.then(fn, fn);
    this.mutation = run.catch(() => undefined);
    return run;
  }

  private async publish(event: Distributive<MetadataEvent>): Promise<void> {
    this.version++;
    const full = { ...event, version: this.version };
    for (const listener of [...this.listeners]) await listener(full);
  }

  private assertOpen(): void {
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed');
  }

  private requireTopic(name: string): TopicImage {
    const topic = this.topicsByName.get(name);
    if (!topic) throw unknownTopic(name);
    return topic;
  }

  private validateNewTopic(spec: NewTopic): void {
    checkNewTopic(spec, this.topicsByName.keys());
    // One node: the only registered broker. Internal topics asked at their default factor
    // (offsets.topic.replication.factor, 3 as in Kafka) get one replica here, so a single broker
    // works out of the box; a factor asked explicitly above 1 is refused as Kafka refuses it.
    if (spec.internal && spec.replicationFactor === -1) return;
    const rf = resolveReplicationFactor(spec, this.config);
    if (rf !== 1) throw notEnoughBrokers(rf, 1);
  }

  createTopic(spec: NewTopic, options: { validateOnly?: boolean } = {}): Promise<TopicImage> {
    return this.serialize(async () => {
      this.assertOpen();
      this.validateNewTopic(spec);
      const configs = topicConfigOverrides(spec.configs);
      const topicId = randomKafkaUuid();
      const topic: TopicImage = {
        name: spec.name,
        topicId,
        internal: spec.internal || INTERNAL_TOPICS.has(spec.name),
        configs,
        partitions: Array.from({ length: spec.partitions }, (_, p) => this.newPartitionState(spec.name, topicId, p)),
      };
      if (options.validateOnly) return topic;
      this.index(topic);
      this.persistTopics();
      try {
        await this.publish({ type: 'topic-created', topic });
      } catch (err) {
        // A listener failed midway (the logs could not all be opened: fds, disk): the creation
        // is undone — out of the image, what the listeners made deleted, out of the file. The
        // caller gets `err`.
        this.topicsByName.delete(topic.name);
        this.topicsById.delete(topic.topicId);
        await this.publish({ type: 'topic-deleted', topic }).catch(() => undefined);
        this.persistTopicsOrRetry();
        throw err;
      }
      return topic;
    });
  }

  deleteTopic(name: string): Promise<TopicImage> {
    return this.serialize(async () => {
      this.assertOpen();
      checkTopicDeletionEnabled(this.config);
      const topic = this.requireTopic(name);
      this.topicsByName.delete(name);
      this.topicsById.delete(topic.topicId);
      this.persistTopics();
      await this.publish({ type: 'topic-deleted', topic });
      return topic;
    });
  }

  createPartitions(name: string, totalCount: number, options: { validateOnly?: boolean } = {}): Promise<TopicImage> {
    return this.serialize(async () => {
      this.assertOpen();
      const topic = this.requireTopic(name);
      const current = topic.partitions.length;
      checkNewPartitionCount(current, totalCount);
      if (options.validateOnly) return topic;
      const added: PartitionState[] = [];
      for (let p = current; p < totalCount; p++) added.push(this.newPartitionState(name, topic.topicId, p));
      topic.partitions.push(...added);
      this.persistTopics();
      await this.publish({ type: 'partitions-created', topic: name, partitions: added });
      return topic;
    });
  }

  alterTopicConfigs(name: string, configs: Record<string, string | null>, options: { validateOnly?: boolean } = {}): Promise<TopicImage> {
    return this.serialize(async () => {
      this.assertOpen();
      const topic = this.requireTopic(name);
      const overrides = topicConfigOverrides(configs);
      if (options.validateOnly) return topic;
      topic.configs = overrides;
      this.persistTopics();
      await this.publish({ type: 'topic-configs-changed', topic: name, configs: overrides });
      return topic;
    });
  }

  alterPartition(change: PartitionChange): Promise<PartitionState> {
    return this.serialize(async () => {
      this.assertOpen();
      const topic = this.requireTopic(change.topic);
      const current = change.partition >= 0 && change.partition < topic.partitions.length ? topic.partitions[change.partition] : undefined;
      if (current === undefined) throw unknownPartition(change.topic, change.partition);
      // Compare-and-set: a deposed leader or a stale view never overwrites newer state.
      const next = applyPartitionChange(current, change);
      topic.partitions[change.partition] = next;
      this.persistTopics();
      await this.publish({ type: 'partition-changed', partition: next });
      return next;
    });
  }

  /**
   * One node, always controller: its only replica leads every partition, so an election is
   * ELECTION_NOT_NEEDED (unless a partition lost its leader, which this store never does itself).
   */
  electLeaders(type: ElectionType, partitions: ElectionTarget[] | null): Promise<ElectionResult[]> {
    return this.serialize(async () => {
      this.assertOpen();
      const { known, unknown } = electionTargets(partitions, (name) => this.topicsByName.get(name), () => this.topics());
      const live = new Set([this.nodeId, ...this.brokersById.keys()]);
      const results: ElectionResult[] = [...unknown];
      const changed: PartitionState[] = [];
      for (const target of known) {
        const topic = this.requireTopic(target.topic);
        const decision = decideElection(topic.partitions[target.partition], type, live);
        if (decision.kind === 'refuse') {
          results.push(electionResult(target, decision.errorCode, decision.errorMessage));
          continue;
        }
        topic.partitions[target.partition] = decision.next;
        changed.push(decision.next);
        results.push(electionResult(target, ErrorCode.NONE, null));
      }
      if (changed.length > 0) {
        this.persistTopics();
        for (const next of changed) await this.publish({ type: 'partition-changed', partition: next });
      }
      return electionResultsFor(partitions, results);
    });
  }

  registerBroker(registration: Omit<BrokerRegistration, 'epoch'>): Promise<BrokerRegistration> {
    return this.serialize(async () => {
      this.assertOpen();
      const previous = this.brokersById.get(registration.nodeId);
      const broker: BrokerRegistration = { ...registration, epoch: (previous?.epoch ?? -1) + 1 };
      this.brokersById.set(broker.nodeId, broker);
      await this.publish({ type: 'broker-registered', broker });
      return broker;
    });
  }

  allocateProducerIds(): Promise<ProducerIdBlock> {
    return this.serialize(() => {
      this.assertOpen();
      const firstProducerId = this.producerIdBlockEnd;
      // Persisted before handing out: ids below the stored end may be in use after a restart.
      writeFileAtomic(join(this.dataDir, PRODUCER_ID_FILE), `${firstProducerId + PRODUCER_ID_BLOCK_SIZE}\n`);
      this.producerIdBlockEnd = firstProducerId + PRODUCER_ID_BLOCK_SIZE;
      return Promise.resolve({ firstProducerId, size: PRODUCER_ID_BLOCK_SIZE });
    });
  }

  scramCredential(user: string, mechanism: ScramMechanismName): Promise<ScramCredentialRecord | undefined> {
    return Promise.resolve(this.scram.get(`${mechanism} ${user}`));
  }

  scramCredentials(): Promise<ScramCredentialRecord[]> {
    return Promise.resolve([...this.scram.values()]);
  }

  alterScramCredentials(upsertions: ScramCredentialRecord[], deletions: ScramCredentialDeletion[]): Promise<void> {
    return this.serialize(() => {
      this.assertOpen();
      const next = new Map(this.scram);
      for (const d of deletions) next.delete(`${d.mechanism} ${d.user}`);
      for (const u of upsertions) next.set(`${u.mechanism} ${u.user}`, u);
      writeFileAtomic(join(this.dataDir, SCRAM_FILE), JSON.stringify({ version: 1, credentials: [...next.values()] }, null, 2) + '\n');
      this.scram.clear();
      for (const [k, v] of next) this.scram.set(k, v);
      return Promise.resolve();
    });
  }

  private readAclsFile(): readonly AclRecord[] {
    const file = join(this.dataDir, ACLS_FILE);
    if (!existsSync(file)) return [];
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; acls?: AclRecord[] };
    if (parsed.version !== 1 || !Array.isArray(parsed.acls)) throw new Error(`unsupported ${file} format`);
    return Object.freeze(parsed.acls);
  }

  private writeAcls(next: readonly AclRecord[]): void {
    writeFileAtomic(join(this.dataDir, ACLS_FILE), JSON.stringify({ version: 1, acls: next }, null, 2) + '\n');
    this.aclList = Object.freeze(next);
  }

  acls(): readonly AclRecord[] {
    return this.aclList;
  }

  createAcls(acls: AclRecord[]): Promise<void> {
    return this.serialize(() => {
      this.assertOpen();
      const keys = new Set(this.aclList.map(aclKey));
      const added = acls.filter((a) => {
        const key = aclKey(a);
        if (keys.has(key)) return false;
        keys.add(key);
        return true;
      });
      if (added.length > 0) this.writeAcls([...this.aclList, ...added.map((a) => ({ ...a }))]);
      return Promise.resolve();
    });
  }

  deleteAcls(acls: AclRecord[]): Promise<void> {
    return this.serialize(() => {
      this.assertOpen();
      const gone = new Set(acls.map(aclKey));
      const next = this.aclList.filter((a) => !gone.has(aclKey(a)));
      if (next.length !== this.aclList.length) this.writeAcls(next);
      return Promise.resolve();
    });
  }

  // ---- Dynamic group configs (one JSON file, rewritten atomically at each change) ----

  private readGroupConfigsFile(): void {
    const file = join(this.dataDir, GROUP_CONFIGS_FILE);
    this.groupConfigMap.clear();
    if (!existsSync(file)) return;
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; groups?: unknown };
    if (parsed.version !== 1 || typeof parsed.groups !== 'object' || parsed.groups === null) throw new Error(`unsupported ${file} format`);
    for (const [groupId, configs] of Object.entries(parsed.groups as Record<string, Record<string, string>>)) {
      this.groupConfigMap.set(groupId, Object.freeze({ ...configs }));
    }
  }

  groupConfigs(groupId: string): Readonly<Record<string, string>> | undefined {
    return this.groupConfigMap.get(groupId);
  }

  alterGroupConfigs(groupId: string, configs: Record<string, string>): Promise<void> {
    return this.serialize(() => {
      this.assertOpen();
      const next = new Map(this.groupConfigMap);
      if (Object.keys(configs).length === 0) next.delete(groupId);
      else next.set(groupId, Object.freeze({ ...configs }));
      writeFileAtomic(join(this.dataDir, GROUP_CONFIGS_FILE), JSON.stringify({ version: 1, groups: Object.fromEntries(next) }, null, 2) + '\n');
      this.groupConfigMap.clear();
      for (const [k, v] of next) this.groupConfigMap.set(k, v);
      return Promise.resolve();
    });
  }
}

/** A binding's identity: every field. */
function aclKey(a: AclRecord): string {
  return JSON.stringify([a.resourceType, a.resourceName, a.patternType, a.principal, a.host, a.operation, a.permissionType]);
}
