// broker room: the Broker — wires config, storage engine, log manager, handlers and the socket
// server together, and owns the clean start/stop sequence.
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { buildHandlerTable } from './api/handlers.js';
import { createRequestProcessor } from './api/dispatch.js';
import { FetchPurgatory } from './api/fetch-purgatory.js';
import { groupCoordinatorFor } from './api/group-handlers.js';
import type { HandlerTable } from './api/types.js';
import { BrokerConfig, type LoadConfigOptions } from './config/index.js';
import { LogManager } from './log/index.js';
import { SocketServer } from './network/index.js';
import type { StorageEngine } from './storage/engine.js';
import { loadEngine } from './storage/loader.js';

export interface BrokerOptions extends LoadConfigOptions {
  logger?: Logger;
}

export class Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly nodeId: number;
  readonly handlers: HandlerTable;
  readonly fetchPurgatory: FetchPurgatory;
  engine!: StorageEngine;
  logManager!: LogManager;
  advertisedHost = '';
  advertisedPort = 0;
  private server: SocketServer | null = null;
  private stopping: Promise<void> | null = null;
  /** Run at stop, before the log manager closes (e.g. the group coordinator's shutdown). */
  private readonly shutdownHooks: Array<() => Promise<void> | void> = [];

  constructor(options: BrokerOptions = {}) {
    this.config = new BrokerConfig(options);
    this.logger = options.logger ?? pino({ name: 'spool' });
    this.nodeId = this.config.nodeId;
    this.handlers = buildHandlerTable();
    this.fetchPurgatory = new FetchPurgatory(this.config.getNumber('spool.fetch.purgatory.max.requests'));
    if (this.config.unknownKeys.length > 0) {
      this.logger.warn({ keys: this.config.unknownKeys }, 'These configurations were supplied but are not used');
    }
  }

  get clusterId(): string {
    return this.logManager.clusterId;
  }

  /** Registers work to do at stop, before the logs close. */
  onShutdown(hook: () => Promise<void> | void): void {
    this.shutdownHooks.push(hook);
  }

  async start(): Promise<{ host: string; port: number }> {
    const engineChoice = this.config.getString('spool.engine') as 'native' | 'ts' | 'auto';
    this.engine = await loadEngine(engineChoice);
    this.logManager = await LogManager.open({ dataDir: this.config.logDir, engine: this.engine, config: this.config, logger: this.logger });
    this.logManager.startBackgroundTasks();
    const listener = this.config.listener();
    const server = new SocketServer(
      {
        host: listener.host,
        port: listener.port,
        maxFrameBytes: this.config.getNumber('socket.request.max.bytes'),
        maxInflightBytes: this.config.getNumber('spool.connection.max.inflight.bytes'),
        maxInflightRequests: this.config.getNumber('queued.max.requests'),
        idleTimeoutMs: this.config.getNumber('connections.max.idle.ms'),
        // Plaintext only today, so sendfile applies whenever the engine offers it.
        sendFile: this.engine.sendFile?.bind(this.engine),
      },
      createRequestProcessor(this, this.handlers),
      this.logger,
    );
    let bound: { host: string; port: number };
    try {
      bound = await server.listen();
    } catch (err) {
      await this.logManager.close();
      throw err;
    }
    this.server = server;
    if (this.logManager.getTopic('__consumer_offsets')) {
      // Groups and committed offsets exist: load them now (as Kafka does at startup) rather than
      // on the first group request. A fresh broker creates __consumer_offsets on first use.
      groupCoordinatorFor(this).catch((err: unknown) => this.logger.error({ err }, 'loading consumer groups failed'));
    }
    const advertised = this.config.has('advertised.listeners') ? this.config.advertisedListener() : listener;
    this.advertisedHost = advertised.host === '' || advertised.host === '0.0.0.0' || advertised.host === '::' ? hostname() : advertised.host;
    this.advertisedPort = advertised.port === 0 ? bound.port : advertised.port;
    this.logger.info(
      { nodeId: this.nodeId, clusterId: this.clusterId, host: bound.host, port: bound.port, engine: this.engine.name, logDir: this.config.logDir },
      'Spool broker started',
    );
    return bound;
  }

  /** Stops accepting, answers in-flight requests (long polls end now), then flushes and closes the logs. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ nodeId: this.nodeId }, 'Spool broker stopping');
      this.fetchPurgatory.shutdown();
      if (this.server) await this.server.close();
      for (const hook of this.shutdownHooks) {
        try {
          await hook();
        } catch (err) {
          this.logger.error({ err }, 'shutdown hook failed');
        }
      }
      if (this.logManager) await this.logManager.close();
      this.logger.info({ nodeId: this.nodeId }, 'Spool broker stopped');
      this.logger.flush?.();
    })();
    return this.stopping;
  }
}
