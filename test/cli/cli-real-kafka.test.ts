// cli tests against Apache Kafka 4.4 itself (KRaft, from the jars in .cache/kafka-jars): the
// topic, produce, consume and group commands speak the Kafka protocol, not only Spool's dialect.
// One Kafka for the whole file (it takes ~20 s to start).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { requireToolchain } from '../interop/common.js';
import { kafkaToolsAvailable, startRealKafka } from '../interop/kafka-tools.js';
import { jsonLines, spool } from './run.js';

interface Consumed {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

interface TopicJson {
  name: string;
  partitionCount: number;
  configs: Record<string, string | null>;
  partitions: Array<{ partition: number; leader: number }>;
}

if (requireToolchain(t, await kafkaToolsAvailable(), 'Apache Kafka jars or java are missing (bash scripts/setup-interop.sh)')) {
  const dir = mkdtempSync(join(tmpdir(), 'spool-cli-kafka-'));
  const kafka = await startRealKafka(dir, { 'auto.create.topics.enable': 'false' });
  t.teardown(async () => {
    await kafka.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const B = ['--bootstrap-server', kafka.bootstrap];

  t.test('topic create, list, describe, alter, delete against Kafka', async (t) => {
    const created = await spool(['topic', 'create', 'k-orders', '--partitions', '3', '--replication-factor', '1', '--config', 'retention.ms=3600000', ...B]);
    t.equal(created.code, 0, created.stderr);
    t.equal(created.stdout, 'Created topic k-orders.\n');
    const again = await spool(['topic', 'create', 'k-orders', ...B]);
    t.equal(again.code, 1);
    t.match(again.stderr, /^spool: TOPIC_ALREADY_EXISTS: Topic 'k-orders' already exists\.\n$/, "Kafka's error name and message");
    t.match((await spool(['topic', 'list', ...B])).stdout, /^k-orders$/m);
    const text = await spool(['topic', 'describe', 'k-orders', ...B]);
    t.match(text.stdout, /^Topic: k-orders\tTopicId: \S+\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention\.ms=3600000\n/);
    const altered = await spool(['topic', 'alter', 'k-orders', '--partitions', '4', '--config', 'segment.bytes=1048576', '--delete-config', 'retention.ms', ...B]);
    t.equal(altered.code, 0, altered.stderr);
    const after = JSON.parse((await spool(['topic', 'describe', 'k-orders', '--format', 'json', ...B])).stdout) as TopicJson[];
    t.equal(after[0].partitionCount, 4, 'partitions added');
    t.same(after[0].configs, { 'segment.bytes': '1048576' }, 'config set and deleted');
    t.equal((await spool(['topic', 'create', 'k-gone', ...B])).code, 0);
    const deleted = await spool(['topic', 'delete', 'k-gone', ...B]);
    t.equal(deleted.code, 0, deleted.stderr);
    const missing = await spool(['topic', 'describe', 'k-never', ...B]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /^spool: UNKNOWN_TOPIC_OR_PARTITION: /);
  });

  t.test('produce and consume against Kafka', async (t) => {
    t.equal((await spool(['topic', 'create', 'k-lines', '--partitions', '2', ...B])).code, 0);
    const input = Array.from({ length: 20 }, (_, i) => `k${i % 4}:v${i}`).join('\n') + '\n';
    const produced = await spool(['produce', 'k-lines', '--key-separator', ':', '--header', 'h=1', ...B], { input });
    t.equal(produced.code, 0, produced.stderr);
    const consumed = await spool(['consume', 'k-lines', '--from-beginning', '--format', 'json', '--max-messages', '20', '--timeout-ms', '30000', '--group', 'k-cli', ...B]);
    t.equal(consumed.code, 0, consumed.stderr);
    const records = jsonLines<Consumed>(consumed.stdout);
    t.equal(records.length, 20, 'every line came back');
    for (let p = 0; p < 2; p++) {
      const inPartition = records.filter((r) => r.partition === p);
      t.same(inPartition.map((r) => r.offset), inPartition.map((_, i) => i), `partition ${p}: offsets 0.. in order`);
      const values = inPartition.map((r) => Number(r.value?.slice(1)));
      t.same(values, [...values].sort((a, b) => a - b), `partition ${p}: input order`);
    }
    const keys = new Map<string, number>();
    for (const r of records) {
      t.equal(r.value, `v${r.value?.slice(1) ?? ''}`);
      t.equal(r.key, `k${Number(r.value?.slice(1)) % 4}`, 'key split at the separator');
      t.same(r.headers, { h: '1' });
      const seenIn = keys.get(r.key ?? '');
      if (seenIn !== undefined) t.equal(r.partition, seenIn, `key ${r.key ?? ''} stays in one partition`);
      keys.set(r.key ?? '', r.partition);
    }
    // The standalone --group commit is readable by Kafka's own group APIs.
    const group = JSON.parse((await spool(['group', 'describe', 'k-cli', '--format', 'json', ...B])).stdout) as { offsets: Array<{ partition: number; currentOffset: number; lag: number }> };
    t.same(group.offsets.map((o) => o.lag), [0, 0], 'committed up to the end of both partitions');
    t.equal(group.offsets.reduce((n, o) => n + o.currentOffset, 0), 20);
    const reset = await spool(['group', 'reset-offsets', 'k-cli', '--topic', 'k-lines', '--to-earliest', '--execute', ...B]);
    t.equal(reset.code, 0, reset.stderr);
    const again = await spool(['consume', 'k-lines', '--group', 'k-cli', '--format', 'json', '--max-messages', '20', '--timeout-ms', '30000', ...B]);
    t.equal(jsonLines<Consumed>(again.stdout).length, 20, 'after reset-offsets --to-earliest the group reads everything again');
    const text = await spool(['consume', 'k-lines', '--partition', '0', '--offset', '0', '--max-messages', '1', ...B]);
    t.match(text.stdout, /^v\d+\n$/, 'text format');
    const noTopic = await spool(['produce', 'k-none', ...B], { input: 'x\n' });
    t.equal(noTopic.code, 1, 'no auto-creation on this Kafka: produce fails');
    t.match(noTopic.stderr, /^spool: UNKNOWN_TOPIC_OR_PARTITION: /);
  });
}
