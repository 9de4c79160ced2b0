// test/interop room (transactions, issue 13, admin): Apache Kafka's own `kafka-transactions` tool
// (org.apache.kafka.tools.TransactionsCommand from the 4.1 jars in .cache/kafka-jars, see
// kafka-tools.ts) against a broker where a KafkaJS transactional producer committed one
// transaction and keeps a second one open:
//   - `list` shows the transactional id Ongoing on its coordinator, and CompleteCommit after the
//     commit; `--transactional-id-pattern` (ListTransactions v2) and `--duration-filter` (v1)
//     filter it;
//   - `describe --transactional-id` shows producer id, epoch, timeout, start time and the open
//     transaction's partitions;
//   - `describe-producers --topic --partition` shows the producer with its epoch, last sequence,
//     last timestamp, coordinator epoch (-1 before any marker) and the open transaction's first
//     offset (None once the marker is written);
//   - `find-hanging --broker-id` reports nothing hanging, although one partition's open
//     transaction has records stamped 30 minutes ago (older than the tool's 15-minute default),
//     so the tool takes its candidate path: ListTransactions by producer id, then
//     DescribeTransactions, and finds the partition in the coordinator's transaction.
// The tool's tables are parsed into columns; the expected values are those Kafka 4.1 itself
// prints for the same steps (SPOOL_TXN_TARGET=kafka runs this file against it, see
// txn/harness.ts).
import t from 'tap';
import kafkajs from 'kafkajs';
import { requireToolchain, runId } from './common.js';
import { kafkaToolsAvailable, runKafkaClass } from './kafka-tools.js';
import { reportTrace, startTxnTarget } from './txn/harness.js';

const { Kafka, logLevel } = kafkajs;

const TOOL = 'org.apache.kafka.tools.TransactionsCommand';
/** Records stamped this long ago make find-hanging treat a partition's open transaction as a candidate. */
const AGED_MS = 30 * 60_000;
const TXN_TIMEOUT_MS = 600_000;

type Row = Record<string, string>;

/**
 * The tool's table (ToolsUtils.prettyPrintTable: a header line, then one line per row, cells
 * padded and ended by a tab) as rows keyed by header. Throws when the header is not `columns`.
 */
function parseTable(stdout: string, columns: string[]): Row[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const cells = (line: string) => line.split('\t').map((c) => c.trim()).filter((_, i, all) => i < all.length - 1 || all[i] !== '');
  const header = lines.length > 0 ? cells(lines[0]) : [];
  if (JSON.stringify(header) !== JSON.stringify(columns)) throw new Error(`unexpected table header ${JSON.stringify(header)} in:\n${stdout}`);
  return lines.slice(1).map((line) => {
    const values = cells(line);
    return Object.fromEntries(columns.map((c, i) => [c, values[i] ?? '']));
  });
}

const LIST_COLUMNS = ['TransactionalId', 'Coordinator', 'ProducerId', 'TransactionState'];
const DESCRIBE_COLUMNS = [
  'CoordinatorId',
  'TransactionalId',
  'ProducerId',
  'ProducerEpoch',
  'TransactionState',
  'TransactionTimeoutMs',
  'CurrentTransactionStartTimeMs',
  'TransactionDurationMs',
  'TopicPartitions',
];
const PRODUCER_COLUMNS = ['ProducerId', 'ProducerEpoch', 'LatestCoordinatorEpoch', 'LastSequence', 'LastTimestamp', 'CurrentTransactionStartOffset'];
const HANGING_COLUMNS = ['Topic', 'Partition', 'ProducerId', 'ProducerEpoch', 'CoordinatorEpoch', 'StartOffset', 'LastTimestamp', 'Duration(min)'];

const ready = await kafkaToolsAvailable();

t.test('kafka-transactions: list, describe, describe-producers, find-hanging', async (t) => {
  if (!requireToolchain(t, ready, 'java or the Kafka jars (.cache/kafka-jars) are missing')) return;
  const target = await startTxnTarget(t, 'kafka-transactions');
  if (target === null) return;
  t.teardown(() => target.stop());
  t.comment(`target: ${target.kind}`);

  const tool = async (...args: string[]): Promise<string> => {
    const r = await runKafkaClass(TOOL, ['--bootstrap-server', target.bootstrap, ...args], 120_000);
    if (r.timedOut || r.code !== 0) throw new Error(`kafka-transactions ${args.join(' ')}: exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\n${r.stdout}\n${r.stderr}`);
    t.comment(`$ kafka-transactions ${args.join(' ')}\n${r.stdout.trimEnd()}`);
    return r.stdout;
  };

  const topic = `tools-txn-${runId()}`;
  const txnId = `tools-tx-${runId()}`;
  const kafka = new Kafka({ brokers: [target.bootstrap], logLevel: logLevel.NOTHING, clientId: 'kafka-transactions-test' });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = kafka.producer({ transactionalId: txnId, maxInFlightRequests: 1, idempotent: true, transactionTimeout: TXN_TIMEOUT_MS });
  await producer.connect();
  t.teardown(() => producer.disconnect());

  // One committed transaction (offsets 0-1 of partition 1, its marker at 2), then an open one:
  // partition 1 from offset 3, and partition 2 with records stamped AGED_MS ago.
  const first = await producer.transaction();
  await first.send({ topic, messages: [{ value: 'c0', partition: 1 }, { value: 'c1', partition: 1 }] });
  await first.commit();
  const beforeOpen = Date.now();
  const open = await producer.transaction();
  const recentTs = Date.now();
  const agedTs = recentTs - AGED_MS;
  await open.send({ topic, messages: [{ value: 'o0', partition: 1, timestamp: String(recentTs) }] });
  await open.send({ topic, messages: [{ value: 'o1', partition: 2, timestamp: String(agedTs) }, { value: 'o2', partition: 2, timestamp: String(agedTs) }] });
  const afterOpen = Date.now();

  // The read-only commands are independent: run them side by side (each is a JVM start).
  const [listOut, describeOut, producers1Out, producers2Out, producers0Out] = await Promise.all([
    tool('list'),
    tool('describe', '--transactional-id', txnId),
    tool('describe-producers', '--topic', topic, '--partition', '1'),
    tool('describe-producers', '--topic', topic, '--partition', '2'),
    tool('describe-producers', '--topic', topic, '--partition', '0'),
  ]);

  const listed = parseTable(listOut, LIST_COLUMNS).filter((r) => r.TransactionalId === txnId);
  t.equal(listed.length, 1, 'list: the transactional id, once');
  t.equal(listed[0]?.TransactionState, 'Ongoing', 'list: Ongoing while the transaction is open');
  const brokerId = listed[0]?.Coordinator ?? '';
  t.match(brokerId, /^\d+$/, 'list: the coordinator is a broker id');

  const described = parseTable(describeOut, DESCRIBE_COLUMNS);
  t.equal(described.length, 1, 'describe: one row');
  const d = described[0] ?? {};
  const pid = d.ProducerId;
  t.match(pid, /^\d+$/, 'describe: a producer id');
  t.equal(listed[0]?.ProducerId, pid, 'list and describe agree on the producer id');
  t.match(d, { CoordinatorId: brokerId, TransactionalId: txnId, ProducerEpoch: '0', TransactionState: 'Ongoing', TransactionTimeoutMs: String(TXN_TIMEOUT_MS) });
  const start = Number(d.CurrentTransactionStartTimeMs);
  t.ok(start >= beforeOpen && start <= afterOpen, `describe: the transaction started when it added its first partition (${start} in [${beforeOpen}, ${afterOpen}])`);
  t.ok(Number(d.TransactionDurationMs) >= 0, 'describe: a duration');
  t.same(d.TopicPartitions.split(',').sort(), [`${topic}-1`, `${topic}-2`], 'describe: the open transaction has partitions 1 and 2');

  t.same(
    parseTable(producers1Out, PRODUCER_COLUMNS),
    [{ ProducerId: pid, ProducerEpoch: '0', LatestCoordinatorEpoch: '0', LastSequence: '2', LastTimestamp: String(recentTs), CurrentTransactionStartOffset: '3' }],
    'describe-producers partition 1: sequences 0-2, a marker from coordinator epoch 0, the open transaction from offset 3',
  );
  t.same(
    parseTable(producers2Out, PRODUCER_COLUMNS),
    [{ ProducerId: pid, ProducerEpoch: '0', LatestCoordinatorEpoch: '-1', LastSequence: '1', LastTimestamp: String(agedTs), CurrentTransactionStartOffset: '0' }],
    'describe-producers partition 2: no marker yet (coordinator epoch -1), the open transaction from offset 0',
  );
  t.same(parseTable(producers0Out, PRODUCER_COLUMNS), [], 'describe-producers partition 0: nobody wrote there');

  // find-hanging alone, so the trace shows what it asked.
  const traced = target.trace?.events.length ?? 0;
  const hanging = await tool('find-hanging', '--broker-id', brokerId);
  t.same(parseTable(hanging, HANGING_COLUMNS), [], 'find-hanging: nothing hanging');
  if (target.trace !== null) {
    const asked = target.trace.events.slice(traced).filter((e) => [61, 65, 66].includes(e.apiKey));
    const apis = [...new Set(asked.map((e) => e.api))].sort();
    t.same(apis, ['DescribeProducers', 'DescribeTransactions', 'ListTransactions'], 'find-hanging checked the aged candidate with the coordinator');
    t.same(asked.flatMap((e) => e.errors), [], 'find-hanging: no errors');
  } else {
    t.comment('SPOOL_TXN_TRACE=0: not checking which requests find-hanging sent');
  }

  await open.commit();

  const escaped = txnId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [afterList, patternList, prefixList, durationList, afterDescribe, afterProducers1] = await Promise.all([
    tool('list'),
    tool('list', '--transactional-id-pattern', `${escaped.slice(0, -3)}.*`),
    tool('list', '--transactional-id-pattern', escaped.slice(0, -1)),
    tool('list', '--duration-filter', '3600000'),
    tool('describe', '--transactional-id', txnId),
    tool('describe-producers', '--topic', topic, '--partition', '1'),
  ]);
  const mine = (out: string) => parseTable(out, LIST_COLUMNS).filter((r) => r.TransactionalId === txnId);
  t.same(mine(afterList), [{ TransactionalId: txnId, Coordinator: brokerId, ProducerId: pid, TransactionState: 'CompleteCommit' }], 'list after the commit: CompleteCommit');
  t.same(mine(patternList).map((r) => r.TransactionState), ['CompleteCommit'], 'list --transactional-id-pattern: a pattern matching the whole id');
  t.same(parseTable(prefixList, LIST_COLUMNS), [], 'list --transactional-id-pattern: a pattern matching only a prefix lists nothing');
  t.same(mine(durationList), [], 'list --duration-filter 3600000: the transaction is not an hour old');
  t.match(parseTable(afterDescribe, DESCRIBE_COLUMNS), [{ ProducerId: pid, ProducerEpoch: '0', TransactionState: 'CompleteCommit', TopicPartitions: '' }], 'describe after the commit: no partitions');
  const p1 = parseTable(afterProducers1, PRODUCER_COLUMNS);
  t.match(p1, [{ ProducerId: pid, ProducerEpoch: '0', LatestCoordinatorEpoch: '0', LastSequence: '2', CurrentTransactionStartOffset: 'None' }], 'describe-producers after the commit: no open transaction');
  t.ok(Number(p1[0]?.LastTimestamp) >= afterOpen, "describe-producers after the commit: the last timestamp is the marker's");

  reportTrace(t, target, (e) => [61, 65, 66].includes(e.apiKey));
});
