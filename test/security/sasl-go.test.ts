// security tests (issue 14): franz-go (kgo) over SASL — SCRAM-SHA-256 (over SASL_SSL) and SCRAM-SHA-512 with
// credentials created by AlterUserScramCredentials, and OAUTHBEARER with an RS256 JWT checked
// against a JWKS file: create a topic, produce, read back with offsets and content; a wrong
// password and an expired token are refused.
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ApiKey } from '../../src/protocol/api-keys.js';
import { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../src/protocol/messages/scram-credentials.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { createTestPki, opensslAvailable } from '../helpers/tls.js';
import { interopDir, isStale, parseLastJson, requireToolchain, run } from '../interop/common.js';
import { jwt, saltedPassword, testKeys, type ScramMech } from './sasl-helpers.js';

const binary = join(interopDir, 'go', 'bin', 'franz');
if (!opensslAvailable()) {
  if (process.env.CI === 'true') t.fail('openssl is needed for the SASL_SSL listener');
  else t.plan(0, 'openssl is not installed');
  process.exit(process.env.CI === 'true' ? 1 : 0);
}
const pki = createTestPki();
const server = pki.issue('broker', '/O=Spool Test/CN=localhost', { serverNames: ['localhost', '127.0.0.1'] });
const dir = tempDir('spool-sasl-go-');
const keys = testKeys();
const jwksFile = join(dir.dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(keys.jwks));
const running = await startBroker({
  dataDir: join(dir.dir, 'data'),
  config: {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': server.keystoreFile,
    'sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
    'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(jwksFile).href,
  },
});
const saslBootstrap = `127.0.0.1:${running.broker.listenerPorts.get('SASL_PLAINTEXT') ?? 0}`;
const sslBootstrap = `127.0.0.1:${running.broker.listenerPorts.get('SASL_SSL') ?? 0}`;
t.teardown(async () => {
  await running.stop();
  dir.cleanup();
  pki.cleanup();
});

interface Result {
  offsets: number[];
  consumed: Array<{ offset: number; key: string; value: string }>;
  error: string | null;
}

async function franz(mechanism: string, user: string, secret: string, topic: string, count: number, tls = false): Promise<Result> {
  const env = tls ? { ...process.env, SPOOL_CA_FILE: pki.caCertFile } : process.env;
  const r = await run(binary, ['sasl-roundtrip', tls ? sslBootstrap : saslBootstrap, mechanism, user, secret, topic, String(count)], { timeoutMs: 90_000, env });
  if (r.code !== 0) throw new Error(`franz exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return parseLastJson(r.stdout) as Result;
}

const expected = (n: number): Result => ({
  offsets: Array.from({ length: n }, (_, i) => i),
  consumed: Array.from({ length: n }, (_, i) => ({ offset: i, key: `k${i}`, value: `v${i}` })),
  error: null,
});

await t.test('franz-go over SCRAM-SHA-256 (SASL_SSL), SCRAM-SHA-512 and OAUTHBEARER', async (t) => {
  const ready = existsSync(binary) && !isStale(binary, [join(interopDir, 'go', 'sasl.go'), join(interopDir, 'go', 'main.go')]);
  if (!requireToolchain(t, ready, `${binary} is missing or older than its sources (go build in test/interop/go)`)) return;
  const admin = await RawClient.connect(running.broker.listenerPorts.get('PLAINTEXT') ?? 0);
  const upsert = (mech: ScramMech): { name: string; mechanism: number; iterations: number; salt: Buffer; saltedPassword: Buffer } => {
    const salt = randomBytes(16);
    return { name: 'gopher', mechanism: mech === 'SCRAM-SHA-256' ? 1 : 2, iterations: 4096, salt, saltedPassword: saltedPassword(mech, 'gopher-secret', salt, 4096) };
  };
  const created = await admin.request<{ results: Array<{ errorCode: number }> }>(ApiKey.AlterUserScramCredentials, 0, AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, {
    deletions: [],
    upsertions: [upsert('SCRAM-SHA-256'), upsert('SCRAM-SHA-512')],
  });
  admin.close();
  t.same(created.results, [{ user: 'gopher', errorCode: 0, errorMessage: null }]);

  t.same(await franz('SCRAM-SHA-256', 'gopher', 'gopher-secret', 'franz-scram256', 6, true), expected(6), 'SCRAM-SHA-256 over SASL_SSL');
  t.same(await franz('SCRAM-SHA-512', 'gopher', 'gopher-secret', 'franz-scram512', 3), expected(3), 'SCRAM-SHA-512');
  const now = Math.floor(Date.now() / 1000);
  const token = jwt({ sub: 'gopher-svc', iat: now, exp: now + 300 }, keys.rsa, 'RS256', 'rsa-1');
  t.same(await franz('OAUTHBEARER', '', token, 'franz-oauth', 3), expected(3), 'OAUTHBEARER');

  const wrong = await franz('SCRAM-SHA-256', 'gopher', 'nope', 'franz-denied', 1);
  t.match(wrong.error ?? '', /SASL_AUTHENTICATION_FAILED|invalid credentials/, 'wrong password refused');
  t.same(wrong.offsets, []);
  const expired = jwt({ sub: 'gopher-svc', iat: now - 600, exp: now - 300 }, keys.rsa, 'RS256', 'rsa-1');
  const late = await franz('OAUTHBEARER', '', expired, 'franz-expired', 1);
  // franz-go does not answer the RFC 7628 error challenge ({"status":"invalid_token"}): it stops there.
  t.match(late.error ?? '', /unexpected data in oauth response|invalid_token|SASL_AUTHENTICATION_FAILED/, 'expired token refused');
  t.same(late.offsets, []);
});
