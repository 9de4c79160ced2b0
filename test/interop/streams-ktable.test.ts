// test/interop room (compaction, issue 9 item 6): a Kafka Streams KTable restores from a changelog
// compacted by Spool's log cleaner. The app (test/interop/streams/, StreamsKTable.java, kafka-streams
// 4.4) counts its input per key into the store "counts", whose changelog Streams creates with
// cleanup.policy=compact (and, asked by the app, small segments and min.cleanable.dirty.ratio=0.01);
// it prints the whole store (an interactive query) twice a second while RUNNING, and what it
// restored (a state restore listener).
//   1. 100 keys x 100 updates go to the input topic (KafkaJS); the app runs until its table shows
//      100 for every key.
//   2. Wait until Spool's cleaner has compacted every changelog partition up to its active segment
//      (the cleaner-offset-checkpoint), then stop the app (SIGTERM) and wipe its state directory.
//   3. Start it again: it must restore the same table from the changelog, restoring far fewer
//      records than the 10,000 updates written (the compacted log), and then count one more update
//      of every key to 101 (the restored counts are the ones it goes on from).
import t from 'tap';
import kafkajs from 'kafkajs';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/log/checkpoint.js';
import { CLEANER_OFFSET_CHECKPOINT } from '../../src/log/cleaner.js';
import { interopDir, isStale, removeDir, requireToolchain, run, runId, startSpool, tempDir, works } from './common.js';

const { Kafka, logLevel } = kafkajs;

const streamsDir = join(interopDir, 'streams');
const dependencies = join(streamsDir, 'target', 'dependency');
const classes = join(streamsDir, 'target', 'classes');
const source = join(streamsDir, 'src', 'main', 'java', 'spool', 'interop', 'streams', 'StreamsKTable.java');
const mainClass = join(classes, 'spool', 'interop', 'streams', 'StreamsKTable.class');

const PARTITIONS = 2;
const KEYS = 100;
const UPDATES = 100;
const CHANGELOG_SEGMENT_BYTES = 4096;
const WAIT_MS = 90_000;

/** Compiles StreamsKTable when missing or older than its source (setup-interop.sh's mvn package does the same). */
async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  if (!isStale(mainClass, [source])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface App {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  table: () => Record<string, number> | null;
  restored: () => Array<{ topic: string; partition: number; restored: number }>;
  fatal: () => string | null;
  closed: () => boolean | null;
  log: () => string;
}

function startApp(bootstrap: string, appId: string, input: string, stateDir: string): App {
  const child = spawn(
    'java',
    ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${classes}:${dependencies}/*`, 'spool.interop.streams.StreamsKTable', 'app', bootstrap, appId, input, stateDir, String(CHANGELOG_SEGMENT_BYTES)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let table: Record<string, number> | null = null;
  const restored: Array<{ topic: string; partition: number; restored: number }> = [];
  let fatal: string | null = null;
  let closed: boolean | null = null;
  let log = '';
  let pending = '';
  child.stdout.on('data', (b: Buffer) => {
    const lines = (pending + b.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('table' in msg) table = msg.table as Record<string, number>;
      else {
        log = (log + line + '\n').slice(-10_000);
        if ('restoreEnd' in msg) restored.push(msg.restoreEnd as { topic: string; partition: number; restored: number });
        if ('fatal' in msg) fatal = String(msg.fatal);
        if ('closed' in msg) closed = msg.closed === true;
      }
    }
  });
  child.stderr.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-10_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, table: () => table, restored: () => restored, fatal: () => fatal, closed: () => closed, log: () => log };
}

async function stopApp(app: App): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  app.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([app.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 45_000)))]);
  clearTimeout(timer);
  if (!done) {
    app.child.kill('SIGKILL');
    await app.exited;
  }
}

/** The app's last output, for a failing check's message only. */
const why = (ok: boolean, app: App) => (ok ? '' : ` (fatal: ${app.fatal()}; ${app.log().slice(-1500)})`);

const tableIs = (app: App, count: number) => {
  const table = app.table();
  if (table === null) return false;
  const keys = Object.keys(table);
  return keys.length === KEYS && keys.every((k) => table[k] === count);
};

async function waitUntil(cond: () => boolean, ms: number, app: App): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline && app.fatal() === null && app.child.exitCode === null) await sleep(200);
  return cond();
}

t.test('Kafka Streams restores a KTable from a changelog compacted by Spool', { timeout: 400_000 }, async (t) => {
  if (!requireToolchain(t, ready, 'java/javac or the Streams interop dependencies (test/interop/streams/target/dependency) are missing')) return;
  const dir = tempDir('streams-ktable');
  const dataDir = join(dir, 'spool-data');
  const stateDir = join(dir, 'state');
  const spool = await startSpool(dataDir, { config: { 'group.initial.rebalance.delay.ms': 0, 'log.cleaner.backoff.ms': 100 } });
  const apps: App[] = [];
  t.teardown(async () => {
    for (const app of apps) await stopApp(app);
    await spool.stop();
    removeDir(dir);
  });
  const id = runId();
  const input = `ktable-in-${id}`;
  const appId = `ktable-${id}`;
  const changelog = `${appId}-counts-changelog`;
  const kafka = new Kafka({ brokers: [spool.bootstrap], clientId: 'streams-ktable', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: input, numPartitions: PARTITIONS, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const produceRound = async (rounds: number) => {
    for (let r = 0; r < rounds; r++) {
      await producer.send({ topic: input, acks: -1, messages: Array.from({ length: KEYS }, (_, k) => ({ key: `k${k}`, value: `u${r}` })) });
    }
  };

  // 1. History, then the first run.
  await produceRound(UPDATES);
  const first = startApp(spool.bootstrap, appId, input, stateDir);
  apps.push(first);
  const counted = await waitUntil(() => tableIs(first, UPDATES), WAIT_MS, first);
  t.ok(counted, `run 1 counts ${UPDATES} for each of ${KEYS} keys${why(counted, first)}`);

  // 2. The changelog compacted up to its active segments.
  const partDirs = Array.from({ length: PARTITIONS }, (_, p) => join(dataDir, `${changelog}-${p}`));
  const activeBase = (d: string) => Number(readdirSync(d).filter((f) => /^\d{20}\.log$/.test(f)).sort().at(-1)?.slice(0, 20) ?? -1);
  const checkpoint = (p: number) => readCheckpoint(join(dataDir, CLEANER_OFFSET_CHECKPOINT)).find((e) => e.topic === changelog && e.partition === p)?.offset ?? -1;
  const compacted = () => partDirs.every((d, p) => existsSync(d) && activeBase(d) > 0 && checkpoint(p) >= activeBase(d));
  t.ok(await waitUntil(compacted, WAIT_MS, first), `the changelog is compacted up to its active segments (checkpoints ${partDirs.map((_, p) => checkpoint(p)).join(',')}; active bases ${partDirs.map((d) => (existsSync(d) ? activeBase(d) : -1)).join(',')})`);
  await stopApp(first);
  t.equal(first.closed(), true, 'run 1 closed cleanly');
  t.equal(first.fatal(), null, 'run 1 had no fatal error');
  rmSync(stateDir, { recursive: true, force: true });

  // 3. Restore from the changelog alone, then go on counting.
  const second = startApp(spool.bootstrap, appId, input, stateDir);
  apps.push(second);
  const restoredTable = await waitUntil(() => tableIs(second, UPDATES), WAIT_MS, second);
  t.ok(restoredTable, `run 2 restored ${UPDATES} for each of ${KEYS} keys${why(restoredTable, second)}`);
  const restored = second.restored().filter((r) => r.topic === changelog);
  const total = restored.reduce((sum, r) => sum + r.restored, 0);
  t.same(restored.map((r) => r.partition).sort(), Array.from({ length: PARTITIONS }, (_, p) => p), 'every changelog partition was restored');
  t.ok(total >= KEYS && total < (KEYS * UPDATES) / 2, `restored ${total} records of ${KEYS * UPDATES} changelog updates (compacted)`);
  await produceRound(1);
  const countedOn = await waitUntil(() => tableIs(second, UPDATES + 1), WAIT_MS, second);
  t.ok(countedOn, `run 2 counts on from the restored table to ${UPDATES + 1}${why(countedOn, second)}`);
  await stopApp(second);
  t.equal(second.fatal(), null, 'run 2 had no fatal error');
});
