// test/interop room: franz-go against Spool — kgo producer with keys, headers, null values, manual
// partitions and every codec; kgo.ConsumePartitions (no group) across a broker restart; a raw
// kmsg ListOffsets by timestamp.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, removeDir, requireToolchain, startSpool, tempDir } from './common.js';
import { fullRoundTrip, type ClientCommand } from './roundtrip.js';

const binary = join(interopDir, 'go', 'bin', 'franz');
const client: ClientCommand = (args) => ({ cmd: binary, args });

// franz-go is the quickest program to run, so it also covers both storage engines explicitly.
for (const engine of ['native', 'ts'] as const) {
  t.test(`franz-go against Spool (${engine} storage engine)`, async (t) => {
    if (!requireToolchain(t, existsSync(binary), `${binary} is not built (go build in test/interop/go)`)) return;
    const dataDir = tempDir(`interop-go-${engine}`);
    const spool = await startSpool(dataDir, { engine });
    t.teardown(async () => {
      await spool.stop();
      removeDir(dataDir);
    });
    await t.test('10 000 records per codec survive a restart: content, order, offsets, ListOffsets', async (t) => {
      await fullRoundTrip(t, spool, client, `franz-${engine}`, { noMatch: 'minus1', withTimestamp: true });
    });
  });
}
