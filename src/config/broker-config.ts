// config/ room: the broker's resolved settings (defaults < properties file < env < overrides),
// topic-config resolution over broker defaults, and the DescribeConfigs view of both.
import { readFileSync } from 'node:fs';
import {
  brokerConfigByName,
  brokerConfigDefs,
  ConfigError,
  ConfigSource,
  ConfigType,
  formatConfigValue,
  parseAndValidate,
  topicConfigByName,
  topicConfigDefs,
  type ConfigValue,
} from './schema.js';

export type RawConfig = Record<string, string | number | boolean | null>;

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: ConfigSource;
}

/** One entry of a DescribeConfigs answer, in Kafka's terms. */
export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  source: ConfigSource;
  sensitive: boolean;
  synonyms: ConfigSynonym[];
  configType: number;
  documentation: string | null;
}

/** Topic settings after applying broker defaults, typed for the log layer. */
export interface TopicConfig {
  cleanupPolicy: string[];
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  segmentMs: number;
  segmentIndexBytes: number;
  indexIntervalBytes: number;
  maxMessageBytes: number;
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
  minInsyncReplicas: number;
  flushMessages: number;
  flushMs: number | null;
  /** file.delete.delay.ms: how long deleted segments keep their files and fds. */
  fileDeleteDelayMs: number;
  /** delete.retention.ms: how long the cleaner keeps tombstones (and transaction markers). */
  deleteRetentionMs: number;
  /** min.compaction.lag.ms: records younger than this stay uncompacted. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a dirty record older than this makes the log cleanable whatever its ratio. */
  maxCompactionLagMs: number;
  /** min.cleanable.dirty.ratio: dirty bytes / log bytes above which the cleaner picks the log. */
  minCleanableDirtyRatio: number;
}

/** Parses Java .properties text: `key=value`, `key: value`, `key value`, # and ! comments, \ continuations. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].replace(/^\s+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // A line ending in an odd number of backslashes continues on the next line.
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i].replace(/^\s+/, '');
    }
    const m = /^((?:\\.|[^=:\s\\])+)\s*[=:\s]\s*(.*)$/.exec(line) ?? /^((?:\\.|[^=:\s\\])+)$/.exec(line);
    if (!m) continue;
    const unescape = (s: string): string =>
      s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) =>
        c.length === 5 ? String.fromCharCode(parseInt(c.slice(1), 16)) : c === 't' ? '\t' : c === 'n' ? '\n' : c,
      );
    // The key-only pattern has no second group.
    out[unescape(m[1])] = unescape((m.at(2) ?? '').trimEnd());
  }
  return out;
}

/** `log.dirs` → `SPOOL_LOG_DIRS`. */
export function envNameFor(key: string): string {
  return 'SPOOL_' + key.replace(/[.-]/g, '_').toUpperCase();
}

export interface LoadConfigOptions {
  /** Path of a server.properties file. */
  propertiesFile?: string;
  /** Environment to read SPOOL_* variables from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** CLI --override / startBroker options: highest priority. */
  overrides?: RawConfig;
}

/**
 * Fail closed: a security setting Spool does not implement yet (an authorizer, TLS or SASL)
 * refuses to start instead of running without the protection the operator asked for. Values
 * that leave security off (an empty authorizer, PLAINTEXT everywhere, ssl.client.auth=none) pass.
 */
function refuseUnimplementedSecurity(key: string, raw: string | number | boolean | null): void {
  const value = String(raw ?? '').trim();
  const refuse = (what: string): never => {
    throw new ConfigError(key, value, `${what} is not implemented by Spool yet; refusing to start without it (remove the setting to run unprotected on a trusted network)`);
  };
  if (value === '') return;
  if (key === 'authorizer.class.name') refuse('authorization (ACLs)');
  if (key === 'super.users') refuse('authorization (ACLs)');
  if (key === 'security.inter.broker.protocol' && value.toUpperCase() !== 'PLAINTEXT') refuse(`security protocol ${value}`);
  // listener.security.protocol.map passes: Kafka's sample config maps SSL and SASL names too, and
  // `listeners` already accepts PLAINTEXT listeners only.
  if (key === 'ssl.client.auth' && value.toLowerCase() !== 'none') refuse('TLS client authentication');
  if (/^ssl\.(keystore|truststore)\.(location|certificate\.chain|key|certificates)$/.test(key) || /^listener\.name\..+\.(ssl|sasl)\./.test(key)) refuse('TLS/SASL');
  if (key === 'sasl.jaas.config' || key === 'sasl.enabled.mechanisms' || key === 'sasl.mechanism.inter.broker.protocol') refuse('SASL');
}

export class BrokerConfig {
  private readonly values = new Map<string, ConfigValue>();
  private readonly sources = new Map<string, ConfigSource>();
  /** Settings given that Spool does not know (Kafka logs these and carries on). */
  readonly unknownKeys: string[] = [];

  constructor(options: LoadConfigOptions = {}) {
    const layers: RawConfig[] = [];
    if (options.propertiesFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(options.propertiesFile, 'utf8');
      } catch (err) {
        throw new ConfigError('--config', options.propertiesFile, `cannot read file: ${(err as Error).message}`);
      }
      layers.push(parseProperties(text));
    }
    const env = options.env ?? process.env;
    const fromEnv: RawConfig = {};
    for (const def of brokerConfigDefs) {
      const v = env[envNameFor(def.name)];
      if (v !== undefined) fromEnv[def.name] = v;
    }
    // SPOOL_ENGINE reads better than SPOOL_SPOOL_ENGINE; accept both.
    if (env.SPOOL_ENGINE !== undefined && !('spool.engine' in fromEnv)) fromEnv['spool.engine'] = env.SPOOL_ENGINE;
    layers.push(fromEnv);
    if (options.overrides) layers.push(options.overrides);

    for (const layer of layers) {
      for (const [key, raw] of Object.entries(layer)) {
        const def = brokerConfigByName.get(key);
        if (!def) {
          refuseUnimplementedSecurity(key, raw);
          if (!this.unknownKeys.includes(key)) this.unknownKeys.push(key);
          continue;
        }
        this.values.set(key, parseAndValidate(def, raw));
        this.sources.set(key, ConfigSource.STATIC_BROKER_CONFIG);
      }
    }
    this.validateCombination();
  }

  private validateCombination(): void {
    const min = this.getNumber('group.min.session.timeout.ms');
    const max = this.getNumber('group.max.session.timeout.ms');
    if (min > max) {
      throw new ConfigError('group.min.session.timeout.ms', String(min), `must not exceed group.max.session.timeout.ms (${max})`);
    }
    if (this.getNumber('max.connections.per.ip') === 0 && this.getString('max.connections.per.ip.overrides').trim() === '') {
      throw new ConfigError('max.connections.per.ip', '0', 'can be set to zero only if max.connections.per.ip.overrides is set');
    }
    this.listener();
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): ConfigValue {
    const def = brokerConfigByName.get(key);
    if (!def) throw new Error(`unknown broker config ${key}`);
    return this.values.has(key) ? (this.values.get(key) as ConfigValue) : def.default;
  }

  getNumber(key: string): number {
    const v = this.get(key);
    if (typeof v !== 'number') throw new Error(`broker config ${key} has no numeric value`);
    return v;
  }

  getBoolean(key: string): boolean {
    return this.get(key) === true;
  }

  getString(key: string): string {
    const v = this.get(key);
    return v === null ? '' : formatConfigValue(v) ?? '';
  }

  getList(key: string): string[] {
    const v = this.get(key);
    return Array.isArray(v) ? v : v === null ? [] : [String(v)];
  }

  sourceOf(key: string): ConfigSource {
    return this.sources.get(key) ?? ConfigSource.DEFAULT_CONFIG;
  }

  get nodeId(): number {
    return this.has('node.id') || !this.has('broker.id') ? this.getNumber('node.id') : this.getNumber('broker.id');
  }

  get logDir(): string {
    const dirs = this.getList('log.dirs');
    return dirs.length > 0 ? dirs[0] : this.getString('log.dir');
  }

  /**
   * The client listener: the one named PLAINTEXT, else the first that is not a KRaft CONTROLLER
   * listener (so a combined-mode server.properties works unchanged). Only plaintext is served.
   */
  listener(): { host: string; port: number } {
    return parseListener(pickListener(this.getList('listeners'), 'listeners'));
  }

  advertisedListener(): { host: string; port: number } {
    const adv = this.getList('advertised.listeners');
    return adv.length > 0 ? parseListener(pickListener(adv, 'advertised.listeners')) : this.listener();
  }

  /** The broker value behind a topic setting, following its synonyms in priority order. */
  topicDefault(topicKey: string): { value: ConfigValue; synonyms: ConfigSynonym[] } {
    const def = topicConfigByName.get(topicKey);
    if (!def) throw new Error(`unknown topic config ${topicKey}`);
    const synonyms: ConfigSynonym[] = [];
    let value: ConfigValue = null;
    let found = false;
    // Kafka lists the static synonyms (set ones) before the default of the primary synonym.
    for (const syn of def.synonyms) {
      if (this.has(syn.name)) {
        const raw = this.get(syn.name);
        synonyms.push({ name: syn.name, value: formatConfigValue(raw), source: ConfigSource.STATIC_BROKER_CONFIG });
        if (!found && raw !== null) {
          value = typeof raw === 'number' && syn.scale ? raw * syn.scale : raw;
          found = true;
        }
      }
    }
    for (const syn of def.synonyms) {
      const bdef = brokerConfigByName.get(syn.name);
      if (bdef && bdef.default !== null) {
        synonyms.push({ name: syn.name, value: formatConfigValue(bdef.default), source: ConfigSource.DEFAULT_CONFIG });
        if (!found) {
          value = typeof bdef.default === 'number' && syn.scale ? bdef.default * syn.scale : bdef.default;
          found = true;
        }
      }
    }
    return { value, synonyms };
  }

  /** Effective topic settings: overrides on top of broker defaults. */
  resolveTopicConfig(overrides: Readonly<Partial<Record<string, string>>>): TopicConfig {
    const get = (key: string): ConfigValue => {
      const def = topicConfigByName.get(key);
      if (!def) throw new Error(`unknown topic config ${key}`);
      const override = overrides[key];
      if (override !== undefined) return parseAndValidate(def, override);
      return this.topicDefault(key).value;
    };
    const num = (key: string, fallback: number): number => {
      const v = get(key);
      return typeof v === 'number' ? v : fallback;
    };
    const policy = get('cleanup.policy');
    const flushMs = get('flush.ms');
    return {
      cleanupPolicy: Array.isArray(policy) ? policy : ['delete'],
      retentionMs: num('retention.ms', 604800000),
      retentionBytes: num('retention.bytes', -1),
      segmentBytes: num('segment.bytes', 1073741824),
      segmentMs: num('segment.ms', 604800000),
      segmentIndexBytes: num('segment.index.bytes', 10485760),
      indexIntervalBytes: num('index.interval.bytes', 4096),
      maxMessageBytes: num('max.message.bytes', 1048588),
      messageTimestampType: get('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
      timestampBeforeMaxMs: num('message.timestamp.before.max.ms', Number.MAX_SAFE_INTEGER),
      timestampAfterMaxMs: num('message.timestamp.after.max.ms', 3600000),
      minInsyncReplicas: num('min.insync.replicas', 1),
      flushMessages: num('flush.messages', Number.MAX_SAFE_INTEGER),
      flushMs: typeof flushMs === 'number' ? flushMs : null,
      fileDeleteDelayMs: num('file.delete.delay.ms', 60000),
      deleteRetentionMs: num('delete.retention.ms', 86400000),
      minCompactionLagMs: num('min.compaction.lag.ms', 0),
      maxCompactionLagMs: num('max.compaction.lag.ms', Number.MAX_SAFE_INTEGER),
      minCleanableDirtyRatio: num('min.cleanable.dirty.ratio', 0.5),
    };
  }

  /** DescribeConfigs for the broker resource: every setting, set or not. */
  describeBroker(includeSynonyms: boolean, includeDocumentation: boolean): DescribedConfig[] {
    return brokerConfigDefs.map((def) => {
      const source = this.sourceOf(def.name);
      const value = formatConfigValue(this.get(def.name));
      const synonyms: ConfigSynonym[] = [];
      if (includeSynonyms) {
        if (this.has(def.name)) synonyms.push({ name: def.name, value, source });
        if (def.default !== null) {
          synonyms.push({ name: def.name, value: formatConfigValue(def.default), source: ConfigSource.DEFAULT_CONFIG });
        }
      }
      return {
        name: def.name,
        value: def.sensitive ? null : value,
        readOnly: def.readOnly,
        isDefault: source === ConfigSource.DEFAULT_CONFIG,
        source,
        sensitive: def.sensitive ?? false,
        synonyms,
        configType: ConfigType[def.type],
        documentation: includeDocumentation ? def.doc : null,
      };
    });
  }

  /** DescribeConfigs for a topic: every topic setting, overrides marked TOPIC_CONFIG. */
  describeTopic(overrides: Readonly<Partial<Record<string, string>>>, includeSynonyms: boolean, includeDocumentation: boolean): DescribedConfig[] {
    return topicConfigDefs.map((def) => {
      const fallback = this.topicDefault(def.name);
      const override = overrides[def.name];
      const source = override !== undefined ? ConfigSource.TOPIC_CONFIG : fallback.synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
      const value = override ?? formatConfigValue(fallback.value);
      const synonyms: ConfigSynonym[] = [];
      if (includeSynonyms) {
        if (override !== undefined) synonyms.push({ name: def.name, value: override, source: ConfigSource.TOPIC_CONFIG });
        synonyms.push(...fallback.synonyms);
      }
      return {
        name: def.name,
        value,
        readOnly: false,
        isDefault: source === ConfigSource.DEFAULT_CONFIG,
        source,
        sensitive: false,
        synonyms,
        configType: ConfigType[def.type],
        documentation: includeDocumentation ? def.doc : null,
      };
    });
  }
}

/** Validates topic config overrides (CreateTopics, AlterConfigs); throws ConfigError. */
export function validateTopicConfigs(configs: Record<string, string | null>): void {
  for (const [key, value] of Object.entries(configs)) {
    const def = topicConfigByName.get(key);
    if (!def) throw new ConfigError(key, value, 'unknown topic configuration');
    if (value !== null) parseAndValidate(def, value);
  }
}

function pickListener(uris: string[], key: string): string {
  const name = (uri: string): string => uri.slice(0, Math.max(0, uri.indexOf('://'))).toUpperCase();
  const chosen = uris.find((u) => name(u) === 'PLAINTEXT') ?? uris.find((u) => name(u) !== 'CONTROLLER');
  if (chosen === undefined) throw new ConfigError(key, uris.join(','), 'needs a client listener, e.g. PLAINTEXT://localhost:9092');
  if (/^(SSL|SASL_PLAINTEXT|SASL_SSL)$/.test(name(chosen))) {
    throw new ConfigError(key, chosen, 'only PLAINTEXT listeners are supported (no TLS or SASL yet)');
  }
  return chosen;
}

export function parseListener(uri: string): { host: string; port: number } {
  const m = /^[A-Za-z_][A-Za-z0-9_]*:\/\/(\[[0-9a-fA-F:]+\]|[^:\s/]*):(\d+)$/.exec(uri);
  if (!m) throw new ConfigError('listeners', uri, 'must be NAME://host:port');
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return { host, port: Number(m[2]) };
}
