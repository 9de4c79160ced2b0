// test/interop room (transactions, issue 13): KafkaJS 2 (in this process) against the broker —
// producer.transaction() send / commit / abort for 10 transactions × 100 records over 3
// partitions: every record acknowledged at the offset Kafka gives it; a group consumer with
// readUncommitted: false reads exactly the committed records in order at their offsets (gaps at
// markers and aborted records), readUncommitted: true all of them; and transaction.sendOffsets
// (TxnOffsetCommit without a live member): the group's offsets move only with a commit.
// Runs against Spool by default; SPOOL_TXN_TARGET=kafka runs it against Apache Kafka (the reference release, 4.4) itself
// (see txn/harness.ts for that and the protocol trace it prints).
import t from 'tap';
import kafkajs from 'kafkajs';
import { runId } from './common.js';
import { diffConsumed, diffDelivered, perPartition, reportTrace, startTxnTarget, TXN_PARTITIONS, txnLayout, type TxnConsumed } from './txn/harness.js';

const { Kafka, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails instead of hanging: KafkaJS retries some refusals for a long time. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Reads a topic from the start in a fresh group until `expected` records (or 8 s without one), then 1 s more. */
async function consumeAll(kafka: KafkaClient, topic: string, readUncommitted: boolean, expected: number): Promise<{ records: TxnConsumed[]; error: string | null }> {
  const records: TxnConsumed[] = [];
  const consumer = kafka.consumer({ groupId: `txn-kafkajs-reader-${runId()}`, readUncommitted, maxWaitTimeInMs: 200, sessionTimeout: 10_000 });
  let error: string | null = null;
  try {
    await within(20_000, 'consumer connect', consumer.connect());
    await within(20_000, 'consumer subscribe', consumer.subscribe({ topic, fromBeginning: true }));
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        records.push({
          p: partition,
          o: Number(message.offset),
          k: message.key?.toString('utf8') ?? null,
          v: message.value?.toString('utf8') ?? null,
          h: Object.entries(message.headers ?? {}).map(([k, v]) => [k, v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v)]),
        });
        return Promise.resolve();
      },
    });
    // Until `expected` records, or 8 s without a new one, or 30 s.
    const deadline = Date.now() + 30_000;
    let count = 0;
    let lastProgress = Date.now();
    while (records.length < expected && Date.now() < deadline && Date.now() - lastProgress < 8000) {
      await sleep(100);
      if (records.length !== count) {
        count = records.length;
        lastProgress = Date.now();
      }
    }
    await sleep(1000); // anything beyond `expected` must show up now
  } catch (e) {
    error = describe(e);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return { records, error };
}

t.test('KafkaJS transactions', async (t) => {
  const target = await startTxnTarget(t, 'kafkajs');
  if (target === null) return;
  t.teardown(() => target.stop());
  t.comment(`target: ${target.kind}`);
  const id = runId();
  const P = TXN_PARTITIONS;
  const TXNS = 10;
  const PER_TXN = 100;
  const topic = `txn-kafkajs-${id}`;
  const layout = txnLayout(TXNS, PER_TXN, P);
  const kafka = new Kafka({ brokers: [target.bootstrap], clientId: 'kafkajs', logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const admin = kafka.admin();
  await within(20_000, 'admin connect', admin.connect());
  t.teardown(() => admin.disconnect());

  await t.test('10 transactions × 100 records, commit/abort alternating: offsets, read committed, read uncommitted', async (t) => {
    await within(30_000, 'createTopics', admin.createTopics({ topics: [{ topic, numPartitions: P, replicationFactor: 1 }] }));
    const producer = kafka.producer({ transactionalId: `txn-kafkajs-${id}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    const delivered: Array<[number, number, number]> = [];
    const failures: string[] = [];
    try {
      await within(30_000, 'producer connect', producer.connect());
      for (let tx = 0; tx < TXNS; tx++) {
        const txn = await within(30_000, `transaction ${tx}: begin (InitProducerId / FindCoordinator)`, producer.transaction());
        const messages = Array.from({ length: PER_TXN }, (_, j) => {
          const g = tx * PER_TXN + j;
          return { key: `k-${g}`, value: `v-${g}`, partition: g % P, headers: { txn: String(tx) } };
        });
        const meta = await within(30_000, `transaction ${tx}: send`, txn.send({ topic, messages }));
        // One produce request: each partition's records are consecutive from its base offset.
        const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
        const seen = new Map<number, number>();
        for (let j = 0; j < PER_TXN; j++) {
          const g = tx * PER_TXN + j;
          const p = g % P;
          const k = seen.get(p) ?? 0;
          seen.set(p, k + 1);
          delivered.push([g, p, (base.get(p) ?? NaN) + k]);
        }
        await within(30_000, `transaction ${tx}: ${tx % 2 === 0 ? 'commit' : 'abort'}`, tx % 2 === 0 ? txn.commit() : txn.abort());
      }
    } catch (e) {
      failures.push(describe(e));
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    t.same(failures, [], `every transaction began, sent and committed / aborted${failures.length > 0 ? ` (got ${failures.join('; ')})` : ''}`);
    t.same(diffDelivered(delivered, layout), [], 'every record acknowledged at its offset (a marker after each transaction on each partition)');
    if (failures.length > 0) {
      t.fail('consumers not run: the transactional producer failed');
      return;
    }

    const committed = layout.records.filter((r) => r.committed);
    const rc = await consumeAll(kafka, topic, false, committed.length);
    t.equal(rc.error, null, 'readUncommitted: false consumer ran');
    t.same(diffConsumed(rc.records, committed, P), [], `readUncommitted: false: the ${committed.length} committed records, in order, at their offsets, with headers`);
    const ru = await consumeAll(kafka, topic, true, layout.records.length);
    t.equal(ru.error, null, 'readUncommitted: true consumer ran');
    t.same(diffConsumed(ru.records, layout.records, P), [], `readUncommitted: true: all ${layout.records.length} records, aborted ones too`);
    try {
      const ends = await within(20_000, 'fetchTopicOffsets', admin.fetchTopicOffsets(topic));
      t.same(
        perPartition(Object.fromEntries(ends.map((e) => [String(e.partition), Number(e.high)])), P),
        layout.ends,
        'admin.fetchTopicOffsets high = log end (markers included)',
      );
    } catch (e) {
      t.fail(`fetchTopicOffsets: ${describe(e)}`);
    }
  });

  await t.test('transaction.sendOffsets: group offsets move only when the transaction commits', async (t) => {
    const outTopic = `txn-kafkajs-out-${id}`;
    const inTopic = `txn-kafkajs-in-${id}`;
    const group = `txn-kafkajs-group-${id}`;
    const producer = kafka.producer({ transactionalId: `txn-kafkajs-offsets-${id}`, idempotent: true, maxInFlightRequests: 1 });
    const committedOffsets = async (): Promise<Array<number | null>> => {
      const res = await within(20_000, 'fetchOffsets', admin.fetchOffsets({ groupId: group, topics: [inTopic] }));
      const parts = res.find((r) => r.topic === inTopic)?.partitions ?? [];
      return perPartition(Object.fromEntries(parts.filter((p) => Number(p.offset) >= 0).map((p) => [String(p.partition), Number(p.offset)])), P);
    };
    /** Kafka applies a transaction's offsets after EndTxn returned: wait (up to 10 s) for `want`. */
    const awaitOffsets = async (want: Array<number | null>): Promise<Array<number | null>> => {
      let got = await committedOffsets();
      const deadline = Date.now() + 10_000;
      while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
        await sleep(100);
        got = await committedOffsets();
      }
      return got;
    };
    const offsetsFor = (n: number) => ({
      consumerGroupId: group,
      topics: [{ topic: inTopic, partitions: Array.from({ length: P }, (_, p) => ({ partition: p, offset: String(n) })) }],
    });
    const all = (n: number) => Array.from({ length: P }, () => n);
    try {
      await within(30_000, 'createTopics', admin.createTopics({ topics: [{ topic: inTopic, numPartitions: P, replicationFactor: 1 }, { topic: outTopic, numPartitions: P, replicationFactor: 1 }] }));
      await within(30_000, 'producer connect', producer.connect());
      const out = (label: string) => ({ topic: outTopic, messages: Array.from({ length: P }, (_, p) => ({ partition: p, value: `${label}-${p}` })) });

      const txn1 = await within(30_000, 'txn 1 begin', producer.transaction());
      await within(30_000, 'txn 1 send', txn1.send(out('t1')));
      await within(30_000, 'txn 1 sendOffsets', txn1.sendOffsets(offsetsFor(5)));
      t.same(await committedOffsets(), all(NaN).map(() => null), 'offsets sent to the open transaction are not visible');
      await within(30_000, 'txn 1 commit', txn1.commit());
      t.same(await awaitOffsets(all(5)), all(5), 'committing the transaction commits the offsets');

      const txn2 = await within(30_000, 'txn 2 begin', producer.transaction());
      await within(30_000, 'txn 2 send', txn2.send(out('t2')));
      await within(30_000, 'txn 2 sendOffsets', txn2.sendOffsets(offsetsFor(10)));
      await within(30_000, 'txn 2 abort', txn2.abort());
      await sleep(1000); // an aborted transaction's offsets never appear: give them time to (wrongly) do so
      t.same(await committedOffsets(), all(5), 'an aborted transaction leaves the committed offsets unchanged');

      const txn3 = await within(30_000, 'txn 3 begin', producer.transaction());
      await within(30_000, 'txn 3 send', txn3.send(out('t3')));
      await within(30_000, 'txn 3 sendOffsets', txn3.sendOffsets(offsetsFor(10)));
      await within(30_000, 'txn 3 commit', txn3.commit());
      t.same(await awaitOffsets(all(10)), all(10), 'the next committed transaction commits its offsets');
    } catch (e) {
      t.fail(describe(e));
      return;
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    // Output per partition: t1 at 0, marker 1; t2 (aborted) at 2, marker 3; t3 at 4, marker 5.
    const rc = await consumeAll(kafka, outTopic, false, 2 * P);
    t.equal(rc.error, null, 'readUncommitted: false consumer of the output ran');
    t.same(
      rc.records.sort((a, b) => a.p - b.p || a.o - b.o).map((r) => `${r.p}/${r.o}:${String(r.v)}`),
      Array.from({ length: P }, (_, p) => [`${p}/0:t1-${p}`, `${p}/4:t3-${p}`]).flat(),
      'read committed output: transactions 1 and 3 only, at their offsets',
    );
  });

  reportTrace(t, target);
});
