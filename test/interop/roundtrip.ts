// test/interop room: the round trip every client test runs against Spool — create one topic per
// codec, produce the spec's records, restart the broker on the same data directory, read
// everything back, and ask ListOffsets by timestamp. The client programs only report; the
// assertions are here.
import {
  CODECS,
  PARTITIONS,
  RECORD_COUNT,
  diffAgainstSpec,
  expectedTimes,
  parseJsonLines,
  parseLastJson,
  run,
  runId,
  timeTargets,
  type RunResult,
  type SpoolHandle,
  type TimeQueryResult,
} from './common.js';

/** The assertions used here; tap's Test provides them. */
export interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  same(found: unknown, wanted: unknown, message: string): unknown;
  ok(value: unknown, message: string): unknown;
  comment(...args: unknown[]): unknown;
}

/** How to run one client program: argv for `<mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [ts]`. */
export type ClientCommand = (args: string[]) => { cmd: string; args: string[] };

export interface ProduceSummary {
  produced: number;
  errors: string[];
  partitions: Record<string, { first: number; last: number; count: number }>;
}

export const CALL_TIMEOUT_MS = 150_000;

export async function runClient(command: ClientCommand, args: string[]): Promise<RunResult> {
  const { cmd, args: argv } = command(args);
  return run(cmd, argv, { timeoutMs: CALL_TIMEOUT_MS });
}

function describe(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}; stderr: ${r.stderr.slice(-1500)}`;
}

/** Asserts a program ran cleanly and returns its last JSON line. */
export function summary(t: Asserts, r: RunResult, what: string): unknown {
  t.equal(r.code, 0, `${what} exits 0 (${r.code === 0 ? 'ok' : describe(r)})`);
  try {
    return parseLastJson(r.stdout);
  } catch (e) {
    t.ok(false, `${what} printed a JSON summary: ${String(e)}`);
    return undefined;
  }
}

/** Per-partition offsets a fresh topic must report after the spec's records. */
export function expectedProduceStats(count = RECORD_COUNT, partitions = PARTITIONS): ProduceSummary['partitions'] {
  const out: ProduceSummary['partitions'] = {};
  for (let p = 0; p < partitions; p++) {
    const n = Math.floor(count / partitions) + (p < count % partitions ? 1 : 0);
    out[String(p)] = { first: 0, last: n - 1, count: n };
  }
  return out;
}

export async function createTopics(t: Asserts, command: ClientCommand, bootstrap: string, topics: string[]): Promise<void> {
  for (const topic of topics) {
    const r = await runClient(command, ['create', bootstrap, topic, '0', 'none', String(PARTITIONS), '0']);
    const s = summary(t, r, `create ${topic}`) as { created: string | null; error: string | null } | undefined;
    t.equal(s?.error ?? null, null, `create ${topic}: no error`);
  }
}

export async function produceAll(
  t: Asserts,
  command: ClientCommand,
  bootstrap: string,
  topicFor: (codec: string) => string,
  baseTs: number,
): Promise<Set<string>> {
  const complete = new Set<string>();
  for (const codec of CODECS) {
    const topic = topicFor(codec);
    const started = Date.now();
    const r = await runClient(command, ['produce', bootstrap, topic, String(RECORD_COUNT), codec, String(PARTITIONS), String(baseTs)]);
    const s = summary(t, r, `produce ${topic}`) as ProduceSummary | undefined;
    t.same(s?.errors, [], `produce ${topic}: no delivery errors`);
    t.equal(s?.produced, RECORD_COUNT, `produce ${topic}: every record acknowledged`);
    t.same(s?.partitions, expectedProduceStats(), `produce ${topic}: offsets 0..n-1 in each of ${PARTITIONS} partitions`);
    t.comment(`${topic}: produced in ${Date.now() - started} ms`);
    if (s?.produced === RECORD_COUNT) complete.add(codec);
  }
  return complete;
}

export async function consumeAndCheck(
  t: Asserts,
  command: ClientCommand,
  bootstrap: string,
  topic: string,
  baseTs: number,
): Promise<void> {
  const started = Date.now();
  const r = await runClient(command, ['consume', bootstrap, topic, String(RECORD_COUNT), 'none', String(PARTITIONS), String(baseTs)]);
  t.equal(r.code, 0, `consume ${topic} exits 0 (${r.code === 0 ? 'ok' : describe(r)})`);
  const records = parseJsonLines(r.stdout);
  t.equal(records.length, RECORD_COUNT, `consume ${topic}: read ${RECORD_COUNT} records`);
  t.same(diffAgainstSpec(records, RECORD_COUNT, PARTITIONS, baseTs), [], `consume ${topic}: keys, values, headers, timestamps, offsets and order match`);
  t.comment(`${topic}: consumed in ${Date.now() - started} ms`);
}

/**
 * ListOffsets by timestamp through the client. `noMatch` is what the client reports when no
 * record is that late: Kafka's -1, or (KafkaJS) the high watermark. `withTimestamp` when the
 * client exposes the found record's timestamp.
 */
export async function checkTimes(
  t: Asserts,
  command: ClientCommand,
  bootstrap: string,
  topic: string,
  baseTs: number,
  opts: { noMatch: 'minus1' | 'end'; withTimestamp: boolean },
): Promise<void> {
  const targets = timeTargets(RECORD_COUNT, baseTs);
  const r = await runClient(command, ['times', bootstrap, topic, String(RECORD_COUNT), 'none', String(PARTITIONS), String(baseTs), targets.join(',')]);
  const s = summary(t, r, `times ${topic}`) as { results: Array<TimeQueryResult & { error?: string | null }> } | undefined;
  const got = (s?.results ?? [])
    .map((x) => ({ ts: x.ts, p: x.p, offset: x.offset, ...(opts.withTimestamp ? { timestamp: x.timestamp } : {}) }))
    .sort((a, b) => a.ts - b.ts || a.p - b.p);
  const endOffsets = expectedProduceStats();
  const want = expectedTimes(targets, RECORD_COUNT, PARTITIONS, baseTs).map((x) => ({
    ts: x.ts,
    p: x.p,
    offset: x.offset === -1 && opts.noMatch === 'end' ? endOffsets[String(x.p)].last + 1 : x.offset,
    ...(opts.withTimestamp ? { timestamp: x.timestamp } : {}),
  }));
  t.same(got, want, `ListOffsets by timestamp on ${topic}: first offset with timestamp >= target, per partition`);
  for (const x of s?.results ?? []) if (x.error) t.ok(false, `ListOffsets ${topic}/${x.p} at ${x.ts}: ${x.error}`);
}

/** Restarts the broker on its data directory and says whether the port was kept. */
export async function restartBroker(t: Asserts, spool: SpoolHandle): Promise<void> {
  const before = spool.bootstrap;
  await spool.restart();
  t.comment(`broker restarted: ${before} -> ${spool.bootstrap}${before === spool.bootstrap ? ' (same port)' : ''}`);
}

/** The whole round trip for a client that can create, produce, consume and query by time. */
export async function fullRoundTrip(
  t: Asserts,
  spool: SpoolHandle,
  command: ClientCommand,
  client: string,
  opts: { noMatch: 'minus1' | 'end'; withTimestamp: boolean },
): Promise<void> {
  const baseTs = Date.now();
  const id = runId();
  const topicFor = (codec: string) => `${client}-${codec}-${id}`;
  await createTopics(t, command, spool.bootstrap, CODECS.map(topicFor));
  const produced = await produceAll(t, command, spool.bootstrap, topicFor, baseTs);
  await restartBroker(t, spool);
  for (const codec of CODECS) {
    // Reading a topic whose produce failed would only wait out the consumer's deadline.
    if (!produced.has(codec)) continue;
    await consumeAndCheck(t, command, spool.bootstrap, topicFor(codec), baseTs);
    await checkTimes(t, command, spool.bootstrap, topicFor(codec), baseTs, opts);
  }
}
