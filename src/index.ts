// Public API of Spool: start an embedded broker, plus the config and broker types clients use.
import pino, { type Logger } from 'pino';
import { Broker } from './broker.js';
import type { RawConfig } from './config/index.js';

export { Broker } from './broker.js';
export { BrokerConfig, ConfigError, brokerConfigDefs, topicConfigDefs } from './config/index.js';
export type { RawConfig, TopicConfig } from './config/index.js';

export interface StartBrokerOptions {
  /** Data directory (log.dirs). */
  dataDir?: string;
  /** Listener port; 0 picks an ephemeral one. */
  port?: number;
  host?: string;
  engine?: 'native' | 'ts' | 'auto';
  /** Any broker setting by its Kafka name; highest priority. */
  config?: RawConfig;
  /** A server.properties file, below env and `config`. */
  propertiesFile?: string;
  logger?: Logger;
  /** pino level when no logger is given; default SPOOL_LOG_LEVEL or "warn" (embedded brokers stay quiet). */
  logLevel?: string;
}

export interface RunningBroker {
  broker: Broker;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const overrides: RawConfig = {};
  if (options.dataDir !== undefined) overrides['log.dirs'] = options.dataDir;
  if (options.port !== undefined || options.host !== undefined) {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 9092;
    overrides.listeners = `PLAINTEXT://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  if (options.engine !== undefined) overrides['spool.engine'] = options.engine;
  Object.assign(overrides, options.config ?? {});
  const logger = options.logger ?? pino({ name: 'spool', level: options.logLevel ?? process.env.SPOOL_LOG_LEVEL ?? 'warn' });
  const broker = new Broker({ propertiesFile: options.propertiesFile, overrides, logger });
  const bound = await broker.start();
  return { broker, host: bound.host, port: bound.port, stop: () => broker.stop() };
}
