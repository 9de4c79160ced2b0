// coordinator/group room tests: the group APIs end to end through a real broker and a real client
// (KafkaJS admin): standalone commits, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
// and group state reloaded from __consumer_offsets after a restart.
import t from 'tap';
import kafkajs from 'kafkajs';
import { removeDir, startSpool, tempDir } from '../interop/common.js';

const { Kafka, logLevel } = kafkajs;

t.test('group administration through KafkaJS', async (t) => {
  const dataDir = tempDir('group-api');
  const spool = await startSpool(dataDir, { config: { 'group.initial.rebalance.delay.ms': 0 } });
  t.teardown(async () => {
    await spool.stop();
    removeDir(dataDir);
  });
  const kafka = () => new Kafka({ brokers: [spool.bootstrap], clientId: 'group-api', logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'api-topic', numPartitions: 3 }] });

  // A standalone commit (generation -1) to a group that has never had members.
  await admin.setOffsets({ groupId: 'standalone', topic: 'api-topic', partitions: [{ partition: 0, offset: '42' }, { partition: 2, offset: '7' }] });
  const fetched = await admin.fetchOffsets({ groupId: 'standalone', topics: ['api-topic'] });
  t.same(
    fetched[0].partitions.sort((a, b) => a.partition - b.partition).map((p) => [p.partition, p.offset]),
    [[0, '42'], [1, '-1'], [2, '7']],
    'committed offsets come back; an uncommitted partition is -1',
  );
  const unknown = await admin.describeGroups(['no-such-group']);
  t.equal(unknown.groups[0].state, 'Dead', 'an unknown group is described as Dead');

  // A live consumer makes its group non-empty.
  const consumer = kafka().consumer({ groupId: 'live', sessionTimeout: 10_000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'api-topic', fromBeginning: true });
  let joined = false as boolean;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.run({ eachMessage: async () => undefined });
  for (let i = 0; i < 100 && !joined; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(joined, 'the consumer joined');
  const live = await admin.describeGroups(['live']);
  t.equal(live.groups[0].state, 'Stable');
  t.equal(live.groups[0].protocolType, 'consumer');
  t.equal(live.groups[0].members.length, 1);
  t.equal(live.groups[0].members[0].clientHost, '/127.0.0.1', 'clientHost in Kafka form');
  const listed = await admin.listGroups();
  t.same(listed.groups.map((g) => g.groupId).sort(), ['live', 'standalone']);
  await t.rejects(admin.deleteGroups(['live']), 'a group with members cannot be deleted (NON_EMPTY_GROUP)');
  await consumer.disconnect();
  t.equal((await admin.describeGroups(['live'])).groups[0].state, 'Empty', 'LeaveGroup empties the group');
  const deleted = await admin.deleteGroups(['live']);
  t.equal(deleted[0].errorCode, 0, 'an empty group is deleted');
  t.equal((await admin.describeGroups(['live'])).groups[0].state, 'Dead');
  await admin.disconnect();

  // Groups and offsets are rebuilt from __consumer_offsets at restart; the deleted group stays gone.
  await spool.restart();
  const admin2 = kafka().admin();
  await admin2.connect();
  t.teardown(() => admin2.disconnect());
  const again = await admin2.fetchOffsets({ groupId: 'standalone', topics: ['api-topic'] });
  t.same(
    again[0].partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset),
    ['42', '-1', '7'],
    'offsets survive the restart',
  );
  const listedAgain = await admin2.listGroups();
  t.same(listedAgain.groups.map((g) => g.groupId), ['standalone'], 'the deleted group did not come back');
});
