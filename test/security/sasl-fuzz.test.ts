// security tests (issue 14): a bounded fuzz run of the SASL handshake path against a running
// broker. Raw connections to the SASL listener send SaslHandshake with random mechanisms and
// versions, then SaslAuthenticate frames built from valid PLAIN, SCRAM and OAUTHBEARER messages
// and mutated (bytes flipped, cut, repeated, garbage), pipelined with other requests, plus frames
// with mangled headers. Meanwhile a KafkaJS producer and consumer authenticated with SCRAM do
// ordinary work. Afterwards: the broker still answers, no fuzz connection (whose passwords are all
// wrong) was ever served a Metadata request, and the steady client lost nothing. Bounded by
// SPOOL_FUZZ_SECONDS (default 5) and a connection count.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../src/protocol/messages/scram-credentials.js';
import { SaslAuthenticateRequest, SaslHandshakeRequest } from '../../src/protocol/messages/sasl.js';
import { frame, RawClient, requestHeader, tempDir } from '../helpers/broker.js';
import { jwt, login, oauthToken, plainToken, saltedPassword, ScramClient, testKeys } from './sasl-helpers.js';

const { Kafka, logLevel } = kafkajs;
const seconds = Number(process.env.SPOOL_FUZZ_SECONDS ?? 5);
const MAX_CONNECTIONS = 3000;
const RECORDS = 150;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const dir = tempDir('spool-sasl-fuzz-');
const keys = testKeys();
const jwksFile = join(dir.dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(keys.jwks));
const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  logLevel: 'silent',
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret";',
    'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(jwksFile).href,
    'sasl.oauthbearer.expected.audience': 'spool',
  },
});
const saslPort = running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
});

function mutate(rand: () => number, b: Buffer): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  const roll = rand();
  if (roll < 0.1) return randomBytes(int(300));
  if (roll < 0.2) return b.subarray(0, int(b.length + 1));
  if (roll < 0.3) return Buffer.concat([b, b.subarray(int(b.length))]);
  const out = Buffer.from(b);
  const flips = 1 + int(4);
  for (let i = 0; i < flips && out.length > 0; i++) {
    const at = int(out.length);
    out[at] = rand() < 0.5 ? int(256) : out[at] ^ (1 << int(8));
  }
  return out;
}

/** A SaslAuthenticate / SaslHandshake frame, sometimes with its header or body mangled. */
function saslFrame(rand: () => number, apiKey: number, body: Buffer): Buffer {
  const version = apiKey === ApiKey.SaslHandshake ? (rand() < 0.9 ? 1 : Math.floor(rand() * 3)) : Math.floor(rand() * 3);
  const flexible = apiKey === ApiKey.SaslAuthenticate && version >= 2;
  // Correlation ids from 1000 on: the pipelined Metadata request (RawClient's counter) has id 1.
  let payload: Buffer = Buffer.concat([requestHeader(apiKey, version, 1000 + Math.floor(rand() * 1000), flexible, 'fuzz'), body]);
  if (rand() < 0.15) payload = mutate(rand, payload);
  return frame(payload);
}

function authFrame(rand: () => number, token: Buffer): Buffer {
  return saslFrame(rand, ApiKey.SaslAuthenticate, SaslAuthenticateRequest.encodeToBuffer({ authBytes: token }, 2));
}

const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'GSSAPI', '', 'scram-sha-256', 'X'.repeat(300)];

/** One hostile connection; resolves true when the broker answered its Metadata (it must never). */
async function hostileConnection(rand: () => number): Promise<boolean> {
  const c = await RawClient.connect(saslPort);
  try {
    const mechanism = MECHANISMS[Math.floor(rand() * MECHANISMS.length)];
    c.write(saslFrame(rand, ApiKey.SaslHandshake, SaslHandshakeRequest.encodeToBuffer({ mechanism }, 1)));
    const wrong = `wrong-${Math.floor(rand() * 1e6)}`;
    const user = rand() < 0.5 ? 'alice' : rand() < 0.5 ? 'bob' : `u${Math.floor(rand() * 100)},=x`;
    const scram = new ScramClient(mechanism === 'SCRAM-SHA-512' ? 'SCRAM-SHA-512' : 'SCRAM-SHA-256', user, wrong);
    const tokens: Buffer[] = [];
    if (mechanism.startsWith('SCRAM') || mechanism === 'scram-sha-256') {
      tokens.push(scram.first());
      tokens.push(Buffer.from(`c=biws,r=${randomBytes(8).toString('base64')},p=${randomBytes(32).toString('base64')}`));
    } else if (mechanism === 'OAUTHBEARER') {
      const bad = jwt({ sub: 'x', aud: 'spool', exp: Math.floor(Date.now() / 1000) + 60 }, rand() < 0.5 ? keys.stranger : null, rand() < 0.5 ? 'RS256' : 'none', 'rsa-1');
      tokens.push(oauthToken(bad), Buffer.from([1]));
    } else {
      tokens.push(plainToken(user, wrong));
    }
    for (const token of tokens) c.write(authFrame(rand, rand() < 0.7 ? mutate(rand, token) : token));
    if (rand() < 0.3) c.write(authFrame(rand, randomBytes(Math.floor(rand() * 64))));
    // Pipelined right behind: must never be served.
    const metadataId = c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
    for (;;) {
      const f = await c.nextFrame(2000).catch(() => null);
      if (f === null) return false;
      if (f.readInt32BE(0) === metadataId) return true;
    }
  } finally {
    c.close();
  }
}

await t.test('malformed SASL exchanges never crash the broker, authenticate anyone, or disturb an authenticated client', async (t) => {
  // alice's SCRAM-SHA-256 credential, for the steady client.
  const admin = await RawClient.connect(running.broker.listenerPorts.get('PLAINTEXT') ?? 0);
  const salt = randomBytes(16);
  await admin.request(ApiKey.AlterUserScramCredentials, 0, AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, {
    deletions: [],
    upsertions: [{ name: 'alice', mechanism: 1, iterations: 4096, salt, saltedPassword: saltedPassword('SCRAM-SHA-256', 'alice-secret', salt, 4096) }],
  });
  admin.close();

  const kafka = new Kafka({
    clientId: 'steady',
    brokers: [`127.0.0.1:${saslPort}`],
    sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' },
    logLevel: logLevel.NOTHING,
    retry: { retries: 5 },
  });
  const kadmin = kafka.admin();
  await kadmin.connect();
  await kadmin.createTopics({ topics: [{ topic: 'steady', numPartitions: 1 }], waitForLeaders: true });
  await kadmin.disconnect();

  const rand = prng(Number(process.env.SPOOL_FUZZ_SEED ?? 14));
  const deadline = Date.now() + seconds * 1000;
  let connections = 0;
  let served = 0;
  const fuzzers = Array.from({ length: 3 }, async () => {
    while (Date.now() < deadline && connections < MAX_CONNECTIONS) {
      connections++;
      if (await hostileConnection(rand)) served++;
    }
  });

  const producer = kafka.producer();
  await producer.connect();
  const acked: number[] = [];
  const errors: string[] = [];
  const producing = (async () => {
    for (let i = 0; i < RECORDS; i++) {
      try {
        const [r] = await producer.send({ topic: 'steady', messages: [{ value: `v${i}` }] });
        acked.push(Number(r.baseOffset));
      } catch (err) {
        errors.push(String(err));
      }
      await new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / RECORDS));
    }
  })();
  await Promise.all([...fuzzers, producing]);
  await producer.disconnect();
  t.comment(`${connections} hostile connections in ${seconds} s`);
  t.ok(connections > 20, 'the fuzzers ran');
  t.equal(served, 0, 'no hostile connection was served a Metadata request');
  t.same(errors, [], 'the steady producer saw no error');
  t.same(acked, Array.from({ length: RECORDS }, (_, i) => i));

  const consumer = kafka.consumer({ groupId: 'steady' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'steady', fromBeginning: true });
  const values: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${values.length}`)), 30_000);
    void consumer.run({
      eachMessage: ({ message }) => {
        values.push(message.value?.toString() ?? '');
        if (values.length === RECORDS) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  t.same(values, Array.from({ length: RECORDS }, (_, i) => `v${i}`), 'every record read back once, in order');

  // The broker still authenticates and answers.
  const c = await RawClient.connect(saslPort);
  t.equal((await login(c, 'PLAIN', 'bob', 'bob-secret')).errorCode, 0);
  const id = c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
  t.ok((await c.receive<{ brokers: unknown[] }>(MetadataResponse, 1, id, ApiKey.Metadata)).brokers.length >= 1);
  c.close();
});
