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
  broker('listeners', 'LIST', ['PLAINTEXT://localhost:9092'], 'Listener URIs the broker binds, NAME://host:port. Only PLAINTEXT is supported.', listenerList),
  broker('advertised.listeners', 'LIST', null, 'Listener URIs handed to clients in Metadata; defaults to listeners.', listenerList),
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
  broker('spool.connection.max.inflight.bytes', 'LONG', 134217728, 'Request bytes a connection may have in flight before the broker stops reading it.', atLeast(1)),
  broker('spool.fetch.purgatory.max.requests', 'INT', 10000, 'Fetch requests that may wait for data at once; beyond it they are answered immediately.', atLeast(0)),
  broker('spool.produce.purgatory.max.requests', 'INT', 10000, 'acks=all produce and coordinator writes that may wait for replication at once; beyond it they fail with REQUEST_TIMED_OUT.', atLeast(1)),
  broker('spool.admin.listeners', 'LIST', ['http://127.0.0.1:9644'], 'The admin HTTP plane (Prometheus /metrics, /v1/status probes, the REST admin API with its OpenAPI document at /openapi.json, the web console): one http://host:port URL. Empty turns it off; port 0 picks a free port.', adminListener),
  { ...broker('spool.admin.token', 'PASSWORD', null, 'Bearer token every admin API mutation (POST, PATCH, PUT, DELETE) must carry (Authorization: Bearer <token>). Without it, mutations are allowed only when spool.admin.listeners is a loopback address; on any other address they are refused with 403.'), sensitive: true },
  broker('spool.admin.search.max.bytes', 'LONG', 1073741824, 'Largest maxBytes a record search of the admin API (GET /v1/topics/{topic}/search) may scan.', atLeast(1)),
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
