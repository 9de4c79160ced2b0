// broker room: the composition root — builds every service once (storage engine, metadata store,
// log manager, replica manager, coordinators, dispatcher, socket server), wires them, and owns the
// clean start/stop sequence. Nothing in src/ imports this file except index.ts and the CLI.
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { AdminServer } from './admin/server.js';
import { Dispatcher, allApis, installSasl, type ApiServices } from './api/index.js';
import { createMetadataStore, type MetadataStore, type TopicImage } from './cluster/index.js';
import { BrokerConfig, effectiveGroupConfig, primaryListener, type LoadConfigOptions } from './config/index.js';
import { CONSUMER_OFFSETS_TOPIC, GroupCoordinator, groupConfigFromKafkaSettings, systemClock } from './coordinator/group/index.js';
import { SHARE_GROUP_STATE_TOPIC, ShareGroupCoordinator, SharePartitionManager, ShareStateStore, type ShareGroupSettings, type ShareServices } from './coordinator/share/index.js';
import { TRANSACTION_STATE_TOPIC, TransactionCoordinator } from './coordinator/txn/index.js';
import { TxnMarkerSender } from './api/txn-markers.js';
import { InterBrokerStatePersister } from './api/share-state.js';
import { LogManager } from './log/index.js';
import { DirLock } from './log/dir-lock.js';
import { isNoSpace, releaseSpaceReserve } from './log/disk-space.js';
import { RequestMemoryPool, SharedListenerState, SocketServer, parseConnectionOverrides, type ConnectionInfo } from './network/index.js';
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
  private share: ShareServices | null = null;
  private markerSender: TxnMarkerSender | null = null;
  dispatcher!: Dispatcher;
  advertisedHost = '';
  advertisedPort = 0;
  private servers: SocketServer[] = [];
  /** The primary listener's server (tests reach the shared memory pool and counts through it). */
  private get server(): SocketServer | undefined {
    return this.servers.find((s) => s.listenerName === 'PLAINTEXT') ?? this.servers.at(0);
  }
  /** Each listener's bound port, by listener name (set once the listeners are up). */
  private boundPorts = new Map<string, number>();
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

  /** Each listener's bound port by listener name (PLAINTEXT, SSL, INTERNAL, ...); empty before start. */
  get listenerPorts(): ReadonlyMap<string, number> {
    return this.boundPorts;
  }

  /** Every open client connection with its listener, security protocol and principal. */
  connections(): ConnectionInfo[] {
    return this.servers.flatMap((s) => s.openConnections());
  }

  /**
   * Re-reads the keystore and truststore of every SSL listener now (they are also re-read when
   * their files change, see spool.ssl.reload.check.interval.ms); returns the listeners reloaded.
   */
  reloadTls(): string[] {
    return this.servers.filter((s) => s.reloadTls()).map((s) => s.listenerName);
  }

  /** Starts the admin plane first (probes answer while logs load), then the Kafka side. */
  async start(): Promise<{ host: string; port: number }> {
    this.adminServer = await AdminServer.start(this.config, this.logger, {
      nodeId: this.nodeId,
      services: () => (this.servicesStarted && this.apiServices !== null ? { api: this.apiServices, engine: this.engine } : null),
      kafkaListenerBound: () => this.servers.length > 0,
      connectionCount: () => this.servers.reduce((n, s) => n + s.connectionCount, 0),
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
    this.engine.setMaxOpenSegmentFiles(config.getNumber('spool.log.max.open.segment.files'));
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
      config: {
        ...groupConfigFromKafkaSettings((name) => (config.has(name) ? config.get(name) : undefined)),
        // Dynamic group configs (ConfigResource GROUP) from the metadata store, read at each use.
        consumerGroupSettings: (groupId: string) => {
          const g = effectiveGroupConfig(metadata.groupConfigs?.(groupId), config);
          return { sessionTimeoutMs: g.consumerSessionTimeoutMs, heartbeatIntervalMs: g.consumerHeartbeatIntervalMs };
        },
      },
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
    const share = this.buildShareServices(replicaManager, metadata);
    this.share = share;
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
      share,
      producerIds,
    };
    const dispatcher = new Dispatcher(services, logger);
    for (const api of allApis(() => dispatcher.advertisedApis())) dispatcher.register(api);
    installSasl(dispatcher, services, config.listeners().filter((l) => l.securityProtocol.startsWith('SASL_')).map((l) => l.name));
    this.apiServices = services;
    this.adminServer?.instrument(dispatcher);
    this.dispatcher = dispatcher;

    // One socket server per listener (CONTROLLER listeners are not served), each giving its
    // connections that listener's name and security protocol; SSL ones run TLS.
    const listeners = config.listeners();
    const primary = primaryListener(listeners);
    const servers: SocketServer[] = [];
    const boundPorts = new Map<string, number>();
    // One request memory budget and one set of connection counts for all listeners, as Kafka.
    const shared = new SharedListenerState(new RequestMemoryPool(config.getNumber('queued.max.request.bytes')));
    try {
      for (const listener of listeners) {
        const tls = listener.securityProtocol === 'SSL' || listener.securityProtocol === 'SASL_SSL';
        const server = new SocketServer(
          {
            host: listener.host,
            port: listener.port,
            listenerName: listener.name,
            securityProtocol: listener.securityProtocol,
            ...(tls ? { tls: config.sslSettings(listener.name), tlsReloadCheckIntervalMs: config.getNumber('spool.ssl.reload.check.interval.ms') } : {}),
            maxFrameBytes: config.getNumber('socket.request.max.bytes'),
            // Frames of connections not yet authenticated (SASL listeners before SaslAuthenticate).
            maxUnauthenticatedFrameBytes: config.getNumber('sasl.server.max.receive.size'),
            maxInflightBytes: config.getNumber('spool.connection.max.inflight.bytes'),
            maxInflightRequests: config.getNumber('queued.max.requests'),
            idleTimeoutMs: config.getNumber('connections.max.idle.ms'),
            maxConnections: config.getNumber('max.connections'),
            maxConnectionsPerIp: config.getNumber('max.connections.per.ip'),
            maxConnectionsPerIpOverrides: parseConnectionOverrides(config.getString('max.connections.per.ip.overrides')),
            queuedMaxRequestBytes: config.getNumber('queued.max.request.bytes'),
            shared,
            // sendfile on plaintext listeners when the engine offers it; SocketServer leaves it off on TLS.
            // A plain function (StorageEngine.sendFile), passed as is: it carries sendFile.now.
            sendFile: this.engine.sendFile,
          },
          dispatcher.process,
          logger,
        );
        servers.push(server);
        const bound = await server.listen();
        boundPorts.set(listener.name, bound.port);
      }
    } catch (err) {
      await Promise.all(servers.map((s) => s.close(0)));
      await this.closeServices();
      throw err;
    }
    this.servers = servers;
    this.boundPorts = boundPorts;
    const boundPort = (name: string): number => boundPorts.get(name) ?? 0;
    const bound = { host: primary.host, port: boundPort(primary.name) };
    // Every listener's advertised address goes into the registration: other brokers and clients on
    // each listener are given the address of that listener.
    const resolveHost = (host: string): string => (host === '' || host === '0.0.0.0' || host === '::' ? hostname() : host);
    const endpoints = config.advertisedListeners().map((a) => ({
      name: a.name,
      host: resolveHost(a.host),
      port: a.port === 0 ? boundPort(a.name) : a.port,
      securityProtocol: a.securityProtocol,
    }));
    const advertised = endpoints.find((e) => e.name === primary.name) ?? endpoints[0];
    this.advertisedHost = advertised.host;
    this.advertisedPort = advertised.port;
    await metadata.registerBroker({ nodeId: this.nodeId, host: this.advertisedHost, port: this.advertisedPort, rack: null, endpoints });
    logger.info(
      { nodeId: this.nodeId, clusterId: this.clusterId, host: bound.host, port: bound.port, engine: this.engine.name, logDir: config.logDir },
      'Spool broker started',
    );
    return bound;
  }

  /** Share groups (KIP-932): their coordinator, share-partitions, and __share_group_state's shards. */
  private buildShareServices(replicaManager: ReplicaManager, metadata: MetadataStore): ShareServices {
    const { config, logger } = this;
    const state = new ShareStateStore({
      log: new InternalTopicLog({
        topic: SHARE_GROUP_STATE_TOPIC,
        replicaManager,
        decompress: (codec, data) => this.engine.decompress(codec, data),
        commitTimeoutMs: config.getNumber('share.coordinator.write.timeout.ms'),
      }),
      numPartitions: metadata.topic(SHARE_GROUP_STATE_TOPIC)?.partitions.length ?? config.getNumber('share.coordinator.state.topic.num.partitions'),
      clock: systemClock,
      logger: logger.child({ room: 'share-coordinator' }),
    });
    replicaManager.onLeadershipChange(SHARE_GROUP_STATE_TOPIC, (partition, change) => {
      if (change === 'leader') state.onElection(partition.index, partition.leaderEpoch);
      else state.onResignation(partition.index, change === 'removed' ? null : partition.leaderEpoch);
    });
    // Dynamic group configs (ConfigResource GROUP) from the metadata store, read at each use.
    const shareGroupSettings = (groupId: string): ShareGroupSettings => {
      const g = effectiveGroupConfig(metadata.groupConfigs?.(groupId), config);
      return {
        lockDurationMs: g.shareRecordLockDurationMs,
        deliveryCountLimit: g.shareDeliveryCountLimit,
        maxRecordLocks: g.sharePartitionMaxRecordLocks,
        autoOffsetReset: g.shareAutoOffsetReset,
        sessionTimeoutMs: g.shareSessionTimeoutMs,
        heartbeatIntervalMs: g.shareHeartbeatIntervalMs,
      };
    };
    const groups = new ShareGroupCoordinator({
      clock: systemClock,
      groupSettings: shareGroupSettings,
      config: {
        sessionTimeoutMs: config.getNumber('group.share.session.timeout.ms'),
        heartbeatIntervalMs: config.getNumber('group.share.heartbeat.interval.ms'),
        maxSize: config.getNumber('group.share.max.size'),
      },
      topicByName: (name) => {
        const t = metadata.topic(name);
        return t === undefined ? undefined : { name: t.name, topicId: t.topicId, numPartitions: t.partitions.length };
      },
      otherGroupExists: (groupId) => {
        const s = this.groupCoordinator.groupState(groupId);
        return s !== null && s !== 'Dead';
      },
    });
    const partitions = new SharePartitionManager({
      clock: systemClock,
      logger: logger.child({ room: 'share-partitions' }),
      config: {
        lockDurationMs: config.getNumber('group.share.record.lock.duration.ms'),
        deliveryCountLimit: config.getNumber('group.share.delivery.count.limit'),
        maxRecordLocks: config.getNumber('group.share.partition.max.record.locks'),
        maxShareSessions: config.getNumber('group.share.max.share.sessions'),
        // A session unused for a member's session timeout belongs to a member that is gone.
        sessionIdleMs: config.getNumber('group.share.session.timeout.ms'),
        stateLoadTimeoutMs: 5000,
      },
      store: state,
      groups,
      groupSettings: shareGroupSettings,
      // The share coordinator of a key may be another broker (the leader of its __share_group_state partition).
      persister: new InterBrokerStatePersister(
        () => {
          if (this.apiServices === null) throw new Error('services are not built yet');
          return this.apiServices;
        },
        { deadlineMs: 15_000, requestTimeoutMs: config.getNumber('replica.socket.timeout.ms'), retryBackoffMs: 100 },
      ),
    });
    return { groups, partitions, state };
  }

  private async closeServices(): Promise<void> {
    this.servicesStarted = false;
    this.replicaManager.shutdown();
    this.groupCoordinator.close();
    this.txnCoordinator.close();
    this.share?.partitions.close();
    this.share?.groups.close();
    this.share?.state.close();
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
      await Promise.all(this.servers.map((s) => s.close()));
      if (this.servicesStarted) await this.closeServices();
      this.releaseDirLock();
      this.logger.info({ nodeId: this.nodeId }, 'Spool broker stopped');
      this.logger.flush();
    })();
    return this.stopping;
  }
}
