// test helpers: an in-memory MetadataStore whose partition state a test sets directly (as a
// controller would), with the same compare-and-set rules as the real stores for alterPartition.
import type { ElectionResult, MetadataStore, NewTopic, PartitionChange } from '../../src/cluster/index.js';
import type { BrokerRegistration, MetadataEvent, MetadataListener, PartitionState, ProducerIdBlock, TopicImage } from '../../src/cluster/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';

type Distributive<T> = T extends unknown ? Omit<T, 'version'> : never;

export class FakeMetadataStore implements MetadataStore {
  clusterId = 'fake-cluster-id-000000';
  version = 0;
  private readonly byName = new Map<string, TopicImage>();
  private readonly registered = new Map<number, BrokerRegistration>();
  private readonly listeners = new Set<MetadataListener>();
  private nextProducerId = 0;

  start(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
  topics(): TopicImage[] {
    return [...this.byName.values()];
  }
  topic(name: string): TopicImage | undefined {
    return this.byName.get(name);
  }
  topicById(topicId: string): TopicImage | undefined {
    return this.topics().find((t) => t.topicId === topicId);
  }
  partition(topic: string, partition: number): PartitionState | undefined {
    return this.byName.get(topic)?.partitions[partition];
  }
  brokers(): BrokerRegistration[] {
    return [...this.registered.values()];
  }
  controllerId(): number {
    return 1;
  }
  subscribe(listener: MetadataListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async publish(event: Distributive<MetadataEvent>): Promise<void> {
    this.version++;
    for (const l of [...this.listeners]) await l({ ...event, version: this.version });
  }

  /** Creates a topic whose partitions all start in `state` (replicas, ISR, leader, epochs). */
  async addTopic(name: string, partitions: number, state: Pick<PartitionState, 'replicas' | 'isr' | 'leader'>, configs: Record<string, string> = {}): Promise<TopicImage> {
    const topicId = `${name}-id`.padEnd(22, '0').slice(0, 22);
    const topic: TopicImage = {
      name,
      topicId,
      internal: false,
      configs,
      partitions: Array.from({ length: partitions }, (_, p) => ({ topic: name, topicId, partition: p, ...state, leaderEpoch: 0, partitionEpoch: 0 })),
    };
    this.byName.set(name, topic);
    await this.publish({ type: 'topic-created', topic });
    return topic;
  }

  /** What the controller does on an election or reassignment: a new leader epoch. */
  async electLeader(topic: string, partition: number, leader: number, isr?: number[]): Promise<PartitionState> {
    const current = this.partition(topic, partition)!;
    const next: PartitionState = { ...current, leader, isr: isr ?? current.isr, leaderEpoch: current.leaderEpoch + 1, partitionEpoch: current.partitionEpoch + 1 };
    this.byName.get(topic)!.partitions[partition] = next;
    await this.publish({ type: 'partition-changed', partition: next });
    return next;
  }

  createTopic(spec: NewTopic): Promise<TopicImage> {
    return this.addTopic(spec.name, spec.partitions, { replicas: [1], isr: [1], leader: 1 });
  }
  async deleteTopic(name: string): Promise<TopicImage> {
    const topic = this.byName.get(name);
    if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
    this.byName.delete(name);
    await this.publish({ type: 'topic-deleted', topic });
    return topic;
  }
  createPartitions(): Promise<TopicImage> {
    return Promise.reject(new Error('not used by these tests'));
  }
  alterTopicConfigs(): Promise<TopicImage> {
    return Promise.reject(new Error('not used by these tests'));
  }

  async alterPartition(change: PartitionChange): Promise<PartitionState> {
    const current = this.partition(change.topic, change.partition);
    if (!current) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such partition');
    if (change.leaderEpoch !== current.leaderEpoch) throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, 'stale leader epoch');
    if (change.partitionEpoch !== current.partitionEpoch) throw new KafkaError(ErrorCode.INVALID_UPDATE_VERSION, 'stale partition epoch');
    const next: PartitionState = { ...current, isr: change.isr ?? current.isr, partitionEpoch: current.partitionEpoch + 1 };
    this.byName.get(change.topic)!.partitions[change.partition] = next;
    await this.publish({ type: 'partition-changed', partition: next });
    return next;
  }

  electLeaders(): Promise<ElectionResult[]> {
    return Promise.reject(new Error('not used by these tests'));
  }

  async registerBroker(registration: Omit<BrokerRegistration, 'epoch'>): Promise<BrokerRegistration> {
    const b = { ...registration, epoch: 0 };
    this.registered.set(b.nodeId, b);
    await this.publish({ type: 'broker-registered', broker: b });
    return b;
  }

  allocateProducerIds(): Promise<ProducerIdBlock> {
    const block = { firstProducerId: this.nextProducerId, size: 10 };
    this.nextProducerId += 10;
    return Promise.resolve(block);
  }
}
