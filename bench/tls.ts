// bench/ room: TLS against plaintext on one broker (`npm run bench:tls`). The broker runs in a
// child process with a PLAINTEXT and an SSL listener (a throwaway CA and certificate made with the
// openssl CLI); the raw-socket load generator produces and then fetches the same amount through
// each listener in turn and reports MB/s and the broker's CPU-s/GiB side by side. Plaintext fetch
// uses sendfile with the native engine; TLS fetch reads file data into memory and encrypts it.
//
//   SPOOL_BENCH_BYTES          record-batch bytes produced (and fetched) per listener (default 256 MiB)
//   SPOOL_BENCH_ENGINE         native or ts (default native)
//   SPOOL_BENCH_INFLIGHT       pipelined requests per connection (default 8)
//   SPOOL_BENCH_BATCH_RECORDS  records per produce request (default 16)
//   SPOOL_BENCH_RECORD_SIZE    record value bytes (default 1024)
//   SPOOL_BENCH_FETCH_BYTES    partition max bytes per fetch (default 1 MiB)
//   SPOOL_BENCH_WARMUP_BYTES   produced and fetched first on each listener, unmeasured (default 32 MiB)
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaConnection, ensureTopic, runConsume, runProduce } from './loadgen.js';

type BrokerModule = typeof import('../src/index.js');
type ChildMessage = { type: 'ready'; ports: Record<string, number> } | { type: 'cpu'; micros: number } | { type: 'error'; message: string };
type ParentMessage = { type: 'cpu' } | { type: 'stop' };

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---- child: the broker ------------------------------------------------------------------------

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
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'cpu') {
      const u = process.cpuUsage();
      send({ type: 'cpu', micros: u.user + u.system });
    } else stop();
  });
  process.on('disconnect', stop);
}

// ---- parent ------------------------------------------------------------------------------------

function makeCertificates(dir: string): string {
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key']);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=bench CA', '-out', 'ca.pem']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'broker.key']);
  openssl(['req', '-new', '-key', 'broker.key', '-subj', '/CN=localhost', '-out', 'broker.csr']);
  writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '2', '-extfile', 'ext', '-out', 'broker.pem']);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  writeFileSync(join(dir, 'broker.keystore.pem'), read('broker.key') + read('broker.pem') + read('ca.pem'));
  return read('ca.pem');
}

class BrokerChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly ports: Record<string, number>,
  ) {}

  static start(dir: string): Promise<BrokerChild> {
    const child = fork(fileURLToPath(import.meta.url), ['--serve', dir], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    child.stdout?.pipe(process.stderr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('broker did not start within 30 s'));
      }, 30_000);
      child.once('message', (m: ChildMessage) => {
        clearTimeout(timer);
        if (m.type === 'ready') resolve(new BrokerChild(child, m.ports));
        else reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`));
      });
    });
  }

  cpuSeconds(): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('broker did not report CPU usage')), 10_000);
      this.child.once('message', (m: ChildMessage) => {
        clearTimeout(timer);
        if (m.type === 'cpu') resolve(m.micros / 1e6);
        else reject(new Error(`expected cpu, got ${m.type}`));
      });
      this.child.send({ type: 'cpu' } satisfies ParentMessage);
    });
  }

  stop(): Promise<void> {
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

interface Row {
  listener: string;
  phase: 'produce' | 'fetch';
  mbPerSec: number;
  brokerCpuSecPerGiB: number;
}

async function main(): Promise<void> {
  const totalBytes = envInt('SPOOL_BENCH_BYTES', 256 * MiB);
  const warmupBytes = envInt('SPOOL_BENCH_WARMUP_BYTES', 32 * MiB);
  const inFlight = envInt('SPOOL_BENCH_INFLIGHT', 8);
  const recordsPerBatch = envInt('SPOOL_BENCH_BATCH_RECORDS', 16);
  const recordSize = envInt('SPOOL_BENCH_RECORD_SIZE', 1024);
  const fetchBytes = envInt('SPOOL_BENCH_FETCH_BYTES', MiB);
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-tls-'));
  const rows: Row[] = [];
  let broker: BrokerChild | null = null;
  try {
    const ca = makeCertificates(dir);
    broker = await BrokerChild.start(dir);
    const b = broker;
    const plainPort = b.ports.PLAINTEXT;
    for (const listener of ['PLAINTEXT', 'SSL'] as const) {
      const tls = listener === 'SSL' ? { ca, servername: 'localhost' } : undefined;
      const port = b.ports[listener];
      for (const topic of [`warm-${listener}`, `bench-${listener}`]) await ensureTopic('127.0.0.1', plainPort, topic, 1);
      const conn = await KafkaConnection.open('127.0.0.1', port, tls);
      try {
        const warm = await runProduce(conn, { topic: `warm-${listener}`, partition: 0, acks: 1, totalBytes: warmupBytes, recordsPerBatch, recordSize, inFlight });
        await runConsume(conn, { topic: `warm-${listener}`, partition: 0, endOffset: warm.endOffset, fetchBytes, inFlight, recordsPerBatch, batchBytes: warm.batchBytes });
        let cpu = await b.cpuSeconds();
        const produced = await runProduce(conn, { topic: `bench-${listener}`, partition: 0, acks: 1, totalBytes, recordsPerBatch, recordSize, inFlight });
        let cpuAfter = await b.cpuSeconds();
        rows.push({ listener, phase: 'produce', mbPerSec: produced.bytes / MiB / produced.seconds, brokerCpuSecPerGiB: ((cpuAfter - cpu) * GiB) / produced.bytes });
        cpu = await b.cpuSeconds();
        const fetched = await runConsume(conn, {
          topic: `bench-${listener}`,
          partition: 0,
          endOffset: produced.endOffset,
          fetchBytes,
          inFlight,
          recordsPerBatch,
          batchBytes: produced.batchBytes,
        });
        cpuAfter = await b.cpuSeconds();
        rows.push({ listener, phase: 'fetch', mbPerSec: fetched.bytes / MiB / fetched.seconds, brokerCpuSecPerGiB: ((cpuAfter - cpu) * GiB) / fetched.bytes });
      } finally {
        conn.close();
      }
    }
  } finally {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const engine = process.env.SPOOL_BENCH_ENGINE === 'ts' ? 'ts' : 'native';
  console.log(`TLS vs plaintext, one broker (${engine} engine), ${totalBytes / MiB} MiB per phase, ${recordSize} B records, ${recordsPerBatch}/batch, ${inFlight} in flight`);
  console.log('listener   phase     MB/s   broker CPU-s/GiB');
  for (const r of rows) console.log(`${r.listener.padEnd(10)} ${r.phase.padEnd(8)} ${r.mbPerSec.toFixed(1).padStart(6)}   ${r.brokerCpuSecPerGiB.toFixed(2).padStart(6)}`);
  for (const phase of ['produce', 'fetch'] as const) {
    const plain = rows.find((r) => r.listener === 'PLAINTEXT' && r.phase === phase);
    const tls = rows.find((r) => r.listener === 'SSL' && r.phase === phase);
    if (plain && tls) {
      console.log(`${phase}: TLS/plaintext MB/s ${(tls.mbPerSec / plain.mbPerSec).toFixed(2)}, CPU-s/GiB ${(tls.brokerCpuSecPerGiB / plain.brokerCpuSecPerGiB).toFixed(2)}`);
    }
  }
  if (process.env.SPOOL_BENCH_JSON === '1') console.log(JSON.stringify({ engine, totalBytes, rows }));
}

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();
