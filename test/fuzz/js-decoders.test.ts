// Coverage-guided fuzzing of the TypeScript decoders, bounded for CI (SPOOL_FUZZ_SECONDS per
// target, default 10; SPOOL_FUZZ_SEED): request frames of every API and version, record batches
// as the protocol layer decodes them (internal topics, tools), and the TS storage engine's
// produce validation. Each must only ever throw its declared error type and never hang. Each
// target runs in a process of its own (targets.ts) from the checked-in corpus (test/fuzz/corpus,
// see seeds.ts). Failing inputs are written to test-artifacts/fuzz/<target>/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { repoRoot } from './seeds.js';

const seconds = Number(process.env.SPOOL_FUZZ_SECONDS ?? 10);
const seed = Number(process.env.SPOOL_FUZZ_SEED ?? 1);
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

function run(target: string, secs: number): Report {
  const out = execFileSync(process.execPath, [runner, target, String(secs), String(seed)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const report = JSON.parse(out) as Report;
  if (report.crashes.length > 0) {
    const dir = join(repoRoot, 'test-artifacts', 'fuzz', target);
    mkdirSync(dir, { recursive: true });
    report.crashes.forEach((c, i) => writeFileSync(join(dir, `crash-${i}`), Buffer.from(c.input, 'hex')));
  }
  return report;
}

for (const target of ['request-frames', 'record-batches', 'ts-engine-validation']) {
  t.test(target, async (t) => {
    const r = run(target, seconds);
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
  const r = run('planted', 60);
  t.equal(r.crashes.length, 1, `found after ${r.execs} inputs (corpus grew to ${r.corpus})`);
  t.match(r.crashes[0]?.error ?? '', /reached the planted bug/);
});
