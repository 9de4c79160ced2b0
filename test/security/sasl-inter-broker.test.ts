// security tests (issue 14): SASL between brokers. In-process brokers sharing one etcd (one etcd for
// the file, one key prefix per cluster), clients (KafkaJS) on a PLAINTEXT listener, brokers on an
// INTERNAL listener named in inter.broker.listener.name:
//  - SASL_PLAINTEXT with SCRAM-SHA-512, 3 brokers: the broker user's SCRAM credential is created
//    with AlterUserScramCredentials (Spool keeps SCRAM credentials in the metadata store, etcd: the
//    counterpart of Kafka's `kafka-storage format --add-scram`), a topic with RF=3 takes an acks=all
//    produce, every follower holds every record, the leader sees the followers as User:broker;
//    connections.max.reauth.ms makes the sessions expire and the fetchers re-authenticate (KIP-368)
//    on the same connections, which keep replicating; after the leader is stopped a KafkaJS consumer
//    reads every record in order from the new leader;
//  - SASL_SSL with PLAIN, 2 brokers, ACLs on: the follower's fetches are refused until User:broker
//    is granted CLUSTER_ACTION on the cluster (or is a super user, the usual setup), then it catches
//    up; acks=all produce, the follower holds every record, over TLS;
//  - a broker whose inter-broker password is wrong: its replica stays out of the ISR, it logs an
//    error and retries with a growing backoff, the other two keep replicating.
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { Broker } from '../../src/broker.js';
import { BrokerConnection } from '../../src/network/index.js';
import { ApiKey } from '../../src/protocol/index.js';
import { saltPassword } from '../../src/security/sasl/index.js';
import { tempDir } from '../helpers/broker.js';
import { EtcdServer, findEtcd, reportMissingEtcd } from '../helpers/etcd.js';
import { createTestPki, opensslAvailable } from '../helpers/tls.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;

const SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";';
const plainJaas = (password: string): string =>
  `org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="${password}" user_broker="broker-secret";`;

/** Polls `check` every 50 ms until it holds; bounded by `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface LoggedLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface TestCluster {
  brokers: Broker[];
  logs: Map<number, LoggedLine[]>;
  bootstrap: string[];
}

const bin = findEtcd();
const tlsOk = opensslAvailable();
if (bin === null) {
  reportMissingEtcd(t);
} else if (!tlsOk && process.env.CI === 'true') {
  t.fail('openssl is missing');
} else {
  const etcd = await EtcdServer.start(bin);
  t.teardown(() => etcd.stop());
  const d = tempDir('spool-sasl-ib-');
  t.teardown(d.cleanup);

  /** Starts brokers 1..n on etcd under `prefix`; `config(id)` adds each one's settings. */
  const startCluster = async (t: { teardown(fn: () => unknown): unknown }, prefix: string, n: number, config: (id: number) => Record<string, string | number>): Promise<TestCluster> => {
    const cluster: TestCluster = { brokers: [], logs: new Map(), bootstrap: [] };
    t.teardown(async () => {
      for (const b of cluster.brokers) await b.stop();
    });
    for (let id = 1; id <= n; id++) {
      const lines: LoggedLine[] = [];
      cluster.logs.set(id, lines);
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LoggedLine) });
      const broker = new Broker({
        env: {},
        logger,
        overrides: {
          'node.id': id,
          'log.dirs': join(d.dir, prefix, `broker-${id}`),
          'spool.etcd.endpoints': etcd.endpoint,
          'spool.etcd.prefix': prefix,
          'broker.session.timeout.ms': 3000,
          'spool.admin.listeners': '',
          listeners: 'PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0',
          'inter.broker.listener.name': 'INTERNAL',
          'replica.fetch.wait.max.ms': 100,
          'replica.fetch.backoff.ms': 100,
          'replica.lag.time.max.ms': 2000,
          'offsets.topic.replication.factor': 1,
          'offsets.topic.num.partitions': 1,
          'group.initial.rebalance.delay.ms': 0,
          ...config(id),
        },
      });
      await broker.start();
      cluster.brokers.push(broker);
      cluster.bootstrap.push(`127.0.0.1:${broker.listenerPorts.get('PLAINTEXT') ?? 0}`);
    }
    await waitFor('every broker registered', () => cluster.brokers.every((b) => b.metadata.brokers().length === n));
    return cluster;
  };

  const kafkaFor = (cluster: TestCluster, clientId: string): InstanceType<typeof Kafka> => new Kafka({ brokers: cluster.bootstrap, clientId, logLevel: logLevel.NOTHING });

  const produce = async (cluster: TestCluster, topic: string, from: number, count: number, partition = 0, acks = -1): Promise<void> => {
    const producer = kafkaFor(cluster, 'sasl-ib-producer').producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks, timeout: 20_000, messages: Array.from({ length: count }, (_, i) => ({ partition, key: `k${from + i}`, value: `v${from + i}` })) });
    } finally {
      await producer.disconnect();
    }
  };

  /** RF = the number of brokers; Spool places the replicas (manual assignments are not taken). */
  const createTopic = async (cluster: TestCluster, topic: string, partitions = 1): Promise<void> => {
    const admin = kafkaFor(cluster, 'sasl-ib-admin').admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: partitions, replicationFactor: cluster.brokers.length, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
      });
    } finally {
      await admin.disconnect();
    }
  };

  const leo = (b: Broker, topic: string, partition = 0): number => b.replicaManager.getPartition(topic, partition)?.logEndOffset ?? -1;
  const internalConnections = (b: Broker) => b.connections().filter((c) => c.security.listenerName === 'INTERNAL');
  const leaderOf = (cluster: TestCluster, topic: string, partition = 0): Broker => {
    const id = cluster.brokers[0].metadata.partition(topic, partition)?.leader;
    const leader = cluster.brokers.find((b) => b.nodeId === id);
    if (leader === undefined) throw new Error(`no live leader for ${topic}`);
    return leader;
  };

  t.test('3 brokers replicate over SASL_PLAINTEXT with SCRAM-SHA-512, re-authenticate, survive a leader stop', async (t) => {
    const cluster = await startCluster(t, `scram${process.pid}`, 3, () => ({
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      'listener.name.internal.sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.internal.scram-sha-512.sasl.jaas.config': SCRAM_JAAS,
      // KIP-368: sessions end after 2 s; the fetchers must re-authenticate before then.
      'connections.max.reauth.ms': 2000,
    }));
    // The broker user's credential, through the Kafka API (what kafka-configs --alter --add-config 'SCRAM-SHA-512=[...]' sends).
    const conn = await BrokerConnection.open({ host: '127.0.0.1', port: cluster.brokers[0].listenerPorts.get('PLAINTEXT') ?? 0, clientId: 'scram-admin', maxResponseBytes: 1 << 20, connectTimeoutMs: 5000 });
    const salt = Buffer.from('sasl-inter-broker-salt');
    const altered = await conn.request(
      ApiKey.AlterUserScramCredentials,
      0,
      { deletions: [], upsertions: [{ name: 'broker', mechanism: 2, iterations: 4096, salt, saltedPassword: saltPassword('SCRAM-SHA-512', 'broker-secret', salt, 4096) }] },
      10_000,
    );
    conn.close();
    t.same(altered.results.map((r) => [r.user, r.errorCode]), [['broker', 0]], 'SCRAM-SHA-512 credential for User:broker created');

    await createTopic(cluster, 'scram-rf3');
    await produce(cluster, 'scram-rf3', 0, 30);
    t.pass('acks=all produce of 30 records answered with RF=3');
    await waitFor('every replica holds 30 records', () => cluster.brokers.every((b) => leo(b, 'scram-rf3') === 30));
    const leader = leaderOf(cluster, 'scram-rf3');
    const fetchers = internalConnections(leader);
    t.ok(fetchers.length >= 2, 'the followers connected to the leader on INTERNAL');
    t.ok(
      fetchers.every((c) => c.security.securityProtocol === 'SASL_PLAINTEXT' && c.security.authenticated && c.security.principal.name === 'broker'),
      'as User:broker, authenticated with SASL',
    );

    // Re-authentication: the same connections get a later session expiry and keep fetching.
    const before = new Map(fetchers.map((c) => [c.connectionId, c.security.sessionExpiresAtMs ?? 0]));
    t.ok([...before.values()].every((at) => at > 0), 'the sessions have a lifetime (connections.max.reauth.ms)');
    await waitFor(
      'the followers re-authenticated on the same connections',
      () => {
        const now = new Map(internalConnections(leader).map((c) => [c.connectionId, c.security.sessionExpiresAtMs ?? 0]));
        return [...before].filter(([id, at]) => (now.get(id) ?? 0) > at).length >= 2;
      },
      10_000,
    );
    t.pass('the followers re-authenticated (KIP-368) on their connections: later session expiry, same connection ids');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await produce(cluster, 'scram-rf3', 30, 20);
    await waitFor('every replica holds 50 records after the first sessions ended', () => cluster.brokers.every((b) => leo(b, 'scram-rf3') === 50));
    const expired = [...cluster.logs.values()].flat().filter((l) => l.msg.includes('SASL session expired'));
    t.same(expired, [], 'no connection was closed for an expired session');
    const authErrors = [...cluster.logs.values()].flat().filter((l) => l.level >= 50);
    t.same(authErrors.map((l) => l.msg), [], 'nothing logged at error level');

    // The leader stops; the new leader (an in-sync follower) serves every record, in order.
    const at = cluster.brokers.indexOf(leader);
    await leader.stop();
    cluster.brokers.splice(at, 1);
    cluster.bootstrap.splice(at, 1);
    await waitFor('a new leader', () => {
      const p = cluster.brokers[0].metadata.partition('scram-rf3', 0);
      return p !== undefined && p.leader !== leader.nodeId && p.leader > 0;
    });
    const consumer = kafkaFor(cluster, 'sasl-ib-consumer').consumer({ groupId: 'sasl-ib-group', maxWaitTimeInMs: 100 });
    await consumer.connect();
    t.teardown(() => consumer.disconnect());
    await consumer.subscribe({ topic: 'scram-rf3', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachMessage: ({ message }) => {
        seen.push(`${message.offset}:${message.value?.toString() ?? ''}`);
        return Promise.resolve();
      },
    });
    await waitFor('the consumer read 50 records', () => seen.length >= 50, 20_000);
    t.same(seen, Array.from({ length: 50 }, (_, i) => `${i}:v${i}`), 'every record, in order, from the new leader');
  });

  t.test('2 brokers replicate over SASL_SSL with PLAIN, authorized by CLUSTER_ACTION for User:broker', { skip: tlsOk ? false : 'openssl is missing' }, async (t) => {
    const pki = createTestPki('spool-sasl-ib-tls-');
    t.teardown(() => pki.cleanup());
    const cert = pki.issue('broker', '/O=Spool Test/CN=localhost', { serverNames: ['localhost', '127.0.0.1'] });
    const cluster = await startCluster(t, `plainssl${process.pid}`, 2, () => ({
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL',
      'sasl.mechanism.inter.broker.protocol': 'PLAIN',
      'listener.name.internal.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.internal.plain.sasl.jaas.config': plainJaas('broker-secret'),
      'listener.name.internal.ssl.keystore.type': 'PEM',
      'listener.name.internal.ssl.keystore.location': cert.keystoreFile,
      'listener.name.internal.ssl.truststore.type': 'PEM',
      'listener.name.internal.ssl.truststore.location': pki.caCertFile,
      // ACLs on; the test's clients (PLAINTEXT, User:ANONYMOUS) are the administrators. User:broker is
      // not a super user here: follower fetches need the CLUSTER_ACTION ACL granted below.
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
    }));
    await createTopic(cluster, 'plain-ssl');
    const leader = leaderOf(cluster, 'plain-ssl');
    const follower = cluster.brokers.find((b) => b !== leader) ?? leader;
    await produce(cluster, 'plain-ssl', 0, 25, 0, 1);
    const denied = (): boolean =>
      (cluster.logs.get(leader.nodeId) ?? []).some((l) => l.principal === 'User:broker' && l.msg.includes('is Denied') && (l.api === 'Fetch' || l.api === 'OffsetForLeaderEpoch'));
    // As Kafka: OffsetForLeaderEpoch checks CLUSTER_ACTION quietly, then logs the TOPIC DESCRIBE it falls back to.
    await waitFor('the leader denies the follower (User:broker has no CLUSTER_ACTION)', denied);
    t.pass('without an ACL, the leader refuses User:broker\'s follower requests');
    t.equal(leo(follower, 'plain-ssl'), 0, 'and the follower holds nothing');

    const admin = kafkaFor(cluster, 'sasl-ib-acl').admin();
    await admin.connect();
    await admin.createAcls({
      acl: [
        {
          resourceType: AclResourceTypes.CLUSTER,
          resourceName: 'kafka-cluster',
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:broker',
          host: '*',
          operation: AclOperationTypes.CLUSTER_ACTION,
          permissionType: AclPermissionTypes.ALLOW,
        },
      ],
    });
    await admin.disconnect();
    await waitFor('the follower holds 25 records', () => leo(follower, 'plain-ssl') === 25);
    t.equal(leo(follower, 'plain-ssl'), 25, 'with CLUSTER_ACTION granted to User:broker the follower catches up to 25');
    await waitFor('the follower is back in the ISR', () => leader.metadata.partition('plain-ssl', 0)?.isr.length === 2);
    await produce(cluster, 'plain-ssl', 25, 5);
    t.pass('acks=all produce answered: the follower fetched over SASL_SSL');
    await waitFor('the follower holds 30 records', () => leo(follower, 'plain-ssl') === 30);
    const fetchers = internalConnections(leader);
    t.ok(fetchers.length > 0, 'the follower connected to the leader on INTERNAL');
    t.ok(
      fetchers.every((c) => c.security.securityProtocol === 'SASL_SSL' && c.security.authenticated && c.security.principal.name === 'broker'),
      'over SASL_SSL as User:broker',
    );
  });

  t.test('a broker with the wrong inter-broker password cannot replicate; the others continue', async (t) => {
    const cluster = await startCluster(t, `wrong${process.pid}`, 3, (id) => ({
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT',
      'sasl.mechanism.inter.broker.protocol': 'PLAIN',
      'listener.name.internal.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.internal.plain.sasl.jaas.config': plainJaas(id === 3 ? 'not-the-secret' : 'broker-secret'),
    }));
    // Three partitions: broker 3 leads one of them (its followers authenticate to it fine); the others are led by 1 and 2.
    await createTopic(cluster, 'wrong-pw', 3);
    const p = [0, 1, 2].find((i) => leaderOf(cluster, 'wrong-pw', i).nodeId !== 3) ?? 0;
    const leader = leaderOf(cluster, 'wrong-pw', p);
    const [, healthy, wrong] = [leader, ...cluster.brokers.filter((b) => b !== leader)].sort((a, b) => (a === leader ? -1 : b === leader ? 1 : a.nodeId - b.nodeId));
    t.equal(wrong.nodeId, 3, `partition ${p} is led by broker ${leader.nodeId}, followed by brokers ${healthy.nodeId} and 3`);
    // acks=all is answered once the leader drops broker 3 from the ISR (replica.lag.time.max.ms).
    await produce(cluster, 'wrong-pw', 0, 20, p);
    await waitFor(`broker ${healthy.nodeId} holds 20 records`, () => leo(healthy, 'wrong-pw', p) === 20);
    const isr = (): number[] => [...(cluster.brokers[0].metadata.partition('wrong-pw', p)?.isr ?? [])].sort();
    await waitFor('broker 3 leaves the ISR', () => !isr().includes(3));
    t.same(isr(), [leader.nodeId, healthy.nodeId].sort(), 'broker 3 is out of the ISR');
    t.equal(leo(wrong, 'wrong-pw', p), 0, 'broker 3 holds nothing');
    const failures = (): LoggedLine[] => (cluster.logs.get(3) ?? []).filter((l) => l.level >= 50 && l.leaderId === leader.nodeId && l.msg.includes('SASL authentication to the leader failed'));
    await waitFor('broker 3 logged two failed authentications to the leader', () => failures().length >= 2);
    const errors = failures();
    t.match(String(errors[0].err), /Authentication failed|invalid credentials/i, 'with the leader\'s reason');
    t.ok(Number(errors[1].backoffMs) > Number(errors[0].backoffMs), 'and backs off longer each time');
    t.ok((cluster.logs.get(leader.nodeId) ?? []).some((l) => l.msg === 'Failed authentication'), 'the leader logged the failed authentication');
    await produce(cluster, 'wrong-pw', 20, 10, p);
    await waitFor(`broker ${healthy.nodeId} holds 30 records`, () => leo(healthy, 'wrong-pw', p) === 30);
    t.equal(leo(wrong, 'wrong-pw', p), 0, 'broker 3 still holds nothing, and is still running');
  });
}
