// admin room tests: spool.admin.listeners and spool.admin.token — off when empty, bearer token on
// mutations, mutations refused on a non-loopback listener without a token, bind failures named by
// the setting, and the probes of a broker that is still starting.
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import t from 'tap';
import { AdminServer } from '../../src/admin/server.js';
import { Broker, BrokerConfig, startBroker } from '../../src/index.js';
import { tempDir } from '../helpers/broker.js';

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Array<{ msg: string }> } {
  const lines: Array<{ msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as { msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

async function post(url: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

t.test('an empty spool.admin.listeners turns the admin plane off', async (t) => {
  const data = tempDir('spool-admin-');
  const b = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', config: { 'spool.admin.listeners': '' } });
  t.teardown(async () => {
    await b.stop();
    data.cleanup();
  });
  t.equal(b.broker.adminAddress, null);
  t.ok(await b.broker.createTopic('still-works', 1), 'the Kafka side runs');
});

t.test('spool.admin.token: every mutation needs the bearer token, reads do not', async (t) => {
  const data = tempDir('spool-admin-');
  const b = await startBroker({
    dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts',
    config: { 'spool.admin.listeners': 'http://127.0.0.1:0', 'spool.admin.token': 's3cret' },
  });
  t.teardown(async () => {
    await b.stop();
    data.cleanup();
  });
  const base = `http://127.0.0.1:${b.broker.adminAddress?.port ?? 0}`;
  const none = await post(`${base}/v1/topics`, { name: 'guarded' });
  t.equal(none.status, 401);
  t.equal(none.body.error, 'Unauthorized');
  t.equal((await post(`${base}/v1/topics`, { name: 'guarded' }, 'wrong')).status, 401);
  const del = await fetch(`${base}/v1/topics/guarded`, { method: 'DELETE' });
  t.equal(del.status, 401, 'DELETE is a mutation too');
  t.equal(b.broker.metadata.topic('guarded'), undefined, 'nothing was created');
  const ok = await post(`${base}/v1/topics`, { name: 'guarded' }, 's3cret');
  t.equal(ok.status, 201);
  const read = await fetch(`${base}/v1/topics/guarded`);
  t.equal(read.status, 200, 'GET needs no token');
  const described = b.broker.config.describeBroker(false, false).find((c) => c.name === 'spool.admin.token');
  t.equal(described?.value, null, 'DescribeConfigs hides the token');
  t.equal(described?.sensitive, true);
});

t.test('with an authorizer, every REST route needs the token (the admin plane does not bypass ACLs)', async (t) => {
  const data = tempDir('spool-admin-');
  const b = await startBroker({
    dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts',
    config: {
      'spool.admin.listeners': 'http://127.0.0.1:0',
      'spool.admin.token': 's3cret',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
    },
  });
  t.teardown(async () => {
    await b.stop();
    data.cleanup();
  });
  t.ok(await b.broker.createTopic('acl-guarded', 1));
  const base = `http://127.0.0.1:${b.broker.adminAddress?.port ?? 0}`;
  t.equal((await fetch(`${base}/v1/topics/acl-guarded`)).status, 401, 'a read without the token is refused');
  t.equal((await fetch(`${base}/v1/topics/acl-guarded/partitions/0/records`)).status, 401, 'and so is reading records');
  t.equal((await fetch(`${base}/v1/topics/acl-guarded`, { headers: { authorization: 'Bearer s3cret' } })).status, 200, 'with the token it is served');
  t.equal((await fetch(`${base}/v1/status/live`)).status, 200, 'the probes stay open');
  t.equal((await fetch(`${base}/metrics`)).status, 200, 'and /metrics');

  const noToken = tempDir('spool-admin-');
  const c = await startBroker({
    dataDir: noToken.dir, port: 0, host: '127.0.0.1', engine: 'ts',
    config: { 'spool.admin.listeners': 'http://127.0.0.1:0', 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' },
  });
  t.teardown(async () => {
    await c.stop();
    noToken.cleanup();
  });
  const cBase = `http://127.0.0.1:${c.broker.adminAddress?.port ?? 0}`;
  const refused = await fetch(`${cBase}/v1/topics`);
  t.equal(refused.status, 403, 'no token: the REST API is refused even on loopback');
  t.match(((await refused.json()) as { message: string }).message, /authorizer\.class\.name/);
  t.equal((await post(`${cBase}/v1/topics`, { name: 'x' })).status, 403, 'mutations too');
});

t.test('a non-loopback listener without a token refuses mutations with 403 and warns at start', async (t) => {
  const data = tempDir('spool-admin-');
  const { logger, lines } = capturingLogger();
  const b = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', logger, config: { 'spool.admin.listeners': 'http://0.0.0.0:0' } });
  t.teardown(async () => {
    await b.stop();
    data.cleanup();
  });
  t.ok(lines.some((l) => l.msg.includes('spool.admin.token is not set')), 'a warning names the missing token');
  const base = `http://127.0.0.1:${b.broker.adminAddress?.port ?? 0}`;
  const refused = await post(`${base}/v1/topics`, { name: 'open' });
  t.equal(refused.status, 403);
  t.equal(refused.body.error, 'Forbidden');
  t.equal((await fetch(`${base}/v1/topics`)).status, 200, 'reads still work');
});

function listenOn(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

t.test('a listener that cannot bind is a start-up error naming spool.admin.listeners', async (t) => {
  const holder = await listenOn(0);
  if (holder === null) throw new Error('no free port');
  t.teardown(() => holder.close());
  const address = holder.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  const data = tempDir('spool-admin-');
  t.teardown(() => data.cleanup());
  await t.rejects(
    startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', config: { 'spool.admin.listeners': `http://127.0.0.1:${port}` } }),
    /spool\.admin\.listeners.*cannot listen/,
  );
  // The data directory is released: the same broker starts once the setting is fixed.
  const b = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', config: { 'spool.admin.listeners': 'http://127.0.0.1:0' } });
  t.ok(b.broker.adminAddress);
  await b.stop();
});

t.test('the default listener in use: the broker starts without the admin plane and warns', async (t) => {
  // Held by this test; another process (a broker started by hand or by another test) may hold it
  // for a while, then it is in use anyway, but it may let go at any moment: keep trying to take it.
  let holder: Server | null = null;
  for (let i = 0; i < 100 && holder === null; i++) {
    holder = await listenOn(9644);
    if (holder === null) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.teardown(() => holder?.close());
  const data = tempDir('spool-admin-');
  const { logger, lines } = capturingLogger();
  // The kafka preset leaves spool.admin.listeners at its default (the dev preset turns it off).
  const b = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', logger, preset: 'kafka' });
  t.teardown(async () => {
    await b.stop();
    data.cleanup();
  });
  t.equal(b.broker.adminAddress, null);
  t.ok(lines.some((l) => l.msg.includes('starting without the admin HTTP plane')), 'the warning says the admin plane is off');
});

t.test('spool.admin.listeners is validated', async (t) => {
  t.throws(() => new Broker({ env: {}, overrides: { 'spool.admin.listeners': 'ftp://127.0.0.1:1' } }), /spool\.admin\.listeners/);
  t.throws(() => new Broker({ env: {}, overrides: { 'spool.admin.listeners': 'http://a:1,http://b:2' } }), /spool\.admin\.listeners/);
  t.throws(() => new Broker({ env: {}, overrides: { 'spool.admin.listeners': 'http://127.0.0.1:70000' } }), /spool\.admin\.listeners/);
  t.same(new BrokerConfig({ env: {} }).getList('spool.admin.listeners'), ['http://127.0.0.1:9644'], 'the default');
});

t.test('while the broker starts: live answers, ready is 503 with the reason, the REST API is 503', async (t) => {
  const config = new BrokerConfig({ env: {}, overrides: { 'spool.admin.listeners': 'http://127.0.0.1:0' } });
  const server = await AdminServer.start(config, pino({ level: 'silent' }), {
    nodeId: 1,
    services: () => null,
    kafkaListenerBound: () => false,
    connectionCount: () => 0,
  });
  if (server === null) throw new Error('admin plane not started');
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.address.port}`;
  const live = await fetch(`${base}/v1/status/live`);
  t.equal(live.status, 200);
  const ready = await fetch(`${base}/v1/status/ready`);
  t.equal(ready.status, 503);
  t.same(await ready.json(), { status: 'not ready', reason: 'logs are not loaded yet' });
  const topics = await fetch(`${base}/v1/topics`);
  t.equal(topics.status, 503);
  t.equal(((await topics.json()) as { error: string }).error, 'NotReady');
  const metrics = await fetch(`${base}/metrics`);
  t.equal(metrics.status, 200);
  const text = await metrics.text();
  t.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  t.match(text, /process_cpu_user_seconds_total/);
  t.match(text, /\nkafka_server_replicamanager_partitioncount 0\n/, 'broker gauges stay empty before the services exist');
  t.notMatch(text, /spool_storage_engine_info\{/);
});

t.test('two brokers in one process: each its own admin plane and metrics registry', async (t) => {
  const dirs = [tempDir('spool-admin-'), tempDir('spool-admin-')];
  const brokers = await Promise.all(
    dirs.map((d) => startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine: 'ts', config: { 'spool.admin.listeners': 'http://127.0.0.1:0' } })),
  );
  t.teardown(async () => {
    for (const b of brokers) await b.stop();
    for (const d of dirs) d.cleanup();
  });
  await brokers[0].broker.createTopic('only-on-first', 2);
  const texts = await Promise.all(brokers.map(async (b) => (await fetch(`http://127.0.0.1:${b.broker.adminAddress?.port ?? 0}/metrics`)).text()));
  t.match(texts[0], /\nkafka_log_log_size\{topic="only-on-first",partition="1"\} 0\n/);
  t.notMatch(texts[1], /only-on-first/);
  t.match(texts[0], /\nkafka_server_replicamanager_partitioncount 2\n/);
  t.match(texts[1], /\nkafka_server_replicamanager_partitioncount 0\n/);
  t.match(texts[1], /\nnodejs_eventloop_lag_seconds /, 'default metrics in both registries');
});
