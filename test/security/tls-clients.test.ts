// security room tests, real clients over TLS: Apache Kafka's Java client (kafka-clients 4.4) with
// mTLS against ssl.client.auth=required — a PEM keystore as the client certificate, produce and
// consume with offsets and content checked — and the same client
// without a certificate refused; kcat (librdkafka) over SSL, and with a client certificate.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { interopDir, requireToolchain, run, works } from '../interop/common.js';
import { tempDir } from '../helpers/broker.js';
import { createTestPki, opensslAvailable } from '../helpers/tls.js';

const javaDir = join(interopDir, 'java');
const classpath = `${join(javaDir, 'target', 'classes')}:${join(javaDir, 'target', 'dependency')}/*`;
const javaReady = existsSync(join(javaDir, 'target', 'classes', 'spool', 'interop', 'TlsClient.class')) && (await works('java', ['-version']));
const kcatReady = await works('kcat', ['-V']);
const sslReady = opensslAvailable();

function java(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run('java', ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'spool.interop.TlsClient', ...args], { timeoutMs: 120_000 });
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  return line === undefined ? {} : (JSON.parse(line) as Record<string, unknown>);
}

t.test('Java client and kcat over TLS', async (t) => {
  if (!requireToolchain(t, sslReady, 'openssl is missing')) return;
  const pki = createTestPki();
  const d = tempDir('spool-tls-clients-');
  let running: RunningBroker | null = null;
  t.teardown(async () => {
    await running?.stop();
    d.cleanup();
    pki.cleanup();
  });
  const server = pki.issue('broker', '/O=Spool Test/CN=localhost', { serverNames: ['localhost', '127.0.0.1'] });
  const bob = pki.issue('bob', '/O=Spool Test/OU=Java/CN=bob');
  running = await startBroker({
    dataDir: d.dir,
    config: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:0,SSL://localhost:0,MTLS://localhost:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': server.keystoreFile,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': pki.caCertFile,
      'listener.name.mtls.ssl.client.auth': 'required',
    },
  });
  const ports = running.listeners;

  await t.test('Java client with mTLS (PEM keystore): produce and consume; no certificate is refused', async (t) => {
    if (!requireToolchain(t, javaReady, 'java or the built TlsClient (bash scripts/setup-interop.sh) is missing')) return;
    const props = join(pki.dir, 'mtls-client.properties');
    writeFileSync(
      props,
      ['security.protocol=SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCertFile}`, 'ssl.keystore.type=PEM', `ssl.keystore.location=${bob.keystoreFile}`].join('\n') + '\n',
    );
    const r = await java(['roundtrip', `localhost:${ports.MTLS}`, props, 'java-mtls', '50']);
    t.equal(r.code, 0, `the Java client exits cleanly${r.code === 0 ? '' : `: ${r.stderr.slice(-2000)}`}`);
    const s = lastJson(r.stdout);
    t.equal(s.advertised, `localhost:${ports.MTLS}`, 'DescribeCluster on MTLS answers the MTLS advertised address');
    t.same(s.offsets, Array.from({ length: 50 }, (_, i) => i), 'offsets 0..49 acknowledged in order');
    t.same(s.consumed, Array.from({ length: 50 }, (_, i) => [i, `k${i}`, `v${i}`]), 'read back: offsets, keys, values');

    const noCert = join(pki.dir, 'no-cert.properties');
    writeFileSync(noCert, ['security.protocol=SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCertFile}`].join('\n') + '\n');
    const refused = await java(['connect', `localhost:${ports.MTLS}`, noCert, 'unused', '0']);
    const rs = lastJson(refused.stdout);
    t.equal(rs.brokers, 0, 'a Java client without a certificate gets no answer');
    t.equal(rs.error, 'SslAuthenticationException', 'and fails with SslAuthenticationException');
  });

  await t.test('kcat (librdkafka) over SSL, and with a client certificate', async (t) => {
    if (!requireToolchain(t, kcatReady, 'kcat is missing')) return;
    const input = Array.from({ length: 100 }, (_, i) => `key-${i}:value-${i}`).join('\n') + '\n';
    const ssl = ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${pki.caCertFile}`];
    await running.broker.createTopic('kcat-tls', 1);
    const produced = await run('kcat', ['-b', `localhost:${ports.SSL}`, ...ssl, '-P', '-t', 'kcat-tls', '-p', '0', '-K:'], { input, timeoutMs: 60_000 });
    t.equal(produced.code, 0, `kcat -P over SSL exits cleanly ${produced.stderr.slice(-500)}`);
    const consumed = await run('kcat', ['-b', `localhost:${ports.SSL}`, ...ssl, '-C', '-t', 'kcat-tls', '-p', '0', '-o', 'beginning', '-e', '-f', '%o\\t%k\\t%s\\n'], { timeoutMs: 60_000 });
    t.equal(consumed.code, 0, 'kcat -C over SSL exits cleanly');
    t.same(
      consumed.stdout.trim().split('\n'),
      Array.from({ length: 100 }, (_, i) => `${i}\tkey-${i}\tvalue-${i}`),
      'offsets, keys and values read back over SSL',
    );
    const mtls = await run(
      'kcat',
      ['-b', `localhost:${ports.MTLS}`, ...ssl, '-X', `ssl.certificate.location=${bob.certFile}`, '-X', `ssl.key.location=${bob.keyFile}`, '-C', '-t', 'kcat-tls', '-p', '0', '-o', 'beginning', '-c', '3', '-e', '-f', '%o:%s\\n'],
      { timeoutMs: 60_000 },
    );
    t.same(mtls.stdout.trim().split('\n'), ['0:value-0', '1:value-1', '2:value-2'], 'kcat with a client certificate reads on the mTLS listener');
  });
});
