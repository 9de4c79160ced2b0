// broker room: the composition root — builds every service once (storage engine, metadata store,
// log manager, replica manager, coordinators, dispatcher, socket server), wires them, and owns the
// clean start/stop sequence. Nothing in src/ imports this file except index.ts and the CLI.
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { AdminServer } from './admin/server.js';
import { Dispatcher, allApis, type ApiServices } from './api/index.js';
import { createMetadataStore, type MetadataStore, type TopicImage } from './cluster/index.js';
import { BrokerConfig, type LoadConfigOptions } from './config/index.js';
import { CONSUMER_OFFSETS_TOPIC, GroupCoordinator, groupConfigFromKafkaSettings, systemClock } from './coordinator/group/index.js';
import { TRANSACTION_STATE_TOPIC, TransactionCoordinator } from './coordinator/txn/index.js';
import { TxnMarkerSender } from './api/txn-markers.js';
import { LogManager } from './log/index.js';
import { DirLock } from './log/dir-lock.js';
import { isNoSpace, releaseSpaceReserve } from './log/disk-space.js';
import { SocketServer, parseConnectionOverrides } from './network/index.js';
import { InternalTopicLog, ProducerIdManager, ReplicaManager } from './replication/index.js';
import type { StorageEngine } from './storage/engine.js';
import { loadEngine } from './storage/loader.js';

export { DataDirLockedError, LOCK_FILE_NAME } from './log/dir-lock.js';

export interface BrokerOptions extends LoadConfigOptions {
  logger?: Logger;
  /**
   * A metadata store built elsewhere (tests that run several brokers on one store); the broker
   * starts and closes only a store it built itself.
   */
  metadataStore?: MetadataStore;
  /**
   * Test-only: skips the log dir's `.lock`, so a test can show what the lock prevents (two
   * brokers writing one dir). Never set it elsewhere.
   */
  unsafeSkipDataDirLockForTests?: boolean;
}

export class Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly nodeId: number;
  engine!: StorageEngine;
  metadata!: MetadataStore;
  logManager!: LogManager;
  replicaManager!: ReplicaManager;
  groupCoordinator!: GroupCoordinator;
  txnCoordinator!: TransactionCoordinator;
  private markerSender: TxnMarkerSender | null = null;
  dispatcher!: Dispatcher;
  advertisedHost = '';
  advertisedPort = 0;
  private server: SocketServer | null = null;
  /** Set once every service is built: stop() before that has nothing to close. */
  private servicesStarted = false;
  private readonly injectedMetadataStore: MetadataStore | undefined;
  private stopping: Promise<void> | null = null;
  /** The admin HTTP plane (spool.admin.listeners); null when off. */
  private adminServer: AdminServer | null = null;
  private apiServices: ApiServices | null = null;
  /** The log dir's `.lock`, held from start until the logs are closed. */
  private dirLock: DirLock | null = null;
  private readonly skipDirLock: boolean;

  constructor(options: BrokerOptions = {}) {
    this.config = new BrokerConfig(options);
    this.logger = options.logger ?? pino({ name: 'spool' });
    this.nodeId = this.config.nodeId;
    this.injectedMetadataStore = options.metadataStore;
    this.skipDirLock = options.unsafeSkipDataDirLockForTests === true;
    if (this.config.unknownKeys.length > 0) {
      this.logger.warn({ keys: this.config.unknownKeys }, 'These configurations were supplied but are not used');
    }
  }

  get clusterId(): string {
    return this.metadata.clusterId;
  }

  /** Creates a topic (embedding and tests); partitions default to num.partitions. */
  createTopic(name: string, partitions = this.config.getNumber('num.partitions'), configs: Record<string, string> = {}): Promise<TopicImage> {
    return this.metadata.createTopic({ name, partitions, replicationFactor: -1, configs, internal: false });
  }

  /** Where the admin HTTP plane listens; null when spool.admin.listeners is empty. */
  get adminAddress(): { host: string; port: number } | null {
    return this.adminServer?.address ?? null;
  }

  /** Starts the admin plane first (probes answer while logs load), then the Kafka side. */
  async start(): Promise<{ host: string; port: number }> {
    this.adminServer = await AdminServer.start(this.config, this.logger, {
      nodeId: this.nodeId,
      services: () => (this.servicesStarted && this.apiServices !== null ? { api: this.apiServices, engine: this.engine } : null),
      kafkaListenerBound: () => this.server !== null,
      connectionCount: () => this.server?.connectionCount ?? 0,
    });
    try {
      return await this.startKafka();
    } catch (err) {
      await this.adminServer?.close();
      throw err;
    }
  }

  /** Locks the log dir (refused while another broker holds it), then starts every service. */
  private async startKafka(): Promise<{ host: string; port: number }> {
    if (!this.skipDirLock) {
      try {
        this.dirLock = DirLock.acquire(this.config.logDir, this.logger);
      } catch (err) {
        // A full disk: the log dir's space reserve makes room for the lock (and the log manager
        // then starts read-only, disk-space.ts).
        if (!isNoSpace(err) || !releaseSpaceReserve(this.config.logDir)) throw err;
        this.dirLock = DirLock.acquire(this.config.logDir, this.logger);
      }
    }
    try {
      return await this.startServices();
    } catch (err) {
      this.releaseDirLock();
      throw err;
    }
  }

  private releaseDirLock(): void {
    this.dirLock?.release();
    this.dirLock = null;
  }

  private async startServices(): Promise<{ host: string; port: number }> {
    const { config, logger } = this;
    const engineChoice = config.getString('spool.engine') as 'native' | 'ts' | 'auto';
    this.engine = await loadEngine(engineChoice, logger);
    const metadata = this.injectedMetadataStore ?? createMetadataStore(config, config.logDir, logger.child({ room: 'metadata' }));
    if (!this.injectedMetadataStore) await metadata.start();
    this.metadata = metadata;
    this.logManager = await LogManager.open({ dataDir: config.logDir, engine: this.engine, config, logger });
    const replicaManager = new ReplicaManager({ localBrokerId: this.nodeId, metadata, logManager: this.logManager, config, logger });
    this.replicaManager = replicaManager;
    const offsetsLog = new InternalTopicLog({
      topic: CONSUMER_OFFSETS_TOPIC,
      replicaManager,
      decompress: (codec, data) => this.engine.decompress(codec, data),
      commitTimeoutMs: config.getNumber('offsets.commit.timeout.ms'),
    });
    this.groupCoordinator = new GroupCoordinator({
      log: offsetsLog,
      // An existing topic keeps its partition count: groups must map to the partitions that exist.
      numPartitions: metadata.topic(CONSUMER_OFFSETS_TOPIC)?.partitions.length ?? config.getNumber('offsets.topic.num.partitions'),
      clock: systemClock,
      logger: logger.child({ room: 'group-coordinator' }),
      config: groupConfigFromKafkaSettings((name) => (config.has(name) ? config.get(name) : undefined)),
    });
    // Shards follow leadership of __consumer_offsets: load on election, unload on resignation.
    replicaManager.onLeadershipChange(CONSUMER_OFFSETS_TOPIC, (partition, change) => {
      if (change === 'leader') this.groupCoordinator.onElection(partition.index, partition.leaderEpoch);
      else this.groupCoordinator.onResignation(partition.index, change === 'removed' ? null : partition.leaderEpoch);
    });
    const producerIds = new ProducerIdManager(metadata);
    // The transaction coordinator: one shard per __transaction_state partition led here. Its
    // markers go to local partitions directly and to other leaders with WriteTxnMarkers.
    let services: ApiServices | null = null;
    const markerSender = new TxnMarkerSender(
      () => {
        if (services === null) throw new Error('services are not built yet');
        return services;
      },
      { retryBackoffMs: 50, requestTimeoutMs: config.getNumber('replica.socket.timeout.ms') },
    );
    this.markerSender = markerSender;
    this.txnCoordinator = new TransactionCoordinator({
      log: new InternalTopicLog({
        topic: TRANSACTION_STATE_TOPIC,
        replicaManager,
        decompress: (codec, data) => this.engine.decompress(codec, data),
        commitTimeoutMs: config.getNumber('offsets.commit.timeout.ms'),
      }),
      numPartitions: metadata.topic(TRANSACTION_STATE_TOPIC)?.partitions.length ?? config.getNumber('transaction.state.log.num.partitions'),
      clock: systemClock,
      logger: logger.child({ room: 'txn-coordinator' }),
      config: {
        transactionMaxTimeoutMs: config.getNumber('transaction.max.timeout.ms'),
        transactionalIdExpirationMs: config.getNumber('transactional.id.expiration.ms'),
        abortTimedOutTransactionCleanupIntervalMs: config.getNumber('transaction.abort.timed.out.transaction.cleanup.interval.ms'),
        removeExpiredTransactionalIdCleanupIntervalMs: config.getNumber('transaction.remove.expired.transaction.cleanup.interval.ms'),
      },
      markers: markerSender,
      generateProducerId: () => producerIds.generateProducerId(),
    });
    replicaManager.onLeadershipChange(TRANSACTION_STATE_TOPIC, (partition, change) => {
      if (change === 'leader') this.txnCoordinator.onElection(partition.index, partition.leaderEpoch);
      else this.txnCoordinator.onResignation(partition.index, change === 'removed' ? null : partition.leaderEpoch);
    });
    await replicaManager.start();
    this.servicesStarted = true;
    this.logManager.startBackgroundTasks();

    services = {
      nodeId: this.nodeId,
      config,
      logger,
      metadata,
      replicaManager,
      groupCoordinator: this.groupCoordinator,
      txnCoordinator: this.txnCoordinator,
      producerIds,
    };
    const dispatcher = new Dispatcher(services, logger);
    for (const api of allApis(() => dispatcher.advertisedApis())) dispatcher.register(api);
    this.apiServices = services;
    this.adminServer?.instrument(dispatcher);
    this.dispatcher = dispatcher;

    const listener = config.listener();
    const server = new SocketServer(
      {
        host: listener.host,
        port: listener.port,
        maxFrameBytes: config.getNumber('socket.request.max.bytes'),
        maxInflightBytes: config.getNumber('spool.connection.max.inflight.bytes'),
        maxInflightRequests: config.getNumber('queued.max.requests'),
        idleTimeoutMs: config.getNumber('connections.max.idle.ms'),
        maxConnections: config.getNumber('max.connections'),
        maxConnectionsPerIp: config.getNumber('max.connections.per.ip'),
        maxConnectionsPerIpOverrides: parseConnectionOverrides(config.getString('max.connections.per.ip.overrides')),
        queuedMaxRequestBytes: config.getNumber('queued.max.request.bytes'),
        // Plaintext only today, so sendfile applies whenever the engine offers it.
        sendFile: this.engine.sendFile?.bind(this.engine),
      },
      dispatcher.process,
      logger,
    );
    let bound: { host: string; port: number };
    try {
      bound = await server.listen();
    } catch (err) {
      await this.closeServices();
      throw err;
    }
    this.server = server;
    const advertised = config.has('advertised.listeners') ? config.advertisedListener() : listener;
    this.advertisedHost = advertised.host === '' || advertised.host === '0.0.0.0' || advertised.host === '::' ? hostname() : advertised.host;
    this.advertisedPort = advertised.port === 0 ? bound.port : advertised.port;
    await metadata.registerBroker({ nodeId: this.nodeId, host: this.advertisedHost, port: this.advertisedPort, rack: null });
    logger.info(
      { nodeId: this.nodeId, clusterId: this.clusterId, host: bound.host, port: bound.port, engine: this.engine.name, logDir: config.logDir },
      'Spool broker started',
    );
    return bound;
  }

  private async closeServices(): Promise<void> {
    this.servicesStarted = false;
    this.replicaManager.shutdown();
    this.groupCoordinator.close();
    this.txnCoordinator.close();
    this.markerSender?.close();
    // Fetchers stop before the logs close, so no follower append races the close.
    await this.replicaManager.stopped();
    await this.logManager.close();
    if (!this.injectedMetadataStore) await this.metadata.close();
  }

  /** Stops accepting, answers in-flight requests (long polls end now), then flushes and closes the logs. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ nodeId: this.nodeId }, 'Spool broker stopping');
      if (this.adminServer) await this.adminServer.close();
      // Waiting fetches and acks=all produces are answered first, so the server can drain.
      if (this.servicesStarted) this.replicaManager.fetchPurgatory.shutdown();
      if (this.server) await this.server.close();
      if (this.servicesStarted) await this.closeServices();
      this.releaseDirLock();
      this.logger.info({ nodeId: this.nodeId }, 'Spool broker stopped');
      this.logger.flush();
    })();
    return this.stopping;
  }
}
