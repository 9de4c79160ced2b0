// broker room tests: `spool start` as a real process — config layering, structured logs, clean
// stop on SIGTERM with exit code 0, and a clear error for a bad setting.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { tempDir } from '../helpers/broker.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

t.test('spool start serves clients and stops cleanly on SIGTERM', async (t) => {
  const d = tempDir();
  const props = join(d.dir, 'server.properties');
  writeFileSync(props, `log.dirs=${join(d.dir, 'data')}\nnum.partitions=2\nlisteners=PLAINTEXT://127.0.0.1:9\n`);
  const child = spawn(process.execPath, [cli, 'start', '--config', props, '--engine', 'ts', '--override', 'listeners=PLAINTEXT://127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPOOL_NUM_PARTITIONS: '3' },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // If an assertion or await below throws, the broker must not outlive the test (it would hold
  // the data dir and keep tap waiting); kill it first, then remove the directory.
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    d.cleanup();
  });
  let stdout = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line; output: ${stdout}`)), 15000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'Spool broker started' && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      }
    });
    child.on('exit', () => reject(new Error(`exited early: ${stdout}`)));
  });
  const admin = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING }).admin();
  t.teardown(() => admin.disconnect());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'cli-topic', numPartitions: -1 }] });
  const md = await admin.fetchTopicMetadata({ topics: ['cli-topic'] });
  t.equal(md.topics[0].partitions.length, 3, 'num.partitions from env beats the properties file');
  await admin.disconnect();
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit code 0 after SIGTERM');
  t.match(stdout, /Spool broker stopped/);
  const dataDir = join(d.dir, 'data');
  t.ok(existsSync(join(dataDir, 'meta.properties')));
  t.match(readFileSync(join(dataDir, 'recovery-point-offset-checkpoint'), 'utf8'), /^0\n3\ncli-topic \d \d+\n/);
  t.ok(existsSync(join(dataDir, 'cli-topic-2')));
});

t.test('spool start refuses an invalid setting, naming the key', async (t) => {
  const child = spawn(process.execPath, [cli, 'start', '--override', 'num.partitions=zero'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  // Should the setting be accepted after all, the broker it started must not outlive the test.
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await exited;
  t.equal(code, 1, 'exit code 1 (one plain line on stderr)');
  t.match(stderr, /num\.partitions: must be an integer/);
});
