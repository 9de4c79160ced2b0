#!/usr/bin/env node
// Writes docs/configuration.md from the settings schema (src/config/schema.ts), through the
// compiled renderer in dist/ (run `npx tsc -p tsconfig.json` first). `--check` only compares and
// exits 1 when the checked-in file differs (test/cli/config-docs.test.ts checks the same).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const renderer = join(root, 'dist', 'src', 'cli', 'config-docs.js');
if (!existsSync(renderer)) {
  process.stderr.write(`gen-config-docs: ${renderer} is missing; build first: npx tsc -p tsconfig.json\n`);
  process.exit(1);
}
const { renderConfigMarkdown } = await import(pathToFileURL(renderer).href);
const target = join(root, 'docs', 'configuration.md');
const text = renderConfigMarkdown();
if (process.argv.includes('--check')) {
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (current !== text) {
    process.stderr.write('gen-config-docs: docs/configuration.md is out of date; run node scripts/gen-config-docs.mjs\n');
    process.exit(1);
  }
  process.stdout.write('docs/configuration.md is up to date\n');
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
