// The native engine's produce validation under libFuzzer (cargo-fuzz, nightly Rust, ASan): the
// target in native/fuzz/fuzz_targets/validate_batches.rs, from the checked-in corpus, for
// SPOOL_FUZZ_SECONDS (default 10). New inputs go to a temporary corpus, crashes to
// test-artifacts/fuzz/native/. Needs `cargo install cargo-fuzz` and `rustup toolchain install
// nightly` (scripts/setup-interop.sh installs both).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { repoRoot } from './seeds.js';

const seconds = Number(process.env.SPOOL_FUZZ_SECONDS ?? 10);
const nativeDir = join(repoRoot, 'native');

t.test('cargo fuzz: validate_batches finds no crash', async (t) => {
  const probe = spawnSync('cargo', ['+nightly', 'fuzz', '--version'], { cwd: nativeDir, encoding: 'utf8' });
  if (probe.status !== 0) {
    t.fail(`cargo-fuzz on nightly Rust is needed: rustup toolchain install nightly && cargo install cargo-fuzz (${(probe.stderr || String(probe.error)).trim().split('\n')[0]})`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'spool-cargo-fuzz-'));
  const artifacts = join(repoRoot, 'test-artifacts', 'fuzz', 'native');
  mkdirSync(artifacts, { recursive: true });
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const r = spawnSync(
    'cargo',
    [
      '+nightly',
      'fuzz',
      'run',
      'validate_batches',
      work,
      join('fuzz', 'corpus', 'validate_batches'),
      '--',
      `-max_total_time=${seconds}`,
      `-artifact_prefix=${artifacts}/`,
      '-print_final_stats=1',
    ],
    { cwd: nativeDir, encoding: 'utf8', maxBuffer: 256 << 20, timeout: (seconds + 900) * 1000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const runs = Number(/Done (\d+) runs/.exec(out)?.[1] ?? 0);
  const crashes = readdirSync(artifacts).filter((f) => /^(crash|leak|timeout|oom)-/.test(f));
  t.equal(r.status, 0, `cargo fuzz exited ${r.status}${r.status === 0 ? '' : `:\n${out.slice(-3000)}`}`);
  t.same(crashes, [], `no crash artifacts (${runs} inputs in ${seconds} s)`);
  t.ok(runs > 1000, `libFuzzer ran ${runs} inputs`);
  t.ok(readdirSync(work).length > 0, `coverage-guided corpus grew to ${readdirSync(work).length} new inputs`);
});
