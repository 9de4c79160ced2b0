// fault tests (replication): a 3-broker cluster on etcd (separate processes), a topic with
// replication factor 3 and min.insync.replicas=2, an acks=all producer running throughout, then
// everything read back and the history checked: no acknowledged record lost, no offset with two
// values, nothing read that was never sent, every acknowledged record at its acknowledged offset.
//  - the leader of a partition is SIGKILLed, round after round (SPOOL_FAULT_ROUNDS, default 5; 3 under CI=true),
//    and restarted;
//  - a leader is paused (SIGSTOP) beyond its session timeout, replaced, then resumed: it must not
//    acknowledge writes as leader after it was replaced;
//  - etcd is paused: leaders keep serving writes that need no metadata change; all resumes.
// The three tests take turns on one cluster, each with a topic of its own.
import kafkajs from 'kafkajs';
import t from 'tap';
import { etcdBinary, startClusterProcesses, type ClusterProcesses } from '../helpers/cluster.js';
import { checkHistory, type ReadRecord, type SendAttempt } from '../helpers/history.js';
import { tempDir } from '../helpers/broker.js';
import { requireToolchain } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;
const ROUNDS = Number(process.env.SPOOL_FAULT_ROUNDS ?? (process.env.CI === 'true' ? 3 : 5));
const PARTITIONS = 3;
const SESSION_TIMEOUT_MS = 3000;

/** The shared cluster and the topic one test writes and checks. */
type FailoverCluster = ClusterProcesses & { readonly topic: string };


/** A client of the cluster; `avoid` leaves brokers out of its bootstrap list (a paused one hangs requests). */
function kafkaFor(cluster: ClusterProcesses, avoid: number[] = []) {
  return new Kafka({
    brokers: cluster.brokers.filter((b) => !avoid.includes(b.nodeId)).map((b) => b.address),
    clientId: 'failover-test',
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    requestTimeout: 10_000,
  });
}

async function partitionsState(cluster: FailoverCluster, avoid: number[] = []): Promise<Array<{ partitionId: number; leader: number; isr: number[] }>> {
  const admin = kafkaFor(cluster, avoid).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [cluster.topic] });
    return md.topics[0].partitions;
  } finally {
    await admin.disconnect();
  }
}

async function leaderOf(cluster: FailoverCluster, partition: number, avoid: number[] = []): Promise<number> {
  return (await partitionsState(cluster, avoid)).find((p) => p.partitionId === partition)!.leader;
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

/** The cluster of every test: started by the first test that runs, stopped after the last. */
let shared: Promise<ClusterProcesses> | undefined;

/** The shared cluster with a new topic (replication factor 3) for one test. */
async function clusterWithTopic(topic: string): Promise<FailoverCluster> {
  shared ??= (async () => {
    const d = tempDir('spool-failover-');
    const started = await startClusterProcesses({
      brokers: 3,
      dir: d.dir,
      config: {
        'broker.session.timeout.ms': SESSION_TIMEOUT_MS,
        'default.replication.factor': 3,
        'min.insync.replicas': 2,
        'replica.lag.time.max.ms': 4000,
        'replica.fetch.wait.max.ms': 200,
        'replica.fetch.backoff.ms': 200,
        // readAll joins a fresh consumer group: no initial rebalance delay (Kafka's default: 3 s).
        'group.initial.rebalance.delay.ms': 0,
      },
    }).catch((e: unknown) => {
      d.cleanup();
      throw e;
    });
    t.teardown(async () => {
      await started.stop();
      d.cleanup();
    });
    return started;
  })();
  const cluster = await shared;
  const admin = kafkaFor(cluster).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true });
  await admin.disconnect();
  return { ...cluster, topic };
}

/** An acks=all producer writing batches of 20 unique values round-robin over the partitions. */
async function startLoad(cluster: FailoverCluster, t: { teardown(fn: () => unknown): void }) {
  const sends: SendAttempt[] = [];
  let stopped = false as boolean;
  let seq = 0;
  const producer = kafkaFor(cluster).producer({ allowAutoTopicCreation: false, idempotent: false, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  // A failed assertion must not leave the loop running (tap would wait for it until its timeout).
  t.teardown(() => {
    stopped = true;
  });
  const loop = (async () => {
    // Bounded: stops when told, or after 100 000 batches.
    for (let batch = 0; !stopped && batch < 100_000; batch++) {
      const partition = batch % PARTITIONS;
      const values = Array.from({ length: 20 }, () => `v${seq++}`);
      try {
        const res = await producer.send({ topic: cluster.topic, acks: -1, timeout: 10_000, messages: values.map((value) => ({ value, partition })) });
        const base = Number(res[0].baseOffset);
        values.forEach((value, i) => sends.push({ value, partition, acked: true, offset: base + i }));
      } catch {
        for (const value of values) sends.push({ value, partition, acked: false });
      }
    }
  })();
  return {
    sends,
    acked: () => sends.filter((s) => s.acked).length,
    async stop(): Promise<SendAttempt[]> {
      stopped = true;
      await loop;
      await producer.disconnect();
      return sends;
    },
  };
}

/** Reads every partition from the beginning to its end offset, with a fresh consumer group. */
async function readAll(cluster: FailoverCluster): Promise<ReadRecord[]> {
  const reads: ReadRecord[] = [];
  const admin = kafkaFor(cluster).admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(cluster.topic);
  await admin.disconnect();
  const consumer = kafkaFor(cluster).consumer({ groupId: `failover-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: cluster.topic, fromBeginning: true });
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
  return reads;
}

function checkAndReport(t: { comment(...a: unknown[]): void; ok(v: unknown, m: string): void; equal(a: unknown, b: unknown, m: string): void }, label: string, sends: SendAttempt[], reads: ReadRecord[]): void {
  const report = checkHistory(sends, reads, { idempotent: false });
  t.comment(`${label}: ${report.totals.acknowledged} acknowledged of ${report.totals.sent} sent, ${report.totals.read} read; ${report.summary()}`);
  t.ok(report.totals.acknowledged > 0, 'records were acknowledged');
  t.equal(report.lost.count, 0, 'no acknowledged record lost');
  t.equal(report.offsetConflicts.count, 0, 'no offset read with two values');
  t.equal(report.phantomNeverSent.count, 0, 'nothing read that was never sent');
  t.equal(report.ackOffsetMismatch.count, 0, 'every acknowledged record is at its acknowledged offset');
  t.equal(report.violations, 0, report.violations === 0 ? 'no violations' : report.details());
}

async function allInIsr(cluster: FailoverCluster): Promise<boolean> {
  return (await partitionsState(cluster)).every((p) => p.isr.length === 3 && p.leader > 0);
}

t.test('acks=all records survive repeated SIGKILL of the partition leader', async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)')) return;
  const cluster = await clusterWithTopic('failover-kill9');
  t.same((await partitionsState(cluster)).map((p) => p.isr.length), [3, 3, 3], 'three in-sync replicas per partition');
  const load = await startLoad(cluster, t);
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
    await waitFor(`broker ${leader} back in the ISR`, () => allInIsr(cluster), 60_000);
  }
  const sends = await load.stop();
  t.comment(`failover: ${kills} leader kills (SPOOL_FAULT_ROUNDS=${ROUNDS})`);
  checkAndReport(t, 'SIGKILL of leaders', sends, await readAll(cluster));
});

t.test('a paused leader is replaced and acknowledges nothing as leader after it was', async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)')) return;
  const cluster = await clusterWithTopic('failover-paused-leader');
  const load = await startLoad(cluster, t);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const leader = await leaderOf(cluster, 0);
  const paused = cluster.broker(leader);
  paused.sigstop();
  // The next test shares the cluster: never leave the broker stopped.
  t.teardown(() => {
    if (paused.paused) paused.sigcont();
  });
  const pausedAt = Date.now();
  await waitFor('a new leader of partition 0', async () => {
    const now = await leaderOf(cluster, 0, [leader]);
    return now > 0 && now !== leader;
  }, 30_000);
  t.ok(Date.now() - pausedAt >= SESSION_TIMEOUT_MS - 500, 'replaced only after its session timed out');
  const ackedBeforeResume = load.acked();
  paused.sigcont();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  t.ok(load.acked() > ackedBeforeResume, 'writes go on after the old leader resumed');
  await waitFor('every replica back in sync', () => allInIsr(cluster), 60_000);
  const sends = await load.stop();
  checkAndReport(t, 'paused leader', sends, await readAll(cluster));
});

t.test('with etcd paused, leaders keep acknowledging writes; everything resumes with it', async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)')) return;
  const cluster = await clusterWithTopic('failover-etcd-paused');
  const load = await startLoad(cluster, t);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  cluster.etcd!.pause();
  let etcdPaused = true;
  t.teardown(() => {
    if (etcdPaused) cluster.etcd!.resume();
  });
  const before = load.acked();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.ok(load.acked() > before, `writes acknowledged while etcd was paused (${load.acked() - before})`);
  cluster.etcd!.resume();
  etcdPaused = false;
  await waitFor('every replica in sync after etcd returned', () => allInIsr(cluster), 60_000);
  const after = load.acked();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.ok(load.acked() > after, 'writes go on after etcd returned');
  const sends = await load.stop();
  checkAndReport(t, 'etcd paused', sends, await readAll(cluster));
});
