#!/usr/bin/env node
// native room build glue: `npm run test:rust` gates the Rust workspace, in this order:
//   1. cargo fmt --all --check
//   2. cargo clippy --release --all-targets --workspace -- -D warnings
//   3. cargo test --release --workspace [extra args passed to this script]
// The first failing step stops the run with a non-zero exit and says which gate failed.
// Without cargo this fails under CI=true and only warns elsewhere (the TS engine still works).
// rustfmt and clippy are added with `rustup component add` when missing (a fresh CI machine may
// have a minimal toolchain); if they still cannot be run, the gate fails rather than skip.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ci = process.env.CI === 'true';

function runs(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function fail(message) {
  console.error(`cargo-test: ${message}`);
  process.exit(1);
}

const probe = spawnSync('cargo', ['--version'], { cwd: root, stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  const why = probe.error ? probe.error.message : `cargo --version exited with ${probe.status}`;
  if (ci) fail(`cargo is required in CI (${why})`);
  console.warn(`cargo-test: cargo not found (${why}); skipping the Rust tests`);
  process.exit(0);
}

// rustfmt and clippy: present, or added to the active toolchain through rustup.
const components = [
  { name: 'rustfmt', check: ['fmt', '--version'] },
  { name: 'clippy', check: ['clippy', '--version'] },
];
const missing = components.filter((c) => !runs('cargo', c.check)).map((c) => c.name);
if (missing.length > 0) {
  if (!runs('rustup', ['--version'])) {
    fail(
      `${missing.join(' and ')} missing and rustup not found to add them; install them ` +
        `(rustup component add ${missing.join(' ')}, or your distribution's rustfmt / rust-clippy packages)`,
    );
  }
  console.log(`cargo-test: rustup component add ${missing.join(' ')}`);
  const add = spawnSync('rustup', ['component', 'add', ...missing], { cwd: root, stdio: 'inherit' });
  if (add.error || add.status !== 0) {
    const why = add.error ? add.error.message : `exited with ${add.status}`;
    fail(`rustup component add ${missing.join(' ')} failed (${why})`);
  }
  const still = components.filter((c) => missing.includes(c.name) && !runs('cargo', c.check));
  if (still.length > 0) {
    fail(`${still.map((c) => c.name).join(' and ')} still not runnable after rustup component add`);
  }
}

const steps = [
  {
    gate: 'format',
    args: ['fmt', '--all', '--check'],
    hint: 'run `cargo fmt --all` from the repository root',
  },
  {
    gate: 'clippy',
    args: ['clippy', '--release', '--all-targets', '--workspace', '--', '-D', 'warnings'],
    hint: 'fix the lints (or build errors) reported above',
  },
  {
    gate: 'tests',
    args: ['test', '--release', '--workspace', ...process.argv.slice(2)],
    hint: 'see the failing tests above',
  },
];

for (const step of steps) {
  console.log(`cargo-test: cargo ${step.args.join(' ')}`);
  const r = spawnSync('cargo', step.args, { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    fail(`${step.gate} gate failed: cargo ${step.args.join(' ')} (${why}); ${step.hint}`);
  }
}
console.log('cargo-test: format, clippy and tests passed');
