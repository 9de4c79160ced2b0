// coordinator/share room tests: how share-partition state reaches the share coordinator —
// one write in flight per share-partition (a retried older write can no longer land after a newer
// one and take the stored state back), queued changes coalesced into the newest snapshot, a reload
// waiting for the writes of the entry it replaces; the group coordinator's initialization never
// wiping state a leader wrote (the share coordinator decides atomically, the leader epoch kept);
// the local persister answering "no state" as the remote one does; and the inter-broker persister's
// requests ending by its deadline.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import type { ApiServices } from '../../src/api/services.js';
import { InterBrokerStatePersister } from '../../src/api/share-state.js';
import { BrokerConfig } from '../../src/config/index.js';
import { ManualClock, MemoryPartitionLog } from '../../src/coordinator/runtime/memory-log.js';
import { ShareGroupCoordinator } from '../../src/coordinator/share/group-coordinator.js';
import {
  AcknowledgeType,
  LocalStatePersister,
  SHARE_GROUP_STATE_TOPIC,
  SharePartitionManager,
  summaryOrNull,
  type PersistedShareState,
  type SharePartitionKey,
  type ShareStatePersister,
  type ShareStateSummaryView,
} from '../../src/coordinator/share/index.js';
import { ShareStateStore } from '../../src/coordinator/share/state-store.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const KEY: SharePartitionKey = { groupId: 'sg', topicId: 'AAAAAAAAAAAAAAAAAAAAAQ', partition: 0 };
const OFFSETS = { logStartOffset: 0, highWatermark: 10 };

/** A share coordinator held by the test: writes wait for `release()`; the first one lands late and then fails. */
class GatedPersister implements ShareStatePersister {
  stored: PersistedShareState | null = { stateEpoch: 0, startOffset: 0, stateBatches: [] };
  readonly ops: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  writes = 0;
  private gates: Array<() => void> = [];

  /** Lets the oldest waiting write go on. */
  release(): void {
    this.gates.shift()?.();
  }

  get waiting(): number {
    return this.gates.length;
  }

  read(): Promise<PersistedShareState | null> {
    this.ops.push('read');
    return Promise.resolve(this.stored === null ? null : structuredClone(this.stored));
  }

  async write(_key: SharePartitionKey, state: PersistedShareState): Promise<void> {
    const n = ++this.writes;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.ops.push(`write ${n} sent`);
    const snapshot = structuredClone(state);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.inFlight--;
    // The first write reaches the coordinator, but its answer is lost (a timeout, NOT_COORDINATOR
    // after the append): the persister's retries would send it again later.
    this.stored = snapshot;
    this.ops.push(`write ${n} landed`);
    if (n === 1) throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'the answer to write 1 was lost');
  }

  initialize(): Promise<void> {
    return Promise.resolve();
  }

  delete(): Promise<void> {
    return Promise.resolve();
  }

  readSummary(): Promise<ShareStateSummaryView | null> {
    return Promise.resolve(null);
  }
}

function manager(persister: ShareStatePersister, store?: ShareStateStore): SharePartitionManager {
  const clock = new ManualClock();
  const groups = new ShareGroupCoordinator({
    clock,
    config: { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5000, maxSize: 10 },
    topicByName: () => undefined,
    otherGroupExists: () => false,
  });
  return new SharePartitionManager({
    clock,
    logger: quiet,
    config: { lockDurationMs: 30_000, deliveryCountLimit: 5, maxRecordLocks: 100, maxShareSessions: 10, stateLoadTimeoutMs: 1000 },
    store: store ?? (null as unknown as ShareStateStore),
    groups,
    persister,
  });
}

/** Lets queued promise callbacks run (the gated writes start on later microtasks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const accept = (firstOffset: number, lastOffset: number) => [{ firstOffset, lastOffset, acknowledgeTypes: [AcknowledgeType.ACCEPT] }];

t.test('one state write in flight per share-partition: a late older write cannot take the stored state back', async (t) => {
  const persister = new GatedPersister();
  const m = manager(persister);
  t.teardown(() => m.close());
  const sp = await m.get(KEY, 3, OFFSETS);
  t.same(m.acquire(KEY, 'm', [{ baseOffset: 0, lastOffset: 9 }], 100), [{ firstOffset: 0, lastOffset: 9, deliveryCount: 1 }]);

  const first = m.acknowledge(KEY, 'm', accept(0, 3)).then(
    () => 'ok',
    (err: unknown) => (err instanceof KafkaError ? err.code : -1),
  );
  await settle();
  t.equal(persister.waiting, 1, 'the first write is sent');
  const second = m.acknowledge(KEY, 'm', accept(4, 6));
  const third = m.acknowledge(KEY, 'm', accept(7, 9));
  await settle();
  t.equal(persister.writes, 1, 'the later acknowledgements wait for the write in flight');

  persister.release(); // write 1 lands (old snapshot), its answer is lost
  t.equal(await first, ErrorCode.REQUEST_TIMED_OUT, "the first acknowledgement's write failed");
  await settle();
  t.equal(persister.writes, 2, 'the two waiting acknowledgements share one write');
  persister.release();
  await Promise.all([second, third]);

  t.equal(persister.maxInFlight, 1, 'never two writes at once');
  t.same(persister.ops, ['read', 'write 1 sent', 'write 1 landed', 'write 2 sent', 'write 2 landed']);
  t.same(persister.stored, sp.snapshot(), 'the stored state is the state in memory');
  t.equal(persister.stored?.startOffset, 10, 'every acknowledgement is in it');
});

t.test('a share-partition reloaded while a write of the dropped one is pending reads after it lands', async (t) => {
  const persister = new GatedPersister();
  const m = manager(persister);
  t.teardown(() => m.close());
  await m.get(KEY, 3, OFFSETS);
  m.acquire(KEY, 'm', [{ baseOffset: 0, lastOffset: 9 }], 100);
  const acked = m.acknowledge(KEY, 'm', accept(0, 9)).catch(() => undefined);
  await settle();
  t.equal(persister.waiting, 1);
  // No share session of the group is left here: its share-partitions with nothing acquired are unloaded.
  await m.releaseMember(KEY.groupId, 'gone');
  t.equal(m.peek(KEY), undefined, 'unloaded');
  const reloaded = m.get(KEY, 3, OFFSETS);
  await settle();
  t.same(persister.ops, ['read', 'write 1 sent'], 'the reload waits for the pending write');
  persister.release();
  const sp = await reloaded;
  await acked;
  t.same(persister.ops, ['read', 'write 1 sent', 'write 1 landed', 'read']);
  t.equal(sp.startOffset, 10, 'the reload sees the acknowledged records');
});

t.test("the group coordinator's initialization never wipes state a leader wrote", async (t) => {
  const store = new ShareStateStore({ log: new MemoryPartitionLog(1), numPartitions: 1, clock: new ManualClock(), logger: quiet });
  t.teardown(() => store.close());
  store.onElection(0, 0);
  t.equal(await store.awaitLoaded(0, 10_000), ErrorCode.NONE);

  // Hand-ordered: the group coordinator reads the summary (no state yet) ...
  t.equal(store.summary(KEY), null, 'the group coordinator sees no state');
  // ... the partition leader reads and writes its first state meanwhile ...
  t.equal(await store.readForLeader(KEY, 2), null);
  await store.write(KEY, { stateEpoch: 0, startOffset: 5, stateBatches: [{ firstOffset: 5, lastOffset: 6, deliveryState: 2, deliveryCount: 1 }] }, 2);
  // ... and then the group coordinator's InitializeShareGroupState arrives.
  t.equal(await store.initialize(KEY, 0, -1), false, 'kept: state at the same state epoch exists');
  t.same(store.summary(KEY), { stateEpoch: 0, leaderEpoch: 2, startOffset: 5 }, "the leader's start offset and epoch stay");
  t.equal((await store.readForLeader(KEY, 2))?.stateBatches.length, 1, 'and its batches');

  // AlterShareGroupOffsets: a newer state epoch replaces the state, the leader epoch stays.
  t.equal(await store.initialize(KEY, 1, 100), true);
  t.same(store.summary(KEY), { stateEpoch: 1, leaderEpoch: 2, startOffset: 100 });
  const code = await store.write(KEY, { stateEpoch: 1, startOffset: 101, stateBatches: [] }, 1).then(
    () => ErrorCode.NONE,
    (err: unknown) => (err instanceof KafkaError ? err.code : -1),
  );
  t.equal(code, ErrorCode.FENCED_LEADER_EPOCH, 'a former partition leader stays fenced after the initialization');
  t.equal(
    await store.initialize(KEY, 0, -1).then(
      () => ErrorCode.NONE,
      (err: unknown) => (err instanceof KafkaError ? err.code : -1),
    ),
    ErrorCode.FENCED_STATE_EPOCH,
    'an initialization older than the stored state epoch',
  );

  // Through the partition manager: state exists, nothing is initialized.
  const m = manager(new LocalStatePersister(store, 1000), store);
  t.teardown(() => m.close());
  t.equal(await m.initializeIfAbsent(KEY), false);
  const other = { ...KEY, partition: 1 };
  t.equal(await m.initializeIfAbsent(other), true, 'a partition without state is initialized');
  t.same(store.summary(other), { stateEpoch: 0, leaderEpoch: -1, startOffset: -1 });
  await m.alterStartOffset(other, 7);
  t.same(store.summary(other), { stateEpoch: 1, leaderEpoch: -1, startOffset: 7 }, 'AlterShareGroupOffsets starts a newer state epoch than the initialization');
});

t.test('local and remote share coordinators answer "no state" alike', async (t) => {
  const store = new ShareStateStore({ log: new MemoryPartitionLog(1), numPartitions: 1, clock: new ManualClock(), logger: quiet });
  t.teardown(() => store.close());
  store.onElection(0, 0);
  t.equal(await store.awaitLoaded(0, 10_000), ErrorCode.NONE);
  const local = new LocalStatePersister(store, 1000);
  t.equal(await local.readSummary(KEY), null, 'never written');
  await store.initialize(KEY, 0, -1);
  // What ReadShareGroupStateSummary answers on the wire for both: state epoch 0, start offset -1, leader epoch -1.
  t.equal(await local.readSummary(KEY), null, 'initialized by the group coordinator only: as a remote summary reads');
  t.equal(summaryOrNull({ stateEpoch: 0, leaderEpoch: -1, startOffset: -1 }), null);
  await store.readForLeader(KEY, 4);
  t.same(await local.readSummary(KEY), { stateEpoch: 0, leaderEpoch: 4, startOffset: -1 }, 'a leader read it');
});

t.test("a share coordinator that never answers: each request ends by the persister's deadline, not replica.socket.timeout.ms", async (t) => {
  // Accepts connections and reads requests, never answers.
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const services = {
    nodeId: 1,
    config: new BrokerConfig({ env: {}, overrides: {} }),
    logger: quiet,
    metadata: {
      topic: () => ({ name: SHARE_GROUP_STATE_TOPIC, partitions: [{}] }),
      partition: () => ({ leader: 2 }),
      brokers: () => [{ nodeId: 2, host: '127.0.0.1', port, rack: null, epoch: 1 }],
    },
    share: { state: { partitionFor: () => 0 } },
  } as unknown as ApiServices;
  // A request timeout far past the test's own timeout: only the deadline can end the call.
  const persister = new InterBrokerStatePersister(() => services, { deadlineMs: 300, requestTimeoutMs: 600_000, retryBackoffMs: 20 });
  t.teardown(() => persister.close());
  const code = await persister.write(KEY, { stateEpoch: 0, startOffset: 0, stateBatches: [] }, 0).then(
    () => ErrorCode.NONE,
    (err: unknown) => (err instanceof KafkaError ? err.code : -1),
  );
  t.equal(code, ErrorCode.NETWORK_EXCEPTION, 'the write fails with the last (timed out) request');
  t.ok(sockets.length >= 1, 'the request reached the coordinator');
});
