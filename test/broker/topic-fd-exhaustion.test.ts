// broker room test (issue 8): a CreateTopics that runs the process out of file descriptors for
// real (a child broker under `ulimit -n 600`, 2000 partitions: within Kafka's bound, beyond the
// fds) fails with KAFKA_STORAGE_ERROR and a message naming the cause (issue 15), and is rolled
// back: not in the metadata image nor its file, no partition directory left, and the broker
// creates the next topic. The child is this file run with SPOOL_FD_CHILD. (A partition costs one
// fd, its active .log: 2000 partitions still need more than 600.)
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../../src/index.js';
import { CreateTopicsRequest, CreateTopicsResponse } from '../../src/protocol/messages/create-topics.js';
import { Reader } from '../../src/protocol/primitives.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type CreateTopicsRes = ReturnType<typeof CreateTopicsResponse.decodeBuffer>;

interface ChildReport {
  unavailable?: string;
  errorCode?: number;
  errorMessage?: string | null;
  inMetadata?: boolean;
  liveDirs?: string[];
  deleteDirs?: string[];
  fileMentions?: boolean;
  nextErrorCode?: number;
}

const TOPIC = 'fds';

async function child(engine: 'ts' | 'native'): Promise<ChildReport> {
  const d = tempDir();
  let b;
  try {
    b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine, config: { 'log.segment.delete.delay.ms': 0 }, logLevel: 'silent' });
  } catch (err) {
    d.cleanup();
    return { unavailable: err instanceof Error ? err.message : String(err) };
  }
  const c = await RawClient.connect(b.port);
  const create = async (name: string, numPartitions: number): Promise<CreateTopicsRes> => {
    c.send(19, 7, CreateTopicsRequest, { topics: [{ name, numPartitions, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 60000, validateOnly: false });
    // A busy machine may take a while to open (and undo) a few hundred logs.
    const f = await c.nextFrame(60000);
    if (f === null) throw new Error('connection closed by the broker');
    return CreateTopicsResponse.decode(new Reader(f, 5), 7);
  };
  const res = await create(TOPIC, 2000);
  // Looking needs fds too: null while there are none.
  const look = (): { entries: string[]; mentions: boolean } | null => {
    try {
      return {
        entries: readdirSync(d.dir).filter((n) => n.startsWith(`${TOPIC}-`)),
        mentions: readFileSync(`${d.dir}/__spool_topics.json`, 'utf8').includes(`"${TOPIC}"`),
      };
    } catch {
      return null;
    }
  };
  // What was undone goes once the fds come back (deleted logs closed, retries): give it 5 s.
  const deadline = Date.now() + 5000;
  let seen = look();
  while ((seen === null || seen.entries.length > 0 || seen.mentions) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    seen = look();
  }
  const report: ChildReport = {
    errorCode: res.topics[0].errorCode,
    errorMessage: res.topics[0].errorMessage,
    inMetadata: b.broker.metadata.topic(TOPIC) !== undefined,
    liveDirs: seen?.entries.filter((n) => /^fds-\d+$/.test(n)) ?? ['(no fds to look)'],
    deleteDirs: seen?.entries.filter((n) => n.endsWith('-delete')) ?? ['(no fds to look)'],
    fileMentions: seen?.mentions ?? true,
  };
  report.nextErrorCode = (await create('next', 3)).topics[0].errorCode;
  c.close();
  await b.stop();
  d.cleanup();
  return report;
}

const childEngine = process.env.SPOOL_FD_CHILD;
if (childEngine === 'ts' || childEngine === 'native') {
  process.stdout.write(JSON.stringify(await child(childEngine)) + '\n');
} else {
  const { default: t } = await import('tap');
  for (const engine of ['ts', 'native'] as const) {
    t.test(`${engine} engine: a creation that runs out of fds is rolled back`, async (t) => {
      const self = fileURLToPath(import.meta.url);
      const run = spawnSync('bash', ['-c', `ulimit -n 600 && exec "${process.execPath}" "${self}"`], {
        env: { ...process.env, SPOOL_FD_CHILD: engine },
        encoding: 'utf8',
        timeout: 120000,
      });
      t.equal(run.status, 0, `child exited cleanly (stderr: ${run.stderr.slice(0, 500)})`);
      const line = run.stdout.trim().split('\n').at(-1) ?? '{}';
      const report = JSON.parse(line) as ChildReport;
      if (report.unavailable !== undefined) {
        t.pass(`engine ${engine} unavailable here (${report.unavailable}): nothing to check`);
        return;
      }
      t.equal(report.errorCode, 56, `CreateTopics failed with KAFKA_STORAGE_ERROR (${report.errorCode}: ${report.errorMessage})`);
      t.match(report.errorMessage ?? '', /ran out of file descriptors/, 'the message names the cause');
      t.equal(report.inMetadata, false, 'not in the metadata image');
      t.equal(report.fileMentions, false, 'not in __spool_topics.json');
      t.same(report.liveDirs, [], 'no partition directory of the topic');
      // Deleted logs are closed and removed once fds are back; "-delete" names are also removed at
      // the next start. The native engine's close needs an fd of its own, so under exhaustion
      // some stay for the next start; with the TS engine they are gone.
      if (engine === 'ts') t.same(report.deleteDirs, [], 'no "-delete" directory left either');
      else t.comment(`"-delete" directories waiting for the next start: ${report.deleteDirs?.length ?? 0}`);
      t.equal(report.nextErrorCode, 0, 'the broker creates the next topic');
    });
  }
}
