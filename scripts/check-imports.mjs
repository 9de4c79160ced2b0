#!/usr/bin/env node
// Import gate (run by `npm run lint`): no import cycle anywhere in src/, and imports between rooms
// only point down the diagram of ARCHITECTURE.md (docs/architecture.md lists the rooms). Reads
// the TypeScript sources directly; type-only imports count too, since they couple the rooms.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** room → rooms it may import. A room is a top-level folder of src/ or a top-level file. */
const allowed = {
  errors: [],
  records: ['errors'],
  config: ['errors'],
  storage: ['errors', 'records'],
  protocol: ['errors', 'records', 'storage'],
  security: ['errors', 'config', 'protocol', 'records', 'storage', 'cluster'],
  network: ['errors', 'protocol', 'storage', 'security'],
  log: ['errors', 'records', 'storage', 'config'],
  cluster: ['errors', 'config', 'log'],
  replication: ['errors', 'records', 'storage', 'config', 'log', 'cluster', 'protocol', 'network', 'security'],
  coordinator: ['errors', 'records', 'storage', 'protocol'],
  api: ['errors', 'records', 'storage', 'config', 'log', 'cluster', 'replication', 'coordinator', 'protocol', 'network', 'security'],
  admin: ['errors', 'records', 'storage', 'config', 'log', 'cluster', 'replication', 'coordinator', 'protocol', 'network', 'security', 'api'],
  broker: ['errors', 'records', 'storage', 'config', 'log', 'cluster', 'replication', 'coordinator', 'protocol', 'network', 'security', 'api', 'admin'],
  index: ['broker', 'config', 'errors'],
  cli: ['index', 'broker', 'config', 'errors', 'protocol', 'network', 'storage', 'security'],
};

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTs(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function roomOf(file) {
  const rel = relative(src, file).split('/');
  return rel.length === 1 ? rel[0].replace(/\.ts$/, '') : rel[0];
}

const importRe = /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/gm;
const files = listTs(src);
const graph = new Map();
const problems = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    deps.push(target);
    const from = roomOf(file);
    const to = roomOf(target);
    if (from === to) continue;
    if (!(from in allowed)) problems.push(`${relative(root, file)}: room '${from}' is not in the room list of scripts/check-imports.mjs`);
    else if (!allowed[from].includes(to)) problems.push(`${relative(root, file)} imports ${relative(root, target)}: '${from}' may not import '${to}'`);
  }
  graph.set(file, deps);
}

// Cycle search: iterative DFS with colours; reports each cycle once by its path.
const colour = new Map();
for (const start of files) {
  if (colour.get(start)) continue;
  const stack = [{ node: start, next: 0 }];
  const path = [start];
  colour.set(start, 1);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const deps = graph.get(top.node) ?? [];
    if (top.next >= deps.length) {
      colour.set(top.node, 2);
      stack.pop();
      path.pop();
      continue;
    }
    const dep = deps[top.next++];
    if (!graph.has(dep)) continue;
    const c = colour.get(dep);
    if (c === 1) {
      const cycle = path.slice(path.indexOf(dep)).concat(dep).map((f) => relative(root, f));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (!c) {
      colour.set(dep, 1);
      stack.push({ node: dep, next: 0 });
      path.push(dep);
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`check-imports: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, no import cycle, every import points down the room diagram`);
