// security tests (issue 14): SASL on a SASL_PLAINTEXT listener next to a PLAINTEXT one, with
// KafkaJS and raw protocol clients — SCRAM-SHA-256/512 credentials created with
// AlterUserScramCredentials and listed with DescribeUserScramCredentials, KafkaJS producing and
// consuming over SCRAM-SHA-256, PLAIN and OAUTHBEARER (RS256 and ES256 JWTs checked against a JWKS
// file), and Kafka's refusals: wrong password (SASL_AUTHENTICATION_FAILED), expired or unsigned
// token, a request before authentication (connection closed), SaslHandshake on a PLAINTEXT
// listener (ILLEGAL_SASL_STATE), an unknown mechanism (UNSUPPORTED_SASL_MECHANISM).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import kafkajs from 'kafkajs';
import t, { type Test } from 'tap';
import { startBroker } from '../../src/index.js';
import { BrokerConnection } from '../../src/network/index.js';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
} from '../../src/protocol/messages/scram-credentials.js';
import { saslClientAuthenticate } from '../../src/security/sasl/index.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { authenticate, handshake, jwt, login, oauthToken, saltedPassword, testKeys, type ScramMech } from './sasl-helpers.js';

const { Kafka, logLevel } = kafkajs;

const dir = tempDir('spool-sasl-');
const keys = testKeys();
const jwksFile = join(dir.dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(keys.jwks));
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'spool';

const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_bob="bob-secret";',
    'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(jwksFile).href,
    'sasl.oauthbearer.expected.audience': AUDIENCE,
    'sasl.oauthbearer.expected.issuer': ISSUER,
  },
});
const plainPort = running.broker.listenerPorts.get('PLAINTEXT') ?? 0;
const saslPort = running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0;
const saslBootstrap = `127.0.0.1:${saslPort}`;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
});

interface Upsertion {
  name: string;
  mechanism: number;
  iterations: number;
  salt: Buffer;
  saltedPassword: Buffer;
}
function upsertion(name: string, mech: ScramMech, password: string, iterations = 4096): Upsertion {
  const salt = randomBytes(24);
  return { name, mechanism: mech === 'SCRAM-SHA-256' ? 1 : 2, iterations, salt, saltedPassword: saltedPassword(mech, password, salt, iterations) };
}

interface AlterAnswer {
  results: Array<{ user: string; errorCode: number; errorMessage: string | null }>;
}
interface DescribeAnswer {
  errorCode: number;
  results: Array<{ user: string; errorCode: number; errorMessage: string | null; credentialInfos: Array<{ mechanism: number; iterations: number }> }>;
}

async function alter(c: RawClient, upsertions: Upsertion[], deletions: Array<{ name: string; mechanism: number }> = []): Promise<AlterAnswer> {
  return c.request<AlterAnswer>(ApiKey.AlterUserScramCredentials, 0, AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, { upsertions, deletions });
}

async function describe(c: RawClient, users: string[] | null): Promise<DescribeAnswer> {
  return c.request<DescribeAnswer>(
    ApiKey.DescribeUserScramCredentials,
    0,
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
    { users: users === null ? null : users.map((name) => ({ name })) },
  );
}

function metadataRequest(c: RawClient): number {
  return c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
}

await t.test('SaslHandshake and SaslAuthenticate on a PLAINTEXT listener answer ILLEGAL_SASL_STATE', async (t) => {
  const c = await RawClient.connect(plainPort);
  t.teardown(() => c.close());
  const h = await handshake(c, 'PLAIN');
  t.equal(h.errorCode, 34, 'ILLEGAL_SASL_STATE');
  t.same(h.mechanisms, []);
  const a = await authenticate(c, Buffer.from('x'));
  t.equal(a.errorCode, 34);
  t.equal(a.errorMessage, 'SaslAuthenticate request received after successful authentication');
  // The connection keeps serving.
  const id = metadataRequest(c);
  const md = await c.receive<{ brokers: unknown[] }>(MetadataResponse, 1, id, ApiKey.Metadata);
  t.ok(md.brokers.length >= 1);
});

await t.test('a request other than ApiVersions/SaslHandshake/SaslAuthenticate before authenticating closes the connection', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const av = await c.request<{ errorCode: number }>(ApiKey.ApiVersions, 3, ApiVersionsRequest, ApiVersionsResponse, {
    clientSoftwareName: 'raw',
    clientSoftwareVersion: '1',
  });
  t.equal(av.errorCode, 0, 'ApiVersions is served before authentication');
  metadataRequest(c);
  t.equal(await c.nextFrame(), null, 'Metadata before authentication: closed without an answer');
});

await t.test('an unknown mechanism is refused with UNSUPPORTED_SASL_MECHANISM and the enabled list', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const h = await handshake(c, 'GSSAPI');
  t.equal(h.errorCode, 33);
  t.same(h.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER']);
  metadataRequest(c);
  t.equal(await c.nextFrame(), null, 'closed afterwards');
});

await t.test('SCRAM credentials: AlterUserScramCredentials and DescribeUserScramCredentials with Kafka\'s errors', async (t) => {
  const c = await RawClient.connect(plainPort);
  t.teardown(() => c.close());
  const r = await alter(c, [upsertion('alice', 'SCRAM-SHA-256', 'alice-secret'), upsertion('alice', 'SCRAM-SHA-512', 'alice-secret', 8192), upsertion('carol', 'SCRAM-SHA-512', 'carol-secret')]);
  t.same(r.results, [
    { user: 'alice', errorCode: 0, errorMessage: null },
    { user: 'carol', errorCode: 0, errorMessage: null },
  ]);
  const d = await describe(c, ['alice', 'nobody', 'carol', 'carol']);
  t.same(d.results.find((x) => x.user === 'alice'), {
    user: 'alice',
    errorCode: 0,
    errorMessage: null,
    credentialInfos: [
      { mechanism: 1, iterations: 4096 },
      { mechanism: 2, iterations: 8192 },
    ],
  });
  t.same(d.results.find((x) => x.user === 'nobody'), {
    user: 'nobody',
    errorCode: 91,
    errorMessage: 'Attempt to describe a user credential that does not exist: nobody',
    credentialInfos: [],
  });
  t.equal(d.results.find((x) => x.user === 'carol')?.errorCode, 92, 'DUPLICATE_RESOURCE for a user named twice');
  const all = await describe(c, null);
  t.same(all.results.map((x) => x.user).sort(), ['alice', 'carol']);

  const bad = await alter(c, [upsertion('dave', 'SCRAM-SHA-256', 'x', 1000), { ...upsertion('erin', 'SCRAM-SHA-256', 'x'), mechanism: 7 }, upsertion('', 'SCRAM-SHA-256', 'x')], [
    { name: 'frank', mechanism: 1 },
  ]);
  const byUser = new Map(bad.results.map((x) => [x.user, x]));
  t.same(byUser.get('dave'), { user: 'dave', errorCode: 93, errorMessage: 'Too few iterations' });
  t.same(byUser.get('erin'), { user: 'erin', errorCode: 33, errorMessage: 'Unknown SCRAM mechanism' });
  t.same(byUser.get(''), { user: '', errorCode: 93, errorMessage: 'Username must not be empty' });
  t.same(byUser.get('frank'), { user: 'frank', errorCode: 91, errorMessage: 'Attempt to delete a user credential that does not exist' });

  // Delete carol's only credential: she is gone.
  const del = await alter(c, [], [{ name: 'carol', mechanism: 2 }]);
  t.same(del.results, [{ user: 'carol', errorCode: 0, errorMessage: null }]);
  t.same((await describe(c, null)).results.map((x) => x.user), ['alice']);
});

function client(clientId: string, sasl: kafkajs.SASLOptions): kafkajs.Kafka {
  return new Kafka({ clientId, brokers: [saslBootstrap], sasl, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

/** Produces `count` keyed records to a fresh topic and reads them back with a group; checks content and offsets. */
async function roundTrip(t: Test, kafka: kafkajs.Kafka, topic: string, count: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const sent = await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `v${i}-${topic}` })) });
  t.equal(sent[0].baseOffset, '0');
  await producer.disconnect();
  const offsets = await admin.fetchTopicOffsets(topic);
  t.equal(offsets[0].high, String(count), 'high watermark');
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `g-${topic}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: Array<{ offset: string; key: string; value: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${count}`)), 30_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          got.push({ offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          if (got.length === count) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  t.same(
    got,
    Array.from({ length: count }, (_, i) => ({ offset: String(i), key: `k${i}`, value: `v${i}-${topic}` })),
    'every record back, in order, with its offset',
  );
}

await t.test('KafkaJS over SCRAM-SHA-256: produce and consume', async (t) => {
  await roundTrip(t, client('scram', { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' }), 'sasl-scram', 20);
});

await t.test('KafkaJS over SCRAM-SHA-512 and PLAIN', async (t) => {
  await roundTrip(t, client('plain', { mechanism: 'plain', username: 'bob', password: 'bob-secret' }), 'sasl-plain', 10);
  const admin = client('scram512', { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' }).admin();
  await admin.connect();
  t.ok((await admin.listTopics()).includes('sasl-plain'));
  await admin.disconnect();
});

await t.test('wrong credentials are refused with SASL_AUTHENTICATION_FAILED and Kafka\'s messages', async (t) => {
  const admin = client('bad', { mechanism: 'scram-sha-256', username: 'alice', password: 'wrong' }).admin();
  await t.rejects(admin.connect(), { name: 'KafkaJSSASLAuthenticationError' });
  await admin.disconnect();

  const cases: Array<[string, string, string, string]> = [
    ['PLAIN', 'bob', 'wrong', 'Authentication failed: Invalid username or password'],
    ['PLAIN', 'nobody', 'x', 'Authentication failed: Invalid username or password'],
    ['SCRAM-SHA-256', 'alice', 'wrong', 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256'],
    ['SCRAM-SHA-512', 'nobody', 'x', 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512'],
  ];
  for (const [mechanism, user, password, message] of cases) {
    const c = await RawClient.connect(saslPort);
    const a = await login(c, mechanism, user, password);
    t.equal(a.errorCode, 58, `${mechanism} ${user}: SASL_AUTHENTICATION_FAILED`);
    t.equal(a.errorMessage, message);
    metadataRequest(c);
    t.equal(await c.nextFrame(), null, 'closed on the next request');
    c.close();
  }

  // And the right ones work on raw connections too, SCRAM's server signature checked.
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const ok = await login(c, 'SCRAM-SHA-512', 'alice', 'alice-secret');
  t.equal(ok.errorCode, 0);
  t.match(ok.authBytes.toString(), /^v=/);
  t.equal(ok.sessionLifetimeMs, 0, 'no connections.max.reauth.ms: no session lifetime');
  const id = metadataRequest(c);
  t.ok((await c.receive<{ brokers: unknown[] }>(MetadataResponse, 1, id, ApiKey.Metadata)).brokers.length >= 1);
});

const now = (): number => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ sub: 'svc-reporting', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600, ...extra });

await t.test('OAUTHBEARER: KafkaJS with an RS256 JWT; ES256 accepted; expired, unsigned, foreign-key and wrong-audience tokens refused', async (t) => {
  const token = jwt(claims(), keys.rsa, 'RS256', 'rsa-1');
  const kafka = client('oauth', { mechanism: 'oauthbearer', oauthBearerProvider: () => Promise.resolve({ value: token }) });
  await roundTrip(t, kafka, 'sasl-oauth', 5);

  const ok = await RawClient.connect(saslPort);
  t.teardown(() => ok.close());
  t.equal((await handshake(ok, 'OAUTHBEARER')).errorCode, 0);
  const es = await authenticate(ok, oauthToken(jwt(claims(), keys.ec, 'ES256', 'ec-1')));
  t.equal(es.errorCode, 0, 'ES256 token accepted');
  t.ok(es.sessionLifetimeMs > 500_000 && es.sessionLifetimeMs <= 600_000, 'session lifetime follows the token expiry');

  const refused: Array<[string, string]> = [
    ['expired', jwt(claims({ exp: now() - 120, iat: now() - 720 }), keys.rsa, 'RS256', 'rsa-1')],
    ['unsigned', jwt(claims(), null, 'none')],
    ['foreign key', jwt(claims(), keys.stranger, 'RS256', 'rsa-1')],
    ['wrong audience', jwt(claims({ aud: 'someone-else' }), keys.rsa, 'RS256', 'rsa-1')],
    ['wrong issuer', jwt(claims({ iss: 'https://evil.test' }), keys.rsa, 'RS256', 'rsa-1')],
    ['no sub', jwt(claims({ sub: undefined }), keys.rsa, 'RS256', 'rsa-1')],
  ];
  for (const [what, bad] of refused) {
    const c = await RawClient.connect(saslPort);
    t.equal((await handshake(c, 'OAUTHBEARER')).errorCode, 0);
    const challenge = await authenticate(c, oauthToken(bad));
    t.equal(challenge.errorCode, 0, `${what}: an error challenge first (RFC 7628)`);
    t.equal(challenge.authBytes.toString(), '{"status":"invalid_token"}');
    const fail = await authenticate(c, Buffer.from([1]));
    t.equal(fail.errorCode, 58, `${what}: SASL_AUTHENTICATION_FAILED`);
    t.equal(fail.errorMessage, '{"status":"invalid_token"}');
    c.close();
  }
});

await t.test('Spool\'s own SASL client (security/sasl/client.ts) over a BrokerConnection: SCRAM and PLAIN, wrong password refused', async (t) => {
  const open = (): Promise<BrokerConnection> =>
    BrokerConnection.open({ host: '127.0.0.1', port: saslPort, clientId: 'spool-sasl-client', maxResponseBytes: 1 << 20, connectTimeoutMs: 5000 });
  for (const creds of [
    { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' },
    { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' },
    { mechanism: 'PLAIN', username: 'bob', password: 'bob-secret' },
  ] as const) {
    const conn = await open();
    const { sessionLifetimeMs } = await saslClientAuthenticate(conn, creds, 5000);
    t.equal(sessionLifetimeMs, 0, `${creds.mechanism}: authenticated`);
    const md = await conn.request(ApiKey.Metadata, 1, { topics: [] }, 5000);
    t.ok(md.brokers.length >= 1, `${creds.mechanism}: served afterwards`);
    conn.close();
  }
  const conn = await open();
  await t.rejects(saslClientAuthenticate(conn, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'nope' }, 5000), {
    code: 58,
    message: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256',
  });
  conn.close();
});
