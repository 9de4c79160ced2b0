// Coverage-guided fuzzing of the TypeScript decoders, bounded for CI (SPOOL_FUZZ_SECONDS per
// target, default 10; SPOOL_FUZZ_SEED): request frames of every API and version, record batches
// as the protocol layer decodes them (internal topics, tools), and the TS storage engine's
// produce validation. Each must only ever throw its declared error type and never hang. Each
// target runs in a process of its own (targets.ts) from the checked-in corpus (test/fuzz/corpus,
// see seeds.ts); as many run at once as there are cores (SPOOL_FUZZ_JOBS to choose otherwise),
// each for its full time on a core of its own: the same fuzzing in less wall time. Failing inputs
// are written to test-artifacts/fuzz/<target>/.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { repoRoot } from './seeds.js';

const seconds = Number(process.env.SPOOL_FUZZ_SECONDS ?? 10);
const seed = Number(process.env.SPOOL_FUZZ_SEED ?? 1);
const jobs = Math.max(1, Number(process.env.SPOOL_FUZZ_JOBS ?? availableParallelism()));
const runner = join(dirname(fileURLToPath(import.meta.url)), 'targets.js');

interface Report {
  target: string;
  execs: number;
  seeds: number;
  corpus: number;
  features: number;
  seedFeatures: number;
  crashes: Array<{ input: string; error: string }>;
  elapsedMs: number;
}

/** Runs one target in its own process once one of the `jobs` slots is free. */
let running = 0;
const waiting: Array<() => void> = [];
async function run(target: string, secs: number): Promise<Report> {
  if (running >= jobs) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    const { stdout: out } = await promisify(execFile)(process.execPath, [runner, target, String(secs), String(seed)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const report = JSON.parse(out) as Report;
    if (report.crashes.length > 0) {
      const dir = join(repoRoot, 'test-artifacts', 'fuzz', target);
      mkdirSync(dir, { recursive: true });
      report.crashes.forEach((c, i) => writeFileSync(join(dir, `crash-${i}`), Buffer.from(c.input, 'hex')));
    }
    return report;
  } finally {
    running--;
    waiting.shift()?.();
  }
}

// Every run is started (queued) up front; the subtests take their reports in order.
const runs = ['request-frames', 'record-batches', 'ts-engine-validation'].map((target) => ({ target, report: run(target, seconds) }));
const planted = run('planted', 60);
// A run that fails is reported by its subtest; never as an unhandled rejection meanwhile.
for (const p of [...runs.map((r) => r.report), planted]) void p.catch(() => undefined);

for (const { target, report } of runs) {
  t.test(target, async (t) => {
    const r = await report;
    t.same(
      r.crashes.map((c) => `${c.input.slice(0, 400)}\n${c.error}`),
      [],
      `${target}: ${r.execs} inputs in ${r.elapsedMs} ms, corpus ${r.seeds} -> ${r.corpus}, features ${r.seedFeatures} -> ${r.features}, 0 crashes`,
    );
    t.ok(r.seeds > 0, `started from ${r.seeds} checked-in seeds`);
    t.ok(r.execs >= 200, `ran ${r.execs} inputs`);
    t.ok(r.features > r.seedFeatures, `coverage guidance reached ${r.features - r.seedFeatures} features the seeds did not`);
  });
}

t.test('the fuzzer follows coverage to a planted bug', async (t) => {
  const r = await planted;
  t.equal(r.crashes.length, 1, `found after ${r.execs} inputs (corpus grew to ${r.corpus})`);
  t.match(r.crashes[0]?.error ?? '', /reached the planted bug/);
});
