// bench/ room: acks=all produce on a local 3-broker cluster, Spool against Apache Kafka in the
// same run (`npm run bench:cluster`). Spool is etcd + 3 `spool start` processes (the code behind
// `spool cluster up` and the test harness); Kafka is 3 combined broker+controller KRaft nodes
// started from the jars scripts/setup-interop.sh puts in .cache/kafka-jars. Both get the same
// load from the same client (bench/loadgen.ts's pipelined raw-socket producer): a topic of 6
// partitions, RF 3, min.insync.replicas=2, one connection per partition to its leader with
// BENCH_INFLIGHT Produce v7 requests (acks=-1, one batch each) outstanding. Kafka serves one
// request per connection at a time, so there the extra in-flight requests wait their turn, as
// they do behind the Java producer (max.in.flight.requests.per.connection=5). After a warm-up
// the load runs on, unbroken, through a measured window; throughput, per-request latency and the
// CPU time of the 3 broker processes (/proc/<pid>/stat, so Linux only) count inside the window.
// Warm-up: at least BENCH_WARMUP_SECONDS, then until the brokers' JIT compiler threads (the JVM's
// "C1/C2 CompilerThread"s) used under 10% of their CPU over the last second, at most
// BENCH_WARMUP_MAX_SECONDS. Three JVMs compiling on two cores take most of a minute to settle,
// and measured earlier Kafka shows a fraction of its throughput; Node has no such threads (V8
// compiles on shared workers and settles within the minimum), so Spool's window starts at once.
// Loopback only, everything bounded; every process started is SIGKILLed at the end, on SIGINT/
// SIGTERM and when the overall bound runs out.
//
//   BENCH_SECONDS              measured window (default 10)
//   BENCH_WARMUP_SECONDS       minimum load before the window, unmeasured (default 3)
//   BENCH_WARMUP_MAX_SECONDS   ... at most, JIT settled or not (default 90)
//   BENCH_SYSTEMS              comma list, in run order (default spool,kafka)
//   BENCH_INFLIGHT             outstanding produce requests per partition connection (default 5)
//   BENCH_BATCH_RECORDS        records per produce request, one batch (default 16: ~16.5 KB,
//                              the Java producer's batch.size of 16 KiB)
//   BENCH_RECORD_SIZE          record value bytes (default 1024)
//   BENCH_SPOOL_ENGINE         storage engine of the Spool brokers (default native)
//   BENCH_KAFKA_HEAP           heap flags of each Kafka JVM (default "-Xmx512m -Xms512m")
//   SPOOL_KAFKA_JARS           the Kafka jars (default .cache/kafka-jars)
//   SPOOL_ETCD_BIN             etcd binary (default `etcd` on PATH)
//   BENCH_KEEP_DIRS=1          keep the data dirs and logs (printed) instead of removing them
//
// Results: a table on stdout and JSON in bench/results/cluster-<date>.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerSpawnSpec, etcdEndpoint, etcdSpawnSpec, findEtcd, waitForEtcd } from '../src/cli/cluster.js';
import { ManagedProcess, freePorts, liveProcesses, sleep, waitForPort } from '../src/cli/process.js';
import { ErrorCode, Writer } from '../src/protocol/index.js';
import { CreateTopicsRequest, CreateTopicsResponse } from '../src/protocol/messages/create-topics.js';
import { MetadataRequest, MetadataResponse } from '../src/protocol/messages/metadata.js';
import type { Fields, MessageSchema, StructIn } from '../src/protocol/schema.js';
import {
  GiB,
  compilerSecondsBetween,
  compilerThreadTicks,
  envInt,
  envNumber,
  execBounded,
  javaRuns,
  kafkaBrokerJvm,
  kafkaJarsDir,
  kafkaJarsVersion,
  kafkaToolJvm,
  repoRoot,
  resultsFile,
  sumCpu,
} from './common.js';
import { KafkaConnection, buildRecordBatch, decodeProduceResponse, encodeProduceRequest, percentile } from './loadgen.js';

type SystemName = 'spool' | 'kafka';

const BROKERS = 3;
const PARTITIONS = 6;
const REPLICATION_FACTOR = 3;
const MIN_INSYNC_REPLICAS = 2;
const TOPIC = 'bench-cluster';
const HOST = '127.0.0.1';
const settings = {
  seconds: envNumber('BENCH_SECONDS', 10),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
  warmupMaxSeconds: envNumber('BENCH_WARMUP_MAX_SECONDS', 90),
  inFlight: envInt('BENCH_INFLIGHT', 5),
  recordsPerBatch: envInt('BENCH_BATCH_RECORDS', 16),
  recordSize: envInt('BENCH_RECORD_SIZE', 1024),
  spoolEngine: process.env.BENCH_SPOOL_ENGINE ?? 'native',
  kafkaHeap: (process.env.BENCH_KAFKA_HEAP ?? '-Xmx512m -Xms512m').split(' ').filter((a) => a !== ''),
};

// ---- the clusters --------------------------------------------------------------------------------

interface Cluster {
  system: SystemName;
  /** e.g. "spool 0.1.0 (engine native)", "kafka 4.1.0". */
  version: string;
  bootstrap: { host: string; port: number };
  brokers: ManagedProcess[];
  /** Processes besides the brokers whose CPU is reported apart (Spool's etcd). */
  others: ManagedProcess[];
  dir: string;
}

/** Every process of this run, for the kill at the end, on a signal and at the overall bound. */
const started: ManagedProcess[] = [];
const dirs: string[] = [];

function track(p: ManagedProcess): ManagedProcess {
  started.push(p);
  return p;
}

async function killAll(): Promise<void> {
  await Promise.all(started.map((p) => p.kill()));
}

function removeDir(dir: string): void {
  if (process.env.BENCH_KEEP_DIRS === '1') {
    console.error(`kept ${dir}`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

async function startSpool(dir: string): Promise<Cluster> {
  const etcdBin = findEtcd();
  const [clientPort, peerPort, ...ports] = await freePorts(2 + BROKERS, HOST);
  const etcd = track(
    new ManagedProcess('etcd', etcdSpawnSpec({ bin: etcdBin, dataDir: join(dir, 'etcd'), logFile: join(dir, 'etcd.log'), clientPort, peerPort, host: HOST })),
  );
  const endpoint = etcdEndpoint({ clientPort, host: HOST });
  etcd.start();
  await waitForEtcd(endpoint, { process: etcd, timeoutMs: 30_000 });
  const engine = settings.spoolEngine;
  if (engine !== 'native' && engine !== 'ts' && engine !== 'auto') throw new Error(`BENCH_SPOOL_ENGINE: native, ts or auto, got ${engine}`);
  // Spool's CLI logs at info by default; warn keeps its log as quiet as Kafka's default (errors).
  const env: NodeJS.ProcessEnv = { ...process.env, SPOOL_LOG_LEVEL: process.env.SPOOL_LOG_LEVEL ?? 'warn' };
  const brokers = ports.map((port, i) =>
    track(
      new ManagedProcess(
        `spool broker ${i + 1}`,
        brokerSpawnSpec({
          nodeId: i + 1,
          port,
          host: HOST,
          logDir: join(dir, `broker-${i + 1}`),
          logFile: join(dir, `broker-${i + 1}.log`),
          etcdEndpoints: [endpoint],
          engine,
          env,
        }),
      ),
    ),
  );
  for (const b of brokers) b.start();
  await Promise.all(brokers.map((b, i) => waitForPort(ports[i], { host: HOST, process: b, timeoutMs: 60_000 })));
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  return { system: 'spool', version: `spool ${pkg.version} (engine ${engine})`, bootstrap: { host: HOST, port: ports[0] }, brokers, others: [etcd], dir };
}

/**
 * Three combined broker+controller KRaft nodes, each formatted with the same cluster id and the
 * same static controller.quorum.voters, with its own log dir, listener and controller port. JVM
 * flags are Kafka's own defaults (kafka-run-class.sh's G1 settings) with a small heap.
 */
async function startKafka(dir: string, version: string): Promise<Cluster> {
  const ports = await freePorts(2 * BROKERS, HOST);
  const brokerPort = (i: number): number => ports[i];
  const controllerPort = (i: number): number => ports[BROKERS + i];
  const voters = Array.from({ length: BROKERS }, (_, i) => `${i + 1}@${HOST}:${controllerPort(i)}`).join(',');
  // A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.
  const clusterId = randomBytes(16).toString('base64url');
  const propsFiles = Array.from({ length: BROKERS }, (_, i) => {
    const nodeDir = join(dir, `kafka-${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const props: Record<string, string> = {
      'process.roles': 'broker,controller',
      'node.id': String(i + 1),
      'controller.quorum.voters': voters,
      listeners: `PLAINTEXT://${HOST}:${brokerPort(i)},CONTROLLER://${HOST}:${controllerPort(i)}`,
      'advertised.listeners': `PLAINTEXT://${HOST}:${brokerPort(i)}`,
      'controller.listener.names': 'CONTROLLER',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name': 'PLAINTEXT',
      'log.dirs': join(nodeDir, 'logs'),
      'group.initial.rebalance.delay.ms': '0',
    };
    const file = join(nodeDir, 'server.properties');
    writeFileSync(file, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    return file;
  });
  const toolJvm = kafkaToolJvm();
  const formats = await Promise.all(
    propsFiles.map((file) => execBounded('java', [...toolJvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', file], 120_000)),
  );
  formats.forEach((r, i) => {
    if (r.code !== 0) throw new Error(`kafka-storage format of node ${i + 1} exited with ${r.code}:\n${r.output.slice(-3000)}`);
  });
  const jvm = kafkaBrokerJvm(settings.kafkaHeap);
  const brokers = propsFiles.map((file, i) =>
    track(
      new ManagedProcess(`kafka node ${i + 1}`, {
        command: 'java',
        args: [...jvm, 'kafka.Kafka', file],
        logFile: join(dir, `kafka-${i + 1}.log`),
        cwd: join(dir, `kafka-${i + 1}`),
      }),
    ),
  );
  for (const b of brokers) b.start();
  await Promise.all(brokers.map((b, i) => waitForPort(brokerPort(i), { host: HOST, process: b, timeoutMs: 120_000 })));
  return { system: 'kafka', version: `kafka ${version}`, bootstrap: { host: HOST, port: brokerPort(0) }, brokers, others: [], dir };
}

// ---- admin requests ------------------------------------------------------------------------------

const CLIENT_ID = 'spool-bench-cluster';

/** Size prefix + request header v1 + body (the non-flexible versions used here). */
function frame<F extends Fields>(schema: MessageSchema<F>, version: number, body: StructIn<F>): Buffer {
  const w = new Writer(256);
  w.int32(0);
  w.int16(schema.apiKey);
  w.int16(version);
  w.int32(0);
  w.string(CLIENT_ID, false);
  schema.encode(w, body, version);
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

async function withConnection<T>(host: string, port: number, fn: (conn: KafkaConnection) => Promise<T>): Promise<T> {
  const conn = await KafkaConnection.open(host, port);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}

/**
 * CreateTopics v4 until the topic exists: right after start-up the brokers may not all be
 * registered yet (INVALID_REPLICATION_FACTOR) or the controller not known. Bounded by `timeoutMs`.
 */
async function createTopic(cluster: Cluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const body = await withConnection(cluster.bootstrap.host, cluster.bootstrap.port, (conn) =>
        conn.request(
          frame(CreateTopicsRequest, 4, {
            topics: [
              {
                name: TOPIC,
                numPartitions: PARTITIONS,
                replicationFactor: REPLICATION_FACTOR,
                assignments: [],
                configs: [{ name: 'min.insync.replicas', value: String(MIN_INSYNC_REPLICAS) }],
              },
            ],
            timeoutMs: 10_000,
            validateOnly: false,
          }),
        ),
      );
      const topics = CreateTopicsResponse.decodeBuffer(body, 4).topics;
      const t = topics.at(0);
      if (t === undefined) throw new Error('CreateTopics answered no topic');
      if (t.errorCode === ErrorCode.NONE || t.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return;
      last = `error code ${t.errorCode}${t.errorMessage !== null ? ` (${t.errorMessage})` : ''}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`${cluster.system}: CreateTopics ${TOPIC} did not succeed within ${timeoutMs} ms: ${last}`);
}

interface Leader {
  partition: number;
  nodeId: number;
  host: string;
  port: number;
}

/** Metadata v4 until every partition has a leader and all RF replicas in its ISR; their leaders. */
async function waitForLeaders(cluster: Cluster, timeoutMs: number): Promise<Leader[]> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const body = await withConnection(cluster.bootstrap.host, cluster.bootstrap.port, (conn) =>
        conn.request(frame(MetadataRequest, 4, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false })),
      );
      const res = MetadataResponse.decodeBuffer(body, 4);
      const topic = res.topics.find((t) => t.name === TOPIC);
      if (topic === undefined) last = 'topic not in metadata';
      else if (topic.errorCode !== ErrorCode.NONE) last = `topic error code ${topic.errorCode}`;
      else {
        const leaders: Leader[] = [];
        for (const p of [...topic.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) {
          const broker = res.brokers.find((b) => b.nodeId === p.leaderId);
          if (p.errorCode !== ErrorCode.NONE || broker === undefined || p.isrNodes.length < REPLICATION_FACTOR) break;
          leaders.push({ partition: p.partitionIndex, nodeId: p.leaderId, host: broker.host, port: broker.port });
        }
        if (leaders.length === PARTITIONS) return leaders;
        last = `partitions ${topic.partitions.map((p) => `${p.partitionIndex}: leader ${p.leaderId} isr [${p.isrNodes.join(',')}]`).join('; ')}`;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${cluster.system}: ${TOPIC} not fully replicated within ${timeoutMs} ms: ${last}`);
}

/** Errors while a new topic's leaders take up their partitions (Kafka brokers learn of it asynchronously). */
const NOT_READY = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_ENOUGH_REPLICAS,
]);

/**
 * The leaders once each of them takes an acks=all write: Metadata from one broker may name a
 * leader before that leader has applied the change. Bounded by `timeoutMs`.
 */
async function readyLeaders(cluster: Cluster, timeoutMs: number): Promise<Leader[]> {
  const deadline = Date.now() + timeoutMs;
  const batch = buildRecordBatch(1, settings.recordSize);
  let last = '';
  while (Date.now() < deadline) {
    const leaders = await waitForLeaders(cluster, Math.max(1000, deadline - Date.now()));
    const codes = await Promise.all(
      leaders.map((l) =>
        withConnection(l.host, l.port, async (conn) => decodeProduceResponse(await conn.request(encodeProduceRequest(TOPIC, l.partition, -1, 10_000, batch))).errorCode),
      ),
    );
    const bad = codes.flatMap((code, i) => (code === ErrorCode.NONE ? [] : [{ partition: leaders[i].partition, code }]));
    if (bad.length === 0) return leaders;
    const fatal = bad.find((b) => !NOT_READY.has(b.code));
    if (fatal !== undefined) throw new Error(`${cluster.system}: produce to ${TOPIC}-${fatal.partition} failed with error code ${fatal.code}`);
    last = bad.map((b) => `partition ${b.partition}: error code ${b.code}`).join('; ');
    await sleep(250);
  }
  throw new Error(`${cluster.system}: leaders of ${TOPIC} did not take writes within ${timeoutMs} ms: ${last}`);
}

// ---- the load ------------------------------------------------------------------------------------

function clientCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Measured {
  warmupSeconds: number;
  /** JIT compiler threads' share of the brokers' CPU in the last warm-up second. */
  warmupEndJitShare: number;
  /** Of brokerCpuSeconds, the JIT compiler threads'. */
  brokerJitCpuSeconds: number;
  seconds: number;
  bytes: number;
  records: number;
  requests: number;
  latenciesMs: Float64Array;
  brokerCpuSeconds: number;
  otherCpuSeconds: number;
  clientCpuSeconds: number;
}

/**
 * Produces to every partition until the window closes: warm-up, then the measured window, with
 * no pause between. A request counts when its response arrives inside the window (JavaScript
 * runs the control loop's window start and end steps between responses, so the split is exact).
 */
async function runLoad(cluster: Cluster, leaders: Leader[]): Promise<Measured> {
  const batch = buildRecordBatch(settings.recordsPerBatch, settings.recordSize);
  const conns = await Promise.all(leaders.map((l) => KafkaConnection.open(l.host, l.port)));
  let measuring = false;
  let stopped = false;
  let requests = 0;
  const latencies: number[] = [];
  let windowStart = 0;
  let windowEnd = 0;
  let cpuStart = { broker: 0, other: 0, client: 0 };
  let cpuEnd = cpuStart;
  const cpuNow = (): typeof cpuStart => ({ broker: sumCpu(cluster.brokers), other: sumCpu(cluster.others), client: clientCpuSeconds() });
  // The first error of any worker or of the control loop; an array so the type checker sees the
  // closures set it.
  const failures: Error[] = [];
  const fail = (err: unknown): void => {
    failures.push(err instanceof Error ? err : new Error(String(err)));
    stopped = true;
  };
  const loadStart = performance.now();
  let warmupEndJitShare = 0;
  let jitStart = new Map<string, number>();
  let jitEnd = jitStart;
  // Warm-up (bounded by warmupMaxSeconds), then the window; stops the workers at its end.
  const control = async (): Promise<void> => {
    await sleep(settings.warmupSeconds * 1000);
    let jit = compilerThreadTicks(cluster.brokers);
    let cpu = sumCpu(cluster.brokers);
    while (!stopped && performance.now() - loadStart < settings.warmupMaxSeconds * 1000) {
      await sleep(1000);
      const jitNow = compilerThreadTicks(cluster.brokers);
      const cpuNowTotal = sumCpu(cluster.brokers);
      warmupEndJitShare = compilerSecondsBetween(jit, jitNow) / Math.max(cpuNowTotal - cpu, 0.01);
      jit = jitNow;
      cpu = cpuNowTotal;
      if (warmupEndJitShare < 0.1) break;
    }
    if (stopped) return;
    jitStart = compilerThreadTicks(cluster.brokers);
    cpuStart = cpuNow();
    windowStart = performance.now();
    measuring = true;
    await sleep(settings.seconds * 1000);
    windowEnd = performance.now();
    measuring = false;
    stopped = true;
    cpuEnd = cpuNow();
    jitEnd = compilerThreadTicks(cluster.brokers);
  };
  const worker = async (conn: KafkaConnection, partition: number): Promise<void> => {
    // One frame per worker: a frame is rewritten (correlation id) only after its response.
    const request = encodeProduceRequest(TOPIC, partition, -1, 30_000, batch);
    while (!stopped) {
      const sentAt = performance.now();
      const body = await conn.request(request);
      const latency = performance.now() - sentAt;
      const { errorCode } = decodeProduceResponse(body);
      if (errorCode !== ErrorCode.NONE) throw new Error(`${cluster.system}: produce to ${TOPIC}-${partition} failed with error code ${errorCode}`);
      if (measuring) {
        requests++;
        latencies.push(latency);
      }
    }
  };
  try {
    await Promise.all([
      control().catch(fail),
      ...leaders.flatMap((l, i) => Array.from({ length: settings.inFlight }, () => worker(conns[i], l.partition).catch(fail))),
    ]);
  } finally {
    for (const c of conns) c.close();
  }
  if (failures.length > 0) throw failures[0];
  const sorted = Float64Array.from(latencies).sort();
  return {
    warmupSeconds: (windowStart - loadStart) / 1000,
    warmupEndJitShare,
    brokerJitCpuSeconds: compilerSecondsBetween(jitStart, jitEnd),
    seconds: (windowEnd - windowStart) / 1000,
    bytes: requests * batch.length,
    records: requests * settings.recordsPerBatch,
    requests,
    latenciesMs: sorted,
    brokerCpuSeconds: cpuEnd.broker - cpuStart.broker,
    otherCpuSeconds: cpuEnd.other - cpuStart.other,
    clientCpuSeconds: cpuEnd.client - cpuStart.client,
  };
}

interface SystemResult {
  version: string;
  mbPerSec: number;
  recordsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  brokerCpuSecPerGiB: number;
  /** Spool's etcd; null for Kafka (its controllers run inside the broker processes). */
  etcdCpuSecPerGiB: number | null;
  clientCpuSecPerGiB: number;
  /** Share of the brokers' CPU in the window spent by JIT compiler threads. */
  brokerJitCpuShare: number;
  warmupSeconds: number;
  warmupEndJitShare: number;
  seconds: number;
  bytes: number;
  records: number;
  requests: number;
  leaders: number[];
}

async function benchSystem(system: SystemName, kafkaVersion: string | null): Promise<SystemResult> {
  const dir = mkdtempSync(join(tmpdir(), `spool-bench-cluster-${system}-`));
  dirs.push(dir);
  let cluster: Cluster | undefined;
  try {
    const t0 = performance.now();
    if (system === 'spool') cluster = await startSpool(dir);
    else if (kafkaVersion !== null) cluster = await startKafka(dir, kafkaVersion);
    else throw new Error('Kafka jars missing');
    await createTopic(cluster, 90_000);
    const leaders = await readyLeaders(cluster, 60_000);
    console.error(`${cluster.version}: up and topic ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; leaders ${leaders.map((l) => l.nodeId).join(',')}`);
    const m = await runLoad(cluster, leaders);
    if (m.requests === 0) throw new Error(`${system}: no produce request completed inside the window`);
    return {
      version: cluster.version,
      mbPerSec: m.bytes / 1e6 / m.seconds,
      recordsPerSec: m.records / m.seconds,
      p50Ms: percentile(m.latenciesMs, 50),
      p99Ms: percentile(m.latenciesMs, 99),
      brokerCpuSecPerGiB: (m.brokerCpuSeconds * GiB) / m.bytes,
      etcdCpuSecPerGiB: cluster.others.length > 0 ? (m.otherCpuSeconds * GiB) / m.bytes : null,
      clientCpuSecPerGiB: (m.clientCpuSeconds * GiB) / m.bytes,
      brokerJitCpuShare: m.brokerJitCpuSeconds / Math.max(m.brokerCpuSeconds, 0.01),
      warmupSeconds: m.warmupSeconds,
      warmupEndJitShare: m.warmupEndJitShare,
      seconds: m.seconds,
      bytes: m.bytes,
      records: m.records,
      requests: m.requests,
      leaders: leaders.map((l) => l.nodeId),
    };
  } catch (err) {
    for (const p of [...(cluster?.brokers ?? []), ...(cluster?.others ?? [])]) {
      const tail = p.logTail(1500).trim();
      if (tail !== '') console.error(`--- ${p.name} log (${p.spec.logFile}), last lines:\n${tail}`);
    }
    throw err;
  } finally {
    await killAll();
    removeDir(dir);
  }
}

// ---- report --------------------------------------------------------------------------------------

function fmt(v: number | null, digits: number, width: number): string {
  return (v === null ? '-' : v.toFixed(digits)).padStart(width);
}

async function main(): Promise<void> {
  const systems = (process.env.BENCH_SYSTEMS ?? 'spool,kafka').split(',').map((s) => s.trim());
  for (const s of systems) if (s !== 'spool' && s !== 'kafka') throw new Error(`BENCH_SYSTEMS: unknown system ${s}`);
  let kafkaVersion: string | null = null;
  const notes: string[] = [];
  if (systems.includes('kafka')) {
    kafkaVersion = kafkaJarsVersion();
    if (kafkaVersion === null) {
      notes.push(`Kafka jars missing in ${kafkaJarsDir}: fetch them with \`bash scripts/setup-interop.sh\`; running Spool only`);
    } else if (!(await javaRuns())) {
      notes.push('`java -version` failed: install Java 17+ (scripts/setup-interop.sh does); running Spool only');
      kafkaVersion = null;
    }
    for (const n of notes) console.error(n);
  }
  const toRun = systems.filter((s): s is SystemName => s === 'spool' || kafkaVersion !== null);
  const results: Partial<Record<SystemName, SystemResult>> = {};
  const errors: Partial<Record<SystemName, string>> = {};
  for (const system of toRun) {
    try {
      results[system] = await benchSystem(system, kafkaVersion);
    } catch (err) {
      errors[system] = (err as Error).message;
      console.error(`${system}: benchmark failed: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  }

  const s = settings;
  console.log(
    `acks=all produce, ${BROKERS} brokers on ${HOST}, topic ${PARTITIONS} partitions RF ${REPLICATION_FACTOR} min.insync.replicas=${MIN_INSYNC_REPLICAS}; ` +
      `${s.recordSize} B records, ${s.recordsPerBatch} per request, ${s.inFlight} in flight per partition; ${s.seconds} s window after warm-up`,
  );
  console.log('system  version                        MB/s  records/s   p50 ms   p99 ms  broker CPU-s/GiB (JIT)  etcd CPU-s/GiB  client CPU-s/GiB  warm-up s');
  for (const [system, r] of Object.entries(results)) {
    console.log(
      `${system.padEnd(7)} ${r.version.padEnd(27)} ${fmt(r.mbPerSec, 1, 7)} ${fmt(r.recordsPerSec, 0, 10)} ${fmt(r.p50Ms, 2, 8)} ${fmt(r.p99Ms, 2, 8)} ` +
        `${fmt(r.brokerCpuSecPerGiB, 2, 17)} ${`${Math.round(r.brokerJitCpuShare * 100)}%`.padStart(5)} ${fmt(r.etcdCpuSecPerGiB, 2, 15)} ` +
        `${fmt(r.clientCpuSecPerGiB, 2, 17)} ${fmt(r.warmupSeconds, 1, 10)}`,
    );
  }
  let ratios: Record<string, number> | null = null;
  if (results.spool !== undefined && results.kafka !== undefined) {
    const sp = results.spool;
    const k = results.kafka;
    ratios = {
      mbPerSec: sp.mbPerSec / k.mbPerSec,
      recordsPerSec: sp.recordsPerSec / k.recordsPerSec,
      p50Ms: sp.p50Ms / k.p50Ms,
      p99Ms: sp.p99Ms / k.p99Ms,
      brokerCpuSecPerGiB: sp.brokerCpuSecPerGiB / k.brokerCpuSecPerGiB,
      brokerPlusEtcdCpuSecPerGiB: (sp.brokerCpuSecPerGiB + (sp.etcdCpuSecPerGiB ?? 0)) / k.brokerCpuSecPerGiB,
    };
    console.log(
      `spool/kafka  throughput x${ratios.mbPerSec.toFixed(2)}, p50 x${ratios.p50Ms.toFixed(2)}, p99 x${ratios.p99Ms.toFixed(2)}, ` +
        `broker CPU per byte x${ratios.brokerCpuSecPerGiB.toFixed(2)} (with etcd x${ratios.brokerPlusEtcdCpuSecPerGiB.toFixed(2)})`,
    );
  }
  for (const n of notes) console.log(`note: ${n}`);

  const file = resultsFile('cluster');
  const json = {
    bench: 'cluster',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus().at(0)?.model ?? null, node: process.version },
    kafkaVersion,
    workload: {
      acks: -1,
      brokers: BROKERS,
      partitions: PARTITIONS,
      replicationFactor: REPLICATION_FACTOR,
      minInsyncReplicas: MIN_INSYNC_REPLICAS,
      recordSize: s.recordSize,
      recordsPerRequest: s.recordsPerBatch,
      inFlightPerPartition: s.inFlight,
      seconds: s.seconds,
      warmupMinSeconds: s.warmupSeconds,
      warmupMaxSeconds: s.warmupMaxSeconds,
      warmupRule: 'until JIT compiler threads < 10% of broker CPU over 1 s',
      spoolEngine: s.spoolEngine,
      kafkaHeap: s.kafkaHeap.join(' '),
      client: 'bench/loadgen.ts (raw-socket Produce v7, one connection per partition leader)',
      mbPerSec: 'record-batch bytes / 1e6 per second',
    },
    results,
    ratiosSpoolOverKafka: ratios,
    errors,
    notes,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  console.log(`results: ${file}`);
}

// Everything started is SIGKILLed on a signal and when the overall bound runs out, and the data
// dirs removed; src/cli/process.ts also SIGKILLs live children when this process exits.
async function abort(why: string, exitCode: number): Promise<never> {
  console.error(`bench:cluster: ${why}: killing ${liveProcesses().length} processes`);
  await Promise.race([killAll(), sleep(5_000)]);
  for (const d of dirs) removeDir(d);
  process.exit(exitCode);
}
process.once('SIGINT', () => void abort('SIGINT', 130));
process.once('SIGTERM', () => void abort('SIGTERM', 143));
const boundSeconds = 600 + 2 * (settings.seconds + Math.max(settings.warmupSeconds, settings.warmupMaxSeconds));
setTimeout(() => void abort(`not done after ${boundSeconds} s`, 1), boundSeconds * 1000).unref();

try {
  await main();
} finally {
  await killAll();
}
