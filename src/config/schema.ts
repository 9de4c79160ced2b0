// config/ room: the one schema of every broker and topic setting Spool understands, with Kafka's
// names, types, defaults, validation and documentation. Everything else reads settings through it.

/** Kafka's config types, numbered as DescribeConfigs v3+ reports them (configType). */
export const ConfigType = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;
export type ConfigTypeName = keyof typeof ConfigType;

/** Where a value came from, numbered as DescribeConfigs reports it (configSource). */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  /** A dynamic group config (ConfigResource type GROUP, KIP-848/KIP-932). */
  GROUP_CONFIG: 8,
} as const;
export type ConfigSource = (typeof ConfigSource)[keyof typeof ConfigSource];

export type ConfigValue = string | number | boolean | string[] | null;

export interface ConfigDef {
  name: string;
  type: ConfigTypeName;
  /** Parsed default; null means "no value" (Kafka's null default). */
  default: ConfigValue;
  doc: string;
  /** Returns a sentence saying what is allowed when `value` is not, else null. */
  validate?: (value: ConfigValue) => string | null;
  sensitive?: boolean;
}

export interface BrokerConfigDef extends ConfigDef {
  /** Kafka marks static broker settings read-only in DescribeConfigs: they need a restart. */
  readOnly: boolean;
}

export interface TopicConfigDef extends ConfigDef {
  /**
   * Broker settings that supply this topic setting's default, highest priority first, with the
   * conversion from the broker unit (e.g. log.retention.hours → ms).
   */
  synonyms: Array<{ name: string; scale?: number }>;
}

const INT_MAX = 2147483647;
const LONG_MAX = Number.MAX_SAFE_INTEGER;

function atLeast(min: number): (v: ConfigValue) => string | null {
  return (v) => (v === null || (typeof v === 'number' && v >= min) ? null : `must be an integer >= ${min}`);
}
function between(min: number, max: number): (v: ConfigValue) => string | null {
  return (v) =>
    v === null || (typeof v === 'number' && v >= min && v <= max) ? null : `must be between ${min} and ${max}`;
}
function oneOf(...allowed: string[]): (v: ConfigValue) => string | null {
  return (v) => {
    const items = Array.isArray(v) ? v : v === null ? [] : [String(v)];
    for (const item of items) if (!allowed.includes(item)) return `must be one of ${allowed.join(', ')}`;
    return null;
  };
}
const listenerRe = /^([A-Za-z_][A-Za-z0-9_]*):\/\/(\[[0-9a-fA-F:]+\]|[^:\s/]*):(\d{1,5})$/;
function listenerList(v: ConfigValue): string | null {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length === 0) return 'must be a list of NAME://host:port';
  for (const item of v) {
    const m = listenerRe.exec(item);
    if (!m || Number(m[3]) > 65535) return `"${item}" is not NAME://host:port (port 0-65535)`;
  }
  return null;
}

/** listener.security.protocol.map: NAME:PROTOCOL, comma-separated. */
function protocolMap(v: ConfigValue): string | null {
  if (v === null || v === '') return null;
  if (typeof v !== 'string') return 'must be NAME:PROTOCOL pairs, comma-separated';
  for (const raw of v.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*):(.*)$/.exec(entry);
    if (!m) return `"${entry}" is not NAME:PROTOCOL`;
    if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(m[2].trim().toUpperCase())) {
      return `"${entry}": unknown security protocol ${m[2].trim()} (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)`;
    }
  }
  return null;
}

/** Kafka's ACL authorizers (KRaft's and the ZooKeeper-era name), both served by Spool's ACL authorizer. */
export const ACL_AUTHORIZER_CLASSES: readonly string[] = ['org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'kafka.security.authorizer.AclAuthorizer'];
function authorizerClass(v: ConfigValue): string | null {
  if (v === null || v === '' || (typeof v === 'string' && ACL_AUTHORIZER_CLASSES.includes(v.trim()))) return null;
  return `authorizer ${String(v)} is not implemented by Spool yet; refusing to start without it (Spool serves Kafka's ACL authorizer, ${ACL_AUTHORIZER_CLASSES[0]}; leave it empty to run without authorization)`;
}
/** super.users: principals (Type:name), semicolon-separated. */
function superUsers(v: ConfigValue): string | null {
  if (v === null) return null;
  for (const raw of String(v).split(';')) {
    const p = raw.trim();
    if (p !== '' && !/^[^:]+:.+$/.test(p)) return `"${p}" is not a principal (Type:name, e.g. User:admin)`;
  }
  return null;
}

/** spool.admin.listeners: nothing (off) or one http://host:port. */
function adminListener(v: ConfigValue): string | null {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length > 1) return 'must be empty or one http://host:port URL';
  for (const item of v) {
    const m = /^http:\/\/(\[[0-9a-fA-F:]+\]|[^:\s/[\]]+):(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) > 65535) return `"${item}" is not http://host:port (port 0-65535)`;
  }
  return null;
}

/** Kafka's max.connections.per.ip.overrides: "host:count,host:count" (the count after the last ':'). */
function connectionOverrides(v: ConfigValue): string | null {
  if (v === null || v === '') return null;
  if (typeof v !== 'string') return 'must be a comma-separated list of host:count';
  for (const raw of v.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^(.+):(\d{1,10})$/.exec(entry);
    if (!m || m[1].trim() === '' || Number(m[2]) > INT_MAX) return `"${entry}" is not host:count (count 0-${INT_MAX})`;
  }
  return null;
}

function broker(
  name: string,
  type: ConfigTypeName,
  def: ConfigValue,
  doc: string,
  validate?: (v: ConfigValue) => string | null,
  readOnly = true,
): BrokerConfigDef {
  return { name, type, default: def, doc, validate, readOnly };
}

/** Every broker setting (server.properties). */
export const brokerConfigDefs: BrokerConfigDef[] = [
  broker('node.id', 'INT', 1, 'The node id of this broker; reported in Metadata as the leader of every partition.', atLeast(0)),
  broker('broker.id', 'INT', null, 'Older name of node.id; used when node.id is not set.', atLeast(0)),
  broker('cluster.id', 'STRING', null, 'Cluster id written to meta.properties; generated on first start when unset.'),
  broker('listeners', 'LIST', ['PLAINTEXT://localhost:9092'], 'Listener URIs the broker binds, NAME://host:port, comma-separated; each name is unique and maps to a security protocol in listener.security.protocol.map (PLAINTEXT or SSL). An empty host binds every interface; port 0 picks a free port. A listener named CONTROLLER is a KRaft controller listener and is not bound.', listenerList),
  broker('advertised.listeners', 'LIST', null, 'Listener URIs handed to clients in Metadata, FindCoordinator and DescribeCluster, by listener name: a client gets the address of the listener its request arrived on. A listener not named here advertises its own host and bound port.', listenerList),
  broker('listener.security.protocol.map', 'STRING', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL', 'Listener name to security protocol, NAME:PROTOCOL comma-separated. Every listener in listeners needs an entry.', protocolMap),
  broker('inter.broker.listener.name', 'STRING', null, 'The listener other brokers connect to for replication and forwarded requests (its advertised address, TLS when it is SSL or SASL_SSL, SASL with sasl.mechanism.inter.broker.protocol when it is SASL_PLAINTEXT or SASL_SSL). Not together with security.inter.broker.protocol. Default: the listener named by security.inter.broker.protocol.'),
  broker('security.inter.broker.protocol', 'STRING', 'PLAINTEXT', 'Security protocol between brokers, when inter.broker.listener.name is not set: the listener of that name is used.', oneOf('PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL')),
  broker('ssl.keystore.type', 'STRING', 'JKS', 'Keystore format. PEM (ssl.keystore.location holding the private key and certificate chain, or ssl.keystore.key with ssl.keystore.certificate.chain) or PKCS12; JKS is not supported by Spool.', oneOf('JKS', 'PEM', 'PKCS12')),
  broker('ssl.keystore.location', 'STRING', null, 'Keystore file: with PEM, a PKCS#8 private key followed by the certificate chain. Re-read without restart when it changes (see spool.ssl.reload.check.interval.ms).'),
  { ...broker('ssl.keystore.password', 'PASSWORD', null, 'Password of a PKCS12 keystore (not used with PEM, as in Kafka).'), sensitive: true },
  { ...broker('ssl.keystore.key', 'PASSWORD', null, 'PEM private key (PKCS#8), inline; with ssl.keystore.certificate.chain instead of ssl.keystore.location.'), sensitive: true },
  { ...broker('ssl.keystore.certificate.chain', 'PASSWORD', null, 'PEM certificate chain, inline, leaf first.'), sensitive: true },
  { ...broker('ssl.key.password', 'PASSWORD', null, 'Password of an encrypted PEM private key.'), sensitive: true },
  broker('ssl.truststore.type', 'STRING', 'JKS', 'Truststore format: PEM (ssl.truststore.location or ssl.truststore.certificates); JKS and PKCS12 truststores are not supported by Spool.', oneOf('JKS', 'PEM', 'PKCS12')),
  broker('ssl.truststore.location', 'STRING', null, 'Truststore file (PEM certificates): the CAs client certificates (ssl.client.auth) and, for an SSL inter-broker listener, other brokers\' certificates are verified against. Without one, the system CAs.'),
  { ...broker('ssl.truststore.certificates', 'PASSWORD', null, 'Trusted certificates in PEM, inline.'), sensitive: true },
  { ...broker('ssl.truststore.password', 'PASSWORD', null, 'Truststore password (not used with PEM).'), sensitive: true },
  broker('ssl.client.auth', 'STRING', 'none', 'Client certificates on SSL listeners: required (a client without a certificate trusted by the truststore is refused), requested (asked for; a client without one connects as User:ANONYMOUS, one with an untrusted certificate is refused) or none. A verified certificate makes the principal User:<subject DN> (RFC 2253, as Kafka\'s ssl.principal.mapping.rules=DEFAULT).', oneOf('none', 'requested', 'required')),
  broker('ssl.enabled.protocols', 'LIST', ['TLSv1.2', 'TLSv1.3'], 'TLS versions accepted.', oneOf('TLSv1.2', 'TLSv1.3')),
  broker('ssl.protocol', 'STRING', 'TLSv1.3', 'Kafka\'s SSLContext protocol; Spool negotiates within ssl.enabled.protocols.'),
  broker('ssl.cipher.suites', 'LIST', null, 'Cipher suites allowed (OpenSSL or IANA names as Node accepts them; TLSv1.3 suites start with TLS_). Empty: Node\'s defaults.'),
  broker('ssl.endpoint.identification.algorithm', 'STRING', 'https', 'https: a broker connecting to another broker over SSL checks the certificate matches the host name; empty turns the check off.'),
  broker('ssl.principal.mapping.rules', 'STRING', 'DEFAULT', 'How a client certificate\'s subject becomes the principal name; Spool supports DEFAULT only (the full RFC 2253 DN).', oneOf('DEFAULT')),
  broker('spool.ssl.reload.check.interval.ms', 'LONG', 5000, 'How often each SSL listener checks its keystore and truststore files for changes; a change is loaded for new connections without restart (existing connections keep theirs). A file that fails to load is logged and the previous certificate stays. 0 turns the check off.', atLeast(0)),
  broker('sasl.enabled.mechanisms', 'LIST', ['GSSAPI'], 'SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners offer (listener.name.<listener>.sasl.enabled.mechanisms overrides it per listener): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER. Kafka\'s default GSSAPI (Kerberos) is not implemented by Spool: set this on a SASL listener, or every handshake is refused with UNSUPPORTED_SASL_MECHANISM.', oneOf('GSSAPI', 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER')),
  broker('sasl.mechanism.inter.broker.protocol', 'STRING', 'GSSAPI', 'SASL mechanism brokers authenticate to each other with when the inter-broker listener is SASL_PLAINTEXT or SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (it must be in the listener\'s sasl.enabled.mechanisms). The broker\'s own credentials are the username and password options of listener.name.<listener>.<mechanism>.sasl.jaas.config (PlainLoginModule or ScramLoginModule), as in Kafka; a SCRAM user must exist in the metadata store (AlterUserScramCredentials). Kafka\'s default GSSAPI (Kerberos) and OAUTHBEARER are not implemented between Spool brokers: a SASL inter-broker listener with either refuses to start.'),
  { ...broker('sasl.jaas.config', 'PASSWORD', null, 'JAAS login configuration in Kafka\'s format. The broker reads the users of SASL/PLAIN from org.apache.kafka.common.security.plain.PlainLoginModule options user_<name>="<password>"; listener.name.<listener>.plain.sasl.jaas.config overrides it per listener (Kafka\'s usual form).'), sensitive: true },
  broker('connections.max.reauth.ms', 'LONG', 0, 'KIP-368: when positive, the longest a SASL session lives (SaslAuthenticate v1+ tells the client, which re-authenticates before then); a connection whose session expired is closed on its next request other than a re-authentication. 0: sessions do not expire, except an OAUTHBEARER session, which ends when its token expires (as in Kafka).', atLeast(0)),
  broker('sasl.server.max.receive.size', 'INT', 524288, 'Largest frame accepted from a connection of a SASL listener before it has authenticated (ApiVersions, SaslHandshake, SaslAuthenticate); a larger size prefix closes the connection (as socket.request.max.bytes does after authentication), so unauthenticated clients cannot take the request memory (queued.max.request.bytes) with large frames.', atLeast(1)),
  broker('connection.failed.authentication.delay.ms', 'INT', 100, 'After a failed SASL authentication the broker sends the SASL_AUTHENTICATION_FAILED response and closes the connection this many ms later (0: at once), so a client retrying wrong credentials is slowed down. Kafka delays the response itself by the same time; Spool sends it at once and delays the close.', atLeast(0)),
  broker('sasl.oauthbearer.jwks.endpoint.url', 'STRING', null, 'OAUTHBEARER: where the JSON Web Key Set that signs access tokens is, a file:// or http(s):// URL; required when OAUTHBEARER is enabled (Spool never accepts unsecured tokens). Tokens signed RS256/RS384/RS512/ES256/ES384 by a key of the set are accepted; the set is read again after sasl.oauthbearer.jwks.endpoint.refresh.ms, or at once (at most every 10 s) for an unknown kid.'),
  broker('sasl.oauthbearer.jwks.endpoint.refresh.ms', 'LONG', 3600000, 'OAUTHBEARER: how long a fetched JWKS is used before it is fetched again.', atLeast(0)),
  broker('sasl.oauthbearer.expected.audience', 'LIST', null, 'OAUTHBEARER: when set, a token\'s aud claim must name one of these.'),
  broker('sasl.oauthbearer.expected.issuer', 'STRING', null, 'OAUTHBEARER: when set, a token\'s iss claim must equal it.'),
  broker('sasl.oauthbearer.sub.claim.name', 'STRING', 'sub', 'OAUTHBEARER: the claim whose value is the principal name (User:<value>).'),
  broker('sasl.oauthbearer.clock.skew.seconds', 'INT', 30, 'OAUTHBEARER: clock difference allowed when checking exp, nbf and iat.', atLeast(0)),
  broker('log.dirs', 'LIST', null, 'Directories holding partition data; Spool uses the first one. Defaults to log.dir.'),
  broker('log.dir', 'STRING', './data', 'Data directory used when log.dirs is not set.'),
  broker('num.partitions', 'INT', 1, 'Default partition count of auto-created topics and CreateTopics with numPartitions -1.', atLeast(1)),
  broker('default.replication.factor', 'SHORT', 1, 'Default replication factor of new topics (CreateTopics with replicationFactor -1, auto-created topics). Above the number of registered brokers, creation fails with INVALID_REPLICATION_FACTOR; without etcd there is one broker.', atLeast(1)),
  broker('auto.create.topics.enable', 'BOOLEAN', true, 'Create a topic on Metadata requests that allow auto-creation.'),
  broker('delete.topic.enable', 'BOOLEAN', true, 'Allow DeleteTopics.'),
  broker('message.max.bytes', 'INT', 1048588, 'Largest record batch size allowed (topic: max.message.bytes).', atLeast(0), false),
  broker('socket.request.max.bytes', 'INT', 104857600, 'Largest request frame accepted; larger frames close the connection.', atLeast(1)),
  broker('connections.max.idle.ms', 'LONG', 600000, 'Idle connections are closed after this many ms.', atLeast(1)),
  broker('queued.max.requests', 'INT', 500, 'Requests a connection may have in flight before the broker stops reading it.', atLeast(1)),
  broker('queued.max.request.bytes', 'LONG', 104857600, 'Request bytes the broker holds at once, over all connections: frames being received (counted as their bytes arrive, never by the size they announce) and requests being processed. When they are used up every connection stops reading until processing frees memory; the read that used them up may finish its frame, so a request larger than what is left still gets through, one at a time. -1 (or any value <= 0) is unbounded, Kafka\'s default; Spool\'s default is 100 MiB (socket.request.max.bytes), so many connections sending large requests at once cannot take the process\'s memory.'),
  broker('max.connections', 'INT', 10000, 'Connections the broker keeps open at once; a new connection beyond it is closed at once (existing ones are not touched), logged at most every 10 s. Kafka\'s default is 2147483647 and it holds new connections in the listen backlog instead; Node cannot stop accepting without closing the listener, and every connection costs a file descriptor that partition logs need too, so Spool bounds it at 10000 by default.', atLeast(0)),
  broker('max.connections.per.ip', 'INT', INT_MAX, 'Connections one client address may have open at once; a new one beyond it is closed at once. Can be 0 when max.connections.per.ip.overrides names the addresses allowed.', atLeast(0)),
  broker('max.connections.per.ip.overrides', 'STRING', '', 'Per address or host name limits overriding max.connections.per.ip, e.g. "hostName:100,127.0.0.1:200". Host names are resolved when the broker starts.', connectionOverrides),
  broker('fetch.max.bytes', 'INT', 57671680, 'Largest total size of a Fetch response.', atLeast(1024)),
  broker('max.incremental.fetch.session.cache.slots', 'INT', 1000, 'The maximum number of incremental fetch sessions (KIP-227) the broker keeps. A full fetch that finds no free slot, and no session it may evict, is served without a session.', atLeast(0)),
  broker('log.segment.bytes', 'INT', 1073741824, 'Maximum size of a segment file.', atLeast(14), false),
  broker('log.roll.ms', 'LONG', null, 'Roll a new segment after this many ms; falls back to log.roll.hours.', atLeast(1), false),
  broker('log.roll.hours', 'INT', 168, 'Roll a new segment after this many hours.', atLeast(1)),
  broker('log.roll.jitter.ms', 'LONG', null, 'Maximum jitter subtracted from the roll time.', atLeast(0)),
  broker('log.roll.jitter.hours', 'INT', 0, 'Maximum jitter subtracted from the roll time, in hours.', atLeast(0)),
  broker('log.retention.ms', 'LONG', null, 'Delete segments older than this; -1 keeps forever. Falls back to minutes then hours.', atLeast(-1), false),
  broker('log.retention.minutes', 'INT', null, 'Retention in minutes, used when log.retention.ms is not set.', atLeast(-1)),
  broker('log.retention.hours', 'INT', 168, 'Retention in hours, used when log.retention.ms and minutes are not set.', atLeast(-1)),
  broker('log.retention.bytes', 'LONG', -1, 'Maximum partition size before old segments are deleted; -1 is unlimited.', atLeast(-1), false),
  broker('log.retention.check.interval.ms', 'LONG', 300000, 'How often retention runs.', atLeast(1)),
  broker('log.cleanup.policy', 'LIST', ['delete'], 'Default cleanup policy: delete and/or compact.', oneOf('delete', 'compact'), false),
  broker('log.index.interval.bytes', 'INT', 4096, 'Bytes between offset index entries.', atLeast(0), false),
  broker('log.index.size.max.bytes', 'INT', 10485760, 'Maximum size of an offset or time index file.', atLeast(4), false),
  broker('log.message.timestamp.type', 'STRING', 'CreateTime', 'CreateTime or LogAppendTime.', oneOf('CreateTime', 'LogAppendTime'), false),
  broker('log.message.timestamp.before.max.ms', 'LONG', LONG_MAX, 'Accepted age of a record timestamp behind the broker clock.', atLeast(0), false),
  broker('log.message.timestamp.after.max.ms', 'LONG', 3600000, 'Accepted lead of a record timestamp ahead of the broker clock.', atLeast(0), false),
  broker('log.flush.interval.messages', 'LONG', LONG_MAX, 'Messages written before an fsync.', atLeast(1), false),
  broker('log.flush.interval.ms', 'LONG', null, 'Maximum ms between fsyncs; null uses the scheduler default.', atLeast(0), false),
  broker('log.flush.scheduler.interval.ms', 'LONG', LONG_MAX, 'How often the flusher checks logs.', atLeast(0)),
  broker('log.flush.offset.checkpoint.interval.ms', 'INT', 60000, 'How often offset checkpoints are written.', atLeast(0)),
  broker('log.segment.delete.delay.ms', 'LONG', 60000, 'Delay before a deleted segment file is removed.', atLeast(0), false),
  broker('log.preallocate', 'BOOLEAN', false, 'Preallocate segment files.', undefined, false),
  broker('log.cleaner.enable', 'BOOLEAN', true, 'Run the log cleaner for compacted topics.'),
  broker('log.cleaner.delete.retention.ms', 'LONG', 86400000, 'How long tombstones are kept in compacted topics.', atLeast(0), false),
  broker('log.cleaner.min.compaction.lag.ms', 'LONG', 0, 'Minimum age of a record before it can be compacted.', atLeast(0), false),
  broker('log.cleaner.max.compaction.lag.ms', 'LONG', LONG_MAX, 'Maximum age of a record before it must be compacted.', atLeast(1), false),
  broker('log.cleaner.min.cleanable.ratio', 'DOUBLE', 0.5, 'Dirty ratio that makes a log eligible for cleaning.', between(0, 1), false),
  broker('log.cleaner.threads', 'INT', 1, 'Cleaning rounds that may run at once (Kafka: cleaner threads).', atLeast(0)),
  broker('log.cleaner.backoff.ms', 'LONG', 15000, 'How long a cleaner waits before looking again when no log needs cleaning.', atLeast(0)),
  broker('log.cleaner.dedupe.buffer.size', 'LONG', 134217728, 'Memory for the key → offset maps of all cleaner threads (24 bytes a key, as Kafka); bounds the keys one round deduplicates.', atLeast(0)),
  broker('log.cleaner.io.buffer.load.factor', 'DOUBLE', 0.9, 'How full a cleaner\'s key → offset map may get.', between(0, 1)),
  broker('log.cleaner.io.max.bytes.per.second', 'DOUBLE', Number.MAX_VALUE, 'Bytes per second the cleaners may read plus write, all together.', (v) => (v === null || (typeof v === 'number' && v > 0) ? null : 'must be a number > 0')),
  broker('compression.type', 'STRING', 'producer', 'Final compression of a topic; producer keeps the producer codec.', oneOf('uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'), false),
  broker('min.insync.replicas', 'INT', 1, 'Replicas that must acknowledge an acks=all write.', atLeast(1), false),
  broker('unclean.leader.election.enable', 'BOOLEAN', false, 'Allow out-of-sync replicas to become leader.', undefined, false),
  broker('offsets.topic.num.partitions', 'INT', 50, 'Partitions of __consumer_offsets.', atLeast(1)),
  broker('offsets.topic.replication.factor', 'SHORT', 3, 'Replication factor of __consumer_offsets. In a cluster, creating it fails until this many brokers are registered (as in Kafka); a single node without etcd creates it with one replica.', atLeast(1)),
  broker('offsets.topic.segment.bytes', 'INT', 104857600, 'Segment size of __consumer_offsets.', atLeast(1)),
  broker('offsets.retention.minutes', 'INT', 10080, 'Committed offsets of empty groups expire after this many minutes.', atLeast(1)),
  broker('offsets.retention.check.interval.ms', 'LONG', 600000, 'How often expired offsets are removed.', atLeast(1)),
  broker('offsets.commit.timeout.ms', 'INT', 5000, 'An offset commit waits this long for the __consumer_offsets replicas before it fails with REQUEST_TIMED_OUT.', atLeast(1)),
  broker('offset.metadata.max.bytes', 'INT', 4096, 'Largest metadata string of a committed offset.', atLeast(0)),
  broker('group.min.session.timeout.ms', 'INT', 6000, 'Smallest session.timeout.ms a group member may ask for.', atLeast(0)),
  broker('group.max.session.timeout.ms', 'INT', 1800000, 'Largest session.timeout.ms a group member may ask for.', atLeast(0)),
  broker('group.initial.rebalance.delay.ms', 'INT', 3000, 'Time the coordinator waits for more members before the first rebalance of an empty group.', atLeast(0)),
  broker('group.max.size', 'INT', INT_MAX, 'Maximum members of one consumer group.', atLeast(1)),
  broker('group.coordinator.rebalance.protocols', 'LIST', ['classic', 'consumer'], 'Group protocols the group coordinator serves: classic (JoinGroup/SyncGroup) and consumer (KIP-848 ConsumerGroupHeartbeat). Without consumer, ConsumerGroupHeartbeat and ConsumerGroupDescribe answer UNSUPPORTED_VERSION (ApiVersions still lists them, as Kafka).'),
  broker('group.consumer.assignors', 'LIST', ['org.apache.kafka.coordinator.group.assignor.UniformAssignor', 'org.apache.kafka.coordinator.group.assignor.RangeAssignor'], 'Server-side assignors of consumer-protocol groups, by Kafka class name or short name (uniform, range); the first is used unless the members ask for another (group.remote.assignor).'),
  broker('group.consumer.session.timeout.ms', 'INT', 45000, 'A consumer-protocol group member that sends no heartbeat for this long is removed from its group.', atLeast(1)),
  broker('group.consumer.heartbeat.interval.ms', 'INT', 5000, 'Heartbeat interval the coordinator gives consumer-protocol group members.', atLeast(1)),
  broker('group.consumer.max.size', 'INT', INT_MAX, 'Maximum members of one consumer-protocol group (GROUP_MAX_SIZE_REACHED beyond).', atLeast(1)),
  broker('group.consumer.migration.policy', 'STRING', 'BIDIRECTIONAL', 'The config that enables converting the non-empty classic group using the consumer embedded protocol to the non-empty consumer group using the consumer group protocol and vice versa; conversions of empty groups in both directions are always enabled regardless of this policy. BIDIRECTIONAL: both upgrade from classic group to consumer group and downgrade from consumer group to classic group are enabled, UPGRADE: only upgrade from classic group to consumer group is enabled, DOWNGRADE: only downgrade from consumer group to classic group is enabled, DISABLED: neither upgrade nor downgrade is enabled.', oneOf('DISABLED', 'UPGRADE', 'DOWNGRADE', 'BIDIRECTIONAL', 'disabled', 'upgrade', 'downgrade', 'bidirectional')),
  broker('group.share.session.timeout.ms', 'INT', 45000, 'A share group member that sends no ShareGroupHeartbeat for this long is removed from its group (its acquired records are released).', atLeast(1)),
  broker('group.share.heartbeat.interval.ms', 'INT', 5000, 'Heartbeat interval the coordinator gives share group members.', atLeast(1)),
  broker('group.share.max.size', 'INT', 200, 'Maximum members of one share group (GROUP_MAX_SIZE_REACHED beyond).', atLeast(1)),
  broker('group.share.record.lock.duration.ms', 'INT', 30000, 'How long a record acquired by a share group member stays locked to it; unacknowledged when the lock expires, it is delivered again (or archived at the delivery count limit).', atLeast(1000)),
  broker('group.share.delivery.count.limit', 'INT', 5, 'Delivery attempts of a record to a share group before it is archived instead of being made available again.', between(2, 10)),
  broker('group.share.partition.max.record.locks', 'INT', 2000, 'Records in flight (acquired or awaiting the share-partition start offset) per share-partition; fetches acquire nothing beyond it.', between(100, 10000)),
  // Bounds of the dynamic group configs (ConfigResource GROUP): an override outside them is INVALID_CONFIG.
  broker('group.consumer.min.session.timeout.ms', 'INT', 45000, 'Smallest consumer.session.timeout.ms a group config may set.', atLeast(1)),
  broker('group.consumer.max.session.timeout.ms', 'INT', 60000, 'Largest consumer.session.timeout.ms a group config may set.', atLeast(1)),
  broker('group.consumer.min.heartbeat.interval.ms', 'INT', 5000, 'Smallest consumer.heartbeat.interval.ms a group config may set.', atLeast(1)),
  broker('group.consumer.max.heartbeat.interval.ms', 'INT', 15000, 'Largest consumer.heartbeat.interval.ms a group config may set.', atLeast(1)),
  broker('group.share.min.session.timeout.ms', 'INT', 45000, 'Smallest share.session.timeout.ms a group config may set.', atLeast(1)),
  broker('group.share.max.session.timeout.ms', 'INT', 60000, 'Largest share.session.timeout.ms a group config may set.', atLeast(1)),
  broker('group.share.min.heartbeat.interval.ms', 'INT', 5000, 'Smallest share.heartbeat.interval.ms a group config may set.', atLeast(1)),
  broker('group.share.max.heartbeat.interval.ms', 'INT', 15000, 'Largest share.heartbeat.interval.ms a group config may set.', atLeast(1)),
  broker('group.share.min.record.lock.duration.ms', 'INT', 15000, 'The minimum value of a group configuration for record acquisition lock duration in milliseconds.', atLeast(1000)),
  broker('group.share.max.record.lock.duration.ms', 'INT', 60000, 'The maximum value of a group configuration for record acquisition lock duration in milliseconds.', atLeast(1000)),
  broker('group.share.min.delivery.count.limit', 'INT', 2, 'The minimum value of a group configuration for the maximum number of delivery attempts for a record delivered to a share group.', atLeast(2)),
  broker('group.share.max.delivery.count.limit', 'INT', 10, 'The maximum value of a group configuration for the maximum number of delivery attempts for a record delivered to a share group.', atLeast(2)),
  broker('group.share.min.partition.max.record.locks', 'INT', 100, 'Smallest share.partition.max.record.locks a group config may set.', atLeast(100)),
  broker('group.share.max.partition.max.record.locks', 'INT', 4000, 'Largest share.partition.max.record.locks a group config may set.', atLeast(100)),
  broker('group.share.max.share.sessions', 'INT', 2000, 'Share sessions this broker keeps (SHARE_SESSION_LIMIT_REACHED beyond).', atLeast(1)),
  broker('share.coordinator.state.topic.num.partitions', 'INT', 50, 'Partitions of __share_group_state (should not change after deployment).', atLeast(1)),
  broker('share.coordinator.state.topic.replication.factor', 'SHORT', 3, 'Replication factor of __share_group_state (a single node creates it with one replica).', atLeast(1)),
  broker('share.coordinator.state.topic.min.isr', 'SHORT', 2, 'min.insync.replicas of __share_group_state (capped at its replication factor).', atLeast(1)),
  broker('share.coordinator.state.topic.segment.bytes', 'INT', 104857600, 'Segment size of __share_group_state.', atLeast(1)),
  broker('share.coordinator.write.timeout.ms', 'INT', 5000, 'How long a write of share-partition state waits for the replicas of __share_group_state.', atLeast(1)),
  broker('transactional.id.expiration.ms', 'INT', 604800000, 'A transactional id with no transaction for this many ms is forgotten (its producer id and epoch).', atLeast(1)),
  broker('transaction.max.timeout.ms', 'INT', 900000, 'Largest transaction.timeout.ms a producer may ask for (InitProducerId answers INVALID_TRANSACTION_TIMEOUT above it).', atLeast(1)),
  broker('transaction.state.log.num.partitions', 'INT', 50, 'Partitions of __transaction_state.', atLeast(1)),
  broker('transaction.state.log.replication.factor', 'SHORT', 3, 'Replication factor of __transaction_state. In a cluster, creating it fails until this many brokers are registered (as in Kafka); a single node without etcd creates it with one replica.', atLeast(1)),
  broker('transaction.state.log.min.isr', 'INT', 2, 'min.insync.replicas of __transaction_state (capped at its replication factor).', atLeast(1)),
  broker('transaction.state.log.segment.bytes', 'INT', 104857600, 'Segment size of __transaction_state.', atLeast(1)),
  broker('transaction.abort.timed.out.transaction.cleanup.interval.ms', 'INT', 10000, 'How often transactions open longer than their timeout are aborted (their producer is fenced).', atLeast(1)),
  broker('transaction.remove.expired.transaction.cleanup.interval.ms', 'INT', 3600000, 'How often transactional ids past transactional.id.expiration.ms are removed.', atLeast(1)),
  broker('spool.transaction.version', 'SHORT', 2, 'Finalized level of the transaction.version feature ApiVersions advertises (0: none, 1: KIP-890 part 1, 2: transactions V2 of KIP-890 part 2, as Kafka 4 clusters default to: clients that see it add partitions implicitly and bump the epoch at each transaction end). Each request is served by the version it speaks, so clients of version 1 keep working either way.', between(0, 2)),
  broker('producer.id.expiration.ms', 'INT', 86400000, 'Idle producer ids expire after this many ms.', atLeast(1)),
  broker('producer.id.expiration.check.interval.ms', 'INT', 600000, 'How often (at most) a partition looks for producer ids idle longer than producer.id.expiration.ms.', atLeast(1)),
  broker('broker.rack', 'STRING', null, 'Rack of this broker. Replica assignment spreads the replicas of a partition over racks when every registered broker has one.'),
  broker('broker.session.timeout.ms', 'INT', 9000, 'A broker that has not renewed its registration (etcd lease, renewed every third of this) for this long is considered dead: the controller moves the leadership of its partitions to other in-sync replicas and removes it from the ISR. Rounded up to whole seconds (etcd lease TTL).', atLeast(1000)),
  broker('replica.lag.time.max.ms', 'LONG', 30000, 'A follower that has not caught up to the leader\'s log end offset for this long is removed from the ISR by the leader.', atLeast(1)),
  broker('replica.fetch.wait.max.ms', 'INT', 500, 'Longest a follower fetch waits at the leader for data (must stay below replica.lag.time.max.ms).', atLeast(0)),
  broker('replica.fetch.min.bytes', 'INT', 1, 'Bytes a follower fetch waits for before the leader answers.', atLeast(1)),
  broker('replica.fetch.max.bytes', 'INT', 1048576, 'Bytes a follower fetches per partition per request (at least one batch).', atLeast(0)),
  broker('replica.fetch.response.max.bytes', 'INT', 10485760, 'Bytes a follower fetch response may hold in all.', atLeast(0)),
  broker('replica.fetch.backoff.ms', 'INT', 1000, 'How long a follower waits after a fetch error before retrying.', atLeast(0)),
  broker('replica.socket.timeout.ms', 'INT', 30000, 'Timeout of a follower fetch request to its leader.', atLeast(1)),
  broker('spool.etcd.endpoints', 'LIST', null, 'etcd v3 client URLs (http://host:port, comma-separated). Empty: a single broker keeps its metadata in the data directory. Set: brokers share metadata through etcd (registration, controller election, topics, partition state).'),
  broker('spool.etcd.prefix', 'STRING', 'spool', 'Name of this cluster in etcd: every key lives under /spool/<prefix>/, so several clusters can share one etcd.', (v) => (v === null || (typeof v === 'string' && /^[A-Za-z0-9._-]+$/.test(v)) ? null : 'must be non-empty ASCII letters, digits, ".", "_" or "-"')),
  broker('spool.etcd.request.timeout.ms', 'INT', 15000, 'How long a metadata write waits for etcd, and then for this broker to apply the change it made, before failing with REQUEST_TIMED_OUT.', atLeast(100)),
  broker('spool.engine', 'STRING', 'auto', 'Storage engine: native (Rust addon), ts (pure TypeScript) or auto (native, falling back to ts).', oneOf('native', 'ts', 'auto')),
  broker('spool.log.max.open.segment.files', 'INT', 1024, 'File descriptors the .log files of sealed (non-active) segments may hold open at once, process-wide. A sealed segment opens its .log on the first read after it was closed and keeps no index file open (its indexes are in memory); past this bound the least recently used idle ones are closed. A file that a Fetch response is still being sent from stays open until the send ends and its slice is released (one not released within max(file.delete.delay.ms, 10 s) is logged as a leak, never closed under a send). Active segments are not counted.', atLeast(1)),
  broker('spool.connection.max.inflight.bytes', 'LONG', 134217728, 'Request bytes a connection may have in flight before the broker stops reading it.', atLeast(1)),
  broker('spool.fetch.purgatory.max.requests', 'INT', 10000, 'Fetch requests that may wait for data at once; beyond it they are answered immediately.', atLeast(0)),
  broker('spool.produce.purgatory.max.requests', 'INT', 10000, 'acks=all produce and coordinator writes that may wait for replication at once; beyond it they fail with REQUEST_TIMED_OUT.', atLeast(1)),
  broker('spool.admin.listeners', 'LIST', ['http://127.0.0.1:9644'], 'The admin HTTP plane (Prometheus /metrics, /v1/status probes, the REST admin API with its OpenAPI document at /openapi.json, the web console): one http://host:port URL. Empty turns it off; port 0 picks a free port.', adminListener),
  { ...broker('spool.admin.token', 'PASSWORD', null, 'Bearer token every admin API mutation (POST, PATCH, PUT, DELETE) must carry (Authorization: Bearer <token>). Without it, mutations are allowed only when spool.admin.listeners is a loopback address; on any other address they are refused with 403.'), sensitive: true },
  broker('spool.admin.search.max.bytes', 'LONG', 1073741824, 'Largest maxBytes a record search of the admin API (GET /v1/topics/{topic}/search) may scan.', atLeast(1)),
  broker('authorizer.class.name', 'STRING', '', 'The authorizer: org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer, its ZooKeeper-era name) turns on ACLs (kafka-acls, CreateAcls/DescribeAcls/DeleteAcls), checked on every request as Kafka does; ACLs live in the metadata store (the data dir, or etcd for a cluster). Empty: no authorization, every request is allowed. Any other class is refused at start (fail closed).', authorizerClass),
  broker('super.users', 'STRING', null, 'Principals allowed every operation whatever the ACLs say, semicolon-separated (User:admin;User:broker). In a cluster, the principal brokers connect to each other as (User:ANONYMOUS on a PLAINTEXT inter-broker listener) needs to be one, or to have CLUSTER_ACTION on the cluster, for replication and transaction markers, as in Kafka.', superUsers),
  broker('allow.everyone.if.no.acl.found', 'BOOLEAN', false, 'With an authorizer: a resource that has no ACL at all is open to every principal (false: denied unless an ACL allows it).'),
];

function topic(
  name: string,
  type: ConfigTypeName,
  synonyms: Array<{ name: string; scale?: number }>,
  doc: string,
  validate?: (v: ConfigValue) => string | null,
): TopicConfigDef {
  const primary = brokerConfigDefs.find((d) => d.name === synonyms[0]?.name);
  return { name, type, default: primary?.default ?? null, doc, validate, synonyms };
}

/** Every topic-level setting, with the broker settings that provide its default. */
export const topicConfigDefs: TopicConfigDef[] = [
  topic('cleanup.policy', 'LIST', [{ name: 'log.cleanup.policy' }], 'delete, compact, or both.', oneOf('delete', 'compact')),
  topic('compression.type', 'STRING', [{ name: 'compression.type' }], 'Final compression of the topic.', oneOf('uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer')),
  topic('delete.retention.ms', 'LONG', [{ name: 'log.cleaner.delete.retention.ms' }], 'How long tombstones are kept in a compacted topic.', atLeast(0)),
  topic('file.delete.delay.ms', 'LONG', [{ name: 'log.segment.delete.delay.ms' }], 'Delay before a deleted segment file is removed.', atLeast(0)),
  topic('flush.messages', 'LONG', [{ name: 'log.flush.interval.messages' }], 'Messages written before an fsync.', atLeast(1)),
  topic('flush.ms', 'LONG', [{ name: 'log.flush.interval.ms' }], 'Maximum ms between fsyncs.', atLeast(0)),
  topic('index.interval.bytes', 'INT', [{ name: 'log.index.interval.bytes' }], 'Bytes between offset index entries.', atLeast(0)),
  topic('max.compaction.lag.ms', 'LONG', [{ name: 'log.cleaner.max.compaction.lag.ms' }], 'Maximum age of a record before it must be compacted.', atLeast(1)),
  topic('max.message.bytes', 'INT', [{ name: 'message.max.bytes' }], 'Largest record batch size allowed.', atLeast(0)),
  topic('message.timestamp.type', 'STRING', [{ name: 'log.message.timestamp.type' }], 'CreateTime or LogAppendTime.', oneOf('CreateTime', 'LogAppendTime')),
  topic('message.timestamp.before.max.ms', 'LONG', [{ name: 'log.message.timestamp.before.max.ms' }], 'Accepted age of a record timestamp.', atLeast(0)),
  topic('message.timestamp.after.max.ms', 'LONG', [{ name: 'log.message.timestamp.after.max.ms' }], 'Accepted lead of a record timestamp.', atLeast(0)),
  topic('min.cleanable.dirty.ratio', 'DOUBLE', [{ name: 'log.cleaner.min.cleanable.ratio' }], 'Dirty ratio that makes the log eligible for cleaning.', between(0, 1)),
  topic('min.compaction.lag.ms', 'LONG', [{ name: 'log.cleaner.min.compaction.lag.ms' }], 'Minimum age of a record before it can be compacted.', atLeast(0)),
  topic('min.insync.replicas', 'INT', [{ name: 'min.insync.replicas' }], 'Replicas that must acknowledge an acks=all write.', atLeast(1)),
  topic('preallocate', 'BOOLEAN', [{ name: 'log.preallocate' }], 'Preallocate segment files.'),
  topic('retention.bytes', 'LONG', [{ name: 'log.retention.bytes' }], 'Maximum partition size before old segments are deleted; -1 is unlimited.', atLeast(-1)),
  topic(
    'retention.ms',
    'LONG',
    [{ name: 'log.retention.ms' }, { name: 'log.retention.minutes', scale: 60000 }, { name: 'log.retention.hours', scale: 3600000 }],
    'Delete segments older than this; -1 keeps forever.',
    atLeast(-1),
  ),
  topic('segment.bytes', 'INT', [{ name: 'log.segment.bytes' }], 'Maximum size of a segment file.', atLeast(14)),
  topic('segment.index.bytes', 'INT', [{ name: 'log.index.size.max.bytes' }], 'Maximum size of an index file.', atLeast(4)),
  topic('segment.jitter.ms', 'LONG', [{ name: 'log.roll.jitter.ms' }, { name: 'log.roll.jitter.hours', scale: 3600000 }], 'Maximum jitter subtracted from segment.ms.', atLeast(0)),
  topic('segment.ms', 'LONG', [{ name: 'log.roll.ms' }, { name: 'log.roll.hours', scale: 3600000 }], 'Roll a new segment after this many ms.', atLeast(1)),
  topic('unclean.leader.election.enable', 'BOOLEAN', [{ name: 'unclean.leader.election.enable' }], 'Allow out-of-sync replicas to become leader.'),
];

export const brokerConfigByName = new Map(brokerConfigDefs.map((d) => [d.name, d]));
export const topicConfigByName = new Map(topicConfigDefs.map((d) => [d.name, d]));

/** Parses a setting from its text form (properties file, env, CLI, Kafka request). */
export function parseConfigValue(def: ConfigDef, raw: string | number | boolean | null): ConfigValue {
  if (raw === null) return null;
  const text = typeof raw === 'string' ? raw.trim() : String(raw);
  switch (def.type) {
    case 'BOOLEAN': {
      const lower = text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      throw new ConfigError(def.name, text, 'must be true or false');
    }
    case 'INT':
    case 'SHORT':
    case 'LONG': {
      if (!/^-?\d+$/.test(text)) throw new ConfigError(def.name, text, 'must be an integer');
      // A long as Kafka allows it (±9223372036854775807); JS keeps beyond ±2^53 as ±(2^53-1), the
      // stand-in for Long.MAX_VALUE ("forever") that DescribeConfigs shows as Kafka does.
      if (def.type === 'LONG' && text.length >= 16) {
        const big = BigInt(text);
        if (big > 9223372036854775807n || big < -9223372036854775808n) throw new ConfigError(def.name, text, 'must be between -9223372036854775808 and 9223372036854775807');
        if (big >= BigInt(LONG_MAX)) return LONG_MAX;
        if (big <= -BigInt(LONG_MAX)) return -LONG_MAX;
      }
      const n = Number(text);
      const [min, max] =
        def.type === 'SHORT' ? [-32768, 32767] : def.type === 'INT' ? [-2147483648, INT_MAX] : [-LONG_MAX, LONG_MAX];
      if (n < min || n > max) throw new ConfigError(def.name, text, `must be between ${min} and ${max}`);
      return n;
    }
    case 'DOUBLE': {
      const n = Number(text);
      if (text === '' || !Number.isFinite(n)) throw new ConfigError(def.name, text, 'must be a number');
      return n;
    }
    case 'LIST':
      return text === '' ? [] : text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    default:
      return text;
  }
}

/** The text form Kafka shows in DescribeConfigs. */
export function formatConfigValue(value: ConfigValue): string | null {
  if (value === null) return null;
  if (Array.isArray(value)) return value.join(',');
  if (value === LONG_MAX) return '9223372036854775807';
  return String(value);
}

/** Parse + validate; throws ConfigError naming the key and what is allowed. */
export function parseAndValidate(def: ConfigDef, raw: string | number | boolean | null): ConfigValue {
  const value = parseConfigValue(def, raw);
  const problem = def.validate?.(value) ?? null;
  if (problem !== null) throw new ConfigError(def.name, formatConfigValue(value), problem);
  return value;
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: string | null,
    readonly problem: string,
  ) {
    super(`Invalid value ${JSON.stringify(value)} for configuration ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}
