// cli/ room: `spool topic create|list|describe|alter|delete` — kafka-topics' jobs over
// CreateTopics, Metadata, DescribeConfigs, CreatePartitions, IncrementalAlterConfigs and
// DeleteTopics, against any Kafka broker.
import { Command } from 'commander';
import { ErrorCode, ZERO_UUID } from '../../protocol/index.js';
import { BrokerError, CliError, check, type KafkaClient, type MetadataTopic } from '../admin-client.js';
import { clientOptions, collect, formatArg, intArg, keyValues, print, withClient, type ClientFlags, type OutputFormat } from './common.js';

const TOPIC_RESOURCE = 2;
const TOPIC_CONFIG_SOURCE = 1;

interface CreateFlags extends ClientFlags {
  partitions?: number;
  replicationFactor?: number;
  config: string[];
  ifNotExists?: boolean;
}

interface AlterFlags extends ClientFlags {
  partitions?: number;
  config: string[];
  deleteConfig: string[];
}

interface DescribeFlags extends ClientFlags {
  format: OutputFormat;
  excludeInternal?: boolean;
}

async function createTopic(client: KafkaClient, name: string, flags: CreateFlags): Promise<void> {
  const configs = keyValues(flags.config, '--config');
  const { res } = await client.send(null, 'CreateTopics', () => ({
    topics: [
      {
        name,
        numPartitions: flags.partitions ?? -1,
        replicationFactor: flags.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })),
      },
    ],
    timeoutMs: client.requestTimeoutMs,
    validateOnly: false,
  }));
  const r = res.topics.find((t) => t.name === name);
  if (r === undefined) throw new CliError(`CreateTopics answered nothing for ${name}`);
  if (r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && flags.ifNotExists === true) return;
  check(r.errorCode, r.errorMessage);
  print(`Created topic ${name}.`);
}

async function topicConfigs(client: KafkaClient, names: string[]): Promise<Map<string, Record<string, string | null>>> {
  const out = new Map<string, Record<string, string | null>>();
  if (names.length === 0) return out;
  const { version, res } = await client.send(null, 'DescribeConfigs', () => ({
    resources: names.map((resourceName) => ({ resourceType: TOPIC_RESOURCE, resourceName, configurationKeys: null })),
    includeSynonyms: false,
    includeDocumentation: false,
  }));
  for (const r of res.results) {
    check(r.errorCode, r.errorMessage, `configs of ${r.resourceName}`);
    const set: Record<string, string | null> = {};
    for (const c of r.configs) {
      const fromTopic = version >= 1 ? c.configSource === TOPIC_CONFIG_SOURCE : !c.isDefault;
      if (fromTopic) set[c.name] = c.isSensitive ? null : c.value;
    }
    out.set(r.resourceName, set);
  }
  return out;
}

function describeText(t: MetadataTopic, configs: Record<string, string | null>): string[] {
  const rf = t.partitions.at(0)?.replicas.length ?? 0;
  const cfg = Object.entries(configs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v ?? '(sensitive)'}`)
    .join(',');
  const lines = [`Topic: ${t.name}\tTopicId: ${t.topicId}\tPartitionCount: ${t.partitions.length}\tReplicationFactor: ${rf}\tConfigs: ${cfg}`];
  for (const p of t.partitions) {
    const offline = p.offline.length > 0 ? `\tOffline: ${p.offline.join(',')}` : '';
    lines.push(`\tTopic: ${t.name}\tPartition: ${p.partition}\tLeader: ${p.leader < 0 ? 'none' : p.leader}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}${offline}`);
  }
  return lines;
}

async function describeTopics(client: KafkaClient, names: string[], flags: DescribeFlags): Promise<void> {
  const md = await client.metadata(names.length > 0 ? names : null);
  for (const t of md.topics) {
    if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new BrokerError(t.errorCode, `Topic '${t.name}' does not exist.`);
    check(t.errorCode, null, `topic ${t.name}`);
  }
  const topics = md.topics.filter((t) => names.length > 0 || !(flags.excludeInternal === true && t.isInternal)).sort((a, b) => a.name.localeCompare(b.name));
  const configs = await topicConfigs(client, topics.map((t) => t.name));
  if (flags.format === 'json') {
    print(
      JSON.stringify(
        topics.map((t) => ({
          name: t.name,
          topicId: t.topicId,
          internal: t.isInternal,
          partitionCount: t.partitions.length,
          replicationFactor: t.partitions.at(0)?.replicas.length ?? 0,
          configs: configs.get(t.name) ?? {},
          partitions: t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr, offline: p.offline })),
        })),
        null,
        2,
      ),
    );
    return;
  }
  for (const t of topics) for (const line of describeText(t, configs.get(t.name) ?? {})) print(line);
}

async function alterTopic(client: KafkaClient, name: string, flags: AlterFlags): Promise<void> {
  const set = keyValues(flags.config, '--config');
  if (flags.partitions === undefined && Object.keys(set).length === 0 && flags.deleteConfig.length === 0) {
    throw new CliError('nothing to alter: give --partitions, --config or --delete-config');
  }
  await client.topic(name);
  if (flags.partitions !== undefined) {
    const count = flags.partitions;
    const { res } = await client.send(null, 'CreatePartitions', () => ({
      topics: [{ name, count, assignments: null }],
      timeoutMs: client.requestTimeoutMs,
      validateOnly: false,
    }));
    for (const r of res.results) check(r.errorCode, r.errorMessage, `partitions of ${name}`);
  }
  if (Object.keys(set).length > 0 || flags.deleteConfig.length > 0) {
    const configs = [
      ...Object.entries(set).map(([k, value]) => ({ name: k, configOperation: 0, value })),
      ...flags.deleteConfig.map((k) => ({ name: k, configOperation: 1, value: null })),
    ];
    const { res } = await client.send(null, 'IncrementalAlterConfigs', () => ({
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configs }],
      validateOnly: false,
    }));
    for (const r of res.responses) check(r.errorCode, r.errorMessage, `configs of ${name}`);
  }
  print(`Altered topic ${name}.`);
}

async function deleteTopics(client: KafkaClient, names: string[]): Promise<void> {
  const { res } = await client.send(null, 'DeleteTopics', (v) =>
    v >= 6 ? { topics: names.map((name) => ({ name, topicId: ZERO_UUID })), timeoutMs: client.requestTimeoutMs } : { topicNames: names, timeoutMs: client.requestTimeoutMs },
  );
  let failed: BrokerError | null = null;
  for (const r of res.responses) {
    if (r.errorCode === ErrorCode.NONE) print(`Deleted topic ${r.name ?? ''}.`);
    else {
      const detail = r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? `Topic '${r.name ?? ''}' does not exist.` : r.errorMessage;
      failed ??= new BrokerError(r.errorCode, detail);
    }
  }
  if (failed !== null) throw failed;
}

export function topicCommand(): Command {
  const topic = new Command('topic').description('create, list, describe, alter and delete topics (kafka-topics)');

  clientOptions(
    topic
      .command('create')
      .description('create a topic')
      .argument('<topic>', 'topic name')
      .option('--partitions <n>', 'partition count (default: the broker\'s num.partitions)', intArg(1))
      .option('--replication-factor <n>', 'replicas per partition (default: the broker\'s default.replication.factor)', intArg(1))
      .option('--config <key=value>', 'topic setting, repeatable (e.g. --config retention.ms=60000)', collect, [])
      .option('--if-not-exists', 'succeed when the topic already exists'),
  ).action((name: string, _o: unknown, cmd: Command) => withClient(cmd.opts<CreateFlags>(), (c) => createTopic(c, name, cmd.opts<CreateFlags>())));

  clientOptions(
    topic
      .command('list')
      .description('list topic names')
      .option('--exclude-internal', 'leave out internal topics (__consumer_offsets, __transaction_state)'),
  ).action((_o: unknown, cmd: Command) =>
    withClient(cmd.opts<ClientFlags & { excludeInternal?: boolean }>(), async (c) => {
      const md = await c.metadata(null);
      const exclude = cmd.opts<{ excludeInternal?: boolean }>().excludeInternal === true;
      for (const name of md.topics.filter((t) => !(exclude && t.isInternal)).map((t) => t.name).sort()) print(name);
    }),
  );

  clientOptions(
    topic
      .command('describe')
      .description('partitions, leaders, replicas, in-sync replicas and topic-level settings')
      .argument('[topics...]', 'topics to describe (default: all)')
      .option('--format <format>', 'text or json', formatArg, 'text')
      .option('--exclude-internal', 'leave out internal topics when describing all'),
  ).action((names: string[], _o: unknown, cmd: Command) => withClient(cmd.opts<DescribeFlags>(), (c) => describeTopics(c, names, cmd.opts<DescribeFlags>())));

  clientOptions(
    topic
      .command('alter')
      .description('add partitions or change topic-level settings')
      .argument('<topic>', 'topic name')
      .option('--partitions <n>', 'new total partition count (can only grow)', intArg(1))
      .option('--config <key=value>', 'set a topic setting, repeatable', collect, [])
      .option('--delete-config <key>', 'remove a topic setting (back to the broker default), repeatable', collect, []),
  ).action((name: string, _o: unknown, cmd: Command) => withClient(cmd.opts<AlterFlags>(), (c) => alterTopic(c, name, cmd.opts<AlterFlags>())));

  clientOptions(topic.command('delete').description('delete topics').argument('<topics...>', 'topic names')).action(
    (names: string[], _o: unknown, cmd: Command) => withClient(cmd.opts<ClientFlags>(), (c) => deleteTopics(c, names)),
  );
  return topic;
}
