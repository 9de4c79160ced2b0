// coordinator/txn room tests: the transaction coordinator's state machine on an in-memory
// __transaction_state and a manual clock — InitProducerId (epoch bumps, fencing an open
// transaction), AddPartitionsToTxn, EndTxn and its retries, the marker round and Complete state,
// CONCURRENT_TRANSACTIONS while markers are pending, timeouts that abort and fence, transactional
// id expiration, and a reload that resumes a decided transaction. Records are Kafka's format.
import pino from 'pino';
import t from 'tap';
import { MemoryPartitionLog, ManualClock } from '../../src/coordinator/runtime/memory-log.js';
import { TransactionCoordinator, defaultTxnCoordinatorConfig, type MarkerRequest, type TxnMarkerWriter } from '../../src/coordinator/txn/index.js';
import { TxnState, decodeTxnKey, decodeTxnValue, encodeTxnKey, encodeTxnValue } from '../../src/coordinator/txn/records.js';
import { ErrorCode } from '../../src/errors.js';

const NUM_PARTITIONS = 3;

/** Records marker rounds; each resolves when the test releases it (or at once when `auto`). */
class FakeMarkers implements TxnMarkerWriter {
  readonly requests: MarkerRequest[] = [];
  auto = true;
  private held: Array<() => void> = [];
  writeMarkers(request: MarkerRequest): Promise<void> {
    this.requests.push(request);
    if (this.auto) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function setup(log = new MemoryPartitionLog(NUM_PARTITIONS), clock = new ManualClock(), markers = new FakeMarkers()) {
  let nextPid = 1000;
  const coordinator = new TransactionCoordinator({
    log,
    numPartitions: NUM_PARTITIONS,
    clock,
    logger: pino({ level: 'silent' }),
    config: { ...defaultTxnCoordinatorConfig, abortTimedOutTransactionCleanupIntervalMs: 1000, transactionalIdExpirationMs: 60_000, removeExpiredTransactionalIdCleanupIntervalMs: 5000 },
    markers,
    generateProducerId: () => Promise.resolve(nextPid++),
  });
  for (let p = 0; p < NUM_PARTITIONS; p++) coordinator.onElection(p, 4);
  for (let p = 0; p < NUM_PARTITIONS; p++) await coordinator.awaitLoaded(p, 1000);
  return { coordinator, log, clock, markers };
}

const init = (c: TransactionCoordinator, id: string, producerId = -1, producerEpoch = -1, timeoutMs = 60_000) =>
  c.initProducerId({ transactionalId: id, transactionTimeoutMs: timeoutMs, producerId, producerEpoch });

const state = (c: TransactionCoordinator, id: string) => c.describeTransactions([id])[0];

t.test('records round-trip in Kafka format', async (t) => {
  t.equal(decodeTxnKey(encodeTxnKey('tx-é')), 'tx-é');
  const key = encodeTxnKey('ab');
  t.same([...key], [0, 0, 0, 2, 0x61, 0x62], 'key: version 0, int16-length string');
  const v = {
    producerId: 42,
    producerEpoch: 3,
    previousProducerId: -1,
    transactionTimeoutMs: 60000,
    state: TxnState.Ongoing,
    partitions: [{ topic: 'orders', partitions: [0, 2] }],
    lastUpdateTimestampMs: 1700000000123,
    startTimestampMs: 1700000000000,
  };
  t.same(decodeTxnValue(encodeTxnValue(v)), v);
  const bytes = encodeTxnValue(v);
  t.equal(bytes.readInt16BE(0), 0, 'value version 0');
  t.equal(bytes.readInt8(2 + 8 + 2 + 4), TxnState.Ongoing, 'status byte after producer id, epoch and timeout');
  const empty = encodeTxnValue({ ...v, state: TxnState.Empty, partitions: [] });
  t.equal(empty.readInt32BE(2 + 8 + 2 + 4 + 1), -1, 'an Empty transaction writes a null partition list');
});

t.test('a commit: init, add partitions, end, marker round, CompleteCommit; retries and misuse', async (t) => {
  const { coordinator, markers } = await setup();
  const first = await init(coordinator, 'tx');
  t.same(first, { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 });
  t.equal(state(coordinator, 'tx').transactionState, 'Empty');
  const { producerId } = first;

  t.equal(await coordinator.addPartitionsToTxn('tx', producerId + 1, 0, [{ topic: 'a', partitions: [0] }]), ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'wrong producer id');
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 1, [{ topic: 'a', partitions: [0] }]), ErrorCode.PRODUCER_FENCED, 'wrong epoch');
  t.equal(await coordinator.addPartitionsToTxn('nope', producerId, 0, [{ topic: 'a', partitions: [0] }]), ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'unknown transactional id');
  t.equal(await coordinator.endTxn('tx', producerId, 0, true), ErrorCode.INVALID_TXN_STATE, 'EndTxn with no transaction');

  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0, 1] }]), ErrorCode.NONE);
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'b', partitions: [3] }, { topic: 'a', partitions: [1] }]), ErrorCode.NONE);
  const ongoing = state(coordinator, 'tx');
  t.equal(ongoing.transactionState, 'Ongoing');
  t.same(ongoing.topics, [
    { topic: 'a', partitions: [0, 1] },
    { topic: 'b', partitions: [3] },
  ]);
  t.ok(ongoing.transactionStartTimeMs > 0);

  markers.auto = false;
  t.equal(await coordinator.endTxn('tx', producerId, 0, true), ErrorCode.NONE, 'EndTxn answers once PrepareCommit is written');
  await flush();
  t.equal(state(coordinator, 'tx').transactionState, 'PrepareCommit');
  t.same(markers.requests, [{ transactionalId: 'tx', producerId, producerEpoch: 0, coordinatorEpoch: 4, commit: true, partitions: ongoing.topics.map((x) => ({ topic: x.topic, partitions: x.partitions })) }], 'one marker round: every partition, the coordinator epoch = leader epoch');
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }]), ErrorCode.CONCURRENT_TRANSACTIONS, 'the next transaction waits for the markers');
  t.equal(await coordinator.endTxn('tx', producerId, 0, true), ErrorCode.CONCURRENT_TRANSACTIONS, 'a retried commit while markers are pending');
  t.equal(await coordinator.endTxn('tx', producerId, 0, false), ErrorCode.INVALID_TXN_STATE, 'abort after commit was decided');
  t.equal((await init(coordinator, 'tx')).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS, 'InitProducerId waits too');
  markers.release();
  await flush();
  const done = state(coordinator, 'tx');
  t.equal(done.transactionState, 'CompleteCommit');
  t.same(done.topics, [], 'partitions cleared');
  t.equal(await coordinator.endTxn('tx', producerId, 0, true), ErrorCode.NONE, 'a retried commit of a completed one succeeds');
  t.equal(await coordinator.endTxn('tx', producerId, 0, false), ErrorCode.INVALID_TXN_STATE);

  const again = await init(coordinator, 'tx', producerId, 0);
  t.same(again, { errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 }, 'KIP-360 re-init with the current id and epoch: next epoch');
  t.equal((await init(coordinator, 'tx', producerId, 0)).producerEpoch, 1, 'a retry of that re-init gets the same answer');
  t.equal((await init(coordinator, 'tx', 999, 0)).errorCode, ErrorCode.PRODUCER_FENCED, 'an unknown producer id in a re-init is fenced');
  t.equal((await init(coordinator, 'tx', -1, -1, 0)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  t.equal((await init(coordinator, 'tx', -1, -1, 900_001)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  coordinator.close();
});

t.test('a new producer instance fences the open transaction of the old one: aborted with a bumped epoch', async (t) => {
  const { coordinator, markers } = await setup();
  const { producerId } = await init(coordinator, 'tx');
  await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }]);
  const fencing = await init(coordinator, 'tx');
  t.equal(fencing.errorCode, ErrorCode.CONCURRENT_TRANSACTIONS, 'the new instance retries while the old transaction is aborted');
  await flush();
  t.same(
    markers.requests.map((m) => [m.commit, m.producerEpoch]),
    [[false, 1]],
    'abort markers carry the bumped epoch (partitions then refuse the old epoch)',
  );
  t.equal(state(coordinator, 'tx').transactionState, 'CompleteAbort');
  t.equal(await coordinator.endTxn('tx', producerId, 0, true), ErrorCode.PRODUCER_FENCED, 'the old instance is fenced');
  const retried = await init(coordinator, 'tx');
  t.same(retried, { errorCode: ErrorCode.NONE, producerId, producerEpoch: 2 });
  coordinator.close();
});

t.test('a transaction open past its timeout is aborted and its producer fenced', async (t) => {
  const { coordinator, clock, markers } = await setup();
  const { producerId } = await init(coordinator, 'slow', -1, -1, 3000);
  await coordinator.addPartitionsToTxn('slow', producerId, 0, [{ topic: 'a', partitions: [1] }]);
  clock.advance(2000);
  await flush();
  t.equal(state(coordinator, 'slow').transactionState, 'Ongoing', 'not yet');
  clock.advance(2000);
  await flush();
  t.equal(state(coordinator, 'slow').transactionState, 'CompleteAbort', 'aborted by the timer');
  t.same(markers.requests.map((m) => [m.transactionalId, m.commit, m.producerEpoch]), [['slow', false, 1]]);
  t.equal(await coordinator.addPartitionsToTxn('slow', producerId, 0, [{ topic: 'a', partitions: [1] }]), ErrorCode.PRODUCER_FENCED);
  coordinator.close();
});

t.test('idle transactional ids expire; ListTransactions filters', async (t) => {
  const { coordinator, clock } = await setup();
  const a = await init(coordinator, 'a');
  const b = await init(coordinator, 'b');
  await coordinator.addPartitionsToTxn('b', b.producerId, 0, [{ topic: 't', partitions: [0] }]);
  const all = coordinator.listTransactions([], [], -1);
  t.same(
    all.transactions.map((x) => [x.transactionalId, x.transactionState]).sort(),
    [
      ['a', 'Empty'],
      ['b', 'Ongoing'],
    ],
  );
  t.same(coordinator.listTransactions(['Ongoing'], [], -1).transactions.map((x) => x.transactionalId), ['b']);
  t.same(coordinator.listTransactions([], [a.producerId], -1).transactions.map((x) => x.transactionalId), ['a']);
  t.same(coordinator.listTransactions(['Bogus'], [], -1).unknownStateFilters, ['Bogus']);
  t.equal(coordinator.describeTransactions(['zzz'])[0].errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  await coordinator.endTxn('b', b.producerId, 0, true);
  await flush();
  clock.advance(61_000);
  await flush();
  t.same(coordinator.listTransactions([], [], -1).transactions, [], 'both expired after transactional.id.expiration.ms');
  const fresh = await init(coordinator, 'a');
  t.not(fresh.producerId, a.producerId, 'an expired id starts over with a new producer id');
  coordinator.close();
});

t.test('a reload replays the log and resumes the marker round of a decided transaction', async (t) => {
  const log = new MemoryPartitionLog(NUM_PARTITIONS);
  const clock = new ManualClock();
  const held = new FakeMarkers();
  held.auto = false;
  const first = await setup(log, clock, held);
  const { producerId } = await init(first.coordinator, 'tx');
  await first.coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }]);
  await first.coordinator.endTxn('tx', producerId, 0, false);
  await flush();
  t.equal(held.requests.length, 1, 'the first coordinator started the round');
  first.coordinator.close(); // it dies before the markers are written

  const markers = new FakeMarkers();
  const second = await setup(log, clock, markers);
  await flush();
  t.same(markers.requests.map((m) => [m.transactionalId, m.commit, m.producerId]), [['tx', false, producerId]], 'the new coordinator resends the abort markers');
  t.equal(state(second.coordinator, 'tx').transactionState, 'CompleteAbort');
  t.equal((await init(second.coordinator, 'tx')).producerEpoch, 1, 'state carried over: next epoch');
  second.coordinator.close();
});
