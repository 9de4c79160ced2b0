// test/interop room (groups): a KafkaJS group member for the group interop tests. Subscribes to one
// topic from the beginning, prints its assignments and every record as JSON lines, commits
// automatically, and on SIGTERM disconnects (LeaveGroup + final commit).
//
// Usage: node kafkajs-member.js <bootstrap> <topic> <group> <clientId>
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const args = process.argv.slice(2);
if (args.length < 4) {
  process.stderr.write('usage: kafkajs-member <bootstrap> <topic> <group> <clientId>\n');
  process.exit(2);
}
const [bootstrap, topic, group, clientId] = args;

const out = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

const kafka = new Kafka({ brokers: [bootstrap], clientId, logLevel: logLevel.NOTHING, retry: { retries: 20 } });
const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 });

consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const assignment = e.payload.memberAssignment as Record<string, number[]>;
  // KafkaJS does not expose the generation id: -1 tells the test to match against the broker's record.
  out({ ev: 'assigned', memberId: e.payload.memberId, generation: -1, partitions: assignment[topic] ?? [] });
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await consumer.disconnect().catch((err: unknown) => out({ ev: 'error', message: String(err) }));
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  autoCommitInterval: 500,
  eachBatch: async (payload) => {
    const { batch } = payload;
    const lines: string[] = [];
    for (const m of batch.messages) {
      lines.push(JSON.stringify({ ev: 'rec', p: batch.partition, o: Number(m.offset) }));
      payload.resolveOffset(m.offset);
    }
    if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
    await payload.heartbeat();
  },
});
