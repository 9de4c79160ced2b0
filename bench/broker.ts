// bench/ room: broker throughput and latency, native engine against TS engine (`npm run bench`).
// Each engine's broker runs in a child process so its CPU time can be measured apart from the
// load generator's: the point of the native engine (sendfile, native validation) is CPU per byte
// as much as MB/s. Loopback only; every size is bounded by SPOOL_BENCH_* settings.
//
//   SPOOL_BENCH_BYTES          record-batch bytes produced per engine, split evenly across the
//                              acks phases, all consumed back (default 256 MiB)
//   SPOOL_BENCH_ENGINES        comma list (default native,ts)
//   SPOOL_BENCH_INFLIGHT       pipelined requests per connection (default 8)
//   SPOOL_BENCH_BATCH_RECORDS  records per produce request, one batch (default 16)
//   SPOOL_BENCH_RECORD_SIZE    record value bytes (default 1024)
//   SPOOL_BENCH_FETCH_BYTES    partition max bytes per fetch (default 1 MiB)
//   SPOOL_BENCH_WARMUP_BYTES   produced (and consumed) first, unmeasured, in passes of this size
//   SPOOL_BENCH_WARMUP_MS      ... until at least this long after broker start (defaults 16 MiB,
//                              2000 ms), so JIT and start-up costs stay out of the measured phases
//   SPOOL_BENCH_ROUNDS         repeat everything, engines alternating; report medians (default 1)
//   SPOOL_BENCH_ACKS           produce phases in order, comma list of 1 and -1 (default 1,-1)
//   SPOOL_BENCH_NODE_ARGS      node flags for the broker processes, e.g. "--cpu-prof --trace-gc"
//   SPOOL_BENCH_JSON=1         also print the results as one JSON line
//   SPOOL_BENCH_CODECS         extra acks=1 produce phases with compressed batches, one topic per
//                              codec: "all" (none,gzip,snappy,lz4,zstd) or a list (default: no
//                              extra phases). Values are random lowercase text (about 2:1); MB/s
//                              and CPU-s/GiB count batch bytes as sent. Every batch is validated
//                              (CRC, records, decompression) by the broker as on any produce.
//   SPOOL_BENCH_CODEC_BYTES    batch bytes produced per codec phase (default 64 MiB)
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KafkaConnection,
  decodeProduceResponse,
  encodeProduceRequest,
  ensureTopic,
  percentile,
  runConsume,
  runProduce,
  type ProduceResult,
} from './loadgen.js';

type EngineName = 'native' | 'ts';

/** src/index.ts, loaded in the child only: the parent never needs the broker's modules. */
type BrokerModule = typeof import('../src/index.js');
type BrokerHandle = Awaited<ReturnType<BrokerModule['startBroker']>>;

type ChildMessage =
  | { type: 'ready'; host: string; port: number }
  | { type: 'cpu'; userMicros: number; systemMicros: number }
  | { type: 'error'; message: string };
type ParentMessage = { type: 'cpu' } | { type: 'stop' };

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

// ---- child: one broker ------------------------------------------------------------------------

async function serve(engine: EngineName, dataDir: string): Promise<void> {
  const send = (m: ChildMessage): void => {
    if (process.send === undefined) throw new Error('--serve needs an IPC channel to the parent (run it through fork)');
    process.send(m);
  };
  let broker: BrokerHandle;
  try {
    const mod = (await import(new URL('../src/index.js', import.meta.url).href)) as BrokerModule;
    broker = await mod.startBroker({ dataDir, host: '127.0.0.1', port: 0, engine });
  } catch (err) {
    send({ type: 'error', message: (err as Error).stack ?? String(err) });
    process.exitCode = 1;
    process.disconnect();
    return;
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void broker.stop().finally(() => process.exit(0));
  };
  send({ type: 'ready', host: broker.host, port: broker.port });
  process.on('message', (m: ParentMessage) => {
    switch (m.type) {
      case 'cpu': {
        const u = process.cpuUsage();
        send({ type: 'cpu', userMicros: u.user, systemMicros: u.system });
        break;
      }
      case 'stop':
        stop();
        break;
    }
  });
  // The parent going away must not leave a broker behind.
  process.on('disconnect', stop);
}

// ---- parent: drive each engine ----------------------------------------------------------------

class BrokerChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
  ) {}

  static start(engine: EngineName, dataDir: string): Promise<BrokerChild> {
    const execArgv = (process.env.SPOOL_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = fork(fileURLToPath(import.meta.url), ['--serve', engine, dataDir], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      execArgv,
    });
    // Broker log lines (pino writes to stdout) go to stderr, keeping stdout for the results.
    child.stdout?.pipe(process.stderr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`${engine} broker did not start within 30 s`));
      }, 30_000);
      child.once('message', (m: ChildMessage) => {
        clearTimeout(timer);
        if (m.type === 'ready') resolve(new BrokerChild(child, m.host, m.port));
        else reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${engine} broker exited with code ${code} before it was ready`));
      });
    });
  }

  /** Broker process CPU seconds (user + system) so far. */
  cpuSeconds(): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('broker did not report CPU usage')), 10_000);
      this.child.once('message', (m: ChildMessage) => {
        clearTimeout(timer);
        if (m.type === 'cpu') resolve((m.userMicros + m.systemMicros) / 1e6);
        else reject(new Error(`expected cpu, got ${m.type}`));
      });
      this.child.send({ type: 'cpu' } satisfies ParentMessage);
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
      }, 15_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'stop' } satisfies ParentMessage);
    });
  }
}

interface PhaseResult {
  phase: string;
  mbPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  cpuSecPerGiB: number;
  /** The load generator's own CPU, to tell when it, not the broker, is the limit. */
  clientCpuSecPerGiB: number;
  bytes: number;
}

const GiB = 1024 * 1024 * 1024;

interface CpuSpent {
  broker: number;
  client: number;
}

function clientCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function measureCpu<T>(broker: BrokerChild, run: () => Promise<T>): Promise<{ result: T; cpu: CpuSpent }> {
  const before = await broker.cpuSeconds();
  const clientBefore = clientCpuSeconds();
  const result = await run();
  const client = clientCpuSeconds() - clientBefore;
  return { result, cpu: { broker: (await broker.cpuSeconds()) - before, client } };
}

function producePhase(name: string, r: ProduceResult, cpu: CpuSpent): PhaseResult {
  return {
    phase: name,
    mbPerSec: r.bytes / 1e6 / r.seconds,
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    cpuSecPerGiB: (cpu.broker * GiB) / r.bytes,
    clientCpuSecPerGiB: (cpu.client * GiB) / r.bytes,
    bytes: r.bytes,
  };
}

function acksOrder(): Array<1 | -1> {
  const list = (process.env.SPOOL_BENCH_ACKS ?? '1,-1').split(',').map((a) => Number(a.trim()));
  for (const a of list) if (a !== 1 && a !== -1) throw new Error(`SPOOL_BENCH_ACKS: acks must be 1 or -1, got ${a}`);
  // Each phase writes its own topic, which must start empty.
  if (new Set(list).size !== list.length) throw new Error('SPOOL_BENCH_ACKS: each acks value at most once');
  return list as Array<1 | -1>;
}

async function benchEngine(engine: EngineName): Promise<PhaseResult[]> {
  const dataDir = await mkdtemp(join(tmpdir(), `spool-bench-${engine}-`));
  try {
    const broker = await BrokerChild.start(engine, dataDir);
    try {
      return await runPhases(broker);
    } finally {
      await broker.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function runPhases(broker: BrokerChild): Promise<PhaseResult[]> {
  const totalBytes = envInt('SPOOL_BENCH_BYTES', 256 * 1024 * 1024);
  const inFlight = envInt('SPOOL_BENCH_INFLIGHT', 8);
  const recordsPerBatch = envInt('SPOOL_BENCH_BATCH_RECORDS', 16);
  const recordSize = envInt('SPOOL_BENCH_RECORD_SIZE', 1024);
  const fetchBytes = envInt('SPOOL_BENCH_FETCH_BYTES', 1024 * 1024);
  const warmupBytes = envInt('SPOOL_BENCH_WARMUP_BYTES', 16 * 1024 * 1024);
  const warmupMs = envInt('SPOOL_BENCH_WARMUP_MS', 2000);
  const startedAt = performance.now();
  const topics = { 1: 'bench-acks1', [-1]: 'bench-acksall' } as const;
  for (const topic of [...Object.values(topics), 'bench-warmup']) await ensureTopic(broker.host, broker.port, topic, 1);
  const conn = await KafkaConnection.open(broker.host, broker.port);
  try {
    let warmEndOffset = 0;
    let warmBatchBytes = 0;
    // Bounded: at most 100 passes, however slow the broker is.
    for (let pass = 0; pass < 100 && (pass === 0 || performance.now() - startedAt < warmupMs); pass++) {
      const warm = await runProduce(conn, { topic: 'bench-warmup', partition: 0, acks: 1, totalBytes: warmupBytes, recordsPerBatch, recordSize, inFlight });
      warmEndOffset += warm.endOffset;
      warmBatchBytes = warm.batchBytes;
    }
    const warmup = { topic: 'bench-warmup', partition: 0, endOffset: warmEndOffset, fetchBytes, inFlight, recordsPerBatch };
    await runConsume(conn, { ...warmup, batchBytes: warmBatchBytes });
    const phases: PhaseResult[] = [];
    const produced: Array<{ topic: string; endOffset: number; batchBytes: number }> = [];
    for (const acks of acksOrder()) {
      const topic = topics[acks];
      const { result, cpu } = await measureCpu(broker, () =>
        runProduce(conn, { topic, partition: 0, acks, totalBytes: totalBytes / acksOrder().length, recordsPerBatch, recordSize, inFlight }),
      );
      phases.push(producePhase(`produce acks=${acks}`, result, cpu));
      produced.push({ topic, endOffset: result.endOffset, batchBytes: result.batchBytes });
    }
    const codecBytes = envInt('SPOOL_BENCH_CODEC_BYTES', 64 * 1024 * 1024);
    for (const codec of benchCodecs()) {
      const topic = `bench-codec-${codec}`;
      await ensureTopic(broker.host, broker.port, topic, 1);
      const batch = await codecBatch(codec, recordsPerBatch, recordSize);
      const { result, cpu } = await measureCpu(broker, () => runBatchProduce(conn, topic, batch, codecBytes, inFlight));
      phases.push(producePhase(`produce ${codec}`, result, cpu));
    }
    const { result, cpu } = await measureCpu(broker, async () => {
      let bytes = 0;
      let seconds = 0;
      for (const p of produced) {
        const r = await runConsume(conn, {
          topic: p.topic,
          partition: 0,
          endOffset: p.endOffset,
          fetchBytes,
          inFlight,
          recordsPerBatch,
          batchBytes: p.batchBytes,
        });
        bytes += r.bytes;
        seconds += r.seconds;
      }
      return { bytes, seconds };
    });
    phases.push({
      phase: 'consume',
      mbPerSec: result.bytes / 1e6 / result.seconds,
      p50Ms: null,
      p99Ms: null,
      cpuSecPerGiB: (cpu.broker * GiB) / result.bytes,
      clientCpuSecPerGiB: (cpu.client * GiB) / result.bytes,
      bytes: result.bytes,
    });
    return phases;
  } finally {
    conn.close();
  }
}

// ---- SPOOL_BENCH_CODECS: produce phases with compressed batches --------------------------------

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type CodecName = (typeof CODEC_NAMES)[number];

function benchCodecs(): CodecName[] {
  const raw = (process.env.SPOOL_BENCH_CODECS ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '');
  if (raw.includes('all')) return [...CODEC_NAMES];
  for (const c of raw) if (!(CODEC_NAMES as readonly string[]).includes(c)) throw new Error(`SPOOL_BENCH_CODECS: unknown codec ${c}`);
  return raw as CodecName[];
}

/** Deterministic lowercase text, 4 bits of entropy a byte (as bench/storage.ts): codecs reach about 2:1. */
function randomText(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = 0x61 + (x & 0x0f);
  }
  return out;
}

/** One v2 batch (baseOffset 0, producer id -1) of keyed text records, compressed with `codec`. */
async function codecBatch(codec: CodecName, records: number, recordSize: number): Promise<Buffer> {
  // Loaded here only: the default run never needs the broker's modules in this process.
  const { Codec } = await import('../src/storage/engine.js');
  const { tsEngine } = await import('../src/storage/ts/index.js');
  const { buildBatch } = await import('../test/helpers/batches.js');
  const list = Array.from({ length: records }, (_, i) => ({
    key: `key-${i.toString().padStart(6, '0')}`,
    value: randomText(recordSize, i + 1),
    timestampDelta: i,
  }));
  const compress = (_codec: number, data: Buffer): Buffer => tsEngine.compress(Codec[codec], data);
  return buildBatch({ records: list, baseTimestamp: Date.now(), codec: Codec[codec], compress });
}

/** Pipelined acks=1 produce of the same batch until `totalBytes`, as runProduce but for a given batch. */
async function runBatchProduce(conn: KafkaConnection, topic: string, batch: Buffer, totalBytes: number, inFlight: number): Promise<ProduceResult> {
  const first = decodeProduceResponse(await conn.request(encodeProduceRequest(topic, 0, 1, 30_000, batch)));
  if (first.errorCode !== 0) throw new Error(`Produce ${topic}: error code ${first.errorCode}`);
  const requests = Math.max(1, Math.ceil(totalBytes / batch.length));
  const frames = Array.from({ length: inFlight }, () => encodeProduceRequest(topic, 0, 1, 30_000, batch));
  const latencies = new Float64Array(requests);
  let next = 0;
  const start = performance.now();
  const worker = async (slot: number): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= requests) return;
      const sentAt = performance.now();
      const outcome = decodeProduceResponse(await conn.request(frames[slot]));
      latencies[i] = performance.now() - sentAt;
      if (outcome.errorCode !== 0) throw new Error(`Produce ${topic} request ${i}: error code ${outcome.errorCode}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, slot) => worker(slot)));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  const records = batch.readInt32BE(57);
  return { bytes: requests * batch.length, records: requests * records, requests, seconds, latenciesMs: latencies, endOffset: (requests + 1) * records, batchBytes: batch.length };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Per phase, the median of each metric over the rounds (all rounds run the same phases). */
function medianPhases(rounds: PhaseResult[][]): PhaseResult[] {
  return rounds[0].map((first, i) => {
    const all = rounds.map((r) => r[i]);
    const pick = (f: (p: PhaseResult) => number | null): number | null => {
      const values = all.map(f).filter((v): v is number => v !== null);
      return values.length === 0 ? null : median(values);
    };
    const pickAlways = (f: (p: PhaseResult) => number): number => median(all.map(f));
    return {
      phase: first.phase,
      mbPerSec: pickAlways((p) => p.mbPerSec),
      p50Ms: pick((p) => p.p50Ms),
      p99Ms: pick((p) => p.p99Ms),
      cpuSecPerGiB: pickAlways((p) => p.cpuSecPerGiB),
      clientCpuSecPerGiB: pickAlways((p) => p.clientCpuSecPerGiB),
      bytes: pickAlways((p) => p.bytes),
    };
  });
}

function fmt(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}

async function main(): Promise<void> {
  const engines = (process.env.SPOOL_BENCH_ENGINES ?? 'native,ts').split(',').map((e) => e.trim());
  for (const e of engines) if (e !== 'native' && e !== 'ts') throw new Error(`SPOOL_BENCH_ENGINES: unknown engine ${e}`);
  const rounds = envInt('SPOOL_BENCH_ROUNDS', 1);
  const runs = new Map<EngineName, PhaseResult[][]>();
  const failed = new Set<EngineName>();
  // Engines take turns round by round, so drift in machine load hits both alike.
  for (let round = 0; round < rounds; round++) {
    for (const engine of engines as EngineName[]) {
      if (failed.has(engine)) continue;
      try {
        const phases = await benchEngine(engine);
        runs.set(engine, [...(runs.get(engine) ?? []), phases]);
      } catch (err) {
        console.error(`${engine}: benchmark failed: ${(err as Error).message}`);
        failed.add(engine);
        runs.delete(engine);
        process.exitCode = 1;
      }
    }
  }
  const results = new Map<EngineName, PhaseResult[]>();
  for (const [engine, list] of runs) results.set(engine, medianPhases(list));
  if (rounds > 1) console.log(`median of ${rounds} rounds per metric`);
  console.log('engine  phase             MB/s   p50 ms   p99 ms  broker CPU-s/GiB  client CPU-s/GiB');
  for (const [engine, phases] of results) {
    for (const p of phases) {
      console.log(
        `${engine.padEnd(7)} ${p.phase.padEnd(15)} ${fmt(p.mbPerSec, 1).padStart(7)} ${fmt(p.p50Ms, 2).padStart(8)} ` +
          `${fmt(p.p99Ms, 2).padStart(8)} ${fmt(p.cpuSecPerGiB, 2).padStart(17)} ${fmt(p.clientCpuSecPerGiB, 2).padStart(17)}`,
      );
    }
  }
  const native = results.get('native');
  const ts = results.get('ts');
  if (native !== undefined && ts !== undefined) {
    for (let i = 0; i < native.length; i++) {
      const n = native[i];
      const t = ts[i];
      console.log(
        `native/ts ${n.phase.padEnd(15)} throughput x${(n.mbPerSec / t.mbPerSec).toFixed(2)}, ` +
          `broker CPU per byte x${(n.cpuSecPerGiB / t.cpuSecPerGiB).toFixed(2)}`,
      );
    }
  }
  if (process.env.SPOOL_BENCH_JSON === '1') console.log(JSON.stringify(Object.fromEntries(results)));
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3] as EngineName, process.argv[4]);
} else {
  await main();
}
