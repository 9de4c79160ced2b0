// cli/ room: `spool consume <topic>` — kafka-console-consumer: Fetch from each partition's leader,
// record batches decoded (and decompressed) with protocol/record-batch.ts, one line per record
// (the value, or a JSON object with partition, offset, timestamp, key, value and headers).
// With --group it starts from the group's committed offsets and commits what it printed, as a
// standalone consumer (it does not join the group, like a consumer with assign()).
import { Command, InvalidArgumentError } from 'commander';
import { ErrorCode } from '../../protocol/index.js';
import { decodeRecordBatches, type DecodedRecord } from '../../protocol/record-batch.js';
import { decompress } from '../../storage/ts/codec.js';
import type { Codec } from '../../storage/engine.js';
import { BrokerError, CliError, RETRIABLE, check, sleep, type KafkaClient, type MetadataTopic } from '../admin-client.js';
import { EARLIEST, LATEST, clientOptions, formatArg, intArg, listOffsets, print, tp, withClient, type ClientFlags, type OutputFormat } from './common.js';

interface ConsumeFlags extends ClientFlags {
  fromBeginning?: boolean;
  offset?: string;
  timestamp?: number;
  partition?: number;
  group?: string;
  maxMessages?: number;
  timeoutMs?: number;
  format: OutputFormat;
  isolationLevel: 'read_uncommitted' | 'read_committed';
}

function timestampArg(raw: string): number {
  if (/^\d+$/.test(raw)) return Number(raw);
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected epoch milliseconds or an ISO date-time');
  return ms;
}

function isolationArg(raw: string): 'read_uncommitted' | 'read_committed' {
  if (raw !== 'read_uncommitted' && raw !== 'read_committed') throw new InvalidArgumentError('must be read_uncommitted or read_committed');
  return raw;
}

function text(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8');
}

function formatRecord(topic: string, partition: number, r: DecodedRecord, format: OutputFormat): string {
  if (format === 'text') return text(r.value) ?? 'null';
  const headers: Record<string, string | null> = {};
  for (const h of r.headers) headers[h.key] = text(h.value);
  return JSON.stringify({ topic, partition, offset: r.offset, timestamp: r.timestamp, key: text(r.key), value: text(r.value), headers });
}

async function startOffsets(client: KafkaClient, meta: MetadataTopic, partitions: number[], flags: ConsumeFlags, committed: Map<number, number>): Promise<Map<number, number>> {
  const start = new Map<number, number>();
  const lookup = new Map<string, number>();
  const explicit = flags.offset;
  for (const p of partitions) {
    if (explicit !== undefined && /^\d+$/.test(explicit)) start.set(p, Number(explicit));
    else if (explicit === 'earliest') lookup.set(tp(meta.name, p), EARLIEST);
    else if (explicit === 'latest') lookup.set(tp(meta.name, p), LATEST);
    else if (flags.timestamp !== undefined) lookup.set(tp(meta.name, p), flags.timestamp);
    else if (committed.has(p)) start.set(p, committed.get(p) ?? 0);
    else lookup.set(tp(meta.name, p), flags.fromBeginning === true ? EARLIEST : LATEST);
  }
  if (lookup.size > 0) {
    const found = await listOffsets(client, [meta], lookup);
    const needLatest = new Map<string, number>();
    for (const [key, offset] of found) {
      if (offset >= 0) start.set(Number(key.slice(key.lastIndexOf(':') + 1)), offset);
      else needLatest.set(key, LATEST);
    }
    // --timestamp after the last record: start at the end, as Kafka's consumer does.
    if (needLatest.size > 0) for (const [key, offset] of await listOffsets(client, [meta], needLatest)) start.set(Number(key.slice(key.lastIndexOf(':') + 1)), offset);
  }
  return start;
}

async function consume(client: KafkaClient, topic: string, flags: ConsumeFlags): Promise<void> {
  if (flags.offset !== undefined && !/^(\d+|earliest|latest)$/.test(flags.offset)) throw new CliError('--offset expects a number, earliest or latest');
  if (flags.offset !== undefined && /^\d+$/.test(flags.offset) && flags.partition === undefined) throw new CliError('--offset <n> needs --partition');
  if ([flags.offset !== undefined, flags.timestamp !== undefined, flags.fromBeginning === true].filter(Boolean).length > 1) {
    throw new CliError('give at most one of --from-beginning, --offset, --timestamp');
  }
  let meta = await client.topic(topic);
  const partitions = flags.partition !== undefined ? [flags.partition] : meta.partitions.map((p) => p.partition);
  if (flags.partition !== undefined && !meta.partitions.some((p) => p.partition === flags.partition)) {
    throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Partition ${flags.partition} of topic '${topic}' does not exist (it has ${meta.partitions.length}).`);
  }
  const group = flags.group;
  const committed = new Map<number, number>();
  if (group !== undefined) {
    await client.withCoordinator(group, async (coordinator) => {
      const { version, res } = await client.send(coordinator, 'OffsetFetch', (v) =>
        v >= 8 ? { groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: partitions }] }], requireStable: true } : { groupId: group, topics: [{ name: topic, partitionIndexes: partitions }], requireStable: true },
      );
      const topics = version >= 8 ? res.groups.at(0)?.topics ?? [] : res.topics;
      check(version >= 8 ? res.groups.at(0)?.errorCode ?? 0 : res.errorCode, null, `committed offsets of ${group}`);
      for (const t of topics) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE && p.committedOffset >= 0) committed.set(p.partitionIndex, p.committedOffset);
    });
  }
  const position = await startOffsets(client, meta, partitions, flags, committed);
  const printedUpTo = new Map<number, number>();

  const commit = async (): Promise<void> => {
    if (group === undefined || printedUpTo.size === 0) return;
    await client.withCoordinator(group, async (coordinator) => {
      const { res } = await client.send(coordinator, 'OffsetCommit', () => ({
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [{ name: topic, partitions: [...printedUpTo].map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedMetadata: '' })) }],
      }));
      for (const t of res.topics) for (const p of t.partitions) check(p.errorCode, null, `commit ${t.name}-${p.partitionIndex} for group ${group}`);
    });
    printedUpTo.clear();
  };

  const signalled = { stop: false };
  const onSignal = (): void => {
    signalled.stop = true;
  };
  // A function, so the check is not narrowed away: the signal handler sets the flag between awaits.
  const stopped = (): boolean => signalled.stop;
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let count = 0;
  const max = flags.maxMessages;
  let lastMessageAt = Date.now();
  const isolationLevel = flags.isolationLevel === 'read_committed' ? 1 : 0;
  try {
    // Runs until --max-messages, --timeout-ms without a record, or a signal.
    while (!stopped() && (max === undefined || count < max)) {
      const byLeader = new Map<number, number[]>();
      for (const p of partitions) {
        const leader = meta.partitions.find((x) => x.partition === p)?.leader ?? -1;
        const list = byLeader.get(leader) ?? [];
        byLeader.set(leader, list);
        list.push(p);
      }
      let refresh = false;
      const waitMs = flags.timeoutMs !== undefined ? Math.max(0, Math.min(500, flags.timeoutMs - (Date.now() - lastMessageAt))) : 500;
      for (const [leader, parts] of byLeader) {
        if (stopped() || (max !== undefined && count >= max)) break;
        if (leader < 0) {
          refresh = true;
          continue;
        }
        const { res } = await client.send(
          leader,
          'Fetch',
          () => ({
            replicaId: -1,
            maxWaitMs: waitMs,
            minBytes: 1,
            maxBytes: 52428800,
            isolationLevel,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [{ topic, partitions: parts.map((partition) => ({ partition, fetchOffset: position.get(partition) ?? 0, partitionMaxBytes: 1048576 })) }],
            forgottenTopicsData: [],
            rackId: '',
          }),
          client.requestTimeoutMs + waitMs,
        );
        check(res.errorCode, null, 'fetch');
        for (const t of res.responses) {
          for (const p of t.partitions) {
            if (p.errorCode !== ErrorCode.NONE) {
              if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
                throw new BrokerError(p.errorCode, `Offset ${position.get(p.partitionIndex) ?? 0} is out of range for ${topic}-${p.partitionIndex}.`);
              }
              if (RETRIABLE.has(p.errorCode)) {
                refresh = true;
                continue;
              }
              check(p.errorCode, null, `fetch ${topic}-${p.partitionIndex}`);
            }
            const records = p.records;
            if (records === null || records.length === 0) continue;
            const aborted = new Set((p.abortedTransactions ?? []).map((a) => a.producerId));
            const from = position.get(p.partitionIndex) ?? 0;
            let next = from;
            for (const batch of decodeRecordBatches(records, (codec, data) => decompress(codec as Codec, data))) {
              next = Math.max(next, batch.header.baseOffset + batch.header.lastOffsetDelta + 1);
              if (batch.isControl) continue;
              if (isolationLevel === 1 && batch.isTransactional && aborted.has(batch.header.producerId)) continue;
              for (const r of batch.records) {
                if (r.offset < from) continue;
                if (max !== undefined && count >= max) {
                  next = r.offset;
                  break;
                }
                print(formatRecord(topic, p.partitionIndex, r, flags.format));
                count++;
                lastMessageAt = Date.now();
                printedUpTo.set(p.partitionIndex, r.offset + 1);
              }
              if (max !== undefined && count >= max) break;
            }
            position.set(p.partitionIndex, next);
          }
        }
      }
      await commit();
      if (refresh) {
        await sleep(200);
        meta = await client.topic(topic);
      }
      if (flags.timeoutMs !== undefined && Date.now() - lastMessageAt >= flags.timeoutMs) break;
    }
    await commit();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.stderr.write(`Processed a total of ${count} messages\n`);
}

export function consumeCommand(): Command {
  return clientOptions(
    new Command('consume')
      .description('print records of a topic, one per line (kafka-console-consumer)')
      .argument('<topic>', 'topic to read')
      .option('--from-beginning', 'start at the earliest offset (when the group has no committed offset)')
      .option('--offset <offset>', 'start at this offset (needs --partition), or earliest / latest')
      .option('--timestamp <time>', 'start at the first record at or after this time (epoch ms or ISO date-time)', timestampArg)
      .option('--partition <n>', 'read only this partition', intArg(0))
      .option('--group <group>', 'start from this group\'s committed offsets and commit what was printed (standalone: does not join the group)')
      .option('--max-messages <n>', 'exit after this many records', intArg(1))
      .option('--timeout-ms <ms>', 'exit when no record arrived for this long', intArg(0))
      .option('--format <format>', 'text (the value) or json (topic, partition, offset, timestamp, key, value, headers)', formatArg, 'text')
      .option('--isolation-level <level>', 'read_uncommitted or read_committed', isolationArg, 'read_uncommitted'),
  ).action((topic: string, _o: unknown, cmd: Command) => withClient(cmd.opts<ConsumeFlags>(), (c) => consume(c, topic, cmd.opts<ConsumeFlags>())));
}
