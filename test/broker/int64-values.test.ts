// broker tests: 64-bit values beyond 2^53 get Kafka's answers, never a closed connection — a
// Fetch at offset 2^60 (OFFSET_OUT_OF_RANGE), an offset commit of 2^60 (stored and fetched back
// exactly), ListOffsets for timestamp Long.MAX_VALUE, and Long.MAX_VALUE settings shown and
// accepted as 9223372036854775807 in DescribeConfigs / IncrementalAlterConfigs.
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ListOffsetsRequest, ListOffsetsResponse } from '../../src/protocol/messages/list-offsets.js';
import { RawClient, tempDir } from '../helpers/broker.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;
type ListOffsetsRes = ReturnType<typeof ListOffsetsResponse.decodeBuffer>;

let running: RunningBroker;
const data = tempDir();

t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', config: { 'group.initial.rebalance.delay.ms': 0 } });
  await running.broker.createTopic('big', 1);
});
t.teardown(async () => {
  await running.stop();
  data.cleanup();
});

t.test('a Fetch at offset 2^60 gets OFFSET_OUT_OF_RANGE on an open connection', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const body = {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'big', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 2 ** 60, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
  const f = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, body);
  t.equal(f.responses[0].partitions[0].errorCode, 1, 'OFFSET_OUT_OF_RANGE');
  const again = await c.request<FetchRes>(1, 11, FetchRequest, FetchResponse, { ...body, topics: [{ ...body.topics[0], partitions: [{ ...body.topics[0].partitions[0], fetchOffset: 0 }] }] });
  t.equal(again.responses[0].partitions[0].errorCode, 0, 'the same connection serves the next request');
});

t.test('ListOffsets for timestamp Long.MAX_VALUE (raw bytes) answers "no such offset" (-1)', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  // The codec writes the double 2^63 as Long.MAX_VALUE (clamped): the bytes a Kafka client sends.
  const res = await c.request<ListOffsetsRes>(2, 5, ListOffsetsRequest, ListOffsetsResponse, {
    replicaId: -1, isolationLevel: 0,
    topics: [{ name: 'big', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 2 ** 63, maxNumOffsets: 1 }] }],
  });
  const p = res.topics[0].partitions[0];
  t.same([p.errorCode, p.offset, p.timestamp], [0, -1, -1], 'no record at or after that time');
});

t.test('an offset commit of 2^60 is stored and fetched back exactly; Long.MAX settings read as Kafka shows them', async (t) => {
  const kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.setOffsets({ groupId: 'g-big', topic: 'big', partitions: [{ partition: 0, offset: '1152921504606846976' }] });
  const fetched = await admin.fetchOffsets({ groupId: 'g-big', topics: ['big'] });
  t.equal(fetched[0].partitions[0].offset, '1152921504606846976', '2^60 round-trips');

  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'big' }], includeSynonyms: false });
  const value = (name: string) => described.resources[0].configEntries.find((e) => e.configName === name)?.configValue;
  t.equal(value('max.compaction.lag.ms'), '9223372036854775807', 'Long.MAX_VALUE default shown as Kafka shows it');
  t.equal(value('message.timestamp.before.max.ms'), '9223372036854775807');
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'big', configEntries: [{ name: 'flush.messages', value: '9223372036854775807' }] }] });
  const after = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'big' }], includeSynonyms: false });
  t.equal(after.resources[0].configEntries.find((e) => e.configName === 'flush.messages')?.configValue, '9223372036854775807', 'a Long.MAX_VALUE setting is accepted');
  await t.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'big', configEntries: [{ name: 'flush.messages', value: '9223372036854775808' }] }] }),
    'above Long.MAX_VALUE is refused',
  );
});
