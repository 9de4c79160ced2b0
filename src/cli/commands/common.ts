// cli/ room: what the client commands share — the --bootstrap-server option, option parsers,
// column-aligned tables (as Kafka's tools print them) and ListOffsets over partition leaders.
import { InvalidArgumentError, type Command } from 'commander';
import { ErrorCode } from '../../protocol/index.js';
import { BrokerError, CliError, KafkaClient, RETRIABLE, check, sleep, type MetadataTopic } from '../admin-client.js';

export interface ClientFlags {
  bootstrapServer: string;
  requestTimeoutMs: number;
}

/** Adds --bootstrap-server and --request-timeout-ms. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--bootstrap-server <host:port>', 'broker(s) to connect to, comma-separated (Spool or Apache Kafka)', 'localhost:9092')
    .option('--request-timeout-ms <ms>', 'how long one request may take', intArg(1), 30_000);
}

/** Connects, runs `fn`, closes the connections whatever happens. */
export async function withClient<T>(flags: ClientFlags, fn: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = await KafkaClient.connect(flags.bootstrapServer, { requestTimeoutMs: flags.requestTimeoutMs });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** A commander parser for integers >= min. */
export function intArg(min: number): (raw: string) => number {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new InvalidArgumentError(`expected an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

/** Repeatable option: collects every value. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `k=v` strings to an object; `flag` names the option in the error. */
export function keyValues(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of items) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new CliError(`${flag} expects key=value, got "${kv}"`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** Columns padded to the widest cell, two spaces apart (kafka-consumer-groups' layout). */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

export type OutputFormat = 'text' | 'json';

export function formatArg(raw: string): OutputFormat {
  if (raw !== 'text' && raw !== 'json') throw new InvalidArgumentError('must be text or json');
  return raw;
}

export const tp = (topic: string, partition: number): string => `${topic}:${partition}`;

/** ListOffsets special timestamps. */
export const LATEST = -1;
export const EARLIEST = -2;

/**
 * ListOffsets for each (topic, partition) → timestamp, sent to each partition's leader. Returns
 * `topic:partition` → offset (-1 when no record has a timestamp at or after the one asked).
 */
export async function listOffsets(client: KafkaClient, topics: MetadataTopic[], wanted: Map<string, number>): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  let pending = new Map(wanted);
  // Bounded: leaders move at most a few times while a command runs.
  for (let attempt = 0; pending.size > 0; attempt++) {
    const byLeader = new Map<number, Map<string, Array<{ partitionIndex: number; timestamp: number }>>>();
    for (const [key, timestamp] of pending) {
      const sep = key.lastIndexOf(':');
      const topic = key.slice(0, sep);
      const partition = Number(key.slice(sep + 1));
      const meta = topics.find((t) => t.name === topic)?.partitions.find((p) => p.partition === partition);
      if (meta === undefined) throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition} does not exist.`);
      const perTopic = byLeader.get(meta.leader) ?? new Map<string, Array<{ partitionIndex: number; timestamp: number }>>();
      byLeader.set(meta.leader, perTopic);
      const list = perTopic.get(topic) ?? [];
      perTopic.set(topic, list);
      list.push({ partitionIndex: partition, timestamp });
    }
    const retry = new Map<string, number>();
    let lastError: BrokerError | null = null;
    for (const [leader, perTopic] of byLeader) {
      if (leader < 0) {
        for (const [topic, parts] of perTopic) for (const p of parts) retry.set(tp(topic, p.partitionIndex), p.timestamp);
        lastError = new BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, null);
        continue;
      }
      const { res } = await client.send(leader, 'ListOffsets', () => ({
        replicaId: -1,
        isolationLevel: 0,
        topics: [...perTopic].map(([name, partitions]) => ({ name, partitions })),
        timeoutMs: client.requestTimeoutMs,
      }));
      for (const t of res.topics) {
        for (const p of t.partitions) {
          const key = tp(t.name, p.partitionIndex);
          if (p.errorCode === ErrorCode.NONE) result.set(key, p.offset);
          else if (RETRIABLE.has(p.errorCode) && attempt < 10) {
            retry.set(key, wanted.get(key) ?? LATEST);
            lastError = new BrokerError(p.errorCode, null, `${t.name}-${p.partitionIndex}`);
          } else check(p.errorCode, null, `list offsets of ${t.name}-${p.partitionIndex}`);
        }
      }
    }
    if (retry.size > 0) {
      if (attempt >= 10 && lastError !== null) throw lastError;
      await sleep(300);
      const fresh = await client.metadata([...new Set([...retry.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))]);
      topics = [...topics.filter((t) => !fresh.topics.some((f) => f.name === t.name)), ...fresh.topics];
    }
    pending = retry;
  }
  return result;
}
