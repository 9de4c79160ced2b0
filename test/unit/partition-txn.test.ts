// replication/ room tests: transactions in a partition — an open transaction holds the last
// stable offset back, a marker decides it, an ABORT lands in the transaction index (with Kafka's
// lastStableOffset), markers are fenced by coordinator epoch and producer epoch, followers learn
// markers through replication, and a reopened partition rebuilds open transactions and the index.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { LogManager } from '../../src/log/index.js';
import { ReplicaManager } from '../../src/replication/index.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch } from '../helpers/batches.js';
import { tempDir } from '../helpers/broker.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';

const logger = pino({ level: 'silent' });
interface Tap {
  teardown(fn: () => unknown): void;
}

function txnBatch(producerId: number, epoch: number, sequence: number, n: number): Buffer {
  return buildBatch({
    baseTimestamp: Date.now(),
    producerId,
    producerEpoch: epoch,
    baseSequence: sequence,
    transactional: true,
    records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `p${producerId}-s${sequence + i}` })),
  });
}

function plainBatch(n: number): Buffer {
  return buildBatch({ baseTimestamp: Date.now(), records: Array.from({ length: n }, (_, i) => ({ value: `plain${i}` })) });
}

async function open(t: Tap, dir: string) {
  const config = new BrokerConfig({ env: {}, overrides: { 'node.id': 1 } });
  const metadata = new FakeMetadataStore();
  const logManager = await LogManager.open({ dataDir: dir, engine: tsEngine, config, logger });
  const replicaManager = new ReplicaManager({ localBrokerId: 1, metadata, logManager, config, logger });
  await replicaManager.start();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    replicaManager.shutdown();
    await logManager.close();
  };
  t.teardown(close);
  return { metadata, replicaManager, close };
}

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof KafkaError) return err.code;
    throw err;
  }
  return ErrorCode.NONE;
}

t.test('open transactions hold the last stable offset; markers decide them; aborts are indexed', async (t) => {
  const d = tempDir('spool-partition-txn-');
  t.teardown(d.cleanup);
  const { metadata, replicaManager } = await open(t, d.dir);
  await metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  const now = Date.now();

  p.appendRecordsToLeader(plainBatch(2), -1, 'client', now); // 0-1
  p.appendRecordsToLeader(txnBatch(100, 0, 0, 3), -1, 'client', now); // 2-4, producer 100
  t.equal(p.highWatermark, 5);
  t.equal(p.lastStableOffset, 2, 'the open transaction of producer 100 holds the LSO at its first offset');
  p.appendRecordsToLeader(txnBatch(200, 0, 0, 2), -1, 'client', now); // 5-6, producer 200
  p.appendRecordsToLeader(plainBatch(1), -1, 'client', now); // 7
  t.equal(p.lastStableOffset, 2);

  const commit = p.appendTxnMarker(100, 0, 5, true, now); // 8
  t.equal(commit.firstOffset, 8, 'the marker takes one offset');
  t.equal(p.lastStableOffset, 5, 'after the commit, the other open transaction holds the LSO');
  t.same(p.abortedTransactions(0, 100), [], 'a commit is not in the aborted index');

  const abort = p.appendTxnMarker(200, 0, 5, false, now); // 9
  t.equal(abort.firstOffset, 9);
  t.equal(p.lastStableOffset, 10, 'nothing open: LSO = HW');
  t.same(p.abortedTransactions(0, 10), [{ producerId: 200, firstOffset: 5 }], 'the abort is indexed with its first offset');
  t.same(p.abortedTransactions(10, 20), [], 'a fetch after the aborted range does not get it');

  const files = readdirSync(join(d.dir, 't-0')).filter((f) => f.endsWith('.txnindex'));
  t.same(files, ['00000000000000000000.txnindex'], 'the index lives next to the segment');
  const idx = readFileSync(join(d.dir, 't-0', files[0]));
  t.equal(idx.length, 34, 'one entry of 34 bytes');
  t.equal(idx.readInt16BE(0), 0, 'version 0');
  t.equal(Number(idx.readBigInt64BE(2)), 200, 'producer id');
  t.equal(Number(idx.readBigInt64BE(10)), 5, 'first offset');
  t.equal(Number(idx.readBigInt64BE(18)), 9, 'last offset = the marker');
  t.equal(Number(idx.readBigInt64BE(26)), 10, 'last stable offset after it: nothing else open, so marker + 1');

  t.equal(codeOf(() => p.appendTxnMarker(100, 0, 4, true, now)), ErrorCode.TRANSACTION_COORDINATOR_FENCED, 'an older coordinator epoch is fenced');
  p.appendRecordsToLeader(txnBatch(100, 1, 0, 1), -1, 'client', now); // 10, new epoch 1
  t.equal(codeOf(() => p.appendTxnMarker(100, 0, 5, false, now)), ErrorCode.INVALID_PRODUCER_EPOCH, 'a marker for an older producer epoch is refused');
  t.equal(p.lastStableOffset, 10);
  p.appendTxnMarker(100, 1, 6, false, now); // 11
  t.equal(p.lastStableOffset, 12);
  t.same(
    p.abortedTransactions(0, 12),
    [
      { producerId: 200, firstOffset: 5 },
      { producerId: 100, firstOffset: 10 },
    ],
    'both aborts, oldest first',
  );
  t.equal(codeOf(() => p.appendRecordsToLeader(buildBatch({ baseTimestamp: now, control: true, transactional: true, producerId: 5, producerEpoch: 0, records: [{ key: 'x', value: 'y' }] }), -1, 'client', now)), ErrorCode.INVALID_RECORD, 'clients cannot write control batches');
});

t.test('a reopened partition rebuilds open transactions and keeps the index without duplicates', async (t) => {
  const d = tempDir('spool-partition-txn-reopen-');
  t.teardown(d.cleanup);
  {
    const { metadata, replicaManager, close } = await open(t, d.dir);
    await metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
    const p = replicaManager.getPartitionOrError('t', 0);
    const now = Date.now();
    p.appendRecordsToLeader(txnBatch(7, 0, 0, 2), -1, 'client', now); // 0-1
    p.appendTxnMarker(7, 0, 1, false, now); // 2
    p.appendRecordsToLeader(txnBatch(8, 0, 0, 2), -1, 'client', now); // 3-4, left open
    t.equal(p.lastStableOffset, 3);
    await close();
  }
  const { metadata, replicaManager } = await open(t, d.dir);
  await metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  t.equal(p.logEndOffset, 5);
  t.equal(p.lastStableOffset, 3, 'the open transaction survives the restart (producer state snapshot)');
  t.same(p.abortedTransactions(0, 5), [{ producerId: 7, firstOffset: 0 }], 'the index is read back once');
  p.appendTxnMarker(8, 0, 1, true, Date.now());
  t.equal(p.lastStableOffset, 6);
});

t.test('a follower learns markers by replication: LSO and index follow the leader', async (t) => {
  const dl = tempDir('spool-partition-txn-leader-');
  const df = tempDir('spool-partition-txn-follower-');
  t.teardown(dl.cleanup);
  t.teardown(df.cleanup);
  const leader = await open(t, dl.dir);
  await leader.metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
  const lp = leader.replicaManager.getPartitionOrError('t', 0);
  const now = Date.now();
  lp.appendRecordsToLeader(txnBatch(9, 0, 0, 3), -1, 'client', now);
  lp.appendTxnMarker(9, 0, 2, false, now);
  lp.appendRecordsToLeader(txnBatch(10, 0, 0, 1), -1, 'client', now);
  const bytes = lp.log.readBytes(0, 1 << 20);

  const follower = await open(t, df.dir);
  // Node 1 follows a leader 2 here.
  await follower.metadata.addTopic('t', 1, { replicas: [2, 1], isr: [2, 1], leader: 2 });
  const fp = follower.replicaManager.getPartitionOrError('t', 0, -1, false);
  fp.appendRecordsAsFollower(bytes);
  fp.updateHighWatermarkAsFollower(5);
  t.equal(fp.logEndOffset, 5);
  t.equal(fp.lastStableOffset, 4, "producer 10's open transaction holds the follower's LSO too");
  t.same(fp.abortedTransactions(0, 5), [{ producerId: 9, firstOffset: 0 }], 'the follower indexed the replicated abort');
});
