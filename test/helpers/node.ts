// test helpers: one node's services without the network — local metadata store, log manager and
// replica manager wired as broker.ts wires them — with the topic operations tests drive.
import type { Logger } from 'pino';
import { INTERNAL_TOPICS, LocalMetadataStore, type TopicImage } from '../../src/cluster/index.js';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { LogManager, type Log } from '../../src/log/index.js';
import { ProducerIdManager, ReplicaManager } from '../../src/replication/index.js';
import type { StorageEngine } from '../../src/storage/engine.js';

export type NodeTopic = TopicImage & { logs: Log[] };

export class TestNode {
  private constructor(
    readonly metadata: LocalMetadataStore,
    readonly logManager: LogManager,
    readonly replicaManager: ReplicaManager,
    readonly producerIds: ProducerIdManager,
  ) {}

  static async open(dataDir: string, engine: StorageEngine, overrides: Record<string, string | number>, logger: Logger): Promise<TestNode> {
    const config = new BrokerConfig({ env: {}, overrides });
    const metadata = new LocalMetadataStore(dataDir, config);
    await metadata.start();
    const logManager = await LogManager.open({ dataDir, engine, config, logger });
    const replicaManager = new ReplicaManager({ localBrokerId: config.nodeId, metadata, logManager, config, logger });
    await replicaManager.start();
    return new TestNode(metadata, logManager, replicaManager, new ProducerIdManager(metadata));
  }

  private withLogs(topic: TopicImage): NodeTopic {
    return { ...topic, logs: topic.partitions.map((p) => this.logManager.getLog(topic.name, p.partition)).filter((l): l is Log => l !== undefined) };
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string | null> = {}, options: { validateOnly?: boolean; internal?: boolean } = {}): Promise<NodeTopic> {
    const topic = await this.metadata.createTopic(
      { name, partitions, replicationFactor: -1, configs, internal: options.internal ?? INTERNAL_TOPICS.has(name) },
      { validateOnly: options.validateOnly },
    );
    return this.withLogs(topic);
  }

  async getOrCreateInternalTopic(name: string, partitions: number): Promise<NodeTopic> {
    try {
      return await this.createTopic(name, partitions, { 'cleanup.policy': 'compact' }, { internal: true });
    } catch (err) {
      const existing = this.metadata.topic(name);
      if (err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS && existing) return this.withLogs(existing);
      throw err;
    }
  }

  getTopic(name: string): NodeTopic | undefined {
    const topic = this.metadata.topic(name);
    return topic ? this.withLogs(topic) : undefined;
  }

  getLog(topic: string, partition: number): Log | undefined {
    return this.logManager.getLog(topic, partition);
  }

  createPartitions(name: string, count: number): Promise<TopicImage> {
    return this.metadata.createPartitions(name, count);
  }

  deleteTopic(name: string): Promise<TopicImage> {
    return this.metadata.deleteTopic(name);
  }

  alterTopicConfigs(name: string, configs: Record<string, string | null>): Promise<TopicImage> {
    return this.metadata.alterTopicConfigs(name, configs);
  }

  allocateProducerId(): Promise<number> {
    return this.producerIds.generateProducerId();
  }

  runRetention(now: number): number {
    return this.logManager.runRetention(now);
  }

  pendingTopicDeleteCount(): number {
    return this.logManager.pendingTopicDeleteCount();
  }

  async close(): Promise<void> {
    this.replicaManager.shutdown();
    await this.logManager.close();
    await this.metadata.close();
  }
}
