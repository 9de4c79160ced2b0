// cli tests: `spool --version`, `--help` on every command and subcommand, usage errors, `spool
// config list` against the schema, and docs/configuration.md matching its generator.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { brokerConfigDefs, topicConfigDefs } from '../../src/config/index.js';
import { renderConfigMarkdown } from '../../src/cli/config-docs.js';
import { repoRoot, run } from '../interop/common.js';
import { spool } from './run.js';

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await spool([flag]);
    t.equal(r.code, 0, `${flag} exits 0`);
    t.equal(r.stdout.trim(), pkg.version, `${flag} prints ${pkg.version}`);
  }
});

const COMMANDS: Array<{ args: string[]; mentions: string[] }> = [
  { args: [], mentions: ['start', 'cluster', 'topic', 'group', 'produce', 'consume', 'config'] },
  { args: ['start'], mentions: ['--config', '--engine', '--override', '--log-format'] },
  { args: ['cluster'], mentions: ['up'] },
  { args: ['cluster', 'up'], mentions: ['--brokers', '--dir', '--base-port', '--etcd-port', '--engine', '--host', '--config', '--override'] },
  { args: ['topic'], mentions: ['create', 'list', 'describe', 'alter', 'delete'] },
  { args: ['topic', 'create'], mentions: ['--partitions', '--replication-factor', '--config', '--bootstrap-server'] },
  { args: ['topic', 'list'], mentions: ['--bootstrap-server'] },
  { args: ['topic', 'describe'], mentions: ['--format', '--bootstrap-server'] },
  { args: ['topic', 'alter'], mentions: ['--partitions', '--config', '--delete-config'] },
  { args: ['topic', 'delete'], mentions: ['--bootstrap-server'] },
  { args: ['group'], mentions: ['list', 'describe', 'reset-offsets', 'delete'] },
  { args: ['group', 'list'], mentions: ['--bootstrap-server'] },
  { args: ['group', 'describe'], mentions: ['--members', '--format'] },
  { args: ['group', 'reset-offsets'], mentions: ['--to-earliest', '--to-latest', '--to-offset', '--to-datetime', '--execute', '--dry-run', '--topic', '--all-topics'] },
  { args: ['group', 'delete'], mentions: ['--bootstrap-server'] },
  { args: ['produce'], mentions: ['--key', '--key-separator', '--header', '--partition', '--acks'] },
  { args: ['consume'], mentions: ['--from-beginning', '--offset', '--timestamp', '--group', '--max-messages', '--timeout-ms', '--format'] },
  { args: ['config'], mentions: ['list'] },
  { args: ['config', 'list'], mentions: ['--format'] },
];

t.test('--help on every command and subcommand', async (t) => {
  for (const { args, mentions } of COMMANDS) {
    const r = await spool([...args, '--help']);
    const name = ['spool', ...args].join(' ');
    t.equal(r.code, 0, `${name} --help exits 0`);
    t.match(r.stdout, new RegExp(`^Usage: ${name.replace(/ /g, ' ')} `), `${name} --help starts with its usage line`);
    for (const m of mentions) t.ok(r.stdout.includes(m), `${name} --help mentions ${m}`);
  }
  const viaHelp = await spool(['help', 'topic']);
  t.equal(viaHelp.code, 0, 'spool help topic');
  t.match(viaHelp.stdout, /^Usage: spool topic /);
});

t.test('usage errors: one spool: line, exit 1', async (t) => {
  const none = await spool([]);
  t.equal(none.code, 1, 'no command: usage, exit 1');
  t.match(none.stdout + none.stderr, /Usage: spool/);
  const unknown = await spool(['frobnicate']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^spool: unknown command 'frobnicate'/);
  const badInt = await spool(['topic', 'create', 'x', '--partitions', 'many']);
  t.equal(badInt.code, 1);
  t.match(badInt.stderr, /^spool: option '--partitions <n>' argument 'many' is invalid/);
  const missing = await spool(['cluster', 'up', '--dir', '/tmp/x']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^spool: required option '-n, --brokers <N>' not specified/);
  const refused = await spool(['topic', 'list', '--bootstrap-server', '127.0.0.1:1']);
  t.equal(refused.code, 1, 'nothing listening: exit 1');
  t.match(refused.stderr, /^spool: cannot connect to 127\.0\.0\.1:1 \(connection refused\)/);
  t.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
});

interface SettingDoc {
  name: string;
  scope: string;
  type: string;
  default: string | null;
  description: string;
}

t.test('config list: every setting of the schema with type, default and description', async (t) => {
  const json = await spool(['config', 'list', '--format', 'json']);
  t.equal(json.code, 0);
  const docs = JSON.parse(json.stdout) as SettingDoc[];
  t.equal(docs.length, brokerConfigDefs.length + topicConfigDefs.length, 'one entry per broker and topic setting');
  for (const def of brokerConfigDefs) {
    const d = docs.find((x) => x.name === def.name && x.scope === 'broker');
    t.ok(d, `broker setting ${def.name}`);
    if (d === undefined) continue;
    t.equal(d.type, def.type, `${def.name} type`);
    t.equal(d.description, def.doc, `${def.name} description`);
  }
  t.equal(docs.find((d) => d.name === 'num.partitions')?.default, '1');
  t.equal(docs.find((d) => d.name === 'retention.ms' && d.scope === 'topic')?.default, '604800000', 'topic default follows log.retention.hours');
  t.equal(docs.find((d) => d.name === 'listeners')?.default, 'PLAINTEXT://localhost:9092');
  const text = await spool(['config', 'list']);
  t.equal(text.code, 0);
  for (const def of [...brokerConfigDefs, ...topicConfigDefs]) t.ok(text.stdout.includes(`\n${def.name}  (`) || text.stdout.startsWith(`${def.name}  (`), `text lists ${def.name}`);
  t.match(text.stdout, /^num\.partitions {2}\(broker, INT, default: 1\)\n {4}Default partition count/m);
  const topicOnly = JSON.parse((await spool(['config', 'list', '--scope', 'topic', '--format', 'json'])).stdout) as SettingDoc[];
  t.equal(topicOnly.length, topicConfigDefs.length, '--scope topic');
});

t.test('docs/configuration.md is what scripts/gen-config-docs.mjs generates', async (t) => {
  const checkedIn = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
  t.equal(checkedIn, renderConfigMarkdown(), 'run `node scripts/gen-config-docs.mjs` after changing src/config/schema.ts');
  for (const def of [...brokerConfigDefs, ...topicConfigDefs]) t.ok(checkedIn.includes(`| \`${def.name}\` |`), `documents ${def.name}`);
  const check = await run(process.execPath, [join(repoRoot, 'scripts', 'gen-config-docs.mjs'), '--check'], { timeoutMs: 60_000 });
  t.equal(check.code, 0, `gen-config-docs --check: ${check.stdout}${check.stderr}`);
  const markdown = await spool(['config', 'list', '--format', 'markdown']);
  t.equal(markdown.stdout, checkedIn, 'spool config list --format markdown prints the same document');
});
