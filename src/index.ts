// Public API of Spool: start an embedded broker, plus the config and broker types clients use.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Broker } from './broker.js';
import { BrokerConfig, type RawConfig } from './config/index.js';

export { Broker, DataDirLockedError, LOCK_FILE_NAME } from './broker.js';
export { BrokerConfig, ConfigError, brokerConfigDefs, topicConfigDefs } from './config/index.js';
export type { RawConfig, TopicConfig } from './config/index.js';

/**
 * Settings startBroker() applies unless the caller sets them (`config`, env, properties file):
 * `dev` is what a test suite wants from a single embedded broker (as Testcontainers and Spring's
 * EmbeddedKafka set up Kafka): no initial rebalance delay, replication factors of one, and one
 * partition per internal topic, so the first consumer-group read of a test takes well under a
 * second instead of 3 s; no admin HTTP plane (set spool.admin.listeners to have one).
 * `kafka` keeps Kafka's defaults (what `spool start` runs with).
 */
export const brokerPresets: Readonly<Record<'dev' | 'kafka', Readonly<RawConfig>>> = {
  dev: {
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'true',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    // No admin HTTP plane on a fixed port: parallel test brokers would fight over it.
    'spool.admin.listeners': '',
  },
  kafka: {},
};

export interface StartBrokerOptions {
  /**
   * Data directory (log.dirs). When neither this, `config` nor the environment or properties file
   * names one, a fresh temporary directory is used and removed by stop().
   */
  dataDir?: string;
  /** Listener port; 0 picks an ephemeral one. */
  port?: number;
  host?: string;
  engine?: 'native' | 'ts' | 'auto';
  /** Defaults for the settings nobody set; `dev` (the default here) or `kafka` (Kafka's own). */
  preset?: 'dev' | 'kafka';
  /** num.partitions: partitions of auto-created topics and of createTopic() without a count. */
  numPartitions?: number;
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
  /** "host:port", ready for a client's bootstrap servers. */
  bootstrap: string;
  /** The bound port of every listener by name (PLAINTEXT, SSL, INTERNAL, ...); `port` is the PLAINTEXT one (else the first). */
  listeners: Record<string, number>;
  /** The log dir in use (a temporary one when none was given). */
  dataDir: string;
  /** Closes the broker (logs flushed, lock released); removes a temporary data dir. */
  stop(): Promise<void>;
}

/**
 * Removes a data dir, its partition directories all at once: one after another (rmSync) takes
 * seconds per hundred partitions, a dozen seconds for 800 on a busy disk.
 */
async function removeDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // gone already
  }
  await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  rmSync(dir, { recursive: true, force: true });
}

function listenerFor(host = '127.0.0.1', port = 9092): string {
  return `PLAINTEXT://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Starts a broker in this process. Without options: a temporary data dir, an ephemeral port on
 * 127.0.0.1 and the `dev` preset — ready for a test.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const overrides: RawConfig = {};
  if (options.dataDir !== undefined) overrides['log.dirs'] = options.dataDir;
  if (options.port !== undefined || options.host !== undefined) overrides.listeners = listenerFor(options.host, options.port);
  if (options.engine !== undefined) overrides['spool.engine'] = options.engine;
  if (options.numPartitions !== undefined) overrides['num.partitions'] = String(options.numPartitions);
  Object.assign(overrides, options.config ?? {});

  // What the caller set through any layer (file, env, options) wins over the preset.
  const given = new BrokerConfig({ propertiesFile: options.propertiesFile, overrides });
  // Nobody named a listener: an ephemeral port on loopback, so test brokers never collide.
  if (!given.has('listeners')) overrides.listeners = listenerFor(undefined, 0);
  const preset = brokerPresets[options.preset ?? 'dev'];
  for (const [name, value] of Object.entries(preset)) if (!given.has(name)) overrides[name] = value;
  let tempDir: string | null = null;
  if (!given.has('log.dirs') && !given.has('log.dir')) {
    tempDir = mkdtempSync(join(tmpdir(), 'spool-'));
    overrides['log.dirs'] = tempDir;
  }

  const logger = options.logger ?? pino({ name: 'spool', level: options.logLevel ?? process.env.SPOOL_LOG_LEVEL ?? 'warn' });
  const removeTemp = async (): Promise<void> => {
    if (tempDir !== null) await removeDir(tempDir);
  };
  let broker: Broker;
  let bound: { host: string; port: number };
  try {
    broker = new Broker({ propertiesFile: options.propertiesFile, overrides, logger });
    bound = await broker.start();
  } catch (err) {
    await removeTemp();
    throw err;
  }
  return {
    broker,
    host: bound.host,
    port: bound.port,
    bootstrap: `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`,
    listeners: Object.fromEntries(broker.listenerPorts),
    dataDir: broker.config.logDir,
    stop: async () => {
      await broker.stop();
      await removeTemp();
    },
  };
}
