#!/usr/bin/env node
// native room build glue: `npm run build:native` builds the Rust addon with napi-rs into
// native/ (spool-native.<platform>.node + the generated CommonJS binding index.js / index.d.ts).
// Flags: --debug for a fast unoptimised build; --target <triple> and other napi flags pass through.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const passThrough = process.argv.slice(2);
const debug = passThrough.includes('--debug');
const extra = passThrough.filter((a) => a !== '--debug');

const napiCli = require.resolve('@napi-rs/cli/package.json', { paths: [root] });
const napiBin = join(dirname(napiCli), 'dist', 'cli.js');

const args = [
  napiBin,
  'build',
  '--platform',
  ...(debug ? [] : ['--release']),
  '--manifest-path',
  'native/Cargo.toml',
  '--package-json-path',
  'package.json',
  '--output-dir',
  'native',
  '--js',
  'index.js',
  '--dts',
  'index.d.ts',
  ...extra,
];

const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`build-native: could not run the napi CLI: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
