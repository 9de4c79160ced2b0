// cli/ room: `spool group list|describe|reset-offsets|delete` — kafka-consumer-groups' jobs over
// ListGroups, FindCoordinator, DescribeGroups, OffsetFetch, ListOffsets, OffsetCommit and
// DeleteGroups, against any Kafka broker (classic consumer groups).
import { Command, InvalidArgumentError } from 'commander';
import { ErrorCode, Reader } from '../../protocol/index.js';
import { BrokerError, CliError, check, type KafkaClient, type MetadataTopic } from '../admin-client.js';
import {
  EARLIEST,
  LATEST,
  clientOptions,
  collect,
  formatArg,
  intArg,
  listOffsets,
  print,
  table,
  tp,
  withClient,
  type ClientFlags,
  type OutputFormat,
} from './common.js';

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  host: string;
  assignment: Array<{ topic: string; partitions: number[] }>;
}

interface GroupInfo {
  group: string;
  state: string;
  protocolType: string;
  protocol: string;
  coordinator: number;
  members: Member[];
}

/** ConsumerProtocolAssignment: version, [topic, [partition]], userData. Empty or foreign: no partitions. */
export function decodeAssignment(bytes: Buffer | null): Array<{ topic: string; partitions: number[] }> {
  if (bytes === null || bytes.length < 6) return [];
  try {
    const r = new Reader(bytes);
    r.int16();
    const topics: Array<{ topic: string; partitions: number[] }> = [];
    const n = r.int32();
    for (let i = 0; i < n && r.remaining > 0; i++) {
      const topic = r.string(false) ?? '';
      const count = r.int32();
      const partitions: number[] = [];
      for (let j = 0; j < count; j++) partitions.push(r.int32());
      topics.push({ topic, partitions });
    }
    return topics;
  } catch {
    return [];
  }
}

function describeGroup(client: KafkaClient, group: string): Promise<GroupInfo> {
  return client.withCoordinator(group, (coordinator) => describeGroupAt(client, coordinator, group));
}

async function describeGroupAt(client: KafkaClient, coordinator: number, group: string): Promise<GroupInfo> {
  const { res } = await client.send(coordinator, 'DescribeGroups', () => ({ groups: [group], includeAuthorizedOperations: false }));
  const g = res.groups.find((x) => x.groupId === group);
  if (g === undefined) throw new CliError(`DescribeGroups answered nothing for ${group}`);
  // DescribeGroups v6+ answers GROUP_ID_NOT_FOUND for an unknown group (and for a group of another
  // protocol, which only ConsumerGroupDescribe describes); older versions answered Dead. Both read as
  // a group with no classic members here, as kafka-consumer-groups does.
  if (g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return { group, state: 'Dead', protocolType: '', protocol: '', coordinator, members: [] };
  check(g.errorCode, g.errorMessage, `group ${group}`);
  return {
    group,
    state: g.groupState,
    protocolType: g.protocolType,
    protocol: g.protocolData,
    coordinator,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      host: m.clientHost,
      assignment: g.protocolType === 'consumer' || g.protocolType === '' ? decodeAssignment(m.memberAssignment) : [],
    })),
  };
}

/** Committed offsets of every partition the group has committed: `topic:partition` → offset. */
function committedOffsets(client: KafkaClient, group: string): Promise<Map<string, number>> {
  return client.withCoordinator(group, (coordinator) => committedOffsetsAt(client, coordinator, group));
}

async function committedOffsetsAt(client: KafkaClient, coordinator: number, group: string): Promise<Map<string, number>> {
  const { version, res } = await client.send(coordinator, 'OffsetFetch', (v) =>
    v >= 8 ? { groups: [{ groupId: group, topics: null }], requireStable: false } : { groupId: group, topics: null, requireStable: false },
  );
  const out = new Map<string, number>();
  let topics = res.topics;
  if (version >= 8) {
    const g = res.groups.find((x) => x.groupId === group);
    if (g === undefined) throw new CliError(`OffsetFetch answered nothing for ${group}`);
    check(g.errorCode, null, `committed offsets of ${group}`);
    topics = g.topics;
  } else if (version >= 2) {
    check(res.errorCode, null, `committed offsets of ${group}`);
  }
  for (const t of topics) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) check(p.errorCode, null, `${t.name}-${p.partitionIndex}`);
      if (p.committedOffset >= 0) out.set(tp(t.name, p.partitionIndex), p.committedOffset);
    }
  }
  return out;
}

function splitKey(key: string): { topic: string; partition: number } {
  const sep = key.lastIndexOf(':');
  return { topic: key.slice(0, sep), partition: Number(key.slice(sep + 1)) };
}

function byTopicPartition(a: string, b: string): number {
  const x = splitKey(a);
  const y = splitKey(b);
  return x.topic === y.topic ? x.partition - y.partition : x.topic.localeCompare(y.topic);
}

async function knownTopics(client: KafkaClient, names: Iterable<string>): Promise<MetadataTopic[]> {
  const list = [...new Set(names)];
  if (list.length === 0) return [];
  const md = await client.metadata(list);
  return md.topics.filter((t) => t.errorCode === ErrorCode.NONE);
}

interface DescribeFlags extends ClientFlags {
  members?: boolean;
  state?: boolean;
  format: OutputFormat;
}

async function describe(client: KafkaClient, group: string, flags: DescribeFlags): Promise<void> {
  const info = await describeGroup(client, group);
  const committed = await committedOffsets(client, group);
  if (info.state === 'Dead' && committed.size === 0) throw new BrokerError(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group '${group}' does not exist.`);
  const owner = new Map<string, Member>();
  for (const m of info.members) for (const a of m.assignment) for (const p of a.partitions) owner.set(tp(a.topic, p), m);
  const keys = [...new Set([...committed.keys(), ...owner.keys()])].sort(byTopicPartition);
  const topics = await knownTopics(client, keys.map((k) => splitKey(k).topic));
  const present = keys.filter((k) => topics.some((t) => t.name === splitKey(k).topic && t.partitions.some((p) => p.partition === splitKey(k).partition)));
  const ends = await listOffsets(client, topics, new Map(present.map((k) => [k, LATEST])));
  const rows = keys.map((k) => {
    const { topic, partition } = splitKey(k);
    const current = committed.get(k) ?? null;
    const end = ends.get(k) ?? null;
    const m = owner.get(k);
    return {
      topic,
      partition,
      currentOffset: current,
      logEndOffset: end,
      lag: current !== null && end !== null ? Math.max(0, end - current) : null,
      memberId: m?.memberId ?? null,
      host: m?.host ?? null,
      clientId: m?.clientId ?? null,
    };
  });
  if (flags.format === 'json') {
    print(JSON.stringify({ group, state: info.state, protocolType: info.protocolType, protocol: info.protocol, coordinator: info.coordinator, members: info.members, offsets: rows }, null, 2));
    return;
  }
  const dash = (v: string | number | null): string | number => v ?? '-';
  if (flags.state === true) {
    print(table(['GROUP', 'COORDINATOR (ID)', 'ASSIGNMENT-STRATEGY', 'STATE', '#MEMBERS'], [[group, String(info.coordinator), info.protocol, info.state, info.members.length]]));
    return;
  }
  if (info.members.length === 0) process.stderr.write(`Consumer group '${group}' has no active members.\n`);
  if (flags.members === true) {
    print(
      table(
        ['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS', 'ASSIGNMENT'],
        info.members.map((m) => [
          group,
          m.memberId,
          m.host,
          m.clientId,
          m.assignment.reduce((n, a) => n + a.partitions.length, 0),
          m.assignment.map((a) => `${a.topic}(${a.partitions.join(',')})`).join(', ') || '-',
        ]),
      ),
    );
    return;
  }
  print(
    table(
      ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'],
      rows.map((r) => [group, r.topic, r.partition, dash(r.currentOffset), dash(r.logEndOffset), dash(r.lag), dash(r.memberId), dash(r.host), dash(r.clientId)]),
    ),
  );
}

interface ResetFlags extends ClientFlags {
  topic: string[];
  allTopics?: boolean;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: number;
  toDatetime?: number;
  shiftBy?: number;
  execute?: boolean;
  dryRun?: boolean;
  format: OutputFormat;
}

/** ISO-8601 (2024-01-31T10:00:00.000, with or without a zone; none means local time) → epoch ms. */
function datetimeArg(raw: string): number {
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected a date-time like 2024-01-31T10:00:00.000Z');
  return ms;
}

async function resetOffsets(client: KafkaClient, group: string, flags: ResetFlags): Promise<void> {
  const scenarios = [flags.toEarliest === true, flags.toLatest === true, flags.toOffset !== undefined, flags.toDatetime !== undefined, flags.shiftBy !== undefined].filter(Boolean).length;
  if (scenarios !== 1) throw new CliError('give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by');
  if ((flags.allTopics === true) === flags.topic.length > 0) throw new CliError('give either --topic (repeatable) or --all-topics');
  if (flags.execute === true && flags.dryRun === true) throw new CliError('--execute and --dry-run exclude each other');

  const info = await describeGroup(client, group);
  if (info.state !== 'Empty' && info.state !== 'Dead') {
    throw new CliError(`Assignments can only be reset if the group '${group}' is inactive, but the current state is ${info.state}.`);
  }
  const committed = await committedOffsets(client, group);
  let keys: string[];
  let topics: MetadataTopic[];
  if (flags.allTopics === true) {
    keys = [...committed.keys()];
    topics = await knownTopics(client, keys.map((k) => splitKey(k).topic));
  } else {
    const specs = flags.topic.map((s) => {
      const colon = s.lastIndexOf(':');
      if (colon <= 0) return { topic: s, partitions: null };
      const parts = s.slice(colon + 1).split(',').map((p) => Number(p));
      if (parts.some((p) => !Number.isInteger(p) || p < 0)) throw new CliError(`--topic expects topic or topic:p,p, got "${s}"`);
      return { topic: s.slice(0, colon), partitions: parts };
    });
    topics = [];
    for (const s of specs) topics.push(await client.topic(s.topic));
    keys = specs.flatMap((s) => (s.partitions ?? (topics.find((t) => t.name === s.topic)?.partitions.map((p) => p.partition) ?? [])).map((p) => tp(s.topic, p)));
  }
  keys = [...new Set(keys)].sort(byTopicPartition);
  for (const k of keys) {
    const { topic, partition } = splitKey(k);
    if (!topics.some((t) => t.name === topic && t.partitions.some((p) => p.partition === partition))) {
      throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition} does not exist.`);
    }
  }
  const earliest = await listOffsets(client, topics, new Map(keys.map((k) => [k, EARLIEST])));
  const latest = await listOffsets(client, topics, new Map(keys.map((k) => [k, LATEST])));
  const byTime = flags.toDatetime !== undefined ? await listOffsets(client, topics, new Map(keys.map((k) => [k, flags.toDatetime ?? 0]))) : new Map<string, number>();
  const target = new Map<string, number>();
  for (const k of keys) {
    const lo = earliest.get(k) ?? 0;
    const hi = latest.get(k) ?? 0;
    const clamp = (n: number): number => Math.min(hi, Math.max(lo, n));
    let offset: number;
    if (flags.toEarliest === true) offset = lo;
    else if (flags.toLatest === true) offset = hi;
    else if (flags.toOffset !== undefined) offset = clamp(flags.toOffset);
    else if (flags.toDatetime !== undefined) {
      const found = byTime.get(k) ?? -1;
      offset = found < 0 ? hi : found;
    } else offset = clamp((committed.get(k) ?? lo) + (flags.shiftBy ?? 0));
    target.set(k, offset);
  }
  if (flags.execute === true && keys.length > 0) {
    const perTopic = new Map<string, Array<{ partitionIndex: number; committedOffset: number; committedMetadata: string }>>();
    for (const k of keys) {
      const { topic, partition } = splitKey(k);
      const list = perTopic.get(topic) ?? [];
      perTopic.set(topic, list);
      list.push({ partitionIndex: partition, committedOffset: target.get(k) ?? 0, committedMetadata: '' });
    }
    await client.withCoordinator(group, async (coordinator) => {
      const { res } = await client.send(coordinator, 'OffsetCommit', () => ({
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [...perTopic].map(([name, partitions]) => ({ name, partitions })),
      }));
      for (const t of res.topics) for (const p of t.partitions) check(p.errorCode, null, `commit ${t.name}-${p.partitionIndex}`);
    });
  } else if (flags.dryRun !== true) {
    process.stderr.write('WARN: No action will be performed as the --execute option is missing. Add --execute to reset the offsets (--dry-run only shows them).\n');
  }
  if (flags.format === 'json') {
    print(JSON.stringify(keys.map((k) => ({ group, ...splitKey(k), newOffset: target.get(k) ?? null })), null, 2));
    return;
  }
  print(table(['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], keys.map((k) => [group, splitKey(k).topic, splitKey(k).partition, target.get(k) ?? '-'])));
}

async function listGroups(client: KafkaClient, withState: boolean): Promise<void> {
  const md = await client.metadata([]);
  const groups = new Map<string, string>();
  for (const node of md.brokers.keys()) {
    const { res } = await client.send(node, 'ListGroups', () => ({ statesFilter: [], typesFilter: [] }));
    check(res.errorCode, null, `list groups on broker ${node}`);
    for (const g of res.groups) groups.set(g.groupId, g.groupState === '' ? '-' : g.groupState);
  }
  const names = [...groups.keys()].sort();
  if (withState) print(table(['GROUP', 'STATE'], names.map((n) => [n, groups.get(n) ?? '-'])));
  else for (const n of names) print(n);
}

async function deleteGroups(client: KafkaClient, groups: string[]): Promise<void> {
  let failed: BrokerError | null = null;
  for (const group of groups) {
    const results = await client.withCoordinator(group, async (coordinator) => {
      const { res } = await client.send(coordinator, 'DeleteGroups', () => ({ groupsNames: [group] }));
      for (const r of res.results) if (r.errorCode === ErrorCode.NOT_COORDINATOR || r.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) check(r.errorCode, null, `group ${group}`);
      return res.results;
    });
    for (const r of results) {
      if (r.errorCode === ErrorCode.NONE) print(`Deleted consumer group '${r.groupId}'.`);
      else {
        const detail = r.errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? `Consumer group '${r.groupId}' does not exist.` : r.errorCode === ErrorCode.NON_EMPTY_GROUP ? `Consumer group '${r.groupId}' is not empty (it has active members).` : null;
        failed ??= new BrokerError(r.errorCode, detail);
      }
    }
  }
  if (failed !== null) throw failed;
}

export function groupCommand(): Command {
  const group = new Command('group').description('list, describe, reset offsets of and delete consumer groups (kafka-consumer-groups)');

  clientOptions(group.command('list').description('list consumer groups').option('--state', 'show each group\'s state')).action(
    (_o: unknown, cmd: Command) => withClient(cmd.opts<ClientFlags>(), (c) => listGroups(c, cmd.opts<{ state?: boolean }>().state === true)),
  );

  clientOptions(
    group
      .command('describe')
      .description('committed offsets, log end offsets and lag per partition, with the member that owns each')
      .argument('<group>', 'group id')
      .option('--members', 'list the members and their assignments instead')
      .option('--state', 'show the group\'s coordinator, assignment strategy, state and size instead')
      .option('--format <format>', 'text or json (json has members and offsets)', formatArg, 'text'),
  ).action((name: string, _o: unknown, cmd: Command) => withClient(cmd.opts<DescribeFlags>(), (c) => describe(c, name, cmd.opts<DescribeFlags>())));

  clientOptions(
    group
      .command('reset-offsets')
      .description('set a group\'s committed offsets (the group must have no active members)')
      .argument('<group>', 'group id')
      .option('--topic <topic[:p,p]>', 'topic, or topic:partitions, to reset; repeatable', collect, [])
      .option('--all-topics', 'every topic the group has committed offsets for')
      .option('--to-earliest', 'the earliest offset of each partition')
      .option('--to-latest', 'the log end offset of each partition')
      .option('--to-offset <offset>', 'this offset (clamped to each partition\'s range)', intArg(0))
      .option('--to-datetime <iso>', 'the first offset with a timestamp at or after this time (e.g. 2024-01-31T10:00:00.000Z)', datetimeArg)
      .option('--shift-by <n>', 'move each committed offset by n (negative: back)', intArg(Number.MIN_SAFE_INTEGER))
      .option('--execute', 'commit the new offsets')
      .option('--dry-run', 'only show the new offsets (the default)')
      .option('--format <format>', 'text or json', formatArg, 'text'),
  ).action((name: string, _o: unknown, cmd: Command) => withClient(cmd.opts<ResetFlags>(), (c) => resetOffsets(c, name, cmd.opts<ResetFlags>())));

  clientOptions(group.command('delete').description('delete consumer groups (with their committed offsets); they must be empty').argument('<groups...>', 'group ids')).action(
    (names: string[], _o: unknown, cmd: Command) => withClient(cmd.opts<ClientFlags>(), (c) => deleteGroups(c, names)),
  );
  return group;
}
