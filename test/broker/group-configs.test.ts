// api/ room tests: dynamic group configs (ConfigResource GROUP = 32) on one broker, over the wire:
// IncrementalAlterConfigs and legacy AlterConfigs store them (validateOnly does not), DescribeConfigs
// reports them as GROUP_CONFIG (8) with the broker synonym after, Kafka's errors for bad ones, and
// they act: a share group with share.auto.offset.reset=earliest reads records produced before it
// joined, with its share.record.lock.duration.ms as the acquisition lock timeout; a consumer group's
// consumer.heartbeat.interval.ms comes back in ConsumerGroupHeartbeat and its
// consumer.session.timeout.ms expires the member; the configs survive a broker restart.
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { AlterConfigsRequest, AlterConfigsResponse } from '../../src/protocol/messages/alter-configs.js';
import { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from '../../src/protocol/messages/consumer-group-describe.js';
import { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../src/protocol/messages/consumer-group-heartbeat.js';
import { DescribeConfigsRequest, DescribeConfigsResponse } from '../../src/protocol/messages/describe-configs.js';
import { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../../src/protocol/messages/incremental-alter-configs.js';
import { ShareFetchRequest, ShareFetchResponse } from '../../src/protocol/messages/share-fetch.js';
import { ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse } from '../../src/protocol/messages/share-group-heartbeat.js';
import { RawClient, tempDir } from '../helpers/broker.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;
const GROUP = 32;
const INVALID_CONFIG = 40;
const INVALID_REQUEST = 42;

interface AlterOut {
  responses: Array<{ errorCode: number; errorMessage: string | null; resourceName: string }>;
}
interface DescribeOut {
  results: Array<{
    errorCode: number;
    errorMessage: string | null;
    configs: Array<{ name: string; value: string | null; configSource: number; isDefault: boolean; synonyms: Array<{ name: string; value: string | null; source: number }> }>;
  }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('group configs: stored, described, validated, applied, kept across a restart', async (t) => {
  const d = tempDir('spool-group-configs-');
  const config = {
    'group.consumer.min.session.timeout.ms': 1000,
    'group.consumer.min.heartbeat.interval.ms': 500,
    'share.coordinator.state.topic.num.partitions': 1,
    'offsets.topic.num.partitions': 1,
  };
  let running: RunningBroker = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', config });
  t.teardown(async () => {
    await running.stop();
    d.cleanup();
  });
  let raw = await RawClient.connect(running.port);
  t.teardown(() => raw.close());

  const incremental = (groupId: string, configs: Array<{ name: string; configOperation: number; value: string | null }>, validateOnly = false): Promise<AlterOut> =>
    raw.request<AlterOut>(44, 1, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, {
      resources: [{ resourceType: GROUP, resourceName: groupId, configs }],
      validateOnly,
    });
  const describe = async (groupId: string): Promise<DescribeOut['results'][number]> => {
    const res = await raw.request<DescribeOut>(32, 4, DescribeConfigsRequest, DescribeConfigsResponse, {
      resources: [{ resourceType: GROUP, resourceName: groupId, configurationKeys: null }],
      includeSynonyms: true,
      includeDocumentation: false,
    });
    const r = res.results.at(0);
    if (r === undefined) throw new Error('no DescribeConfigs result');
    return r;
  };
  const valueOf = (r: DescribeOut['results'][number], name: string) => r.configs.find((c) => c.name === name);

  // --- IncrementalAlterConfigs and its errors ---
  let res = await incremental('sg', [
    { name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' },
    { name: 'share.record.lock.duration.ms', configOperation: 0, value: '20000' },
  ]);
  t.same(res.responses.map((r) => r.errorCode), [0], 'share group configs set');
  res = await incremental('sg', [{ name: 'share.delivery.count.limit', configOperation: 0, value: '3' }], true);
  t.equal(res.responses[0]?.errorCode, 0, 'validateOnly passes');
  res = await incremental('sg', [{ name: 'streams.num.standby.replicas', configOperation: 0, value: '1' }]);
  t.same([res.responses[0]?.errorCode, res.responses[0]?.errorMessage], [INVALID_CONFIG, 'Unknown group config name: streams.num.standby.replicas']);
  res = await incremental('sg', [{ name: 'share.record.lock.duration.ms', configOperation: 0, value: '90000' }]);
  t.same([res.responses[0]?.errorCode, res.responses[0]?.errorMessage], [INVALID_CONFIG, 'share.record.lock.duration.ms must be in the range 15000 to 60000 inclusive.']);
  res = await incremental('sg', [{ name: 'share.delivery.count.limit', configOperation: 2, value: '3' }]);
  t.equal(res.responses[0]?.errorCode, INVALID_CONFIG, 'APPEND to a non-list group config');
  res = await incremental('', [{ name: 'share.delivery.count.limit', configOperation: 0, value: '3' }]);
  t.equal(res.responses[0]?.errorCode, INVALID_REQUEST, 'the default group resource');

  let described = await describe('sg');
  t.equal(described.errorCode, 0);
  t.match(valueOf(described, 'share.auto.offset.reset'), {
    name: 'share.auto.offset.reset',
    value: 'earliest',
    configSource: 8,
    isDefault: false,
    synonyms: [
      { name: 'share.auto.offset.reset', value: 'earliest', source: 8 },
      { name: 'share.auto.offset.reset', value: 'latest', source: 5 },
    ],
  });
  t.equal(valueOf(described, 'share.delivery.count.limit')?.value, '5', 'validateOnly stored nothing');
  t.equal(valueOf(described, 'share.delivery.count.limit')?.configSource, 5);
  t.same(valueOf(described, 'share.record.lock.duration.ms')?.synonyms.map((s) => [s.name, s.source]), [
    ['share.record.lock.duration.ms', 8],
    ['group.share.record.lock.duration.ms', 5],
  ]);

  // --- Legacy AlterConfigs: replaces the whole set; a null value is INVALID_REQUEST ---
  const legacy = (groupId: string, configs: Array<{ name: string; value: string | null }>): Promise<AlterOut> =>
    raw.request<AlterOut>(33, 2, AlterConfigsRequest, AlterConfigsResponse, { resources: [{ resourceType: GROUP, resourceName: groupId, configs }], validateOnly: false });
  res = await legacy('cg-legacy', [{ name: 'consumer.session.timeout.ms', value: null }]);
  t.equal(res.responses[0]?.errorCode, INVALID_REQUEST, 'legacy AlterConfigs: null value');
  res = await legacy('cg-legacy', [{ name: 'consumer.session.timeout.ms', value: '50000' }]);
  t.equal(res.responses[0]?.errorCode, 0);
  res = await legacy('cg-legacy', [{ name: 'consumer.heartbeat.interval.ms', value: '6000' }]);
  t.equal(res.responses[0]?.errorCode, 0);
  described = await describe('cg-legacy');
  t.equal(valueOf(described, 'consumer.session.timeout.ms')?.configSource, 5, 'replaced: the earlier override is gone');
  t.equal(valueOf(described, 'consumer.heartbeat.interval.ms')?.value, '6000');

  // --- Share group: share.auto.offset.reset=earliest reads what was produced before it joined ---
  const kafka = new Kafka({ clientId: 'group-configs', brokers: [running.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'shared', messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
  await producer.disconnect();
  // FindCoordinator creates __consumer_offsets, whose leader coordinates share groups too.
  await admin.describeGroups(['sg']);
  await admin.disconnect();
  const topicId = running.broker.metadata.topic('shared')?.topicId;
  t.ok(topicId, 'topic id known');

  let assigned = false;
  let shareEpoch = 0;
  const memberId = 'share-member-1';
  for (let attempt = 0; attempt < 50 && !assigned; attempt++) {
    const hb = await raw.request<{ errorCode: number; memberEpoch: number; heartbeatIntervalMs: number; assignment: { topicPartitions: Array<{ partitions: number[] }> } | null }>(
      76,
      1,
      ShareGroupHeartbeatRequest,
      ShareGroupHeartbeatResponse,
      { groupId: 'sg', memberId, memberEpoch: shareEpoch, rackId: null, subscribedTopicNames: ['shared'] },
    );
    if (attempt % 10 === 0) t.comment(`share heartbeat: ${hb.errorCode}`);
    if (hb.errorCode === 0) {
      shareEpoch = hb.memberEpoch;
      assigned = (hb.assignment?.topicPartitions.length ?? 0) > 0;
    }
    if (!assigned) await sleep(100);
  }
  t.ok(assigned, 'the share member got the partition');
  const acquired = new Set<number>();
  let lockTimeout = -1;
  let sessionEpoch = 0;
  for (let attempt = 0; attempt < 20 && acquired.size < 3; attempt++) {
    const fetched = await raw.request<{
      errorCode: number;
      acquisitionLockTimeoutMs: number;
      responses: Array<{ partitions: Array<{ errorCode: number; acquiredRecords: Array<{ firstOffset: bigint | number; lastOffset: bigint | number }> }> }>;
    }>(78, 1, ShareFetchRequest, ShareFetchResponse, {
      groupId: 'sg',
      memberId,
      shareSessionEpoch: sessionEpoch,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      maxRecords: 100,
      batchSize: 100,
      topics: sessionEpoch === 0 ? [{ topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [] }] }] : [],
      forgottenTopicsData: [],
    });
    if (fetched.errorCode !== 0) {
      await sleep(100);
      continue;
    }
    sessionEpoch++;
    lockTimeout = fetched.acquisitionLockTimeoutMs;
    for (const p of fetched.responses.flatMap((r) => r.partitions)) {
      for (const a of p.acquiredRecords) for (let o = Number(a.firstOffset); o <= Number(a.lastOffset); o++) acquired.add(o);
    }
  }
  t.same([...acquired].sort(), [0, 1, 2], 'records produced before the group existed are delivered (earliest)');
  t.equal(lockTimeout, 20000, "acquisitionLockTimeoutMs is the group's share.record.lock.duration.ms");

  // --- Consumer group: the heartbeat interval and session timeout overrides act ---
  res = await incremental('cg', [
    { name: 'consumer.heartbeat.interval.ms', configOperation: 0, value: '700' },
    { name: 'consumer.session.timeout.ms', configOperation: 0, value: '1500' },
  ]);
  t.equal(res.responses[0]?.errorCode, 0, 'consumer group configs set');
  let hbInterval = -1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const hb = await raw.request<{ errorCode: number; heartbeatIntervalMs: number }>(68, 0, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, {
      groupId: 'cg',
      memberId: '',
      memberEpoch: 0,
      rebalanceTimeoutMs: 30000,
      subscribedTopicNames: ['shared'],
      topicPartitions: [],
    });
    if (hb.errorCode === 0) {
      hbInterval = hb.heartbeatIntervalMs;
      break;
    }
    await sleep(100);
  }
  t.equal(hbInterval, 700, 'ConsumerGroupHeartbeat carries the group override');
  const members = async (): Promise<number> => {
    const r = await raw.request<{ groups: Array<{ members: unknown[] }> }>(69, 0, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, {
      groupIds: ['cg'],
      includeAuthorizedOperations: false,
    });
    return r.groups[0]?.members.length ?? -1;
  };
  t.equal(await members(), 1, 'the member is in the group');
  let left = -1;
  // The broker's session timeout is 45 s; the group's 1.5 s expires the silent member.
  for (let attempt = 0; attempt < 40; attempt++) {
    await sleep(250);
    left = await members();
    if (left === 0) break;
  }
  t.equal(left, 0, 'the member expired after the group session timeout');

  // --- Restart: the configs are still there ---
  raw.close();
  await running.stop();
  running = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', config });
  raw = await RawClient.connect(running.port);
  described = await describe('sg');
  t.equal(valueOf(described, 'share.auto.offset.reset')?.value, 'earliest', 'kept across a restart');
  t.equal(valueOf(described, 'share.record.lock.duration.ms')?.configSource, 8);
  // DELETE removes an override: back to the broker's value.
  res = await incremental('sg', [{ name: 'share.record.lock.duration.ms', configOperation: 1, value: null }]);
  t.equal(res.responses[0]?.errorCode, 0);
  described = await describe('sg');
  t.same([valueOf(described, 'share.record.lock.duration.ms')?.value, valueOf(described, 'share.record.lock.duration.ms')?.configSource], ['30000', 5]);
});

t.test('group configs need DESCRIBE_CONFIGS / ALTER_CONFIGS on the GROUP resource', async (t) => {
  const running = await startBroker({
    port: 0,
    host: '127.0.0.1',
    config: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:admin' },
  });
  t.teardown(() => running.stop());
  // Raw requests (client id raw-test) are alice's; the KafkaJS admin is the super user.
  running.broker.dispatcher.addHook('onRequest', (ctx) => {
    ctx.security.principal = { principalType: 'User', name: ctx.clientId === 'raw-test' ? 'alice' : 'admin' };
  });
  const raw = await RawClient.connect(running.port);
  t.teardown(() => raw.close());
  const GROUP_AUTHORIZATION_FAILED = 30;
  const describeCode = async (): Promise<number | undefined> =>
    (
      await raw.request<DescribeOut>(32, 4, DescribeConfigsRequest, DescribeConfigsResponse, {
        resources: [{ resourceType: GROUP, resourceName: 'sg-auth', configurationKeys: null }],
        includeSynonyms: false,
        includeDocumentation: false,
      })
    ).results.at(0)?.errorCode;
  const alterCode = async (): Promise<number | undefined> =>
    (
      await raw.request<AlterOut>(44, 1, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, {
        resources: [{ resourceType: GROUP, resourceName: 'sg-auth', configs: [{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }] }],
        validateOnly: false,
      })
    ).responses.at(0)?.errorCode;
  t.equal(await describeCode(), GROUP_AUTHORIZATION_FAILED, 'describe without an ACL');
  t.equal(await alterCode(), GROUP_AUTHORIZATION_FAILED, 'alter without an ACL');
  const admin = new Kafka({ clientId: 'admin', brokers: [running.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const acl = (operation: kafkajs.AclOperationTypes) => ({
    resourceType: AclResourceTypes.GROUP,
    resourceName: 'sg-auth',
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:alice',
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  await admin.createAcls({ acl: [acl(AclOperationTypes.DESCRIBE_CONFIGS)] });
  t.equal(await describeCode(), 0, 'DESCRIBE_CONFIGS on the group allows describe');
  t.equal(await alterCode(), GROUP_AUTHORIZATION_FAILED, 'but not alter');
  await admin.createAcls({ acl: [acl(AclOperationTypes.ALTER_CONFIGS)] });
  t.equal(await alterCode(), 0, 'ALTER_CONFIGS on the group allows alter');
});
