// log/ room: LogManager — topics → partitions → Log, topic metadata persisted in the data dir
// (__spool_topics.json), meta.properties, Kafka's offset checkpoints, retention, producer id blocks.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/index.js';
import { ConfigError, validateTopicConfigs } from '../config/index.js';
import type { StorageEngine } from '../storage/engine.js';
import { readCheckpoint, writeCheckpoint, writeFileAtomic, type CheckpointEntry } from './checkpoint.js';
import { LogError, LogErrorCode, topicNameProblem } from './errors.js';
import { Log, toLogConfig } from './log.js';

export interface TopicMetadata {
  name: string;
  /** Kafka's Uuid in its string form (22-char base64url). */
  topicId: string;
  partitions: number;
  /** Topic-level overrides only; defaults come from the broker config. */
  configs: Record<string, string>;
  internal: boolean;
}

export interface Topic extends TopicMetadata {
  logs: Log[];
}

/** A deleted topic's logs, closed file.delete.delay.ms after the delete (see deleteTopic). */
interface PendingTopicDelete {
  timer: NodeJS.Timeout | null;
  /** Closes the logs and removes the renamed directories now; idempotent. */
  finish(): Promise<void>;
}

interface TopicsFile {
  version: 1;
  topics: TopicMetadata[];
}

const TOPICS_FILE = '__spool_topics.json';
const PRODUCER_ID_FILE = '__spool_producer_id_block';
const META_PROPERTIES = 'meta.properties';
const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
const PRODUCER_ID_BLOCK_SIZE = 1000;
/** Kafka's internal topics; clients may not produce to or create them by name. */
export const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);

/** A random Kafka Uuid as Kafka prints it: base64url without padding, never starting with '-'. */
export function randomKafkaUuid(): string {
  for (let i = 0; i < 100; i++) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA' && id !== 'AAAAAAAAAAAAAAAAAAAAAQ') return id;
  }
  throw new Error('could not generate a topic id');
}

export interface LogManagerOptions {
  dataDir: string;
  engine: StorageEngine;
  config: BrokerConfig;
  logger: Logger;
}

export class LogManager {
  readonly dataDir: string;
  readonly engine: StorageEngine;
  private readonly config: BrokerConfig;
  private readonly logger: Logger;
  private readonly topics = new Map<string, Topic>();
  private readonly topicsById = new Map<string, Topic>();
  /** Serializes metadata changes (create/delete/alter) so concurrent requests do not interleave. */
  private mutation: Promise<unknown> = Promise.resolve();
  private retentionTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private readonly pendingTopicDeletes = new Set<PendingTopicDelete>();
  private nextProducerId = 0;
  private producerIdBlockEnd = 0;
  private closed = false;
  clusterId = '';

  private constructor(options: LogManagerOptions) {
    this.dataDir = options.dataDir;
    this.engine = options.engine;
    this.config = options.config;
    this.logger = options.logger;
  }

  /** Opens the data directory: meta.properties, topic metadata, every partition log. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    await manager.load();
    return manager;
  }

  private async load(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    this.loadMetaProperties();
    this.removeDeletedDirs();
    const file = join(this.dataDir, TOPICS_FILE);
    let stored: TopicMetadata[] = [];
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as TopicsFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.topics)) throw new Error(`unsupported ${file} format`);
      stored = parsed.topics;
    }
    const logStartOffsets = new Map<string, number>();
    for (const e of readCheckpoint(join(this.dataDir, LOG_START_OFFSET_CHECKPOINT))) {
      logStartOffsets.set(`${e.topic}-${e.partition}`, e.offset);
    }
    for (const meta of stored) {
      const logs: Log[] = [];
      for (let p = 0; p < meta.partitions; p++) {
        logs.push(await this.openPartition(meta.name, p, meta.configs, logStartOffsets.get(`${meta.name}-${p}`)));
      }
      const topic: Topic = { ...meta, logs };
      this.topics.set(meta.name, topic);
      this.topicsById.set(meta.topicId, topic);
    }
    this.loadProducerIdBlock();
    this.logger.info({ dataDir: this.dataDir, topics: this.topics.size, engine: this.engine.name }, 'log manager loaded');
  }

  private loadMetaProperties(): void {
    const path = join(this.dataDir, META_PROPERTIES);
    const nodeId = this.config.nodeId;
    if (existsSync(path)) {
      const props = new Map<string, string>();
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        const m = /^([^#=]+)=(.*)$/.exec(line.trim());
        if (m) props.set(m[1], m[2]);
      }
      const storedNode = props.get('node.id') ?? props.get('broker.id');
      if (storedNode !== undefined && Number(storedNode) !== nodeId) {
        throw new ConfigError('node.id', String(nodeId), `${path} belongs to node.id ${storedNode}`);
      }
      this.clusterId = props.get('cluster.id') ?? '';
      const configured = this.config.get('cluster.id');
      if (typeof configured === 'string' && this.clusterId !== '' && configured !== this.clusterId) {
        throw new ConfigError('cluster.id', configured, `${path} belongs to cluster ${this.clusterId}`);
      }
    }
    if (this.clusterId === '') {
      const configured = this.config.get('cluster.id');
      this.clusterId = typeof configured === 'string' ? configured : randomKafkaUuid();
      const text = [
        '#',
        `#${new Date().toString()}`,
        `cluster.id=${this.clusterId}`,
        `directory.id=${randomKafkaUuid()}`,
        `node.id=${nodeId}`,
        'version=1',
        '',
      ].join('\n');
      writeFileAtomic(path, text);
    }
  }

  /** Finishes deletes interrupted by a crash: directories renamed to *-delete. */
  private removeDeletedDirs(): void {
    for (const name of readdirSync(this.dataDir)) {
      if (name.endsWith('-delete')) rmSync(join(this.dataDir, name), { recursive: true, force: true });
    }
  }

  private async openPartition(topic: string, partition: number, overrides: Record<string, string>, logStartOffset?: number): Promise<Log> {
    const topicConfig = this.config.resolveTopicConfig(overrides);
    const dir = join(this.dataDir, `${topic}-${partition}`);
    const pl = await this.engine.openLog(dir, toLogConfig(topicConfig), logStartOffset !== undefined ? { logStartOffset } : {});
    if (pl.recoveredBytesTruncated > 0) {
      this.logger.warn({ topic, partition, truncatedBytes: pl.recoveredBytesTruncated }, 'recovered partition: truncated a torn or corrupt tail');
    }
    return new Log(topic, partition, pl, topicConfig, (err, log) =>
      this.logger.error({ err, topic: log.topic, partition: log.partition }, 'flush failed'),
    );
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.mutation.then(fn, fn);
    this.mutation = run.catch(() => undefined);
    return run;
  }

  private persistTopics(): void {
    const file: TopicsFile = {
      version: 1,
      topics: [...this.topics.values()].map(({ name, topicId, partitions, configs, internal }) => ({
        name,
        topicId,
        partitions,
        configs,
        internal,
      })),
    };
    writeFileAtomic(join(this.dataDir, TOPICS_FILE), JSON.stringify(file, null, 2) + '\n');
  }

  allTopics(): Topic[] {
    return [...this.topics.values()];
  }

  getTopic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  getTopicById(topicId: string): Topic | undefined {
    return this.topicsById.get(topicId);
  }

  getLog(topic: string, partition: number): Log | undefined {
    return this.topics.get(topic)?.logs[partition];
  }

  /** Throws LogError(INVALID_TOPIC_EXCEPTION / TOPIC_ALREADY_EXISTS / INVALID_PARTITIONS / INVALID_CONFIG). */
  validateNewTopic(name: string, partitions: number, configs: Record<string, string | null>): void {
    const problem = topicNameProblem(name);
    if (problem !== null) throw new LogError(LogErrorCode.INVALID_TOPIC_EXCEPTION, problem);
    if (this.topics.has(name)) throw new LogError(LogErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    // Kafka refuses names that collide once '.' and '_' are treated alike (metric names).
    const normalized = name.replace(/\./g, '_');
    for (const existing of this.topics.keys()) {
      if (existing.replace(/\./g, '_') === normalized) {
        throw new LogError(LogErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${name}' collides with existing topic: ${existing}`);
      }
    }
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new LogError(LogErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, got ${partitions}.`);
    }
    try {
      validateTopicConfigs(configs);
    } catch (err) {
      if (err instanceof ConfigError) throw new LogError(LogErrorCode.INVALID_CONFIG, err.message);
      throw err;
    }
  }

  createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string | null> = {},
    options: { validateOnly?: boolean; internal?: boolean } = {},
  ): Promise<Topic> {
    return this.serialize(async () => {
      this.assertOpen();
      this.validateNewTopic(name, partitions, configs);
      const overrides: Record<string, string> = {};
      for (const [k, v] of Object.entries(configs)) if (v !== null) overrides[k] = v;
      const topic: Topic = {
        name,
        topicId: randomKafkaUuid(),
        partitions,
        configs: overrides,
        internal: options.internal ?? INTERNAL_TOPICS.has(name),
        logs: [],
      };
      if (options.validateOnly) return topic;
      for (let p = 0; p < partitions; p++) topic.logs.push(await this.openPartition(name, p, overrides));
      this.topics.set(name, topic);
      this.topicsById.set(topic.topicId, topic);
      this.persistTopics();
      this.logger.info({ topic: name, topicId: topic.topicId, partitions, configs: overrides }, 'created topic');
      return topic;
    });
  }

  /** The group coordinator's entry point for __consumer_offsets: created compacted on first use. */
  async getOrCreateInternalTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<Topic> {
    const existing = this.topics.get(name);
    if (existing) return existing;
    try {
      return await this.createTopic(name, partitions, { 'cleanup.policy': 'compact', ...configs }, { internal: true });
    } catch (err) {
      // Two callers raced to create it: creation is serialized, so the loser sees it exists.
      const created = this.topics.get(name);
      if (err instanceof LogError && err.code === LogErrorCode.TOPIC_ALREADY_EXISTS && created) return created;
      throw err;
    }
  }

  deleteTopic(name: string): Promise<TopicMetadata> {
    return this.serialize(async () => {
      this.assertOpen();
      if (!this.config.getBoolean('delete.topic.enable')) {
        throw new LogError(LogErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled (delete.topic.enable=false).');
      }
      const topic = this.topics.get(name);
      if (!topic) throw new LogError(LogErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
      this.topics.delete(name);
      this.topicsById.delete(topic.topicId);
      this.persistTopics();
      // Rename first (Kafka's "-delete" suffix) so a crash mid-delete never revives the topic
      // and the name is free for a new topic at once. The logs stay open (their fds valid under
      // the new name) for file.delete.delay.ms: a Fetch already holding a FileSlice of them is
      // still sending it, and closing now would hand it EBADF or, with the fd number reused,
      // another file's bytes.
      const suffix = randomBytes(8).toString('hex');
      const doomed: Array<{ log: Log; dir: string }> = [];
      for (const log of topic.logs) {
        const target = `${log.dir}.${suffix}-delete`;
        renameSync(log.dir, target);
        doomed.push({ log, dir: target });
      }
      const delayMs = this.config.resolveTopicConfig(topic.configs).fileDeleteDelayMs;
      this.scheduleTopicClose(name, doomed, delayMs);
      this.writeCheckpoints();
      this.logger.info({ topic: name, topicId: topic.topicId }, 'deleted topic');
      return { name: topic.name, topicId: topic.topicId, partitions: topic.partitions, configs: topic.configs, internal: topic.internal };
    });
  }

  /** Closes a deleted topic's logs and removes their directories after `delayMs`, or at close(). */
  private scheduleTopicClose(name: string, doomed: Array<{ log: Log; dir: string }>, delayMs: number): void {
    let finishing: Promise<void> | null = null;
    const pending: PendingTopicDelete = {
      timer: null,
      finish: () => {
        if (pending.timer) clearTimeout(pending.timer);
        pending.timer = null;
        finishing ??= (async () => {
          for (const { log, dir } of doomed) {
            try {
              await log.close();
            } catch (err) {
              this.logger.warn({ err, topic: name, partition: log.partition }, 'closing a deleted log failed');
            }
            rmSync(dir, { recursive: true, force: true });
          }
          this.pendingTopicDeletes.delete(pending);
        })();
        return finishing;
      },
    };
    this.pendingTopicDeletes.add(pending);
    pending.timer = setTimeout(() => {
      pending.finish().catch((err: unknown) => this.logger.error({ err, topic: name }, 'removing a deleted topic failed'));
    }, Math.min(Math.max(0, delayMs), 2147483647));
    // Never keeps the process alive: close() finishes whatever is pending.
    pending.timer.unref();
  }

  /** Deleted topics whose logs are still open, waiting out file.delete.delay.ms. */
  pendingTopicDeleteCount(): number {
    return this.pendingTopicDeletes.size;
  }

  createPartitions(name: string, count: number, validateOnly = false): Promise<Topic> {
    return this.serialize(async () => {
      this.assertOpen();
      const topic = this.topics.get(name);
      if (!topic) throw new LogError(LogErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
      if (!Number.isInteger(count) || count <= topic.partitions) {
        throw new LogError(
          LogErrorCode.INVALID_PARTITIONS,
          count === topic.partitions
            ? `Topic already has ${topic.partitions} partitions.`
            : `Topic currently has ${topic.partitions} partitions, which is higher than the requested ${count}.`,
        );
      }
      if (validateOnly) return topic;
      for (let p = topic.partitions; p < count; p++) topic.logs.push(await this.openPartition(name, p, topic.configs));
      topic.partitions = count;
      this.persistTopics();
      this.logger.info({ topic: name, partitions: count }, 'added partitions');
      return topic;
    });
  }

  /** Replaces a topic's overrides (null value = back to the broker default) and applies them live. */
  alterTopicConfigs(name: string, configs: Record<string, string | null>, validateOnly = false): Promise<Topic> {
    return this.serialize(async () => {
      this.assertOpen();
      const topic = this.topics.get(name);
      if (!topic) throw new LogError(LogErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`);
      try {
        validateTopicConfigs(configs);
      } catch (err) {
        if (err instanceof ConfigError) throw new LogError(LogErrorCode.INVALID_CONFIG, err.message);
        throw err;
      }
      const overrides: Record<string, string> = {};
      for (const [k, v] of Object.entries(configs)) if (v !== null) overrides[k] = v;
      const resolved = this.config.resolveTopicConfig(overrides);
      if (validateOnly) return topic;
      topic.configs = overrides;
      this.persistTopics();
      for (const log of topic.logs) await log.reconfigure(resolved, this.engine);
      this.logger.info({ topic: name, configs: overrides }, 'altered topic configs');
      return topic;
    });
  }

  /** Hands out a producer id; blocks of ids are persisted so ids are never reused after restart. */
  allocateProducerId(): number {
    if (this.nextProducerId >= this.producerIdBlockEnd) {
      const start = this.producerIdBlockEnd;
      this.producerIdBlockEnd = start + PRODUCER_ID_BLOCK_SIZE;
      writeFileAtomic(join(this.dataDir, PRODUCER_ID_FILE), `${this.producerIdBlockEnd}\n`);
      this.nextProducerId = start;
    }
    return this.nextProducerId++;
  }

  private loadProducerIdBlock(): void {
    const path = join(this.dataDir, PRODUCER_ID_FILE);
    if (!existsSync(path)) return;
    const end = Number(readFileSync(path, 'utf8').trim());
    if (!Number.isSafeInteger(end) || end < 0) throw new Error(`malformed ${path}`);
    // Ids below the persisted block end may have been handed out before a restart.
    this.nextProducerId = end;
    this.producerIdBlockEnd = end;
  }

  /** Runs retention and flush.ms checks and writes checkpoints on Kafka's intervals. */
  startBackgroundTasks(): void {
    const retentionInterval = Math.min(this.config.getNumber('log.retention.check.interval.ms'), 2147483647);
    this.retentionTimer = setInterval(() => this.runRetention(Date.now()), retentionInterval);
    this.retentionTimer.unref();
    const checkpointInterval = Math.max(1000, Math.min(this.config.getNumber('log.flush.offset.checkpoint.interval.ms'), 2147483647));
    this.checkpointTimer = setInterval(() => {
      const now = Date.now();
      for (const topic of this.topics.values()) for (const log of topic.logs) if (log.isAvailable()) log.flushIfDue(now);
      try {
        this.writeCheckpoints();
      } catch (err) {
        this.logger.error({ err }, 'writing offset checkpoints failed');
      }
    }, checkpointInterval);
    this.checkpointTimer.unref();
  }

  /** One retention pass over every partition; returns the number of segments deleted. */
  runRetention(now: number): number {
    let deleted = 0;
    for (const topic of this.topics.values()) {
      for (const log of topic.logs) {
        if (!log.isAvailable()) continue;
        try {
          const n = log.applyRetention(now);
          if (n > 0) {
            deleted += n;
            this.logger.info({ topic: topic.name, partition: log.partition, segments: n, logStartOffset: log.logStartOffset }, 'retention deleted segments');
          }
        } catch (err) {
          this.logger.error({ err, topic: topic.name, partition: log.partition }, 'retention failed');
        }
      }
    }
    if (deleted > 0) this.writeCheckpoints();
    return deleted;
  }

  writeCheckpoints(): void {
    const recovery: CheckpointEntry[] = [];
    const starts: CheckpointEntry[] = [];
    for (const topic of this.topics.values()) {
      for (const log of topic.logs) {
        if (!log.isAvailable()) continue;
        recovery.push({ topic: topic.name, partition: log.partition, offset: log.logEndOffset });
        starts.push({ topic: topic.name, partition: log.partition, offset: log.logStartOffset });
      }
    }
    writeCheckpoint(join(this.dataDir, RECOVERY_POINT_CHECKPOINT), recovery);
    writeCheckpoint(join(this.dataDir, LOG_START_OFFSET_CHECKPOINT), starts);
  }

  private assertOpen(): void {
    if (this.closed) throw new LogError(LogErrorCode.KAFKA_STORAGE_ERROR, 'log manager is closed');
  }

  /** Flushes and closes every log, writing the checkpoints last (a clean shutdown). */
  close(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) return;
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      if (this.checkpointTimer) clearInterval(this.checkpointTimer);
      this.writeCheckpoints();
      this.closed = true;
      for (const topic of this.topics.values()) {
        for (const log of topic.logs) {
          try {
            await log.close();
          } catch (err) {
            this.logger.error({ err, topic: topic.name, partition: log.partition }, 'closing log failed');
          }
        }
      }
      // The broker closes the log manager after its in-flight requests are answered, so no
      // FileSlice of a deleted topic is in use any more: no reason to wait out the delay.
      const results = await Promise.allSettled([...this.pendingTopicDeletes].map((p) => p.finish()));
      for (const r of results) if (r.status === 'rejected') this.logger.error({ err: r.reason }, 'removing a deleted topic failed');
      this.logger.info({ dataDir: this.dataDir }, 'log manager closed');
    });
  }
}
