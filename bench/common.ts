// bench/ room: what the benchmarks that run Apache Kafka next to Spool share (bench/cluster.ts,
// bench/txn.ts): settings from the environment, the Kafka jars and JVM, bounded child commands,
// CPU time of broker processes from /proc (Linux only), and the results file.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagedProcess } from '../src/cli/process.js';

export const GiB = 1024 * 1024 * 1024;
/** /proc/<pid>/stat counts CPU time in clock ticks: USER_HZ, 100 on every Linux build Node runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const kafkaJarsDir = process.env.SPOOL_KAFKA_JARS ?? join(repoRoot, '.cache', 'kafka-jars');

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return v;
}

export function envInt(name: string, fallback: number): number {
  const v = envNumber(name, fallback);
  if (!Number.isSafeInteger(v)) throw new Error(`${name} must be an integer, got ${v}`);
  return v;
}

/** The Kafka version of the jars (from kafka_2.13-<version>.jar), or null when they are missing. */
export function kafkaJarsVersion(): string | null {
  if (!existsSync(kafkaJarsDir)) return null;
  for (const f of readdirSync(kafkaJarsDir)) {
    const m = /^kafka_2\.13-(.+)\.jar$/.exec(f);
    if (m !== null) return m[1];
  }
  return null;
}

export function execBounded(command: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}${err?.killed === true ? `\n(killed after ${timeoutMs} ms)` : ''}` });
    });
  });
}

export async function javaRuns(): Promise<boolean> {
  return (await execBounded('java', ['-version'], 30_000)).code === 0;
}

/** JVM flags of the Kafka tools run before a broker starts (kafka-storage format). */
export function kafkaToolJvm(): string[] {
  return ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${kafkaJarsDir}/*`];
}

/** A Kafka broker's JVM flags: kafka-run-class.sh's G1 settings with the given heap flags. */
export function kafkaBrokerJvm(heap: string[]): string[] {
  return [
    ...heap,
    '-server',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true',
    '-cp',
    `${kafkaJarsDir}/*`,
  ];
}

/** CPU seconds (user + system, all threads) of a live process, from /proc/<pid>/stat. */
export function cpuSecondsOf(p: ManagedProcess): number {
  const pid = p.pid;
  if (!p.running || pid === undefined) throw new Error(`${p.name} is not running (log ${p.spec.logFile})`);
  return pidCpuSeconds(pid);
}

/** CPU seconds (user + system, all threads) of process `pid`, from /proc/<pid>/stat. */
export function pidCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds every process of the machine has used since boot (/proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // cpu user nice system idle iowait irq softirq steal (guest time is already in user and nice)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

export function sumCpu(list: ManagedProcess[]): number {
  return list.reduce((sum, p) => sum + cpuSecondsOf(p), 0);
}

/** CPU ticks of each JIT compiler thread (by "pid/tid") of these processes; threads come and go. */
export function compilerThreadTicks(list: ManagedProcess[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of list) {
    const pid = p.pid;
    if (!p.running || pid === undefined) continue;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!/^C[12] CompilerThre/.test(comm)) continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${pid}/${tid}`, Number(fields[11]) + Number(fields[12]));
      } catch {
        // the thread exited between the listing and the read
      }
    }
  }
  return out;
}

/** Compiler CPU seconds spent between two samples (a thread new in `after` counts whole). */
export function compilerSecondsBetween(before: Map<string, number>, after: Map<string, number>): number {
  let ticks = 0;
  for (const [tid, t] of after) ticks += t - (before.get(tid) ?? 0);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** A new bench/results/<name>-<date>[-n].json path. */
export function resultsFile(name: string): string {
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  // Bounded: a run a day rarely needs more than a few suffixes.
  for (let n = 1; n < 1000; n++) {
    const file = join(dir, n === 1 ? `${name}-${date}.json` : `${name}-${date}-${n}.json`);
    if (!existsSync(file)) return file;
  }
  throw new Error(`too many results for ${date} in ${dir}`);
}
