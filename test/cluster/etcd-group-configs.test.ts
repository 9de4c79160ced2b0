// cluster/ room tests: dynamic group configs (ConfigResource GROUP) in the etcd metadata store,
// against a real etcd: what one broker stores, another sees through its watch; a store opened
// later (a restarted broker) loads them from the snapshot; an empty set removes a group's key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EtcdMetadataStore } from '../../src/cluster/index.js';
import { BrokerConfig } from '../../src/config/index.js';
import { EtcdServer, findEtcd, reportMissingEtcd } from '../helpers/etcd.js';

async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const bin = findEtcd();
if (bin === null) {
  reportMissingEtcd(t);
} else {
  t.test('group configs are replicated to every broker and kept', async (t) => {
    const etcd = await EtcdServer.start(bin);
    const dirs: string[] = [];
    t.teardown(async () => {
      await etcd.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    const prefix = `gc${process.pid}`;
    const open = async (nodeId: number): Promise<EtcdMetadataStore> => {
      const dir = mkdtempSync(join(tmpdir(), `spool-etcd-gc${nodeId}-`));
      dirs.push(dir);
      const config = new BrokerConfig({
        env: {},
        overrides: { 'node.id': nodeId, 'spool.etcd.endpoints': etcd.endpoint, 'spool.etcd.prefix': prefix, 'spool.etcd.request.timeout.ms': 10_000 },
      });
      const store = new EtcdMetadataStore(dir, config);
      await store.start();
      return store;
    };
    const a = await open(1);
    const b = await open(2);
    await a.alterGroupConfigs('sg', { 'share.auto.offset.reset': 'earliest' });
    t.same(a.groupConfigs('sg'), { 'share.auto.offset.reset': 'earliest' }, 'the writer has applied it when the write resolves');
    await eventually('broker 2 sees the group config', () => b.groupConfigs('sg')?.['share.auto.offset.reset'] === 'earliest');
    await b.alterGroupConfigs('group/with spaces', { 'consumer.session.timeout.ms': '50000' });
    await eventually('broker 1 sees the other group', () => a.groupConfigs('group/with spaces') !== undefined);
    await a.alterGroupConfigs('sg', {});
    await eventually('broker 2 sees the removal', () => b.groupConfigs('sg') === undefined);
    await b.close();
    const c = await open(3);
    t.same(c.groupConfigs('group/with spaces'), { 'consumer.session.timeout.ms': '50000' }, 'a store opened later loads them');
    t.equal(c.groupConfigs('sg'), undefined);
    await c.close();
    await a.close();
  });
}
