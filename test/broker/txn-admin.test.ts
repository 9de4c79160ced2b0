// broker room tests (issue 13, transaction admin): DescribeProducers, ListTransactions and
// DescribeTransactions over raw sockets against a broker where KafkaJS transactional producers
// left one transaction committed, one open and one transactional id that only ran InitProducerId — each
// answer checked field by field against what Kafka 4.1 answers for the same state (producer
// ids, epochs, sequences, timestamps, transaction start offsets, filters and error codes).
import t from 'tap';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { DescribeProducersRequest, DescribeProducersResponse } from '../../src/protocol/messages/describe-producers.js';
import { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../../src/protocol/messages/describe-transactions.js';
import { InitProducerIdRequest, InitProducerIdResponse } from '../../src/protocol/messages/init-producer-id.js';
import { ListTransactionsRequest, ListTransactionsResponse } from '../../src/protocol/messages/list-transactions.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type Decoded<S extends { decodeBuffer(b: Buffer, v: number): unknown }> = ReturnType<S['decodeBuffer']>;
type Listed = Decoded<typeof ListTransactionsResponse>;
type Described = Decoded<typeof DescribeTransactionsResponse>;
type Producers = Decoded<typeof DescribeProducersResponse>;

const TOPIC = 'txn-admin';
const TX = 'admin-tx';
const IDLE_TX = 'admin-idle';

const data = tempDir();
let running: RunningBroker;
let client: RawClient;
const producers: Producer[] = [];

t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts' });
  client = await RawClient.connect(running.port);
});
t.teardown(async () => {
  client.close();
  for (const p of producers) await p.disconnect().catch(() => undefined);
  await running.stop();
  data.cleanup();
});

function listTransactions(version: number, filters: { stateFilters?: string[]; producerIdFilters?: number[]; durationFilter?: number; transactionalIdPattern?: string | null }): Promise<Listed> {
  return client.request<Listed>(66, version, ListTransactionsRequest, ListTransactionsResponse, {
    stateFilters: filters.stateFilters ?? [],
    producerIdFilters: filters.producerIdFilters ?? [],
    durationFilter: filters.durationFilter ?? -1,
    transactionalIdPattern: filters.transactionalIdPattern ?? null,
  });
}

function describeTransactions(ids: string[]): Promise<Described> {
  return client.request<Described>(65, 0, DescribeTransactionsRequest, DescribeTransactionsResponse, { transactionalIds: ids });
}

function describeProducers(topics: Array<{ name: string; partitionIndexes: number[] }>): Promise<Producers> {
  return client.request<Producers>(61, 0, DescribeProducersRequest, DescribeProducersResponse, { topics });
}

/** Listed transactions as sorted "id:state" strings (the coordinator's order is per shard). */
function ids(res: Listed): string[] {
  return res.transactionStates.map((s) => `${s.transactionalId}:${s.transactionState}`).sort();
}

t.test('transaction admin APIs against committed, open and idle transactional ids', async (t) => {
  await running.broker.createTopic(TOPIC, 3);
  const kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING, clientId: 'txn-admin-test' });
  const producer = kafka.producer({ transactionalId: TX, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 600_000 });
  producers.push(producer);
  await producer.connect();

  const ts = Date.now() - 5000;
  const committed = await producer.transaction();
  await committed.send({ topic: TOPIC, messages: [{ value: 'c0', partition: 1, timestamp: String(ts) }, { value: 'c1', partition: 1, timestamp: String(ts + 1) }] });
  await committed.commit();
  // Another transactional id that only ran InitProducerId: Empty at the coordinator.
  const idle = await client.request<Decoded<typeof InitProducerIdResponse>>(22, 4, InitProducerIdRequest, InitProducerIdResponse, {
    transactionalId: IDLE_TX,
    transactionTimeoutMs: 300_000,
    producerId: -1,
    producerEpoch: -1,
  });
  t.equal(idle.errorCode, 0, 'InitProducerId for the idle id');
  const beforeOpen = Date.now();
  const open = await producer.transaction();
  await open.send({ topic: TOPIC, messages: [{ value: 'o0', partition: 1, timestamp: String(ts + 2) }] });
  await open.send({ topic: TOPIC, messages: [{ value: 'o1', partition: 2, timestamp: String(ts + 3) }] });
  const afterOpen = Date.now();

  // Both ids and their producer ids, as the coordinator has them.
  const all = await listTransactions(0, {});
  t.equal(all.errorCode, 0);
  t.same(ids(all), [`${IDLE_TX}:Empty`, `${TX}:Ongoing`], 'v0, no filters: every transactional id with its state');
  const pidOf = (id: string): number => all.transactionStates.find((s) => s.transactionalId === id)?.producerId ?? -1;
  const pid = pidOf(TX);
  const idlePid = pidOf(IDLE_TX);
  t.ok(pid >= 0 && pid !== idlePid, 'each id has its own producer id');
  t.equal(idlePid, idle.producerId, "the idle id's producer id is the one InitProducerId gave");

  await t.test('DescribeTransactions: the open transaction, an unknown id, an empty id', async (t) => {
    const res = await describeTransactions([TX, 'no-such-id', '', IDLE_TX]);
    t.equal(res.transactionStates.length, 4);
    const [tx, unknown, empty, idleState] = res.transactionStates;
    t.match(tx, { errorCode: 0, transactionalId: TX, transactionState: 'Ongoing', transactionTimeoutMs: 600_000, producerId: pid, producerEpoch: 0 });
    t.ok(tx.transactionStartTimeMs >= beforeOpen && tx.transactionStartTimeMs <= afterOpen, 'started when the open transaction added its first partition');
    t.same(tx.topics, [{ topic: TOPIC, partitions: [1, 2] }], 'the partitions the open transaction added');
    t.same(unknown, {
      errorCode: 105, // TRANSACTIONAL_ID_NOT_FOUND
      transactionalId: 'no-such-id',
      transactionState: '',
      transactionTimeoutMs: 0,
      transactionStartTimeMs: 0,
      producerId: 0,
      producerEpoch: 0,
      topics: [],
    });
    t.match(empty, { errorCode: 42, transactionalId: '' }, 'an empty id is INVALID_REQUEST');
    t.match(idleState, { errorCode: 0, transactionState: 'Empty', transactionTimeoutMs: 300_000, transactionStartTimeMs: -1, producerId: idlePid, topics: [] });
  });

  await t.test('ListTransactions filters: states, producer ids, duration (v1), id pattern (v2)', async (t) => {
    t.same(ids(await listTransactions(0, { stateFilters: ['Ongoing'] })), [`${TX}:Ongoing`]);
    const withUnknown = await listTransactions(0, { stateFilters: ['Ongoing', 'Bogus'] });
    t.same([ids(withUnknown), withUnknown.unknownStateFilters], [[`${TX}:Ongoing`], ['Bogus']], 'unknown state names are reported back');
    const onlyUnknown = await listTransactions(0, { stateFilters: ['Bogus'] });
    t.same([ids(onlyUnknown), onlyUnknown.unknownStateFilters], [[], ['Bogus']], 'only unknown states given: nothing matches (as Kafka)');
    t.same(ids(await listTransactions(0, { producerIdFilters: [idlePid] })), [`${IDLE_TX}:Empty`]);
    t.same(ids(await listTransactions(0, { producerIdFilters: [pid, idlePid], stateFilters: ['Empty', 'CompleteCommit'] })), [`${IDLE_TX}:Empty`]);
    t.same(ids(await listTransactions(0, { producerIdFilters: [999_999] })), []);
    // Kafka compares now - start with the duration, so an id with no transaction (start -1) always passes.
    t.same(ids(await listTransactions(1, { durationFilter: 3_600_000 })), [`${IDLE_TX}:Empty`], 'v1: running longer than an hour');
    t.same(ids(await listTransactions(1, { durationFilter: 0 })), [`${IDLE_TX}:Empty`, `${TX}:Ongoing`]);
    t.same(ids(await listTransactions(2, { transactionalIdPattern: 'admin-t.' })), [`${TX}:Ongoing`], 'v2: pattern matching the whole id');
    t.same(ids(await listTransactions(2, { transactionalIdPattern: 'admin' })), [], 'a prefix does not match');
    t.same(ids(await listTransactions(2, { transactionalIdPattern: '' })), [`${IDLE_TX}:Empty`, `${TX}:Ongoing`], 'an empty pattern is no filter');
    const invalid = await listTransactions(2, { transactionalIdPattern: 'admin-(' });
    t.same([invalid.errorCode, invalid.transactionStates], [128, []], 'an invalid expression is INVALID_REGULAR_EXPRESSION');
  });

  await t.test('DescribeProducers: producer state per partition, and the errors', async (t) => {
    const res = await describeProducers([
      { name: TOPIC, partitionIndexes: [0, 1, 2, 9] },
      { name: 'no-such-topic', partitionIndexes: [0] },
      { name: 'bad/name', partitionIndexes: [0] },
    ]);
    t.equal(res.topics.length, 3);
    const [p0, p1, p2, p9] = res.topics[0].partitions;
    t.same(p0, { partitionIndex: 0, errorCode: 0, errorMessage: null, activeProducers: [] }, 'a partition nobody wrote to');
    // Partition 1: the committed transaction's two records (sequences 0-1, offsets 0-1), its
    // commit marker (offset 2), then the open transaction's record (sequence 2, offset 3).
    t.same(p1, {
      partitionIndex: 1,
      errorCode: 0,
      errorMessage: null,
      activeProducers: [{ producerId: pid, producerEpoch: 0, lastSequence: 2, lastTimestamp: ts + 2, coordinatorEpoch: 0, currentTxnStartOffset: 3 }],
    });
    t.same(p2.activeProducers, [{ producerId: pid, producerEpoch: 0, lastSequence: 0, lastTimestamp: ts + 3, coordinatorEpoch: -1, currentTxnStartOffset: 0 }], 'no marker yet: coordinator epoch -1');
    t.same(p9, { partitionIndex: 9, errorCode: 3, errorMessage: null, activeProducers: [] }, 'a partition the topic lacks: UNKNOWN_TOPIC_OR_PARTITION');
    t.same(res.topics[1], {
      name: 'no-such-topic',
      partitions: [{ partitionIndex: 0, errorCode: 3, errorMessage: 'This server does not host this topic-partition.', activeProducers: [] }],
    });
    t.match(res.topics[2].partitions[0], { partitionIndex: 0, errorCode: 17, errorMessage: /illegal/, activeProducers: [] }, 'an illegal name: INVALID_TOPIC_EXCEPTION');
  });

  await open.commit();

  await t.test('after the commit: CompleteCommit, no open transaction on the partitions', async (t) => {
    t.same(ids(await listTransactions(0, {})), [`${IDLE_TX}:Empty`, `${TX}:CompleteCommit`]);
    const [tx] = (await describeTransactions([TX])).transactionStates;
    t.match(tx, { errorCode: 0, transactionState: 'CompleteCommit', producerId: pid, producerEpoch: 0, topics: [] });
    const res = await describeProducers([{ name: TOPIC, partitionIndexes: [1, 2] }]);
    for (const p of res.topics[0].partitions) {
      t.equal(p.activeProducers.length, 1, `partition ${p.partitionIndex}: one producer`);
      t.match(p.activeProducers[0], { producerId: pid, currentTxnStartOffset: -1, coordinatorEpoch: 0 }, `partition ${p.partitionIndex}: the marker closed the transaction`);
      t.ok(p.activeProducers[0].lastTimestamp >= afterOpen, `partition ${p.partitionIndex}: last timestamp is the marker's`);
    }
  });
});
