// security tests (issue 14): SaslHandshake v0 raw-token mode, as Kafka's SaslServerAuthenticator
// serves it — after a successful v0 handshake the client's SASL tokens are size-prefixed frames
// without a Kafka request header, each answered by a size-prefixed raw token (PLAIN: one round
// answered by an empty frame; SCRAM-SHA-256: two rounds), then Kafka requests follow on the same
// connection; tokens pipelined behind the handshake are still read in order. A failed exchange gets no answer: the broker closes the connection after
// connection.failed.authentication.delay.ms; a raw frame above sasl.server.max.receive.size closes
// it too; v1 clients on the same listener are unaffected. No real client is tested here: librdkafka
// (kcat) only uses v0 when ApiVersions advertises SaslHandshake v0 alone (a broker.version.fallback
// of 0.10 or later turns ApiVersions requests back on), and the Java client picks v1 likewise.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { SaslHandshakeRequest, SaslHandshakeResponse } from '../../src/protocol/messages/sasl.js';
import { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../src/protocol/messages/scram-credentials.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { login, plainToken, saltedPassword, ScramClient } from './sasl-helpers.js';

const MAX_RECEIVE = 4096;
const dir = tempDir('spool-sasl-v0-');
const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
    'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";',
    'sasl.server.max.receive.size': MAX_RECEIVE,
    'connection.failed.authentication.delay.ms': 50,
  },
});
const plainPort = running.broker.listenerPorts.get('PLAINTEXT') ?? 0;
const saslPort = running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
});

await running.broker.createTopic('v0-topic', 1);

// A SCRAM-SHA-256 credential for carol, created over the PLAINTEXT listener.
{
  const admin = await RawClient.connect(plainPort);
  const salt = randomBytes(24);
  const res = await admin.request<{ results: Array<{ errorCode: number }> }>(
    ApiKey.AlterUserScramCredentials,
    0,
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
    { deletions: [], upsertions: [{ name: 'carol', mechanism: 1, iterations: 4096, salt, saltedPassword: saltedPassword('SCRAM-SHA-256', 'carol-secret', salt, 4096) }] },
  );
  admin.close();
  if (res.results[0]?.errorCode !== 0) throw new Error(`creating carol's credential: ${JSON.stringify(res.results)}`);
}

/** A size-prefixed frame: how raw SASL tokens travel after SaslHandshake v0. */
function rawFrame(token: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(token.length, 0);
  return Buffer.concat([prefix, token]);
}

async function handshakeV0(c: RawClient, mechanism: string): Promise<{ errorCode: number; mechanisms: string[] }> {
  return c.request(ApiKey.SaslHandshake, 0, SaslHandshakeRequest, SaslHandshakeResponse, { mechanism });
}

interface MetadataAnswer {
  brokers: Array<{ nodeId: number }>;
  topics: Array<{ name: string; errorCode: number }>;
}

function metadata(c: RawClient): Promise<MetadataAnswer> {
  return c.request<MetadataAnswer>(ApiKey.Metadata, 1, MetadataRequest, MetadataResponse, { topics: [{ name: 'v0-topic' }] });
}

/** Resolves true once the broker closed the connection without answering anything more. */
async function closedWithoutAnswer(c: RawClient): Promise<boolean> {
  const f = await c.nextFrame(5000);
  return f === null;
}

await t.test('PLAIN over SaslHandshake v0: one raw token, an empty raw answer, then Produce and Metadata on that connection', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const h = await handshakeV0(c, 'PLAIN');
  t.same(h, { errorCode: 0, mechanisms: ['PLAIN', 'SCRAM-SHA-256'] }, 'v0 handshake accepted, enabled mechanisms listed');
  c.write(rawFrame(plainToken('alice', 'alice-secret')));
  const answer = await c.nextFrame();
  t.ok(answer !== null, 'the raw token is answered');
  t.equal(answer?.length, 0, 'PLAIN: an empty raw token (no Kafka response header)');

  const m = await metadata(c);
  t.equal(m.topics[0]?.name, 'v0-topic', 'Metadata is served after raw-token authentication');
  t.equal(m.topics[0]?.errorCode, 0);
  const records = buildBatch({ baseTimestamp: Date.now(), records: [{ key: 'k', value: Buffer.from('v0-plain'), timestampDelta: 0 }] });
  const p = await c.request<{ responses: Array<{ partitionResponses: Array<{ errorCode: number }> }> }>(
    ApiKey.Produce,
    9,
    ProduceRequest,
    ProduceResponse,
    { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'v0-topic', partitionData: [{ index: 0, records }] }] },
  );
  t.equal(p.responses[0]?.partitionResponses[0]?.errorCode, 0, 'Produce is served after raw-token authentication');
});

await t.test('SCRAM-SHA-256 over SaslHandshake v0: client-first and client-final as raw frames, server-first and server-final back raw', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  t.equal((await handshakeV0(c, 'SCRAM-SHA-256')).errorCode, 0);
  const scram = new ScramClient('SCRAM-SHA-256', 'carol', 'carol-secret');
  c.write(rawFrame(scram.first()));
  const serverFirst = await c.nextFrame();
  if (serverFirst === null) throw new Error('closed after client-first');
  t.match(serverFirst.toString('utf8'), /^r=.+,s=.+,i=4096$/, 'server-first message, raw');
  c.write(rawFrame(scram.final(serverFirst)));
  const serverFinal = await c.nextFrame();
  if (serverFinal === null) throw new Error('closed after client-final');
  t.equal(serverFinal.toString('utf8'), `v=${scram.serverSignature?.toString('base64') ?? ''}`, 'server-final carries the server signature, raw');
  t.equal((await metadata(c)).topics[0]?.errorCode, 0, 'Metadata is served after raw SCRAM');
});

await t.test('tokens pipelined behind SaslHandshake v0 (no wait for its answer) are read as raw tokens, in order', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const scram = new ScramClient('SCRAM-SHA-256', 'carol', 'carol-secret');
  const id = c.send(ApiKey.SaslHandshake, 0, SaslHandshakeRequest, { mechanism: 'SCRAM-SHA-256' });
  c.write(rawFrame(scram.first()));
  const h = await c.receive<{ errorCode: number }>(SaslHandshakeResponse, 0, id, ApiKey.SaslHandshake);
  t.equal(h.errorCode, 0, 'handshake answered first');
  const serverFirst = await c.nextFrame();
  if (serverFirst === null) throw new Error('closed after client-first');
  t.match(serverFirst.toString('utf8'), /^r=/, 'then the raw server-first message');
  // client-final and a Metadata request behind it, before reading the answer.
  c.write(rawFrame(scram.final(serverFirst)));
  const m = c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [{ name: 'v0-topic' }] });
  t.match((await c.nextFrame())?.toString('utf8'), /^v=/, 'raw server-final');
  t.equal((await c.receive<MetadataAnswer>(MetadataResponse, 1, m, ApiKey.Metadata)).topics[0]?.errorCode, 0, 'then the Metadata answer');
});

await t.test('a wrong password in raw mode gets no answer: the broker closes the connection', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  t.equal((await handshakeV0(c, 'PLAIN')).errorCode, 0);
  c.write(rawFrame(plainToken('alice', 'wrong')));
  t.ok(await closedWithoutAnswer(c), 'closed, nothing sent');

  const s = await RawClient.connect(saslPort);
  t.teardown(() => s.close());
  t.equal((await handshakeV0(s, 'SCRAM-SHA-256')).errorCode, 0);
  const scram = new ScramClient('SCRAM-SHA-256', 'carol', 'not-carols');
  s.write(rawFrame(scram.first()));
  const serverFirst = await s.nextFrame();
  if (serverFirst === null) throw new Error('closed after client-first');
  s.write(rawFrame(scram.final(serverFirst)));
  t.ok(await closedWithoutAnswer(s), 'SCRAM with a wrong password: closed, nothing sent');
});

await t.test('a request sent before authentication finished in raw mode is taken as a token (and fails)', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  t.equal((await handshakeV0(c, 'PLAIN')).errorCode, 0);
  c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
  t.ok(await closedWithoutAnswer(c), 'a Kafka request where a raw PLAIN token belongs: closed');
});

await t.test('a v0 handshake naming a mechanism not enabled is answered with the enabled ones, then closed', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  t.same(await handshakeV0(c, 'GSSAPI'), { errorCode: 33, mechanisms: ['PLAIN', 'SCRAM-SHA-256'] }, 'UNSUPPORTED_SASL_MECHANISM');
  t.ok(await closedWithoutAnswer(c), 'then closed');
});

await t.test('a raw frame above sasl.server.max.receive.size closes the connection', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  t.equal((await handshakeV0(c, 'PLAIN')).errorCode, 0);
  c.write(rawFrame(Buffer.alloc(MAX_RECEIVE + 1, 0x61)));
  t.ok(await closedWithoutAnswer(c), 'closed without an answer');
});

await t.test('v1 clients on the same listener are unaffected, before and after v0 ones', async (t) => {
  const v0 = await RawClient.connect(saslPort);
  const v1 = await RawClient.connect(saslPort);
  t.teardown(() => {
    v0.close();
    v1.close();
  });
  t.equal((await handshakeV0(v0, 'PLAIN')).errorCode, 0);
  const a = await login(v1, 'SCRAM-SHA-256', 'carol', 'carol-secret');
  t.equal(a.errorCode, 0, 'v1 SCRAM login while a v0 exchange is open');
  v0.write(rawFrame(plainToken('alice', 'alice-secret')));
  t.equal((await v0.nextFrame())?.length, 0, 'the v0 exchange completes');
  t.equal((await metadata(v1)).topics[0]?.errorCode, 0, 'v1 connection serves Metadata');
  t.equal((await metadata(v0)).topics[0]?.errorCode, 0, 'v0 connection serves Metadata');
});
