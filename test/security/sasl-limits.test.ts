// security tests: what a SASL listener bounds before authentication and after a failed one, as
// Kafka — frames larger than sasl.server.max.receive.size close an unauthenticated connection (the
// same frame is served once authenticated), unauthenticated clients announcing large frames cannot
// take the broker's request memory (queued.max.request.bytes) from an authenticated client, and
// SASL_AUTHENTICATION_FAILED (or UNSUPPORTED_SASL_MECHANISM) is answered and then the broker
// closes the connection (after connection.failed.authentication.delay.ms) without another request.
import { join } from 'node:path';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { FrameDecoder, FrameTooLargeError } from '../../src/network/framing.js';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/messages/metadata.js';
import { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../../src/protocol/messages/sasl.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { handshake, login, plainToken } from './sasl-helpers.js';

const MiB = 1024 * 1024;
const dir = tempDir('spool-sasl-limits-');
const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";',
    // Small enough that a few unauthenticated clients sending 400 KiB each would use it all up.
    'queued.max.request.bytes': 2 * MiB,
    'connection.failed.authentication.delay.ms': 50,
  },
});
const saslPort = running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
});

interface ApiVersionsAnswer {
  errorCode: number;
  apiKeys: unknown[];
}

/** ApiVersions v3 whose clientSoftwareName (valid per KIP-511) makes the frame about `bytes` long. */
function bigApiVersions(c: RawClient, bytes: number): number {
  return c.send(ApiKey.ApiVersions, 3, ApiVersionsRequest, { clientSoftwareName: 'a'.repeat(bytes), clientSoftwareVersion: '1' });
}

function metadataRequest(c: RawClient): number {
  return c.send(ApiKey.Metadata, 1, MetadataRequest, { topics: [] });
}

async function loggedIn(): Promise<RawClient> {
  const c = await RawClient.connect(saslPort);
  const a = await login(c, 'PLAIN', 'admin', 'admin-secret');
  if (a.errorCode !== 0) throw new Error(`login failed: ${a.errorCode}`);
  return c;
}

await t.test('FrameDecoder.restrict: a lower limit for the size prefixes read from now on, lifted with null', async (t) => {
  const sized = (n: number): Buffer => {
    const b = Buffer.alloc(4 + n);
    b.writeInt32BE(n, 0);
    return b;
  };
  const d = new FrameDecoder(MiB);
  d.restrict(1000, 'sasl.server.max.receive.size');
  const frames: number[] = [];
  d.push(sized(1000), (f) => frames.push(f.length));
  t.throws(() => d.push(sized(1001), () => undefined), { name: 'FrameTooLargeError', setting: 'sasl.server.max.receive.size', limit: 1000 });
  const lifted = new FrameDecoder(MiB);
  lifted.restrict(1000, 'sasl.server.max.receive.size');
  lifted.restrict(null, 'sasl.server.max.receive.size');
  lifted.push(sized(4000), (f) => frames.push(f.length));
  t.same(frames, [1000, 4000]);
  const capped = new FrameDecoder(100);
  capped.restrict(1000, 'sasl.server.max.receive.size');
  t.throws(() => capped.push(sized(101), () => undefined), new FrameTooLargeError(101, 100), 'never above socket.request.max.bytes');
});

await t.test('a 1 MiB frame before SASL authentication closes the connection; the same frame after authentication is served', async (t) => {
  const before = await RawClient.connect(saslPort);
  t.teardown(() => before.close());
  bigApiVersions(before, MiB);
  t.equal(await before.nextFrame(), null, 'closed without an answer (larger than sasl.server.max.receive.size 524288)');

  // Only the 4-byte size prefix: the broker refuses it without waiting for the frame's bytes.
  const prefixOnly = await RawClient.connect(saslPort);
  t.teardown(() => prefixOnly.close());
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(50 * MiB, 0);
  prefixOnly.write(prefix);
  t.equal(await prefixOnly.nextFrame(), null, 'a 50 MiB size prefix alone closes the connection');

  const after = await loggedIn();
  t.teardown(() => after.close());
  const id = bigApiVersions(after, MiB);
  const av = await after.receive<ApiVersionsAnswer>(ApiVersionsResponse, 3, id, ApiKey.ApiVersions);
  t.equal(av.errorCode, 0, 'authenticated: the 1 MiB request is answered');
  t.ok(av.apiKeys.length > 0);
});

await t.test('unauthenticated clients announcing large frames cannot take the request memory from an authenticated client', async (t) => {
  const served = await loggedIn();
  t.teardown(() => served.close());
  // Eight connections × 400 KiB would be more than queued.max.request.bytes (2 MiB) if the broker
  // buffered them: every listener would stop reading. Each is closed at its size prefix instead.
  const attackers: RawClient[] = [];
  for (let i = 0; i < 8; i++) {
    const c = await RawClient.connect(saslPort);
    t.teardown(() => c.close());
    const head = Buffer.alloc(4 + 400 * 1024, 0x41);
    head.writeInt32BE(8 * MiB, 0);
    c.write(head);
    attackers.push(c);
  }
  for (const [i, c] of attackers.entries()) t.equal(await c.nextFrame(), null, `unauthenticated connection ${i} closed`);
  const id = metadataRequest(served);
  const md = await served.receive<{ brokers: unknown[] }>(MetadataResponse, 1, id, ApiKey.Metadata);
  t.ok(md.brokers.length >= 1, 'the authenticated client is still served');
});

await t.test('a wrong password gets SASL_AUTHENTICATION_FAILED and then the broker closes the connection without another request', async (t) => {
  const c = await RawClient.connect(saslPort);
  t.teardown(() => c.close());
  const a = await login(c, 'PLAIN', 'admin', 'wrong');
  t.equal(a.errorCode, 58, 'SASL_AUTHENTICATION_FAILED');
  t.equal(a.errorMessage, 'Authentication failed: Invalid username or password');
  t.equal(await c.nextFrame(), null, 'the broker closed the connection (nothing else was sent)');
  await c.closed;

  // Pipelined: the failure is answered, the request behind it is not, and the connection closes.
  const p = await RawClient.connect(saslPort);
  t.teardown(() => p.close());
  t.equal((await handshake(p, 'PLAIN')).errorCode, 0);
  const authId = p.send(ApiKey.SaslAuthenticate, 2, SaslAuthenticateRequest, { authBytes: plainToken('admin', 'nope') });
  metadataRequest(p);
  const fail = await p.receive<{ errorCode: number }>(SaslAuthenticateResponse, 2, authId, ApiKey.SaslAuthenticate);
  t.equal(fail.errorCode, 58);
  t.equal(await p.nextFrame(), null, 'the pipelined Metadata is not answered; closed');

  // An unknown mechanism: answered with the enabled list, then closed.
  const m = await RawClient.connect(saslPort);
  t.teardown(() => m.close());
  const h = await handshake(m, 'SCRAM-SHA-256');
  t.equal(h.errorCode, 33, 'UNSUPPORTED_SASL_MECHANISM');
  t.same(h.mechanisms, ['PLAIN']);
  t.equal(await m.nextFrame(), null, 'closed without another request');

  // Another client still logs in.
  const ok = await loggedIn();
  t.teardown(() => ok.close());
  const id = metadataRequest(ok);
  t.ok((await ok.receive<{ brokers: unknown[] }>(MetadataResponse, 1, id, ApiKey.Metadata)).brokers.length >= 1);
});
