// security tests: ACLs in the metadata store — kept in the data dir across a restart (single
// node), and in etcd: written by one broker, seen by every other one (watch) and by a broker that
// starts later (snapshot); duplicates are stored once and deletions replicate too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EtcdMetadataStore, LocalMetadataStore, type AclRecord, type MetadataStore } from '../../src/cluster/index.js';
import { BrokerConfig } from '../../src/config/index.js';
import { EtcdServer, findEtcd, reportMissingEtcd } from '../helpers/etcd.js';

const readOrders: AclRecord = { resourceType: 2, resourceName: 'orders', patternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 };
const denyPay: AclRecord = { resourceType: 2, resourceName: 'pay.', patternType: 4, principal: 'User:*', host: '10.0.0.9', operation: 4, permissionType: 2 };

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'spool-acl-store-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

t.test('local store: ACLs persist across a restart; duplicates are stored once', async (t) => {
  const d = dir(t);
  const config = new BrokerConfig({ env: {}, overrides: { 'log.dirs': d } });
  const first = new LocalMetadataStore(d, config);
  await first.start();
  await first.createAcls([readOrders, denyPay]);
  const before = first.acls();
  await first.createAcls([{ ...readOrders }]);
  t.equal(first.acls(), before, 'a duplicate changes nothing (the same array is handed out)');
  await first.deleteAcls([denyPay]);
  await first.close();
  const second: MetadataStore = new LocalMetadataStore(d, config);
  await second.start();
  t.same(second.acls?.(), [readOrders], 'after a restart: what was created and not deleted');
  await second.close();
});

const bin = findEtcd();
if (bin === null) {
  reportMissingEtcd(t);
} else {
  t.test('etcd store: ACLs replicate to every broker and to one that starts later', async (t) => {
    const etcd = await EtcdServer.start(bin);
    t.teardown(() => etcd.stop());
    const prefix = `acl${process.pid}`;
    const open = async (nodeId: number): Promise<EtcdMetadataStore> => {
      const config = new BrokerConfig({ env: {}, overrides: { 'node.id': nodeId, 'spool.etcd.endpoints': etcd.endpoint, 'spool.etcd.prefix': prefix, 'broker.session.timeout.ms': 3000 } });
      const store = new EtcdMetadataStore(dir(t), config);
      await store.start();
      t.teardown(() => store.close());
      return store;
    };
    const one = await open(1);
    const two = await open(2);
    await one.createAcls([readOrders, denyPay, { ...readOrders }]);
    t.same(one.acls().length, 2, 'the writer has them once applied, duplicates once');
    await eventually('broker 2 sees both ACLs', () => two.acls().length === 2);
    t.same(new Set(two.acls().map((a) => a.resourceName)), new Set(['orders', 'pay.']));
    await two.deleteAcls([readOrders]);
    await eventually('broker 1 sees the deletion', () => one.acls().length === 1);
    t.same(one.acls(), [denyPay], 'a deletion by another broker replicates');
    const late = await open(3);
    t.same(late.acls(), [denyPay], 'a broker starting later reads them from the snapshot');
  });
}
