// test/interop room: KafkaJS 2 (producer + admin) driven against a broker, as a separate process
// so its sockets and logs stay out of the tap process. It only reports what the client saw, as
// JSON on stdout; the tap test decides pass or fail. KafkaJS consumers need a group, so the data
// it produces is read back by another client (see test/interop-kafkajs.test.ts).
//
// Usage: node client.js <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]
//   create   admin.createTopics(topic, partitions, rf 1)
//   admin    create + fetchTopicMetadata + listTopics + deleteTopics
//   produce  producer.send in batches: `count` records of the shared record spec (../common.ts)
//   times    admin.fetchTopicOffsetsByTimestamp for each comma-separated timestamp
import kafkajs from 'kafkajs';
import type { Message } from 'kafkajs';
import { specRecord } from '../common.js';
import { lz4Codec, snappyCodec, zstdCodec } from './codecs.js';

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = kafkajs;

CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
CompressionCodecs[CompressionTypes.Snappy] = snappyCodec;
CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;

const codecs: Partial<Record<string, kafkajs.CompressionTypes>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

const args = process.argv.slice(2);
if (args.length < 7) {
  console.error('usage: client.js <mode> <bootstrap> <topic> <count> <codec> <partitions> <baseTs> [timestamps]');
  process.exit(2);
}
const [mode, bootstrap, topic, countArg, codecName, partitionsArg, baseTsArg] = args;
const timestampsArg = args.at(7);
const count = Number(countArg);
const partitions = Number(partitionsArg);
const baseTs = Number(baseTsArg);

const kafka = new Kafka({
  clientId: 'spool-interop-kafkajs',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  retry: { retries: 5, initialRetryTime: 200 },
});

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

async function create(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let error: string | null = null;
  let created = false;
  try {
    created = await admin.createTopics({
      topics: [{ topic: topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } catch (e) {
    error = errorText(e);
  }
  await admin.disconnect();
  console.log(JSON.stringify({ created: created ? topic : null, error }));
}

async function adminMode(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const out: Record<string, unknown> = {};
  out.created = await admin.createTopics({
    topics: [{ topic: topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  // KafkaJS answers false (not an error) when the topic already exists.
  out.createdAgain = await admin.createTopics({ topics: [{ topic: topic, numPartitions: partitions }] });
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  out.partitions = metadata.topics[0]?.partitions
    .map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas.length, isr: p.isr.length }))
    .sort((a, b) => a.partition - b.partition);
  out.listedBeforeDelete = (await admin.listTopics()).includes(topic);
  await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
  let listed = true;
  for (let attempt = 0; attempt < 50 && listed; attempt++) {
    listed = (await admin.listTopics()).includes(topic);
    if (listed) await new Promise((r) => setTimeout(r, 100));
  }
  out.listedAfterDelete = listed;
  await admin.disconnect();
  console.log(JSON.stringify(out));
}

async function produce(): Promise<void> {
  const compression = codecs[codecName];
  if (compression === undefined) throw new Error(`unknown codec ${codecName}`);
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 1 });
  await producer.connect();
  const stats: Record<string, { first: number; last: number; count: number }> = {};
  const errors: string[] = [];
  let produced = 0;
  const sendSize = 1000;
  for (let start = 0; start < count; start += sendSize) {
    const messages: Message[] = [];
    const perPartition = new Map<number, number>();
    for (let i = start; i < Math.min(start + sendSize, count); i++) {
      const r = specRecord(i, partitions, baseTs);
      messages.push({
        partition: r.p,
        key: r.k,
        value: r.v,
        headers: Object.fromEntries(r.h),
        timestamp: String(r.ts),
      });
      perPartition.set(r.p, (perPartition.get(r.p) ?? 0) + 1);
    }
    try {
      const metadata = await producer.send({ topic: topic, messages, compression, acks: -1 });
      for (const m of metadata) {
        const n = perPartition.get(m.partition) ?? 0;
        const base = Number(m.baseOffset ?? m.offset);
        const s = (stats[String(m.partition)] ??= { first: base, last: base + n - 1, count: 0 });
        s.first = Math.min(s.first, base);
        s.last = Math.max(s.last, base + n - 1);
        s.count += n;
        produced += n;
      }
    } catch (e) {
      if (errors.length < 5) errors.push(errorText(e));
    }
  }
  await producer.disconnect();
  console.log(JSON.stringify({ produced, errors, partitions: stats }));
}

async function times(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const results: Array<{ ts: number; p: number; offset: number }> = [];
  for (const field of (timestampsArg ?? '').split(',')) {
    if (field === '') continue;
    const ts = Number(field);
    // KafkaJS substitutes the high watermark for partitions with no record at or after ts.
    const answer = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
    for (const a of answer.sort((x, y) => x.partition - y.partition)) {
      results.push({ ts, p: a.partition, offset: Number(a.offset) });
    }
  }
  await admin.disconnect();
  console.log(JSON.stringify({ results }));
}

const modes: Partial<Record<string, () => Promise<void>>> = { create, admin: adminMode, produce, times };
const selected = modes[mode];
if (selected === undefined) {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
await selected();
