// fault tests (replication): a 3-broker cluster on etcd (separate processes), a topic with
// replication factor 3 and min.insync.replicas=2, an acks=all producer running while the leader of
// every partition it writes is killed with SIGKILL, round after round (SPOOL_FAULT_ROUNDS, default
// 5), each killed broker restarted. Afterwards everything is read back and the history is checked:
// no acknowledged record lost, no offset with two values, no record read that was never sent.
import kafkajs from 'kafkajs';
import t from 'tap';
import { etcdBinary, startClusterProcesses, type ClusterProcesses } from '../helpers/cluster.js';
import { checkHistory, type ReadRecord, type SendAttempt } from '../helpers/history.js';
import { tempDir } from '../helpers/broker.js';
import { requireToolchain } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;
const ROUNDS = Number(process.env.SPOOL_FAULT_ROUNDS ?? 5);
const PARTITIONS = 3;
const TOPIC = 'failover';

function kafkaFor(cluster: ClusterProcesses) {
  return new Kafka({
    brokers: cluster.brokers.map((b) => b.address),
    clientId: 'failover-test',
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    requestTimeout: 10_000,
  });
}

async function leaderOf(cluster: ClusterProcesses, partition: number): Promise<number> {
  const admin = kafkaFor(cluster).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    return md.topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;
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
      // the cluster is failing over: ask again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

t.test('acks=all records survive repeated SIGKILL of the partition leader', async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)')) return;
  const d = tempDir('spool-failover-');
  t.teardown(d.cleanup);
  const cluster = await startClusterProcesses({
    brokers: 3,
    dir: d.dir,
    t,
    config: {
      'broker.session.timeout.ms': 3000,
      'default.replication.factor': 3,
      'min.insync.replicas': 2,
      'replica.lag.time.max.ms': 4000,
      'replica.fetch.wait.max.ms': 200,
      'replica.fetch.backoff.ms': 200,
    },
  });
  const admin = kafkaFor(cluster).admin();
  await admin.connect();
  t.ok(await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true }), 'topic created with replication factor 3');
  const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
  t.same(md.topics[0]!.partitions.map((p) => p.replicas.length), [3, 3, 3], 'three replicas per partition');
  await admin.disconnect();

  const sends: SendAttempt[] = [];
  let stop = false;
  let seq = 0;
  const producer = kafkaFor(cluster).producer({ allowAutoTopicCreation: false, idempotent: false, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  // One bounded loop: batches of 20 records round-robin over the partitions until told to stop.
  const load = (async () => {
    for (let batch = 0; !stop && batch < 100_000; batch++) {
      const partition = batch % PARTITIONS;
      const values = Array.from({ length: 20 }, () => `v${seq++}`);
      try {
        const res = await producer.send({ topic: TOPIC, acks: -1, timeout: 10_000, messages: values.map((value) => ({ value, partition })) });
        const base = Number(res[0]!.baseOffset);
        values.forEach((value, i) => sends.push({ value, partition, acked: true, offset: base + i }));
      } catch {
        for (const value of values) sends.push({ value, partition, acked: false });
      }
    }
  })();

  let kills = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const partition = round % PARTITIONS;
    const leader = await leaderOf(cluster, partition);
    t.ok(leader > 0, `round ${round}: partition ${partition} has a leader (${leader})`);
    await cluster.broker(leader).kill9();
    kills++;
    await waitFor(`a new leader of partition ${partition}`, async () => {
      const now = await leaderOf(cluster, partition);
      return now > 0 && now !== leader;
    }, 30_000);
    await cluster.broker(leader).restart();
    // Back in every ISR before the next round, so min.insync.replicas=2 can always be met.
    await waitFor(`broker ${leader} back in the ISR`, async () => {
      const a = kafkaFor(cluster).admin();
      await a.connect();
      try {
        const m = await a.fetchTopicMetadata({ topics: [TOPIC] });
        return m.topics[0]!.partitions.every((p) => p.isr.length === 3);
      } finally {
        await a.disconnect();
      }
    }, 60_000);
  }
  stop = true;
  await load;
  await producer.disconnect();

  // Read every partition from the beginning to its end offset.
  const reads: ReadRecord[] = [];
  const consumerAdmin = kafkaFor(cluster).admin();
  await consumerAdmin.connect();
  const ends = await consumerAdmin.fetchTopicOffsets(TOPIC);
  await consumerAdmin.disconnect();
  const consumer = kafkaFor(cluster).consumer({ groupId: `failover-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const target = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const reached = new Map<number, number>();
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      reads.push({ consumer: 'reader', partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
      reached.set(partition, Number(message.offset) + 1);
    },
  });
  await waitFor('the reader reaches every end offset', () => Promise.resolve([...target].every(([p, end]) => (reached.get(p) ?? 0) >= end)), 120_000);
  await consumer.disconnect();

  const report = checkHistory(sends, reads, { idempotent: false });
  t.comment(`failover: ${kills} leader kills, ${report.totals.acknowledged} acknowledged of ${report.totals.sent} sent, ${report.totals.read} read; ${report.summary()}`);
  t.ok(report.totals.acknowledged > 0, 'records were acknowledged');
  t.equal(report.lost.count, 0, 'no acknowledged record lost');
  t.equal(report.offsetConflicts.count, 0, 'no offset read with two values');
  t.equal(report.phantomNeverSent.count, 0, 'nothing read that was never sent');
  t.equal(report.ackOffsetMismatch.count, 0, 'every acknowledged record is at its acknowledged offset');
  t.equal(report.violations, 0, report.violations === 0 ? 'no violations' : report.details());
  await cluster.stop();
});
