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
 * Fail closed: a security setting Spool does not implement yet (GSSAPI, an unknown SASL setting)
 * refuses to start instead of running without the protection the operator asked for. An
 * authorizer.class.name other than Kafka's ACL authorizers is refused by its schema validation. TLS (ssl.*, listener.name.<name>.ssl.*),
 * SASL listeners (sasl.*, listener.name.<name>.[<mechanism>.]sasl.*) and SASL between brokers
 * (PLAIN and SCRAM: interBrokerSaslMechanism) are implemented.
 */
function refuseUnimplementedSecurity(key: string, raw: string | number | boolean | null): void {
  const value = String(raw ?? '').trim();
  const refuse = (what: string): never => {
    throw new ConfigError(key, value, `${what} is not implemented by Spool yet; refusing to start without it (remove the setting to run unprotected on a trusted network)`);
  };
  if (value === '') return;
  if (/^listener\.name\..+\.sasl\./.test(key)) refuse('this SASL setting (GSSAPI or an unknown one)');
}

/** The SASL mechanisms Spool brokers authenticate to each other with (security/sasl/client.ts). */
export const INTER_BROKER_SASL_MECHANISMS: readonly string[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Kafka's security protocols (the same values as security/'s SecurityProtocol; config/ imports no other room). */
export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
const SECURITY_PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

/** One listener of `listeners`: its (upper-case) name, where it binds, and its security protocol. */
export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
  securityProtocol: SecurityProtocol;
}

/** One listener's ssl.* settings (listener.name.<name>.ssl.* over ssl.*), unread. */
export interface SslSettings {
  listenerName: string;
  /** JKS (Kafka's default, not supported), PEM or PKCS12. */
  keystoreType: string;
  keystoreLocation: string | null;
  keystorePassword: string | null;
  keystoreKey: string | null;
  keystoreCertificateChain: string | null;
  keyPassword: string | null;
  truststoreType: string;
  truststoreLocation: string | null;
  truststoreCertificates: string | null;
  clientAuth: 'none' | 'requested' | 'required';
  enabledProtocols: string[];
  cipherSuites: string[];
  /** ssl.endpoint.identification.algorithm=https: a TLS client checks the peer's host name. */
  endpointIdentification: boolean;
}

/** Kafka's default listener.security.protocol.map. */
const DEFAULT_PROTOCOL_MAP = 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL';

/** listener.security.protocol.map: NAME:PROTOCOL pairs; names upper-cased as Kafka normalises them. */
export function parseProtocolMap(text: string): Map<string, SecurityProtocol> {
  const out = new Map<string, SecurityProtocol>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const at = entry.indexOf(':');
    const name = entry.slice(0, Math.max(0, at)).trim().toUpperCase();
    const protocol = entry.slice(at + 1).trim().toUpperCase();
    if (at <= 0 || !/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new ConfigError('listener.security.protocol.map', text, `"${entry}" is not NAME:PROTOCOL`);
    if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) {
      throw new ConfigError('listener.security.protocol.map', text, `"${entry}": unknown security protocol (${SECURITY_PROTOCOLS.join(', ')})`);
    }
    if (out.has(name)) throw new ConfigError('listener.security.protocol.map', text, `listener ${name} is mapped twice`);
    out.set(name, protocol as SecurityProtocol);
  }
  return out;
}

/**
 * Parses `listeners` (or `advertised.listeners`) against the protocol map: names unique, each
 * mapped to a protocol, ports unique (0 excepted). CONTROLLER listeners are left out: Spool has no
 * separate controller, so a KRaft combined-mode server.properties works unchanged.
 */
export function parseListeners(key: string, uris: readonly string[], protocols: ReadonlyMap<string, SecurityProtocol>): ListenerSpec[] {
  const out: ListenerSpec[] = [];
  const names = new Set<string>();
  const ports = new Map<number, string>();
  for (const uri of uris) {
    const name = uri.slice(0, Math.max(0, uri.indexOf('://'))).toUpperCase();
    const { host, port } = parseListener(uri, key);
    if (names.has(name)) throw new ConfigError(key, uris.join(','), `each listener must have a different name; ${name} is listed twice`);
    names.add(name);
    if (name === 'CONTROLLER') continue;
    const securityProtocol = protocols.get(name);
    if (securityProtocol === undefined) {
      throw new ConfigError(key, uris.join(','), `no security protocol defined for listener ${name} (add ${name}:PLAINTEXT or ${name}:SSL to listener.security.protocol.map)`);
    }
    const samePort = ports.get(port);
    if (key === 'listeners' && port !== 0 && samePort !== undefined) {
      throw new ConfigError(key, uris.join(','), `each listener must have a different port; ${samePort} and ${name} both use ${port}`);
    }
    ports.set(port, name);
    out.push({ name, host, port, securityProtocol });
  }
  return out;
}

export class BrokerConfig {
  private readonly values = new Map<string, ConfigValue>();
  private readonly sources = new Map<string, ConfigSource>();
  /** listener.name.<name>.ssl.* / [<mechanism>.]sasl.* overrides, by upper-case listener name. */
  private readonly listenerValues = new Map<string, Map<string, ConfigValue>>();
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
        // ssl.* and sasl.* per listener; SASL also per mechanism (listener.name.<l>.plain.sasl.jaas.config).
        const perListener = /^listener\.name\.([A-Za-z_][A-Za-z0-9_]*)\.((?:(?:plain|scram-sha-256|scram-sha-512|oauthbearer)\.)?(?:ssl|sasl)\..+)$/.exec(key);
        const listenerDef = perListener ? brokerConfigByName.get(perListener[2].replace(/^(plain|scram-sha-256|scram-sha-512|oauthbearer)\.(?=sasl\.)/, '')) : undefined;
        if (perListener && listenerDef) {
          const name = perListener[1].toUpperCase();
          const values = this.listenerValues.get(name) ?? new Map<string, ConfigValue>();
          values.set(perListener[2], parseAndValidate(listenerDef, raw));
          this.listenerValues.set(name, values);
          continue;
        }
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
    const listeners = this.listeners();
    if (listeners.length === 0) throw new ConfigError('listeners', this.getString('listeners'), 'needs a client listener, e.g. PLAINTEXT://localhost:9092');
    this.advertisedListeners();
    this.interBrokerListener();
    this.interBrokerSaslMechanism();
  }

  /**
   * SASL between brokers: the mechanism this broker authenticates to the others with, when the
   * inter-broker listener is SASL_PLAINTEXT or SASL_SSL and was chosen (inter.broker.listener.name,
   * security.inter.broker.protocol or sasl.mechanism.inter.broker.protocol set). Null when that
   * listener is not SASL, or is SASL only by default (every listener is SASL: fine for a single
   * broker; others cannot be reached, which the fetchers log). Refuses (fail closed) GSSAPI, Kafka's
   * default, OAUTHBEARER and any other mechanism Spool cannot speak, and one the listener does not
   * enable (as Kafka does). The credentials are read from the listener's JAAS config by
   * security/sasl/client.ts interBrokerSaslCredentials.
   */
  interBrokerSaslMechanism(): string | null {
    const listener = this.interBrokerListener();
    if (listener.securityProtocol !== 'SASL_PLAINTEXT' && listener.securityProtocol !== 'SASL_SSL') return null;
    const chosen = this.has('inter.broker.listener.name') || this.has('security.inter.broker.protocol') || this.has('sasl.mechanism.inter.broker.protocol');
    if (!chosen) return null;
    const key = 'sasl.mechanism.inter.broker.protocol';
    const mechanism = this.getString(key).trim().toUpperCase();
    if (!INTER_BROKER_SASL_MECHANISMS.includes(mechanism)) {
      const what = mechanism === 'GSSAPI' ? "GSSAPI (Kerberos, Kafka's default)" : mechanism === 'OAUTHBEARER' ? 'OAUTHBEARER' : `SASL mechanism ${mechanism}`;
      throw new ConfigError(
        key,
        mechanism,
        `${what} between brokers is not implemented by Spool yet; refusing to start without it (the inter-broker listener ${listener.name} is ${listener.securityProtocol}: set ${key} to ${INTER_BROKER_SASL_MECHANISMS.join(', ')} with the broker's username and password in listener.name.${listener.name.toLowerCase()}.<mechanism>.sasl.jaas.config, or use a PLAINTEXT or SSL inter-broker listener)`,
      );
    }
    const enabledRaw = this.listenerSetting(listener.name, 'sasl.enabled.mechanisms');
    const enabled = (Array.isArray(enabledRaw) ? enabledRaw : typeof enabledRaw === 'string' ? enabledRaw.split(',') : []).map((m) => m.trim().toUpperCase());
    if (!enabled.includes(mechanism)) {
      throw new ConfigError(key, mechanism, `must be included in sasl.enabled.mechanisms of the inter-broker listener ${listener.name} (${enabled.join(',')}) when SASL is used for inter-broker communication`);
    }
    return mechanism;
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

  /** listener.security.protocol.map, Kafka's default when unset. */
  protocolMap(): Map<string, SecurityProtocol> {
    return parseProtocolMap(this.has('listener.security.protocol.map') ? this.getString('listener.security.protocol.map') : DEFAULT_PROTOCOL_MAP);
  }

  /** Every listener this broker binds (CONTROLLER listeners left out), in `listeners` order. */
  listeners(): ListenerSpec[] {
    return parseListeners('listeners', this.getList('listeners'), this.protocolMap());
  }

  /**
   * The address clients are given for each listener: advertised.listeners by name, else the
   * listener's own. Every advertised name must be a listener (as Kafka requires).
   */
  advertisedListeners(): ListenerSpec[] {
    const listeners = this.listeners();
    const adv = this.getList('advertised.listeners');
    const given = adv.length > 0 ? parseListeners('advertised.listeners', adv, this.protocolMap()) : [];
    for (const a of given) {
      if (!listeners.some((l) => l.name === a.name)) {
        throw new ConfigError('advertised.listeners', adv.join(','), `listener ${a.name} is not in listeners (${listeners.map((l) => l.name).join(', ')})`);
      }
    }
    return listeners.map((l) => given.find((a) => a.name === l.name) ?? l);
  }

  /**
   * The listener other brokers connect to: inter.broker.listener.name, else the listener named
   * after security.inter.broker.protocol. With neither set and no PLAINTEXT listener, the first
   * non-SASL listener, else the first (a single-listener broker needs no inter-broker setting).
   */
  interBrokerListener(): ListenerSpec {
    const listeners = this.listeners();
    if (this.has('inter.broker.listener.name') && this.has('security.inter.broker.protocol')) {
      throw new ConfigError('inter.broker.listener.name', this.getString('inter.broker.listener.name'), 'only one of inter.broker.listener.name and security.inter.broker.protocol may be set');
    }
    if (this.has('inter.broker.listener.name')) {
      const name = this.getString('inter.broker.listener.name').toUpperCase();
      const found = listeners.find((l) => l.name === name);
      if (found === undefined) throw new ConfigError('inter.broker.listener.name', name, `must be a listener name defined in listeners (${listeners.map((l) => l.name).join(', ')})`);
      return found;
    }
    const protocol = this.getString('security.inter.broker.protocol').toUpperCase();
    const found = listeners.find((l) => l.name === protocol);
    if (found !== undefined) return found;
    if (this.has('security.inter.broker.protocol')) {
      throw new ConfigError('security.inter.broker.protocol', protocol, `needs a listener named ${protocol} in listeners (or set inter.broker.listener.name)`);
    }
    return listeners.find((l) => !l.securityProtocol.startsWith('SASL_')) ?? listeners[0];
  }

  /**
   * The client listener the embedding API reports: the one named PLAINTEXT, else the first
   * listener (CONTROLLER listeners are never served).
   */
  listener(): { host: string; port: number } {
    const l = primaryListener(this.listeners());
    return { host: l.host, port: l.port };
  }

  advertisedListener(): { host: string; port: number } {
    const primary = primaryListener(this.listeners());
    const l = this.advertisedListeners().find((a) => a.name === primary.name) ?? primary;
    return { host: l.host, port: l.port };
  }

  /** A listener-scoped setting: listener.name.<name>.<key> when set, else <key>. */
  listenerSetting(listenerName: string, key: string): ConfigValue {
    const values = this.listenerValues.get(listenerName.toUpperCase());
    return values?.has(key) === true ? (values.get(key) as ConfigValue) : this.get(key);
  }

  /**
   * The TLS settings of one listener (listener.name.<name>.ssl.* over ssl.*), as plain values for
   * the network layer: what to read, not yet read.
   */
  sslSettings(listenerName: string): SslSettings {
    const str = (key: string): string | null => {
      const v = this.listenerSetting(listenerName, key);
      return v === null || v === '' ? null : formatConfigValue(v);
    };
    const list = (key: string): string[] => {
      const v = this.listenerSetting(listenerName, key);
      return Array.isArray(v) ? v : v === null || v === '' ? [] : [String(v)];
    };
    return {
      listenerName,
      keystoreType: (str('ssl.keystore.type') ?? 'JKS').toUpperCase(),
      keystoreLocation: str('ssl.keystore.location'),
      keystorePassword: str('ssl.keystore.password'),
      keystoreKey: str('ssl.keystore.key'),
      keystoreCertificateChain: str('ssl.keystore.certificate.chain'),
      keyPassword: str('ssl.key.password'),
      truststoreType: (str('ssl.truststore.type') ?? 'JKS').toUpperCase(),
      truststoreLocation: str('ssl.truststore.location'),
      truststoreCertificates: str('ssl.truststore.certificates'),
      clientAuth: (str('ssl.client.auth') ?? 'none') as SslSettings['clientAuth'],
      enabledProtocols: list('ssl.enabled.protocols'),
      cipherSuites: list('ssl.cipher.suites'),
      endpointIdentification: str('ssl.endpoint.identification.algorithm') !== null,
    };
  }

  /** Whether <key> or listener.name.<name>.<key> was given. */
  hasListenerSetting(listenerName: string, key: string): boolean {
    return this.listenerValues.get(listenerName.toUpperCase())?.has(key) === true || this.has(key);
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

/** The listener named PLAINTEXT, else the first. */
export function primaryListener(listeners: readonly ListenerSpec[]): ListenerSpec {
  const chosen = listeners.find((l) => l.name === 'PLAINTEXT') ?? listeners.at(0);
  if (chosen === undefined) throw new ConfigError('listeners', '', 'needs a client listener, e.g. PLAINTEXT://localhost:9092');
  return chosen;
}

export function parseListener(uri: string, key = 'listeners'): { host: string; port: number } {
  const m = /^[A-Za-z_][A-Za-z0-9_]*:\/\/(\[[0-9a-fA-F:]+\]|[^:\s/]*):(\d+)$/.exec(uri);
  if (!m) throw new ConfigError(key, uri, 'must be NAME://host:port');
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return { host, port: Number(m[2]) };
}
