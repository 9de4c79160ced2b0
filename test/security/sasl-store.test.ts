// security tests (issue 14): SCRAM credentials in the metadata store — salted (no password kept),
// persisted in the data dir across a restart (single node), and in etcd seen by every broker of the
// cluster; the SASL settings a broker refuses to start with (fail closed); the JAAS parser.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EtcdMetadataStore, LocalMetadataStore, type MetadataStore } from '../../src/cluster/index.js';
import { BrokerConfig } from '../../src/config/index.js';
import { startBroker } from '../../src/index.js';
import { credentialFromSaltedPassword, parseJaasConfig, plainUsers, saltPassword, ScramServer } from '../../src/security/sasl/index.js';
import { EtcdServer, findEtcd, reportMissingEtcd } from '../helpers/etcd.js';

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'spool-sasl-store-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const salt = Buffer.from('0123456789abcdef');
const alice256 = credentialFromSaltedPassword('alice', 'SCRAM-SHA-256', salt, saltPassword('SCRAM-SHA-256', 'alice-secret', salt, 4096), 4096);
const alice512 = credentialFromSaltedPassword('alice', 'SCRAM-SHA-512', salt, saltPassword('SCRAM-SHA-512', 'alice-secret', salt, 8192), 8192);

t.test('SCRAM-SHA-256 server against the RFC 7677 section 3 exchange', async (t) => {
  const s = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const credential = credentialFromSaltedPassword('user', 'SCRAM-SHA-256', s, saltPassword('SCRAM-SHA-256', 'pencil', s, 4096), 4096);
  const server = new ScramServer('SCRAM-SHA-256', () => Promise.resolve(credential), () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  const first = await server.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  t.equal(first.response.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  const final = await server.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
  t.equal(final.response.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  t.equal(final.user, 'user');
  // The same exchange with one bit of the proof flipped fails.
  const again = new ScramServer('SCRAM-SHA-256', () => Promise.resolve(credential), () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  await again.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  await t.rejects(again.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=')), /Invalid client credentials/);
});

t.test('local store: credentials persist across a restart, salted only', async (t) => {
  const d = dir(t);
  const config = new BrokerConfig({ env: {}, overrides: { 'log.dirs': d } });
  const first = new LocalMetadataStore(d, config);
  await first.start();
  await first.alterScramCredentials([alice256, alice512], []);
  await first.alterScramCredentials([], [{ user: 'alice', mechanism: 'SCRAM-SHA-512' }]);
  await first.close();
  const file = readFileSync(join(d, '__spool_scram_credentials.json'), 'utf8');
  t.notMatch(file, /alice-secret/, 'no password on disk');
  const second: MetadataStore = new LocalMetadataStore(d, config);
  await second.start();
  t.same(await second.scramCredentials?.(), [alice256]);
  t.same(await second.scramCredential?.('alice', 'SCRAM-SHA-256'), alice256);
  t.equal(await second.scramCredential?.('alice', 'SCRAM-SHA-512'), undefined);
  await second.close();
});

const bin = findEtcd();
if (bin === null) {
  reportMissingEtcd(t);
} else {
  t.test('etcd store: credentials written by one broker are seen by every other', async (t) => {
    const etcd = await EtcdServer.start(bin);
    t.teardown(() => etcd.stop());
    const prefix = `scram${process.pid}`;
    const open = async (nodeId: number): Promise<EtcdMetadataStore> => {
      const config = new BrokerConfig({ env: {}, overrides: { 'node.id': nodeId, 'spool.etcd.endpoints': etcd.endpoint, 'spool.etcd.prefix': prefix, 'broker.session.timeout.ms': 3000 } });
      const store = new EtcdMetadataStore(dir(t), config);
      await store.start();
      t.teardown(() => store.close());
      return store;
    };
    const one = await open(1);
    const two = await open(2);
    await one.alterScramCredentials([alice256, alice512, { ...alice256, user: 'we/ird user' }], []);
    t.same(await two.scramCredential('alice', 'SCRAM-SHA-512'), alice512, 'broker 2 reads what broker 1 wrote');
    t.same(await two.scramCredential('we/ird user', 'SCRAM-SHA-256'), { ...alice256, user: 'we/ird user' });
    await two.alterScramCredentials([], [{ user: 'alice', mechanism: 'SCRAM-SHA-256' }]);
    t.same((await one.scramCredentials()).map((c) => `${c.mechanism} ${c.user}`).sort(), ['SCRAM-SHA-256 we/ird user', 'SCRAM-SHA-512 alice']);
  });
}

t.test('SASL settings Spool cannot honour refuse to start', async (t) => {
  const base = { listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0' };
  const refused: Array<[string, Record<string, string>, RegExp]> = [
    ['GSSAPI (Kafka\'s default mechanism)', {}, /GSSAPI/],
    ['OAUTHBEARER without a JWKS', { 'sasl.enabled.mechanisms': 'OAUTHBEARER' }, /sasl\.oauthbearer\.jwks\.endpoint\.url/],
    ['PLAIN without users', { 'sasl.enabled.mechanisms': 'PLAIN' }, /no JAAS config/],
    ['GSSAPI between brokers (Kafka\'s default inter-broker mechanism)', { 'sasl.enabled.mechanisms': 'PLAIN', 'inter.broker.listener.name': 'SASL_PLAINTEXT' }, /GSSAPI.*between brokers is not implemented/],
    [
      'OAUTHBEARER between brokers',
      { 'sasl.enabled.mechanisms': 'OAUTHBEARER', 'sasl.mechanism.inter.broker.protocol': 'OAUTHBEARER', 'security.inter.broker.protocol': 'SASL_PLAINTEXT' },
      /OAUTHBEARER between brokers is not implemented/,
    ],
    [
      'an inter-broker mechanism the listener does not enable',
      { 'sasl.enabled.mechanisms': 'PLAIN', 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512', 'inter.broker.listener.name': 'SASL_PLAINTEXT' },
      /must be included in sasl\.enabled\.mechanisms/,
    ],
    [
      'PLAIN between brokers without the broker\'s own username/password',
      {
        'sasl.enabled.mechanisms': 'PLAIN',
        'sasl.mechanism.inter.broker.protocol': 'PLAIN',
        'inter.broker.listener.name': 'SASL_PLAINTEXT',
        'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_broker="secret";',
      },
      /needs the broker's own credentials/,
    ],
  ];
  for (const [what, config, message] of refused) {
    await t.rejects(startBroker({ logLevel: 'silent', config: { ...base, ...config } }), { message }, what);
  }
});

t.test('JAAS config: PlainLoginModule users; malformed text is refused', (t) => {
  const users = plainUsers(
    'org.apache.kafka.common.security.plain.PlainLoginModule required\n  username="admin"\n  password="admin-secret"\n  user_admin="admin-secret"\n  user_alice="a \\"quoted\\" secret";',
  );
  t.same([...users], [
    ['admin', 'admin-secret'],
    ['alice', 'a "quoted" secret'],
  ]);
  t.same(parseJaasConfig('a.B optional x=1; c.D required;').map((m) => [m.loginModule, m.flag, [...m.options]]), [
    ['a.B', 'optional', [['x', '1']]],
    ['c.D', 'required', []],
  ]);
  t.throws(() => parseJaasConfig('org.Foo required user_a="x"'), /does not end with/);
  t.throws(() => parseJaasConfig('org.Foo maybe;'), /required/);
  t.end();
});
