// bench/ room: TLS against plaintext, Spool against Apache Kafka (`npm run bench:tls`). Two brokers
// run side by side, each in its own child process with a PLAINTEXT and an SSL listener that share
// one throwaway CA and broker certificate (made with the openssl CLI; Kafka reads the same PEM
// keystore file with ssl.keystore.type=PEM): Spool (forked from this file) and, unless
// SPOOL_BENCH_KAFKA=0, a single-node KRaft Kafka from the jars in .cache/kafka-jars (started by
// bench/vs-kafka-targets.ts as kafka-server-start does). The raw-socket load generator
// produces and then fetches the same amount through each of the four listeners, in interleaved
// rounds (the order rotates each round), and reports the median MB/s and broker CPU-s/GiB (from
// /proc/<pid>/stat of the broker process) with the SSL/PLAINTEXT and Spool/Kafka ratios.
// Plaintext fetch uses sendfile in both brokers (Spool: native engine); TLS fetch reads file
// data into memory and encrypts it in both.
//
//   SPOOL_BENCH_BYTES          record-batch bytes produced (and fetched) per listener and round (default 128 MiB)
//   SPOOL_BENCH_ROUNDS         interleaved rounds (default 3)
//   SPOOL_BENCH_KAFKA          0: Spool only (default 1)
//   SPOOL_BENCH_ENGINE         Spool's engine, native or ts (default native)
//   SPOOL_BENCH_INFLIGHT       pipelined requests per connection (default 8)
//   SPOOL_BENCH_BATCH_RECORDS  records per produce request (default 16)
//   SPOOL_BENCH_RECORD_SIZE    record value bytes (default 1024)
//   SPOOL_BENCH_FETCH_BYTES    partition max bytes per fetch (default 1 MiB)
//   SPOOL_BENCH_WARMUP_BYTES   produced and fetched first on each listener, unmeasured (default 64 MiB)
//   SPOOL_BENCH_JSON           1: also print every sample as JSON
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { envInt, kafkaJarsDir, kafkaJarsVersion, pidCpuSeconds } from './common.js';
import { KafkaConnection, ensureTopic, runConsume, runProduce } from './loadgen.js';
import { startKafka, type Target } from './vs-kafka-targets.js';

type BrokerModule = typeof import('../src/index.js');
type ChildMessage = { type: 'ready'; ports: Record<string, number> } | { type: 'error'; message: string };
interface ParentMessage {
  type: 'stop';
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---- child: the Spool broker ------------------------------------------------------------------

async function serve(dir: string): Promise<void> {
  const send = (m: ChildMessage): void => {
    if (process.send === undefined) throw new Error('--serve needs an IPC channel');
    process.send(m);
  };
  const engine = process.env.SPOOL_BENCH_ENGINE === 'ts' ? 'ts' : 'native';
  let broker: Awaited<ReturnType<BrokerModule['startBroker']>>;
  try {
    const mod = (await import(new URL('../src/index.js', import.meta.url).href)) as BrokerModule;
    broker = await mod.startBroker({
      dataDir: join(dir, 'data'),
      engine,
      config: {
        listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
        'ssl.keystore.type': 'PEM',
        'ssl.keystore.location': join(dir, 'broker.keystore.pem'),
      },
    });
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
  send({ type: 'ready', ports: broker.listeners });
  // The parent sends nothing but { type: 'stop' }.
  process.on('message', stop);
  process.on('disconnect', stop);
}

// ---- parent ------------------------------------------------------------------------------------

/** A CA and a broker certificate for localhost/127.0.0.1 (EC P-256), as in test/helpers/tls.ts. */
function makeCertificates(dir: string): { ca: string; keystoreFile: string } {
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key']);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=bench CA', '-out', 'ca.pem']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'broker.key']);
  openssl(['req', '-new', '-key', 'broker.key', '-subj', '/CN=localhost', '-out', 'broker.csr']);
  writeFileSync(join(dir, 'ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '2', '-sha256', '-extfile', 'ext', '-out', 'broker.pem']);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  // genpkey writes an unencrypted PKCS#8 key: what both brokers' PEM keystores take without a password.
  const keystoreFile = join(dir, 'broker.keystore.pem');
  writeFileSync(keystoreFile, read('broker.key') + read('broker.pem') + read('ca.pem'));
  return { ca: read('ca.pem'), keystoreFile };
}

class SpoolChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly ports: Record<string, number>,
  ) {}

  static start(dir: string): Promise<SpoolChild> {
    const child = fork(fileURLToPath(import.meta.url), ['--serve', dir], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    child.stdout?.pipe(process.stderr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('broker did not start within 30 s'));
      }, 30_000);
      child.once('message', (m: ChildMessage) => {
        clearTimeout(timer);
        if (m.type === 'ready' && child.pid !== undefined) resolve(new SpoolChild(child, child.pid, m.ports));
        else reject(new Error(m.type === 'error' ? m.message : 'broker has no pid'));
      });
    });
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'stop' } satisfies ParentMessage);
    });
  }
}

type BrokerName = 'spool' | 'kafka';
type ListenerName = 'PLAINTEXT' | 'SSL';
type Phase = 'produce' | 'fetch';

interface Endpoint {
  broker: BrokerName;
  listener: ListenerName;
  port: number;
  /** The broker's PLAINTEXT port, for CreateTopics. */
  plainPort: number;
  cpuSeconds: () => number;
  conn: KafkaConnection | null;
}

interface Sample {
  broker: BrokerName;
  listener: ListenerName;
  phase: Phase;
  round: number;
  mbPerSec: number;
  brokerCpuSecPerGiB: number;
}

interface Summary {
  broker: BrokerName;
  listener: ListenerName;
  phase: Phase;
  mbPerSec: number;
  minMbPerSec: number;
  maxMbPerSec: number;
  brokerCpuSecPerGiB: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The TLS version and cipher suite a node:tls client negotiates with `port`. */
function negotiated(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const cipher = socket.getCipher();
      resolve(`${socket.getProtocol() ?? '?'} ${cipher.standardName}`);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

async function main(): Promise<void> {
  const totalBytes = envInt('SPOOL_BENCH_BYTES', 128 * MiB);
  const rounds = envInt('SPOOL_BENCH_ROUNDS', 3);
  const warmupBytes = envInt('SPOOL_BENCH_WARMUP_BYTES', 64 * MiB);
  const inFlight = envInt('SPOOL_BENCH_INFLIGHT', 8);
  const recordsPerBatch = envInt('SPOOL_BENCH_BATCH_RECORDS', 16);
  const recordSize = envInt('SPOOL_BENCH_RECORD_SIZE', 1024);
  const fetchBytes = envInt('SPOOL_BENCH_FETCH_BYTES', MiB);
  const engine = process.env.SPOOL_BENCH_ENGINE === 'ts' ? 'ts' : 'native';
  const withKafka = process.env.SPOOL_BENCH_KAFKA !== '0';
  const kafkaVersion = kafkaJarsVersion();
  if (withKafka && kafkaVersion === null) throw new Error(`no Kafka jars in ${kafkaJarsDir} (scripts/setup-interop.sh fetches them; SPOOL_BENCH_KAFKA=0 runs Spool only)`);
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-tls-'));
  const samples: Sample[] = [];
  const ciphers: string[] = [];
  const endpoints: Endpoint[] = [];
  let spool: SpoolChild | null = null;
  let kafka: Target | null = null;
  try {
    const { ca, keystoreFile } = makeCertificates(dir);
    spool = await SpoolChild.start(dir);
    const spoolPid = spool.pid;
    const spoolCpu = (): number => pidCpuSeconds(spoolPid);
    for (const listener of ['PLAINTEXT', 'SSL'] as const) {
      endpoints.push({ broker: 'spool', listener, port: spool.ports[listener], plainPort: spool.ports.PLAINTEXT, cpuSeconds: spoolCpu, conn: null });
    }
    if (withKafka) {
      kafka = await startKafka({ sslKeystorePem: keystoreFile });
      const { port, sslPort, cpuSeconds } = kafka;
      if (sslPort === undefined) throw new Error('Kafka started without its SSL listener');
      endpoints.push({ broker: 'kafka', listener: 'PLAINTEXT', port, plainPort: port, cpuSeconds, conn: null });
      endpoints.push({ broker: 'kafka', listener: 'SSL', port: sslPort, plainPort: port, cpuSeconds, conn: null });
    }
    for (const e of endpoints) {
      if (e.listener === 'SSL') ciphers.push(`${e.broker}: ${await negotiated(e.port, ca)}`);
      e.conn = await KafkaConnection.open('127.0.0.1', e.port, e.listener === 'SSL' ? { ca, servername: 'localhost' } : undefined);
      const topic = `warm-${e.listener}`;
      await ensureTopic('127.0.0.1', e.plainPort, topic, 1);
      const warm = await runProduce(e.conn, { topic, partition: 0, acks: 1, totalBytes: warmupBytes, recordsPerBatch, recordSize, inFlight });
      await runConsume(e.conn, { topic, partition: 0, endOffset: warm.endOffset, fetchBytes, inFlight, recordsPerBatch, batchBytes: warm.batchBytes });
    }
    for (let round = 0; round < rounds; round++) {
      // Bounded: rounds × endpoints (at most 4).
      for (let k = 0; k < endpoints.length; k++) {
        const e = endpoints[(k + round) % endpoints.length];
        const conn = e.conn;
        if (conn === null) throw new Error('connection not open');
        const topic = `bench-${e.listener}-${round}`;
        await ensureTopic('127.0.0.1', e.plainPort, topic, 1);
        let cpu = e.cpuSeconds();
        const produced = await runProduce(conn, { topic, partition: 0, acks: 1, totalBytes, recordsPerBatch, recordSize, inFlight });
        let cpuAfter = e.cpuSeconds();
        const base = { broker: e.broker, listener: e.listener, round };
        samples.push({ ...base, phase: 'produce', mbPerSec: produced.bytes / MiB / produced.seconds, brokerCpuSecPerGiB: ((cpuAfter - cpu) * GiB) / produced.bytes });
        cpu = e.cpuSeconds();
        const fetched = await runConsume(conn, { topic, partition: 0, endOffset: produced.endOffset, fetchBytes, inFlight, recordsPerBatch, batchBytes: produced.batchBytes });
        cpuAfter = e.cpuSeconds();
        samples.push({ ...base, phase: 'fetch', mbPerSec: fetched.bytes / MiB / fetched.seconds, brokerCpuSecPerGiB: ((cpuAfter - cpu) * GiB) / fetched.bytes });
      }
    }
  } finally {
    for (const e of endpoints) e.conn?.close();
    await spool?.stop();
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const summaries: Summary[] = [];
  for (const e of endpoints) {
    for (const phase of ['produce', 'fetch'] as const) {
      const mine = samples.filter((s) => s.broker === e.broker && s.listener === e.listener && s.phase === phase);
      const mbs = mine.map((s) => s.mbPerSec);
      summaries.push({
        broker: e.broker,
        listener: e.listener,
        phase,
        mbPerSec: median(mbs),
        minMbPerSec: Math.min(...mbs),
        maxMbPerSec: Math.max(...mbs),
        brokerCpuSecPerGiB: median(mine.map((s) => s.brokerCpuSecPerGiB)),
      });
    }
  }
  const find = (broker: BrokerName, listener: ListenerName, phase: Phase): Summary | undefined =>
    summaries.find((s) => s.broker === broker && s.listener === listener && s.phase === phase);
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);

  const kafkaLabel = withKafka ? ` and Apache Kafka ${kafkaVersion ?? '?'} (1 GiB G1)` : '';
  console.log(`TLS vs plaintext: Spool (${engine} engine)${kafkaLabel}, ${rounds} interleaved rounds of ${totalBytes / MiB} MiB per phase, ` +
    `${recordSize} B records, ${recordsPerBatch}/batch, ${inFlight} in flight, fetch ${fetchBytes / MiB} MiB; medians (MB/s min–max)`);
  for (const c of ciphers) console.log(`  SSL negotiated, ${c}`);
  console.log('broker  listener   phase      MB/s  (min–max)       broker CPU-s/GiB');
  for (const s of summaries) {
    const range = `(${s.minMbPerSec.toFixed(0)}–${s.maxMbPerSec.toFixed(0)})`;
    console.log(`${s.broker.padEnd(7)} ${s.listener.padEnd(10)} ${s.phase.padEnd(8)} ${s.mbPerSec.toFixed(1).padStart(6)}  ${range.padEnd(14)}  ${s.brokerCpuSecPerGiB.toFixed(2).padStart(6)}`);
  }
  console.log('SSL/PLAINTEXT (MB/s, CPU-s/GiB):');
  for (const broker of ['spool', 'kafka'] as const) {
    for (const phase of ['produce', 'fetch'] as const) {
      const plain = find(broker, 'PLAINTEXT', phase);
      const tls = find(broker, 'SSL', phase);
      if (plain && tls) console.log(`  ${broker.padEnd(6)} ${phase.padEnd(8)} ${ratio(tls.mbPerSec, plain.mbPerSec)}  ${ratio(tls.brokerCpuSecPerGiB, plain.brokerCpuSecPerGiB)}`);
    }
  }
  if (withKafka) {
    console.log('Spool/Kafka (MB/s, CPU-s/GiB):');
    for (const listener of ['PLAINTEXT', 'SSL'] as const) {
      for (const phase of ['produce', 'fetch'] as const) {
        const s = find('spool', listener, phase);
        const k = find('kafka', listener, phase);
        if (s && k) console.log(`  ${listener.padEnd(9)} ${phase.padEnd(8)} ${ratio(s.mbPerSec, k.mbPerSec)}  ${ratio(s.brokerCpuSecPerGiB, k.brokerCpuSecPerGiB)}`);
      }
    }
  }
  if (process.env.SPOOL_BENCH_JSON === '1') console.log(JSON.stringify({ engine, kafkaVersion: withKafka ? kafkaVersion : null, totalBytes, rounds, ciphers, summaries, samples }));
}

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();
