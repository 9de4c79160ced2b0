// test/interop room: kcat (Debian's, on librdkafka) against Spool — `-P -K: -Z -H` per partition
// with every `-X compression.codec=`, a broker restart, `-C -e -f` reading offsets, partitions,
// keys (NULL included), values and headers back, and `-Q` (ListOffsets by timestamp).
// kcat cannot create topics, so the KafkaJS client program creates them.
import t from 'tap';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CODECS,
  PARTITIONS,
  RECORD_COUNT,
  diffAgainstSpec,
  removeDir,
  requireToolchain,
  run,
  runId,
  specRecord,
  startSpool,
  tempDir,
  works,
  type ConsumedRecord,
} from './common.js';
import { createTopics, restartBroker, type ClientCommand } from './roundtrip.js';

const here = dirname(fileURLToPath(import.meta.url));
const kafkajs: ClientCommand = (args) => ({ cmd: process.execPath, args: [join(here, 'kafkajs', 'client.js'), ...args] });
const ready = await works('kcat', ['-V']);

/** kcat -P sends the same -H headers with every record. */
const kcatHeaders = (codec: string): Array<[string, string]> => [
  ['h-client', 'kcat'],
  ['h-codec', codec],
];

/** Input lines for one partition: `key:value`, empty for the spec's nulls (sent as NULL by -Z). */
function inputFor(partition: number): string {
  const lines: string[] = [];
  for (let i = partition; i < RECORD_COUNT; i += PARTITIONS) {
    const r = specRecord(i, PARTITIONS, 0);
    lines.push(`${r.k ?? ''}:${r.v ?? ''}`);
  }
  return lines.join('\n') + '\n';
}

const FORMAT = '%p\\t%o\\t%T\\t%K\\t%k\\t%S\\t%s\\t%h\\n';

/** Parses `-f '%p\t%o\t%T\t%K\t%k\t%S\t%s\t%h\n'` (key/value lengths -1 mean NULL). */
function parseKcat(stdout: string): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    // A short line leaves the trailing fields undefined.
    const [p, o, ts, keyLen, key, valueLen, value, headers] = line.split('\t') as Array<string | undefined>;
    out.push({
      p: Number(p),
      o: Number(o),
      ts: Number(ts),
      k: keyLen === '-1' ? null : (key ?? ''),
      v: valueLen === '-1' ? null : (value ?? ''),
      h: headers === undefined || headers === ''
        ? []
        : headers.split(',').map((kv): [string, string] => {
            const eq = kv.indexOf('=');
            return [kv.slice(0, eq), kv.slice(eq + 1)];
          }),
    });
  }
  return out;
}

t.test('kcat against Spool', async (t) => {
  if (!requireToolchain(t, ready, 'kcat is not installed (apt-get install kcat)')) return;
  const dataDir = tempDir('interop-kcat');
  const spool = await startSpool(dataDir);
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });

  const id = runId();
  const topicFor = (codec: string) => `kcat-${codec}-${id}`;
  await createTopics(t, kafkajs, spool.bootstrap, CODECS.map(topicFor));

  const producedAt = new Map<string, { from: number; to: number }>();
  for (const codec of CODECS) {
    const topic = topicFor(codec);
    const from = Date.now();
    let ok = true;
    for (let p = 0; p < PARTITIONS; p++) {
      const r = await run(
        'kcat',
        ['-P', '-b', spool.bootstrap, '-t', topic, '-p', String(p), '-K:', '-Z',
          ...kcatHeaders(codec).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
          '-X', `compression.codec=${codec}`, '-X', 'linger.ms=5'],
        { input: inputFor(p), timeoutMs: 120_000 },
      );
      t.equal(r.code, 0, `kcat -P ${topic} partition ${p} exits 0 ${r.code === 0 ? '' : r.stderr.slice(-800)}`);
      t.notMatch(r.stderr, /(failed|error)/i, `kcat -P ${topic} partition ${p}: no delivery errors`);
      ok &&= r.code === 0;
    }
    // CreateTime comes from the producer's clock here; allow for its millisecond granularity.
    producedAt.set(codec, { from: from - 1, to: Date.now() + 1 });
    if (!ok) producedAt.delete(codec);
  }

  await restartBroker(t, spool);

  for (const codec of CODECS) {
    const window = producedAt.get(codec);
    if (window === undefined) continue;
    const topic = topicFor(codec);
    const r = await run('kcat', ['-C', '-b', spool.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', FORMAT], {
      timeoutMs: 120_000,
    });
    t.equal(r.code, 0, `kcat -C ${topic} exits 0 ${r.code === 0 ? '' : r.stderr.slice(-800)}`);
    const records = parseKcat(r.stdout);
    t.equal(records.length, RECORD_COUNT, `kcat -C ${topic}: read ${RECORD_COUNT} records`);
    t.same(
      diffAgainstSpec(records, RECORD_COUNT, PARTITIONS, 0, { checkTimestamps: false, headers: () => kcatHeaders(codec) }),
      [],
      `kcat -C ${topic}: partitions, offsets, order, keys, NULL keys/values and headers match`,
    );
    const badTs = records.filter((x) => x.ts < window.from || x.ts > window.to);
    t.same(badTs.slice(0, 3), [], `${topic}: every CreateTime lies within the produce window`);

    // ListOffsets by timestamp, answered from what was read: the first offset of the partition
    // whose timestamp >= the target. kcat -Q takes one topic:partition:timestamp per run.
    for (let p = 0; p < PARTITIONS; p++) {
      const inPartition = records.filter((x) => x.p === p).sort((a, b) => a.o - b.o);
      const middle = inPartition.at(Math.floor(inPartition.length / 2));
      if (middle === undefined) continue;
      const targets = [middle.ts, window.to + 60_000];
      for (const target of targets) {
        const expected = inPartition.find((x) => x.ts >= target)?.o ?? -1;
        const q = await run('kcat', ['-Q', '-b', spool.bootstrap, '-t', `${topic}:${p}:${target}`], { timeoutMs: 60_000 });
        const m = /\[(\d+)\] offset (-?\d+)/.exec(q.stdout);
        t.same(
          m === null ? q.stdout + q.stderr : { partition: Number(m[1]), offset: Number(m[2]) },
          { partition: p, offset: expected },
          `kcat -Q ${topic}:${p} at ${target === middle.ts ? 'a middle record' : 'a time after every record'}: offset ${expected}`,
        );
      }
    }
  }
});
