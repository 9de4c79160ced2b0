// security tests: authorization that depends on more than the request's own names, over raw
// protocol connections whose principal the test chooses. Incremental fetch sessions (KIP-227):
// every partition of the session is authorized on every fetch (a revoked READ stops an open
// session, an empty incremental fetch reads nothing refused) and a session is its opener's alone.
// Also: Metadata by topic id with an empty name, WriteTxnMarkers (CLUSTER_ACTION only), the share
// group offset APIs, ConsumerGroupDescribe hiding groups assigned undescribable topics, and a
// malformed produce batch answered per partition instead of closing the connection.
//
// Principals: the dispatcher's onRequest hook gives each raw connection the principal the test
// registered for its local port; KafkaJS clients with client id "admin" act as User:admin (super user).
import kafkajs from 'kafkajs';
import t from 'tap';
import type { AclOperationTypes as Operation, AclPermissionTypes as Permission, AclResourceTypes as Resource, ResourcePatternTypes as Pattern } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from '../../src/protocol/messages/consumer-group-describe.js';
import { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../src/protocol/messages/consumer-group-heartbeat.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import {
  AlterShareGroupOffsetsRequest,
  AlterShareGroupOffsetsResponse,
  DeleteShareGroupOffsetsRequest,
  DeleteShareGroupOffsetsResponse,
  DescribeShareGroupOffsetsRequest,
  DescribeShareGroupOffsetsResponse,
} from '../../src/protocol/messages/share-group-offsets.js';
import { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from '../../src/protocol/messages/write-txn-markers.js';
import { RawClient, tempDir } from '../helpers/broker.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

const TOPIC_AUTHORIZATION_FAILED = 29;
const GROUP_AUTHORIZATION_FAILED = 30;
const CLUSTER_AUTHORIZATION_FAILED = 31;
const FETCH_SESSION_ID_NOT_FOUND = 70;

interface FetchPartitionOut {
  partitionIndex: number;
  errorCode: number;
  highWatermark: number;
  records: Buffer | null;
}
interface FetchOut {
  errorCode: number;
  sessionId: number;
  responses: Array<{ topic: string; partitions: FetchPartitionOut[] }>;
}

t.test('authorization of fetch sessions and of requests naming more than their topics', async (t) => {
  const d = tempDir('spool-acl-sessions-');
  const running: RunningBroker = await startBroker({
    dataDir: d.dir,
    port: 0,
    host: '127.0.0.1',
    config: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:admin' },
  });
  t.teardown(async () => {
    await running.stop();
    d.cleanup();
  });
  const byPort = new Map<number, string>();
  running.broker.dispatcher.addHook('onRequest', (ctx) => {
    const port = Number(ctx.clientHost.slice(ctx.clientHost.lastIndexOf(':') + 1));
    const name = ctx.clientId === 'admin' ? 'admin' : byPort.get(port);
    if (name !== undefined) ctx.security.principal = { principalType: 'User', name };
  });
  const connectAs = async (name: string): Promise<RawClient> => {
    const raw = await RawClient.connect(running.port);
    byPort.set(raw.socket.localPort ?? -1, name);
    t.teardown(() => raw.close());
    return raw;
  };

  const kafka = new Kafka({ clientId: 'admin', brokers: [running.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'open' }, { topic: 'revoked' }, { topic: 'closed' }, { topic: 'hidden' }] });
  const producer = kafka.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const produce = async (topic: string, value: string): Promise<void> => {
    await producer.send({ topic, messages: [{ value }] });
  };
  for (const topic of ['open', 'revoked', 'closed']) await produce(topic, `${topic}-1`);

  const acl = (resourceType: Resource, resourceName: string, principal: string, operation: Operation, permissionType: Permission = AclPermissionTypes.ALLOW, resourcePatternType: Pattern = ResourcePatternTypes.LITERAL) => ({
    resourceType,
    resourceName,
    resourcePatternType,
    principal,
    host: '*',
    operation,
    permissionType,
  });
  const readRevoked = acl(AclResourceTypes.TOPIC, 'revoked', 'User:alice', AclOperationTypes.READ);
  await admin.createAcls({
    acl: [
      acl(AclResourceTypes.TOPIC, 'open', 'User:alice', AclOperationTypes.READ),
      readRevoked,
      acl(AclResourceTypes.TOPIC, 'open', 'User:bob', AclOperationTypes.READ),
      // Metadata by id: alice may describe every topic but 'hidden'.
      acl(AclResourceTypes.TOPIC, '*', 'User:alice', AclOperationTypes.DESCRIBE),
      acl(AclResourceTypes.TOPIC, 'hidden', 'User:alice', AclOperationTypes.DESCRIBE, AclPermissionTypes.DENY),
      acl(AclResourceTypes.GROUP, 'sg', 'User:alice', AclOperationTypes.READ),
      acl(AclResourceTypes.CLUSTER, 'kafka-cluster', 'User:carol', AclOperationTypes.ALTER),
      acl(AclResourceTypes.TOPIC, 'open', 'User:carol', AclOperationTypes.WRITE),
    ],
  });
  // DESCRIBE on the consumer groups cg-*.
  await admin.createAcls({ acl: [acl(AclResourceTypes.GROUP, 'cg-', 'User:alice', AclOperationTypes.DESCRIBE, AclPermissionTypes.ALLOW, ResourcePatternTypes.PREFIXED)] });

  const alice = await connectAs('alice');
  const bob = await connectAs('bob');
  const fetch = (raw: RawClient, sessionId: number, sessionEpoch: number, topics: Array<{ topic: string; offset?: number }>): Promise<FetchOut> =>
    raw.request<FetchOut>(1, 12, FetchRequest, FetchResponse, {
      maxWaitMs: 0,
      minBytes: 0,
      sessionId,
      sessionEpoch,
      topics: topics.map((x) => ({ topic: x.topic, partitions: [{ partition: 0, fetchOffset: x.offset ?? 0, partitionMaxBytes: 1 << 20 }] })),
      forgottenTopicsData: [],
    });
  const partitionOf = (res: FetchOut, topic: string): FetchPartitionOut | undefined => res.responses.find((r) => r.topic === topic)?.partitions[0];
  const hasRecords = (p: FetchPartitionOut | undefined): boolean => p?.records !== null && p?.records !== undefined && p.records.length > 0;

  await t.test('an incremental fetch authorizes every partition of its session, on every fetch', async (t) => {
    const full = await fetch(alice, 0, 0, [{ topic: 'open' }, { topic: 'revoked' }, { topic: 'closed' }]);
    t.equal(full.errorCode, 0);
    t.not(full.sessionId, 0, 'the full fetch opened a session');
    t.ok(hasRecords(partitionOf(full, 'open')) && hasRecords(partitionOf(full, 'revoked')), 'READ on open and revoked: their records');
    t.equal(partitionOf(full, 'closed')?.errorCode, TOPIC_AUTHORIZATION_FAILED, 'no READ on closed: TOPIC_AUTHORIZATION_FAILED');
    t.notOk(hasRecords(partitionOf(full, 'closed')), 'and no records');
    const session = full.sessionId;

    // The session keeps closed (as Kafka's does) and answers it refused each time.
    await produce('closed', 'closed-2');
    const first = await fetch(alice, session, 1, []);
    t.same([first.errorCode, first.sessionId], [0, session], 'an empty incremental fetch goes on in the session');
    t.equal(partitionOf(first, 'closed')?.errorCode, TOPIC_AUTHORIZATION_FAILED, 'closed, in the session, is still refused');
    t.notOk(hasRecords(partitionOf(first, 'closed')), 'and its new records are not read');

    // READ on revoked is taken away: the open session stops serving it.
    await admin.deleteAcls({ filters: [readRevoked] });
    await produce('revoked', 'revoked-2');
    const afterRevoke = await fetch(alice, session, 2, [{ topic: 'revoked', offset: 1 }]);
    t.equal(partitionOf(afterRevoke, 'revoked')?.errorCode, TOPIC_AUTHORIZATION_FAILED, 'a revoked ACL refuses the partition in the live session');
    t.notOk(hasRecords(partitionOf(afterRevoke, 'revoked')), 'no records after the revocation');
    const empty = await fetch(alice, session, 3, []);
    t.equal(partitionOf(empty, 'revoked')?.errorCode, TOPIC_AUTHORIZATION_FAILED, 'also when the fetch names no topic at all');
    t.notOk(empty.responses.some((r) => r.partitions.some(hasRecords) && r.topic !== 'open'), 'no refused partition returns records');

    // Granted again: served again (its high-watermark was forgotten with the error).
    await admin.createAcls({ acl: [readRevoked] });
    const regranted = await fetch(alice, session, 4, []);
    const back = partitionOf(regranted, 'revoked');
    t.same([back?.errorCode, hasRecords(back)], [0, true], 'READ granted again: the session reads revoked again');

    // Another principal naming alice's session finds no such session, and does not disturb it.
    const stolen = await fetch(bob, session, 5, []);
    t.same([stolen.errorCode, stolen.responses.length], [FETCH_SESSION_ID_NOT_FOUND, 0], "bob using alice's session id: FETCH_SESSION_ID_NOT_FOUND");
    const closing = await fetch(bob, session, -1, []);
    t.equal(closing.errorCode, 0, 'a full fetch by bob naming the session is served (sessionless)');
    const still = await fetch(alice, session, 5, []);
    t.same([still.errorCode, still.sessionId], [0, session], "alice's session kept its epoch and was not closed by bob");
  });

  await t.test('a session whose partitions are all refused keeps its id and epochs', async (t) => {
    const full = await fetch(bob, 0, 0, [{ topic: 'closed' }]);
    t.equal(full.errorCode, 0);
    t.not(full.sessionId, 0, 'a session is opened');
    t.equal(partitionOf(full, 'closed')?.errorCode, TOPIC_AUTHORIZATION_FAILED);
    for (const epoch of [1, 2]) {
      const next = await fetch(bob, full.sessionId, epoch, []);
      t.same([next.errorCode, next.sessionId, partitionOf(next, 'closed')?.errorCode], [0, full.sessionId, TOPIC_AUTHORIZATION_FAILED], `epoch ${epoch}: same session, partition refused`);
    }
    const added = await fetch(bob, full.sessionId, 3, [{ topic: 'open' }]);
    t.ok(hasRecords(partitionOf(added, 'open')), 'an allowed partition added to the session is read');
    t.equal(partitionOf(added, 'closed')?.errorCode, TOPIC_AUTHORIZATION_FAILED, 'next to the refused one');

    // v13+ names topics by id: the same, through the topic ids.
    const closedId = running.broker.metadata.topic('closed')?.topicId;
    const byIds = (sessionId: number, sessionEpoch: number, topicIds: string[]): Promise<{ errorCode: number; sessionId: number; responses: Array<{ topicId: string; partitions: FetchPartitionOut[] }> }> =>
      bob.request(1, 16, FetchRequest, FetchResponse, {
        maxWaitMs: 0,
        minBytes: 0,
        sessionId,
        sessionEpoch,
        topics: topicIds.map((topicId) => ({ topicId, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] })),
        forgottenTopicsData: [],
      });
    const v16 = await byIds(0, 0, [closedId ?? '']);
    const v16next = await byIds(v16.sessionId, 1, []);
    t.same(
      [v16next.errorCode, v16next.sessionId, v16next.responses.map((r) => [r.topicId, r.partitions.map((p) => [p.errorCode, hasRecords(p)])])],
      [0, v16.sessionId, [[closedId, [[TOPIC_AUTHORIZATION_FAILED, false]]]]],
      'v16 (topic ids): the session partition is refused by id',
    );
  });

  await t.test('Metadata by topic id with an empty name is authorized on the topic it names', async (t) => {
    const described = await alice.request<{ topics: Array<{ errorCode: number; name: string | null; topicId: string }> }>(3, 12, MetadataRequest, MetadataResponse, {
      topics: [{ name: null, topicId: running.broker.metadata.topic('open')?.topicId }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    t.equal(described.topics[0]?.errorCode, 0, 'by id (null name): a topic alice may describe');
    const hiddenId = running.broker.metadata.topic('hidden')?.topicId;
    for (const name of [null, '']) {
      const res = await alice.request<{ topics: Array<{ errorCode: number; name: string | null; topicId: string }> }>(3, 12, MetadataRequest, MetadataResponse, {
        topics: [{ name, topicId: hiddenId }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      t.same(
        res.topics.map((x) => [x.errorCode, x.name, x.topicId]),
        [[TOPIC_AUTHORIZATION_FAILED, null, hiddenId]],
        `by id with name ${JSON.stringify(name)}: the DENY on hidden refuses it, without its name`,
      );
    }
  });

  await t.test('WriteTxnMarkers needs CLUSTER_ACTION; ALTER on the cluster is not enough', async (t) => {
    const carol = await connectAs('carol');
    const res = await carol.request<{ markers: Array<{ topics: Array<{ partitions: Array<{ errorCode: number }> }> }> }>(27, 1, WriteTxnMarkersRequest, WriteTxnMarkersResponse, {
      markers: [{ producerId: 1000, producerEpoch: 0, transactionResult: false, topics: [{ name: 'open', partitionIndexes: [0] }], coordinatorEpoch: 0 }],
    });
    t.equal(res.markers[0]?.topics[0]?.partitions[0]?.errorCode, CLUSTER_AUTHORIZATION_FAILED);
  });

  await t.test('share group offset APIs: Kafka\'s group and topic checks, answered in the response', async (t) => {
    const describe = await alice.request<{ groups: Array<{ groupId: string; errorCode: number }> }>(90, 1, DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, {
      groups: [{ groupId: 'other', topics: [{ topicName: 'open', partitions: [0] }] }],
    });
    t.same(describe.groups.map((g) => [g.groupId, g.errorCode]), [['other', GROUP_AUTHORIZATION_FAILED]], 'Describe: no DESCRIBE on the group');
    const alter = await alice.request<{ errorCode: number; responses: Array<{ topicName: string; partitions: Array<{ errorCode: number }> }> }>(
      91,
      0,
      AlterShareGroupOffsetsRequest,
      AlterShareGroupOffsetsResponse,
      { groupId: 'sg', topics: [{ topicName: 'closed', partitions: [{ partitionIndex: 0, startOffset: 0 }] }] },
    );
    t.same(
      [alter.errorCode, alter.responses.map((r) => [r.topicName, r.partitions.map((p) => p.errorCode)])],
      [0, [['closed', [TOPIC_AUTHORIZATION_FAILED]]]],
      'Alter: READ on the group, none on the topic',
    );
    const alterOther = await alice.request<{ errorCode: number }>(91, 0, AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse, { groupId: 'other', topics: [] });
    t.equal(alterOther.errorCode, GROUP_AUTHORIZATION_FAILED, 'Alter: no READ on the group');
    const del = await alice.request<{ errorCode: number }>(92, 0, DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse, { groupId: 'sg', topics: [{ topicName: 'open' }] });
    t.equal(del.errorCode, GROUP_AUTHORIZATION_FAILED, 'Delete: READ on the group is not DELETE');
  });

  await t.test('ConsumerGroupDescribe hides a group assigned a topic the principal may not describe', async (t) => {
    const member = await connectAs('admin');
    // FindCoordinator (through the admin client) creates __consumer_offsets.
    await admin.describeGroups(['cg-open']);
    for (const [groupId, topic] of [
      ['cg-hidden', 'hidden'],
      ['cg-open', 'open'],
    ] as const) {
      let errorCode = -1;
      // Bounded: the coordinator may still be loading (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
      for (let attempt = 0; attempt < 50; attempt++) {
        const hb = await member.request<{ errorCode: number }>(68, 0, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, {
          groupId,
          memberId: '',
          memberEpoch: 0,
          rebalanceTimeoutMs: 30000,
          subscribedTopicNames: [topic],
          topicPartitions: [],
        });
        errorCode = hb.errorCode;
        if (errorCode !== 16 && errorCode !== 14) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      t.equal(errorCode, 0, `a member joins ${groupId}`);
    }
    const res = await alice.request<{ groups: Array<{ groupId: string; errorCode: number; errorMessage: string | null; members: unknown[] }> }>(
      69,
      0,
      ConsumerGroupDescribeRequest,
      ConsumerGroupDescribeResponse,
      { groupIds: ['cg-hidden', 'cg-open'], includeAuthorizedOperations: false },
    );
    const byId = new Map(res.groups.map((g) => [g.groupId, g]));
    t.same([byId.get('cg-hidden')?.errorCode, byId.get('cg-hidden')?.members.length], [TOPIC_AUTHORIZATION_FAILED, 0], 'the group assigned hidden: TOPIC_AUTHORIZATION_FAILED, no members');
    t.match(byId.get('cg-hidden')?.errorMessage, /not authorized to describe/);
    t.same([byId.get('cg-open')?.errorCode, byId.get('cg-open')?.members.length], [0, 1], 'the group assigned open is described');
  });

  await t.test('a malformed produce batch is answered per partition, the connection stays open', async (t) => {
    const carol = await connectAs('carol');
    const garbage = Buffer.alloc(80, 0xff);
    const res = await carol.request<{ responses: Array<{ partitionResponses: Array<{ errorCode: number }> }> }>(0, 9, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'open', partitionData: [{ index: 0, records: garbage }] }],
    });
    const code = res.responses[0]?.partitionResponses[0]?.errorCode;
    t.type(code, 'number', 'the partition is answered');
    t.not(code, 0, `and refused by the handler's validation (error ${String(code)})`);
    const again = await fetch(carol, 0, -1, []);
    t.equal(again.errorCode, 0, 'the connection still answers');
  });
});
