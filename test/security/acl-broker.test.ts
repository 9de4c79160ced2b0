// security tests: a broker with authorizer.class.name=StandardAuthorizer, used by KafkaJS as
// User:ANONYMOUS (a PLAINTEXT connection) and by an administrator. Without an ACL, produce is
// refused with TOPIC_AUTHORIZATION_FAILED; a prefixed ACL allows it; a DENY overrides an ALLOW;
// Metadata lists only what the principal may describe; groups, cluster operations and
// transactional ids are refused with Kafka's codes; Kafka's kafka-acls tool adds, lists and
// removes ACLs, which survive a restart.
//
// The administrator: before SASL, a test gives connections a named principal through the
// dispatcher's onRequest hook (embedding API, not settable from a config file): client ids
// starting with "admin" act as User:admin, a super user.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import type { AclOperationTypes as Operation, AclPermissionTypes as Permission, ResourcePatternTypes as Pattern } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ElectLeadersRequest, ElectLeadersResponse } from '../../src/protocol/messages/elect-leaders.js';
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../../src/protocol/messages/describe-log-dirs.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { InitProducerIdRequest, InitProducerIdResponse } from '../../src/protocol/messages/init-producer-id.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { requireToolchain } from '../interop/common.js';
import { kafkaToolsAvailable, runKafkaClass } from '../interop/kafka-tools.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

const AUTHORIZER = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';

interface LogLine {
  level: number;
  msg: string;
  principal?: string;
  operation?: string;
  resource?: string;
}

async function start(dir: string, lines: LogLine[]): Promise<RunningBroker> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const running = await startBroker({
    dataDir: dir,
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: 'info' }, sink),
    config: { 'authorizer.class.name': AUTHORIZER, 'super.users': 'User:admin' },
  });
  running.broker.dispatcher.addHook('onRequest', (ctx) => {
    if (ctx.clientId?.startsWith('admin') === true) ctx.security.principal = { principalType: 'User', name: 'admin' };
  });
  return running;
}

/** The Kafka error type a KafkaJS failure carries (possibly wrapped). */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'NONE';
  } catch (err) {
    interface Wrapped { type?: string; cause?: Wrapped; originalError?: Wrapped; errors?: Wrapped[]; groups?: Array<{ error?: Wrapped }>; message?: string }
    const dig = (e: Wrapped | undefined, depth = 0): string | undefined => {
      if (e === undefined || depth > 5) return undefined;
      return e.type ?? dig(e.cause, depth + 1) ?? dig(e.originalError, depth + 1) ?? dig(e.errors?.[0], depth + 1) ?? dig(e.groups?.[0]?.error, depth + 1);
    };
    return dig(err as Wrapped) ?? String(err);
  }
}

function client(running: RunningBroker, clientId: string): InstanceType<typeof Kafka> {
  return new Kafka({ clientId, brokers: [running.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
}

t.test('ACLs decide what User:ANONYMOUS may do, with Kafka\'s error codes', async (t) => {
  const d = tempDir('spool-acl-broker-');
  const lines: LogLine[] = [];
  const running = await start(d.dir, lines);
  t.teardown(async () => {
    await running.stop();
    d.cleanup();
  });
  const admin = client(running, 'admin').admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'orders' }, { topic: 'pay.eu' }, { topic: 'secret' }] });

  const anonymous = client(running, 'anon');
  // A producer per send: KafkaJS refreshes metadata for every topic it was asked about, and a
  // refused one would fail sends to the others.
  const send = async (topic: string): Promise<string> => {
    const producer = anonymous.producer();
    await producer.connect();
    try {
      return await failure(producer.send({ topic, messages: [{ value: 'v' }] }));
    } finally {
      await producer.disconnect();
    }
  };

  t.equal(await send('orders'), 'TOPIC_AUTHORIZATION_FAILED', 'no ACL: produce is refused');
  t.ok(
    lines.some((l) => l.level === 30 && l.principal === 'User:ANONYMOUS' && l.operation === 'DESCRIBE' && l.resource === 'TOPIC:LITERAL:orders'),
    'the denial is logged at info with principal, operation and resource',
  );

  const topicAcl = (resourceName: string, resourcePatternType: Pattern, principal: string, operation: Operation, permissionType: Permission) => ({
    resourceType: AclResourceTypes.TOPIC,
    resourceName,
    resourcePatternType,
    principal,
    host: '*',
    operation,
    permissionType,
  });
  await admin.createAcls({ acl: [topicAcl('pay.', ResourcePatternTypes.PREFIXED, 'User:ANONYMOUS', AclOperationTypes.WRITE, AclPermissionTypes.ALLOW)] });
  t.equal(await send('pay.eu'), 'NONE', 'a prefixed ACL allows produce to pay.eu');
  t.equal(await send('orders'), 'TOPIC_AUTHORIZATION_FAILED', 'and nothing else');

  await admin.createAcls({
    acl: [
      topicAcl('orders', ResourcePatternTypes.LITERAL, 'User:*', AclOperationTypes.WRITE, AclPermissionTypes.ALLOW),
      topicAcl('orders', ResourcePatternTypes.LITERAL, 'User:ANONYMOUS', AclOperationTypes.WRITE, AclPermissionTypes.DENY),
    ],
  });
  t.equal(await send('orders'), 'TOPIC_AUTHORIZATION_FAILED', 'a DENY overrides the ALLOW for User:*');

  const anonAdmin = anonymous.admin();
  await anonAdmin.connect();
  t.teardown(() => anonAdmin.disconnect());
  const listed = (await anonAdmin.fetchTopicMetadata()).topics.map((tm) => tm.name).sort();
  t.same(listed, ['orders', 'pay.eu'], 'Metadata lists only topics ANONYMOUS may describe (WRITE implies DESCRIBE); secret is hidden');
  t.equal(await failure(anonAdmin.fetchTopicMetadata({ topics: ['secret'] })), 'TOPIC_AUTHORIZATION_FAILED', 'asking for it by name is refused');
  t.equal(await failure(anonAdmin.fetchTopicMetadata({ topics: ['not-yet'] })), 'TOPIC_AUTHORIZATION_FAILED', 'auto-creating a topic needs CREATE');
  t.notOk((await admin.listTopics()).includes('not-yet'), 'and nothing was created');

  // KafkaJS turns a refused FindCoordinator into "coordinator not found": with DESCRIBE on the
  // group (FindCoordinator, OffsetFetch) but not READ, the join itself is what is refused.
  const groupAcl = (operation: Operation) => ({
    resourceType: AclResourceTypes.GROUP,
    resourceName: 'g1',
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:ANONYMOUS',
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  await admin.createAcls({ acl: [groupAcl(AclOperationTypes.DESCRIBE)] });
  const consumer = anonymous.consumer({ groupId: 'g1', retry: { retries: 0 } });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  const crashed = new Promise<string>((resolve) => {
    consumer.on(consumer.events.CRASH, (e) => {
      void failure(Promise.reject(e.payload.error)).then(resolve);
    });
  });
  await consumer.subscribe({ topic: 'pay.eu' });
  await consumer.run({ eachMessage: async () => undefined });
  t.equal(await crashed, 'GROUP_AUTHORIZATION_FAILED', 'joining a group without READ on it is refused');
  t.equal(await failure(anonAdmin.deleteGroups(['g1'])), 'GROUP_AUTHORIZATION_FAILED', 'deleting it needs DELETE');

  t.equal(await failure(anonAdmin.createTopics({ topics: [{ topic: 'mine' }] })), 'TOPIC_AUTHORIZATION_FAILED', 'CreateTopics needs CREATE');
  t.equal(
    await failure(anonAdmin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY })),
    'CLUSTER_AUTHORIZATION_FAILED',
    'DescribeAcls needs DESCRIBE on the cluster',
  );
  t.equal(
    await failure(anonAdmin.createAcls({ acl: [topicAcl('secret', ResourcePatternTypes.LITERAL, 'User:ANONYMOUS', AclOperationTypes.READ, AclPermissionTypes.ALLOW)] })),
    'CLUSTER_AUTHORIZATION_FAILED',
    'CreateAcls needs ALTER on the cluster',
  );
  t.equal(await failure(anonAdmin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.BROKER, name: '1' }], includeSynonyms: false })), 'CLUSTER_AUTHORIZATION_FAILED', 'broker configs need DESCRIBE_CONFIGS on the cluster');

  // DESCRIBE on the transactional id finds its coordinator; InitProducerId needs WRITE.
  const txnAcl = (resourceName: string, resourcePatternType: Pattern, operation: Operation) => ({
    resourceType: AclResourceTypes.TRANSACTIONAL_ID,
    resourceName,
    resourcePatternType,
    principal: 'User:ANONYMOUS',
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  await admin.createAcls({ acl: [txnAcl('tx-1', ResourcePatternTypes.LITERAL, AclOperationTypes.DESCRIBE)] });
  const txProducer = anonymous.producer({ transactionalId: 'tx-1', idempotent: true, maxInFlightRequests: 1, retry: { retries: 1 } });
  await txProducer.connect();
  t.teardown(() => txProducer.disconnect());
  t.equal(await failure(txProducer.transaction()), 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'a transactional id without WRITE is refused');

  await admin.createAcls({ acl: [txnAcl('tx-', ResourcePatternTypes.PREFIXED, AclOperationTypes.WRITE)] });
  const tx = await txProducer.transaction();
  await tx.send({ topic: 'pay.eu', messages: [{ value: 'in a transaction' }] });
  await tx.commit();
  t.pass('with WRITE on the transactional id (prefixed) and the topic, a transaction commits');

  t.equal(await failure(anonAdmin.deleteTopics({ topics: ['orders'] })), 'TOPIC_AUTHORIZATION_FAILED', 'DeleteTopics needs DELETE');
  t.equal(await failure(anonAdmin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 3 }] })), 'TOPIC_AUTHORIZATION_FAILED', 'CreatePartitions needs ALTER');

  // READ on the group but not on the topic: the fetch is refused; with it, the records arrive.
  await admin.createAcls({ acl: [groupAcl(AclOperationTypes.READ)] });
  const reader = anonymous.consumer({ groupId: 'g1', retry: { retries: 0 } });
  await reader.connect();
  t.teardown(() => reader.disconnect());
  const readerCrashed = new Promise<string>((resolve) => {
    reader.on(reader.events.CRASH, (e) => {
      void failure(Promise.reject(e.payload.error)).then(resolve);
    });
  });
  await reader.subscribe({ topic: 'pay.eu', fromBeginning: true });
  await reader.run({ eachMessage: async () => undefined });
  t.equal(await readerCrashed, 'TOPIC_AUTHORIZATION_FAILED', 'fetching needs READ on the topic');
  await reader.disconnect();
  await admin.createAcls({ acl: [topicAcl('pay.eu', ResourcePatternTypes.LITERAL, 'User:ANONYMOUS', AclOperationTypes.READ, AclPermissionTypes.ALLOW)] });
  const reader2 = anonymous.consumer({ groupId: 'g1', retry: { retries: 0 } });
  await reader2.connect();
  t.teardown(() => reader2.disconnect());
  await reader2.subscribe({ topic: 'pay.eu', fromBeginning: true });
  const values: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${values.length} of 2 records`)), 20_000);
    void reader2.run({
      eachMessage: async ({ message }) => {
        values.push(message.value?.toString() ?? '');
        if (values.length === 2) {
          clearTimeout(timer);
          resolve();
        }
        await Promise.resolve();
      },
    });
  });
  t.same(values.sort(), ['in a transaction', 'v'], 'with READ on the topic the consumer reads what was produced');

  // Requests KafkaJS does not send, over a raw PLAINTEXT connection (User:ANONYMOUS).
  const raw = await RawClient.connect(running.port);
  t.teardown(() => raw.close());
  const elect = await raw.request<{ errorCode: number; replicaElectionResults: Array<{ partitionResult: Array<{ errorCode: number }> }> }>(43, 2, ElectLeadersRequest, ElectLeadersResponse, {
    electionType: 0,
    topicPartitions: [{ topic: 'orders', partitionId: [0] }],
    timeoutMs: 1000,
  });
  t.same([elect.errorCode, elect.replicaElectionResults[0]?.partitionResult[0]?.errorCode], [31, 31], 'ElectLeaders needs ALTER on the cluster: CLUSTER_AUTHORIZATION_FAILED');
  const dirs = await raw.request<{ errorCode: number; results: unknown[] }>(35, 4, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: null });
  t.same([dirs.errorCode, dirs.results.length], [31, 0], 'DescribeLogDirs needs DESCRIBE on the cluster');
  const followerFetch = await raw.request<{ responses: Array<{ partitions: Array<{ errorCode: number }> }> }>(1, 12, FetchRequest, FetchResponse, {
    replicaId: 2,
    maxWaitMs: 0,
    minBytes: 0,
    topics: [{ topic: 'pay.eu', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }] }],
    forgottenTopicsData: [],
  });
  t.equal(followerFetch.responses[0]?.partitions[0]?.errorCode, 29, 'a follower fetch needs CLUSTER_ACTION, even on a topic the principal may read');
  const idempotent = await raw.request<{ errorCode: number; producerId: number }>(22, 4, InitProducerIdRequest, InitProducerIdResponse, { transactionalId: null, transactionTimeoutMs: 60000 });
  t.equal(idempotent.errorCode, 0, 'an idempotent producer id needs WRITE on some topic (the prefixed ACL on pay.)');

  const described = await admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  t.equal(described.resources.reduce((n, r) => n + r.acls.length, 0), 8, 'the super user lists every ACL');
});

t.test('kafka-acls adds, lists and removes ACLs; they survive a restart', async (t) => {
  if (!requireToolchain(t, await kafkaToolsAvailable(), 'Kafka tool jars or java not available')) return;
  const d = tempDir('spool-acl-tool-');
  t.teardown(d.cleanup);
  const lines: LogLine[] = [];
  let running = await start(d.dir, lines);
  t.teardown(() => running.stop());
  const props = join(d.dir, 'admin.properties');
  writeFileSync(props, 'client.id=admin-tool\n');
  const acls = async (args: string[]): Promise<string> => {
    const r = await runKafkaClass('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', running.bootstrap, '--command-config', props, ...args]);
    if (r.code !== 0) throw new Error(`kafka-acls ${args.join(' ')} exited with ${r.code}\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };

  const added = await acls(['--add', '--allow-principal', 'User:bob', '--operation', 'Read', '--operation', 'Describe', '--topic', 'reports', '--resource-pattern-type', 'prefixed', '--group', 'bob-']);
  t.match(added, /Adding ACLs for resource `ResourcePattern\(resourceType=TOPIC, name=reports, patternType=PREFIXED\)`/, 'kafka-acls --add');

  await running.stop();
  running = await start(d.dir, lines);
  const listed = await acls(['--list', '--topic', 'reports', '--resource-pattern-type', 'prefixed']);
  t.match(listed, /\(principal=User:bob, host=\*, operation=READ, permissionType=ALLOW\)/, 'after a restart, --list shows the ACL');
  t.match(listed, /\(principal=User:bob, host=\*, operation=DESCRIBE, permissionType=ALLOW\)/, 'and the second operation');

  await acls(['--remove', '--force', '--topic', 'reports', '--resource-pattern-type', 'prefixed', '--group', 'bob-']);
  const admin = client(running, 'admin').admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const left = await admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  t.same(left.resources, [], 'kafka-acls --remove deleted them all');
});
