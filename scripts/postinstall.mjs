#!/usr/bin/env node
// Run by `npm install` (the README's set-up command): in a checkout it sets up everything
// `npm test` needs, skipping what is already in place, so a second run takes seconds:
//   1. compiles the TypeScript (dist/), unless dist/ is newer than every source;
//   2. builds the Rust addon (release; cargo's own incremental build);
//   3. runs scripts/setup-interop.sh: Debian packages when root, the Go/Python/Maven client
//      programs and Apache Kafka's jars for the interop tests.
// It never fails the install for a missing tool (only CI treats a tsc or native-build error as
// fatal): without cargo or with an addon that does not load it prints one line, and Spool runs on
// the pure-TypeScript storage engine; what setup-interop.sh cannot install is summed up in one
// line with the command to run.
// SPOOL_SKIP_NATIVE_BUILD=1 skips step 2, SPOOL_SKIP_TOOLCHAINS=1 skips step 3 (for those who only
// want the broker). A published package has no tsconfig, crate, test/ or setup script: nothing runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const inCi = process.env.CI === 'true';
const env = process.env;

function run(command, args) {
  return spawnSync(command, args, { cwd: root, stdio: 'inherit' });
}

/** Newest modification time (ms) of the files under `dir` whose names end with `ext`. */
function newest(dir, ext) {
  let max = 0;
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name === 'target' || e.name.startsWith('.')) continue;
    const rel = join(dir, e.name);
    if (e.isDirectory()) max = Math.max(max, newest(rel, ext));
    else if (e.name.endsWith(ext)) max = Math.max(max, statSync(join(root, rel)).mtimeMs);
  }
  return max;
}

function mtime(rel) {
  try {
    return statSync(join(root, rel)).mtimeMs;
  } catch {
    return 0;
  }
}

// 1. TypeScript. A published install has no tsconfig/typescript: dist/ ships prebuilt.
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const tsStamp = join('dist', '.spool-postinstall-tsc');
/** The stamp's text: the TypeScript version that compiled dist/ (another one compiles again). */
function stampText() {
  try {
    return `typescript ${JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version}\n`;
  } catch {
    return 'typescript ?\n';
  }
}
function stampMatches() {
  try {
    return readFileSync(join(root, tsStamp), 'utf8') === stampText();
  } catch {
    return false;
  }
}
if (existsSync(join(root, 'tsconfig.json')) && existsSync(tsc)) {
  // Not package-lock.json: npm rewrites it on every install.
  const sources = Math.max(...['src', 'test', 'bench'].map((d) => newest(d, '.ts')), mtime('tsconfig.json'));
  if (mtime(tsStamp) > sources && stampMatches() && existsSync(join(root, 'dist', 'src', 'index.js'))) {
    console.log('spool postinstall: dist/ is up to date');
  } else {
    const r = run(process.execPath, [tsc, '-p', 'tsconfig.json']);
    if (r.status !== 0) {
      // tsc still emits dist/ on type errors; only CI treats them as fatal here.
      console.warn('spool postinstall: tsc reported errors (see above)');
      if (inCi) process.exit(r.status ?? 1);
    } else {
      writeFileSync(join(root, tsStamp), stampText());
    }
  }
}

/** Can zstd-napi (the TS engine's zstd codec, itself a native addon) load here? */
function zstdProblem() {
  try {
    createRequire(join(root, 'package.json'))('zstd-napi');
    return null;
  } catch (err) {
    return String(err instanceof Error ? err.message : err).split('\n')[0];
  }
}

/** The one line saying why Spool runs on the TypeScript engine (and whether it has zstd). */
function warnTsEngine(why) {
  const zstd = zstdProblem();
  const codecs = zstd === null ? '' : `, without zstd (zstd-napi does not load: ${zstd})`;
  console.warn(`spool postinstall: ${why}; Spool will use the TypeScript storage engine${codecs}`);
}

// 2. The Rust addon. A published install has no crate: the binary comes from the per-platform package.
function buildNative() {
  if (!existsSync(join(root, 'native', 'Cargo.toml')) || env.SPOOL_SKIP_NATIVE_BUILD === '1') return;
  // The addon for this platform, newer than every input of the crate: nothing to build (cargo
  // itself would take seconds to say so, and rebuilds when its environment differs).
  const prefix = `spool-native.${process.platform}-${process.arch}`;
  const addon = readdirSync(join(root, 'native')).find((f) => f.startsWith(prefix) && f.endsWith('.node'));
  if (addon !== undefined) {
    const inputs = Math.max(
      newest(join('native', 'src'), '.rs'),
      ...['native/Cargo.toml', 'native/build.rs', 'Cargo.toml', 'Cargo.lock'].map(mtime),
    );
    if (mtime(join('native', addon)) > inputs) {
      console.log(`spool postinstall: native/${addon} is up to date`);
      return;
    }
  }
  const cargo = spawnSync('cargo', ['--version'], { cwd: root, stdio: 'ignore' });
  if (cargo.error || cargo.status !== 0) {
    const why = cargo.error ? cargo.error.message : `cargo --version exited with ${cargo.status}`;
    warnTsEngine(`cargo not found (${why}), skipping the native build (install Rust: https://rustup.rs)`);
    return;
  }
  const build = run(process.execPath, [join(root, 'scripts', 'build-native.mjs')]);
  if (build.status !== 0) {
    if (inCi) process.exit(build.status ?? 1);
    warnTsEngine('the native build failed (see above)');
  }
}
buildNative();

// 3. Interop toolchains, clients and Kafka jars: only in a checkout with its tests.
const setup = join(root, 'scripts', 'setup-interop.sh');
if (env.SPOOL_SKIP_TOOLCHAINS === '1') {
  console.log('spool postinstall: SPOOL_SKIP_TOOLCHAINS=1, not setting up the interop toolchains');
} else if (existsSync(setup) && existsSync(join(root, 'test'))) {
  // Lenient: what cannot be installed here ends in one summary line, and the install succeeds.
  const r = spawnSync('bash', [setup], { cwd: root, stdio: 'inherit', env: { ...env, SPOOL_SETUP_LENIENT: '1' } });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exited with ${r.status}`;
    console.warn(`spool postinstall: scripts/setup-interop.sh ${why}; the interop tests need it: run bash scripts/setup-interop.sh`);
  }
}
process.exit(0);
