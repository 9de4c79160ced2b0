// fault tests (transactions): a 3-broker cluster on etcd (separate processes), a topic with
// replication factor 3 whose partitions are led by different brokers, so every transaction's
// markers travel as WriteTxnMarkers between brokers. A KafkaJS transactional producer runs
// transactions of one record per partition, committing most and aborting every fourth, while the
// broker that coordinates its transactional id (the leader of its __transaction_state partition)
// is SIGKILLed with transactions in flight and restarted, SPOOL_FAULT_ROUNDS times (default
// 2); the application starts a new producer instance after each failure. Then a read_committed read of
// everything checks exactly-once's promises:
//  - atomicity: a transaction is visible whole (one record per partition) or not at all;
//  - every transaction whose commit was acknowledged is visible, exactly once;
//  - no aborted transaction is visible, and none that was never committed;
// and a read_uncommitted read shows the aborted records are in the log (so the filter is real).
import kafkajs from 'kafkajs';
import t from 'tap';
import { partitionForTxnId } from '../../src/coordinator/txn/records.js';
import { tempDir } from '../helpers/broker.js';
import { etcdBinary, startClusterProcesses, type ClusterProcesses } from '../helpers/cluster.js';
import { requireToolchain } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;
const ROUNDS = Number(process.env.SPOOL_FAULT_ROUNDS ?? 2);
const PARTITIONS = 3;
const TOPIC = 'txn-failover';
const TXN_ID = 'txn-failover-producer';
/** Upper bound on the transactions of the whole run. */
const MAX_TXNS = 2000;

function kafkaFor(cluster: ClusterProcesses, avoid: number[] = []) {
  return new Kafka({
    brokers: cluster.brokers.filter((b) => !avoid.includes(b.nodeId)).map((b) => b.address),
    clientId: 'txn-failover',
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    requestTimeout: 10_000,
  });
}

async function leaderOf(cluster: ClusterProcesses, topic: string, partition: number, avoid: number[] = []): Promise<number> {
  const admin = kafkaFor(cluster, avoid).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return md.topics[0].partitions.find((p) => p.partitionId === partition)?.leader ?? -1;
  } finally {
    await admin.disconnect();
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // failing over: ask again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Outcome {
  txn: number;
  /** 'committed': commit acknowledged; 'aborted': abort acknowledged or the send failed; 'unknown': commit sent, no answer. */
  result: 'committed' | 'aborted' | 'unknown';
}

/** Reads every record of TOPIC (from offset 0, all partitions) with the given isolation. */
async function readAll(cluster: ClusterProcesses, readCommitted: boolean): Promise<Array<{ partition: number; offset: number; value: string }>> {
  const kafka = kafkaFor(cluster);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(TOPIC);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${readCommitted ? 'rc' : 'ru'}-${Date.now()}`, readUncommitted: !readCommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const out: Array<{ partition: number; offset: number; value: string }> = [];
  const done = new Set<number>();
  const target = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read timed out with ${out.length} records`)), 60_000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push({ partition: batch.partition, offset: Number(m.offset), value: m.value?.toString() ?? '' });
        // The batch's last offset (control records included) tells when the partition is read through.
        if (Number(batch.lastOffset()) + 1 >= (target.get(batch.partition) ?? 0)) done.add(batch.partition);
        if (done.size === PARTITIONS) {
          clearTimeout(timer);
          resolve();
        }
        await Promise.resolve();
      },
    });
    for (const [p, end] of target) if (end === 0) done.add(p);
  });
  await consumer.disconnect();
  return out;
}

t.test(`transactions across 3 brokers survive SIGKILL of their coordinator (${ROUNDS} rounds)`, async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server)')) return;
  const d = tempDir('spool-txn-failover-');
  t.teardown(d.cleanup);
  const cluster = await startClusterProcesses({
    brokers: 3,
    dir: d.dir,
    t,
    config: {
      'broker.session.timeout.ms': 3000,
      'min.insync.replicas': 2,
      'replica.fetch.wait.max.ms': 100,
      'group.initial.rebalance.delay.ms': 0,
      'transaction.abort.timed.out.transaction.cleanup.interval.ms': 1000,
    },
  });
  const admin = kafkaFor(cluster).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const leaders = await Promise.all([0, 1, 2].map((p) => leaderOf(cluster, TOPIC, p)));
  t.equal(new Set(leaders).size, 3, `the partitions are led by three brokers (${leaders.join(', ')}): markers cross brokers`);

  // The producer runs transactions throughout; after a failure it starts a new producer instance
  // (InitProducerId again, which fences the old epoch), as an application would.
  const outcomes: Outcome[] = [];
  const load = { stop: false, txn: 0, failures: 0 };
  const running = (): boolean => !load.stop && load.txn < MAX_TXNS;
  const producing = (async () => {
    // Bounded: at most MAX_TXNS transactions, and it stops when the test says so.
    while (running()) {
      const producer = kafkaFor(cluster).producer({ transactionalId: TXN_ID, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 10_000 });
      try {
        await producer.connect();
      } catch {
        load.failures++;
        continue;
      }
      while (running()) {
        const txn = load.txn++;
        const abort = txn % 4 === 3;
        let phase: 'send' | 'end' = 'send';
        try {
          const tx = await producer.transaction();
          try {
            // One partition per send: KafkaJS drops the part of a multi-broker send whose partition
            // moved to a broker that already answered another part (sendMessages keys its retries
            // by broker) — a client loss that would look like a broken transaction.
            for (const partition of [0, 1, 2]) await tx.send({ topic: TOPIC, messages: [{ partition, value: `txn-${txn}-p${partition}` }] });
          } catch (err) {
            await tx.abort().catch(() => undefined);
            throw err;
          }
          phase = 'end';
          if (abort) await tx.abort();
          else await tx.commit();
          outcomes.push({ txn, result: abort ? 'aborted' : 'committed' });
        } catch {
          // A commit whose answer was lost may or may not have happened; a failed send never commits.
          outcomes.push({ txn, result: phase === 'end' && !abort ? 'unknown' : 'aborted' });
          load.failures++;
          break;
        }
      }
      await producer.disconnect().catch(() => undefined);
    }
  })();

  const committedCount = (): number => outcomes.filter((o) => o.result === 'committed').length;
  let killed = 0;
  const coordinatorPartition = partitionForTxnId(TXN_ID, 50);
  for (let round = 0; round < ROUNDS; round++) {
    const before = committedCount();
    await waitFor('transactions to commit before the kill', () => Promise.resolve(committedCount() >= before + 15), 60_000);
    const coordinator = await leaderOf(cluster, '__transaction_state', coordinatorPartition);
    t.ok(coordinator > 0, `round ${round + 1}: transaction coordinator is broker ${coordinator}, killed with transactions in flight`);
    await cluster.broker(coordinator).kill9();
    killed++;
    await waitFor('a new coordinator', async () => {
      const now = await leaderOf(cluster, '__transaction_state', coordinatorPartition, [coordinator]);
      return now > 0 && now !== coordinator;
    }, 30_000);
    await cluster.broker(coordinator).restart();
  }
  const afterKills = committedCount();
  await waitFor('transactions to commit after the last kill', () => Promise.resolve(committedCount() >= afterKills + 15), 60_000);
  load.stop = true;
  await producing;

  const committed = await readAll(cluster, true);
  const uncommitted = await readAll(cluster, false);
  const byTxn = new Map<number, string[]>();
  const malformed = committed.filter((r) => !/^txn-\d+-p\d$/.test(r.value));
  t.same(malformed, [], 'every record read has the form the producer wrote');
  for (const r of committed) {
    const m = /^txn-(\d+)-p(\d)$/.exec(r.value);
    if (!m) continue;
    const list = byTxn.get(Number(m[1])) ?? [];
    list.push(r.value);
    byTxn.set(Number(m[1]), list);
  }
  const violations: string[] = [];
  for (const o of outcomes) {
    const seen = byTxn.get(o.txn)?.length ?? 0;
    if (o.result === 'committed' && seen !== PARTITIONS) violations.push(`txn ${o.txn}: commit acknowledged, ${seen} of ${PARTITIONS} records visible`);
    if (o.result === 'aborted' && seen !== 0) violations.push(`txn ${o.txn}: aborted, ${seen} records visible to read_committed`);
    if (o.result === 'unknown' && seen !== 0 && seen !== PARTITIONS) violations.push(`txn ${o.txn}: partially visible (${seen})`);
  }
  for (const [n, values] of byTxn) {
    if (!outcomes.some((o) => o.txn === n)) violations.push(`txn ${n}: visible but never sent`);
    if (new Set(values).size !== values.length) violations.push(`txn ${n}: duplicated records`);
  }
  const counts = {
    rounds: killed,
    producerFailures: load.failures,
    transactions: outcomes.length,
    committed: outcomes.filter((o) => o.result === 'committed').length,
    aborted: outcomes.filter((o) => o.result === 'aborted').length,
    unknown: outcomes.filter((o) => o.result === 'unknown').length,
    readCommitted: committed.length,
    readUncommitted: uncommitted.length,
    violations: violations.length,
  };
  t.comment(`transactions through coordinator kills: ${JSON.stringify(counts)}`);
  t.same(violations, [], 'read_committed: whole committed transactions only, each once');
  t.ok(counts.committed >= ROUNDS * 10, 'a real number of transactions committed');
  t.ok(uncommitted.length > committed.length, 'read_uncommitted sees the aborted records too: the filter is the broker’s');
  await cluster.stop();
});
