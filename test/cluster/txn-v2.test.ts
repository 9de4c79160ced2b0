// cluster tests (transactions, issue 13): transaction protocol version 2 across two brokers, with
// raw requests. Broker 1 coordinates the transactional id (it leads __transaction_state) and leads
// v2-local; broker 2 leads v2-remote. A Produce v12 transactional batch to each leader adds its
// partition implicitly (broker 2 asks broker 1 with AddPartitionsToTxn v5); EndTxn v5 answers the
// bumped epoch, the markers on both leaders carry it, and the next transaction runs at that epoch
// from sequence 0. A Produce v11 transactional batch (version 1) is not added implicitly.
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { Broker } from '../../src/broker.js';
import { ErrorCode } from '../../src/errors.js';
import { BrokerConnection } from '../../src/network/index.js';
import { ApiKey } from '../../src/protocol/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';
import { tempDir } from '../helpers/broker.js';

const logger = pino({ level: process.env.SPOOL_TEST_LOG_LEVEL ?? 'silent' });

async function startNode(store: FakeMetadataStore, dir: string, nodeId: number): Promise<{ broker: Broker; port: number }> {
  const broker = new Broker({
    env: {},
    logger,
    metadataStore: store,
    overrides: {
      'node.id': nodeId,
      'log.dirs': join(dir, `broker-${nodeId}`),
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'transaction.state.log.num.partitions': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'spool.transaction.version': 2,
    },
  });
  const bound = await broker.start();
  return { broker, port: bound.port };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t.test('transactions V2 across brokers: implicit adds (local and remote), epoch bump per transaction', async (t) => {
  const d = tempDir('spool-txn-v2-');
  t.teardown(d.cleanup);
  const store = new FakeMetadataStore();
  await store.addTopic('__transaction_state', 1, { replicas: [1], isr: [1], leader: 1 });
  await store.addTopic('v2-local', 1, { replicas: [1], isr: [1], leader: 1 });
  await store.addTopic('v2-remote', 1, { replicas: [2], isr: [2], leader: 2 });
  const n1 = await startNode(store, d.dir, 1);
  t.teardown(() => n1.broker.stop());
  const n2 = await startNode(store, d.dir, 2);
  t.teardown(() => n2.broker.stop());
  await n1.broker.txnCoordinator.awaitLoaded(0, 10_000);

  const open = (port: number) => BrokerConnection.open({ host: '127.0.0.1', port, clientId: 'txn-v2-test', maxResponseBytes: 1 << 20, connectTimeoutMs: 5000 });
  const c1 = await open(n1.port);
  const c2 = await open(n2.port);
  t.teardown(() => {
    c1.close();
    c2.close();
  });

  const versions = await c1.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }, 5000);
  t.same(versions.finalizedFeatures, [{ name: 'transaction.version', minVersionLevel: 2, maxVersionLevel: 2 }], 'transaction.version 2 finalized');
  t.same(versions.supportedFeatures, [{ name: 'transaction.version', minVersion: 0, maxVersion: 2 }]);

  const txnId = 'tx-v2';
  const init = await c1.request(ApiKey.InitProducerId, 5, { transactionalId: txnId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }, 5000);
  t.equal(init.errorCode, ErrorCode.NONE);
  const producerId = init.producerId;
  let epoch = init.producerEpoch;

  const produce = (c: BrokerConnection, version: number, topic: string, producerEpoch: number, baseSequence: number, value: string) =>
    c.request(
      ApiKey.Produce,
      version,
      {
        transactionalId: txnId,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            name: topic,
            partitionData: [
              {
                index: 0,
                records: encodeRecordBatch([{ key: null, value: Buffer.from(value), timestamp: Date.now() }], { producerId, producerEpoch, baseSequence, isTransactional: true }),
              },
            ],
          },
        ],
      },
      5000,
    );
  const codeOf = (r: Awaited<ReturnType<typeof produce>>) => r.responses[0]?.partitionResponses[0]?.errorCode;
  const describe = () => n1.broker.txnCoordinator.describeTransactions([txnId])[0];

  for (let round = 0; round < 2; round++) {
    t.equal(codeOf(await produce(c1, 12, 'v2-local', epoch, 0, `local-${round}`)), ErrorCode.NONE, `round ${round}: local leader adds implicitly`);
    t.equal(codeOf(await produce(c2, 12, 'v2-remote', epoch, 0, `remote-${round}`)), ErrorCode.NONE, `round ${round}: remote leader adds with AddPartitionsToTxn v5`);
    t.equal(codeOf(await produce(c2, 12, 'v2-remote', epoch, 1, `remote-${round}b`)), ErrorCode.NONE, 'a second batch: already in the transaction');
    t.same(
      describe().topics.sort((a, b) => a.topic.localeCompare(b.topic)),
      [
        { topic: 'v2-local', partitions: [0] },
        { topic: 'v2-remote', partitions: [0] },
      ],
      'both partitions joined the transaction',
    );
    t.equal(describe().transactionState, 'Ongoing');
    const end = await c1.request(ApiKey.EndTxn, 5, { transactionalId: txnId, producerId, producerEpoch: epoch, committed: round === 0 }, 5000);
    t.same({ errorCode: end.errorCode, producerId: end.producerId, producerEpoch: end.producerEpoch }, { errorCode: ErrorCode.NONE, producerId, producerEpoch: epoch + 1 }, 'EndTxn v5 bumps');
    epoch += 1;
    await waitFor('the transaction completes', () => describe().transactionState === (round === 0 ? 'CompleteCommit' : 'CompleteAbort'));
    for (const [node, topic] of [
      [n1, 'v2-local'],
      [n2, 'v2-remote'],
    ] as const) {
      const p = node.broker.replicaManager.getPartition(topic, 0);
      t.equal(p?.producerState.lastEntry(producerId)?.producerEpoch, epoch, `${topic}: the marker carries the bumped epoch`);
      await waitFor(`${topic}: stable`, () => p !== undefined && p.lastStableOffset === p.highWatermark);
    }
  }

  // Version 1 produce (v11) is not added implicitly: the transaction stays as it was.
  t.equal(codeOf(await produce(c2, 11, 'v2-remote', epoch, 0, 'v1')), ErrorCode.NONE);
  t.equal(describe().transactionState, 'CompleteAbort', 'no implicit add for Produce v11');
});
