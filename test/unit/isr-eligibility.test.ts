// replication/ room test: a leader proposes a caught-up follower for the ISR only while the
// follower is registered (Kafka's isReplicaIsrEligible, KIP-841). A follower whose session expired
// (network partition, pause) may fetch again before it registers again: the leader must not ask the
// metadata store to add it on every such fetch (each request refused), and adds it once it is back.
import pino from 'pino';
import t from 'tap';
import type { PartitionChange } from '../../src/cluster/index.js';
import { BrokerConfig } from '../../src/config/index.js';
import { LogManager } from '../../src/log/index.js';
import { ReplicaManager } from '../../src/replication/index.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch } from '../helpers/batches.js';
import { tempDir } from '../helpers/broker.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';

const logger = pino({ level: 'silent' });

t.test('a caught-up follower joins the ISR only once it is registered', async (t) => {
  const d = tempDir('spool-isr-eligible-');
  const config = new BrokerConfig({ env: {}, overrides: { 'node.id': 1 } });
  const metadata = new FakeMetadataStore();
  const requests: PartitionChange[] = [];
  const alterPartition = metadata.alterPartition.bind(metadata);
  metadata.alterPartition = (change) => {
    requests.push(change);
    return alterPartition(change);
  };
  const logManager = await LogManager.open({ dataDir: d.dir, engine: tsEngine, config, logger });
  const replicaManager = new ReplicaManager({ localBrokerId: 1, metadata, logManager, config, logger });
  await replicaManager.start();
  t.teardown(async () => {
    replicaManager.shutdown();
    await logManager.close();
    d.cleanup();
  });

  await metadata.registerBroker({ nodeId: 1, host: '127.0.0.1', port: 9091, rack: null });
  await metadata.addTopic('t', 1, { replicas: [1, 2], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  p.appendRecordsToLeader(buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'a' }, { value: 'b' }] }), 1, 'client', Date.now());

  // Broker 2 caught up, but is not registered (its session expired).
  for (let i = 0; i < 5; i++) {
    p.updateFollowerFetchState(2, p.logEndOffset);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.same(requests, [], 'no ISR change requested for an unregistered follower');
  t.same(p.isr, [1]);

  await metadata.registerBroker({ nodeId: 2, host: '127.0.0.1', port: 9092, rack: null });
  p.updateFollowerFetchState(2, p.logEndOffset);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(requests.length, 1, 'registered again: the leader asks once');
  t.same(p.isr, [1, 2], 'and the follower is back in the ISR');
});
