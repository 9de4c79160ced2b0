#!/usr/bin/env node
// Runs the tap suite (config in package.json) and ends with a plain "N passed, N failed" line,
// for CI systems that read a closing line rather than TAP. The exit code is tap's.
import { spawn } from 'node:child_process';

const child = spawn('npx', ['tap', ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code) => {
  const summary = tail.split('\n').reverse().find((l) => l.startsWith('# { total')) ?? '';
  const count = (key) => Number(new RegExp(`${key}: (\\d+)`).exec(summary)?.[1] ?? 0);
  let failed = count('fail');
  // A test file that crashed before reporting counts as a failure even without a fail tally.
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`tap: ${count('pass')} passed, ${failed} failed`);
  process.exit(code ?? 1);
});
