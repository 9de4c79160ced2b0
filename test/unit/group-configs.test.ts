// config/ and cluster/ room tests: dynamic group configs (ConfigResource GROUP, KIP-848/KIP-932):
// Kafka 4.4's validation (unknown names, ConfigDef bounds, the broker's group.*.min/max bounds,
// session timeout above heartbeat interval, empty group, null values), DescribeConfigs' sources
// and synonyms, the effective values, the local metadata store keeping them across a restart, and
// share-partitions reading their group's settings live.
import t from 'tap';
import { LocalMetadataStore } from '../../src/cluster/index.js';
import { BrokerConfig, ConfigSource, describeGroupConfigs, effectiveGroupConfig, validateGroupConfigs } from '../../src/config/index.js';
import { AcknowledgeType, RecordState, SharePartition, groupPartitionConfig } from '../../src/coordinator/share/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { tempDir } from '../helpers/broker.js';

function brokerConfig(overrides: Record<string, string | number> = {}): BrokerConfig {
  return new BrokerConfig({ env: {}, overrides });
}

function refusal(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof KafkaError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: ErrorCode.NONE, message: '' };
}

t.test('validation follows Kafka 4.4 GroupConfig.validate', async (t) => {
  const broker = brokerConfig({ 'group.consumer.min.session.timeout.ms': 1000, 'group.consumer.min.heartbeat.interval.ms': 500 });
  t.same(validateGroupConfigs('g', { 'consumer.session.timeout.ms': '2000', 'consumer.heartbeat.interval.ms': ' 500' }, broker), {
    'consumer.session.timeout.ms': '2000',
    'consumer.heartbeat.interval.ms': '500',
  });
  t.same(validateGroupConfigs('g', { 'share.auto.offset.reset': 'EARLIEST', 'share.isolation.level': 'read_uncommitted' }, broker), {
    'share.auto.offset.reset': 'earliest',
    'share.isolation.level': 'read_uncommitted',
  });
  const cases: Array<[Record<string, string | null>, number, string]> = [
    [{ 'streams.session.timeout.ms': '1000' }, ErrorCode.INVALID_CONFIG, 'Unknown group config name: streams.session.timeout.ms'],
    [{ 'no.such.config': '1' }, ErrorCode.INVALID_CONFIG, 'Unknown group config name: no.such.config'],
    [{ 'consumer.session.timeout.ms': 'abc' }, ErrorCode.INVALID_CONFIG, 'Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT'],
    [{ 'share.record.lock.duration.ms': '999' }, ErrorCode.INVALID_CONFIG, 'Invalid value 999 for configuration share.record.lock.duration.ms: Value must be at least 1000'],
    [{ 'share.record.lock.duration.ms': '14999' }, ErrorCode.INVALID_CONFIG, 'share.record.lock.duration.ms must be in the range 15000 to 60000 inclusive.'],
    [{ 'share.delivery.count.limit': '11' }, ErrorCode.INVALID_CONFIG, 'share.delivery.count.limit must be in the range 2 to 10 inclusive.'],
    [{ 'consumer.session.timeout.ms': '60001' }, ErrorCode.INVALID_CONFIG, 'consumer.session.timeout.ms must be in the range 1000 to 60000 inclusive.'],
    // The broker's heartbeat interval (5000) stands in for the one not overridden.
    [{ 'consumer.session.timeout.ms': '5000' }, ErrorCode.INVALID_CONFIG, 'consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms'],
    [{ 'share.isolation.level': 'nope' }, ErrorCode.INVALID_CONFIG, 'Invalid value nope for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted'],
    [{ 'share.auto.offset.reset': 'none' }, ErrorCode.INVALID_CONFIG, "Invalid value `none` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."],
    [{ 'consumer.session.timeout.ms': null }, ErrorCode.INVALID_CONFIG, 'Null value not supported for group configs: consumer.session.timeout.ms'],
  ];
  for (const [overrides, code, message] of cases) {
    t.same(refusal(() => validateGroupConfigs('g', overrides, broker)), { code, message }, JSON.stringify(overrides));
  }
  t.equal(refusal(() => validateGroupConfigs('g', { 'share.auto.offset.reset': 'by_duration:PT1H' }, broker)).code, ErrorCode.INVALID_CONFIG, 'by_duration is refused (not implemented), not ignored');
  t.equal(refusal(() => validateGroupConfigs('g', { 'share.isolation.level': 'read_committed' }, broker)).code, ErrorCode.INVALID_CONFIG, 'read_committed share fetch is refused (not implemented), not ignored');
  t.same(refusal(() => validateGroupConfigs('', {}, broker)), { code: ErrorCode.INVALID_REQUEST, message: 'Default group resources are not allowed.' });
});

t.test('effective values: the override, else the broker setting', async (t) => {
  const broker = brokerConfig({ 'group.share.delivery.count.limit': 7, 'group.consumer.heartbeat.interval.ms': 3000 });
  const none = effectiveGroupConfig(undefined, broker);
  t.equal(none.shareDeliveryCountLimit, 7);
  t.equal(none.consumerHeartbeatIntervalMs, 3000);
  t.equal(none.shareAutoOffsetReset, 'latest');
  t.equal(none.shareRecordLockDurationMs, 30000);
  const some = effectiveGroupConfig({ 'share.delivery.count.limit': '3', 'share.auto.offset.reset': 'earliest', 'consumer.session.timeout.ms': '50000' }, broker);
  t.equal(some.shareDeliveryCountLimit, 3);
  t.equal(some.shareAutoOffsetReset, 'earliest');
  t.equal(some.consumerSessionTimeoutMs, 50000);
  t.equal(some.consumerHeartbeatIntervalMs, 3000);
});

t.test('DescribeConfigs: GROUP_CONFIG (8) first, then the broker synonyms', async (t) => {
  const broker = brokerConfig({ 'group.consumer.session.timeout.ms': 50000 });
  const described = describeGroupConfigs({ 'consumer.heartbeat.interval.ms': '6000' }, broker, true, true);
  const byName = new Map(described.map((d) => [d.name, d]));
  t.same(
    [...byName.keys()],
    [
      'consumer.session.timeout.ms',
      'consumer.heartbeat.interval.ms',
      'share.session.timeout.ms',
      'share.heartbeat.interval.ms',
      'share.record.lock.duration.ms',
      'share.delivery.count.limit',
      'share.partition.max.record.locks',
      'share.auto.offset.reset',
      'share.isolation.level',
    ],
  );
  const hb = byName.get('consumer.heartbeat.interval.ms');
  t.equal(hb?.value, '6000');
  t.equal(hb?.source, ConfigSource.GROUP_CONFIG);
  t.equal(ConfigSource.GROUP_CONFIG, 8);
  t.same(hb?.synonyms, [
    { name: 'consumer.heartbeat.interval.ms', value: '6000', source: ConfigSource.GROUP_CONFIG },
    { name: 'group.consumer.heartbeat.interval.ms', value: '5000', source: ConfigSource.DEFAULT_CONFIG },
  ]);
  const session = byName.get('consumer.session.timeout.ms');
  t.equal(session?.value, '50000');
  t.equal(session?.source, ConfigSource.STATIC_BROKER_CONFIG, 'no override: the broker setting, as the broker has it');
  t.same(session?.synonyms.map((s) => s.source), [ConfigSource.STATIC_BROKER_CONFIG, ConfigSource.DEFAULT_CONFIG]);
  const reset = byName.get('share.auto.offset.reset');
  t.equal(reset?.value, 'latest');
  t.equal(reset?.source, ConfigSource.DEFAULT_CONFIG);
  t.equal(reset?.isDefault, true);
  t.match(reset?.documentation, /share-partition start offset/);
  t.same(describeGroupConfigs(undefined, broker, false, false)[0]?.synonyms, [], 'no synonyms unless asked');
});

t.test('the local metadata store keeps group configs across a restart', async (t) => {
  const { dir, cleanup } = tempDir('spool-group-configs-');
  t.teardown(cleanup);
  const config = brokerConfig();
  const store = new LocalMetadataStore(dir, config);
  await store.start();
  t.equal(store.groupConfigs('g1'), undefined);
  await store.alterGroupConfigs('g1', { 'share.auto.offset.reset': 'earliest' });
  await store.alterGroupConfigs('g2', { 'consumer.session.timeout.ms': '50000' });
  await store.alterGroupConfigs('g2', {});
  t.same(store.groupConfigs('g1'), { 'share.auto.offset.reset': 'earliest' });
  t.equal(store.groupConfigs('g2'), undefined, 'an empty set removes the group');
  await store.close();
  const reopened = new LocalMetadataStore(dir, config);
  await reopened.start();
  t.same(reopened.groupConfigs('g1'), { 'share.auto.offset.reset': 'earliest' });
  t.equal(reopened.groupConfigs('g2'), undefined);
  await reopened.close();
});

t.test("a share-partition reads its group's settings live, once per operation", async (t) => {
  const base = { lockDurationMs: 30000, deliveryCountLimit: 5, maxRecordLocks: 2000 };
  t.equal(groupPartitionConfig(base, 'sg', undefined), base, 'no lookup: the broker settings');
  let limit = 1;
  let lookups = 0;
  const lookup = (groupId: string) => {
    lookups++;
    return {
      lockDurationMs: groupId === 'sg' ? 20000 : 1,
      deliveryCountLimit: limit,
      maxRecordLocks: 150,
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 45000,
      heartbeatIntervalMs: 5000,
    };
  };
  const sp = new SharePartition(groupPartitionConfig(base, 'sg', lookup), { stateEpoch: 0, startOffset: 0, stateBatches: [] });
  t.equal(lookups, 1, 'the constructor reads the settings once');
  t.same(sp.config, { lockDurationMs: 20000, deliveryCountLimit: 1, maxRecordLocks: 150 }, "the group's values");
  lookups = 0;
  t.same(sp.acquire('m', [{ baseOffset: 0, lastOffset: 199 }], 500, 0), [{ firstOffset: 0, lastOffset: 149, deliveryCount: 1 }], 'the group max.record.locks');
  t.equal(lookups, 1, 'one acquire of 150 records reads the settings once');
  t.equal(sp.nextLockDeadline(), 20000, "the group's lock duration");
  limit = 3;
  lookups = 0;
  t.ok(sp.acknowledge('m', [{ firstOffset: 0, lastOffset: 149, acknowledgeTypes: [AcknowledgeType.RELEASE] }], 1));
  t.equal(lookups, 1, 'one acknowledgement of 150 records reads the settings once');
  t.equal(sp.stateOf(0).state, RecordState.AVAILABLE, 'an altered group config (delivery count limit 1 → 3) applies to a loaded share-partition');
});
