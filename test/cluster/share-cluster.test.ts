// cluster tests (share groups, KIP-932, issue 11): three brokers in one process on one metadata
// store, with the share group's three roles on different brokers. Broker 1 is the share
// coordinator (it leads __share_group_state), broker 3 the group coordinator (it leads
// __consumer_offsets) and the leader of partition 1, broker 2 the leader of partition 0
// (replicated to broker 3). Raw ShareGroupHeartbeat/ShareFetch/ShareAcknowledge requests: the state of both
// share-partitions reaches broker 1 with WriteShareGroupState; the group coordinator initializes
// it with InitializeShareGroupState; records go to exactly one of several members when each
// accepts; a released record comes back; the state survives a restart of the share coordinator
// and a change of the partition's leader (what was acquired but not acknowledged is delivered
// again, nothing acknowledged is); DescribeShareGroupOffsets, AlterShareGroupOffsets and
// DeleteShareGroupOffsets on the group coordinator read and change state held on broker 1.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { Broker } from '../../src/broker.js';
import { ErrorCode } from '../../src/errors.js';
import { BrokerConnection } from '../../src/network/index.js';
import type { ShareServices } from '../../src/coordinator/share/index.js';
import { ApiKey } from '../../src/protocol/index.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';
import { tempDir } from '../helpers/broker.js';
import { existsSync } from 'node:fs';
import { interopDir, isStale, requireToolchain, run, works } from '../interop/common.js';
import { kafkaToolsAvailable, runKafkaClass } from '../interop/kafka-tools.js';

const { Kafka, logLevel } = kafkajs;
const logger = pino({ level: process.env.SPOOL_TEST_LOG_LEVEL ?? 'silent' });
// 22 characters ending in a base64url digit with no low bits: the fake store's topic id (the name) survives the wire.
const TOPIC = 'share-cluster-topic-xA';
const GROUP = 'share-cluster-group';
const ACCEPT = 1;
const RELEASE = 2;

interface Node {
  broker: Broker;
  port: number;
  conn: BrokerConnection;
}

async function startNode(store: FakeMetadataStore, dir: string, nodeId: number, port = 0): Promise<Node> {
  const broker = new Broker({
    env: {},
    logger,
    metadataStore: store,
    overrides: {
      'node.id': nodeId,
      'log.dirs': join(dir, `broker-${nodeId}`),
      listeners: `PLAINTEXT://127.0.0.1:${port}`,
      'replica.fetch.wait.max.ms': 100,
      'replica.fetch.backoff.ms': 50,
      'offsets.topic.num.partitions': 1,
      'share.coordinator.state.topic.num.partitions': 1,
      'group.share.record.lock.duration.ms': 15_000,
    },
  });
  const bound = await broker.start();
  const conn = await BrokerConnection.open({ host: '127.0.0.1', port: bound.port, clientId: 'share-cluster-test', maxResponseBytes: 64 << 20, connectTimeoutMs: 5000 });
  return { broker, port: bound.port, conn };
}

const javaDependencies = join(interopDir, 'java', 'target', 'dependency');
const javaDir = join(interopDir, 'share', 'java');
const javaClasses = join(javaDir, 'target', 'classes');

/** ShareConsumers.java (KafkaShareConsumer, kafka-clients 4.4), compiled as share-java.test.ts does. */
async function javaConsumersReady(): Promise<boolean> {
  if (!existsSync(javaDependencies) || !(await works('java', ['-version']))) return false;
  const mainClass = join(javaClasses, 'spool', 'interop', 'share', 'ShareConsumers.class');
  const source = join(javaDir, 'ShareConsumers.java');
  if (!isStale(mainClass, [source, javaDependencies])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${javaDependencies}/*`, '-d', javaClasses, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

/** The broker's share services (its share coordinator's state store, ...). */
function shareOf(node: Node): ShareServices {
  return (node.broker as unknown as { share: ShareServices }).share;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Acquired {
  partition: number;
  offset: number;
  deliveryCount: number;
}

/** A share consumer speaking the raw protocol: one share session per partition leader. */
class Member {
  readonly id = randomUUID();
  epoch = 0;
  private readonly sessionEpochs = new Map<Node, number>();

  constructor(private readonly topicId: string) {}

  async heartbeat(coordinator: Node, leave = false): Promise<void> {
    const r = await coordinator.conn.request(
      ApiKey.ShareGroupHeartbeat,
      1,
      { groupId: GROUP, memberId: this.id, memberEpoch: leave ? -1 : this.epoch, rackId: null, subscribedTopicNames: this.epoch === 0 ? [TOPIC] : null },
      10_000,
    );
    if (r.errorCode !== ErrorCode.NONE) throw new Error(`heartbeat: error ${r.errorCode} ${r.errorMessage ?? ''}`);
    this.epoch = r.memberEpoch;
  }

  /** One ShareFetch to `leader` for `partitions`, carrying `acks` (partition → [offset, type]). */
  async fetch(leader: Node, partitions: number[], acks: Array<[number, number, number]>, maxRecords: number, maxWaitMs = 200): Promise<Acquired[]> {
    const epoch = this.sessionEpochs.get(leader) ?? 0;
    const r = await leader.conn.request(
      ApiKey.ShareFetch,
      1,
      {
        groupId: GROUP,
        memberId: this.id,
        shareSessionEpoch: epoch,
        maxWaitMs,
        minBytes: 1,
        maxBytes: 1 << 20,
        maxRecords,
        batchSize: maxRecords,
        topics: [
          {
            topicId: this.topicId,
            partitions: partitions.map((partitionIndex) => ({
              partitionIndex,
              acknowledgementBatches: acks.filter(([p]) => p === partitionIndex).map(([, offset, type]) => ({ firstOffset: offset, lastOffset: offset, acknowledgeTypes: [type] })),
            })),
          },
        ],
        forgottenTopicsData: [],
      },
      10_000,
    );
    if (r.errorCode !== ErrorCode.NONE) throw new Error(`share fetch: error ${r.errorCode} ${r.errorMessage ?? ''}`);
    this.sessionEpochs.set(leader, epoch + 1);
    const out: Acquired[] = [];
    for (const t of r.responses) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) throw new Error(`share fetch of partition ${p.partitionIndex}: error ${p.errorCode} ${p.errorMessage ?? ''}`);
        if (p.acknowledgeErrorCode !== ErrorCode.NONE) throw new Error(`acknowledgement on partition ${p.partitionIndex}: error ${p.acknowledgeErrorCode}`);
        for (const a of p.acquiredRecords) for (let o = a.firstOffset; o <= a.lastOffset; o++) out.push({ partition: p.partitionIndex, offset: o, deliveryCount: a.deliveryCount });
      }
    }
    return out;
  }

  /** ShareAcknowledge in the open session: resolves once the leader made the state durable. */
  async acknowledge(leader: Node, acks: Array<[number, number, number]>): Promise<void> {
    const epoch = this.sessionEpochs.get(leader) ?? 0;
    const byPartition = new Map<number, Array<[number, number]>>();
    for (const [p, o, type] of acks) byPartition.set(p, [...(byPartition.get(p) ?? []), [o, type]]);
    const r = await leader.conn.request(
      ApiKey.ShareAcknowledge,
      1,
      {
        groupId: GROUP,
        memberId: this.id,
        shareSessionEpoch: epoch,
        topics: [
          {
            topicId: this.topicId,
            partitions: [...byPartition].map(([partitionIndex, list]) => ({
              partitionIndex,
              acknowledgementBatches: list.map(([offset, type]) => ({ firstOffset: offset, lastOffset: offset, acknowledgeTypes: [type] })),
            })),
          },
        ],
      },
      20_000,
    );
    if (r.errorCode !== ErrorCode.NONE) throw new Error(`share acknowledge: error ${r.errorCode}`);
    for (const t of r.responses) for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) throw new Error(`share acknowledge of partition ${p.partitionIndex}: error ${p.errorCode}`);
    this.sessionEpochs.set(leader, epoch + 1);
  }

  /** Closes every share session (epoch -1): what the member still holds is released. */
  async close(): Promise<void> {
    for (const leader of this.sessionEpochs.keys()) {
      await leader.conn.request(
        ApiKey.ShareFetch,
        1,
        { groupId: GROUP, memberId: this.id, shareSessionEpoch: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, maxRecords: 1, batchSize: 1, topics: [], forgottenTopicsData: [] },
        10_000,
      );
    }
    this.sessionEpochs.clear();
  }
}

t.test('share groups across three brokers', async (t) => {
  const d = tempDir('spool-share-cluster-');
  t.teardown(d.cleanup);
  const store = new FakeMetadataStore();
  await store.addTopic('__share_group_state', 1, { replicas: [1], isr: [1], leader: 1 }, { 'cleanup.policy': 'compact' });
  await store.addTopic('__consumer_offsets', 1, { replicas: [3], isr: [3], leader: 3 }, { 'cleanup.policy': 'compact' });
  const image = await store.addTopic(TOPIC, 2, { replicas: [2, 3], isr: [2, 3], leader: 2 });
  await store.electLeader(TOPIC, 1, 3);
  const topicId = image.topicId;
  const nodes: Node[] = [];
  for (const id of [1, 2, 3]) nodes.push(await startNode(store, d.dir, id));
  let [n1] = nodes;
  const n2 = nodes[1];
  const n3 = nodes[2];
  t.teardown(async () => {
    for (const n of [n1, n2, n3]) {
      n.conn.close();
      await n.broker.stop();
    }
  });
  await waitFor('the coordinators to load', () => shareOf(n1).state.errorFor(0) === ErrorCode.NONE && n3.broker.groupCoordinator.coordinatorErrorFor(GROUP) === ErrorCode.NONE);

  const kafka = new Kafka({ clientId: 'share-cluster', brokers: [`127.0.0.1:${n1.port}`], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const produce = async (partition: number, count: number, prefix: string): Promise<void> => {
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ partition, value: `${prefix}-${i}` })) });
  };
  const leaderOf = (partition: number): Node => (partition === 0 ? n2 : n3);
  const summary = (partition: number) => shareOf(n1).state.summary({ groupId: GROUP, topicId, partition });

  const members = [new Member(topicId), new Member(topicId), new Member(topicId)];

  await t.test('the group coordinator initializes the state on the share coordinator', async (t) => {
    for (const m of members) await m.heartbeat(n3);
    for (const m of members) await m.heartbeat(n3);
    await waitFor('state of both share-partitions on broker 1', () => summary(0) !== null && summary(1) !== null);
    t.equal(summary(0)?.startOffset, -1, 'initialized without a start offset: the leader picks it');
    t.equal(shareOf(n3).state.errorFor(0), ErrorCode.NOT_COORDINATOR, 'broker 3 (the group coordinator) is not the share coordinator');
  });

  await t.test('several members on two leaders: every record delivered once when each accepts', async (t) => {
    // The first fetches fix the start offsets (share.auto.offset.reset latest: the log end, 0).
    for (const m of members) for (const p of [0, 1]) await m.fetch(leaderOf(p), [p], [], 10, 0);
    await produce(0, 30, 'a');
    await produce(1, 30, 'b');
    const deliveries = new Map<string, number>();
    const pending = new Map<Member, Map<Node, Array<[number, number, number]>>>();
    let accepted = 0;
    // Bounded: at most 120 fetches.
    for (let round = 0; round < 40 && accepted < 60; round++) {
      for (const m of members) {
        for (const p of [0, 1]) {
          const leader = leaderOf(p);
          const mine = pending.get(m) ?? new Map<Node, Array<[number, number, number]>>();
          pending.set(m, mine);
          const acks = mine.get(leader) ?? [];
          const got = await m.fetch(leader, [p], acks, 4, 50);
          accepted += acks.length;
          mine.set(leader, got.map((a) => [a.partition, a.offset, ACCEPT]));
          for (const a of got) deliveries.set(`${a.partition}:${a.offset}`, (deliveries.get(`${a.partition}:${a.offset}`) ?? 0) + 1);
        }
      }
    }
    for (const [m, byLeader] of pending) for (const [leader, acks] of byLeader) if (acks.length > 0) await m.acknowledge(leader, acks);
    t.equal(deliveries.size, 60, 'all 60 records delivered');
    t.same([...deliveries.values()].filter((n) => n !== 1), [], 'each exactly once');
    await waitFor('start offsets 30 on the share coordinator', () => summary(0)?.startOffset === 30 && summary(1)?.startOffset === 30);
    t.pass('both leaders wrote their state to broker 1');
  });

  await t.test("Java KafkaShareConsumers of another group: every record once, state on broker 1", async (t) => {
    if (!requireToolchain(t, await javaConsumersReady(), 'java/javac or the Java interop jars (test/interop/java/target/dependency) are missing')) return;
    const group = 'share-cluster-java';
    // Both partitions from offset 0 (AlterShareGroupOffsets on the group coordinator, written on broker 1).
    const alter = await n3.conn.request(
      ApiKey.AlterShareGroupOffsets,
      0,
      { groupId: group, topics: [{ topicName: TOPIC, partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, startOffset: 0 })) }] },
      10_000,
    );
    t.same(
      alter.responses.flatMap((r) => r.partitions.map((p) => p.errorCode)),
      [ErrorCode.NONE, ErrorCode.NONE],
    );
    const args = ['-Xmx192m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${javaClasses}:${javaDependencies}/*`, 'spool.interop.share.ShareConsumers'];
    const r = await run('java', [...args, `127.0.0.1:${n1.port}`, group, TOPIC, '3', '2500', '60000', '--max-poll', '5', '--accept-all'], { timeoutMs: 120_000 });
    t.equal(r.code, 0, `ShareConsumers exited 0\n${r.stderr.slice(-2000)}`);
    t.notMatch(r.stdout, /^ERROR/m, 'no consumer failed');
    const seen = new Map<string, number>();
    for (const line of r.stdout.split('\n')) {
      const f = line.trim().split(' ');
      if (f[0] === 'DELIVER' && f.length >= 7) seen.set(`${f[2]}:${f[3]}`, (seen.get(`${f[2]}:${f[3]}`) ?? 0) + 1);
    }
    t.equal(seen.size, 60, 'the 60 records of both partitions (leaders: broker 2 and broker 3) delivered');
    t.same([...seen.values()].filter((n) => n !== 1), [], 'each once');
    const stored = (partition: number) => shareOf(n1).state.summary({ groupId: group, topicId, partition })?.startOffset;
    await waitFor('start offsets 30 on broker 1', () => stored(0) === 30 && stored(1) === 30);
  });

  await t.test('a released record is delivered again', async (t) => {
    const [a, b] = members;
    await produce(0, 1, 'r');
    let got: Acquired[] = [];
    await waitFor('the new record', async () => (got = await a.fetch(n2, [0], [], 10, 100)).length > 0);
    t.same(got.map((x) => [x.offset, x.deliveryCount]), [[30, 1]]);
    await a.acknowledge(n2, [[0, 30, RELEASE]]);
    const again = await b.fetch(n2, [0], [], 10, 100);
    t.same(again.map((x) => [x.offset, x.deliveryCount]), [[30, 2]], 'the released record went to another member, second delivery');
    await b.acknowledge(n2, [[0, 30, ACCEPT]]);
    await waitFor('start offset 31', () => summary(0)?.startOffset === 31);
  });

  await t.test('the state survives a share coordinator restart and a partition leader change', async (t) => {
    const [a, b] = members;
    await produce(0, 6, 'f');
    let got: Acquired[] = [];
    await waitFor('the new records', async () => (got = await a.fetch(n2, [0], [], 6, 100)).length === 6);
    t.same(got.map((x) => x.offset), [31, 32, 33, 34, 35, 36]);
    // Three accepted and durable on broker 1 (two of them while broker 1 is down: the leader
    // retries until it is back); three acquired, never acknowledged.
    await a.acknowledge(n2, [[0, 31, ACCEPT]]);
    t.equal(summary(0)?.startOffset, 32);
    const port = n1.port;
    n1.conn.close();
    await n1.broker.stop();
    const acked = a.acknowledge(n2, [
      [0, 32, ACCEPT],
      [0, 33, ACCEPT],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    n1 = await startNode(store, d.dir, 1, port);
    await acked;
    await waitFor('broker 1 to load __share_group_state again', () => shareOf(n1).state.errorFor(0) === ErrorCode.NONE);
    t.equal(summary(0)?.startOffset, 34, 'the restarted share coordinator has the state, and the write made while it was down');

    await store.electLeader(TOPIC, 0, 3);
    await waitFor('broker 3 to lead partition 0', () => n3.broker.replicaManager.getPartition(TOPIC, 0)?.isLeader === true);
    let redelivered: Acquired[] = [];
    await waitFor('the unacknowledged records from the new leader', async () => (redelivered = await b.fetch(n3, [0], [], 10, 100)).length > 0);
    t.same(
      redelivered.map((x) => [x.offset, x.deliveryCount]),
      [
        [34, 2],
        [35, 2],
        [36, 2],
      ],
      'acquired but not acknowledged: delivered again (second delivery); nothing accepted comes back',
    );
    await b.acknowledge(
      n3,
      redelivered.map((x) => [0, x.offset, ACCEPT]),
    );
    t.equal(summary(0)?.startOffset, 37, 'the new leader writes to the share coordinator');
    const err = await a.fetch(n2, [0], [], 10, 0).then(
      () => null,
      (e: unknown) => String(e),
    );
    t.match(err, new RegExp(`error ${ErrorCode.NOT_LEADER_OR_FOLLOWER}`), 'the old leader no longer serves the share-partition');
  });

  await t.test('kafka-share-groups --describe --offsets reads the start offsets held on the share coordinator', async (t) => {
    if (!requireToolchain(t, await kafkaToolsAvailable(), 'the Kafka tool jars are missing')) return;
    const r = await runKafkaClass('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--bootstrap-server', `127.0.0.1:${n1.port}`, '--describe', '--offsets', '--group', GROUP]);
    t.equal(r.code, 0, `kafka-share-groups exited 0\n${r.stderr}`);
    const startOffsets = new Map<number, number>();
    for (const line of r.stdout.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[0] === GROUP && f[1] === TOPIC) startOffsets.set(Number(f[2]), Number(f[3]));
    }
    t.same(
      [...startOffsets].sort(),
      [
        [0, 37],
        [1, 30],
      ],
      `start offsets of both partitions\n${r.stdout}`,
    );
  });

  await t.test('offsets admin on the group coordinator, state on the share coordinator', async (t) => {
    const describe = async (): Promise<Map<number, number>> => {
      const r = await n3.conn.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: GROUP, topics: null }] }, 10_000);
      const g = r.groups[0];
      if (g.errorCode !== ErrorCode.NONE) throw new Error(`describe: error ${g.errorCode}`);
      const out = new Map<number, number>();
      for (const tp of g.topics) for (const p of tp.partitions) if (tp.topicName === TOPIC) out.set(p.partitionIndex, p.startOffset);
      return out;
    };
    t.same([...(await describe())].sort(), [
      [0, 37],
      [1, 30],
    ]);
    for (const m of members) {
      await m.close();
      await m.heartbeat(n3, true);
    }
    const alter = await n3.conn.request(ApiKey.AlterShareGroupOffsets, 0, { groupId: GROUP, topics: [{ topicName: TOPIC, partitions: [{ partitionIndex: 1, startOffset: 10 }] }] }, 10_000);
    t.same(
      alter.responses.flatMap((r) => r.partitions.map((p) => p.errorCode)),
      [ErrorCode.NONE],
    );
    t.equal(summary(1)?.startOffset, 10, 'AlterShareGroupOffsets reached the share coordinator');
    t.same([...(await describe())].sort(), [
      [0, 37],
      [1, 10],
    ]);
    const late = new Member(topicId);
    await late.heartbeat(n3);
    // One batch holds offsets 0-29: the whole batch's records from 10 on are acquired.
    const got = await late.fetch(n3, [1], [], 5, 200);
    t.same(
      got.map((x) => [x.offset, x.deliveryCount]),
      Array.from({ length: 20 }, (_, i) => [10 + i, 1]),
      'the leader reads the altered state: records from offset 10 again, first delivery (a new state epoch)',
    );
    await late.close();
    await late.heartbeat(n3, true);
    const del = await n3.conn.request(ApiKey.DeleteShareGroupOffsets, 0, { groupId: GROUP, topics: [{ topicName: TOPIC }] }, 10_000);
    t.same(
      del.responses.map((r) => r.errorCode),
      [ErrorCode.NONE],
    );
    t.equal(summary(0), null, 'DeleteShareGroupOffsets removed the state on the share coordinator');
    t.equal(summary(1), null);
  });
});
