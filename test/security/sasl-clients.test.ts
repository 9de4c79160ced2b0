// security tests (issue 14): real clients over SASL_SSL (TLS + SCRAM) with KIP-368 re-authentication on
// (connections.max.reauth.ms=1500) — Kafka's kafka-configs.sh (ConfigCommand) creates SCRAM
// credentials through AlterUserScramCredentials and lists them (DescribeClientQuotas, which finds no
// quota, then DescribeUserScramCredentials; setting a quota fails: AlterClientQuotas is not served),
// KafkaJS then uses them (SCRAM-SHA-256), the Java client (kafka-clients) produces across a
// re-authentication and
// reads back over SCRAM-SHA-512, a wrong password gets the Java client's
// SaslAuthenticationException, librdkafka (confluent-kafka) round-trips over SCRAM-SHA-256, and a
// raw connection that does not re-authenticate is closed on its first request after expiry.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
} from '../../src/protocol/messages/scram-credentials.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { interopDir, isStale, parseLastJson, requireToolchain, run, works } from '../interop/common.js';
import { kafkaJarsDir, kafkaToolsAvailable, runKafkaClass } from '../interop/kafka-tools.js';
import { createTestPki, opensslAvailable } from '../helpers/tls.js';
import { authenticate, handshake, login, plainToken, saltedPassword } from './sasl-helpers.js';

const { Kafka, logLevel } = kafkajs;
const REAUTH_MS = 1500;

if (!opensslAvailable()) {
  if (process.env.CI === 'true') t.fail('openssl is needed for the SASL_SSL listener');
  else t.plan(0, 'openssl is not installed');
  process.exit(process.env.CI === 'true' ? 1 : 0);
}
const pki = createTestPki();
const server = pki.issue('broker', '/O=Spool Test/CN=localhost', { serverNames: ['localhost', '127.0.0.1'] });
const dir = tempDir('spool-sasl-clients-');
const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': server.keystoreFile,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret" user_mallory="mallory-secret";',
    'connections.max.reauth.ms': REAUTH_MS,
  },
});
const plainBootstrap = `127.0.0.1:${running.broker.listenerPorts.get('PLAINTEXT') ?? 0}`;
const saslPort = running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0;
/** The real clients use SASL_SSL (TLS + SCRAM); raw protocol checks use SASL_PLAINTEXT. */
const sslBootstrap = `127.0.0.1:${running.broker.listenerPorts.get('SASL_SSL') ?? 0}`;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
  pki.cleanup();
});

const javaDir = join(interopDir, 'java');
const classesDir = join(javaDir, 'target', 'classes');
const javaSource = join(javaDir, 'src', 'main', 'java', 'spool', 'interop', 'SaslClient.java');
const javaReady = (await kafkaToolsAvailable()) && existsSync(join(javaDir, 'target', 'dependency')) && (await works('javac', ['-version']));

function jaas(module: 'plain' | 'scram', user: string, password: string): string {
  const cls = module === 'plain' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule';
  return `${cls} required username="${user}" password="${password}";`;
}

function clientProperties(name: string, mechanism: string, user: string, password: string): string {
  const file = join(dir.dir, `${name}.properties`);
  writeFileSync(
    file,
    ['security.protocol=SASL_SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCertFile}`, `sasl.mechanism=${mechanism}`, `sasl.jaas.config=${jaas(mechanism === 'PLAIN' ? 'plain' : 'scram', user, password)}`].join('\n') + '\n',
  );
  return file;
}

async function javaClient(args: string[]): Promise<unknown> {
  const r = await run('java', ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-cp', `${classesDir}:${join(javaDir, 'target', 'dependency')}/*`, 'spool.interop.SaslClient', ...args], {
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`SaslClient exited ${r.code}\n${r.stderr.slice(-3000)}`);
  return parseLastJson(r.stdout);
}

await t.test('kafka-configs.sh creates SCRAM credentials; KafkaJS authenticates with them over SASL_SSL and re-authenticates', async (t) => {
  if (!requireToolchain(t, javaReady, `Kafka's tools and a JDK (${kafkaJarsDir})`)) return;
  const alter = await runKafkaClass('org.apache.kafka.tools.ConfigCommand', [
    '--bootstrap-server',
    plainBootstrap,
    '--alter',
    '--add-config',
    'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]',
    '--entity-type',
    'users',
    '--entity-name',
    'alice',
  ]);
  t.equal(alter.code, 0, `kafka-configs --alter: ${alter.stderr.slice(-2000)}`);
  t.match(alter.stdout, /Completed updating config for user alice/);
  // kafka-configs --describe for users asks DescribeClientQuotas (Spool has no quotas) and then
  // DescribeUserScramCredentials, for one user and for all of them.
  const scramLine = "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096";
  for (const named of [['--entity-name', 'alice'], []]) {
    const describe = await runKafkaClass('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', plainBootstrap, '--describe', '--entity-type', 'users', ...named]);
    t.equal(describe.code, 0, `kafka-configs --describe --entity-type users ${named.join(' ')}: ${describe.stderr.slice(-2000)}`);
    t.ok(describe.stdout.includes(scramLine), `kafka-configs --describe ${named.join(' ')} prints alice's SCRAM credentials:\n${describe.stdout}`);
    t.notMatch(describe.stdout, /Quota configs/, 'and no quota (Spool enforces none)');
  }
  // AlterClientQuotas is not served: setting a quota fails instead of being stored and ignored.
  const quota = await runKafkaClass('org.apache.kafka.tools.ConfigCommand', [
    '--bootstrap-server',
    plainBootstrap,
    '--alter',
    '--add-config',
    'producer_byte_rate=1024',
    '--entity-type',
    'users',
    '--entity-name',
    'alice',
  ]);
  t.not(quota.code, 0, 'kafka-configs --alter of a quota fails');
  t.match(`${quota.stdout}\n${quota.stderr}`, /UnsupportedVersionException: The node does not support ALTER_CLIENT_QUOTAS/, `the failure names the unsupported API:\n${quota.stderr.slice(-1500)}`);
  const raw = await RawClient.connect(running.broker.listenerPorts.get('PLAINTEXT') ?? 0);
  const described = await raw.request<{ results: Array<{ user: string; errorCode: number; credentialInfos: Array<{ mechanism: number; iterations: number }> }> }>(
    ApiKey.DescribeUserScramCredentials,
    0,
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
    { users: [{ name: 'alice' }] },
  );
  raw.close();
  t.same(described.results, [
    {
      user: 'alice',
      errorCode: 0,
      errorMessage: null,
      credentialInfos: [
        { mechanism: 1, iterations: 8192 },
        { mechanism: 2, iterations: 4096 },
      ],
    },
  ]);

  const kafka = new Kafka({
    clientId: 'sasl-clients-kafkajs',
    brokers: [sslBootstrap],
    ssl: { ca: [pki.caCert] },
    sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kafkajs-scram', numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  // Sessions last 1.5 s: KafkaJS re-authenticates on the same connection before later requests.
  for (let i = 0; i < 2; i++) {
    const [r] = await producer.send({ topic: 'kafkajs-scram', messages: [{ key: `k${i}`, value: `v${i}` }] });
    t.equal(r.baseOffset, String(i));
    if (i < 1) await new Promise((resolve) => setTimeout(resolve, REAUTH_MS + 200));
  }
  await producer.disconnect();
  const offsets = await admin.fetchTopicOffsets('kafkajs-scram');
  t.equal(offsets[0].high, '2');
  await admin.disconnect();
});

await t.test('the Java client over SASL_SSL with SCRAM-SHA-512 keeps working across re-authentications; a wrong password is refused', async (t) => {
  if (!requireToolchain(t, javaReady, `a JDK and the Java interop build (${javaDir}/target/dependency)`)) return;
  const classFile = join(classesDir, 'spool', 'interop', 'SaslClient.class');
  if (isStale(classFile, [javaSource])) {
    mkdirSync(classesDir, { recursive: true });
    const c = await run('javac', ['--release', '17', '-encoding', 'UTF-8', '-cp', `${join(javaDir, 'target', 'dependency')}/*`, '-d', classesDir, javaSource]);
    t.equal(c.code, 0, `javac SaslClient: ${c.stderr}`);
  }
  const props = clientProperties('java-scram', 'SCRAM-SHA-512', 'alice', 'alice-secret');
  const out = (await javaClient(['roundtrip', sslBootstrap, props, 'java-scram', '4', '2', String(REAUTH_MS + 700)])) as {
    offsets: number[];
    consumed: Array<{ offset: number; key: string; value: string }>;
    reauthentications: number;
  };
  t.same(out.offsets, Array.from({ length: 8 }, (_, i) => i), 'every send acknowledged at the next offset');
  t.same(
    out.consumed,
    Array.from({ length: 8 }, (_, i) => ({ offset: i, key: `k${i}`, value: `v${i}` })),
    'every record read back',
  );
  t.ok(out.reauthentications >= 1, `the producer re-authenticated (${out.reauthentications} times)`);

  const bad = clientProperties('java-bad', 'SCRAM-SHA-512', 'alice', 'not-her-password');
  const denied = (await javaClient(['denied', sslBootstrap, bad, '-', '0', '0', '0'])) as { error: string | null; message: string | null };
  t.equal(denied.error, 'SaslAuthenticationException');
  t.match(denied.message ?? '', /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/);
});

const python = process.env.PYTHON ?? 'python3';
const librdkafkaScript = `
import json, sys
from confluent_kafka import Producer, Consumer
conf = {'bootstrap.servers': sys.argv[1], 'security.protocol': 'SASL_SSL', 'ssl.ca.location': sys.argv[4], 'sasl.mechanism': 'SCRAM-SHA-256',
        'sasl.username': sys.argv[2], 'sasl.password': sys.argv[3]}
p = Producer(dict(conf))
offsets = []
def done(err, msg):
    offsets.append(None if err else msg.offset())
for i in range(5):
    p.produce('librdkafka-scram', key=b'k%d' % i, value=b'v%d' % i, on_delivery=done)
p.flush(30)
c = Consumer(dict(conf, **{'group.id': 'librdkafka-scram', 'auto.offset.reset': 'earliest'}))
c.subscribe(['librdkafka-scram'])
got = []
for _ in range(60):
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    got.append({'offset': m.offset(), 'key': m.key().decode(), 'value': m.value().decode()})
    if len(got) == 5:
        break
c.close()
print(json.dumps({'offsets': offsets, 'consumed': got}))
`;

await t.test('librdkafka (confluent-kafka) over SASL_SSL with SCRAM-SHA-256', async (t) => {
  if (!requireToolchain(t, await works(python, ['-c', 'import confluent_kafka']), 'confluent-kafka for python3')) return;
  // Its own user, created over the PLAINTEXT listener with AlterUserScramCredentials.
  const admin = await RawClient.connect(running.broker.listenerPorts.get('PLAINTEXT') ?? 0);
  const salt = Buffer.from('librdkafka-test-salt');
  const created = await admin.request<{ results: Array<{ errorCode: number }> }>(
    ApiKey.AlterUserScramCredentials,
    0,
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
    { deletions: [], upsertions: [{ name: 'rdk', mechanism: 1, iterations: 4096, salt, saltedPassword: saltedPassword('SCRAM-SHA-256', 'rdk-secret', salt, 4096) }] },
  );
  admin.close();
  t.equal(created.results[0].errorCode, 0);
  const r = await run(python, ['-c', librdkafkaScript, sslBootstrap, 'rdk', 'rdk-secret', pki.caCertFile], { timeoutMs: 90_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));
  const out = parseLastJson(r.stdout) as { offsets: number[]; consumed: unknown[] };
  t.same(out.offsets, [0, 1, 2, 3, 4]);
  t.same(
    out.consumed,
    Array.from({ length: 5 }, (_, i) => ({ offset: i, key: `k${i}`, value: `v${i}` })),
  );
});

await t.test('KIP-368: a session ends after connections.max.reauth.ms unless re-authenticated, with the same principal', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const first = await login(c, 'PLAIN', 'bob', 'bob-secret');
  t.equal(first.errorCode, 0);
  t.equal(first.sessionLifetimeMs, REAUTH_MS, 'SaslAuthenticate v2 carries the session lifetime');
  const v0 = await RawClient.connect(saslPort);
  t.teardown(() => v0.close());
  t.equal((await handshake(v0, 'PLAIN')).errorCode, 0);
  const old = await authenticate(v0, plainToken('bob', 'bob-secret'), 0);
  t.equal(old.errorCode, 0, 'SaslAuthenticate v0 works too (no lifetime field)');

  // Re-authentication on the same connection: handshake + authenticate again.
  const again = await login(c, 'PLAIN', 'bob', 'bob-secret');
  t.equal(again.errorCode, 0, 're-authenticated');
  t.equal(again.sessionLifetimeMs, REAUTH_MS);
  let id = c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
  t.ok((await c.receive<{ brokers: unknown[] }>(MetadataResponse, 1, id, ApiKey.Metadata)).brokers.length >= 1, 'served after re-authentication');
  // A different mechanism or principal is refused.
  const other = await login(c, 'PLAIN', 'mallory', 'mallory-secret');
  t.equal(other.errorCode, 58);
  t.equal(other.errorMessage, 'Cannot change principals during re-authentication from User.bob: User.mallory');

  // No re-authentication: the next request after expiry closes the connection.
  const lazy = await RawClient.connect(saslPort);
  t.teardown(() => lazy.close());
  t.equal((await login(lazy, 'PLAIN', 'bob', 'bob-secret')).errorCode, 0);
  id = lazy.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
  await lazy.receive(MetadataResponse, 1, id, ApiKey.Metadata);
  await new Promise((resolve) => setTimeout(resolve, REAUTH_MS + 300));
  lazy.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
  t.equal(await lazy.nextFrame(), null, 'closed: session expired');
});
