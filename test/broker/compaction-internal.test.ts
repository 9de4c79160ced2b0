// broker tests: __transaction_state is compacted and cleaned, and the transaction coordinator loads
// from the cleaned log: after 30 transactions of one transactional id (KafkaJS), cleaning and a
// restart, the id's state is one record; a new producer of the id initializes (fencing the old
// epoch) and commits, and a read_committed consumer sees every committed record.
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { TRANSACTION_STATE_TOPIC } from '../../src/coordinator/txn/index.js';
import { tempDir } from '../helpers/broker.js';
import { brokerEngines, logBytes, partitionLog, startCompactingBroker, waitCleanedUpToActive, type KafkaClient } from '../log/compaction-helpers.js';

const { CompressionTypes } = kafkajs;
const TXNS = 30;
const config = {
  'transaction.state.log.num.partitions': 1,
  'transaction.state.log.replication.factor': 1,
  'transaction.state.log.min.isr': 1,
  'transaction.state.log.segment.bytes': 1024,
  'log.cleaner.min.cleanable.ratio': 0.01,
};

async function transactions(kafka: KafkaClient, count: number, from: number): Promise<void> {
  const producer = kafka.producer({ transactionalId: 'tx-1', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < count; i++) {
    const txn = await producer.transaction();
    await txn.send({ topic: 'data', compression: CompressionTypes.None, messages: [{ key: `k${from + i}`, value: `v${from + i}` }] });
    await txn.commit();
  }
  await producer.disconnect();
}

async function readCommitted(kafka: KafkaClient, expected: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `rc-${Date.now()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: 'data', fromBeginning: true });
  const values: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${values.length} of ${expected}`)), 30_000);
      void consumer.run({
        eachMessage: ({ message }) => {
          values.push(message.value?.toString() ?? '');
          if (values.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

for (const engine of await brokerEngines(t)) {
  t.test(`${engine}: __transaction_state is cleaned and the transaction coordinator loads from it`, async (t) => {
    const d = tempDir('spool-compaction-txn-');
    t.teardown(d.cleanup);
    let { running, kafka } = await startCompactingBroker(d.dir, engine, config);
    t.teardown(() => running.stop());
    await running.broker.createTopic('data', 1);
    await transactions(kafka, TXNS, 0);
    const stateLog = partitionLog(running, TRANSACTION_STATE_TOPIC);
    t.same(stateLog.config.cleanupPolicy, ['compact'], '__transaction_state is compacted');
    t.equal(stateLog.config.segmentBytes, 1024, 'with transaction.state.log.segment.bytes');
    const written = stateLog.logEndOffset;
    t.ok(written >= 2 * TXNS, `${written} transaction state records written`);
    await waitCleanedUpToActive(running, TRANSACTION_STATE_TOPIC);
    const bytes = logBytes(stateLog);
    await running.stop();

    const lines: Array<{ msg?: string; topic?: string; records?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as (typeof lines)[number]) });
    ({ running, kafka } = await startCompactingBroker(d.dir, engine, config, logger));
    await transactions(kafka, 1, TXNS);
    const load = lines.find((l) => l.msg === 'coordinator shard loaded' && l.topic === TRANSACTION_STATE_TOPIC);
    t.ok(load?.records !== undefined && load.records < written / 2, `the load replayed ${load?.records} of ${written} records (${bytes} bytes)`);
    const values = await readCommitted(kafka, TXNS + 1);
    t.same(
      values,
      Array.from({ length: TXNS + 1 }, (_, i) => `v${i}`),
      'every committed record, once, after the restart',
    );
  });
}
