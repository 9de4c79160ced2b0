// coordinator/runtime room tests: loading shards by replay, serialized writes answered after their
// append, failed appends, leadership changes and stale epochs — with a small key/value shard and
// an in-memory partition log, without a broker.
import t from 'tap';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import type { CoordinatorPartitionLog, CoordinatorRecord, CoordinatorLogger } from '../../src/coordinator/runtime/ports.js';
import { CoordinatorRuntime, type CoordinatorShard, type CoordinatorShardContext } from '../../src/coordinator/runtime/runtime.js';
import { ManualClock, MemoryPartitionLog } from '../../src/coordinator/runtime/memory-log.js';

const silent: CoordinatorLogger = { debug() {}, info() {}, warn() {}, error() {} };

const put = (key: string, value: string | null): CoordinatorRecord => ({ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) });

/** A key/value map rebuilt from its records: the smallest shard that shows what replay did. */
class KvShard implements CoordinatorShard {
  readonly state = new Map<string, string>();
  readonly replayed: string[] = [];
  loaded = false;
  unloaded = false;

  constructor(readonly context: CoordinatorShardContext<KvShard>) {}

  replay(record: CoordinatorRecord): void {
    const key = record.key.toString();
    this.replayed.push(key);
    if (record.value === null) this.state.delete(key);
    else this.state.set(key, record.value.toString());
  }

  onLoaded(): void {
    this.loaded = true;
  }

  onUnloaded(): void {
    this.unloaded = true;
  }
}

function setup(log: CoordinatorPartitionLog = new MemoryPartitionLog(3), clock = new ManualClock()) {
  const shards: KvShard[] = [];
  const runtime = new CoordinatorRuntime<KvShard>({
    topic: '__test_state',
    numPartitions: 3,
    log,
    clock,
    logger: silent,
    shardFactory: (context) => {
      const shard = new KvShard(context);
      shards.push(shard);
      return shard;
    },
  });
  return { runtime, shards, clock };
}

/** Lets promise callbacks (appends, replays, pending answers) run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  await flush();
  return Promise.race([p, Promise.resolve('pending' as const)]);
}

/** The error code a rejected operation carried. */
async function rejection(p: Promise<unknown>): Promise<number | string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof KafkaError ? err.code : String(err);
  }
}

/** A write that sets `key` to `value` and answers with what it saw before. */
const setKey = (key: string, value: string) => (shard: KvShard) => ({ records: [put(key, value)], response: shard.state.get(key) ?? null });

t.test('an elected partition loads by replaying every record, and answers LOAD_IN_PROGRESS until loaded', async (t) => {
  const log = new MemoryPartitionLog(3);
  log.partitions[1].push(put('a', '1'), put('b', '2'), put('a', '3'), put('b', null));
  const { runtime, shards } = setup(log);
  t.equal(runtime.shardError(1), ErrorCode.NOT_COORDINATOR, 'not led here before the election');
  runtime.onElection(1, 0);
  t.equal(runtime.shardError(1), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  t.throws(() => runtime.scheduleReadOperation(1, (s) => s.state.size), { code: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
  t.equal(await rejection(runtime.scheduleWriteOperation('w', 1, setKey('x', '1'))), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  t.equal(await runtime.awaitLoaded(1, 1000), ErrorCode.NONE);
  t.equal(runtime.shardError(1), ErrorCode.NONE);
  t.equal(shards.length, 1);
  t.same(shards[0].replayed, ['a', 'b', 'a', 'b'], 'every record, in log order');
  t.same([...shards[0].state], [['a', '3']], 'later records and tombstones win');
  t.ok(shards[0].loaded);
  t.equal(runtime.shardError(0), ErrorCode.NOT_COORDINATOR, 'other partitions are not ours');
  t.equal(await runtime.awaitLoaded(0, 1000), ErrorCode.NOT_COORDINATOR, 'awaiting a partition not led here answers at once');
  runtime.close();
});

t.test('awaitLoaded gives up with LOAD_IN_PROGRESS after its timeout', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const log: CoordinatorPartitionLog = {
    append: () => Promise.resolve({ lastOffset: 0 }),
    appendMarker: () => Promise.resolve(),
    async *read() {
      await gate;
      yield put('k', 'v');
    },
  };
  const { runtime, clock } = setup(log);
  runtime.onElection(0, 0);
  const waiting = runtime.awaitLoaded(0, 500);
  clock.advance(500);
  t.equal(await waiting, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  release();
  t.equal(await runtime.awaitLoaded(0, 500), ErrorCode.NONE);
  t.equal(clock.pendingTimers, 0, 'answered waiters leave no timers');
  runtime.close();
});

t.test('writes on a partition run one at a time in order, each seeing what the previous one committed', async (t) => {
  const log = new MemoryPartitionLog(3);
  const { runtime, shards } = setup(log);
  runtime.onElection(0, 4);
  await runtime.awaitLoaded(0, 1000);
  log.holdAppends = true;
  const ran: string[] = [];
  const write = (value: string) =>
    runtime.scheduleWriteOperation(`set ${value}`, 0, (shard) => {
      ran.push(value);
      return setKey('k', value)(shard);
    });
  const writes = [write('1'), write('2'), write('3')];
  await flush();
  t.same(ran, ['1'], 'the second write waits while the first append is in flight');
  t.equal(log.heldAppends, 1);
  log.releaseHeld();
  t.same(await Promise.all(writes), [null, '1', '2'], 'each op saw the state its predecessors committed');
  t.same(ran, ['1', '2', '3']);
  t.same(log.partitions[0].map((r) => r.value!.toString()), ['1', '2', '3'], 'appended in the order scheduled');
  t.same(log.appendEpochs.map((a) => a.leaderEpoch), [4, 4, 4], 'appended at the leader epoch of the load');
  t.equal(shards[0].state.get('k'), '3');
  runtime.close();
});

t.test('a write is answered only after its append resolves, and changes the shard only then', async (t) => {
  const log = new MemoryPartitionLog(3);
  const { runtime, shards } = setup(log);
  runtime.onElection(2, 0);
  await runtime.awaitLoaded(2, 1000);
  log.holdAppends = true;
  const write = runtime.scheduleWriteOperation('w', 2, setKey('k', 'v'));
  t.equal(await settled(write), 'pending');
  t.equal(shards[0].state.get('k'), undefined, 'not replayed before the append resolved');
  t.equal(runtime.scheduleReadOperation(2, (s) => s.state.size), 0, 'reads see committed state only');
  log.releaseHeld();
  t.equal(await write, null);
  t.equal(shards[0].state.get('k'), 'v');
  runtime.close();
});

t.test('a failed append changes no state and the write rejects with the append error; later writes work', async (t) => {
  const log = new MemoryPartitionLog(3);
  const { runtime, shards } = setup(log);
  runtime.onElection(0, 0);
  await runtime.awaitLoaded(0, 1000);
  await runtime.scheduleWriteOperation('w', 0, setKey('k', 'old'));
  log.failNextAppend = new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, 'below min.insync.replicas');
  t.equal(await rejection(runtime.scheduleWriteOperation('w', 0, setKey('k', 'new'))), ErrorCode.NOT_ENOUGH_REPLICAS);
  t.equal(shards[0].state.get('k'), 'old', 'the failed write was not replayed');
  t.same(shards[0].replayed, ['k'], 'only the committed write was replayed');
  t.equal(await runtime.scheduleWriteOperation('w', 0, setKey('k', 'newer')), 'old');
  t.equal(shards[0].state.get('k'), 'newer');
  runtime.close();
});

t.test('an op with nothing to append is answered at once; an op that throws fails only itself', async (t) => {
  const log = new MemoryPartitionLog(3);
  const { runtime } = setup(log);
  runtime.onElection(0, 0);
  await runtime.awaitLoaded(0, 1000);
  t.equal(await runtime.scheduleWriteOperation('noop', 0, () => ({ records: [], response: 'nothing' })), 'nothing');
  t.same(log.appendEpochs, [], 'the log was not called');
  const failing = runtime.scheduleWriteOperation('bad', 0, () => {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, 'refused');
  });
  const after = runtime.scheduleWriteOperation('w', 0, setKey('k', 'v'));
  t.equal(await rejection(failing), ErrorCode.INVALID_REQUEST);
  t.equal(await after, null);
  runtime.close();
});

t.test('replay: false persists records without replaying them (loading replays them later)', async (t) => {
  const log = new MemoryPartitionLog(3);
  const { runtime, shards } = setup(log);
  runtime.onElection(0, 0);
  await runtime.awaitLoaded(0, 1000);
  await runtime.scheduleWriteOperation('persist', 0, () => ({ records: [put('k', 'v')], response: null, replay: false }));
  t.equal(log.partitions[0].length, 1, 'written');
  t.equal(shards[0].state.get('k'), undefined, 'not replayed');
  runtime.onElection(0, 1);
  await runtime.awaitLoaded(0, 1000);
  t.equal(shards[1].state.get('k'), 'v', 'a reload replays it');
  runtime.close();
});

t.test('resignation unloads the shard: queued and in-flight writes, reads and new writes get NOT_COORDINATOR', async (t) => {
  const log = new MemoryPartitionLog(3);
  const { runtime, shards } = setup(log);
  runtime.onElection(0, 3);
  runtime.onElection(1, 3);
  await runtime.awaitLoaded(0, 1000);
  await runtime.awaitLoaded(1, 1000);
  log.heldPartitions.add(0);
  const inFlight = runtime.scheduleWriteOperation('w1', 0, setKey('k', '1'));
  const queued = runtime.scheduleWriteOperation('w2', 0, setKey('k', '2'));
  await flush();
  runtime.onResignation(0, 3);
  t.equal(await rejection(inFlight), ErrorCode.NOT_COORDINATOR);
  t.equal(await rejection(queued), ErrorCode.NOT_COORDINATOR);
  t.ok(shards[0].unloaded, 'the shard was told to unload');
  t.equal(runtime.shardError(0), ErrorCode.NOT_COORDINATOR);
  t.throws(() => runtime.scheduleReadOperation(0, (s) => s.state.size), { code: ErrorCode.NOT_COORDINATOR });
  t.equal(await rejection(runtime.scheduleWriteOperation('w3', 0, setKey('k', '3'))), ErrorCode.NOT_COORDINATOR);
  log.releaseHeld(0);
  await flush();
  t.equal(shards[0].state.get('k'), undefined, 'an append that resolves after unloading is not replayed');
  t.equal(await runtime.scheduleWriteOperation('w', 1, setKey('k', 'v')), null, 'other partitions keep serving');
  t.same(runtime.ownedPartitions(), [1]);
  runtime.close();
});

t.test('stale epochs are ignored: older elections and resignations leave the loaded shard alone', async (t) => {
  const { runtime, shards } = setup();
  runtime.onElection(0, 5);
  await runtime.awaitLoaded(0, 1000);
  runtime.onElection(0, 4);
  runtime.onElection(0, 5);
  t.equal(shards.length, 1, 'no new shard for an epoch not newer than the loaded one');
  runtime.onResignation(0, 4);
  t.equal(runtime.shardError(0), ErrorCode.NONE, 'a resignation from an older epoch does not unload');
  t.notOk(shards[0].unloaded);
  runtime.onResignation(0, 6);
  t.equal(runtime.shardError(0), ErrorCode.NOT_COORDINATOR);
  runtime.onElection(0, 6);
  t.equal(runtime.shardError(0), ErrorCode.NOT_COORDINATOR, 'an election at the epoch we resigned in is stale');
  runtime.onElection(0, 7);
  t.equal(await runtime.awaitLoaded(0, 1000), ErrorCode.NONE);
  t.equal(shards.length, 2);
  t.equal(shards[1].context.leaderEpoch, 7);
  runtime.close();
});

t.test('a newer election while loading supersedes the older load', async (t) => {
  const gates: Array<() => void> = [];
  const log = new MemoryPartitionLog(3);
  log.partitions[0].push(put('a', '1'));
  const gated: CoordinatorPartitionLog = {
    append: (p, e, r) => log.append(p, e, r),
    appendMarker: (p, e, m) => log.appendMarker(p, e, m),
    async *read(partition) {
      await new Promise<void>((resolve) => gates.push(resolve));
      yield* log.read(partition);
    },
  };
  const { runtime, shards } = setup(gated);
  runtime.onElection(0, 1);
  const waiting = runtime.awaitLoaded(0, 60_000);
  await flush();
  t.equal(gates.length, 1, 'the first load is reading');
  runtime.onElection(0, 2);
  await flush();
  t.equal(shards.length, 2);
  t.ok(shards[0].unloaded, 'the superseded shard is unloaded');
  gates[1]();
  t.equal(await waiting, ErrorCode.NONE, 'a waiter of the superseded load is answered when the newer one loads');
  gates[0]();
  await flush();
  t.notOk(shards[0].loaded, 'the superseded load never becomes active');
  t.same(shards[0].replayed, [], 'and stops replaying');
  t.ok(shards[1].loaded);
  await runtime.scheduleWriteOperation('w', 0, setKey('b', '2'));
  t.same(log.appendEpochs, [{ partition: 0, leaderEpoch: 2 }], 'writes go out at the newer epoch');
  t.equal(shards[1].state.get('b'), '2');
  runtime.close();
});

t.test('a partition whose log cannot be read is not served', async (t) => {
  const log: CoordinatorPartitionLog = {
    append: () => Promise.resolve({ lastOffset: 0 }),
    appendMarker: () => Promise.resolve(),
    read: () => {
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'disk gone');
    },
  };
  const { runtime, shards } = setup(log);
  runtime.onElection(0, 0);
  t.equal(await runtime.awaitLoaded(0, 1000), ErrorCode.NOT_COORDINATOR);
  t.equal(runtime.shardError(0), ErrorCode.NOT_COORDINATOR);
  t.ok(shards[0].unloaded);
  runtime.close();
});

t.test('close unloads every shard and ignores later elections', async (t) => {
  const { runtime, shards } = setup();
  runtime.onElection(0, 0);
  runtime.onElection(1, 0);
  await runtime.awaitLoaded(0, 1000);
  await runtime.awaitLoaded(1, 1000);
  runtime.close();
  t.ok(shards.every((s) => s.unloaded));
  t.same(runtime.ownedPartitions(), []);
  runtime.onElection(2, 0);
  t.equal(runtime.shardError(2), ErrorCode.NOT_COORDINATOR);
});
