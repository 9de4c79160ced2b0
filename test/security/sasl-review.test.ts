// security tests: the SASL review fixes.
//  - The inter-broker SCRAM client refuses a server-first message whose iteration count is outside
//    Kafka's ScramMechanism bounds [4096, 16384] (i=1 would weaken the exchange, i=2147483647 would
//    keep the broker deriving keys), against a fake server answering SaslHandshake/SaslAuthenticate.
//  - An unauthenticated connection cannot take the broker's request memory: after a SaslHandshake v0
//    and a bad raw token, large frames sent behind it are not read; a client on the PLAINTEXT
//    listener is answered while that connection waits for its delayed close; few log lines.
//  - SaslHandshake v0 on an authenticated connection is refused with ILLEGAL_SASL_STATE.
//  - peerAddress never falls back to a peer's primary (PLAINTEXT) address when the inter-broker
//    listener needs TLS or SASL.
//  - A replica fetcher stopped while its SASL handshake is stalled stops at once and closes the socket.
//  - The broker's own inter-broker credentials are read from listener.name.<l>.<mechanism>.sasl.jaas.config only.
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import type { BrokerRegistration, MetadataStore } from '../../src/cluster/index.js';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { startBroker } from '../../src/index.js';
import { BrokerConnection } from '../../src/network/index.js';
import { ApiKey, decodeRequestBody, decodeRequestHeader, encodeResponse } from '../../src/protocol/index.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { SaslHandshakeRequest, SaslHandshakeResponse } from '../../src/protocol/messages/sasl.js';
import type { Partition } from '../../src/replication/partition.js';
import { interBrokerRoute, peerAddress } from '../../src/replication/index.js';
import { ReplicaFetcherManager } from '../../src/replication/replica-fetcher.js';
import { interBrokerSaslCredentials } from '../../src/security/sasl/index.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { login, plainToken } from './sasl-helpers.js';

const silent = pino({ level: 'silent' });

/** A fake broker: calls `answer` for each request frame; what it returns (if anything) goes back size-prefixed. */
async function fakeServer(answer: (frame: Buffer, socket: Socket) => Buffer | null): Promise<{ server: Server; port: number; closed: Promise<void> }> {
  let sawClose!: () => void;
  const closed = new Promise<void>((resolve) => (sawClose = resolve));
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('close', () => sawClose());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Bounded: each pass takes one whole frame or stops.
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        const out = answer(frame, socket);
        if (out === null) continue;
        const prefix = Buffer.alloc(4);
        prefix.writeInt32BE(out.length, 0);
        socket.write(Buffer.concat([prefix, out]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0, closed };
}

function encoded(apiKey: number, apiVersion: number, correlationId: number, body: unknown): Buffer {
  const r = encodeResponse(apiKey, apiVersion, correlationId, body as never) as { chunks: Buffer[] };
  return Buffer.concat(r.chunks);
}

await t.test('the SCRAM client refuses iteration counts outside [4096, 16384]', async (t) => {
  for (const iterations of [1, 4095, 16385, 2147483647]) {
    const fake = await fakeServer((frame) => {
      const header = decodeRequestHeader(frame);
      if (header.apiKey === ApiKey.SaslHandshake) return encoded(ApiKey.SaslHandshake, header.apiVersion, header.correlationId, { errorCode: 0, mechanisms: ['SCRAM-SHA-256'] });
      const body = decodeRequestBody(ApiKey.SaslAuthenticate, header.apiVersion, frame, header.bodyOffset);
      const clientNonce = /,r=([^,]+)$/.exec(body.authBytes.toString('utf8'))?.[1] ?? '';
      const serverFirst = `r=${clientNonce}server-nonce,s=${Buffer.from('salt-salt-salt').toString('base64')},i=${String(iterations)}`;
      return encoded(ApiKey.SaslAuthenticate, header.apiVersion, header.correlationId, { errorCode: 0, errorMessage: null, authBytes: Buffer.from(serverFirst), sessionLifetimeMs: 0 });
    });
    t.teardown(() => fake.server.close());
    const err = await BrokerConnection.open({
      host: '127.0.0.1',
      port: fake.port,
      clientId: 'review',
      maxResponseBytes: 1 << 20,
      connectTimeoutMs: 60_000,
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'broker', password: 'secret' },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof KafkaError && err.code === ErrorCode.SASL_AUTHENTICATION_FAILED, `i=${String(iterations)}: SASL_AUTHENTICATION_FAILED`);
    t.match((err as Error).message, /iterations/);
    await fake.closed;
  }
});

await t.test('a replica fetcher whose leader never answers SaslHandshake stops at once and closes the socket', async (t) => {
  let handshakes = 0;
  const fake = await fakeServer((frame) => {
    if (decodeRequestHeader(frame).apiKey === ApiKey.SaslHandshake) handshakes++;
    return null; // never answered
  });
  t.teardown(() => fake.server.close());
  const leader: BrokerRegistration = { nodeId: 2, host: '127.0.0.1', port: fake.port, rack: null, epoch: 1 };
  const metadata = { brokers: () => [leader] } as unknown as MetadataStore;
  const manager = new ReplicaFetcherManager(
    1,
    metadata,
    {
      waitMaxMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      responseMaxBytes: 1 << 20,
      backoffMs: 100,
      socketTimeoutMs: 120_000,
      interBroker: {
        listenerName: 'INTERNAL',
        securityProtocol: 'SASL_PLAINTEXT',
        tls: null,
        sasl: { mechanism: 'PLAIN', username: 'broker', password: 'secret' },
        unreachable: false,
      },
    },
    silent,
  );
  const partition = { topic: 't', index: 0, leaderId: 2, isLeader: false, leaderEpoch: 1 } as unknown as Partition;
  manager.follow(partition);
  // Bounded: the fetcher connects within a few ms.
  for (let i = 0; i < 200 && handshakes === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(handshakes, 1, 'the fetcher sent its SaslHandshake');
  await manager.shutdown();
  t.pass('shutdown resolved while the handshake was unanswered');
  await fake.closed;
  t.pass('the leader saw the socket close');
});

await t.test('peerAddress does not fall back to the primary address when the inter-broker listener needs SASL or TLS', async (t) => {
  const base = {
    listeners: 'PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093',
    'process.roles': 'broker',
  };
  const peer: BrokerRegistration = {
    nodeId: 7,
    host: '10.0.0.7',
    port: 9092,
    rack: null,
    epoch: 1,
    endpoints: [{ name: 'PLAINTEXT', host: '10.0.0.7', port: 9092, securityProtocol: 'PLAINTEXT' }],
  };
  const withInternal: BrokerRegistration = { ...peer, endpoints: [...(peer.endpoints ?? []), { name: 'INTERNAL', host: '10.0.0.7', port: 9093, securityProtocol: 'SASL_PLAINTEXT' }] };
  const sasl = new BrokerConfig({
    overrides: {
      ...base,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT',
      'inter.broker.listener.name': 'INTERNAL',
      'sasl.mechanism.inter.broker.protocol': 'PLAIN',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.internal.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="s" user_broker="s";',
    },
  });
  t.equal(interBrokerRoute(sasl).securityProtocol, 'SASL_PLAINTEXT');
  t.equal(peerAddress(sasl, peer), null, 'SASL route, peer without the listener: no address');
  t.match(peerAddress(sasl, withInternal), { host: '10.0.0.7', port: 9093, sasl: { mechanism: 'PLAIN', username: 'broker' } }, 'peer with the listener: its endpoint, with SASL');
  const ssl = new BrokerConfig({ overrides: { ...base, 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SSL', 'inter.broker.listener.name': 'INTERNAL' } });
  t.equal(peerAddress(ssl, peer), null, 'SSL route, peer without the listener: no address');
  const plain = new BrokerConfig({ overrides: { ...base, 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT', 'inter.broker.listener.name': 'INTERNAL' } });
  t.same(peerAddress(plain, peer), { host: '10.0.0.7', port: 9092 }, 'PLAINTEXT route: the primary address still serves');
});

await t.test('the broker\'s inter-broker credentials come from the mechanism-prefixed listener JAAS config only', async (t) => {
  const overrides = {
    listeners: 'PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT',
    'inter.broker.listener.name': 'INTERNAL',
    'sasl.mechanism.inter.broker.protocol': 'PLAIN',
    'sasl.enabled.mechanisms': 'PLAIN',
  };
  const jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="s" user_broker="s";';
  t.throws(() => interBrokerSaslCredentials(new BrokerConfig({ overrides: { ...overrides, 'sasl.jaas.config': jaas } })), /not used for them/, 'global sasl.jaas.config: refused');
  t.match(interBrokerSaslCredentials(new BrokerConfig({ overrides: { ...overrides, 'listener.name.internal.plain.sasl.jaas.config': jaas } })), { username: 'broker', password: 's' });
});

// One broker for the rest: PLAINTEXT and SASL_PLAINTEXT, a small request memory pool.
const lines: Array<{ msg: string }> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as { msg: string });
    done();
  },
});
// Longer than RawClient's 5 s answer timeout: a request held back until the flooding connection closes is never answered in time.
const FAILED_DELAY_MS = 30_000;
const dir = tempDir('spool-sasl-review-');
const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  logger: pino({ level: 'info' }, sink),
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN',
    'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";',
    'queued.max.request.bytes': 256 * 1024,
    'connection.failed.authentication.delay.ms': FAILED_DELAY_MS,
  },
});
const plainPort = running.broker.listenerPorts.get('PLAINTEXT') ?? 0;
const saslPort = running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
});

function rawFrame(token: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(token.length, 0);
  return Buffer.concat([prefix, token]);
}

await t.test('frames flooded behind a failed raw-token exchange are not read: a PLAINTEXT client is answered before that connection closes', async (t) => {
  const a = await RawClient.connect(saslPort);
  t.teardown(() => a.close());
  const h = await a.request<{ errorCode: number }>(ApiKey.SaslHandshake, 0, SaslHandshakeRequest, SaslHandshakeResponse, { mechanism: 'PLAIN' });
  t.equal(h.errorCode, 0);
  const logged = lines.length;
  let aClosed = false;
  void a.closed.then(() => (aClosed = true));
  // A bad token, then 40 frames of 100 KiB (under sasl.server.max.receive.size): 4 MB, 16x the pool.
  const big = rawFrame(Buffer.alloc(100 * 1024, 0x61));
  a.write(rawFrame(plainToken('alice', 'wrong')));
  for (let i = 0; i < 40; i++) a.write(big);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const b = await RawClient.connect(plainPort);
  t.teardown(() => b.close());
  const m = await b.request<{ brokers: unknown[] }>(ApiKey.Metadata, 1, MetadataRequest, MetadataResponse, { topics: [] });
  t.equal(m.brokers.length, 1, 'Metadata answered on the PLAINTEXT listener');
  // Before the fix the flood held the broker's request memory until the failed connection closed
  // (connection.failed.authentication.delay.ms): the Metadata request was only read after that.
  t.notOk(aClosed, 'answered before the flooding connection closed');
  t.equal(running.broker.connections().filter((c) => c.security.listenerName === 'SASL_PLAINTEXT').length, 1, 'the flooding connection waits for its delayed close');
  const about = lines.slice(logged).length;
  t.ok(about <= 5, `few log lines for the flooding connection (${String(about)})`);
});

await t.test('SaslHandshake v0 on an authenticated connection: ILLEGAL_SASL_STATE, the connection keeps serving', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  t.equal((await login(c, 'PLAIN', 'alice', 'alice-secret')).errorCode, 0, 'authenticated with v1');
  const h = await c.request<{ errorCode: number }>(ApiKey.SaslHandshake, 0, SaslHandshakeRequest, SaslHandshakeResponse, { mechanism: 'PLAIN' });
  t.equal(h.errorCode, ErrorCode.ILLEGAL_SASL_STATE, 'ILLEGAL_SASL_STATE');
  const m = await c.request<{ brokers: unknown[] }>(ApiKey.Metadata, 1, MetadataRequest, MetadataResponse, { topics: [] });
  t.equal(m.brokers.length, 1, 'Kafka requests are still served (no raw-token mode)');
});
