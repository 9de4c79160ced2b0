// test/interop room (groups): franz-go (kgo, cooperative-sticky) consumer groups against Spool —
// membership churn under load, at-least-once, one owner per partition per generation (checked
// with the generation kgo reports), offsets across a broker restart, kafka-consumer-groups
// --describe; and a static member (kgo.InstanceID) restarting without a rebalance.
import t from 'tap';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, removeDir, requireToolchain, run, startSpool, tempDir, works } from './common.js';
import { churnScenario, staticMemberScenario, type MemberCommand } from './groups/scenario.js';

const dir = join(interopDir, 'groups', 'franz');
const binary = join(dir, 'target', 'groupsfranz'); // target/ is git-ignored

/**
 * Builds the member when the binary is missing or older than its sources (setup-interop.sh runs
 * the same `go build`); a stale binary is still used when no Go is installed to rebuild it.
 */
async function ensureBuilt(): Promise<boolean> {
  const sources = ['main.go', 'go.mod', 'go.sum'].map((f) => join(dir, f));
  if (!isStale(binary, sources)) return true;
  if (!(await works('go', ['version']))) return existsSync(binary);
  const r = await run('go', ['build', '-buildvcs=false', '-o', binary, '.'], { cwd: dir, timeoutMs: 300_000 });
  if (r.code !== 0 || !existsSync(binary)) return false;
  // go build leaves an up-to-date binary untouched (same build ID); mark it as checked now.
  const now = new Date();
  utimesSync(binary, now, now);
  return true;
}

const ready = await ensureBuilt();
const command: MemberCommand = (bootstrap, topic, group, name, instanceId) => ({
  cmd: binary,
  args: [bootstrap, topic, group, name, ...(instanceId !== undefined ? [instanceId] : [])],
});

t.test('franz-go consumer groups against Spool', async (t) => {
  if (!requireToolchain(t, ready, `${binary} is not built (go build -o target/groupsfranz in test/interop/groups/franz)`)) return;
  const dataDir = tempDir('interop-groups-go');
  const spool = await startSpool(dataDir, { config: { 'group.initial.rebalance.delay.ms': 1000 } });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await t.test('membership churn under load, offsets across a restart', async (t) => {
    await churnScenario(t, spool, 'franz-go', command, 'cooperative-sticky');
  });
  await t.test('a static member restarts without a rebalance', async (t) => {
    await staticMemberScenario(t, spool, 'franz-go', command);
  });
});
