// test/interop room (groups): franz-go (kgo with kgo.ServerSideBalancer, its KIP-848 mode) against
// Spool: three members, one SIGKILLed, one added, while records are produced — every record
// consumed, no partition owned by two members in one epoch (broker side, and per the member epoch
// kgo reports), committed offsets, offsets resumed after a broker restart.
import t from 'tap';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, removeDir, requireToolchain, run, startSpool, tempDir, works } from './common.js';
import { startMember } from './groups/harness.js';
import { KIP848_BROKER_CONFIG, kip848ChurnScenario } from './groups/kip848-scenario.js';

const dir = join(interopDir, 'groups', 'franz848');
const binary = join(dir, 'target', 'groupsfranz848'); // target/ is git-ignored

/** Builds the member when the binary is missing or older than its sources (as groups-go.test.ts does). */
async function ensureBuilt(): Promise<boolean> {
  const sources = ['main.go', 'go.mod', 'go.sum'].map((f) => join(dir, f));
  if (!isStale(binary, sources)) return true;
  if (!(await works('go', ['version']))) return existsSync(binary);
  const r = await run('go', ['build', '-buildvcs=false', '-o', binary, '.'], { cwd: dir, timeoutMs: 300_000 });
  if (r.code !== 0 || !existsSync(binary)) return false;
  const now = new Date();
  utimesSync(binary, now, now);
  return true;
}

const ready = await ensureBuilt();

t.test('franz-go in KIP-848 mode against Spool', async (t) => {
  if (!requireToolchain(t, ready, `${binary} is not built (go build -o target/groupsfranz848 in test/interop/groups/franz848)`)) return;
  const dataDir = tempDir('interop-groups-go-848');
  const spool = await startSpool(dataDir, { config: KIP848_BROKER_CONFIG });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  await t.test('membership churn under load, offsets across a restart', async (t) => {
    await kip848ChurnScenario(t, spool, 'franz-go', {
      start: (bootstrap, topic, group, name) => startMember(name, binary, [bootstrap, topic, group, name]),
      records: 1200,
      clientEpochs: true,
      kafkaTools: false,
    });
  });
});
