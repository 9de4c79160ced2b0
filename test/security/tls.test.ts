// security room tests, listeners and TLS with KafkaJS: one broker with four listeners at once —
// PLAINTEXT, SSL (ssl.client.auth=none), MTLS (listener.name.mtls.ssl.client.auth=required) and
// REQUESTED (ssl.client.auth=requested) — produce and consume over TLS with content and offsets
// checked, Metadata, DescribeCluster and FindCoordinator answering each listener's own advertised
// address, the client certificate's subject as the principal, a client without a certificate
// refused, certificate reload without restart, TLS and plaintext clients on the wrong port
// refused while the broker keeps serving; and two brokers replicating over an SSL inter-broker
// listener with mTLS.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { Broker } from '../../src/broker.js';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { BrokerConnection } from '../../src/network/index.js';
import { ApiKey } from '../../src/protocol/index.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';
import { createTestPki, opensslAvailable } from '../helpers/tls.js';

const { Kafka, logLevel } = kafkajs;

if (!opensslAvailable()) {
  if (process.env.CI === 'true') t.fail('openssl is missing');
  else t.plan(0, 'openssl is missing');
}

const pki = createTestPki();
t.teardown(() => pki.cleanup());
const server = pki.issue('broker', '/O=Spool Test/CN=localhost', { serverNames: ['localhost', '127.0.0.1'] });
const alice = pki.issue('alice', '/C=DE/O=Spool Test/OU=Clients, East/CN=alice');

/** Polls `check` every 50 ms until it holds; bounded by `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Opens a TLS connection and returns the leaf certificate's serial, or the error. */
function handshake(port: number, opts: { cert?: string; key?: string } = {}): Promise<{ serial: string; socket: TLSSocket } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connectTls({ host: '127.0.0.1', port, ca: pki.caCert, servername: 'localhost', ...opts }, () => {
      // TLS 1.3: a refused client certificate is reported after the handshake; give it a moment.
      setTimeout(() => {
        if (socket.destroyed) return;
        resolve({ serial: socket.getPeerX509Certificate()?.serialNumber ?? '', socket });
      }, 200);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.on('close', () => resolve({ error: 'closed' }));
  });
}

interface MetadataBrokers {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
}

async function metadataBrokers(port: number, tls: boolean): Promise<MetadataBrokers['brokers']> {
  const c = await BrokerConnection.open({
    host: '127.0.0.1',
    port,
    clientId: 'tls-test',
    maxResponseBytes: 1 << 20,
    connectTimeoutMs: 5000,
    ...(tls ? { tls: { ca: pki.caCert, servername: 'localhost' } } : {}),
  });
  try {
    const md = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 5000);
    return md.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port }));
  } finally {
    c.close();
  }
}

t.test('PLAINTEXT, SSL and mTLS listeners on one broker', async (t) => {
  const d = tempDir('spool-tls-');
  let running: RunningBroker | null = null;
  t.teardown(async () => {
    await running?.stop();
    d.cleanup();
  });
  running = await startBroker({
    dataDir: d.dir,
    config: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0,REQUESTED://127.0.0.1:0',
      // Each listener advertises a different host, so the answers tell which listener was asked.
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:0,SSL://localhost:0,MTLS://localhost:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,REQUESTED:SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': server.keystoreFile,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': pki.caCertFile,
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.requested.ssl.client.auth': 'requested',
      'spool.ssl.reload.check.interval.ms': 100,
      'group.initial.rebalance.delay.ms': 0,
      'offsets.topic.num.partitions': 1,
    },
  });
  const ports = running.listeners;
  const plainPort = running.port;
  t.equal(plainPort, ports.PLAINTEXT, 'the embedding API port is the PLAINTEXT listener');
  t.ok(ports.SSL > 0 && ports.MTLS > 0 && new Set([ports.PLAINTEXT, ports.SSL, ports.MTLS]).size === 3, 'every listener is bound on its own port');

  await t.test('KafkaJS produces and consumes over SSL: content and offsets', async (t) => {
    const kafka = new Kafka({
      brokers: [`localhost:${ports.SSL}`],
      clientId: 'tls-kafkajs',
      ssl: { ca: [pki.caCert] },
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tls-orders', numPartitions: 2 }] });
    const cluster = await admin.describeCluster();
    t.same(cluster.brokers.map((b) => `${b.host}:${b.port}`), [`localhost:${ports.SSL}`], 'DescribeCluster on SSL answers the SSL advertised address');
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 200 }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: `tls-value-${i}-${'x'.repeat(i % 50)}` }));
    const acks = await producer.send({ topic: 'tls-orders', acks: -1, messages: sent });
    t.same(acks.map((a) => [a.partition, a.baseOffset]).sort(), [[0, '0'], [1, '0']], 'both partitions start at offset 0');
    await producer.disconnect();

    // A consumer group: FindCoordinator must hand back the SSL address, or joining fails.
    const consumer = kafka.consumer({ groupId: 'tls-group', sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'tls-orders', fromBeginning: true });
    const got: Array<{ partition: number; offset: string; key: string; value: string }> = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
        return Promise.resolve();
      },
    });
    await waitFor('200 records consumed', () => got.length >= 200, 30_000);
    await consumer.disconnect();
    for (const p of [0, 1]) {
      const mine = got.filter((r) => r.partition === p);
      const expected = sent.filter((r) => r.partition === p);
      t.same(mine.map((r) => r.offset), expected.map((_, i) => String(i)), `partition ${p}: offsets 0..${expected.length - 1} in order`);
      t.same(mine.map((r) => [r.key, r.value]), expected.map((r) => [r.key, r.value]), `partition ${p}: keys and values as sent`);
    }
    const sslConnections = running.broker.connections().filter((c) => c.security.listenerName === 'SSL');
    t.ok(
      sslConnections.every((c) => c.security.securityProtocol === 'SSL' && c.security.principal.name === 'ANONYMOUS' && c.security.authenticated),
      'SSL connections without a client certificate are User:ANONYMOUS, authenticated',
    );
  });

  await t.test('Metadata answers each listener with its own advertised address', async (t) => {
    t.same(await metadataBrokers(plainPort, false), [{ nodeId: 1, host: '127.0.0.1', port: plainPort }], 'on PLAINTEXT: the PLAINTEXT address');
    t.same(await metadataBrokers(ports.SSL, true), [{ nodeId: 1, host: 'localhost', port: ports.SSL }], 'on SSL: the SSL address');
    const registration = running.broker.metadata.brokers()[0];
    t.same(
      registration.endpoints?.map((e) => `${e.name}=${e.securityProtocol}@${e.host}:${e.port}`),
      [`PLAINTEXT=PLAINTEXT@127.0.0.1:${plainPort}`, `SSL=SSL@localhost:${ports.SSL}`, `MTLS=SSL@localhost:${ports.MTLS}`, `REQUESTED=SSL@127.0.0.1:${ports.REQUESTED}`],
      'the broker registration carries every listener endpoint',
    );
  });

  await t.test('mTLS: the client certificate subject is the principal; no certificate is refused', async (t) => {
    const kafka = new Kafka({
      brokers: [`localhost:${ports.MTLS}`],
      clientId: 'mtls-kafkajs',
      ssl: { ca: [pki.caCert], key: alice.key, cert: alice.cert },
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100 },
    });
    const producer = kafka.producer();
    await producer.connect();
    const [ack] = await producer.send({ topic: 'tls-orders', messages: [{ partition: 0, value: 'from-alice' }] });
    t.equal(ack.errorCode, 0, 'alice produces over mTLS');
    const mtls = running.broker.connections().filter((c) => c.security.listenerName === 'MTLS');
    t.ok(mtls.length > 0, 'alice is connected on MTLS');
    t.equal(alice.subject, 'CN=alice,OU=Clients\\, East,O=Spool Test,C=DE', 'openssl writes the RFC 2253 subject');
    t.ok(
      mtls.every((c) => c.security.principal.principalType === 'User' && c.security.principal.name === alice.subject),
      `the principal is User:${alice.subject}`,
    );
    await producer.disconnect();

    const anonymous = new Kafka({
      brokers: [`localhost:${ports.MTLS}`],
      clientId: 'no-cert',
      ssl: { ca: [pki.caCert] },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 3000,
    });
    const refused = anonymous.producer();
    await t.rejects(refused.connect(), 'a client without a certificate cannot connect');
    await refused.disconnect().catch(() => undefined);
    const stranger = createTestPki('spool-tls-stranger-');
    t.teardown(() => stranger.cleanup());
    const mallory = stranger.issue('mallory', '/CN=mallory');
    const r = await handshake(ports.MTLS, { key: mallory.key, cert: mallory.cert });
    t.ok('error' in r, 'a certificate from an untrusted CA is refused');
  });

  await t.test('ssl.client.auth=requested: a certificate makes the principal, none is ANONYMOUS, an untrusted one is refused', async (t) => {
    const principals = (): string[] =>
      running.broker
        .connections()
        .filter((c) => c.security.listenerName === 'REQUESTED')
        .map((c) => c.security.principal.name)
        .sort();
    const withCert = await handshake(ports.REQUESTED, { key: alice.key, cert: alice.cert });
    const without = await handshake(ports.REQUESTED);
    t.ok('socket' in withCert && 'socket' in without, 'both connect');
    await waitFor('both connections registered', () => principals().length === 2);
    t.same(principals(), ['ANONYMOUS', alice.subject].sort(), 'alice is herself, the client without a certificate is ANONYMOUS');
    for (const r of [withCert, without]) if ('socket' in r) r.socket.destroy();
    const stranger = createTestPki('spool-tls-stranger2-');
    t.teardown(() => stranger.cleanup());
    const eve = stranger.issue('eve', '/CN=eve');
    const untrusted = await handshake(ports.REQUESTED, { key: eve.key, cert: eve.cert });
    t.ok('error' in untrusted, 'a certificate from an untrusted CA is refused, not treated as ANONYMOUS');
  });

  await t.test('a TLS client on the PLAINTEXT port and a plaintext client on the SSL port fail cleanly', async (t) => {
    const tlsOnPlain = await handshake(plainPort);
    t.ok('error' in tlsOnPlain, 'TLS against PLAINTEXT fails');
    const raw = await RawClient.connect(ports.SSL);
    raw.socket.write(Buffer.from('000000120003000c00000001000474657374', 'hex'));
    t.equal(await raw.nextFrame(5000), null, 'a plaintext Kafka request on SSL gets the connection closed, no answer');
    raw.close();
    t.same(await metadataBrokers(plainPort, false), [{ nodeId: 1, host: '127.0.0.1', port: plainPort }], 'PLAINTEXT still serves');
    t.same(await metadataBrokers(ports.SSL, true), [{ nodeId: 1, host: 'localhost', port: ports.SSL }], 'SSL still serves');
  });

  await t.test('a new keystore is served to new connections without restart; open ones keep working', async (t) => {
    const before = await handshake(ports.SSL);
    if (!('serial' in before)) throw new Error(`handshake failed: ${before.error}`);
    const renewed = pki.issue('broker-renewed', '/O=Spool Test/CN=localhost', { serverNames: ['localhost', '127.0.0.1'] });
    t.not(renewed.cert, server.cert, 'a new certificate');
    // Replaced the way certificate tooling does: a new file renamed over the old one.
    const next = join(pki.dir, 'next.keystore.pem');
    writeFileSync(next, renewed.keystore);
    renameSync(next, server.keystoreFile);
    const renewedSerial = new (await import('node:crypto')).X509Certificate(renewed.cert).serialNumber;
    let seen = '';
    await waitFor('the renewed certificate on a new connection', async () => {
      const r = await handshake(ports.SSL);
      if ('serial' in r) {
        seen = r.serial;
        r.socket.destroy();
      }
      return seen === renewedSerial;
    });
    t.equal(seen, renewedSerial, 'new connections get the renewed certificate');
    t.not(before.serial, renewedSerial, 'the first connection had the old one');
    t.equal(before.socket.destroyed, false, 'the connection opened before the reload is still open');
    before.socket.destroy();
    t.same(await metadataBrokers(ports.SSL, true), [{ nodeId: 1, host: 'localhost', port: ports.SSL }], 'requests go on over SSL');
    // A broken file keeps the previous certificate.
    writeFileSync(server.keystoreFile, 'not a keystore');
    t.same(running.broker.reloadTls(), [], 'a keystore that does not load is not taken');
    const after = await handshake(ports.SSL);
    t.ok('serial' in after && after.serial === renewedSerial, 'the previous certificate stays in use');
    if ('socket' in after) after.socket.destroy();
    writeFileSync(server.keystoreFile, renewed.keystore);
  });
});

t.test('two brokers replicate over an SSL inter-broker listener with mTLS', async (t) => {
  const d = tempDir('spool-tls-ib-');
  const store = new FakeMetadataStore();
  const logger = pino({ level: process.env.SPOOL_TEST_LOG_LEVEL ?? 'silent' });
  const brokers: Broker[] = [];
  t.teardown(async () => {
    for (const b of brokers) await b.stop();
    d.cleanup();
  });
  const certs = [1, 2].map((id) => pki.issue(`node-${id}`, `/O=Spool Test/OU=Brokers/CN=broker-${id}`, { serverNames: ['localhost', '127.0.0.1'] }));
  for (const id of [1, 2]) {
    const broker = new Broker({
      env: {},
      logger,
      metadataStore: store,
      overrides: {
        'node.id': id,
        'log.dirs': join(d.dir, `broker-${id}`),
        listeners: 'PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SSL',
        'inter.broker.listener.name': 'INTERNAL',
        'listener.name.internal.ssl.keystore.type': 'PEM',
        'listener.name.internal.ssl.keystore.location': certs[id - 1].keystoreFile,
        'listener.name.internal.ssl.truststore.type': 'PEM',
        'listener.name.internal.ssl.truststore.location': pki.caCertFile,
        'listener.name.internal.ssl.client.auth': 'required',
        'replica.fetch.wait.max.ms': 100,
        'replica.fetch.backoff.ms': 50,
      },
    });
    await broker.start();
    brokers.push(broker);
  }
  await store.addTopic('replicated', 1, { replicas: [1, 2], isr: [1, 2], leader: 1 });
  const kafka = new Kafka({ brokers: [`127.0.0.1:${brokers[0].listenerPorts.get('PLAINTEXT') ?? 0}`], clientId: 'ib', logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const [ack] = await producer.send({ topic: 'replicated', acks: -1, messages: Array.from({ length: 50 }, (_, i) => ({ value: `r${i}` })) });
  await producer.disconnect();
  t.equal(ack.errorCode, 0, 'acks=all is answered: the follower fetched over TLS');
  const follower = brokers[1].replicaManager.getPartition('replicated', 0);
  await waitFor('the follower holds every record', () => (follower?.logEndOffset ?? 0) >= 50);
  t.equal(follower?.logEndOffset, 50, 'the follower log ends at 50');
  const fetchers = brokers[0].connections().filter((c) => c.security.listenerName === 'INTERNAL');
  t.ok(fetchers.length > 0, 'the follower connected to the leader on the INTERNAL listener');
  t.ok(
    fetchers.every((c) => c.security.securityProtocol === 'SSL' && c.security.principal.name === certs[1].subject),
    `as User:${certs[1].subject} (its keystore is the client certificate)`,
  );
});
