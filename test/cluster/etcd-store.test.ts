// cluster/ room tests: the etcd MetadataStore against a real etcd (started here on loopback ports
// with a temp data dir): several stores, as several brokers would run them, share one cluster —
// cluster id, registrations, replica assignment, compare-and-set on partition state, controller
// election and failover, unclean election, fencing of a deposed controller, producer id blocks,
// and following the metadata across an etcd restart and a compaction.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import t from 'tap';
import { EtcdMetadataStore, type MetadataEvent, type PartitionState } from '../../src/cluster/index.js';
import { encodeTopic } from '../../src/cluster/etcd-keys.js';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { EtcdServer, findEtcd, reportMissingEtcd } from '../helpers/etcd.js';

const SESSION_MS = 3000;

interface Node {
  nodeId: number;
  store: EtcdMetadataStore;
  events: MetadataEvent[];
  dir: string;
}

interface Cleanup {
  teardown(fn: () => unknown): void;
}

async function rejectionCode(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KafkaError) return err.code;
    throw err;
  }
  return ErrorCode.NONE;
}

/** Polls `check` until it returns true (or throws at the deadline with `what`). */
async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const bin = findEtcd();
if (bin === null) {
  reportMissingEtcd(t);
} else {
  let etcd: EtcdServer;
  let prefixCounter = 0;
  const tempDirs: string[] = [];

  t.before(async () => {
    etcd = await EtcdServer.start(bin);
  });
  t.teardown(async () => {
    await etcd.stop();
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });

  const newPrefix = (): string => `t${process.pid}-${++prefixCounter}`;

  function brokerConfig(nodeId: number, prefix: string, endpoint: string, extra: Record<string, string | number> = {}): BrokerConfig {
    return new BrokerConfig({
      env: {},
      overrides: {
        'node.id': nodeId,
        'spool.etcd.endpoints': endpoint,
        'spool.etcd.prefix': prefix,
        'broker.session.timeout.ms': SESSION_MS,
        'spool.etcd.request.timeout.ms': 10_000,
        ...extra,
      },
    });
  }

  /** Starts a store (a broker's metadata) and registers it unless told not to. */
  async function openNode(
    tap: Cleanup,
    nodeId: number,
    prefix: string,
    options: { extra?: Record<string, string | number>; register?: boolean; dir?: string; endpoint?: string; rack?: string | null } = {},
  ): Promise<Node> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), `spool-etcd-node${nodeId}-`));
    tempDirs.push(dir);
    const store = new EtcdMetadataStore(dir, brokerConfig(nodeId, prefix, options.endpoint ?? etcd.endpoint, options.extra));
    await store.start();
    tap.teardown(() => store.close());
    const node: Node = { nodeId, store, events: [], dir };
    store.subscribe((e) => {
      node.events.push(e);
    });
    if (options.register !== false) await store.registerBroker({ nodeId, host: 'localhost', port: 9090 + nodeId, rack: options.rack ?? null });
    return node;
  }

  async function openCluster(tap: Cleanup, prefix: string, extra: Record<string, string | number> = {}): Promise<Node[]> {
    const nodes: Node[] = [];
    for (const id of [1, 2, 3]) nodes.push(await openNode(tap, id, prefix, { extra }));
    await eventually('every broker sees 3 registrations and one controller', () =>
      nodes.every((n) => n.store.brokers().length === 3 && n.store.controllerId() > 0 && n.store.controllerId() === nodes[0].store.controllerId()),
    );
    return nodes;
  }

  const topicEvents = (n: Node): string[] =>
    n.events
      .map((e) => {
        switch (e.type) {
          case 'broker-registered':
            return '';
          case 'topic-created':
          case 'topic-deleted':
            return `${e.type}:${e.topic.name}:${e.topic.topicId}`;
          case 'partitions-created':
            return `${e.type}:${e.topic}:${e.partitions.map((p) => p.partition).join(',')}`;
          case 'partition-changed':
            return `${e.type}:${e.partition.topic}-${e.partition.partition}:${e.partition.leader}:${e.partition.leaderEpoch}:${e.partition.partitionEpoch}`;
          case 'topic-configs-changed':
            return `${e.type}:${e.topic}:${JSON.stringify(e.configs)}`;
        }
      })
      .filter((e) => e !== '');

  const stateOf = (n: Node, topic: string, p: number): PartitionState => {
    const s = n.store.partition(topic, p);
    if (!s) throw new Error(`node ${n.nodeId} has no ${topic}-${p}`);
    return s;
  };

  t.test('cluster id is shared, written to meta.properties, and a configured one must match', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    const ids = new Set(nodes.map((n) => n.store.clusterId));
    t.equal(ids.size, 1, 'one cluster id');
    for (const n of nodes) t.match(readFileSync(join(n.dir, 'meta.properties'), 'utf8'), `cluster.id=${nodes[0].store.clusterId}`);
    const wrongDir = mkdtempSync(join(tmpdir(), 'spool-etcd-wrong-'));
    tempDirs.push(wrongDir);
    const wrong = new EtcdMetadataStore(wrongDir, brokerConfig(4, prefix, etcd.endpoint, { 'cluster.id': 'AAAAAAAAAAAAAAAAAAAAAg' }));
    await t.rejects(wrong.start(), /belongs to cluster/, 'a different configured cluster.id is refused');
  });

  t.test('registration: live brokers, epochs, one controller; a duplicate node.id is refused', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    const brokers = nodes[0].store.brokers();
    t.same(brokers.map((b) => [b.nodeId, b.host, b.port]), [[1, 'localhost', 9091], [2, 'localhost', 9092], [3, 'localhost', 9093]]);
    t.ok(brokers.every((b) => b.epoch > 0), 'broker epochs are registration revisions');
    t.equal(nodes.filter((n) => n.store.isController()).length, 1, 'exactly one broker acts as controller');
    t.ok(nodes[0].store.controllerEpoch() >= 1);
    const started = Date.now();
    const dup = await openNode(t, 2, prefix, { register: false });
    t.equal(await rejectionCode(dup.store.registerBroker({ nodeId: 2, host: 'other', port: 1, rack: null })), ErrorCode.DUPLICATE_BROKER_REGISTRATION);
    t.ok(Date.now() - started < SESSION_MS + 5000, 'refused within the session timeout');
    t.equal(nodes[0].store.brokers().find((b) => b.nodeId === 2)?.host, 'localhost', 'the live registration is untouched');
  });

  t.test('topics: assignment over live brokers, converging images, ordered events', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix, { 'offsets.topic.replication.factor': 3 });
    const [a, b, c] = nodes;
    const topic = await a.store.createTopic({ name: 'orders', partitions: 6, replicationFactor: 3, configs: { 'retention.ms': '1000' }, internal: false });
    t.equal(topic.partitions.length, 6);
    const leaders = new Map<number, number>();
    for (const p of topic.partitions) {
      t.equal(new Set(p.replicas).size, 3, `p${p.partition}: 3 distinct replicas`);
      t.ok(p.replicas.every((r) => [1, 2, 3].includes(r)));
      t.same(p.isr, p.replicas, 'ISR = replicas');
      t.equal(p.leader, p.replicas[0], 'leader = first replica');
      t.equal(p.leaderEpoch, 0);
      t.equal(p.partitionEpoch, 0);
      leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
    }
    t.same([...leaders.values()], [2, 2, 2], 'leaders spread evenly');

    t.equal(await rejectionCode(b.store.createTopic({ name: 'orders', partitions: 1, replicationFactor: 1, configs: {}, internal: false })), ErrorCode.TOPIC_ALREADY_EXISTS);
    await t.rejects(
      c.store.createTopic({ name: 'wide', partitions: 1, replicationFactor: 4, configs: {}, internal: false }),
      { message: 'Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered.' },
    );
    t.equal(await rejectionCode(c.store.createTopic({ name: 'bad', partitions: 1, replicationFactor: 1, configs: { 'no.such': '1' }, internal: false })), ErrorCode.INVALID_CONFIG);
    const offsets = await b.store.createTopic({ name: '__consumer_offsets', partitions: 3, replicationFactor: -1, configs: {}, internal: true });
    t.ok(offsets.partitions.every((p) => p.replicas.length === 3), '__consumer_offsets takes offsets.topic.replication.factor');
    t.equal(await rejectionCode(c.store.createTopic({ name: '__consumer.offsets', partitions: 1, replicationFactor: 1, configs: {}, internal: false })), ErrorCode.INVALID_TOPIC_EXCEPTION, "'.' and '_' collide");
    const dflt = await b.store.createTopic({ name: 'dflt', partitions: 2, replicationFactor: -1, configs: {}, internal: false });
    t.ok(dflt.partitions.every((p) => p.replicas.length === 1), 'default.replication.factor');

    await b.store.createPartitions('orders', 8);
    await c.store.alterTopicConfigs('orders', { 'retention.ms': '2000', 'cleanup.policy': 'compact' });
    await a.store.deleteTopic('dflt');
    t.equal(await rejectionCode(a.store.deleteTopic('dflt')), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    // Every writer saw its own change at once; every broker converges to the same image.
    t.equal(b.store.topic('orders')?.partitions.length, 8);
    t.same(c.store.topic('orders')?.configs, { 'retention.ms': '2000', 'cleanup.policy': 'compact' });
    t.equal(a.store.topic('dflt'), undefined);
    const image = (n: Node): string => JSON.stringify(n.store.topics().sort((x, y) => x.name.localeCompare(y.name)));
    await eventually('images converge', () => image(a) === image(b) && image(b) === image(c));
    const added = a.store.topic('orders')!.partitions.slice(6);
    t.ok(added.every((p) => new Set(p.replicas).size === 3), 'added partitions get 3 replicas');

    await eventually('events converge', () => topicEvents(a).length === topicEvents(c).length && topicEvents(b).length === topicEvents(c).length);
    t.same(topicEvents(b), topicEvents(a), 'same events in the same order on every broker');
    t.same(topicEvents(c), topicEvents(a));
    t.same(
      topicEvents(a).map((e) => e.split(':').slice(0, 2).join(':')),
      ['topic-created:orders', 'topic-created:__consumer_offsets', 'topic-created:dflt', 'partitions-created:orders', 'topic-configs-changed:orders', 'topic-deleted:dflt'],
    );
    for (const n of nodes) {
      const versions = n.events.map((e) => e.version);
      t.ok(versions.every((v, i) => i === 0 || v > versions[i - 1]), `node ${n.nodeId}: versions increase`);
    }
  });

  t.test('alterPartition is a compare-and-set on leader epoch and partition epoch', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    const [a, b] = nodes;
    await a.store.createTopic({ name: 'cas', partitions: 1, replicationFactor: 3, configs: {}, internal: false });
    const p0 = stateOf(a, 'cas', 0);
    const follower = p0.replicas[2];
    const shrunk = await b.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [p0.leader, p0.replicas[1]] });
    t.same(shrunk.isr, [p0.leader, p0.replicas[1]]);
    t.equal(shrunk.partitionEpoch, 1);
    t.equal(shrunk.leaderEpoch, 0);
    t.equal(await rejectionCode(a.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: p0.replicas })), ErrorCode.INVALID_UPDATE_VERSION, 'stale partition epoch');
    t.equal(await rejectionCode(a.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 1, partitionEpoch: 1, isr: p0.replicas })), ErrorCode.FENCED_LEADER_EPOCH, 'wrong leader epoch');
    t.equal(await rejectionCode(a.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 0, partitionEpoch: 1, isr: [follower] })), ErrorCode.INVALID_REQUEST, 'ISR without the leader');
    t.equal(await rejectionCode(a.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 0, partitionEpoch: 1, isr: [p0.leader, 9] })), ErrorCode.INELIGIBLE_REPLICA, 'ISR member that is no replica');
    t.equal(await rejectionCode(a.store.alterPartition({ topic: 'cas', partition: 5, leaderEpoch: 0, partitionEpoch: 0 })), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const expanded = await a.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 0, partitionEpoch: 1, isr: p0.replicas });
    t.equal(expanded.partitionEpoch, 2);
    // Two concurrent changes from the same view: exactly one wins.
    const race = await Promise.all(
      nodes.map((n) => rejectionCode(n.store.alterPartition({ topic: 'cas', partition: 0, leaderEpoch: 0, partitionEpoch: 2, isr: [p0.leader] }))),
    );
    t.same(race.filter((c) => c === ErrorCode.NONE).length, 1, 'one concurrent change wins');
    t.ok(race.filter((c) => c !== ErrorCode.NONE).every((c) => c === ErrorCode.INVALID_UPDATE_VERSION), 'the others are stale');
    await eventually('all brokers at partition epoch 3', () => nodes.every((n) => stateOf(n, 'cas', 0).partitionEpoch === 3));
  });

  t.test('controller failover: leaders move within the ISR with a bumped epoch', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    const byId = (id: number): Node => nodes.find((n) => n.nodeId === id)!;
    await nodes[0].store.createTopic({ name: 'fo', partitions: 3, replicationFactor: 3, configs: {}, internal: false });
    // Partition 0: remove the second replica from the ISR, so the next leader must be the third.
    const p0 = stateOf(nodes[0], 'fo', 0);
    const [leader, outOfSync, inSync] = p0.replicas;
    await byId(leader).store.alterPartition({ topic: 'fo', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [leader, inSync] });
    const controllerBefore = nodes[0].store.controllerId();
    const epochBefore = nodes[0].store.controllerEpoch();
    const survivors = nodes.filter((n) => n.nodeId !== leader);
    await byId(leader).store.close(); // clean shutdown: lease revoked
    await eventually('survivors drop the closed broker', () => survivors.every((n) => n.store.brokers().length === 2));
    await eventually('partition 0 has a new leader on every survivor', () => survivors.every((n) => stateOf(n, 'fo', 0).leader !== leader));
    for (const n of survivors) {
      const s = stateOf(n, 'fo', 0);
      t.equal(s.leader, inSync, `node ${n.nodeId}: the new leader is the in-sync replica, not ${outOfSync}`);
      t.same(s.isr, [inSync], 'the dead broker left the ISR');
      t.equal(s.leaderEpoch, 1, 'leader epoch bumped');
      t.equal(s.partitionEpoch, 2);
    }
    await eventually('the closed broker leaves every ISR', () =>
      survivors.every((n) => [0, 1, 2].every((p) => !stateOf(n, 'fo', p).isr.includes(leader) && stateOf(n, 'fo', p).leader !== leader)),
    );
    for (const p of [1, 2]) {
      const s = stateOf(survivors[0], 'fo', p);
      const before = s.replicas;
      t.ok(before.includes(s.leader), `fo-${p}: leader is a replica`);
      t.equal(s.isr.length, 2, `fo-${p}: ISR shrank to the live replicas`);
    }
    // The dead broker cannot be added back to an ISR (Kafka: INELIGIBLE_REPLICA).
    const s1 = stateOf(byId(stateOf(survivors[0], 'fo', 1).leader), 'fo', 1);
    t.equal(
      await rejectionCode(byId(s1.leader).store.alterPartition({ topic: 'fo', partition: 1, leaderEpoch: s1.leaderEpoch, partitionEpoch: s1.partitionEpoch, isr: [...s1.isr, leader] })),
      ErrorCode.INELIGIBLE_REPLICA,
    );
    if (controllerBefore === leader) {
      t.ok(survivors[0].store.controllerEpoch() > epochBefore, 'a new controller was elected with a higher epoch');
      t.not(survivors[0].store.controllerId(), leader);
    }
    // Failover of the controller itself.
    const controller = survivors.find((n) => n.store.isController())!;
    const other = survivors.find((n) => n !== controller)!;
    const epoch = other.store.controllerEpoch();
    // Where the last broker is in the ISR it takes over; elsewhere the partition goes offline.
    const expected = [0, 1, 2].map((p) => (stateOf(other, 'fo', p).isr.includes(other.nodeId) ? other.nodeId : -1));
    t.ok(expected.includes(other.nodeId));
    await controller.store.close();
    await eventually('the last broker becomes controller', () => other.store.isController() && other.store.controllerEpoch() > epoch);
    await eventually('it leads where it is in sync, the rest is offline', () => [0, 1, 2].every((p) => stateOf(other, 'fo', p).leader === expected[p]));
  });

  t.test('unclean leader election happens only where enabled', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    const byId = (id: number): Node => nodes.find((n) => n.nodeId === id)!;
    await nodes[0].store.createTopic({ name: 'clean', partitions: 1, replicationFactor: 3, configs: {}, internal: false });
    await nodes[0].store.createTopic({ name: 'dirty', partitions: 1, replicationFactor: 3, configs: { 'unclean.leader.election.enable': 'true' }, internal: false });
    // Make the ISR of both the same single broker, which the test then stops.
    const cleanState = stateOf(nodes[0], 'clean', 0);
    const dirtyState = stateOf(nodes[0], 'dirty', 0);
    const victim = cleanState.leader;
    await byId(victim).store.alterPartition({ topic: 'clean', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [victim] });
    let d = dirtyState;
    if (dirtyState.leader !== victim) {
      // Hand 'dirty' to the victim first (as an election would), then shrink its ISR to it.
      d = await byId(dirtyState.leader).store.alterPartition({ topic: 'dirty', partition: 0, leaderEpoch: 0, partitionEpoch: 0, leader: victim, isr: dirtyState.replicas });
    }
    d = await byId(victim).store.alterPartition({ topic: 'dirty', partition: 0, leaderEpoch: d.leaderEpoch, partitionEpoch: d.partitionEpoch, isr: [victim] });
    const survivors = nodes.filter((n) => n.nodeId !== victim);
    const dirtyEpoch = d.leaderEpoch;
    await byId(victim).store.close();
    await eventually('clean goes offline', () => survivors.every((n) => stateOf(n, 'clean', 0).leader === -1));
    await eventually('dirty elects an out-of-sync replica', () => survivors.every((n) => stateOf(n, 'dirty', 0).leader > 0 && stateOf(n, 'dirty', 0).leader !== victim));
    const clean = stateOf(survivors[0], 'clean', 0);
    t.same(clean.isr, [victim], 'an offline partition keeps its ISR');
    t.equal(clean.leaderEpoch, 1);
    const dirty = stateOf(survivors[0], 'dirty', 0);
    t.same(dirty.isr, [dirty.leader], 'unclean leader is the whole ISR');
    t.equal(dirty.leader, dirty.replicas.find((r) => r !== victim), 'first live replica in replica order');
    t.equal(dirty.leaderEpoch, dirtyEpoch + 1);
    // The in-sync broker comes back (same node.id, same log dir): it leads the offline partition.
    const back = await openNode(t, victim, prefix, { dir: byId(victim).dir });
    await eventually('the returning ISR member leads clean again', () => stateOf(back, 'clean', 0).leader === victim);
    t.equal(stateOf(back, 'clean', 0).leaderEpoch, 2);
    t.equal(stateOf(back, 'dirty', 0).leader, dirty.leader, 'dirty keeps its new leader');
  });

  t.test('a deposed controller cannot write', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    await nodes[0].store.createTopic({ name: 'fence', partitions: 3, replicationFactor: 3, configs: {}, internal: false });
    const old = nodes.find((n) => n.store.isController())!;
    const token = old.store.controllerToken;
    const epoch = old.store.controllerEpoch();
    t.ok(token > 0);
    // Its session ends behind its back (as if etcd expired it): the key goes, another election runs.
    const raw = new Etcd3({ hosts: etcd.endpoint });
    t.teardown(() => raw.close());
    await raw.leaseClient.leaseRevoke({ ID: old.store.sessionLeaseId });
    const others = nodes.filter((n) => n !== old);
    await eventually('a new controller epoch', () => others.every((n) => n.store.controllerEpoch() > epoch));
    const before = JSON.stringify(others[0].store.topic('fence'));
    const victim = others[0].nodeId;
    const refused = await old.store.runControllerPass({ token, fence: [victim] });
    t.ok(refused.planned > 0, 'the stale controller had changes to make');
    t.equal(refused.written, 0, 'none was written');
    t.ok(refused.fenced, 'refused because the controller key changed');
    await new Promise((r) => setTimeout(r, 200));
    t.equal(JSON.stringify(others[0].store.topic('fence')), before, 'partition state untouched');
    // The current controller's token is accepted (control).
    await eventually('someone holds the key', () => nodes.some((n) => n.store.isController()));
    const current = nodes.find((n) => n.store.isController())!;
    const accepted = await current.store.runControllerPass({ fence: [victim] });
    t.ok(accepted.written > 0 && !accepted.fenced, 'the current controller writes');
    t.ok(current.store.topic('fence')!.partitions.every((p) => !p.isr.includes(victim)));
  });

  t.test('producer id blocks are disjoint across brokers', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const nodes = await openCluster(t, prefix);
    const blocks = await Promise.all(nodes.flatMap((n) => Array.from({ length: 10 }, () => n.store.allocateProducerIds())));
    const starts = blocks.map((b) => b.firstProducerId).sort((x, y) => x - y);
    t.equal(new Set(starts).size, 30, '30 different blocks');
    t.same(starts, Array.from({ length: 30 }, (_, i) => i * 1000), 'consecutive blocks of 1000, none shared');
  });

  t.test('a broker cut off longer than its session is fenced, then registers again', { timeout: 30_000 }, async (t) => {
    const prefix = newPrefix();
    const proxy = await TcpProxy.start(etcd.clientPort);
    t.teardown(() => proxy.close());
    const a = await openNode(t, 1, prefix);
    const b = await openNode(t, 2, prefix);
    // Broker 3 joins once 1 or 2 is controller, so someone else fences it.
    await eventually('a controller', () => a.store.controllerId() > 0 && b.store.controllerId() > 0);
    const c = await openNode(t, 3, prefix, { endpoint: `http://127.0.0.1:${proxy.port}` });
    await eventually('3 brokers', () => [a, b, c].every((n) => n.store.brokers().length === 3));
    t.not(a.store.controllerId(), 3);
    await a.store.createTopic({ name: 'cut', partitions: 3, replicationFactor: 3, configs: {}, internal: false });
    await eventually('broker 3 has the topic', () => c.store.topic('cut') !== undefined);
    const epochBefore = a.store.brokers().find((x) => x.nodeId === 3)!.epoch;
    proxy.pause();
    await eventually('broker 3 expires and is fenced', () =>
      a.store.brokers().length === 2 && [0, 1, 2].every((p) => !stateOf(a, 'cut', p).isr.includes(3) && stateOf(a, 'cut', p).leader !== 3),
    SESSION_MS + 5000);
    proxy.resume();
    await eventually('broker 3 registers again with a new epoch', () => (a.store.brokers().find((x) => x.nodeId === 3)?.epoch ?? 0) > epochBefore, 15_000);
    const image = (n: Node): string => JSON.stringify(n.store.topics());
    await eventually('broker 3 converges', () => image(c) === image(a) && c.store.brokers().length === 3);
    t.pass('fenced, back, converged');
  });

  t.test('etcd restart and compaction: stores reconnect and miss no event', { timeout: 45_000 }, async (t) => {
    const prefix = newPrefix();
    // Broker 3 reaches etcd through a proxy the test can cut.
    const proxy = await TcpProxy.start(etcd.clientPort);
    t.teardown(() => proxy.close());
    const a = await openNode(t, 1, prefix);
    const b = await openNode(t, 2, prefix);
    const c = await openNode(t, 3, prefix, { endpoint: `http://127.0.0.1:${proxy.port}` });
    const nodes = [a, b, c];
    await eventually('3 brokers', () => nodes.every((n) => n.store.brokers().length === 3 && n.store.controllerId() > 0));
    await a.store.createTopic({ name: 'before', partitions: 2, replicationFactor: 3, configs: {}, internal: false });

    await etcd.kill();
    await etcd.restart();
    // Written by another client while the stores may still be reconnecting.
    const raw = new Etcd3({ hosts: etcd.endpoint });
    t.teardown(() => raw.close());
    await raw.put(`/spool/${prefix}/topics/during`).value(encodeTopic({ name: 'during', topicId: 'ZHVyaW5nLXRvcGljLWlkAA', internal: false, configs: {}, replicas: [[1, 2, 3]] }));
    let created = false;
    for (let i = 0; i < 50 && !created; i++) {
      const code = await rejectionCode(b.store.createTopic({ name: 'after', partitions: 1, replicationFactor: 3, configs: {}, internal: false }));
      created = code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS;
      if (!created) await new Promise((r) => setTimeout(r, 200));
    }
    t.ok(created, 'a write succeeds after the restart');
    await eventually('every store has all three topics', () => nodes.every((n) => ['before', 'during', 'after'].every((name) => n.store.topic(name) !== undefined)), 20_000);
    t.same(topicEvents(b), topicEvents(a), 'same event sequence on every broker');
    t.same(topicEvents(c), topicEvents(a));
    t.equal(a.store.brokers().length, 3, 'registrations survived (the leases outlived the restart)');

    // Cut broker 3 off, change and compact behind its back: its watch cannot resume, it reloads.
    proxy.pause();
    await a.store.createTopic({ name: 'compacted', partitions: 1, replicationFactor: 3, configs: {}, internal: false });
    await a.store.deleteTopic('during');
    const rev = (await raw.get(`/spool/${prefix}/topics/compacted`).exec()).header.revision;
    await raw.kv.compact({ revision: rev, physical: true });
    proxy.resume();
    await eventually('broker 3 catches up through a snapshot', () => c.store.topic('compacted') !== undefined && c.store.topic('during') === undefined, 20_000);
    const names = topicEvents(c).map((e) => e.split(':').slice(0, 2).join(':'));
    t.ok(names.includes('topic-created:compacted'), 'the reload published the topic it missed');
    t.ok(names.includes('topic-deleted:during'), 'and the deletion');
    const image = (n: Node): string => JSON.stringify(n.store.topics().sort((x, y) => x.name.localeCompare(y.name)));
    await eventually('images converge', () => image(a) === image(c) && image(b) === image(c));
  });
}

/** A TCP proxy in front of etcd whose connections the test can cut (a network partition). */
class TcpProxy {
  private paused = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const holder: { proxy?: TcpProxy } = {};
    const server = createServer((client) => {
      const proxy = holder.proxy;
      if (!proxy || proxy.paused) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      const p = proxy;
      p.sockets.add(client);
      p.sockets.add(upstream);
      const done = (): void => {
        client.destroy();
        upstream.destroy();
        p.sockets.delete(client);
        p.sockets.delete(upstream);
      };
      client.on('error', done).on('close', done);
      upstream.on('error', done).on('close', done);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const proxy = new TcpProxy(server, typeof address === 'object' && address !== null ? address.port : 0);
    holder.proxy = proxy;
    return proxy;
  }

  pause(): void {
    this.paused = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  resume(): void {
    this.paused = false;
  }

  close(): Promise<void> {
    this.pause();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
