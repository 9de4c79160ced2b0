// replication/ room tests: a Partition driven through leader epoch and ISR changes by a fake
// metadata store, through the ReplicaManager as the broker uses it: the high watermark follows the
// ISR, acks=all waits for it, and requests get Kafka's errors for stale or unknown epochs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, InvariantError, KafkaError } from '../../src/errors.js';
import { LogManager } from '../../src/log/index.js';
import { ReplicaManager, type LeadershipChange } from '../../src/replication/index.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch } from '../helpers/batches.js';
import { tempDir } from '../helpers/broker.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';

const logger = pino({ level: 'silent' });
interface Tap { teardown(fn: () => unknown): void }

/** The Kafka error code a promise rejects with (NONE when it resolves). */
async function rejectionCode(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KafkaError) return err.code;
    throw err;
  }
  return ErrorCode.NONE;
}

function batch(n: number): Buffer {
  return buildBatch({ baseTimestamp: Date.now(), records: Array.from({ length: n }, (_, i) => ({ value: `v${i}` })) });
}

async function setup(t: Tap, overrides: Record<string, string | number> = {}) {
  const d = tempDir('spool-partition-');
  const config = new BrokerConfig({ env: {}, overrides: { 'node.id': 1, ...overrides } });
  const metadata = new FakeMetadataStore();
  // The followers are live brokers: a leader proposes only registered brokers for the ISR.
  for (const nodeId of [2, 3]) await metadata.registerBroker({ nodeId, host: '127.0.0.1', port: 9090 + nodeId, rack: null });
  const logManager = await LogManager.open({ dataDir: d.dir, engine: tsEngine, config, logger });
  const replicaManager = new ReplicaManager({ localBrokerId: 1, metadata, logManager, config, logger });
  await replicaManager.start();
  const changes: Array<[number, LeadershipChange, number]> = [];
  replicaManager.onLeadershipChange('t', (p, change) => changes.push([p.index, change, p.leaderEpoch]));
  t.teardown(async () => {
    replicaManager.shutdown();
    await logManager.close();
    d.cleanup();
  });
  return { metadata, replicaManager, changes, dir: d.dir };
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



t.test('with the leader alone in the ISR the high watermark is the log end offset', async (t) => {
  const { metadata, replicaManager } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1, 2, 3], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  t.equal(p.isLeader, true);
  t.equal(p.highWatermark, 0);
  const appended = p.appendRecordsToLeader(batch(3), 1, 'client', Date.now());
  t.equal(appended.kind, 'appended');
  t.equal(p.logEndOffset, 3);
  t.equal(p.highWatermark, 3, 'ISR = [leader]: HW = LEO');
  t.equal(p.lastStableOffset, 3);
});

t.test('ISR changes move the high watermark: it waits for every ISR member, never goes back', async (t) => {
  const { metadata, replicaManager } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1, 2, 3], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  p.appendRecordsToLeader(batch(3), 1, 'client', Date.now());
  t.equal(p.highWatermark, 3);

  // The leader asks the controller to add broker 2, naming the epochs it saw (compare-and-set).
  await metadata.alterPartition({ topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1, 2] });
  t.same(p.isr, [1, 2]);
  t.equal(p.partitionEpoch, 1);
  p.appendRecordsToLeader(batch(2), 1, 'client', Date.now());
  t.equal(p.logEndOffset, 5);
  t.equal(p.highWatermark, 3, 'broker 2 has not fetched the new records');
  p.updateFollowerFetchState(2, 4);
  t.equal(p.highWatermark, 4, 'follower at 4: HW 4');
  p.updateFollowerFetchState(3, 5);
  t.equal(p.highWatermark, 4, 'a replica outside the ISR does not count');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(p.isr, [1, 2, 3], 'broker 3 reached the high watermark: the leader added it to the ISR through the store');
  t.equal(p.partitionEpoch, 2);
  p.updateFollowerFetchState(2, 5);
  t.equal(p.highWatermark, 5);
  p.updateFollowerFetchState(2, 2);
  t.equal(p.highWatermark, 5, 'the high watermark never goes back');

  p.appendRecordsToLeader(batch(1), 1, 'client', Date.now());
  t.equal(p.highWatermark, 5);
  // Brokers 2 and 3 fall out of the ISR: the leader alone decides again.
  await metadata.alterPartition({ topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 2, isr: [1] });
  t.equal(p.highWatermark, 6, 'ISR shrink to [leader]: HW = LEO');

  t.equal(await rejectionCode(metadata.alterPartition({ topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 1, isr: [1, 2] })), ErrorCode.INVALID_UPDATE_VERSION, 'a stale partition epoch is refused');
  t.equal(await rejectionCode(metadata.alterPartition({ topic: 't', partition: 0, leaderEpoch: 7, partitionEpoch: 3, isr: [1, 2] })), ErrorCode.FENCED_LEADER_EPOCH, 'a deposed leader epoch is refused');
});

t.test('acks=all completes when the ISR has the batch, times out otherwise; min.insync.replicas refuses early', async (t) => {
  const { metadata, replicaManager } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1, 2], isr: [1, 2], leader: 1 }, { 'min.insync.replicas': '2' });
  const p = replicaManager.getPartitionOrError('t', 0);
  const r = p.appendRecordsToLeader(batch(2), -1, 'client', Date.now());
  t.equal(r.kind, 'appended');
  let done = false;
  const waiting = replicaManager.awaitReplication(p, 1, 5000).then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(done, false, 'not acknowledged before the follower has it');
  p.updateFollowerFetchState(2, 2);
  await waiting;
  t.equal(done, true, 'acknowledged once HW passed the batch');

  p.appendRecordsToLeader(batch(1), -1, 'client', Date.now());
  t.equal(await rejectionCode(replicaManager.awaitReplication(p, 2, 50)), ErrorCode.REQUEST_TIMED_OUT, 'REQUEST_TIMED_OUT when the follower never fetches');

  await metadata.alterPartition({ topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1] });
  t.equal(codeOf(() => p.appendRecordsToLeader(batch(1), -1, 'client', Date.now())), ErrorCode.NOT_ENOUGH_REPLICAS, 'ISR [1] < min.insync.replicas 2');
  t.equal(codeOf(() => p.appendRecordsToLeader(batch(1), 1, 'client', Date.now())), ErrorCode.NONE, 'acks=1 is still accepted');
});

t.test('leader epochs: clients with older epochs are fenced, newer ones unknown; the epoch cache answers OffsetForLeaderEpoch', async (t) => {
  const { metadata, replicaManager, changes, dir } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1, 2], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0, 0);
  p.appendRecordsToLeader(batch(5), 1, 'client', Date.now());
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 0, -1)), ErrorCode.NONE, 'no epoch given: not checked');
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 0, 1)), ErrorCode.UNKNOWN_LEADER_EPOCH, 'client ahead of us');

  // Re-elected at epoch 1 (e.g. after a controller failover): epoch 1 starts at the log end offset.
  await metadata.electLeader('t', 0, 1);
  t.equal(p.leaderEpoch, 1);
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 0, 0)), ErrorCode.FENCED_LEADER_EPOCH, 'client behind us');
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 0, 1)), ErrorCode.NONE);
  const appended = p.appendRecordsToLeader(batch(2), 1, 'client', Date.now());
  t.equal(appended.kind === 'appended' ? appended.result.firstOffset : -1, 5);
  t.same(p.lastOffsetForLeaderEpoch(1, 0, true), { errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 5 }, 'epoch 0 ended where epoch 1 began');
  t.same(p.lastOffsetForLeaderEpoch(1, 1, true), { errorCode: ErrorCode.NONE, leaderEpoch: 1, endOffset: 7 }, 'the current epoch ends at the log end offset');
  t.same(p.lastOffsetForLeaderEpoch(1, 2, true), { errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 }, 'an unknown later epoch');
  t.same(p.lastOffsetForLeaderEpoch(0, 0, true).errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  t.equal(p.epochForOffset(4), 0, 'record 4 was written in epoch 0');
  t.equal(p.epochForOffset(6), 1, 'record 6 in epoch 1');
  const checkpoint = join(dir, 't-0', 'leader-epoch-checkpoint');
  t.ok(existsSync(checkpoint));
  t.equal(readFileSync(checkpoint, 'utf8'), '0\n2\n0 0\n1 5\n', "Kafka's leader-epoch-checkpoint format");

  // Leadership moves to broker 2 at epoch 2: this broker must not serve or accept as leader.
  await metadata.electLeader('t', 0, 2, [2]);
  t.equal(p.isLeader, false);
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 0, 2)), ErrorCode.NOT_LEADER_OR_FOLLOWER);
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 0, 2, false)), ErrorCode.NONE, 'a follower replica may still be asked when the leader is not required');
  t.equal(codeOf(() => p.appendRecordsToLeader(batch(1), 1, 'client', Date.now())), ErrorCode.NOT_LEADER_OR_FOLLOWER);
  t.same(changes, [
    [0, 'leader', 0],
    [0, 'leader', 1],
    [0, 'follower', 2],
  ], 'leadership listeners saw each change once');
  t.equal(codeOf(() => replicaManager.getPartitionOrError('t', 3)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  t.equal(codeOf(() => replicaManager.getPartitionOrError('nope', 0)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

t.test('a partition state with an older leader epoch is a broken invariant', async (t) => {
  const { metadata, replicaManager } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
  await metadata.electLeader('t', 0, 1);
  const p = replicaManager.getPartitionOrError('t', 0);
  t.throws(() => p.applyState({ ...metadata.partition('t', 0)!, leaderEpoch: 0 }), InvariantError);
  t.equal(p.leaderEpoch, 1, 'state unchanged');
});

t.test('idempotent retries of a recent batch are answered with the original offsets, not written twice', async (t) => {
  const { metadata, replicaManager } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  const idempotent = (seq: number) => buildBatch({ baseTimestamp: Date.now(), producerId: 42, producerEpoch: 0, baseSequence: seq, records: [{ value: 'a' }, { value: 'b' }] });
  const first = p.appendRecordsToLeader(idempotent(0), 1, 'client', Date.now());
  const again = p.appendRecordsToLeader(idempotent(0), 1, 'client', Date.now());
  t.equal(first.kind, 'appended');
  t.same(again.kind === 'duplicate' ? [again.batch.firstOffset, again.batch.lastOffset] : null, [0, 1]);
  t.equal(p.logEndOffset, 2);
});

t.test('control batches, and transactional batches without a producer id, from clients are refused before anything is written', async (t) => {
  const { metadata, replicaManager } = await setup(t);
  await metadata.addTopic('t', 1, { replicas: [1], isr: [1], leader: 1 });
  const p = replicaManager.getPartitionOrError('t', 0);
  const control = buildBatch({ baseTimestamp: Date.now(), control: true, transactional: true, producerId: 1, producerEpoch: 0, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(6) }] });
  t.equal(codeOf(() => p.appendRecordsToLeader(control, 1, 'client', Date.now())), ErrorCode.INVALID_RECORD);
  const txn = buildBatch({ baseTimestamp: Date.now(), transactional: true, producerId: -1, producerEpoch: -1, baseSequence: -1, records: [{ value: 'x' }] });
  t.equal(codeOf(() => p.appendRecordsToLeader(txn, 1, 'client', Date.now())), ErrorCode.INVALID_RECORD);
  t.equal(p.logEndOffset, 0);
});
