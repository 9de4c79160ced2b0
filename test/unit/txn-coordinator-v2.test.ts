// coordinator/txn room tests: transaction protocol version 2 (KIP-890 part 2) on the transaction
// coordinator — EndTxn v5 bumps the epoch at every transaction end (the marker round carries the
// bumped epoch, the answer returns it), retries with the pre-bump epoch, an exhausted epoch moving
// to NextProducerId, fencing of a V2 transaction (a retried EndTxn of the fenced producer stays
// fenced), a V1 client keeping its epoch on the same coordinator, and the v1 (flexible)
// __transaction_state value with its tagged fields, also across a reload.
import pino from 'pino';
import t from 'tap';
import { MemoryPartitionLog, ManualClock } from '../../src/coordinator/runtime/memory-log.js';
import { TransactionCoordinator, defaultTxnCoordinatorConfig, type MarkerRequest, type TxnMarkerWriter } from '../../src/coordinator/txn/index.js';
import { TxnState, decodeTxnValue, encodeTxnValue, type TxnLogValue } from '../../src/coordinator/txn/records.js';
import { ErrorCode } from '../../src/errors.js';

const NUM_PARTITIONS = 3;

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

async function setup(log = new MemoryPartitionLog(NUM_PARTITIONS), clock = new ManualClock(), markers = new FakeMarkers(), firstPid = 1000) {
  let nextPid = firstPid;
  const coordinator = new TransactionCoordinator({
    log,
    numPartitions: NUM_PARTITIONS,
    clock,
    logger: pino({ level: 'silent' }),
    config: { ...defaultTxnCoordinatorConfig, abortTimedOutTransactionCleanupIntervalMs: 1000 },
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

/** The last value written for `id` on the memory log, decoded. */
function lastValue(log: MemoryPartitionLog, c: TransactionCoordinator, id: string): { version: number; value: TxnLogValue } {
  const records = log.partitions[c.partitionFor(id)].filter((r) => r.value !== null && r.key.length > 0);
  const last = records.at(-1);
  if (last?.value == null) throw new Error('no record');
  return { version: last.value.readInt16BE(0), value: decodeTxnValue(last.value) };
}

t.test('v1 value: flexible, tagged PreviousProducerId/NextProducerId/ClientTransactionVersion', async (t) => {
  const v: TxnLogValue = {
    producerId: 42,
    producerEpoch: 7,
    previousProducerId: 41,
    nextProducerId: 43,
    clientTransactionVersion: 2,
    transactionTimeoutMs: 60000,
    state: TxnState.PrepareCommit,
    partitions: [{ topic: 'orders', partitions: [0, 2] }],
    lastUpdateTimestampMs: 1700000000123,
    startTimestampMs: 1700000000000,
  };
  const bytes = encodeTxnValue(v);
  t.equal(bytes.readInt16BE(0), 1, 'value version 1');
  t.same(decodeTxnValue(bytes), v);
  // Kafka's layout: ProducerId, ProducerEpoch, TimeoutMs, Status, compact array, timestamps, tags.
  t.equal(bytes.readInt8(2 + 8 + 2 + 4), TxnState.PrepareCommit);
  t.equal(bytes[2 + 8 + 2 + 4 + 1], 2, 'compact array length + 1');
  const empty = encodeTxnValue({ ...v, state: TxnState.Empty, partitions: [], previousProducerId: -1, nextProducerId: -1 });
  t.equal(empty[2 + 8 + 2 + 4 + 1], 0, 'an Empty transaction: null compact array');
  t.same(decodeTxnValue(empty), { ...v, state: TxnState.Empty, partitions: [], previousProducerId: -1, nextProducerId: -1 });
  t.equal(empty.at(-1), 2 /* the tag's value, low byte of int16 2 */, 'only ClientTransactionVersion tagged');
  const v1Client = encodeTxnValue({ ...v, clientTransactionVersion: 0, nextProducerId: -1 });
  t.equal(v1Client.readInt16BE(0), 0, 'without V2 tags: version 0 as before');
});

t.test('TV2: every EndTxn bumps the epoch; markers carry it; the next transaction uses it', async (t) => {
  const { coordinator, log, markers } = await setup();
  const { producerId, producerEpoch } = await init(coordinator, 'tx');
  t.equal(producerEpoch, 0);

  // Produce v12+ / TxnOffsetCommit v5 add partitions implicitly (clientTransactionVersion 2).
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.NONE);
  t.equal(lastValue(log, coordinator, 'tx').value.clientTransactionVersion, 2, 'Ongoing record keeps ClientTransactionVersion 2');

  markers.auto = false;
  const end = await coordinator.endTransaction('tx', producerId, 0, true, 2);
  t.same(end, { errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 }, 'EndTxn v5 answers the bumped epoch');
  await flush();
  t.equal(markers.requests.length, 1);
  t.equal(markers.requests[0]?.producerEpoch, 1, 'markers are written with the bumped epoch');
  t.equal(state(coordinator, 'tx').transactionState, 'PrepareCommit');
  t.equal(state(coordinator, 'tx').producerEpoch, 1);

  // A retry with the old epoch while markers are pending / once complete.
  t.same(await coordinator.endTransaction('tx', producerId, 0, true, 2), { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS, producerId: -1, producerEpoch: -1 });
  t.equal((await coordinator.endTransaction('tx', producerId, 1, true, 2)).errorCode, ErrorCode.PRODUCER_FENCED, 'the bumped epoch is not a retry of this end');
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 1, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.CONCURRENT_TRANSACTIONS, 'next transaction waits for the markers');
  markers.release();
  await flush();
  t.equal(state(coordinator, 'tx').transactionState, 'CompleteCommit');
  t.same(await coordinator.endTransaction('tx', producerId, 0, true, 2), { errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 }, 'a retried commit answers the new epoch');
  t.equal((await coordinator.endTransaction('tx', producerId, 0, false, 2)).errorCode, ErrorCode.INVALID_TXN_STATE);

  // The next transaction: epoch 1, ends at epoch 2 (an abort this time).
  markers.auto = true;
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.PRODUCER_FENCED, 'the old epoch is fenced');
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 1, [{ topic: 'a', partitions: [1] }], 2), ErrorCode.NONE);
  t.same(await coordinator.endTransaction('tx', producerId, 1, false, 2), { errorCode: ErrorCode.NONE, producerId, producerEpoch: 2 });
  await flush();
  t.equal(markers.requests.at(-1)?.producerEpoch, 2);
  t.equal(markers.requests.at(-1)?.commit, false);
  t.equal(state(coordinator, 'tx').transactionState, 'CompleteAbort');
  t.equal(state(coordinator, 'tx').producerEpoch, 2);

  // InitProducerId keeps the client transaction version and bumps as before.
  const again = await init(coordinator, 'tx', producerId, 2);
  t.same(again, { errorCode: ErrorCode.NONE, producerId, producerEpoch: 3 });
  t.equal(lastValue(log, coordinator, 'tx').value.clientTransactionVersion, 2);
});

t.test('TV2: an exhausted epoch moves to NextProducerId at the end of the transaction', async (t) => {
  const log = new MemoryPartitionLog(NUM_PARTITIONS);
  const first = await setup(log);
  const { producerId } = await init(first.coordinator, 'tx');
  first.coordinator.close();
  // Put the transactional id near the end of its epochs (as many transactions would).
  const partition = first.coordinator.partitionFor('tx');
  const key = log.partitions[partition].at(-1)?.key;
  if (key === undefined) throw new Error('no record');
  await log.append(partition, 4, [
    {
      key,
      value: encodeTxnValue({
        producerId,
        producerEpoch: 32766,
        previousProducerId: -1,
        clientTransactionVersion: 2,
        transactionTimeoutMs: 60000,
        state: TxnState.Empty,
        partitions: [],
        lastUpdateTimestampMs: 0,
        startTimestampMs: -1,
      }),
    },
  ]);
  const { coordinator, markers } = await setup(log, new ManualClock(), new FakeMarkers(), 2000);
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 32766, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.NONE);
  markers.auto = false;
  const end = await coordinator.endTransaction('tx', producerId, 32766, true, 2);
  t.same(end, { errorCode: ErrorCode.NONE, producerId: 2000, producerEpoch: 0 }, 'the answer is the next producer id at epoch 0');
  await flush();
  t.equal(markers.requests[0]?.producerId, producerId, 'markers: the old producer id ...');
  t.equal(markers.requests[0]?.producerEpoch, 32767, '... at the last epoch');
  const prepared = lastValue(log, coordinator, 'tx');
  t.equal(prepared.version, 1);
  t.equal(prepared.value.nextProducerId, 2000, 'NextProducerId tagged in the PrepareCommit record');
  markers.release();
  await flush();
  const done = lastValue(log, coordinator, 'tx');
  t.equal(done.value.state, TxnState.CompleteCommit);
  t.equal(done.value.producerId, 2000);
  t.equal(done.value.producerEpoch, 0);
  t.equal(done.value.previousProducerId, producerId);
  t.equal(done.value.nextProducerId, -1);
  // A retry of that EndTxn (old id, old epoch) answers the new id.
  t.same(await coordinator.endTransaction('tx', producerId, 32766, true, 2), { errorCode: ErrorCode.NONE, producerId: 2000, producerEpoch: 0 });
  // The next transaction runs on the new id.
  t.equal(await coordinator.addPartitionsToTxn('tx', 2000, 0, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.NONE);
  t.same(await coordinator.endTransaction('tx', 2000, 0, true, 2), { errorCode: ErrorCode.NONE, producerId: 2000, producerEpoch: 1 });
});

t.test('TV2 fencing: a new instance aborts the open transaction; the old EndTxn stays fenced', async (t) => {
  const { coordinator, markers } = await setup();
  const { producerId } = await init(coordinator, 'tx');
  t.equal(await coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.NONE);
  t.same(await init(coordinator, 'tx'), { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS, producerId: -1, producerEpoch: -1 }, 'fences and aborts first');
  await flush();
  t.equal(state(coordinator, 'tx').transactionState, 'CompleteAbort');
  t.equal(markers.requests.at(-1)?.commit, false);
  const abortEpoch = markers.requests.at(-1)?.producerEpoch ?? -1;
  t.equal(abortEpoch, 2, 'the fencing abort of a V2 transaction is two epochs up (fence + end bump, as Kafka)');
  t.equal((await coordinator.endTransaction('tx', producerId, 0, true, 2)).errorCode, ErrorCode.PRODUCER_FENCED, 'the old instance cannot pass as a V2 retry');
  t.equal((await coordinator.endTransaction('tx', producerId, 0, false, 2)).errorCode, ErrorCode.PRODUCER_FENCED);
  const next = await init(coordinator, 'tx');
  t.same(next, { errorCode: ErrorCode.NONE, producerId, producerEpoch: 3 });
});

t.test('TV1 clients keep their epoch on the same coordinator (EndTxn v4)', async (t) => {
  const { coordinator, markers } = await setup();
  const { producerId } = await init(coordinator, 'tx1');
  t.equal(await coordinator.addPartitionsToTxn('tx1', producerId, 0, [{ topic: 'a', partitions: [0] }]), ErrorCode.NONE);
  t.same(await coordinator.endTransaction('tx1', producerId, 0, true, 1), { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 });
  await flush();
  t.equal(markers.requests.at(-1)?.producerEpoch, 0, 'V1 markers keep the epoch');
  t.equal(await coordinator.endTxn('tx1', producerId, 0, true), ErrorCode.NONE, 'a V1 retry of a completed commit');
  t.equal(await coordinator.addPartitionsToTxn('tx1', producerId, 0, [{ topic: 'a', partitions: [0] }]), ErrorCode.NONE, 'the next V1 transaction, same epoch');
  t.equal(await coordinator.endTxn('tx1', producerId, 0, false), ErrorCode.NONE);
  await flush();
  t.equal(state(coordinator, 'tx1').producerEpoch, 0);

  // A client switching to V2 (after an upgrade) on the same transactional id.
  t.equal(await coordinator.addPartitionsToTxn('tx1', producerId, 0, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.NONE);
  t.same(await coordinator.endTransaction('tx1', producerId, 0, true, 2), { errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 });
});

t.test('TV2 state survives a reload (ClientTransactionVersion from the v1 records)', async (t) => {
  const log = new MemoryPartitionLog(NUM_PARTITIONS);
  const first = await setup(log);
  const { producerId } = await init(first.coordinator, 'tx');
  t.equal(await first.coordinator.addPartitionsToTxn('tx', producerId, 0, [{ topic: 'a', partitions: [0] }], 2), ErrorCode.NONE);
  first.markers.auto = false;
  t.equal((await first.coordinator.endTransaction('tx', producerId, 0, true, 2)).producerEpoch, 1);
  first.coordinator.close();
  const second = await setup(log);
  await flush();
  t.equal(second.markers.requests[0]?.producerEpoch, 1, 'the new coordinator resends markers with the bumped epoch');
  await flush();
  t.equal(state(second.coordinator, 'tx').transactionState, 'CompleteCommit');
  t.same(await second.coordinator.endTransaction('tx', producerId, 0, true, 2), { errorCode: ErrorCode.NONE, producerId, producerEpoch: 1 }, 'V2 retry recognised after reload');
});
