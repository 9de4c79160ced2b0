// broker tests, "fail closed": a security setting Spool does not implement (an authorizer class other
// than Kafka's StandardAuthorizer/AclAuthorizer, GSSAPI between brokers; TLS, SASL listeners, SASL
// PLAIN/SCRAM between brokers and ACLs are, test/security/*.test.ts) refuses to start instead of running unprotected — in the
// config layer and through the CLI a daemon is started with; and acks=1 with flush.messages=1 is
// answered only after the fsync.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import { startBroker } from '../../src/index.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { buildBatch } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';
import { repoRoot } from '../interop/common.js';

type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;

t.test('unimplemented security settings refuse to start; values that leave security off pass', async (t) => {
  const refused: Array<[string, string, Record<string, string>?]> = [
    ['authorizer.class.name', 'com.example.CustomAuthorizer'],
    // SASL between brokers with Kafka's default mechanism, Kerberos (PLAIN and SCRAM are implemented: test/security/sasl-inter-broker.test.ts).
    ['sasl.mechanism.inter.broker.protocol', 'GSSAPI', { listeners: 'PLAINTEXT://localhost:9092,SASL_SSL://localhost:9093', 'security.inter.broker.protocol': 'SASL_SSL' }],
  ];
  for (const [key, value, extra] of refused) {
    t.throws(() => new BrokerConfig({ env: {}, overrides: { ...extra, [key]: value } }), new RegExp(`${key.replace(/\./g, '\\.')}.*not implemented by Spool yet`), `${key} refuses`);
  }
  const off: Array<[string, string]> = [
    ['authorizer.class.name', ''],
    ['authorizer.class.name', 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'],
    ['super.users', 'User:admin'],
    ['security.inter.broker.protocol', 'PLAINTEXT'],
    // Unused while the inter-broker listener is not SASL (as in Kafka).
    ['sasl.mechanism.inter.broker.protocol', 'PLAIN'],
    ['ssl.client.auth', 'none'],
    ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL'],
  ];
  for (const [key, value] of off) t.doesNotThrow(() => new BrokerConfig({ env: {}, overrides: { [key]: value } }), `${key}=${value} passes`);

  const d = tempDir('spool-fail-closed-');
  t.teardown(d.cleanup);
  const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'start', '--override', `log.dirs=${d.dir}`, '--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', 'authorizer.class.name=com.example.CustomAuthorizer'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.not(r.status, 0, 'spool start exits non-zero');
  t.match(`${r.stdout}${r.stderr}`, /authorizer\.class\.name.*not implemented by Spool yet/, 'and says why');
});

t.test('acks=1 with flush.messages=1 is acknowledged after the fsync', async (t) => {
  const d = tempDir('spool-flush-acks-');
  const running = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    await running.stop();
    d.cleanup();
  });
  await running.broker.createTopic('durable', 1, { 'flush.messages': '1' });
  const log = running.broker.logManager.getLog('durable', 0);
  if (!log) throw new Error('no log');
  const flush = log.flush.bind(log);
  let flushedAt = 0;
  log.flush = async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await flush();
    flushedAt = Date.now();
  };
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const records = buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'must-be-on-disk' }] });
  const body = { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'durable', partitionData: [{ index: 0, records }] }] };
  const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, body);
  const answeredAt = Date.now();
  t.equal(res.responses[0].partitionResponses[0].errorCode, 0);
  t.ok(flushedAt > 0 && answeredAt >= flushedAt, 'the answer came after the fsync completed');
});
