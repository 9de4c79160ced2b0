// test/interop room (transactions, issue 13): what the real-client transaction tests share — the
// broker they target, the transactional record spec every client program produces, the exact
// offsets Kafka gives those records (commit/abort markers included), the content checks, and a
// protocol trace of what each client sent.
//
// Target: Spool by default (startSpool, like every interop test). SPOOL_TXN_TARGET=kafka starts
// Apache Kafka 4.4 itself (KRaft, from .cache/kafka-jars, see kafka-tools.ts startRealKafka)
// instead, to prove a test against the reference broker. With the kafka target,
// SPOOL_TXN_KAFKA_TV=0|1|2 sets the cluster's `transaction.version` feature first (Kafka 4.1
// formats new clusters at 2, KIP-890 "transactions V2"). With the spool target,
// SPOOL_TXN_SPOOL_TV=0|1|2 sets spool.transaction.version (the feature level Spool advertises).
// Trace: clients reach the broker through a recording proxy (test/helpers/kafka-trace.ts; the
// broker advertises the proxy's port) and each test prints which APIs and versions each client
// used, with the errors it got. SPOOL_TXN_TRACE=0 connects the clients directly instead;
// SPOOL_TXN_TRACE_FILE=<path> also writes every traced request/response as JSON.
import { writeFileSync } from 'node:fs';
import { startTraceProxy, summarizeTrace, type TraceEvent, type TraceProxy } from '../../helpers/kafka-trace.js';
import { parseLastJson, removeDir, requireToolchain, startSpool, tempDir, type RunResult, type TapLike } from '../common.js';
import { kafkaToolsAvailable, runKafkaClass, startRealKafka } from '../kafka-tools.js';

export type TargetKind = 'spool' | 'kafka';

export const targetKind: TargetKind = process.env.SPOOL_TXN_TARGET === 'kafka' ? 'kafka' : 'spool';

export interface TxnTarget {
  kind: TargetKind;
  /** What clients are given (the proxy when tracing). */
  bootstrap: string;
  trace: TraceProxy | null;
  stop(): Promise<void>;
}

/** Transactions need brokers with three partitions and a transaction coordinator; both targets get the same. */
export const TXN_PARTITIONS = 3;

/**
 * Starts the target broker (see the file header). Returns null — after failing or skipping `t`
 * as requireToolchain does — when the kafka target is asked for and its jars are missing.
 */
export async function startTxnTarget(t: TapLike, name: string): Promise<TxnTarget | null> {
  const traced = process.env.SPOOL_TXN_TRACE !== '0';
  const trace = traced ? await startTraceProxy() : null;
  const dir = tempDir(`txn-${name}`);
  try {
    return await startBehind(t, trace, dir);
  } catch (e) {
    // A broker that did not start must not leave the proxy listening (the test would never end).
    await trace?.stop();
    removeDir(dir);
    throw e;
  }
}

async function startBehind(t: TapLike, trace: TraceProxy | null, dir: string): Promise<TxnTarget | null> {
  if (targetKind === 'kafka') {
    if (!requireToolchain(t, await kafkaToolsAvailable(), 'SPOOL_TXN_TARGET=kafka needs java and .cache/kafka-jars')) {
      await trace?.stop();
      removeDir(dir);
      return null;
    }
    const overrides: Record<string, string> = {
      'transaction.state.log.num.partitions': '4',
      'group.initial.rebalance.delay.ms': '0',
    };
    if (trace !== null) overrides['advertised.listeners'] = `PLAINTEXT://127.0.0.1:${trace.port}`;
    const kafka = await startRealKafka(dir, overrides);
    const [host, port] = kafka.bootstrap.split(':');
    trace?.setUpstream(host, Number(port));
    const tv = process.env.SPOOL_TXN_KAFKA_TV;
    if (tv !== undefined && tv !== '') {
      const r = await runKafkaClass('org.apache.kafka.tools.FeatureCommand', [
        '--bootstrap-server',
        kafka.bootstrap,
        Number(tv) >= 2 ? 'upgrade' : 'downgrade',
        '--feature',
        `transaction.version=${tv}`,
      ]);
      if (r.code !== 0) {
        await kafka.stop();
        throw new Error(`setting transaction.version=${tv} failed: ${r.stdout}${r.stderr}`);
      }
      t.comment(`kafka: transaction.version=${tv}`);
    }
    return {
      kind: 'kafka',
      bootstrap: trace !== null ? `127.0.0.1:${trace.port}` : kafka.bootstrap,
      trace,
      async stop() {
        await trace?.stop();
        await kafka.stop();
        removeDir(dir);
      },
    };
  }
  const config: Record<string, string | number | boolean> = { 'group.initial.rebalance.delay.ms': 0 };
  // SPOOL_TXN_SPOOL_TV=0|1|2: spool.transaction.version, the transaction.version Spool advertises.
  const tv = process.env.SPOOL_TXN_SPOOL_TV;
  if (tv !== undefined && tv !== '') config['spool.transaction.version'] = Number(tv);
  if (trace !== null) config['advertised.listeners'] = `PLAINTEXT://127.0.0.1:${trace.port}`;
  const spool = await startSpool(dir, { config });
  trace?.setUpstream(spool.broker.host, spool.broker.port);
  return {
    kind: 'spool',
    bootstrap: trace !== null ? `127.0.0.1:${trace.port}` : spool.bootstrap,
    trace,
    async stop() {
      await trace?.stop();
      await spool.stop();
      removeDir(dir);
    },
  };
}

/** Prints the trace summary of what the clients sent (and writes SPOOL_TXN_TRACE_FILE). */
export function reportTrace(t: TapLike, target: TxnTarget, filter?: (e: TraceEvent) => boolean): void {
  if (target.trace === null) return;
  const events = target.trace.events;
  t.comment(`protocol trace (${target.kind}):\n${summarizeTrace(events, filter).join('\n')}`);
  const file = process.env.SPOOL_TXN_TRACE_FILE;
  if (file !== undefined && file !== '') writeFileSync(file, JSON.stringify(events, null, 1));
}

// ---- the transactional record spec ------------------------------------------------------------

/**
 * Transaction t (0-based) of `perTxn` records: record g = t*perTxn + j goes to partition
 * g % partitions with key "k-g", value "v-g" and header txn=t; even transactions commit, odd ones
 * abort. Every client program implements the same (and flushes before aborting, so aborted
 * records are written and take offsets).
 */
export interface LaidOutRecord {
  g: number;
  t: number;
  p: number;
  o: number;
  committed: boolean;
}

export interface TxnLayout {
  records: LaidOutRecord[];
  /** Offsets of the control records (one per partition a transaction wrote to). */
  markers: Array<{ p: number; o: number; t: number; commit: boolean }>;
  /** Log end offset per partition once every transaction ended. */
  ends: number[];
}

/** Where Kafka puts the spec's records: per partition, each transaction's records, then its marker. */
export function txnLayout(txns: number, perTxn: number, partitions: number, firstOffsets: number[] = []): TxnLayout {
  const next = Array.from({ length: partitions }, (_, p) => firstOffsets[p] ?? 0);
  const records: LaidOutRecord[] = [];
  const markers: TxnLayout['markers'] = [];
  for (let t = 0; t < txns; t++) {
    const touched = new Set<number>();
    for (let j = 0; j < perTxn; j++) {
      const g = t * perTxn + j;
      const p = g % partitions;
      touched.add(p);
      records.push({ g, t, p, o: next[p]++, committed: t % 2 === 0 });
    }
    for (const p of [...touched].sort((a, b) => a - b)) markers.push({ p, o: next[p]++, t, commit: t % 2 === 0 });
  }
  return { records, markers, ends: next };
}

/** One record as the client programs print it. */
export interface TxnConsumed {
  p: number;
  o: number;
  k: string | null;
  v: string | null;
  h?: Array<[string, string | null]>;
}

export function parseRecords(stdout: string): TxnConsumed[] {
  const out: TxnConsumed[] = [];
  for (const line of stdout.split('\n')) {
    const s = line.trim();
    if (!s.startsWith('{"p"')) continue;
    out.push(JSON.parse(s) as TxnConsumed);
  }
  return out;
}

/**
 * Differences between what a consumer read and the layout's records it should see (the committed
 * ones for read_committed, all for read_uncommitted): per partition the same records, in order,
 * at the same offsets, with key, value and (when printed) the txn header. At most `limit` lines.
 */
export function diffConsumed(got: TxnConsumed[], want: LaidOutRecord[], partitions: number, limit = 15): string[] {
  const problems: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const g = got.filter((r) => r.p === p);
    const w = want.filter((r) => r.p === p);
    if (g.length !== w.length) problems.push(`partition ${p}: ${g.length} records, expected ${w.length}`);
    for (let i = 0; i < Math.min(g.length, w.length) && problems.length < limit; i++) {
      const a = g[i];
      const b = w[i];
      const where = `partition ${p} #${i}`;
      if (a.o !== b.o) problems.push(`${where}: offset ${a.o}, expected ${b.o} (record ${b.g}, txn ${b.t})`);
      if (a.k !== `k-${b.g}` || a.v !== `v-${b.g}`) problems.push(`${where}: ${a.k}=${a.v}, expected k-${b.g}=v-${b.g}`);
      if (a.h !== undefined && JSON.stringify(a.h) !== JSON.stringify([['txn', String(b.t)]])) {
        problems.push(`${where}: headers ${JSON.stringify(a.h)}, expected [["txn","${b.t}"]]`);
      }
    }
  }
  for (const r of got) if (r.p < 0 || r.p >= partitions) problems.push(`record from partition ${r.p}`);
  return problems.slice(0, limit);
}

/**
 * The delivery offsets a producer reported, [g, p, o] per record, against the layout (every
 * record, aborted ones too, is acknowledged at its offset).
 */
export function diffDelivered(delivered: Array<[number, number, number]>, layout: TxnLayout, limit = 10): string[] {
  const problems: string[] = [];
  if (delivered.length !== layout.records.length) problems.push(`${delivered.length} delivery reports, expected ${layout.records.length}`);
  const byG = new Map(layout.records.map((r) => [r.g, r]));
  for (const [g, p, o] of delivered) {
    const want = byG.get(g);
    if (want === undefined) problems.push(`delivery report for unknown record ${g}`);
    else if (want.p !== p || want.o !== o) problems.push(`record ${g}: delivered at ${p}/${o}, expected ${want.p}/${want.o}`);
    if (problems.length >= limit) break;
  }
  return problems;
}

/** An object keyed by partition number as the programs print it ({"0": n, ...}) → array. */
export function perPartition(m: unknown, partitions: number): Array<number | null> {
  const obj = (m ?? {}) as Record<string, unknown>;
  return Array.from({ length: partitions }, (_, p) => {
    const v = obj[String(p)];
    return typeof v === 'number' ? v : null;
  });
}

// ---- client programs --------------------------------------------------------------------------

/** The assertions used here; tap's Test provides them. */
export interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  ok(value: unknown, message: string): unknown;
}

/**
 * A client program's summary (its last JSON line, which always has "fatal"): asserts that it
 * exited 0 and reported no fatal error, naming the error in the message when it did. Returns
 * the summary with `ok` false when the program failed, so dependent steps can be left out.
 */
export function programSummary(t: Asserts, r: RunResult, what: string): { ok: boolean; s: Record<string, unknown> } {
  let s: Record<string, unknown> = {};
  try {
    s = parseLastJson(r.stdout) as Record<string, unknown>;
  } catch {
    t.ok(false, `${what}: printed no summary (exit ${String(r.code)}${r.timedOut ? ', timed out' : ''}; stderr: ${r.stderr.slice(-1500)})`);
    return { ok: false, s };
  }
  const fatal = typeof s.fatal === 'string' ? s.fatal : null;
  t.equal(r.code, 0, `${what}: exits 0`);
  t.equal(fatal, null, `${what}: no fatal error${fatal !== null ? ` (got ${fatal})` : ''}`);
  return { ok: r.code === 0 && fatal === null, s };
}
