// cli/ room: `spool produce <topic>` — kafka-console-producer: one record per stdin line, sent
// as uncompressed v2 record batches (protocol/record-batch.ts) to each partition's leader, in
// order, one request in flight. Keyed records go where Kafka's default partitioner puts them
// (murmur2 of the key), unkeyed ones round-robin, --partition pins them all.
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { ErrorCode } from '../../protocol/index.js';
import { encodeRecordBatch, type RecordHeader, type RecordInput } from '../../protocol/record-batch.js';
import { BrokerError, CliError, RETRIABLE, check, sleep, type KafkaClient, type MetadataTopic } from '../admin-client.js';
import { clientOptions, collect, intArg, keyValues, withClient, type ClientFlags } from './common.js';

interface ProduceFlags extends ClientFlags {
  key?: string;
  keySeparator?: string;
  header: string[];
  partition?: number;
  acks: number;
  batchSize: number;
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c. */
export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2] << 16;
  if (tail >= 2) h ^= data[whole + 1] << 8;
  if (tail >= 1) {
    h ^= data[whole];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a key. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

function acksArg(raw: string): number {
  if (raw === 'all' || raw === '-1') return -1;
  if (raw === '0' || raw === '1') return Number(raw);
  throw new InvalidArgumentError('must be all, -1, 0 or 1');
}

class Producer {
  private roundRobin = 0;
  private lineNo = 0;
  private readonly headers: RecordHeader[];

  constructor(
    private readonly client: KafkaClient,
    private readonly topic: string,
    private meta: MetadataTopic,
    private readonly flags: ProduceFlags,
  ) {
    this.headers = Object.entries(keyValues(flags.header, '--header')).map(([k, v]) => ({ key: k, value: Buffer.from(v, 'utf8') }));
    if (flags.partition !== undefined && !meta.partitions.some((p) => p.partition === flags.partition)) {
      throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Partition ${flags.partition} of topic '${topic}' does not exist (it has ${meta.partitions.length}).`);
    }
  }

  /** One line → (partition, record). */
  private record(line: string): { partition: number; record: RecordInput } {
    this.lineNo++;
    let key: Buffer | null = this.flags.key !== undefined ? Buffer.from(this.flags.key, 'utf8') : null;
    let value = line;
    const sep = this.flags.keySeparator;
    if (sep !== undefined) {
      const at = line.indexOf(sep);
      if (at < 0) throw new CliError(`No key separator found on line number ${this.lineNo}: "${line}"`);
      key = Buffer.from(line.slice(0, at), 'utf8');
      value = line.slice(at + sep.length);
    }
    const count = this.meta.partitions.length;
    const partition = this.flags.partition ?? (key !== null ? partitionForKey(key, count) : this.roundRobin++ % count);
    return { partition, record: { key, value: Buffer.from(value, 'utf8'), headers: this.headers, timestamp: Date.now() } };
  }

  /** Sends `lines` in order: one batch per partition per request, per leader. */
  async send(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const byPartition = new Map<number, RecordInput[]>();
    for (const line of lines) {
      const { partition, record } = this.record(line);
      const list = byPartition.get(partition) ?? [];
      byPartition.set(partition, list);
      list.push(record);
    }
    let pending = byPartition;
    // Bounded retries of retriable partition errors (leader moves, a topic that was just created).
    for (let attempt = 0; pending.size > 0; attempt++) {
      const byLeader = new Map<number, Array<{ index: number; records: Buffer }>>();
      for (const [partition, records] of pending) {
        const leader = this.meta.partitions.find((p) => p.partition === partition)?.leader ?? -1;
        const list = byLeader.get(leader) ?? [];
        byLeader.set(leader, list);
        list.push({ index: partition, records: encodeRecordBatch(records) });
      }
      const retry = new Map<number, RecordInput[]>();
      let lastError: BrokerError | null = null;
      for (const [leader, partitionData] of byLeader) {
        if (leader < 0) {
          for (const p of partitionData) retry.set(p.index, pending.get(p.index) ?? []);
          lastError = new BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, null, this.topic);
          continue;
        }
        const body = { transactionalId: null, acks: this.flags.acks, timeoutMs: this.client.requestTimeoutMs, topicData: [{ name: this.topic, partitionData }] };
        if (this.flags.acks === 0) {
          await this.client.sendNoResponse(leader, 'Produce', () => body);
          continue;
        }
        const { res } = await this.client.send(leader, 'Produce', () => body);
        for (const r of res.responses) {
          for (const p of r.partitionResponses) {
            if (p.errorCode === ErrorCode.NONE) continue;
            const detail = p.errorMessage ?? p.recordErrors.at(0)?.batchIndexErrorMessage ?? null;
            if (RETRIABLE.has(p.errorCode) && attempt < 10) {
              retry.set(p.index, pending.get(p.index) ?? []);
              lastError = new BrokerError(p.errorCode, detail, `${this.topic}-${p.index}`);
            } else check(p.errorCode, detail, `produce to ${this.topic}-${p.index}`);
          }
        }
      }
      if (retry.size > 0) {
        if (attempt >= 10 && lastError !== null) throw lastError;
        await sleep(200 * (attempt + 1));
        this.meta = await this.client.topic(this.topic);
      }
      pending = retry;
    }
  }

  /** After acks=0 sends: one round trip to every leader used, so the requests were read before we close. */
  async drain(): Promise<void> {
    if (this.flags.acks !== 0) return;
    for (const leader of new Set(this.meta.partitions.map((p) => p.leader).filter((l) => l >= 0))) {
      await this.client.send(leader, 'Metadata', () => ({ topics: [], allowAutoTopicCreation: false }));
    }
  }
}

async function produce(client: KafkaClient, topic: string, flags: ProduceFlags): Promise<void> {
  if (flags.key !== undefined && flags.keySeparator !== undefined) throw new CliError('--key and --key-separator exclude each other');
  if (flags.keySeparator === '') throw new CliError('--key-separator must not be empty');
  // `--key-separator '\t'` from a shell is backslash-t: mean the tab, as Kafka's key.separator does.
  if (flags.keySeparator !== undefined) flags.keySeparator = flags.keySeparator.replace(/\\t/g, '\t');
  const meta = await client.topic(topic, true);
  const producer = new Producer(client, topic, meta, flags);
  // At a terminal every line goes at once; piped input is sent in batches.
  const batchSize = process.stdin.isTTY ? 1 : flags.batchSize;
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  let lines: string[] = [];
  for await (const line of rl) {
    lines.push(line);
    if (lines.length >= batchSize) {
      await producer.send(lines);
      lines = [];
    }
  }
  await producer.send(lines);
  await producer.drain();
}

export function produceCommand(): Command {
  return clientOptions(
    new Command('produce')
      .description('send each line of stdin as one record (kafka-console-producer)')
      .argument('<topic>', 'topic to write to (auto-created if the broker allows it)')
      .option('--key <key>', 'the key of every record')
      .option('--key-separator <sep>', 'each line is <key><sep><value> (\\t is a tab)')
      .option('--header <key=value>', 'a header on every record, repeatable', collect, [])
      .option('--partition <n>', 'write every record to this partition (default: by key hash, round-robin without a key)', intArg(0))
      .option('--acks <acks>', 'all (-1), 1 or 0', acksArg, -1)
      .option('--batch-size <n>', 'lines per request when stdin is not a terminal', intArg(1), 500),
  ).action((topic: string, _o: unknown, cmd: Command) => withClient(cmd.opts<ProduceFlags>(), (c) => produce(c, topic, cmd.opts<ProduceFlags>())));
}
