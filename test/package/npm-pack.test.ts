// package tests: Spool as a user gets it — `npm pack`, the tarball installed into an empty project,
// `npx spool start` there serving a KafkaJS round trip on the engine it logs, a SIGTERM stop with
// exit code 0, the TypeScript engine fallback logged when the addon is missing, and
// `import { startBroker } from 'spool'` through the package's "exports" map.
//
// Install scripts are skipped (--ignore-scripts): Spool's own postinstall does nothing in an
// installed package (it is run by hand below to show it), and zstd-napi's compiles zstd from
// source when no prebuilt binary downloads, minutes on a busy machine; Spool loads zstd-napi
// lazily (the TS engine refuses zstd batches without it; the native engine has its own zstd).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import t from 'tap';

const { Kafka, logLevel, Partitioners } = kafkajs;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function run(command: string, args: string[], cwd: string, timeoutMs: number): { status: number | null; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

interface Started {
  port: number;
  engine: string;
  /** The broker's own process (the node under npx's `npm exec` and `sh -c`), from its log line. */
  pid: number;
  output: () => string;
  stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Process groups of the commands started here, killed at the end whatever happened. */
const groups = new Set<number>();
t.teardown(() => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * `npx spool start` (or `command`) in `project`; resolves at "Spool broker started" (bounded:
 * 60 s). stop() sends SIGTERM to `signalTarget`: the broker's own process, or the command itself.
 */
function spoolStart(project: string, dataDir: string, extra: string[] = [], command: string[] = [npx, '--no-install', 'spool'], signalTarget: 'broker' | 'command' = 'broker'): Promise<Started> {
  const child = spawn(
    command[0],
    [
      ...command.slice(1),
      'start',
      '--override',
      `log.dirs=${dataDir}`,
      '--override',
      'listeners=PLAINTEXT://127.0.0.1:0',
      '--override',
      'spool.admin.listeners=http://127.0.0.1:0',
      '--override',
      'group.initial.rebalance.delay.ms=0',
      ...extra,
    ],
    { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  if (child.pid !== undefined) groups.add(child.pid);
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`spool start did not start within 60 s:\n${out}`));
    }, 60_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('Spool broker started')) continue;
        const entry = JSON.parse(line) as { port: number; engine: string; pid: number };
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        resolve({
          port: entry.port,
          engine: entry.engine,
          pid: entry.pid,
          output: () => out,
          stop: () => {
            if (signalTarget === 'broker') process.kill(entry.pid, 'SIGTERM');
            else child.kill('SIGTERM');
            const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
            return exited.finally(() => clearTimeout(killer));
          },
        });
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`spool start exited with ${code} before starting:\n${out}`));
    });
  });
}

async function roundTrip(port: number, topic: string): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'pack-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ value: 'one' }, { value: 'two' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${values.length} of 2 records within 60 s`)), 60_000);
      consumer
        .run({
          eachMessage: ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length >= 2) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

const nativeBuilt = readdirSync(join(repoRoot, 'native')).some((f) => f.endsWith('.node'));

t.test('npm pack, npm install of the tarball, npx spool start', async (t) => {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
    t.fail('dist/ is not built (npm run build:ts)');
    return;
  }
  if (!nativeBuilt) {
    if (process.env.CI === 'true') t.fail('native addon not built (npm run build:native): the tarball would ship without it');
    else t.comment('native addon not built: the tarball ships without it, the TS engine is expected');
  }
  const work = mkdtempSync(join(tmpdir(), 'spool-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const packed = run(npm, ['pack', '--pack-destination', work, '--json', '--ignore-scripts'], repoRoot, 120_000);
  t.equal(packed.status, 0, 'npm pack');
  if (packed.status !== 0) {
    t.comment(packed.output);
    return;
  }
  const info = JSON.parse(packed.output.slice(packed.output.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = new Set(info[0].files.map((f) => f.path));
  for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'native/index.js', 'native/package.json', 'package.json']) t.ok(files.has(f), `tarball holds ${f}`);
  t.notOk([...files].some((f) => f.startsWith('dist/test/') || f.startsWith('src/')), 'no tests or TypeScript sources shipped');
  if (nativeBuilt) t.ok([...files].some((f) => /^native\/.*\.node$/.test(f)), 'tarball holds the addon');

  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'spool-pack-test', private: true, type: 'module' }));
  const installed = run(npm, ['install', join(work, info[0].filename), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], project, 150_000);
  t.equal(installed.status, 0, 'npm install <tarball>');
  if (installed.status !== 0) {
    t.comment(installed.output);
    return;
  }
  const pkgDir = join(project, 'node_modules', 'spool');
  const postinstall = run(process.execPath, [join(pkgDir, 'scripts', 'postinstall.mjs')], pkgDir, 60_000);
  t.equal(postinstall.status, 0, 'the postinstall script succeeds in an installed package (nothing to build)');

  // The library through the "exports" map, as a test suite embedding Spool would use it.
  const embed = run(
    process.execPath,
    ['--input-type=module', '-e', "const { startBroker } = await import('spool'); const b = await startBroker(); console.log('embedded ' + b.broker.engine.name + ' ' + b.port); await b.stop();"],
    project,
    60_000,
  );
  t.match(embed.output, /embedded (native|ts) \d+/, "import { startBroker } from 'spool'");

  // `npx spool start`: native engine when the tarball carries the addon, KafkaJS round trip, and
  // SIGTERM to the broker process ends it — and npx — with exit code 0. (SIGTERM to the npx
  // process alone is not forwarded: npm runs the bin under `sh -c`, which does not pass it on;
  // service managers should run node_modules/.bin/spool, tested below.)
  const broker = await spoolStart(project, join(work, 'data'));
  t.equal(broker.engine, nativeBuilt ? 'native' : 'ts', `engine logged at start: ${broker.engine}`);
  t.same(await roundTrip(broker.port, 'pack-topic'), ['one', 'two'], 'KafkaJS produce/consume round trip');
  const stopped = await broker.stop();
  t.same(stopped, { code: 0, signal: null }, 'SIGTERM stops it; npx exits with code 0');
  t.match(broker.output(), /Spool broker stopped/);

  // Without the addon, `auto` falls back to the TypeScript engine and says so. Started as a
  // service manager would, SIGTERM going to the command it started.
  for (const f of readdirSync(join(pkgDir, 'native'))) if (f.endsWith('.node')) rmSync(join(pkgDir, 'native', f));
  const bin = join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'spool.cmd' : 'spool');
  const fallback = await spoolStart(project, join(work, 'data-ts'), ['--engine', 'auto'], [bin], 'command');
  t.equal(fallback.engine, 'ts', 'TS engine without the addon');
  t.match(fallback.output(), /using the TypeScript storage engine/, 'the fallback is logged with its reason');
  t.same(await roundTrip(fallback.port, 'pack-topic-ts'), ['one', 'two'], 'round trip on the TS engine');
  t.same(await fallback.stop(), { code: 0, signal: null }, 'SIGTERM stops it with exit code 0');
});
