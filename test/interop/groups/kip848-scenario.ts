// test/interop room (groups): the KIP-848 consumer group scenario every client with
// group.protocol=consumer runs against Spool — three members, one SIGKILLed (the broker-side
// session timeout must evict it), one added, while records are produced; then at-least-once, no
// partition owned by two members in one epoch (broker side, and client side when the client reports
// its member epoch), committed offsets, ListGroups, kafka-consumer-groups --describe, and offsets
// resumed after a broker restart. Producing and admin go through KafkaJS in-process.
import kafkajs from 'kafkajs';
import { runId, type SpoolHandle } from '../common.js';
import { consumerGroupsDescribe, kafkaToolsAvailable } from '../kafka-tools.js';
import { clientOwnershipProblems, consumedCount, doubleOwnership, missingRecords, sleep, waitFor, type MemberProcess, type RecordedGeneration } from './harness.js';
import { recordGenerations, type GroupAsserts } from './scenario.js';
import type { Broker } from '../../../src/broker.js';

const { Kafka, logLevel } = kafkajs;
export const KIP848_PARTITIONS = 6;

/** Broker settings for the scenario: quick reconciliation and a quick eviction of the killed member. */
export const KIP848_BROKER_CONFIG = { 'group.consumer.heartbeat.interval.ms': 500, 'group.consumer.session.timeout.ms': 4000 };

export const kafkaFor = (spool: SpoolHandle) => new Kafka({ brokers: [spool.bootstrap], clientId: 'groups-848-test', logLevel: logLevel.NOTHING });

export interface Kip848Options {
  /** Starts one member process of the client under test. */
  start(bootstrap: string, topic: string, group: string, name: string): MemberProcess;
  records: number;
  /** The client logs its member epoch with each assignment (Java): check ownership per epoch. */
  clientEpochs: boolean;
  kafkaTools: boolean;
}

const noTopics = { names: () => [], byName: () => undefined, nameOf: () => undefined };

/** ConsumerGroupDescribe of `group` on the in-process broker's coordinator. */
export function describe(spool: SpoolHandle, group: string) {
  const broker = (spool.broker as unknown as { broker: Broker }).broker;
  return broker.groupCoordinator.describeConsumerGroups([group], noTopics)[0];
}

export async function kip848ChurnScenario(t: GroupAsserts, spool: SpoolHandle, label: string, o: Kip848Options): Promise<void> {
  const P = KIP848_PARTITIONS;
  const topic = `kip848-${label}-${runId()}`;
  const group = `kip848-${label}-group-${runId()}`;
  const members: MemberProcess[] = [];
  t.teardown(() => Promise.all(members.map((m) => m.kill())));
  const admin = kafkaFor(spool).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: P }] });
  const generations: RecordedGeneration[] = [];
  await recordGenerations(spool, group, topic, generations);
  const member = (name: string) => {
    const m = o.start(spool.bootstrap, topic, group, name);
    members.push(m);
    return m;
  };
  member('A');
  const b = member('B');
  member('C');
  const balanced = () => generations.some((g) => g.members.length === 3 && g.members.every((m) => m.partitions.length === 2));
  t.ok(await waitFor(balanced, 90_000), 'three members share the six partitions in one stable epoch');
  t.equal(generations.at(-1)?.protocolName, 'uniform', 'the default server assignor is uniform');

  const producer = kafkaFor(spool).producer();
  await producer.connect();
  const batches = 12;
  const perSend = o.records / batches;
  let d: MemberProcess | undefined;
  for (let s = 0; s < batches; s++) {
    await producer.send({ topic, messages: Array.from({ length: perSend }, (_, j) => ({ partition: (s * perSend + j) % P, value: `v-${s * perSend + j}` })) });
    if (s === 3) await b.kill(); // no leave heartbeat: the session timeout must evict it
    if (s === 6) d = member('D');
    await sleep(400);
  }
  await producer.disconnect();
  const settled = () => {
    const last = generations.at(-1);
    const dId = d?.events.find((e) => e.ev === 'assigned')?.memberId;
    return last?.members.length === 3 && last.members.every((m) => m.partitions.length === 2) && last.members.some((m) => m.memberId === dId);
  };
  t.ok(await waitFor(settled, 60_000), 'the group settles on A, C and D, two partitions each');
  t.comment(`${label} epochs: ${generations.map((g) => `#${g.generationId} ${g.members.length} members, reconciled in ${g.rebalanceMs} ms`).join(', ')}`);
  const perPartition = o.records / P;
  const endOffsets = Array.from({ length: P }, () => perPartition);
  t.ok(await waitFor(() => consumedCount(members) >= o.records, 90_000), `every record consumed (${consumedCount(members)} of ${o.records})`);
  t.same(missingRecords(members, endOffsets), [], 'at-least-once: no offset left unconsumed');
  t.same(doubleOwnership(generations), [], 'broker side: no partition assigned to two members in one epoch');
  if (o.clientEpochs) t.same(clientOwnershipProblems(members, generations, P), [], 'client side: no partition held by two members in one member epoch');
  // The client's listener runs after the coordinator has handed the partitions over: wait for it.
  t.ok(await waitFor(() => d?.events.some((e) => e.ev === 'assigned' && e.partitions.length > 0) === true, 30_000), 'the late member D got partitions');

  let committed: number[] = [];
  for (let i = 0; i < 100; i++) {
    const fetched = (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions;
    committed = fetched.sort((x, y) => x.partition - y.partition).map((p) => Number(p.offset));
    if (committed.every((x) => x === perPartition)) break;
    await sleep(200);
  }
  t.same(committed, endOffsets, 'committed offsets reach the end of every partition');
  const listed = await admin.listGroups();
  t.same(listed.groups.find((g) => g.groupId === group), { groupId: group, protocolType: 'consumer' }, 'ListGroups shows a consumer-protocol group');

  if (o.kafkaTools) {
    if (await kafkaToolsAvailable()) {
      const out = await consumerGroupsDescribe(spool.bootstrap, group);
      t.match(out, new RegExp(`${group}\\s+${topic}\\s+\\d\\s+${perPartition}\\s+${perPartition}\\s+0\\s+\\S+`), "kafka-consumer-groups --describe shows the members' partitions, offsets and zero lag");
      const state = await consumerGroupsDescribe(spool.bootstrap, group, ['--state']);
      t.match(state, /\buniform\s+Stable\s+3\b/, 'kafka-consumer-groups --describe --state: assignor uniform, Stable, 3 members');
    } else if (process.env.CI === 'true') {
      t.ok(false, 'Apache Kafka tool jars (.cache/kafka-jars) or java are missing (CI=true: run bash scripts/setup-interop.sh)');
    } else {
      t.comment('Apache Kafka tool jars not available: kafka-consumer-groups --describe not run');
    }
  }

  const live = members.filter((m) => m.proc.exitCode === null && m.proc.signalCode === null);
  await Promise.all(live.map((m) => m.stop()));
  await admin.disconnect();
  const epochBefore = describe(spool, group);
  t.equal(epochBefore.groupState, 'Empty', 'after every member left, the consumer group is Empty');

  await spool.restart();
  const admin2 = kafkaFor(spool).admin();
  await admin2.connect();
  const afterRestart = (await admin2.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions.sort((x, y) => x.partition - y.partition);
  t.same(afterRestart.map((p) => Number(p.offset)), endOffsets, 'committed offsets survive a broker restart');
  const reloaded = describe(spool, group);
  t.same([reloaded.groupState, reloaded.groupEpoch, reloaded.assignmentEpoch], ['Empty', epochBefore.groupEpoch, epochBefore.assignmentEpoch], 'the group and its epochs are rebuilt from __consumer_offsets');
  const producer2 = kafkaFor(spool).producer();
  await producer2.connect();
  await producer2.send({ topic, messages: Array.from({ length: 60 }, (_, i) => ({ partition: i % P, value: `late-${i}` })) });
  await producer2.disconnect();
  await admin2.disconnect();
  const e = member('E');
  t.ok(await waitFor(() => e.events.filter((x) => x.ev === 'rec').length >= 60, 60_000), 'a new member reads the 60 new records');
  const firstOffsets = new Map<number, number>();
  for (const x of e.events) if (x.ev === 'rec' && !firstOffsets.has(x.p)) firstOffsets.set(x.p, x.o);
  t.same([...firstOffsets.entries()].sort((x, y) => x[0] - y[0]).map(([, v]) => v), endOffsets, 'it resumed at the committed offsets');
  await e.stop();
}
