// test/interop room (groups): KIP-848 online migration with Apache Kafka's Java KafkaConsumer —
// two members with group.protocol=classic form a classic group on a 4-partition topic; a third
// with group.protocol=consumer upgrades it to a consumer group in which the classic members carry
// on (JoinGroup/SyncGroup/Heartbeat served by the consumer group); when the consumer-protocol
// member stops, the group is downgraded to a classic group and the two classic members consume the
// rest. Every record is consumed, no partition has two owners in one generation/epoch (broker
// side and as the clients report it), duplicates stay within at-least-once bounds, offsets end committed.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { interopDir, isStale, removeDir, requireToolchain, run, runId, startSpool, tempDir, works } from './common.js';
import { clientOwnershipProblems, doubleOwnership, missingRecords, startMember, waitFor, type MemberProcess, type RecordedGeneration } from './groups/harness.js';
import { KIP848_BROKER_CONFIG, describe, kafkaFor } from './groups/kip848-scenario.js';
import { recordGenerations } from './groups/scenario.js';
import type { Broker } from '../../src/broker.js';
import { GroupErrorCode as E } from '../../src/coordinator/group/errors.js';

const dependencies = join(interopDir, 'java', 'target', 'dependency');
const dir = join(interopDir, 'groups', 'java848');
const classes = join(dir, 'target', 'classes'); // target/ is git-ignored
const mainClass = join(classes, 'spool', 'interop', 'groups', 'ConsumerProtocolMember.class');

/** Compiles the member against the kafka-clients jars of the Java interop build when stale. */
async function ensureBuilt(): Promise<boolean> {
  if (!existsSync(dependencies)) return false;
  const source = join(dir, 'ConsumerProtocolMember.java');
  if (!isStale(mainClass, [source, dependencies])) return true;
  if (!(await works('javac', ['-version']))) return existsSync(mainClass);
  const r = await run('javac', ['-cp', `${dependencies}/*`, '-d', classes, source], { timeoutMs: 180_000 });
  return r.code === 0 && existsSync(mainClass);
}

const ready = (await works('java', ['-version'])) && (await ensureBuilt());

function javaMember(bootstrap: string, topic: string, group: string, name: string, protocol: 'classic' | 'consumer'): MemberProcess {
  return startMember(name, 'java', [
    '-Xmx128m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-cp',
    `${classes}:${dependencies}/*`,
    'spool.interop.groups.ConsumerProtocolMember',
    bootstrap,
    topic,
    group,
    name,
    '-',
    '-',
    protocol,
  ]);
}

const P = 4;
const PER_PHASE = 120; // records per phase, spread over the partitions

t.test('Java consumers: classic group upgraded by a consumer-protocol member, then downgraded', async (t) => {
  if (!requireToolchain(t, ready, 'java/javac or the Java interop dependencies (test/interop/java/target/dependency) are missing')) return;
  const dataDir = tempDir('interop-groups-java-migration');
  const spool = await startSpool(dataDir, { config: { ...KIP848_BROKER_CONFIG, 'group.initial.rebalance.delay.ms': 0 } });
  const members: MemberProcess[] = [];
  t.teardown(async () => {
    await Promise.all(members.map((m) => m.kill()));
    await spool.stop();
    removeDir(dataDir);
  });
  const coordinator = (spool.broker as unknown as { broker: Broker }).broker.groupCoordinator;
  const topic = `migrate-${runId()}`;
  const group = `migrate-group-${runId()}`;
  const admin = kafkaFor(spool).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: P }] });
  const producer = kafkaFor(spool).producer();
  await producer.connect();
  let produced = 0;
  const produce = async () => {
    await producer.send({ topic, messages: Array.from({ length: PER_PHASE }, (_, i) => ({ partition: i % P, value: `v-${produced + i}` })) });
    produced += PER_PHASE;
  };
  const generations: RecordedGeneration[] = [];
  const stopRecording = await recordGenerations(spool, group, topic, generations);
  t.teardown(stopRecording);
  const start = (name: string, protocol: 'classic' | 'consumer') => {
    const m = javaMember(spool.bootstrap, topic, group, name, protocol);
    members.push(m);
    return m;
  };
  const consumed = () => new Set(members.flatMap((m) => m.events.flatMap((e) => (e.ev === 'rec' ? [`${e.p}:${e.o}`] : [])))).size;
  const classicGroup = () => coordinator.describeGroups([group])[0];

  // 1. Two classic members: a classic group.
  await produce();
  const a = start('A', 'classic');
  const b = start('B', 'classic');
  const classicStable = () => classicGroup().groupState === 'Stable' && classicGroup().members.length === 2 && classicGroup().protocolType === 'consumer';
  t.ok(await waitFor(() => classicStable() && consumed() >= produced, 60_000), `two classic members form a classic group and consume (${consumed()} of ${produced})`);
  t.equal(describe(spool, group).errorCode, E.GROUP_ID_NOT_FOUND, 'not a consumer group yet');

  // 2. A consumer-protocol member upgrades the group; the classic members stay in it.
  const c = start('C', 'consumer');
  const upgraded = () => {
    const d = describe(spool, group);
    return d.errorCode === E.NONE && d.groupState === 'Stable' && d.members.length === 3 && d.members.every((m) => m.assignment.topicPartitions.some((x) => x.partitions.length > 0));
  };
  t.ok(await waitFor(upgraded, 60_000), 'the group is a consumer group: three members, every one owns partitions, Stable');
  const d = describe(spool, group);
  t.same(d.members.map((m) => m.memberType).sort(), [0, 0, 1], 'two classic members and one consumer-protocol member (ConsumerGroupDescribe member types)');
  t.equal(classicGroup().groupState, 'Dead', 'DescribeGroups no longer sees a classic group');
  const listed = await admin.listGroups();
  t.ok(listed.groups.some((g) => g.groupId === group), 'ListGroups lists the group');
  t.ok(await waitFor(() => c.events.some((e) => e.ev === 'assigned' && e.partitions.length > 0), 30_000), 'the consumer-protocol member was assigned partitions');
  await produce();
  t.ok(await waitFor(() => consumed() >= produced, 60_000), `records produced after the upgrade are consumed (${consumed()} of ${produced})`);
  t.ok(c.events.some((e) => e.ev === 'rec'), 'the consumer-protocol member consumed some of them');

  // 3. The consumer-protocol member stops (leave heartbeat): downgrade to a classic group.
  await c.stop();
  t.ok(await waitFor(() => describe(spool, group).errorCode === E.GROUP_ID_NOT_FOUND && classicStable(), 60_000), 'the group is a classic group again with the two classic members, Stable');
  const wire = (await admin.describeGroups([group])).groups[0];
  t.match(wire, { state: 'Stable', protocolType: 'consumer', protocol: 'range' }, 'DescribeGroups over the wire: a stable classic group');
  t.equal(wire.members.length, 2);
  await produce();
  const endOffsets = Array.from({ length: P }, () => produced / P);
  t.ok(await waitFor(() => missingRecords(members, endOffsets).length === 0, 60_000), 'every record is consumed');
  t.same(missingRecords(members, endOffsets), []);

  // No partition with two owners in one generation or epoch: as the broker settled them, and as the clients held them.
  t.same(doubleOwnership(generations), [], `broker side: one owner per partition per generation (${generations.length} generations)`);
  t.same(clientOwnershipProblems(members, generations, P), [], 'client side: one holder per partition per generation/epoch');

  // At-least-once: a record is consumed again only after its partition changed hands (revoked or
  // lost before its offset was committed), so duplicates are bounded by the handovers times the
  // records of one phase on that partition.
  const counts = new Map<string, number>();
  for (const m of members) for (const e of m.events) if (e.ev === 'rec') counts.set(`${e.p}:${e.o}`, (counts.get(`${e.p}:${e.o}`) ?? 0) + 1);
  const duplicates = [...counts.values()].reduce((n, x) => n + x - 1, 0);
  const handovers = members.reduce((n, m) => n + m.events.filter((e) => e.ev === 'revoked' && e.partitions.length > 0).reduce((k, e) => k + (e.ev === 'revoked' ? e.partitions.length : 0), 0), 0);
  t.ok(duplicates <= handovers * (PER_PHASE / P), `duplicates (${duplicates}) within at-least-once bounds (${handovers} partition handovers × ${PER_PHASE / P})`);
  t.comment(`generations: ${generations.map((g) => `#${g.generationId} ${g.protocolName ?? ''} ${g.members.length} members`).join(', ')}; duplicates ${duplicates}`);

  // Offsets resume without loss: the classic members commit up to the end.
  const committed = () => coordinator.fetchOffsets(group, [{ name: topic, partitionIndexes: [0, 1, 2, 3] }]).topics[0]?.partitions.map((x) => x.committedOffset) ?? [];
  t.ok(await waitFor(() => JSON.stringify(committed()) === JSON.stringify(endOffsets), 30_000), `committed offsets reach the end (${JSON.stringify(committed())})`);
  for (const m of [a, b]) t.same(m.events.filter((e) => e.ev === 'error'), [], `${m.name} reported no error`);
  await Promise.all([a.stop(), b.stop()]);
  await producer.disconnect();
  await admin.disconnect();
});
