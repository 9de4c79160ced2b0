// config room tests: defaults, sources and their priority, validation messages, topic resolution.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BrokerConfig, ConfigError, ConfigSource, envNameFor, parseProperties, validateTopicConfigs } from '../../src/config/index.js';
import { tempDir } from '../helpers/broker.js';

t.test('defaults are Kafka\'s', async (t) => {
  const c = new BrokerConfig({ env: {} });
  t.equal(c.nodeId, 1);
  t.same(c.getList('listeners'), ['PLAINTEXT://localhost:9092']);
  t.equal(c.logDir, './data');
  t.equal(c.getNumber('socket.request.max.bytes'), 104857600);
  t.equal(c.getNumber('message.max.bytes'), 1048588);
  t.equal(c.getBoolean('auto.create.topics.enable'), true);
  t.equal(c.getNumber('offsets.topic.num.partitions'), 50);
  t.equal(c.getString('spool.engine'), 'auto');
  t.equal(c.sourceOf('num.partitions'), ConfigSource.DEFAULT_CONFIG);
});

t.test('properties file < env < overrides', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const file = join(d.dir, 'server.properties');
  writeFileSync(
    file,
    ['# comment', '! also a comment', 'num.partitions=3', 'log.dirs = /var/kafka', 'listeners: PLAINTEXT://0.0.0.0:9093', 'default.replication.factor 1', 'log.retention.hours=1\\', '  2', 'process.roles=broker,controller'].join('\n'),
  );
  const fileOnly = new BrokerConfig({ propertiesFile: file, env: {} });
  t.equal(fileOnly.getNumber('num.partitions'), 3);
  t.equal(fileOnly.logDir, '/var/kafka');
  t.same(fileOnly.listener(), { host: '0.0.0.0', port: 9093 });
  t.equal(fileOnly.getNumber('log.retention.hours'), 12, 'line continuation');
  t.same(fileOnly.unknownKeys, ['process.roles'], 'unknown keys are reported, not fatal');
  t.equal(fileOnly.sourceOf('num.partitions'), ConfigSource.STATIC_BROKER_CONFIG);
  const withEnv = new BrokerConfig({ propertiesFile: file, env: { SPOOL_NUM_PARTITIONS: '5', SPOOL_ENGINE: 'ts' } });
  t.equal(withEnv.getNumber('num.partitions'), 5, 'env beats the file');
  t.equal(withEnv.getString('spool.engine'), 'ts', 'SPOOL_ENGINE shorthand');
  const withOverride = new BrokerConfig({ propertiesFile: file, env: { SPOOL_NUM_PARTITIONS: '5' }, overrides: { 'num.partitions': 7 } });
  t.equal(withOverride.getNumber('num.partitions'), 7, 'overrides beat env');
  t.equal(envNameFor('log.dirs'), 'SPOOL_LOG_DIRS');
});

t.test('invalid values name the key and what is allowed', async (t) => {
  t.throws(() => new BrokerConfig({ env: {}, overrides: { 'num.partitions': 0 } }), /num\.partitions: must be an integer >= 1/);
  t.throws(() => new BrokerConfig({ env: {}, overrides: { 'auto.create.topics.enable': 'yes' } }), /auto\.create\.topics\.enable: must be true or false/);
  t.throws(() => new BrokerConfig({ env: {}, overrides: { 'spool.engine': 'rust' } }), /spool\.engine: must be one of native, ts, auto/);
  t.throws(() => new BrokerConfig({ env: {}, overrides: { listeners: 'localhost:9092' } }), /listeners/);
  t.throws(() => new BrokerConfig({ env: {}, overrides: { listeners: 'PLAINTEXT://localhost:9092,PLAINTEXT://localhost:9093' } }), /different name/);
  const combined = new BrokerConfig({ env: {}, overrides: { listeners: 'CONTROLLER://:9093,PLAINTEXT://:9092' } });
  t.same(combined.listener(), { host: '', port: 9092 }, 'KRaft combined-mode listeners: the PLAINTEXT one is served');
  t.throws(() => new BrokerConfig({ env: { SPOOL_MESSAGE_MAX_BYTES: 'big' } }), /message\.max\.bytes: must be an integer/);
  t.throws(
    () => new BrokerConfig({ env: {}, overrides: { 'group.min.session.timeout.ms': 10000, 'group.max.session.timeout.ms': 5000 } }),
    /group\.min\.session\.timeout\.ms/,
  );
  const err = (() => {
    try {
      new BrokerConfig({ env: {}, overrides: { 'socket.request.max.bytes': -5 } });
    } catch (e) {
      return e;
    }
    return null;
  })();
  t.ok(err instanceof ConfigError);
  t.equal((err as ConfigError).key, 'socket.request.max.bytes');
});

t.test('topic configs fall back to broker synonyms with unit conversion', async (t) => {
  const defaults = new BrokerConfig({ env: {} }).resolveTopicConfig({});
  t.equal(defaults.retentionMs, 168 * 3600000, 'log.retention.hours default');
  t.equal(defaults.segmentMs, 168 * 3600000, 'log.roll.hours default');
  t.equal(defaults.segmentBytes, 1073741824);
  t.equal(defaults.maxMessageBytes, 1048588, 'max.message.bytes ← message.max.bytes');
  t.same(defaults.cleanupPolicy, ['delete']);
  const c = new BrokerConfig({ env: {}, overrides: { 'log.retention.minutes': 30, 'message.max.bytes': 5000, 'log.segment.bytes': 1 << 20 } });
  const resolved = c.resolveTopicConfig({ 'segment.bytes': '4096', 'cleanup.policy': 'compact,delete' });
  t.equal(resolved.retentionMs, 30 * 60000, 'minutes beat hours');
  t.equal(resolved.maxMessageBytes, 5000);
  t.equal(resolved.segmentBytes, 4096, 'topic override beats broker');
  t.same(resolved.cleanupPolicy, ['compact', 'delete']);
  const described = c.describeTopic({ 'segment.bytes': '4096' }, true, true);
  const seg = described.find((d) => d.name === 'segment.bytes');
  if (seg === undefined) throw new Error('segment.bytes is not described');
  t.equal(seg.source, ConfigSource.TOPIC_CONFIG);
  t.same(seg.synonyms.map((s) => [s.name, s.source]), [
    ['segment.bytes', ConfigSource.TOPIC_CONFIG],
    ['log.segment.bytes', ConfigSource.STATIC_BROKER_CONFIG],
    ['log.segment.bytes', ConfigSource.DEFAULT_CONFIG],
  ]);
  const retention = described.find((d) => d.name === 'retention.ms');
  if (retention === undefined) throw new Error('retention.ms is not described');
  t.equal(retention.value, String(30 * 60000));
  t.equal(retention.source, ConfigSource.STATIC_BROKER_CONFIG);
  t.ok(retention.documentation && retention.documentation.length > 0);
  t.equal(retention.configType, 5, 'LONG');
});

t.test('topic config validation', async (t) => {
  t.doesNotThrow(() => validateTopicConfigs({ 'retention.ms': '1000', 'cleanup.policy': 'compact' }));
  t.throws(() => validateTopicConfigs({ 'retention.ms': 'soon' }), /retention\.ms/);
  t.throws(() => validateTopicConfigs({ 'cleanup.policy': 'shred' }), /cleanup\.policy: must be one of delete, compact/);
  t.throws(() => validateTopicConfigs({ 'no.such.thing': '1' }), /unknown topic configuration/);
  t.throws(() => validateTopicConfigs({ 'message.timestamp.type': 'Sometime' }), /CreateTime, LogAppendTime/);
});

t.test('properties parser handles separators and escapes', async (t) => {
  t.same(parseProperties('a=1\nb: 2\nc 3\nd=\ne\\ f=x\\ty\n  # indented comment\n'), { a: '1', b: '2', c: '3', d: '', 'e f': 'x\ty', });
});
