// cli tests against a Spool broker: topic create/list/describe/alter/delete; produce lines with
// keys and headers and consume them back as JSON (content, order, offsets, key partitioning as
// Kafka's default partitioner); group describe and reset-offsets on a group KafkaJS committed.
import kafkajs from 'kafkajs';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { tempDir } from '../helpers/broker.js';
import { jsonLines, spool } from './run.js';

const { Kafka, Partitioners, logLevel } = kafkajs;

interface Consumed {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

interface TopicJson {
  name: string;
  partitionCount: number;
  replicationFactor: number;
  configs: Record<string, string | null>;
  partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }>;
}

interface GroupJson {
  state: string;
  members: Array<{ memberId: string; clientId: string; host: string; assignment: Array<{ topic: string; partitions: number[] }> }>;
  offsets: Array<{ topic: string; partition: number; currentOffset: number | null; logEndOffset: number | null; lag: number | null; memberId: string | null }>;
}

const d = tempDir('spool-cli-');
const broker = await startBroker({ dataDir: d.dir, port: 0, config: { 'spool.admin.listeners': '', 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3 } });
t.teardown(async () => {
  await broker.stop();
  d.cleanup();
});
const B = ['--bootstrap-server', `127.0.0.1:${broker.port}`];

t.test('topic create, list, describe, alter, delete', async (t) => {
  const created = await spool(['topic', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=3600000', '--config', 'cleanup.policy=delete', ...B]);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stdout, 'Created topic orders.\n');
  const again = await spool(['topic', 'create', 'orders', ...B]);
  t.equal(again.code, 1, 'creating it again fails');
  t.equal(again.stderr, "spool: TOPIC_ALREADY_EXISTS: Topic 'orders' already exists.\n", 'Kafka error name and message, one line');
  t.equal((await spool(['topic', 'create', 'orders', '--if-not-exists', ...B])).code, 0, '--if-not-exists');
  const badConfig = await spool(['topic', 'create', 'bad', '--config', 'retention.ms=soon', ...B]);
  t.equal(badConfig.code, 1);
  t.match(badConfig.stderr, /^spool: INVALID_CONFIG: .*retention\.ms/);
  t.equal((await spool(['topic', 'create', 'second', ...B])).code, 0, 'broker default partitions');

  const list = await spool(['topic', 'list', ...B]);
  t.equal(list.code, 0);
  t.same(list.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('__')), ['orders', 'second']);

  const text = await spool(['topic', 'describe', 'orders', ...B]);
  t.equal(text.code, 0);
  t.match(text.stdout, /^Topic: orders\tTopicId: \S+\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: cleanup\.policy=delete,retention\.ms=3600000\n/);
  t.match(text.stdout, /\tTopic: orders\tPartition: 2\tLeader: 1\tReplicas: 1\tIsr: 1\n/);
  const described = JSON.parse((await spool(['topic', 'describe', 'orders', '--format', 'json', ...B])).stdout) as TopicJson[];
  t.equal(described.length, 1);
  t.equal(described[0].partitionCount, 3);
  t.same(described[0].configs, { 'cleanup.policy': 'delete', 'retention.ms': '3600000' }, 'only the topic-level settings');

  const altered = await spool(['topic', 'alter', 'orders', '--partitions', '5', '--config', 'segment.bytes=1048576', '--delete-config', 'retention.ms', ...B]);
  t.equal(altered.code, 0, altered.stderr);
  const after = JSON.parse((await spool(['topic', 'describe', 'orders', '--format', 'json', ...B])).stdout) as TopicJson[];
  t.equal(after[0].partitionCount, 5, 'partitions added');
  t.same(after[0].configs, { 'cleanup.policy': 'delete', 'segment.bytes': '1048576' }, 'config set and deleted');
  const shrink = await spool(['topic', 'alter', 'orders', '--partitions', '2', ...B]);
  t.equal(shrink.code, 1);
  t.match(shrink.stderr, /^spool: INVALID_PARTITIONS: /);

  const deleted = await spool(['topic', 'delete', 'second', ...B]);
  t.equal(deleted.code, 0, deleted.stderr);
  t.equal(deleted.stdout, 'Deleted topic second.\n');
  t.notMatch((await spool(['topic', 'list', ...B])).stdout, /^second$/m);
  const missing = await spool(['topic', 'describe', 'second', ...B]);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, "spool: UNKNOWN_TOPIC_OR_PARTITION: Topic 'second' does not exist.\n");
  const missingDelete = await spool(['topic', 'delete', 'second', ...B]);
  t.equal(missingDelete.code, 1);
  t.match(missingDelete.stderr, /^spool: UNKNOWN_TOPIC_OR_PARTITION: /);
});

const LINES = 30;
const PARTITIONS = 3;

t.test('produce lines with keys and headers, consume them back as JSON', async (t) => {
  t.equal((await spool(['topic', 'create', 'lines', '--partitions', String(PARTITIONS), ...B])).code, 0);
  const input = Array.from({ length: LINES }, (_, i) => `key-${i % 7}\tvalue ${i} with\ttab`).join('\n') + '\n';
  const produced = await spool(['produce', 'lines', '--key-separator', '\\t', '--header', 'source=cli', '--header', 'run=1', ...B], { input });
  t.equal(produced.code, 0, produced.stderr);

  const consumed = await spool(['consume', 'lines', '--from-beginning', '--format', 'json', '--max-messages', String(LINES), '--timeout-ms', '20000', ...B]);
  t.equal(consumed.code, 0, consumed.stderr);
  t.match(consumed.stderr, new RegExp(`Processed a total of ${LINES} messages`));
  const records = jsonLines<Consumed>(consumed.stdout);
  t.equal(records.length, LINES, 'every line came back');
  // Kafka's default partitioner (murmur2 of the key), as KafkaJS implements it too.
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1] }));
  for (let p = 0; p < PARTITIONS; p++) {
    const inPartition = records.filter((r) => r.partition === p);
    const expected = Array.from({ length: LINES }, (_, i) => i).filter((i) => partitioner({ topic: 'lines', partitionMetadata, message: { key: `key-${i % 7}`, value: '' } }) === p);
    t.same(
      inPartition.map((r) => r.offset),
      expected.map((_, j) => j),
      `partition ${p}: offsets 0..${expected.length - 1} in order`,
    );
    t.same(
      inPartition.map((r) => [r.key, r.value]),
      expected.map((i) => [`key-${i % 7}`, `value ${i} with\ttab`]),
      `partition ${p}: the lines of its keys, in input order (split at the first separator only)`,
    );
  }
  for (const r of records) {
    t.same(r.headers, { source: 'cli', run: '1' }, 'headers');
    t.equal(r.topic, 'lines');
    t.ok(r.timestamp > Date.now() - 600_000 && r.timestamp <= Date.now(), 'CreateTime set by the producer');
  }

  // A fixed key and an explicit partition; text output and --offset.
  const pinned = await spool(['produce', 'lines', '--key', 'fixed', '--partition', '1', '--acks', '1', ...B], { input: 'p1\np2\n' });
  t.equal(pinned.code, 0, pinned.stderr);
  const start = records.filter((r) => r.partition === 1).length;
  const text = await spool(['consume', 'lines', '--partition', '1', '--offset', String(start), '--max-messages', '2', '--timeout-ms', '20000', ...B]);
  t.equal(text.stdout, 'p1\np2\n', 'text format prints the values');
  const json = jsonLines<Consumed>((await spool(['consume', 'lines', '--partition', '1', '--offset', String(start), '--format', 'json', '--max-messages', '2', ...B])).stdout);
  t.same(json.map((r) => [r.offset, r.key, r.value]), [[start, 'fixed', 'p1'], [start + 1, 'fixed', 'p2']]);

  // acks=0: nothing is answered, the records still arrive.
  const fire = await spool(['produce', 'lines', '--partition', '0', '--acks', '0', ...B], { input: 'zero-1\nzero-2\n' });
  t.equal(fire.code, 0, fire.stderr);
  const tail = jsonLines<Consumed>((await spool(['consume', 'lines', '--partition', '0', '--offset', 'earliest', '--format', 'json', '--timeout-ms', '3000', ...B])).stdout);
  t.same(tail.slice(-2).map((r) => r.value), ['zero-1', 'zero-2'], 'acks=0 records were written');

  // --timestamp after everything: nothing; --group commits what it printed.
  const future = await spool(['consume', 'lines', '--timestamp', String(Date.now() + 3_600_000), '--timeout-ms', '1000', ...B]);
  t.equal(future.stdout, '', 'a timestamp after the last record starts at the end');
  const first = await spool(['consume', 'lines', '--partition', '2', '--from-beginning', '--group', 'cli-group', '--max-messages', '3', ...B]);
  t.equal(first.stdout.split('\n').filter((l) => l !== '').length, 3);
  const group = JSON.parse((await spool(['group', 'describe', 'cli-group', '--format', 'json', ...B])).stdout) as GroupJson;
  t.same(group.offsets.map((o) => [o.topic, o.partition, o.currentOffset]), [['lines', 2, 3]], 'the consumed offsets were committed for the group');
  const resumed = jsonLines<Consumed>((await spool(['consume', 'lines', '--partition', '2', '--group', 'cli-group', '--format', 'json', '--max-messages', '1', ...B])).stdout);
  t.equal(resumed[0]?.offset, 3, 'the group resumes at its committed offset');

  const noTopic = await spool(['consume', 'nope', '--timeout-ms', '100', ...B]);
  t.equal(noTopic.code, 1);
  t.equal(noTopic.stderr, "spool: UNKNOWN_TOPIC_OR_PARTITION: Topic 'nope' does not exist.\n");
});

t.test('group list, describe, reset-offsets and delete on a group committed by KafkaJS', async (t) => {
  const created = await spool(['topic', 'create', 'events', '--partitions', '3', ...B]);
  t.equal(created.code, 0, `create events: ${created.stdout}${created.stderr}`);
  const input = Array.from({ length: 30 }, (_, i) => `e${i}`).join('\n');
  t.equal((await spool(['produce', 'events', ...B], { input })).code, 0, 'unkeyed lines spread round-robin');
  const describedEvents = await spool(['topic', 'describe', 'events', '--format', 'json', ...B]);
  const before = JSON.parse(describedEvents.stdout) as TopicJson[];
  t.equal(before[0].partitionCount, 3, describedEvents.stdout);

  const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.port}`], clientId: 'kjs-client', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'kjs-group', sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  let seen = 0;
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'events', fromBeginning: true });
  const allSeen = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommitInterval: 100,
      eachMessage: () => {
        if (++seen === 30) resolve();
        return Promise.resolve();
      },
    });
  });
  await allSeen;
  await consumer.commitOffsets([]).catch(() => undefined);
  // Bounded wait for the auto-commit of the last offsets.
  let stable: GroupJson | null = null;
  for (let i = 0; i < 100; i++) {
    const g = JSON.parse((await spool(['group', 'describe', 'kjs-group', '--format', 'json', ...B])).stdout) as GroupJson;
    if (g.state === 'Stable' && g.offsets.length === 3 && g.offsets.every((o) => o.lag === 0)) {
      stable = g;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(stable, 'describe: Stable, three partitions, lag 0 once KafkaJS committed');
  if (stable === null) return;
  t.equal(stable.members.length, 1, 'one member');
  t.equal(stable.members[0].clientId, 'kjs-client');
  t.same(stable.members[0].assignment, [{ topic: 'events', partitions: [0, 1, 2] }], 'its assignment decoded');
  t.same(stable.offsets.map((o) => [o.partition, o.currentOffset, o.logEndOffset, o.memberId]), [0, 1, 2].map((p) => [p, 10, 10, stable.members[0].memberId]), 'committed = log end offset per partition, owned by the member');

  const text = await spool(['group', 'describe', 'kjs-group', ...B]);
  t.match(text.stdout, /^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID\n/);
  t.match(text.stdout, /^kjs-group\s+events\s+1\s+10\s+10\s+0\s+\S+\s+\S+\s+kjs-client$/m);
  const members = await spool(['group', 'describe', 'kjs-group', '--members', ...B]);
  t.match(members.stdout, /^kjs-group\s+\S+\s+\S+\s+kjs-client\s+3\s+events\(0,1,2\)$/m);
  const list = await spool(['group', 'list', '--state', ...B]);
  t.match(list.stdout, /^kjs-group\s+Stable$/m);

  const busy = await spool(['group', 'reset-offsets', 'kjs-group', '--all-topics', '--to-earliest', '--execute', ...B]);
  t.equal(busy.code, 1, 'an active group cannot be reset');
  t.equal(busy.stderr, "spool: Assignments can only be reset if the group 'kjs-group' is inactive, but the current state is Stable.\n");

  await consumer.disconnect();
  const empty = JSON.parse((await spool(['group', 'describe', 'kjs-group', '--format', 'json', ...B])).stdout) as GroupJson;
  t.equal(empty.state, 'Empty', 'Empty after the consumer left');

  const dry = await spool(['group', 'reset-offsets', 'kjs-group', '--all-topics', '--to-earliest', '--dry-run', ...B]);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /^kjs-group\s+events\s+0\s+0$/m, 'dry run shows the new offsets');
  const unchanged = JSON.parse((await spool(['group', 'describe', 'kjs-group', '--format', 'json', ...B])).stdout) as GroupJson;
  t.same(unchanged.offsets.map((o) => o.currentOffset), [10, 10, 10], 'dry run changed nothing');

  const reset = await spool(['group', 'reset-offsets', 'kjs-group', '--all-topics', '--to-earliest', '--execute', ...B]);
  t.equal(reset.code, 0, reset.stderr);
  const afterReset = JSON.parse((await spool(['group', 'describe', 'kjs-group', '--format', 'json', ...B])).stdout) as GroupJson;
  t.same(afterReset.offsets.map((o) => [o.currentOffset, o.lag]), [[0, 10], [0, 10], [0, 10]], '--to-earliest --execute: lag is the whole partition');

  t.equal((await spool(['group', 'reset-offsets', 'kjs-group', '--topic', 'events:1', '--to-offset', '4', '--execute', ...B])).code, 0);
  t.equal((await spool(['group', 'reset-offsets', 'kjs-group', '--topic', 'events:2', '--to-offset', '99', '--execute', ...B])).code, 0);
  t.equal((await spool(['group', 'reset-offsets', 'kjs-group', '--topic', 'events:0', '--to-datetime', new Date(Date.now() + 3_600_000).toISOString(), '--execute', ...B])).code, 0);
  const moved = JSON.parse((await spool(['group', 'describe', 'kjs-group', '--format', 'json', ...B])).stdout) as GroupJson;
  t.same(moved.offsets.map((o) => o.currentOffset), [10, 4, 10], '--to-datetime in the future: latest; --to-offset 4; --to-offset 99 clamped to the log end');
  t.equal((await spool(['group', 'reset-offsets', 'kjs-group', '--topic', 'events', '--to-datetime', '2000-01-01T00:00:00Z', '--execute', ...B])).code, 0);
  const past = JSON.parse((await spool(['group', 'describe', 'kjs-group', '--format', 'json', ...B])).stdout) as GroupJson;
  t.same(past.offsets.map((o) => o.currentOffset), [0, 0, 0], '--to-datetime in the past: earliest');

  // KafkaJS resumes from the reset offsets.
  t.equal((await spool(['group', 'reset-offsets', 'kjs-group', '--topic', 'events', '--to-latest', '--execute', ...B])).code, 0);
  t.equal((await spool(['produce', 'events', '--partition', '0', ...B], { input: 'after-reset\n' })).code, 0);
  const again = kafka.consumer({ groupId: 'kjs-group', maxWaitTimeInMs: 100 });
  await again.connect();
  t.teardown(() => again.disconnect());
  await again.subscribe({ topic: 'events' });
  const firstValue = await new Promise<string>((resolve) => {
    void again.run({
      eachMessage: ({ message }) => {
        resolve(message.value?.toString() ?? '');
        return Promise.resolve();
      },
    });
  });
  t.equal(firstValue, 'after-reset', 'a KafkaJS member starts at the offsets the CLI committed');
  await again.disconnect();

  const deleted = await spool(['group', 'delete', 'kjs-group', ...B]);
  t.equal(deleted.code, 0, deleted.stderr);
  const gone = await spool(['group', 'describe', 'kjs-group', ...B]);
  t.equal(gone.code, 1);
  t.equal(gone.stderr, "spool: GROUP_ID_NOT_FOUND: Consumer group 'kjs-group' does not exist.\n");
});
