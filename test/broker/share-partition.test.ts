// broker room tests (share groups): the SharePartition state machine of KIP-932 on a manual
// clock — acquisition, lock expiry, release and redelivery, reject, the delivery count limit,
// the in-flight limit, the start offset, and the state a restart resumes from; share sessions;
// and Kafka's __share_group_state record format round trip.
import t from 'tap';
import {
  AcknowledgeType,
  RecordState,
  SharePartition,
  ShareSessionCache,
  decodeStateRecord,
  encodeSnapshotValue,
  encodeStateKey,
  statePartitionFor,
  SHARE_SNAPSHOT_RECORD_TYPE,
  type SharePartitionConfig,
} from '../../src/coordinator/share/index.js';
import { ShareStateStore } from '../../src/coordinator/share/state-store.js';
import { ManualClock, MemoryPartitionLog } from '../../src/coordinator/runtime/memory-log.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';

const config: SharePartitionConfig = { lockDurationMs: 1000, deliveryCountLimit: 3, maxRecordLocks: 100 };
const batch = (baseOffset: number, lastOffset: number): { baseOffset: number; lastOffset: number } => ({ baseOffset, lastOffset });
const fresh = (startOffset = 0, cfg = config): SharePartition => new SharePartition(cfg, { stateEpoch: 0, startOffset, stateBatches: [] });
const ack = (firstOffset: number, lastOffset: number, type: number): { firstOffset: number; lastOffset: number; acknowledgeTypes: number[] } => ({
  firstOffset,
  lastOffset,
  acknowledgeTypes: [type],
});

function kafkaCode(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof KafkaError ? err.code : -1;
  }
}

t.test('acquire hands each available record to one member and counts the delivery', async (t) => {
  const sp = fresh();
  t.same(sp.acquire('a', [batch(0, 4)], 500, 0), [{ firstOffset: 0, lastOffset: 4, deliveryCount: 1 }]);
  // Already acquired: a second member gets nothing from the same batch.
  t.same(sp.acquire('b', [batch(0, 4)], 500, 0), []);
  t.equal(sp.stateOf(2).state, RecordState.ACQUIRED);
  t.equal(sp.stateOf(2).memberId, 'a');
  t.equal(sp.nextFetchOffset(), 5);
  t.equal(sp.acquiredCount(), 5);
});

t.test('maxRecords stops at a batch boundary (whole batches are acquired)', async (t) => {
  const sp = fresh();
  const got = sp.acquire('a', [batch(0, 2), batch(3, 5), batch(6, 8)], 4, 0);
  t.same(got, [{ firstOffset: 0, lastOffset: 5, deliveryCount: 1 }]);
  t.same(sp.acquire('b', [batch(6, 8)], 4, 0), [{ firstOffset: 6, lastOffset: 8, deliveryCount: 1 }]);
});

t.test('accept moves the start offset; acknowledging what another member holds is INVALID_RECORD_STATE', async (t) => {
  const sp = fresh();
  sp.acquire('a', [batch(0, 1)], 500, 0);
  sp.acquire('b', [batch(2, 3)], 500, 0);
  t.equal(kafkaCode(() => sp.acknowledge('b', [ack(0, 1, AcknowledgeType.ACCEPT)], 0)), ErrorCode.INVALID_RECORD_STATE);
  t.equal(sp.stateOf(0).state, RecordState.ACQUIRED, 'a refused acknowledgement changes nothing');
  t.ok(sp.acknowledge('b', [ack(2, 3, AcknowledgeType.ACCEPT)], 0));
  t.equal(sp.startOffset, 0, 'offsets 0-1 are still in flight');
  t.ok(sp.acknowledge('a', [ack(0, 1, AcknowledgeType.ACCEPT)], 0));
  t.equal(sp.startOffset, 4);
  t.equal(kafkaCode(() => sp.acknowledge('a', [ack(0, 0, AcknowledgeType.ACCEPT)], 0)), ErrorCode.INVALID_RECORD_STATE, 'twice is refused');
});

t.test('release makes records available again, redelivered with a higher count, archived at the limit', async (t) => {
  const sp = fresh();
  for (let delivery = 1; delivery <= config.deliveryCountLimit; delivery++) {
    t.same(sp.acquire(`m${delivery}`, [batch(0, 0)], 500, 0), [{ firstOffset: 0, lastOffset: 0, deliveryCount: delivery }]);
    sp.acknowledge(`m${delivery}`, [ack(0, 0, AcknowledgeType.RELEASE)], 0);
  }
  t.equal(sp.stateOf(0).state, RecordState.ACKNOWLEDGED, 'below the start offset: archived and passed');
  t.equal(sp.startOffset, 1);
  t.same(sp.acquire('x', [batch(0, 0)], 500, 0), [], 'never delivered again');
});

t.test('reject archives at once; gaps are archived too', async (t) => {
  const sp = fresh();
  sp.acquire('a', [batch(0, 2)], 500, 0);
  sp.acknowledge('a', [{ firstOffset: 0, lastOffset: 2, acknowledgeTypes: [AcknowledgeType.REJECT, AcknowledgeType.GAP, AcknowledgeType.ACCEPT] }], 0);
  t.equal(sp.startOffset, 3);
  t.same(sp.acquire('b', [batch(0, 2)], 500, 0), []);
});

t.test('a lock that expires releases the record; at the limit it is archived', async (t) => {
  const sp = fresh();
  sp.acquire('a', [batch(0, 1)], 500, 0);
  t.equal(sp.nextLockDeadline(), 1000);
  t.notOk(sp.expireLocks(999), 'not yet');
  t.ok(sp.expireLocks(1000));
  t.equal(sp.stateOf(0).state, RecordState.AVAILABLE);
  t.equal(sp.nextFetchOffset(), 0);
  t.same(sp.acquire('b', [batch(0, 1)], 500, 1000), [{ firstOffset: 0, lastOffset: 1, deliveryCount: 2 }]);
  sp.expireLocks(2000);
  sp.acquire('c', [batch(0, 1)], 500, 2000);
  sp.expireLocks(3000);
  t.equal(sp.startOffset, 2, 'third expiry reaches the limit of 3: archived');
  t.equal(sp.nextLockDeadline(), null);
});

t.test('renew extends the lock; acknowledgement of an expired lock is refused', async (t) => {
  const sp = fresh();
  sp.acquire('a', [batch(0, 0)], 500, 0);
  t.notOk(sp.acknowledge('a', [ack(0, 0, AcknowledgeType.RENEW)], 900), 'renew changes no durable state');
  t.equal(sp.nextLockDeadline(), 1900);
  t.notOk(sp.expireLocks(1500));
  sp.expireLocks(1900);
  t.equal(kafkaCode(() => sp.acknowledge('a', [ack(0, 0, AcknowledgeType.ACCEPT)], 2000)), ErrorCode.INVALID_RECORD_STATE);
});

t.test('a member that leaves releases its records; others keep theirs', async (t) => {
  const sp = fresh();
  sp.acquire('a', [batch(0, 1)], 500, 0);
  sp.acquire('b', [batch(2, 3)], 500, 0);
  t.ok(sp.releaseMember('a'));
  t.equal(sp.stateOf(0).state, RecordState.AVAILABLE);
  t.equal(sp.stateOf(2).memberId, 'b');
  t.notOk(sp.releaseMember('a'));
});

t.test('the in-flight window stops at group.share.partition.max.record.locks', async (t) => {
  const sp = fresh(0, { ...config, maxRecordLocks: 10 });
  const got = sp.acquire('a', [batch(0, 19)], 500, 0);
  t.same(got, [{ firstOffset: 0, lastOffset: 9, deliveryCount: 1 }]);
  t.equal(sp.nextFetchOffset(), null, 'window full, nothing available');
  sp.acknowledge('a', [ack(0, 4, AcknowledgeType.ACCEPT)], 0);
  t.equal(sp.nextFetchOffset(), 10);
  t.same(sp.acquire('a', [batch(0, 19)], 500, 0), [{ firstOffset: 10, lastOffset: 14, deliveryCount: 1 }]);
});

t.test('control batches (transaction markers) are never delivered', async (t) => {
  const sp = fresh();
  t.same(sp.acquire('a', [batch(0, 1), { baseOffset: 2, lastOffset: 2, isControl: true }, batch(3, 3)], 500, 0), [
    { firstOffset: 0, lastOffset: 1, deliveryCount: 1 },
    { firstOffset: 3, lastOffset: 3, deliveryCount: 1 },
  ]);
  sp.acknowledge('a', [ack(0, 1, AcknowledgeType.ACCEPT), ack(3, 3, AcknowledgeType.ACCEPT)], 0);
  t.equal(sp.startOffset, 4);
});

t.test('offsets with no record (before the first batch, between batches) are archived so the start offset moves', async (t) => {
  const sp = fresh();
  // A compacted topic: the read from 0 returns batches at 3-4 and 8-9 only.
  t.same(sp.acquire('a', [batch(3, 4), batch(8, 9)], 500, 0, 0), [
    { firstOffset: 3, lastOffset: 4, deliveryCount: 1 },
    { firstOffset: 8, lastOffset: 9, deliveryCount: 1 },
  ]);
  t.equal(sp.stateOf(6).state, RecordState.ARCHIVED, 'the gap between batches is archived');
  t.equal(sp.startOffset, 3, 'the start offset moved over the leading gap');
  sp.acknowledge('a', [ack(3, 4, AcknowledgeType.ACCEPT), ack(8, 9, AcknowledgeType.ACCEPT)], 0);
  t.equal(sp.startOffset, 10, 'and over the inner gap once the records around it are acknowledged');
  t.equal(sp.nextFetchOffset(), 10);
  // A fetch whose only batch is a control batch after a gap still moves the start offset.
  t.same(sp.acquire('a', [{ baseOffset: 12, lastOffset: 12, isControl: true }], 500, 0, 10), []);
  t.equal(sp.startOffset, 13);
});

t.test('delivery count limit holds across a restart (acquired persisted as AVAILABLE with its count)', async (t) => {
  const sp = fresh();
  for (let i = 0; i < 3; i++) {
    t.same(sp.acquire('a', [batch(0, 0)], 500, 0, 0), [{ firstOffset: 0, lastOffset: 0, deliveryCount: i + 1 }]);
    if (i < 2) sp.acknowledge('a', [ack(0, 0, AcknowledgeType.RELEASE)], 0);
  }
  const snap = sp.snapshot();
  t.same(snap.stateBatches, [{ firstOffset: 0, lastOffset: 0, deliveryState: RecordState.AVAILABLE, deliveryCount: 3 }], 'the third delivery is persisted as AVAILABLE');
  const restored = new SharePartition(config, snap);
  t.equal(restored.startOffset, 1, 'on load, an AVAILABLE offset at the limit is archived');
  t.same(restored.acquire('b', [batch(0, 1)], 500, 0, 0), [{ firstOffset: 1, lastOffset: 1, deliveryCount: 1 }], 'offset 0 is not delivered a fourth time');
  // A state written with such an offset in the middle of the window.
  const mid = new SharePartition(config, { stateEpoch: 0, startOffset: 0, stateBatches: [{ firstOffset: 1, lastOffset: 1, deliveryState: RecordState.AVAILABLE, deliveryCount: 5 }] });
  t.same(mid.acquire('c', [batch(0, 2)], 500, 0, 0), [{ firstOffset: 0, lastOffset: 0, deliveryCount: 1 }, { firstOffset: 2, lastOffset: 2, deliveryCount: 1 }]);
});

t.test('snapshot and restore: acquired records come back available with their counts', async (t) => {
  const sp = fresh(10);
  sp.acquire('a', [batch(10, 15)], 500, 0);
  sp.acknowledge('a', [ack(12, 12, AcknowledgeType.ACCEPT), ack(13, 13, AcknowledgeType.REJECT), ack(14, 14, AcknowledgeType.RELEASE)], 0);
  const snap = sp.snapshot();
  t.equal(snap.startOffset, 10);
  t.same(snap.stateBatches, [
    { firstOffset: 10, lastOffset: 11, deliveryState: RecordState.AVAILABLE, deliveryCount: 1 },
    { firstOffset: 12, lastOffset: 12, deliveryState: RecordState.ACKNOWLEDGED, deliveryCount: 1 },
    { firstOffset: 13, lastOffset: 13, deliveryState: RecordState.ARCHIVED, deliveryCount: 1 },
    { firstOffset: 14, lastOffset: 15, deliveryState: RecordState.AVAILABLE, deliveryCount: 1 },
  ]);
  const restored = new SharePartition(config, snap);
  t.same(restored.acquire('b', [batch(10, 16)], 500, 0), [
    { firstOffset: 10, lastOffset: 11, deliveryCount: 2 },
    { firstOffset: 14, lastOffset: 15, deliveryCount: 2 },
    { firstOffset: 16, lastOffset: 16, deliveryCount: 1 },
  ]);
});

t.test('resetStartOffset drops what the log no longer has', async (t) => {
  const sp = fresh();
  sp.acquire('a', [batch(0, 9)], 500, 0);
  sp.resetStartOffset(5);
  t.equal(sp.startOffset, 5);
  t.equal(sp.stateOf(7).memberId, 'a', 'records above the new start keep their state');
  sp.resetStartOffset(20, 1);
  t.equal(sp.stateEpoch, 1);
  t.equal(sp.nextFetchOffset(), 20);
});

t.test('share sessions: epochs open, move on, and close', async (t) => {
  const cache = new ShareSessionCache(2);
  const p0 = { topicId: 'T', partition: 0 };
  const p1 = { topicId: 'T', partition: 1 };
  const code = (fn: () => unknown): number | null => kafkaCode(fn);
  t.equal(code(() => cache.update('g', 'm', 1, [], [], false)), ErrorCode.SHARE_SESSION_NOT_FOUND);
  t.same(cache.update('g', 'm', 0, [p0], [], false), [p0]);
  t.equal(code(() => cache.update('g', 'm', 2, [], [], false)), ErrorCode.INVALID_SHARE_SESSION_EPOCH);
  t.same(cache.update('g', 'm', 1, [p1], [], false), [p0, p1], 'incremental: the session keeps p0');
  t.same(cache.update('g', 'm', 2, [], [p0], true), [p1], 'acknowledge requests move the epoch too');
  t.equal(code(() => cache.update('g', 'm', 0, [], [], true)), ErrorCode.INVALID_SHARE_SESSION_EPOCH, 'ShareAcknowledge cannot open');
  cache.update('g', 'm2', 0, [], [], false);
  t.equal(code(() => cache.update('g', 'm3', 0, [], [], false)), ErrorCode.SHARE_SESSION_LIMIT_REACHED);
  t.same(cache.remove('g', 'm'), [p1]);
  t.equal(cache.size, 1);
});

t.test('share sessions: idle ones are evicted when the cache is full; a wrong epoch does not reveal the expected one', async (t) => {
  let now = 0;
  const cache = new ShareSessionCache(2, 1000, () => now);
  cache.update('g', 'gone', 0, [], [], false);
  now = 500;
  cache.update('g', 'busy', 0, [], [], false);
  now = 1200;
  cache.update('g', 'busy', 1, [], [], false);
  cache.update('g', 'new', 0, [], [], false);
  t.equal(cache.size, 2, 'the session idle for 1 s made room');
  t.equal(kafkaCode(() => cache.update('g', 'gone', 1, [], [], false)), ErrorCode.SHARE_SESSION_NOT_FOUND, 'the evicted one is gone');
  t.equal(kafkaCode(() => cache.update('g', 'other', 0, [], [], false)), ErrorCode.SHARE_SESSION_LIMIT_REACHED, 'sessions in use are not evicted');
  try {
    cache.update('g', 'busy', 7, [], [], false);
    t.fail('a wrong epoch must be refused');
  } catch (err) {
    t.equal((err as KafkaError).code, ErrorCode.INVALID_SHARE_SESSION_EPOCH);
    t.notMatch((err as Error).message, /\b2\b/, 'the expected epoch (2) is not in the message');
  }
});

t.test('__share_group_state records use Kafka ShareSnapshot layout and round trip', async (t) => {
  const key = { groupId: 'g1', topicId: 'AAAAAAAAAAAAAAAAAAAAAQ', partition: 3 };
  const k = encodeStateKey(SHARE_SNAPSHOT_RECORD_TYPE, key);
  t.equal(k.readInt16BE(0), 0, 'record type 0 = ShareSnapshot');
  t.equal(k.readInt16BE(2), 2, 'non-flexible key: int16 string length');
  t.equal(k.length, 2 + 2 + 2 + 16 + 4);
  const v = encodeSnapshotValue({ stateEpoch: 4, startOffset: 100, stateBatches: [{ firstOffset: 100, lastOffset: 101, deliveryState: 2, deliveryCount: 3 }] }, 7, 1, 5, 6);
  t.equal(v.readInt16BE(0), 0, 'value version 0');
  const decoded = decodeStateRecord(k, v);
  t.equal(decoded.type, 'snapshot');
  if (decoded.type !== 'snapshot' || decoded.value === null) return;
  t.same(decoded.key, key);
  t.match(decoded.value, { snapshotEpoch: 7, stateEpoch: 4, leaderEpoch: 1, startOffset: 100, createTimestamp: 5, writeTimestamp: 6, deliveryCompleteCount: -1 });
  t.same(decoded.value.stateBatches, [{ firstOffset: 100, lastOffset: 101, deliveryState: 2, deliveryCount: 3 }]);
  // Kafka: Utils.abs("g1:<topicId>:3".hashCode()) % partitions.
  t.ok(statePartitionFor(key, 50) >= 0 && statePartitionFor(key, 50) < 50);
});

t.test('the state store refuses writes older than the stored state (FENCED_STATE_EPOCH / FENCED_LEADER_EPOCH)', async (t) => {
  const log = new MemoryPartitionLog(1);
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const store = new ShareStateStore({ log, numPartitions: 1, clock: new ManualClock(), logger: quiet });
  store.onElection(0, 0);
  t.equal(await store.awaitLoaded(0, 10_000), ErrorCode.NONE);
  const key = { groupId: 'g', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partition: 0 };
  const codeOf = async (p: Promise<void>): Promise<number> => p.then(() => ErrorCode.NONE, (err: unknown) => (err instanceof KafkaError ? err.code : -1));
  t.equal(await codeOf(store.write(key, { stateEpoch: 0, startOffset: 5, stateBatches: [] }, 3)), ErrorCode.NONE);
  // AlterShareGroupOffsets: a new state epoch, written by the admin path (leader epoch -1).
  t.equal(await codeOf(store.write(key, { stateEpoch: 1, startOffset: 100, stateBatches: [] }, -1)), ErrorCode.NONE);
  t.equal(await codeOf(store.write(key, { stateEpoch: 0, startOffset: 7, stateBatches: [] }, 3)), ErrorCode.FENCED_STATE_EPOCH, 'an in-flight write of the old epoch');
  t.equal((await store.read(key, 1000))?.startOffset, 100, 'the altered start offset stays');
  t.equal(await codeOf(store.write(key, { stateEpoch: 1, startOffset: 101, stateBatches: [] }, 5)), ErrorCode.NONE);
  t.equal(await codeOf(store.write(key, { stateEpoch: 1, startOffset: 102, stateBatches: [] }, 4)), ErrorCode.FENCED_LEADER_EPOCH, 'a former partition leader');
  t.equal((await store.read(key, 1000))?.startOffset, 101);
  store.close();
});

t.test('share group heartbeat: the previous epoch (a lost response) is accepted and gets the assignment again; others are fenced', async (t) => {
  const { ShareGroupCoordinator } = await import('../../src/coordinator/share/group-coordinator.js');
  const topics = new Map([['orders', { name: 'orders', topicId: 'AAAAAAAAAAAAAAAAAAAAAQ', numPartitions: 4 }]]);
  const groups = new ShareGroupCoordinator({
    clock: new ManualClock(),
    config: { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5000, maxSize: 10 },
    topicByName: (name) => topics.get(name),
    otherGroupExists: () => false,
  });
  const beat = (memberId: string, memberEpoch: number) =>
    groups.heartbeat({ groupId: 'sg', memberId, memberEpoch, rackId: null, subscribedTopicNames: memberEpoch === 0 ? ['orders'] : null, clientId: 'c', clientHost: '/h' });
  const a1 = beat('a', 0);
  t.equal(a1.errorCode, ErrorCode.NONE);
  const b1 = beat('b', 0);
  t.equal(b1.errorCode, ErrorCode.NONE);
  const a2 = beat('a', a1.memberEpoch);
  t.ok(a2.memberEpoch > a1.memberEpoch, 'a moved to the new epoch (its response is "lost")');
  const lost = beat('a', a1.memberEpoch);
  t.equal(lost.errorCode, ErrorCode.NONE, 'the previous epoch is accepted');
  t.equal(lost.memberEpoch, a2.memberEpoch);
  t.same(lost.assignment, a2.assignment, 'with the assignment it missed');
  t.equal(beat('a', a2.memberEpoch + 1).errorCode, ErrorCode.FENCED_MEMBER_EPOCH, 'a greater epoch is fenced');
  t.equal(beat('a', a1.memberEpoch - 1).errorCode, ErrorCode.FENCED_MEMBER_EPOCH, 'an older one than the previous is fenced');
});
