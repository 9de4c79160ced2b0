// security room unit tests: listeners, advertised.listeners, listener.security.protocol.map and
// the inter-broker listener parsed as Kafka does, with a clear start error for each mistake; and
// the ssl.* settings (per-listener overrides, keystore and truststore problems) refused at start.
import t from 'tap';
import { brokerEndpoint } from '../../src/cluster/index.js';
import { decodeBroker, encodeBroker } from '../../src/cluster/etcd-keys.js';
import { BrokerConfig } from '../../src/config/index.js';
import { loadServerTls, rfc2253Subject } from '../../src/network/index.js';
import { startBroker } from '../../src/index.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { createTestPki, opensslAvailable } from '../helpers/tls.js';
import { X509Certificate } from 'node:crypto';

const config = (overrides: Record<string, string>): BrokerConfig => new BrokerConfig({ env: {}, overrides });

t.test('listeners, advertised.listeners and the protocol map', async (t) => {
  const c = config({
    listeners: 'PLAINTEXT://127.0.0.1:9092,ssl://0.0.0.0:9093,INTERNAL://[::1]:9094,CONTROLLER://:9095',
    'advertised.listeners': 'SSL://kafka.example.com:19093',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,INTERNAL:SSL,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'internal',
  });
  t.same(
    c.listeners(),
    [
      { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' },
      { name: 'SSL', host: '0.0.0.0', port: 9093, securityProtocol: 'SSL' },
      { name: 'INTERNAL', host: '::1', port: 9094, securityProtocol: 'SSL' },
    ],
    'names upper-cased as Kafka normalises them; CONTROLLER is not served',
  );
  t.same(
    c.advertisedListeners().map((l) => `${l.name}@${l.host}:${l.port}`),
    ['PLAINTEXT@127.0.0.1:9092', 'SSL@kafka.example.com:19093', 'INTERNAL@::1:9094'],
    'advertised by name; a listener not advertised gives its own address',
  );
  t.equal(c.interBrokerListener().name, 'INTERNAL');
  t.same(c.listener(), { host: '127.0.0.1', port: 9092 }, 'the primary listener is PLAINTEXT');
  t.equal(config({ listeners: 'SSL://:9093' }).listeners()[0].securityProtocol, 'SSL', "Kafka's default map knows SSL");
  t.equal(config({ listeners: 'EXTERNAL://:9093', 'listener.security.protocol.map': 'EXTERNAL:PLAINTEXT' }).interBrokerListener().name, 'EXTERNAL', 'one listener: it carries inter-broker traffic');

  const refused: Array<[Record<string, string>, RegExp, string]> = [
    [{ listeners: 'PLAINTEXT://:9092,plaintext://:9093' }, /listeners.*each listener must have a different name; PLAINTEXT is listed twice/, 'duplicate names'],
    [{ listeners: 'PLAINTEXT://:9092,SSL://:9092' }, /each listener must have a different port; PLAINTEXT and SSL both use 9092/, 'duplicate ports'],
    [{ listeners: 'INTERNAL://:9092' }, /no security protocol defined for listener INTERNAL/, 'missing map entry'],
    [{ 'listener.security.protocol.map': 'PLAINTEXT:TLS' }, /listener\.security\.protocol\.map.*unknown security protocol TLS/, 'unknown protocol'],
    [{ 'listener.security.protocol.map': 'PLAINTEXT' }, /listener\.security\.protocol\.map.*not NAME:PROTOCOL/, 'malformed map'],
    [{ listeners: 'PLAINTEXT://:9092', 'advertised.listeners': 'SSL://x:9093' }, /advertised\.listeners.*listener SSL is not in listeners/, 'advertised name not a listener'],
    [{ listeners: 'PLAINTEXT://:9092', 'inter.broker.listener.name': 'REPLICATION' }, /inter\.broker\.listener\.name.*must be a listener name defined in listeners/, 'unknown inter-broker listener'],
    [{ 'inter.broker.listener.name': 'PLAINTEXT', 'security.inter.broker.protocol': 'PLAINTEXT' }, /only one of inter\.broker\.listener\.name and security\.inter\.broker\.protocol/, 'both inter-broker settings'],
    [{ listeners: 'PLAINTEXT://:9092', 'security.inter.broker.protocol': 'SSL' }, /needs a listener named SSL/, 'inter-broker protocol without its listener'],
    [{ listeners: 'CONTROLLER://:9093' }, /listeners.*needs a client listener/, 'only a controller listener'],
    [{ 'ssl.client.auth': 'want' }, /ssl\.client\.auth: must be one of none, requested, required/, 'ssl.client.auth values'],
    [{ 'listener.name.ssl.ssl.enabled.protocols': 'SSLv3' }, /ssl\.enabled\.protocols: must be one of TLSv1\.2, TLSv1\.3/, 'per-listener values are validated'],
  ];
  for (const [overrides, pattern, what] of refused) t.throws(() => config(overrides), pattern, what);
});

t.test('ssl.* settings: per-listener overrides and start errors', async (t) => {
  if (!opensslAvailable()) {
    if (process.env.CI === 'true') t.fail('openssl is missing');
    return;
  }
  const pki = createTestPki();
  t.teardown(() => pki.cleanup());
  const cert = pki.issue('srv', '/CN=localhost', { serverNames: ['localhost'] });
  const c = config({
    listeners: 'SSL://:9093,MTLS://:9094',
    'listener.security.protocol.map': 'SSL:SSL,MTLS:SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': cert.keystoreFile,
    'listener.name.mtls.ssl.client.auth': 'required',
    'listener.name.MTLS.ssl.truststore.type': 'PEM',
    'listener.name.mtls.ssl.truststore.certificates': pki.caCert,
  });
  t.equal(c.sslSettings('SSL').clientAuth, 'none');
  t.equal(c.sslSettings('MTLS').clientAuth, 'required', 'listener.name.<name>.ssl.* overrides ssl.* for that listener only');
  t.equal(c.sslSettings('MTLS').keystoreLocation, cert.keystoreFile, 'and falls back to ssl.*');
  t.equal(c.unknownKeys.length, 0, 'per-listener ssl settings are known');
  const loaded = loadServerTls(c.sslSettings('MTLS'));
  t.same(loaded.files, [cert.keystoreFile], 'the keystore file is watched (inline certificates are not files)');
  t.equal(loadServerTls({ ...c.sslSettings('SSL'), keystoreLocation: null, keystoreKey: cert.key, keystoreCertificateChain: cert.cert }).files.length, 0, 'inline ssl.keystore.key + certificate chain');

  const startError = async (overrides: Record<string, string>): Promise<string> => {
    const d = tempDir('spool-tls-cfg-');
    try {
      const b = await startBroker({ dataDir: d.dir, config: { listeners: 'SSL://127.0.0.1:0', 'spool.admin.listeners': '', ...overrides } });
      await b.stop();
      return 'started';
    } catch (err) {
      return (err as Error).message;
    } finally {
      d.cleanup();
    }
  };
  t.match(await startError({}), /listener SSL: ssl\.keystore\.location.*needs a keystore/, 'an SSL listener without a keystore does not start');
  t.match(await startError({ 'ssl.keystore.location': '/etc/kafka/server.jks' }), /JKS keystores are not supported by Spool; use ssl\.keystore\.type=PEM/, 'a JKS keystore is refused');
  t.match(
    await startError({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': cert.keystoreFile, 'ssl.client.auth': 'required' }),
    /ssl\.client\.auth=required needs a truststore/,
    'client authentication without a truststore is refused',
  );
  t.match(await startError({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': '/nonexistent.pem' }), /cannot read \/nonexistent\.pem/, 'a missing keystore file');
  t.equal(rfc2253Subject(new X509Certificate(cert.cert)), 'CN=localhost', 'subject of a one-RDN certificate');
});

t.test('broker registrations carry every listener endpoint, in etcd too', async (t) => {
  const endpoints = [
    { name: 'PLAINTEXT', host: '10.0.0.5', port: 9092, securityProtocol: 'PLAINTEXT' },
    { name: 'SSL', host: 'kafka-1.example.com', port: 9093, securityProtocol: 'SSL' },
  ];
  const record = { nodeId: 1, host: '10.0.0.5', port: 9092, rack: null, endpoints };
  t.same(decodeBroker(encodeBroker(record)), record, 'the etcd record round-trips its endpoints');
  const old = decodeBroker('{"nodeId":2,"host":"h","port":1,"rack":null}');
  t.same(old, { nodeId: 2, host: 'h', port: 1, rack: null }, 'a record written before listeners still decodes');
  const reg = { ...record, epoch: 0 };
  t.same(brokerEndpoint(reg, 'SSL'), { host: 'kafka-1.example.com', port: 9093 }, 'the address on a listener');
  t.equal(brokerEndpoint(reg, 'INTERNAL'), null, 'no such listener: left out, as Kafka does');
  t.same(brokerEndpoint({ ...old, epoch: 0 }, 'SSL'), { host: 'h', port: 1 }, 'a registration without endpoints answers every listener');
});

t.test('max.connections counts the connections of every listener together, as Kafka', async (t) => {
  const d = tempDir('spool-listeners-');
  const b = await startBroker({
    dataDir: d.dir,
    config: { listeners: 'PLAINTEXT://127.0.0.1:0,OTHER://127.0.0.1:0', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT', 'max.connections': 1 },
  });
  t.teardown(async () => {
    await b.stop();
    d.cleanup();
  });
  const first = await RawClient.connect(b.listeners.PLAINTEXT);
  t.teardown(() => first.close());
  const deadline = Date.now() + 5000;
  while (b.broker.connections().length < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(b.broker.connections().map((c) => c.security.listenerName), ['PLAINTEXT'], 'one connection, on PLAINTEXT');
  const second = await RawClient.connect(b.listeners.OTHER);
  await second.closed;
  t.pass('a connection to the other listener beyond max.connections is closed');
  t.same(b.broker.connections().map((c) => c.security.listenerName), ['PLAINTEXT'], 'the first stays open');
});
