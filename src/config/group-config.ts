// config/ room: dynamic group configs (Kafka's GroupConfig, ConfigResource type GROUP = 32;
// KIP-848 and KIP-932). A group's overrides are set with IncrementalAlterConfigs/AlterConfigs and
// stored in the metadata store; each falls back to its broker setting (group.consumer.*,
// group.share.*). An override is checked as Kafka 4.4 checks it: known name, parsable value,
// ConfigDef bound, then within the broker's group.*.min/max bounds, and a session timeout above
// the heartbeat interval (the broker's value standing in for the one not overridden).
// Refused although Kafka takes them (Spool cannot honour them yet): share.auto.offset.reset
// by_duration:<ISO-8601> and share.isolation.level=read_committed.
// Not here: Kafka's streams.*, *.assignment.interval.ms, share.renew.acknowledge.enable and
// errors.deadletterqueue.* group configs (Spool has no streams groups, server-side assignment
// intervals, renew acknowledgements or DLQs): they are answered as unknown names.
import { ErrorCode, KafkaError } from '../errors.js';
import type { BrokerConfig, ConfigSynonym, DescribedConfig } from './broker-config.js';
import { ConfigSource, ConfigType, brokerConfigByName, formatConfigValue } from './schema.js';

/** ConfigResource.Type.GROUP on the wire. */
export const GROUP_RESOURCE_TYPE = 32;

interface GroupConfigDef {
  name: string;
  type: 'INT' | 'STRING';
  /** The broker setting that supplies the value when the group has no override. */
  brokerSynonym: string | null;
  /** Default when there is no broker synonym. */
  default: string;
  doc: string;
  /** ConfigDef's Range.atLeast. */
  atLeast?: number;
  /** Broker settings bounding an override (inclusive). */
  bounds?: { min: string; max: string };
  /** ConfigDef's ValidString.in. */
  allowed?: string[];
}

const SHARE_AUTO_OFFSET_RESET_DOC =
  'The strategy to initialize the share-partition start offset. <ul><li>earliest: automatically reset the offset to the earliest offset</li><li>latest: automatically reset the offset to the latest offset</li><li>by_duration:&lt;duration&gt;: automatically reset the offset to a configured duration from the current timestamp. &lt;duration&gt; must be specified in ISO8601 format (PnDTnHnMn.nS). Negative duration is not allowed.</li><li>anything else: throw exception to the share consumer.</li></ul>';
const SHARE_ISOLATION_LEVEL_DOC =
  'Controls how to read records written transactionally. If set to "read_committed", the share group will only deliver transactional records which have been committed. If set to "read_uncommitted", the share group will return all messages, even transactional messages which have been aborted. Non-transactional records will be returned unconditionally in either mode.';

/** Kafka 4.4's public group configs that Spool acts on, in GroupConfig's order. */
export const groupConfigDefs: readonly GroupConfigDef[] = [
  {
    name: 'consumer.session.timeout.ms',
    type: 'INT',
    brokerSynonym: 'group.consumer.session.timeout.ms',
    default: '45000',
    doc: 'The timeout to detect client failures when using the consumer group protocol.',
    atLeast: 1,
    bounds: { min: 'group.consumer.min.session.timeout.ms', max: 'group.consumer.max.session.timeout.ms' },
  },
  {
    name: 'consumer.heartbeat.interval.ms',
    type: 'INT',
    brokerSynonym: 'group.consumer.heartbeat.interval.ms',
    default: '5000',
    doc: 'The heartbeat interval given to the members of a consumer group.',
    atLeast: 1,
    bounds: { min: 'group.consumer.min.heartbeat.interval.ms', max: 'group.consumer.max.heartbeat.interval.ms' },
  },
  {
    name: 'share.session.timeout.ms',
    type: 'INT',
    brokerSynonym: 'group.share.session.timeout.ms',
    default: '45000',
    doc: 'The timeout to detect client failures when using the share group protocol.',
    atLeast: 1,
    bounds: { min: 'group.share.min.session.timeout.ms', max: 'group.share.max.session.timeout.ms' },
  },
  {
    name: 'share.heartbeat.interval.ms',
    type: 'INT',
    brokerSynonym: 'group.share.heartbeat.interval.ms',
    default: '5000',
    doc: 'The heartbeat interval given to the members of a share group.',
    atLeast: 1,
    bounds: { min: 'group.share.min.heartbeat.interval.ms', max: 'group.share.max.heartbeat.interval.ms' },
  },
  {
    name: 'share.record.lock.duration.ms',
    type: 'INT',
    brokerSynonym: 'group.share.record.lock.duration.ms',
    default: '30000',
    doc: 'The record acquisition lock duration in milliseconds for share groups.',
    atLeast: 1000,
    bounds: { min: 'group.share.min.record.lock.duration.ms', max: 'group.share.max.record.lock.duration.ms' },
  },
  {
    name: 'share.delivery.count.limit',
    type: 'INT',
    brokerSynonym: 'group.share.delivery.count.limit',
    default: '5',
    doc: 'The maximum number of delivery attempts for a record delivered to a share group.',
    atLeast: 2,
    bounds: { min: 'group.share.min.delivery.count.limit', max: 'group.share.max.delivery.count.limit' },
  },
  {
    name: 'share.partition.max.record.locks',
    type: 'INT',
    brokerSynonym: 'group.share.partition.max.record.locks',
    default: '2000',
    doc: 'Share-group record lock limit per share-partition.',
    atLeast: 100,
    bounds: { min: 'group.share.min.partition.max.record.locks', max: 'group.share.max.partition.max.record.locks' },
  },
  { name: 'share.auto.offset.reset', type: 'STRING', brokerSynonym: null, default: 'latest', doc: SHARE_AUTO_OFFSET_RESET_DOC },
  {
    name: 'share.isolation.level',
    type: 'STRING',
    brokerSynonym: null,
    default: 'read_uncommitted',
    doc: SHARE_ISOLATION_LEVEL_DOC,
    allowed: ['read_committed', 'read_uncommitted'],
  },
];

const defsByName = new Map(groupConfigDefs.map((d) => [d.name, d]));

function defOf(name: string): GroupConfigDef {
  const def = defsByName.get(name);
  if (def === undefined) throw new Error(`unknown group config ${name}`);
  return def;
}

/** Whether `name` is a group config Spool knows. */
export function isGroupConfigName(name: string): boolean {
  return defsByName.has(name);
}

/** A group's effective settings: its overrides, else the broker's. */
export interface EffectiveGroupConfig {
  consumerSessionTimeoutMs: number;
  consumerHeartbeatIntervalMs: number;
  shareSessionTimeoutMs: number;
  shareHeartbeatIntervalMs: number;
  shareRecordLockDurationMs: number;
  shareDeliveryCountLimit: number;
  sharePartitionMaxRecordLocks: number;
  shareAutoOffsetReset: 'earliest' | 'latest';
  shareIsolationLevel: 'read_committed' | 'read_uncommitted';
}

function invalid(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_CONFIG, message);
}

function parseInt32(def: GroupConfigDef, raw: string): number {
  const trimmed = raw.trim();
  const n = /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) {
    throw invalid(`Invalid value ${raw} for configuration ${def.name}: Not a number of type INT`);
  }
  if (def.atLeast !== undefined && n < def.atLeast) {
    throw invalid(`Invalid value ${n} for configuration ${def.name}: Value must be at least ${def.atLeast}`);
  }
  return n;
}

function checkString(def: GroupConfigDef, raw: string): string {
  const value = raw.trim();
  if (def.name === 'share.auto.offset.reset') {
    const lower = value.toLowerCase();
    if (lower === 'earliest' || lower === 'latest') return lower;
    if (lower.startsWith('by_duration:')) {
      // Kafka accepts by_duration:<ISO-8601>; Spool's share-partitions start only at the earliest
      // or latest offset, so it refuses the setting rather than ignore it.
      throw invalid(`Invalid value \`${raw}\` for configuration ${def.name}. Spool supports 'earliest' and 'latest' only (not 'by_duration:<PnDTnHnMn.nS>').`);
    }
    throw invalid(
      `Invalid value \`${raw}\` for configuration ${def.name}. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.`,
    );
  }
  if (def.allowed !== undefined && !def.allowed.includes(value)) {
    throw invalid(`Invalid value ${raw} for configuration ${def.name}: String must be one of: ${def.allowed.join(', ')}`);
  }
  if (def.name === 'share.isolation.level' && value === 'read_committed') {
    // Spool's ShareFetch delivers up to the high watermark (aborted records included): refused
    // rather than accepted and not honoured.
    throw invalid(`Invalid value ${raw} for configuration ${def.name}: Spool's share groups read uncommitted records only (read_uncommitted)`);
  }
  return value;
}

/** The broker value behind a group config (its broker synonym, else the group config default). */
function brokerValue(def: GroupConfigDef, broker: BrokerConfig): string {
  if (def.brokerSynonym === null) return def.default;
  return formatConfigValue(broker.get(def.brokerSynonym)) ?? def.default;
}

/**
 * Checks a group's whole new override set (null values are refused, as Kafka's controller
 * refuses them) and returns it normalized. Throws KafkaError INVALID_REQUEST for an empty group
 * id, INVALID_CONFIG with Kafka's message otherwise.
 */
export function validateGroupConfigs(groupId: string, overrides: Readonly<Record<string, string | null>>, broker: BrokerConfig): Record<string, string> {
  if (groupId === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Default group resources are not allowed.');
  const nulls = Object.entries(overrides).filter(([, v]) => v === null).map(([k]) => k);
  if (nulls.length > 0) throw invalid(`Null value not supported for group configs: ${nulls.join(',')}`);
  for (const name of Object.keys(overrides)) {
    if (!defsByName.has(name)) throw invalid(`Unknown group config name: ${name}`);
  }
  const out: Record<string, string> = {};
  const ints = new Map<string, number>();
  for (const def of groupConfigDefs) {
    const raw = Object.hasOwn(overrides, def.name) ? overrides[def.name] : null;
    if (raw === null) continue;
    if (def.type === 'INT') {
      const n = parseInt32(def, raw);
      ints.set(def.name, n);
      out[def.name] = String(n);
    } else {
      out[def.name] = checkString(def, raw);
    }
  }
  for (const def of groupConfigDefs) {
    const n = ints.get(def.name);
    if (n === undefined || def.bounds === undefined) continue;
    const min = broker.getNumber(def.bounds.min);
    const max = broker.getNumber(def.bounds.max);
    if (n < min || n > max) throw invalid(`${def.name} must be in the range ${min} to ${max} inclusive.`);
  }
  const pairs: Array<[string, string]> = [
    ['consumer.session.timeout.ms', 'consumer.heartbeat.interval.ms'],
    ['share.session.timeout.ms', 'share.heartbeat.interval.ms'],
  ];
  for (const [sessionName, heartbeatName] of pairs) {
    if (!ints.has(sessionName) && !ints.has(heartbeatName)) continue;
    const session = ints.get(sessionName) ?? Number(brokerValue(defOf(sessionName), broker));
    const heartbeat = ints.get(heartbeatName) ?? Number(brokerValue(defOf(heartbeatName), broker));
    if (session <= heartbeat) throw invalid(`${sessionName} must be greater than ${heartbeatName}`);
  }
  return out;
}

/** The group's effective settings. Overrides were validated when stored; a bad one falls back. */
export function effectiveGroupConfig(overrides: Readonly<Record<string, string>> | undefined, broker: BrokerConfig): EffectiveGroupConfig {
  const value = (name: string): string => {
    const def = defOf(name);
    return overrides?.[name] ?? brokerValue(def, broker);
  };
  const int = (name: string): number => {
    const n = Number(value(name));
    if (Number.isSafeInteger(n)) return n;
    return Number(brokerValue(defOf(name), broker));
  };
  return {
    consumerSessionTimeoutMs: int('consumer.session.timeout.ms'),
    consumerHeartbeatIntervalMs: int('consumer.heartbeat.interval.ms'),
    shareSessionTimeoutMs: int('share.session.timeout.ms'),
    shareHeartbeatIntervalMs: int('share.heartbeat.interval.ms'),
    shareRecordLockDurationMs: int('share.record.lock.duration.ms'),
    shareDeliveryCountLimit: int('share.delivery.count.limit'),
    sharePartitionMaxRecordLocks: int('share.partition.max.record.locks'),
    shareAutoOffsetReset: value('share.auto.offset.reset') === 'earliest' ? 'earliest' : 'latest',
    shareIsolationLevel: value('share.isolation.level') === 'read_committed' ? 'read_committed' : 'read_uncommitted',
  };
}

/**
 * DescribeConfigs for a group, as Kafka 4.4's ConfigHelper answers: every group config; an
 * override is GROUP_CONFIG (8) and comes first among the synonyms, then the broker synonym as the
 * broker reports it (STATIC_BROKER_CONFIG when set, then its DEFAULT_CONFIG); a config without a
 * broker synonym falls back to the group config default (DEFAULT_CONFIG).
 */
export function describeGroupConfigs(
  overrides: Readonly<Record<string, string>> | undefined,
  broker: BrokerConfig,
  includeSynonyms: boolean,
  includeDocumentation: boolean,
): DescribedConfig[] {
  return groupConfigDefs.map((def) => {
    const brokerSynonyms: ConfigSynonym[] = [];
    if (def.brokerSynonym !== null) {
      const bdef = brokerConfigByName.get(def.brokerSynonym);
      if (broker.has(def.brokerSynonym)) {
        brokerSynonyms.push({ name: def.brokerSynonym, value: formatConfigValue(broker.get(def.brokerSynonym)), source: ConfigSource.STATIC_BROKER_CONFIG });
      }
      if (bdef !== undefined && bdef.default !== null) {
        brokerSynonyms.push({ name: def.brokerSynonym, value: formatConfigValue(bdef.default), source: ConfigSource.DEFAULT_CONFIG });
      }
    } else {
      brokerSynonyms.push({ name: def.name, value: def.default, source: ConfigSource.DEFAULT_CONFIG });
    }
    const override = overrides?.[def.name];
    const value = override ?? brokerValue(def, broker);
    const all: ConfigSynonym[] = override !== undefined ? [{ name: def.name, value: override, source: ConfigSource.GROUP_CONFIG }, ...brokerSynonyms] : brokerSynonyms;
    const source = all[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
    return {
      name: def.name,
      value,
      readOnly: false,
      isDefault: source === ConfigSource.DEFAULT_CONFIG,
      source,
      sensitive: false,
      synonyms: includeSynonyms ? all : [],
      configType: ConfigType[def.type],
      documentation: includeDocumentation ? def.doc : null,
    };
  });
}
