// fault tests (replication, real clients): the Java client, librdkafka and franz-go each produce
// idempotently and acks=all into a replication-factor-3 topic on a 3-broker etcd cluster
// while the leader of partition 0 is SIGKILLed (and restarted); then they read it all back. Every
// record must be acknowledged and read back exactly once, at offsets 0..n-1 per partition, with
// its key, value, headers and timestamp (the same spec check as the single-broker interop tests).
// The three clients take turns on one cluster, each with a topic of its own.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import t from 'tap';
import { etcdBinary, startClusterProcesses, waitUntil, type ClusterProcesses } from '../helpers/cluster.js';
import { tempDir } from '../helpers/broker.js';
import { diffAgainstSpec, interopDir, parseJsonLines, requireToolchain, works } from '../interop/common.js';
import { runClient, summary, type ClientCommand, type ProduceSummary } from '../interop/roundtrip.js';

const { Kafka, logLevel } = kafkajs;
const COUNT = 150_000;
const PARTITIONS = 4;

const javaDir = join(interopDir, 'java');
const classpath = `${join(javaDir, 'target', 'classes')}:${join(javaDir, 'target', 'dependency')}/*`;
const java: ClientCommand = (args) => ({
  cmd: 'java',
  args: ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'spool.interop.JavaClient', ...args],
});
const python = process.env.PYTHON ?? 'python3';
const franzBinary = join(interopDir, 'go', 'bin', 'franz');
const franz: ClientCommand = (args) => ({ cmd: franzBinary, args });

const clients: Array<{ name: string; command: ClientCommand; ready: () => Promise<boolean>; missing: string; oneSeed?: boolean }> = [
  {
    name: 'Java client',
    command: java,
    ready: async () => existsSync(join(javaDir, 'target', 'classes', 'spool', 'interop', 'JavaClient.class')) && (await works('java', ['-version'])),
    missing: 'java or the built Java client (test/interop/java/target) is missing',
  },
  {
    name: 'librdkafka',
    // confluent-kafka-python; its producer turns idempotence on when SPOOL_IDEMPOTENT=1.
    command: (args) => ({ cmd: 'env', args: ['SPOOL_IDEMPOTENT=1', python, join(interopDir, 'python', 'client.py'), ...args] }),
    ready: () => works(python, ['-c', 'import confluent_kafka']),
    missing: `${python} cannot import confluent_kafka (pip install confluent-kafka)`,
  },
  // The franz program takes one seed broker.
  { name: 'franz-go', command: franz, ready: () => Promise.resolve(existsSync(franzBinary)), missing: `${franzBinary} is not built`, oneSeed: true },
];

async function leaderOf(cluster: ClusterProcesses, topic: string, partition: number): Promise<number> {
  const admin = new Kafka({ brokers: cluster.brokers.map((b) => b.address), clientId: 'client-failover', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return md.topics[0].partitions.find((p) => p.partitionId === partition)?.leader ?? -1;
  } finally {
    await admin.disconnect();
  }
}

/** The cluster every client's test uses: started by the first test that runs, stopped at the end. */
let shared: Promise<ClusterProcesses> | undefined;
function sharedCluster(): Promise<ClusterProcesses> {
  shared ??= (async () => {
    const d = tempDir('spool-client-failover-');
    const cluster = await startClusterProcesses({
      brokers: 3,
      dir: d.dir,
      config: { 'broker.session.timeout.ms': 3000, 'default.replication.factor': 3, 'min.insync.replicas': 2, 'replica.fetch.wait.max.ms': 200 },
    }).catch((e: unknown) => {
      d.cleanup();
      throw e;
    });
    t.teardown(async () => {
      await cluster.stop();
      d.cleanup();
    });
    return cluster;
  })();
  return shared;
}

/** The brokers the cluster's metadata lists (a restarted broker is back once it registered again). */
async function registeredBrokers(cluster: ClusterProcesses): Promise<number> {
  const admin = new Kafka({ brokers: cluster.brokers.map((b) => b.address), clientId: 'client-failover', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.describeCluster()).brokers.length;
  } finally {
    await admin.disconnect();
  }
}

for (const client of clients) {
  t.test(`${client.name}: idempotent acks=all produce through a leader SIGKILL loses and duplicates nothing`, async (t) => {
    if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server)')) return;
    if (!requireToolchain(t, await client.ready(), client.missing)) return;
    const cluster = await sharedCluster();
    // The broker an earlier client's test killed and restarted must have registered again.
    await waitUntil('all three brokers registered', async () => (await registeredBrokers(cluster).catch(() => 0)) === 3, { timeoutMs: 60_000 });
    const topic = `failover-${client.name.replace(/\W/g, '')}`;
    // A seed that is not the broker killed below, so the client can always bootstrap.
    const bootstrapFor = (avoid: number): string => (client.oneSeed === true ? cluster.brokers.find((b) => b.nodeId !== avoid)!.address : cluster.bootstrap);
    // Created here (not by the client program, whose `create` asks for one replica) with an
    // explicit replication factor of 3.
    const admin = new Kafka({ brokers: cluster.brokers.map((b) => b.address), clientId: 'client-failover', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    t.ok(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true }), `${topic} created with 3 replicas`);
    const described = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    t.same(described.topics[0].partitions.map((p) => p.isr.length), Array(PARTITIONS).fill(3), 'every partition has 3 replicas in sync');
    const leader = await leaderOf(cluster, topic, 0);
    t.ok(leader > 0, `partition 0 led by broker ${leader}`);

    const baseTs = Date.now();
    const started = Date.now();
    const producing = runClient(client.command, ['produce', bootstrapFor(leader), topic, String(COUNT), 'none', String(PARTITIONS), String(baseTs)]);
    const progress = { done: false };
    void producing.then(() => (progress.done = true));
    // Kill the leader once partition 0 holds some data on it: the producer is running then.
    const segment = join(cluster.broker(leader).logDir, `${topic}-0`, '00000000000000000000.log');
    const dataFlowing = async (): Promise<boolean> => progress.done || (existsSync(segment) && statSync(segment).size > 256 * 1024);
    await waitUntil('partition 0 to receive data', dataFlowing, { timeoutMs: 60_000, intervalMs: 10 });
    const killedDuringProduce = !progress.done;
    await cluster.broker(leader).kill9();
    const r = await producing;
    t.ok(killedDuringProduce, `${client.name}: leader ${leader} killed while the producer was running`);
    t.comment(`${client.name}: produce of ${COUNT} records took ${Date.now() - started} ms`);
    const s = summary(t, r, `produce ${topic}`) as ProduceSummary | undefined;
    t.same(s?.errors, [], 'no delivery errors');
    t.equal(s?.produced, COUNT, 'every record acknowledged');
    await waitUntil('partition 0 to get a new leader', async () => {
      const now = await leaderOf(cluster, topic, 0).catch(() => -1);
      return now > 0 && now !== leader;
    });
    t.pass('partition 0 has a new leader');
    await cluster.broker(leader).restart();

    const c = await runClient(client.command, ['consume', bootstrapFor(leader), topic, String(COUNT), 'none', String(PARTITIONS), String(baseTs)]);
    t.equal(c.code, 0, 'consume exits 0');
    const records = parseJsonLines(c.stdout);
    t.equal(records.length, COUNT, `read ${COUNT} records`);
    t.same(diffAgainstSpec(records, COUNT, PARTITIONS, baseTs), [], 'keys, values, headers, timestamps, offsets 0..n-1 and order match: nothing lost, nothing duplicated');
  });
}
