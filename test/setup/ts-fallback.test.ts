// setup: the pure-TypeScript engine really is a fallback. A copy of this checkout (its tracked and
// untracked, not ignored, files: what a clone of it holds) is installed with `npm install` where no
// native code can be had: cargo is not on PATH (so the Rust addon is not built) and zstd-napi's own
// native build is denied (allowScripts "zstd-napi": false, as an npm that blocks unreviewed install
// scripts would do), so the TS engine's zstd codec cannot load either. Checked:
//   - `npm install` succeeds and prints exactly one warning line about the storage engine;
//   - the installed broker starts on the TS engine (`spool start --engine auto`), logging why;
//   - KafkaJS produces and consumes uncompressed and gzip batches;
//   - a zstd batch is refused with UNSUPPORTED_COMPRESSION_TYPE, the reason logged once, and the
//     broker keeps serving afterwards.
// To keep it short: the interop toolchains are skipped in the copy (SPOOL_SKIP_TOOLCHAINS=1), the
// compiled dist/src of this checkout (`npm test` builds it first) is copied along, so postinstall
// finds dist/ up to date, and npm runs with --prefer-offline (packages from the npm cache).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { zstdCodec } from '../interop/kafkajs/codecs.js';

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = kafkajs;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const INSTALL_TIMEOUT_MS = 240_000;

/** PATH without any directory that holds a cargo executable. */
function pathWithoutCargo(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d !== '' && !existsSync(join(d, 'cargo')))
    .join(delimiter);
}

/** Copies the files a clone would hold (tracked, and untracked but not ignored) to `dest`. */
function copyCheckout(dest: string): number {
  const copyFile = (rel: string): void => {
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    copyFileSync(join(repoRoot, rel), join(dest, rel));
  };
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' });
  if (ls.status !== 0) throw new Error(`git ls-files failed: ${ls.stderr}`);
  let n = 0;
  for (const rel of ls.stdout.split('\0')) {
    if (rel === '') continue;
    const from = join(repoRoot, rel);
    // A tracked file deleted in the working tree is not part of the checkout.
    if (!existsSync(from) || !statSync(from).isFile()) continue;
    copyFile(rel);
    n++;
  }
  // The build output, copied after the sources so it is newer; then postinstall's stamp.
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(repoRoot, rel), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(rel, e.name));
      else if (e.isFile()) copyFile(join(rel, e.name));
    }
  };
  walk(join('dist', 'src'));
  const ts = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(dest, 'dist', '.spool-postinstall-tsc'), `typescript ${ts.version}\n`);
  return n;
}

const work = mkdtempSync(join(tmpdir(), 'spool-ts-fallback-'));
const copy = join(work, 'spool');
let broker: ChildProcess | undefined;
t.teardown(() => {
  broker?.kill('SIGKILL');
  if (!t.passing()) {
    t.comment(`work dir kept: ${work}`);
    return;
  }
  // The copy holds a whole node_modules: removing it takes a while on a busy machine, and nothing
  // waits for it, so rm runs on after the test has ended.
  const rm = spawn('rm', ['-rf', work], { detached: true, stdio: 'ignore' });
  rm.on('error', () => rmSync(work, { recursive: true, force: true }));
  rm.unref();
});

t.test('npm install without cargo and without zstd-napi, then produce/consume on the TS engine', async (t) => {
  const begin = Date.now();
  const elapsed = (): string => `${((Date.now() - begin) / 1000).toFixed(1)} s`;
  const files = copyCheckout(copy);
  t.ok(files > 100 && existsSync(join(copy, 'package.json')), `checkout copied (${files} files)`);
  const pkgPath = join(copy, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { allowScripts?: Record<string, boolean> };
  pkg.allowScripts = { ...pkg.allowScripts, 'zstd-napi': false };
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);

  // Under `npm test` the parent npm's npm_* variables would leak its settings into this install;
  // CI is left out too (a newcomer's machine; CI=true would also make tsc errors fatal).
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('npm_') && key !== 'CI' && key !== 'SPOOL_SKIP_NATIVE_BUILD'),
  );
  env.PATH = pathWithoutCargo();
  env.SPOOL_SKIP_TOOLCHAINS = '1';
  t.equal(spawnSync('cargo', ['--version'], { env, stdio: 'ignore' }).error !== undefined, true, 'cargo is not on the PATH used');

  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: copy,
    env,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
  });
  const output = `${install.stdout}\n${install.stderr}`;
  t.comment(`npm install done after ${elapsed()}`);
  t.equal(install.status, 0, 'npm install succeeds', { output: output.slice(-4000) });
  const engineLines = output.split('\n').filter((l) => /storage engine/i.test(l));
  t.equal(engineLines.length, 1, 'exactly one line about the storage engine', { engineLines });
  t.match(engineLines[0] ?? '', /cargo not found.*TypeScript storage engine.*without zstd/, 'it says: no cargo, TS engine, no zstd');
  t.notOk(existsSync(join(copy, 'node_modules', 'zstd-napi', 'build')), "zstd-napi's native build did not run");
  t.match(output, /dist\/ is up to date/, 'postinstall kept the copied dist/');

  // The installed broker, as `npm start` would run it (engine auto).
  const logDir = join(work, 'data');
  broker = spawn(
    process.execPath,
    [join(copy, 'dist', 'src', 'cli', 'main.js'), 'start', '--engine', 'auto', '-o', `log.dirs=${logDir}`, '-o', 'listeners=PLAINTEXT://127.0.0.1:0'],
    { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  broker.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  broker.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const started = await new Promise<{ port: number; engine: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${log}`)), 60_000);
    const check = (): void => {
      for (const line of log.split('\n')) {
        if (!line.includes('Spool broker started')) continue;
        clearTimeout(timer);
        const o = JSON.parse(line) as { port: number; engine: string };
        resolve(o);
        return;
      }
    };
    broker?.stdout?.on('data', check);
    broker?.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${String(code)}:\n${log}`));
    });
  });
  t.equal(started.engine, 'ts', 'the broker runs on the TS engine');
  t.match(log, /using the TypeScript storage engine/, 'and logs why');

  CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
  const kafka = new Kafka({ clientId: 'ts-fallback', brokers: [`127.0.0.1:${started.port}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'plain', numPartitions: 1 }, { topic: 'zstd', numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  const N = 50;
  for (const [compression, tag] of [[CompressionTypes.None, 'none'], [CompressionTypes.GZIP, 'gzip']] as const) {
    await producer.send({
      topic: 'plain',
      compression,
      messages: Array.from({ length: N }, (_, i) => ({ key: `${tag}-${i}`, value: `${tag} value ${i}` })),
    });
  }
  t.pass(`produced ${N} uncompressed and ${N} gzip records`);

  const refused = await producer
    .send({ topic: 'zstd', compression: CompressionTypes.ZSTD, messages: [{ key: 'z', value: 'zstd value' }] })
    .then(
      () => null,
      (err: unknown) => err as { type?: string; message?: string },
    );
  t.equal(refused?.type, 'UNSUPPORTED_COMPRESSION_TYPE', 'a zstd batch is refused with UNSUPPORTED_COMPRESSION_TYPE', { refused });
  await producer.send({ topic: 'zstd', messages: [{ key: 'after', value: 'uncompressed after zstd' }] });
  t.pass('the broker keeps serving produce after the refused zstd batch');
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'ts-fallback', retry: { retries: 3 } });
  await consumer.connect();
  await consumer.subscribe({ topics: ['plain', 'zstd'], fromBeginning: true });
  const got = new Map<string, string[]>();
  const want = 2 * N + 1;
  let count = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ topic, message }) => {
        const list = got.get(topic) ?? [];
        list.push(message.value?.toString() ?? '');
        got.set(topic, list);
        if (++count === want) resolve();
      },
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 60_000)));
  await Promise.race([done, timeout]);
  clearTimeout(timer);
  await consumer.disconnect();
  const plain = got.get('plain') ?? [];
  t.equal(plain.length, 2 * N, 'every uncompressed and gzip record is consumed');
  t.same(plain.slice(0, 3), ['none value 0', 'none value 1', 'none value 2'], 'in order, with their values');
  t.equal(plain[N], 'gzip value 0', 'the gzip batch follows');
  t.same(got.get('zstd'), ['uncompressed after zstd'], 'the zstd topic holds only the record sent after the refusal');

  const zstdWarnings = log.split('\n').filter((l) => l.includes('zstd-napi cannot load'));
  t.equal(zstdWarnings.length, 1, 'the reason zstd is unavailable is logged once', { zstdWarnings });
  t.comment(`produce/consume checked after ${elapsed()}`);
  const exited = new Promise((resolve) => broker?.once('exit', resolve));
  broker.kill('SIGTERM');
  await exited;
});
