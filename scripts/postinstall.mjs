#!/usr/bin/env node
// native room build glue, run by `npm install`: compiles the TypeScript (dist/) and the Rust
// addon (release). Without cargo it prints one line and succeeds: Spool then runs on the
// pure-TypeScript storage engine. Set SPOOL_SKIP_NATIVE_BUILD=1 to skip the Rust build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const inCi = process.env.CI === 'true';

function run(command, args) {
  return spawnSync(command, args, { cwd: root, stdio: 'inherit' });
}

// In a published install there is no tsconfig/typescript: dist/ ships prebuilt.
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (existsSync(join(root, 'tsconfig.json')) && existsSync(tsc)) {
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  if (r.status !== 0) {
    // tsc still emits dist/ on type errors; only CI treats them as fatal here.
    console.warn('spool postinstall: tsc reported errors (see above)');
    if (inCi) process.exit(r.status ?? 1);
  }
}

// A published install has no crate: the binary comes from the per-platform npm package.
if (!existsSync(join(root, 'native', 'Cargo.toml')) || process.env.SPOOL_SKIP_NATIVE_BUILD === '1') {
  process.exit(0);
}

const cargo = spawnSync('cargo', ['--version'], { cwd: root, stdio: 'ignore' });
if (cargo.error || cargo.status !== 0) {
  const why = cargo.error ? cargo.error.message : `cargo --version exited with ${cargo.status}`;
  console.warn(`spool postinstall: cargo not found (${why}); skipping the native build, Spool will use the TypeScript storage engine`);
  process.exit(0);
}

const build = run(process.execPath, [join(root, 'scripts', 'build-native.mjs')]);
if (build.status !== 0) {
  if (inCi) process.exit(build.status ?? 1);
  console.warn('spool postinstall: the native build failed (see above); Spool will use the TypeScript storage engine');
}
process.exit(0);
