// cluster/ room tests: ElectLeaders (key 43) and what kafka-topics reports about replication.
//  - the election rules (pure);
//  - one broker on the local store, raw ElectLeaders v0-v2 requests;
//  - the etcd store alone: only the controller elects (NOT_CONTROLLER elsewhere, and once deposed),
//    preferred replica out of the ISR, epochs bumped and ISR kept on an election;
//  - a 3-broker cluster on etcd (separate processes) driven with Apache Kafka's own tools from the
//    jars in .cache/kafka-jars: kafka-topics --describe --under-replicated-partitions /
//    --unavailable-partitions (TopicCommand) while brokers are down and after they rejoined, and
//    kafka-leader-election (LeaderElectionCommand): leaders go back to the preferred replicas with
//    bumped leader epochs, a second run needs no election, an unclean election makes a live
//    out-of-sync replica lead a partition whose in-sync replicas are all down. Raw requests check
//    that a broker which is not the controller forwards the request to it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { Broker } from '../../src/broker.js';
import { EtcdMetadataStore, type PartitionState } from '../../src/cluster/index.js';
import { decideElection } from '../../src/cluster/elections.js';
import { BrokerConfig } from '../../src/config/index.js';
import { ErrorCode, KafkaError } from '../../src/errors.js';
import { BrokerConnection } from '../../src/network/client.js';
import { ApiKey } from '../../src/protocol/index.js';
import { tempDir } from '../helpers/broker.js';
import { etcdBinary, startClusterProcesses, type ClusterProcesses } from '../helpers/cluster.js';
import { EtcdServer, findEtcd } from '../helpers/etcd.js';
import { requireToolchain } from '../interop/common.js';
import { kafkaToolsAvailable, runKafkaClass } from '../interop/kafka-tools.js';

const { Kafka, logLevel } = kafkajs;
const logger = pino({ level: process.env.SPOOL_TEST_LOG_LEVEL ?? 'silent' });

async function connection(host: string, port: number, clientId = 'elect-leaders-test'): Promise<BrokerConnection> {
  return BrokerConnection.open({ host, port, clientId, maxResponseBytes: 64 * 1024 * 1024, connectTimeoutMs: 5000 });
}

/** Polls `check` (a throw counts as not yet: a broker may be going away) until it holds. */
async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const attempt = async (): Promise<string | null> => {
    try {
      return (await check()) ? null : '';
    } catch (err) {
      return `: ${err instanceof Error ? err.message : JSON.stringify(err)}`;
    }
  };
  // Bounded by the deadline.
  for (;;) {
    const problem = await attempt();
    if (problem === null) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${problem}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const state = (partial: Partial<PartitionState>): PartitionState => ({
  topic: 't',
  topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
  partition: 0,
  replicas: [1, 2, 3],
  isr: [1, 2, 3],
  leader: 1,
  leaderEpoch: 4,
  partitionEpoch: 9,
  ...partial,
});

t.test('election rules', async (t) => {
  const all = new Set([1, 2, 3]);
  const code = (d: ReturnType<typeof decideElection>): number => (d.kind === 'refuse' ? d.errorCode : ErrorCode.NONE);
  t.equal(code(decideElection(state({}), 'preferred', all)), ErrorCode.ELECTION_NOT_NEEDED, 'preferred replica already leads');
  const back = decideElection(state({ leader: 2 }), 'preferred', all);
  t.same(back.kind === 'elect' ? [back.next.leader, back.next.leaderEpoch, back.next.partitionEpoch, back.next.isr] : back, [1, 5, 10, [1, 2, 3]], 'preferred replica elected, epochs bumped, ISR kept');
  t.equal(code(decideElection(state({ leader: 2 }), 'preferred', new Set([2, 3]))), ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 'preferred replica dead');
  t.equal(code(decideElection(state({ leader: 2, isr: [2, 3] }), 'preferred', all)), ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 'preferred replica not in sync');
  t.equal(code(decideElection(state({ leader: 2 }), 'unclean', all)), ErrorCode.ELECTION_NOT_NEEDED, 'unclean: live leader');
  const unclean = decideElection(state({ leader: -1, isr: [1] }), 'unclean', new Set([2, 3]));
  t.same(unclean.kind === 'elect' ? [unclean.unclean, unclean.next.leader, unclean.next.isr, unclean.next.leaderEpoch] : unclean, [true, 2, [2], 5], 'unclean: first live replica, ISR = [it]');
  const clean = decideElection(state({ leader: 1, isr: [1, 3] }), 'unclean', new Set([2, 3]));
  t.same(clean.kind === 'elect' ? [clean.unclean, clean.next.leader, clean.next.isr] : clean, [false, 3, [3]], 'unclean: a live in-sync replica is taken first');
  t.equal(code(decideElection(state({ leader: -1, isr: [1] }), 'unclean', new Set())), ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, 'unclean: nobody alive');
});

t.test('one broker (local store): raw ElectLeaders v0, v1 and v2', async (t) => {
  const d = tempDir('spool-elect-local-');
  t.teardown(d.cleanup);
  const broker = new Broker({ env: {}, logger, overrides: { 'node.id': 1, 'log.dirs': join(d.dir, 'data'), listeners: 'PLAINTEXT://127.0.0.1:0' } });
  const { port } = await broker.start();
  t.teardown(() => broker.stop());
  await broker.createTopic('solo', 2);
  const conn = await connection('127.0.0.1', port);
  t.teardown(() => conn.close());

  const versions = await conn.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }, 5000);
  const advertised = versions.apiKeys.find((k) => k.apiKey === ApiKey.ElectLeaders);
  t.same(advertised && [advertised.minVersion, advertised.maxVersion], [0, 2], 'ApiVersions advertises ElectLeaders v0-2');

  const named = { topicPartitions: [{ topic: 'solo', partitionId: [0, 1, 7] }, { topic: 'nope', partitionId: [0] }], timeoutMs: 5000 };
  const codes = (res: { replicaElectionResults: Array<{ topic: string; partitionResult: Array<{ partitionId: number; errorCode: number }> }> }) =>
    res.replicaElectionResults.map((r) => [r.topic, r.partitionResult.map((p) => [p.partitionId, p.errorCode])]);
  const expected = [
    ['solo', [[0, ErrorCode.ELECTION_NOT_NEEDED], [1, ErrorCode.ELECTION_NOT_NEEDED], [7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
  ];
  const v0 = await conn.request(ApiKey.ElectLeaders, 0, named, 5000);
  t.same(codes(v0), expected, 'v0 (preferred): per-partition codes');
  for (const [version, electionType] of [[1, 0], [2, 1]]) {
    const res = await conn.request(ApiKey.ElectLeaders, version, { ...named, electionType }, 5000);
    t.equal(res.errorCode, ErrorCode.NONE, `v${version}: no top-level error`);
    t.same(codes(res), expected, `v${version} (${electionType === 0 ? 'preferred' : 'unclean'}): per-partition codes`);
  }
  const everything = await conn.request(ApiKey.ElectLeaders, 2, { electionType: 0, topicPartitions: null, timeoutMs: 5000 }, 5000);
  t.same(codes(everything), [['solo', []]], 'all partitions: those that needed no election are left out');
  const bad = await conn.request(ApiKey.ElectLeaders, 2, { ...named, electionType: 7 }, 5000);
  t.equal(bad.errorCode, ErrorCode.INVALID_REQUEST, 'unknown election type: INVALID_REQUEST at the top');
  t.same(codes(bad)[0], ['solo', [[0, ErrorCode.INVALID_REQUEST], [1, ErrorCode.INVALID_REQUEST], [7, ErrorCode.INVALID_REQUEST]]], '... and for every partition');
  t.equal(broker.metadata.partition('solo', 0)?.leaderEpoch, 0, 'nothing was written');
});

t.test('etcd store: elections only on the controller, written with compare-and-set', { timeout: 60_000 }, async (t) => {
  const bin = findEtcd();
  if (!requireToolchain(t, bin !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)') || bin === null) return;
  const etcd = await EtcdServer.start(bin);
  t.teardown(() => etcd.stop());
  const d = tempDir('spool-elect-store-');
  t.teardown(d.cleanup);
  const stores = new Map<number, EtcdMetadataStore>();
  for (const nodeId of [1, 2, 3]) {
    const config = new BrokerConfig({
      env: {},
      overrides: { 'node.id': nodeId, 'spool.etcd.endpoints': etcd.endpoint, 'spool.etcd.prefix': 'elect', 'broker.session.timeout.ms': 3000 },
    });
    const store = new EtcdMetadataStore(join(d.dir, `node-${nodeId}`), config);
    await store.start();
    t.teardown(() => store.close());
    await store.registerBroker({ nodeId, host: '127.0.0.1', port: 9000 + nodeId, rack: null });
    stores.set(nodeId, store);
  }
  const all = [...stores.values()];
  const store = (id: number): EtcdMetadataStore => {
    const s = stores.get(id);
    if (s === undefined) throw new Error(`no store ${id}`);
    return s;
  };
  await waitFor('one controller, seen by all', () => all.every((s) => s.brokers().length === 3 && s.controllerId() > 0 && s.controllerId() === all[0].controllerId()));
  const controller = store(all[0].controllerId());
  await controller.createTopic({ name: 'st', partitions: 3, replicationFactor: 3, configs: {}, internal: false });
  await waitFor('every store has the topic', () => all.every((s) => s.topic('st') !== undefined));

  const notController = all.find((s) => s !== controller);
  let refused = 0;
  try {
    await notController?.electLeaders('preferred', null);
  } catch (err) {
    refused = err instanceof KafkaError ? err.code : -1;
  }
  t.equal(refused, ErrorCode.NOT_CONTROLLER, 'a broker that is not the controller refuses with NOT_CONTROLLER');
  t.same(await controller.electLeaders('preferred', null), [], 'every partition led by its preferred replica: nothing to report');

  // The preferred replica of some partition (not the controller) is fenced for one pass: it loses
  // leadership and ISR membership, as if it had restarted.
  const st = (id: number, p: number): PartitionState => {
    const s = store(id).partition('st', p);
    if (s === undefined) throw new Error(`store ${id} has no st-${p}`);
    return s;
  };
  const p = [0, 1, 2].find((x) => st(controller.controllerId(), x).replicas[0] !== controller.controllerId()) ?? 0;
  const preferred = st(controller.controllerId(), p).replicas[0];
  await controller.runControllerPass({ fence: [preferred] });
  const moved = st(controller.controllerId(), p);
  t.ok(moved.leader !== preferred && !moved.isr.includes(preferred), `st-${p}: broker ${preferred} lost leadership (leader ${moved.leader}) and left the ISR`);
  const notInSync = await controller.electLeaders('preferred', [{ topic: 'st', partition: p }]);
  t.same(notInSync.map((r) => r.errorCode), [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE], 'preferred replica out of the ISR: PREFERRED_LEADER_NOT_AVAILABLE');
  t.same((await controller.electLeaders('unclean', [{ topic: 'st', partition: p }])).map((r) => r.errorCode), [ErrorCode.ELECTION_NOT_NEEDED], 'unclean with a live leader: ELECTION_NOT_NEEDED');

  // The leader takes it back into the ISR (AlterPartition); then the election moves leadership.
  await store(moved.leader).alterPartition({ topic: 'st', partition: p, leaderEpoch: moved.leaderEpoch, partitionEpoch: moved.partitionEpoch, isr: [...moved.isr, preferred] });
  await waitFor('the controller sees the ISR expanded', () => st(controller.controllerId(), p).isr.includes(preferred));
  const before = st(controller.controllerId(), p);
  const elected = await controller.electLeaders('preferred', null);
  t.same(elected.map((r) => [r.topic, r.partition, r.errorCode]), [['st', p, ErrorCode.NONE]], 'all partitions: only the one elected is reported');
  const after = st(controller.controllerId(), p);
  t.same([after.leader, after.leaderEpoch, after.partitionEpoch, after.isr], [preferred, before.leaderEpoch + 1, before.partitionEpoch + 1, before.isr], 'applied on the controller when it resolves: leader, epochs bumped, ISR kept');
  await waitFor('every store follows', () => all.every((s) => s.partition('st', p)?.leaderEpoch === after.leaderEpoch && s.partition('st', p)?.leader === preferred));

  // A deposed controller: its session ends behind its back; it refuses, the new one decides.
  const raw = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(() => raw.close());
  const epoch = controller.controllerEpoch();
  await raw.leaseClient.leaseRevoke({ ID: controller.sessionLeaseId });
  await waitFor('a new controller', () => all.some((s) => s !== controller && s.isController() && s.controllerEpoch() > epoch));
  let deposed = 0;
  try {
    await controller.electLeaders('preferred', [{ topic: 'st', partition: p }]);
  } catch (err) {
    deposed = err instanceof KafkaError ? err.code : -1;
  }
  t.equal(deposed, ErrorCode.NOT_CONTROLLER, 'the deposed controller refuses with NOT_CONTROLLER');
});

// ---- the etcd cluster -------------------------------------------------------------------------

interface PartitionView {
  topic: string;
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offline: number[];
}

const label = (p: { topic: string; partition: number }): string => `${p.topic}-${p.partition}`;
const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** Metadata (v12) as one broker answers it. */
async function describe(host: string, port: number): Promise<{ controllerId: number; brokers: number[]; partitions: PartitionView[] }> {
  const conn = await connection(host, port);
  try {
    const res = await conn.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, 5000);
    const partitions = res.topics.flatMap((topic) =>
      topic.partitions.map((p) => ({
        topic: topic.name ?? '',
        partition: p.partitionIndex,
        leader: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
        offline: p.offlineReplicas,
      })),
    );
    partitions.sort((a, b) => label(a).localeCompare(label(b)));
    return { controllerId: res.controllerId, brokers: res.brokers.map((b) => b.nodeId).sort(), partitions };
  } finally {
    conn.close();
  }
}

/** Partition lines ("Topic: x\tPartition: n\t...") that kafka-topics printed, as topic-partition labels. */
function partitionLines(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*Topic: (\S+)\s+Partition: (\d+)\s/.exec(line);
    if (m) out.push(`${m[1]}-${m[2]}`);
  }
  return out.sort();
}

async function kafkaTopicsDescribe(bootstrap: string, option: '--under-replicated-partitions' | '--unavailable-partitions'): Promise<string[]> {
  const r = await runKafkaClass('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--describe', option], 60_000);
  if (r.code !== 0) throw new Error(`kafka-topics ${option} exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  return partitionLines(r.stdout);
}

interface ElectionRun {
  code: number | null;
  /** "Successfully completed leader election (...) for partitions a, b" */
  succeeded: string[];
  /** "Valid replica already elected for partitions a, b" */
  noop: string[];
  /** "Error completing leader election (...) for partition: t-p: <exception>" */
  failed: Map<string, string>;
  stdout: string;
}

async function leaderElection(bootstrap: string, type: 'PREFERRED' | 'UNCLEAN', target: string[]): Promise<ElectionRun> {
  const r = await runKafkaClass('org.apache.kafka.tools.LeaderElectionCommand', ['--bootstrap-server', bootstrap, '--election-type', type, ...target], 60_000);
  const list = (prefix: RegExp): string[] => {
    const line = r.stdout.split('\n').find((l) => prefix.test(l));
    return line === undefined ? [] : sorted(line.replace(prefix, '').split(', ').map((s) => s.trim()));
  };
  const failed = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^Error completing leader election \(\w+\) for partition: (\S+): ([\w.$]+)/gm)) failed.set(m[1], m[2]);
  return {
    code: r.code,
    succeeded: list(/^Successfully completed leader election \(\w+\) for partitions /),
    noop: list(/^Valid replica already elected for partitions /),
    failed,
    stdout: r.stdout + r.stderr,
  };
}

function electionFile(dir: string, name: string, partitions: Array<{ topic: string; partition: number }>): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ partitions }));
  return path;
}

t.test('a 3-broker cluster: kafka-topics replication reports and kafka-leader-election', { timeout: 180_000 }, async (t) => {
  if (!requireToolchain(t, etcdBinary() !== null, 'etcd is not installed (apt-get install etcd-server, or set SPOOL_ETCD_BIN)')) return;
  if (!requireToolchain(t, await kafkaToolsAvailable(), 'Kafka jars (.cache/kafka-jars) or java are missing')) return;
  const started = Date.now();
  const d = tempDir('spool-elect-');
  t.teardown(d.cleanup);
  const cluster: ClusterProcesses = await startClusterProcesses({
    brokers: 3,
    dir: d.dir,
    t,
    config: {
      'broker.session.timeout.ms': 3000,
      'replica.lag.time.max.ms': 3000,
      'replica.fetch.wait.max.ms': 100,
      'replica.fetch.backoff.ms': 100,
    },
  });
  const live = new Set([1, 2, 3]);
  const bootstrap = (): string => cluster.brokers.filter((b) => live.has(b.nodeId)).map((b) => b.address).join(',');
  const view = async () => {
    const b = cluster.brokers.find((h) => live.has(h.nodeId));
    if (b === undefined) throw new Error('no live broker');
    return describe(b.host, b.port);
  };
  const partitionOf = (v: { partitions: PartitionView[] }, topic: string, partition: number): PartitionView => {
    const p = v.partitions.find((x) => x.topic === topic && x.partition === partition);
    if (p === undefined) throw new Error(`no ${topic}-${partition} in metadata`);
    return p;
  };
  const stop = async (nodeId: number) => {
    live.delete(nodeId);
    await cluster.broker(nodeId).stop();
  };
  const restart = async (nodeId: number) => {
    await cluster.broker(nodeId).restart();
    live.add(nodeId);
  };

  await waitFor('three brokers registered', async () => (await view()).brokers.length === 3);
  const kafka = new Kafka({ brokers: cluster.brokers.map((b) => b.address), clientId: 'elect-test', logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: 'elect', numPartitions: 3, replicationFactor: 3 },
      { topic: 'pair', numPartitions: 3, replicationFactor: 2, configEntries: [{ name: 'unclean.leader.election.enable', value: 'false' }] },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: false });
  await producer.connect();
  for (let i = 0; i < 5; i++) {
    await producer.send({ topic: 'elect', acks: -1, messages: [0, 1, 2].map((partition) => ({ partition, value: `before-${i}` })) });
  }
  await producer.disconnect();
  await waitFor('every partition led and fully in sync', async () => (await view()).partitions.every((p) => p.leader > 0 && p.isr.length === p.replicas.length));
  const initial = await view();
  t.same(initial.partitions.map(label), ['elect-0', 'elect-1', 'elect-2', 'pair-0', 'pair-1', 'pair-2'], 'two topics, six partitions');
  t.ok(initial.partitions.every((p) => p.leader === p.replicas[0]), 'each partition starts led by its preferred replica');

  // ---- one broker down: under-replicated = exactly the partitions with a replica on it ----------
  const down = partitionOf(initial, 'elect', 0).replicas[0];
  const withDown = sorted(initial.partitions.filter((p) => p.replicas.includes(down)).map(label));
  t.ok(withDown.length > 3 && withDown.length < 6, `broker ${down} holds a replica of ${withDown.join(', ')}; some pair partition has none`);
  await stop(down);
  await waitFor(`broker ${down} out of every ISR and of leadership`, async () =>
    (await view()).partitions.every((p) => !p.isr.includes(down) && p.leader > 0 && p.leader !== down),
  );
  const whileDown = await view();
  t.same(
    whileDown.partitions.filter((p) => p.offline.length > 0).map((p) => [label(p), p.offline]),
    withDown.map((l) => [l, [down]]),
    'Metadata reports the stopped broker as the offline replica of exactly those partitions',
  );
  const [underWhileDown, unavailableWhileDown] = await Promise.all([
    kafkaTopicsDescribe(bootstrap(), '--under-replicated-partitions'),
    kafkaTopicsDescribe(bootstrap(), '--unavailable-partitions'),
  ]);
  t.same(underWhileDown, withDown, `kafka-topics --under-replicated-partitions lists exactly the partitions with a replica on broker ${down}`);
  t.same(unavailableWhileDown, [], 'kafka-topics --unavailable-partitions: every partition still has a live leader');

  // ---- it rejoins and catches up: nothing under-replicated, leadership stays away ---------------
  await restart(down);
  await waitFor(`broker ${down} back in every ISR`, async () => (await view()).partitions.every((p) => p.isr.length === p.replicas.length && p.offline.length === 0), 30_000);
  const beforeElection = await view();
  const displaced = sorted(beforeElection.partitions.filter((p) => p.leader !== p.replicas[0]).map(label));
  t.same(displaced, sorted(initial.partitions.filter((p) => p.replicas[0] === down).map(label)), `the partitions broker ${down} preferred are led by others now`);

  // ---- preferred election for all partitions (kafka-topics runs alongside: ISRs do not change) -----
  const [underAfterRejoin, preferred] = await Promise.all([
    kafkaTopicsDescribe(bootstrap(), '--under-replicated-partitions'),
    leaderElection(bootstrap(), 'PREFERRED', ['--all-topic-partitions']),
  ]);
  t.same(underAfterRejoin, [], 'kafka-topics --under-replicated-partitions lists nothing once it caught up');
  t.equal(preferred.code, 0, 'kafka-leader-election --election-type PREFERRED --all-topic-partitions exits 0');
  t.same(preferred.succeeded, displaced, 'it reports an election for exactly the displaced partitions');
  t.same(preferred.noop, [], 'partitions needing no election are left out of an all-partitions answer');
  await waitFor('leaders back on the preferred replicas', async () => (await view()).partitions.every((p) => p.leader === p.replicas[0]));
  const afterElection = await view();
  for (const p of afterElection.partitions) {
    const before = partitionOf(beforeElection, p.topic, p.partition);
    const moved = displaced.includes(label(p));
    t.equal(p.leaderEpoch, before.leaderEpoch + (moved ? 1 : 0), `${label(p)}: leader ${p.leader}, epoch ${before.leaderEpoch} -> ${p.leaderEpoch}`);
    t.same(p.isr.length, p.replicas.length, `${label(p)}: ISR unchanged`);
  }
  // Records written before are all there, read through the new leaders.
  const consumerAdmin = kafka.admin();
  await consumerAdmin.connect();
  const offsets = await consumerAdmin.fetchTopicOffsets('elect');
  await consumerAdmin.disconnect();
  t.same(offsets.map((o) => [o.partition, o.high]).sort(), [[0, '5'], [1, '5'], [2, '5']], 'every acknowledged record is still there (end offsets from the new leaders)');

  // ---- a second run: nothing to do; an unknown partition fails ----------------------------------
  const again = await leaderElection(bootstrap(), 'PREFERRED', [
    '--path-to-json-file',
    electionFile(d.dir, 'again.json', [...afterElection.partitions.map((p) => ({ topic: p.topic, partition: p.partition })), { topic: 'nope', partition: 0 }]),
  ]);
  t.equal(again.code, 1, 'a failed partition makes the tool exit 1');
  t.same(again.noop, afterElection.partitions.map(label), 'second run: "Valid replica already elected" (ELECTION_NOT_NEEDED) for every partition');
  t.same(again.succeeded, [], 'second run: no election');
  t.same([...again.failed], [['nope-0', 'org.apache.kafka.common.errors.UnknownTopicOrPartitionException']], 'unknown partition: UNKNOWN_TOPIC_OR_PARTITION');
  t.same(
    (await view()).partitions.map((p) => p.leaderEpoch),
    afterElection.partitions.map((p) => p.leaderEpoch),
    'no leader epoch moved on the second run',
  );

  // ---- a broker that is not the controller forwards the request ----------------------------------
  const controllerId = afterElection.controllerId;
  const other = cluster.brokers.find((b) => b.nodeId !== controllerId && live.has(b.nodeId));
  t.ok(controllerId > 0 && other !== undefined, `controller is broker ${controllerId}`);
  if (other !== undefined) {
    const conn = await connection(other.host, other.port);
    try {
      const v2 = await conn.request(ApiKey.ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'elect', partitionId: [0, 5] }], timeoutMs: 10_000 }, 15_000);
      t.same(
        [v2.errorCode, v2.replicaElectionResults.map((r) => r.partitionResult.map((p) => [p.partitionId, p.errorCode]))],
        [ErrorCode.NONE, [[[0, ErrorCode.ELECTION_NOT_NEEDED], [5, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]],
        `broker ${other.nodeId} (not the controller) answers with the controller's results (v2)`,
      );
      const v0 = await conn.request(ApiKey.ElectLeaders, 0, { topicPartitions: [{ topic: 'pair', partitionId: [1] }], timeoutMs: 10_000 }, 15_000);
      t.same(v0.replicaElectionResults.map((r) => r.partitionResult.map((p) => p.errorCode)), [[ErrorCode.ELECTION_NOT_NEEDED]], '... and to v0');
    } finally {
      conn.close();
    }
  }

  // ---- every in-sync replica of pair-X down: unavailable; unclean election -------------------------
  // A pair partition not on the third broker `keep`: its replicas p (leader) and q go down.
  const target = afterElection.partitions.filter((p) => p.topic === 'pair').find((p) => p.replicas.length === 2);
  if (target === undefined) throw new Error('no pair partition');
  const [p, q] = target.replicas;
  const keep = [1, 2, 3].find((id) => id !== p && id !== q) ?? -1;
  const pairOnly = sorted(afterElection.partitions.filter((x) => !x.replicas.includes(keep)).map(label));
  t.same(pairOnly, [label(target)], `${label(target)} is the one partition with no replica on broker ${keep}`);
  await stop(q);
  await waitFor(`${label(target)} ISR shrinks to [${p}]`, async () => partitionOf(await view(), target.topic, target.partition).isr.join() === String(p));
  await stop(p);
  await waitFor(`${label(target)} goes offline`, async () => partitionOf(await view(), target.topic, target.partition).leader === -1);
  const offline = partitionOf(await view(), target.topic, target.partition);
  t.same([offline.leader, offline.isr, offline.offline], [-1, [p], [p, q]], `${label(target)}: no leader, ISR [${p}] kept (unclean election is disabled)`);
  const one = ['--topic', target.topic, '--partition', String(target.partition)];
  const [unavailable, preferredDown, uncleanNobody] = await Promise.all([
    kafkaTopicsDescribe(bootstrap(), '--unavailable-partitions'),
    leaderElection(bootstrap(), 'PREFERRED', one),
    leaderElection(bootstrap(), 'UNCLEAN', one),
  ]);
  t.same(unavailable, [label(target)], 'kafka-topics --unavailable-partitions lists exactly the partition without a leader');
  t.same([preferredDown.code, [...preferredDown.failed]], [1, [[label(target), 'org.apache.kafka.common.errors.PreferredLeaderNotAvailableException']]], 'preferred election: PREFERRED_LEADER_NOT_AVAILABLE');
  t.same([uncleanNobody.code, [...uncleanNobody.failed]], [1, [[label(target), 'org.apache.kafka.common.errors.EligibleLeadersNotAvailableException']]], 'unclean election with no live replica: ELIGIBLE_LEADERS_NOT_AVAILABLE');

  // q comes back: alive but not in sync, so the controller leaves the partition offline.
  await restart(q);
  await waitFor(`broker ${q} registered again`, async () => (await view()).brokers.includes(q));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stillOffline = partitionOf(await view(), target.topic, target.partition);
  t.same([stillOffline.leader, stillOffline.isr], [-1, [p]], `${label(target)} stays offline with broker ${q} alive out of sync`);

  const unclean = await leaderElection(bootstrap(), 'UNCLEAN', ['--path-to-json-file', electionFile(d.dir, 'unclean.json', [target, { topic: 'elect', partition: 0 }])]);
  t.equal(unclean.code, 0, 'kafka-leader-election --election-type UNCLEAN exits 0');
  t.same(unclean.succeeded, [label(target)], `unclean election done for ${label(target)}`);
  t.same(unclean.noop, ['elect-0'], 'a partition with a live leader needs no unclean election');
  await waitFor(`broker ${q} leads ${label(target)}`, async () => partitionOf(await view(), target.topic, target.partition).leader === q);
  const elected = partitionOf(await view(), target.topic, target.partition);
  t.same([elected.leader, elected.isr, elected.leaderEpoch], [q, [q], stillOffline.leaderEpoch + 1], `${label(target)}: leader ${q} (out of sync before), ISR [${q}], leader epoch bumped`);
  t.same(await kafkaTopicsDescribe(bootstrap(), '--unavailable-partitions'), [], 'kafka-topics --unavailable-partitions lists nothing now');
  t.comment(`cluster test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await cluster.stop();
});
