// cli tests: `spool start` start-up failures are one plain stderr line naming the cause and the
// setting to change, exit code 1, no stack trace (stdout keeps JSON log lines only); the checked-in
// config/server.properties (Kafka's names) starts a broker; --log-format pretty; SIGTERM exits 0.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/broker.js';
import { repoRoot } from '../interop/common.js';
import { spool, startSpool, type CliResult } from './run.js';

/** The admin HTTP plane would contend for its fixed default port between brokers: off in tests. */
const NO_ADMIN = ['-o', 'spool.admin.listeners='];

function checkOneLine(t: Test, r: CliResult, pattern: RegExp, what: string): void {
  t.equal(r.code, 1, `${what}: exit code 1`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `${what}: one stderr line (${JSON.stringify(r.stderr)})`);
  t.match(lines[0] ?? '', pattern, `${what}: names the cause and the setting`);
  t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  for (const line of r.stdout.split('\n').filter((l) => l !== '')) {
    const entry = JSON.parse(line) as { stack?: unknown; err?: unknown };
    t.equal(entry.err, undefined, `${what}: JSON log line without an error object`);
  }
}

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a !== null ? a.port : 0 });
    });
  });
}

t.test('port in use', async (t) => {
  const d = tempDir('spool-cli-start-');
  t.teardown(d.cleanup);
  const { server, port } = await listen();
  t.teardown(() => server.close());
  const r = await spool(['start', ...NO_ADMIN, '-o', `log.dirs=${join(d.dir, 'data')}`, '-o', `listeners=PLAINTEXT://127.0.0.1:${port}`]);
  checkOneLine(t, r, new RegExp(`^spool: listener port ${port} is in use \\(listeners=PLAINTEXT://127\\.0\\.0\\.1:${port}\\); set listeners to a free port$`), 'port in use');
});

t.test('data directory not writable', async (t) => {
  const d = tempDir('spool-cli-start-');
  t.teardown(d.cleanup);
  // A regular file where a directory should be: not writable even for root.
  const file = join(d.dir, 'a-file');
  writeFileSync(file, 'not a directory');
  const r = await spool(['start', ...NO_ADMIN, '-o', `log.dirs=${join(file, 'data')}`, '-o', 'listeners=PLAINTEXT://127.0.0.1:0']);
  checkOneLine(t, r, /^spool: data directory .*a-file\/data is not writable \(ENOTDIR.*\); set log\.dirs to a writable directory$/, 'data dir');
});

t.test('data directory in use by another broker', async (t) => {
  const d = tempDir('spool-cli-start-');
  t.teardown(d.cleanup);
  const dataDir = join(d.dir, 'data');
  const first = await startSpool([...NO_ADMIN, '-o', `log.dirs=${dataDir}`, '-o', 'listeners=PLAINTEXT://127.0.0.1:0']);
  t.teardown(async () => {
    if (first.child.exitCode === null) first.child.kill('SIGKILL');
    await first.exited;
  });
  const second = await spool(['start', ...NO_ADMIN, '-o', `log.dirs=${dataDir}`, '-o', 'listeners=PLAINTEXT://127.0.0.1:0']);
  checkOneLine(t, second, new RegExp(`^spool: Failed to acquire lock on file \\.lock in ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\. A Kafka instance in another process or thread is using this directory\\. In use by another broker \\(pid ${String(first.child.pid)} on \\S+\\); stop it or set log\\.dirs to another directory \\(${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`), 'locked data dir');
  t.equal(await first.stop(), 0, 'the first broker is unaffected and stops cleanly');
});

t.test('bad setting value and unknown engine', async (t) => {
  const bad = await spool(['start', ...NO_ADMIN, '-o', 'num.partitions=zero']);
  checkOneLine(t, bad, /^spool: invalid value "zero" for num\.partitions: must be an integer; set num\.partitions \(in the properties file, SPOOL_NUM_PARTITIONS or --override num\.partitions=\.\.\.\)$/, 'bad value');
  const engine = await spool(['start', ...NO_ADMIN, '--engine', 'warp']);
  checkOneLine(t, engine, /^spool: invalid value "warp" for spool\.engine: must be one of native, ts, auto; set --engine \(spool\.engine\) to native, ts or auto$/, 'unknown engine');
  const env = await spool(['start', ...NO_ADMIN], { env: { ...process.env, SPOOL_LISTENERS: 'nonsense' } });
  checkOneLine(t, env, /^spool: invalid value "nonsense" for listeners: .*; set listeners \(in the properties file, SPOOL_LISTENERS or --override listeners=\.\.\.\)$/, 'bad env value');
  const noFile = await spool(['start', ...NO_ADMIN, '--config', '/nonexistent/server.properties']);
  checkOneLine(t, noFile, /^spool: cannot read the properties file \/nonexistent\/server\.properties: .*ENOENT.*; check the --config path$/, 'missing properties file');
});

t.test('config/server.properties starts a broker (port 0 overrides); SIGTERM exits 0', async (t) => {
  const d = tempDir('spool-cli-start-');
  t.teardown(d.cleanup);
  const broker = await startSpool([
    '--config',
    join(repoRoot, 'config', 'server.properties'),
    ...NO_ADMIN,
    '-o',
    `log.dirs=${join(d.dir, 'data')}`,
    '-o',
    'listeners=PLAINTEXT://127.0.0.1:0',
    '-o',
    'advertised.listeners=PLAINTEXT://127.0.0.1:0',
  ]);
  t.teardown(async () => {
    if (broker.child.exitCode === null) broker.child.kill('SIGKILL');
    await broker.exited;
  });
  t.match(broker.stdout(), /"keys":\["process\.roles"/, 'the KRaft-only settings are logged as unused');
  const bootstrap = `127.0.0.1:${broker.port}`;
  const created = await spool(['topic', 'create', 'from-example', '--partitions', '2', '--bootstrap-server', bootstrap]);
  t.equal(created.code, 0, `topic create: ${created.stderr}`);
  const list = await spool(['topic', 'list', '--bootstrap-server', bootstrap]);
  t.match(list.stdout, /^from-example$/m);
  t.equal(await broker.stop(), 0, 'SIGTERM: exit code 0');
  for (const line of broker.stdout().split('\n').filter((l) => l !== '')) JSON.parse(line);
  t.pass('stdout holds JSON log lines only');
});

t.test('--log-format pretty prints human lines; SIGINT exits 0', async (t) => {
  const d = tempDir('spool-cli-start-');
  t.teardown(d.cleanup);
  const broker = await startSpool(['--log-format', 'pretty', ...NO_ADMIN, '-o', `log.dirs=${join(d.dir, 'data')}`, '-o', 'listeners=PLAINTEXT://127.0.0.1:0']);
  t.teardown(async () => {
    if (broker.child.exitCode === null) broker.child.kill('SIGKILL');
    await broker.exited;
  });
  t.match(broker.stdout(), /INFO \(spool\): Spool broker started\n/, 'pretty start line');
  t.notMatch(broker.stdout(), /^\{/m, 'no JSON lines');
  broker.child.kill('SIGINT');
  t.equal(await broker.exited, 0, 'SIGINT: exit code 0');
  t.match(broker.stdout(), /Spool broker stopped/);
});
