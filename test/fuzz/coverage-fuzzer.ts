// A small coverage-guided fuzzer for the TypeScript decoders (the JS counterpart of the cargo-fuzz
// targets in native/fuzz). @jazzer.js/core, the usual choice, ships its libFuzzer addon only as a
// macOS prebuild and its source build downloads LLVM from outside the registries reachable here,
// so this one takes its coverage from V8 itself: block coverage through the inspector protocol
// (Profiler.startPreciseCoverage, detailed), read after every execution. An input is kept in the
// corpus when it reaches a block, or a hit-count bucket of a block, that no earlier input reached
// (AFL's bucketing: 1, 2, 3, 4-7, 8-15, ...). Mutations are libFuzzer's usual byte-level ones plus
// splicing, and a target may repair its input after mutation (a batch CRC, a length prefix) so that
// mutants get past cheap integrity checks into the parsers behind them.
//
// Deterministic for a given seed, bounded by time and executions. A "crash" is any exception the
// target does not declare expected (e.g. a TypeError or RangeError escaping a decoder that must
// only throw ProtocolError), or an execution slower than `slowMs`.
import { Session } from 'node:inspector';

export interface FuzzTarget {
  readonly name: string;
  /** Runs one input. Throwing is fine when `expected` accepts the error. */
  run(input: Buffer): void;
  /** Errors a hostile input may legitimately produce. */
  expected(err: unknown): boolean;
  /** Scripts whose coverage guides the search (matched against the script URL). */
  covers: RegExp;
  /** Repairs a mutated input (checksums, lengths), optional. */
  repair?(input: Buffer): Buffer;
}

export interface FuzzOptions {
  seeds: Buffer[];
  maxTimeMs: number;
  maxExecs?: number;
  seed?: number;
  maxLen?: number;
  /** An execution slower than this counts as a crash (a hang or a decompression bomb on the loop). */
  slowMs?: number;
  /** Stop at the first crash (the planted-bug self test). */
  stopOnCrash?: boolean;
}

export interface Crash {
  input: Buffer;
  error: string;
}

export interface FuzzReport {
  target: string;
  execs: number;
  seeds: number;
  corpus: number;
  /** Distinct coverage features (block x hit bucket) reached. */
  features: number;
  /** Features reached by the seeds alone. */
  seedFeatures: number;
  crashes: Crash[];
  elapsedMs: number;
}

interface BlockRange {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: Array<{ functionName: string; ranges: BlockRange[] }>;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function bucket(count: number): number {
  if (count <= 3) return count;
  return 2 + Math.floor(Math.log2(count));
}

const INTERESTING: number[][] = [
  [0x00],
  [0xff],
  [0x7f],
  [0x80],
  [0x01],
  [0x00, 0x00, 0x00, 0x00],
  [0xff, 0xff, 0xff, 0xff],
  [0x7f, 0xff, 0xff, 0xff],
  [0x80, 0x00, 0x00, 0x00],
  [0x00, 0x00, 0xff, 0xff],
  [0x7f, 0xff],
  [0x80, 0x00],
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
  [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
];

class Coverage {
  private readonly session = new Session();
  private readonly scripts = new Map<string, boolean>();

  constructor(private readonly covers: RegExp) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  private post(method: string, params?: object): unknown {
    // The inspector session of the main thread answers synchronously.
    const answer: { error: Error | null; result: unknown } = { error: null, result: undefined };
    this.session.post(method, params, (err: Error | null, res?: unknown) => {
      answer.error = err;
      answer.result = res;
    });
    if (answer.error) throw answer.error;
    return answer.result;
  }

  /** Features reached since the previous call (counts reset on every take). */
  take(): Set<string> {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const features = new Set<string>();
    for (const script of result) {
      let wanted = this.scripts.get(script.scriptId);
      if (wanted === undefined) {
        wanted = this.covers.test(script.url);
        this.scripts.set(script.scriptId, wanted);
      }
      if (!wanted) continue;
      for (const fn of script.functions) {
        // Only functions that ran: their block ranges, zero counts included (V8 reports a block
        // skipped by an early return as a zero range inside a counted one, so a new path shows up
        // as a range whose count moved to another bucket, zero or not).
        if (fn.ranges[0].count === 0) continue;
        for (const r of fn.ranges) features.add(`${script.scriptId}:${r.startOffset}:${r.endOffset}:${bucket(r.count)}`);
      }
    }
    return features;
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.post('Profiler.disable');
    this.session.disconnect();
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return (err.stack ?? `${err.name}: ${err.message}`).split('\n').slice(0, 6).join('\n');
  return String(err);
}

/** Runs `target` under coverage guidance; see the file comment. */
export function fuzz(target: FuzzTarget, options: FuzzOptions): FuzzReport {
  const rand = prng(options.seed ?? 1);
  const maxLen = options.maxLen ?? 4096;
  const slowMs = options.slowMs ?? 1000;
  const maxExecs = options.maxExecs ?? Number.MAX_SAFE_INTEGER;
  const coverage = new Coverage(target.covers);
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const crashes: Crash[] = [];
  const crashKinds = new Set<string>();
  const started = Date.now();
  let execs = 0;

  const execute = (input: Buffer): boolean => {
    execs++;
    coverage.take(); // drop counts of anything that ran in between
    const t0 = performance.now();
    try {
      target.run(input);
    } catch (err) {
      if (!target.expected(err)) {
        const error = describe(err);
        // One example per distinct error site is enough for a report.
        const kind = error.split('\n').slice(0, 2).join('|');
        if (!crashKinds.has(kind)) {
          crashKinds.add(kind);
          crashes.push({ input: Buffer.from(input), error });
        }
      }
    }
    const took = performance.now() - t0;
    if (took > slowMs) crashes.push({ input: Buffer.from(input), error: `slow input: ${took.toFixed(0)} ms` });
    let novel = false;
    for (const f of coverage.take()) {
      if (!seen.has(f)) {
        seen.add(f);
        novel = true;
      }
    }
    return novel;
  };

  try {
    for (const s of options.seeds) {
      execute(s);
      corpus.push(s);
    }
    const seedFeatures = seen.size;
    if (corpus.length === 0) corpus.push(Buffer.alloc(1));
    const pick = (): Buffer => corpus[Math.floor(rand() * corpus.length)];
    const int = (n: number): number => Math.floor(rand() * n);

    const mutate = (parent: Buffer): Buffer => {
      let b = Buffer.from(parent);
      const rounds = 1 + int(4);
      for (let r = 0; r < rounds; r++) {
        switch (int(8)) {
          case 0: // flip a bit
            if (b.length > 0) b[int(b.length)] ^= 1 << int(8);
            break;
          case 1: // random byte
            if (b.length > 0) b[int(b.length)] = int(256);
            break;
          case 2: {
            // interesting value
            const v = INTERESTING[int(INTERESTING.length)];
            const at = int(Math.max(1, b.length));
            for (let i = 0; i < v.length && at + i < b.length; i++) b[at + i] = v[i];
            break;
          }
          case 3: {
            // insert random bytes
            const at = int(b.length + 1);
            const ins = Buffer.alloc(1 + int(8));
            for (let i = 0; i < ins.length; i++) ins[i] = int(256);
            b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
            break;
          }
          case 4: {
            // delete a range
            if (b.length < 2) break;
            const at = int(b.length);
            const n = 1 + int(Math.min(16, b.length - at));
            b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
            break;
          }
          case 5: {
            // duplicate a range
            if (b.length < 2) break;
            const at = int(b.length);
            const n = 1 + int(Math.min(32, b.length - at));
            b = Buffer.concat([b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)]);
            break;
          }
          case 6: {
            // splice with another corpus entry
            const other = pick();
            const cut = int(b.length + 1);
            const from = int(other.length + 1);
            b = Buffer.concat([b.subarray(0, cut), other.subarray(from)]);
            break;
          }
          default: {
            // add or subtract a small number from a byte (lengths, counts, varints)
            if (b.length > 0) {
              const at = int(b.length);
              b[at] = (b[at] + (int(2) === 0 ? 1 : 255) * (1 + int(4))) & 0xff;
            }
          }
        }
      }
      if (b.length > maxLen) b = b.subarray(0, maxLen);
      return target.repair && int(4) !== 0 ? target.repair(b) : b;
    };

    while (execs < maxExecs && Date.now() - started < options.maxTimeMs && !(options.stopOnCrash === true && crashes.length > 0)) {
      const child = mutate(pick());
      if (execute(child)) corpus.push(child);
    }
    return {
      target: target.name,
      execs,
      seeds: options.seeds.length,
      corpus: corpus.length,
      features: seen.size,
      seedFeatures,
      crashes,
      elapsedMs: Date.now() - started,
    };
  } finally {
    coverage.close();
  }
}
