// replication/ room tests, several brokers in one process on one metadata store (the controller's
// decisions made by the test): followers replicate with Kafka's fetch protocol, acks=all waits for
// the ISR, the leader shrinks and expands the ISR, a deposed leader truncates its divergent tail.
// Real-client checks go through KafkaJS against the brokers' listeners.
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import t from 'tap';
import { Broker } from '../../src/broker.js';
import { ErrorCode } from '../../src/errors.js';
import { FakeMetadataStore } from '../helpers/fake-metadata.js';
import { tempDir } from '../helpers/broker.js';

const { Kafka, logLevel } = kafkajs;
const logger = pino({ level: process.env.SPOOL_TEST_LOG_LEVEL ?? 'silent' });

interface Node {
  broker: Broker;
  port: number;
}

async function startNode(store: FakeMetadataStore, dir: string, nodeId: number, port = 0, extra: Record<string, string | number> = {}): Promise<Node> {
  const broker = new Broker({
    env: {},
    logger,
    metadataStore: store,
    overrides: {
      'node.id': nodeId,
      'log.dirs': join(dir, `broker-${nodeId}`),
      listeners: `PLAINTEXT://127.0.0.1:${port}`,
      'replica.fetch.wait.max.ms': 100,
      'replica.fetch.backoff.ms': 50,
      'group.initial.rebalance.delay.ms': 0,
      ...extra,
    },
  });
  const bound = await broker.start();
  return { broker, port: bound.port };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function logBytes(node: Node, topic: string, partition: number): Buffer {
  const p = node.broker.replicaManager.getPartition(topic, partition);
  if (!p) throw new Error(`broker ${node.broker.nodeId} holds no ${topic}-${partition}`);
  return p.log.readBytes(p.logStartOffset, 64 * 1024 * 1024);
}

function values(node: Node, topic: string): string[] {
  const buf = logBytes(node, topic, 0);
  const out: string[] = [];
  let pos = 0;
  // Walk batches (uncompressed, KafkaJS default) and pull values out with the record layout.
  while (pos + 61 <= buf.length) {
    const size = buf.readInt32BE(pos + 8) + 12;
    const batch = buf.subarray(pos, pos + size);
    out.push(...decodeValues(batch));
    pos += size;
  }
  return out;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let shift = 0;
  let result = 0;
  let p = pos;
  for (;;) {
    const b = buf[p++];
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return [(result >>> 1) ^ -(result & 1), p];
}

function decodeValues(batch: Buffer): string[] {
  const count = batch.readInt32BE(57);
  const out: string[] = [];
  let p = 61;
  for (let i = 0; i < count; i++) {
    let len: number;
    [len, p] = readVarint(batch, p);
    const end = p + len;
    p += 1; // attributes
    [, p] = readVarint(batch, p); // timestamp delta
    [, p] = readVarint(batch, p); // offset delta
    let keyLen: number;
    [keyLen, p] = readVarint(batch, p);
    if (keyLen > 0) p += keyLen;
    let valueLen: number;
    [valueLen, p] = readVarint(batch, p);
    out.push(valueLen < 0 ? '' : batch.subarray(p, p + valueLen).toString());
    p = end;
  }
  return out;
}

function client(nodes: Node[]) {
  return new Kafka({ brokers: nodes.map((n) => `127.0.0.1:${n.port}`), clientId: 'replication-test', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
}

t.test('followers replicate with acks=all; a deposed leader truncates its divergent tail and catches up', async (t) => {
  const d = tempDir('spool-replication-');
  t.teardown(d.cleanup);
  const store = new FakeMetadataStore();
  const nodes = new Map<number, Node>();
  t.teardown(async () => {
    for (const n of nodes.values()) await n.broker.stop();
  });
  for (const id of [1, 2, 3]) nodes.set(id, await startNode(store, d.dir, id));
  const n = (id: number): Node => nodes.get(id)!;
  await store.addTopic('orders', 1, { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 });

  const producer = client([...nodes.values()]).producer({ idempotent: false });
  await producer.connect();
  const sent = Array.from({ length: 100 }, (_, i) => `a${i}`);
  for (let i = 0; i < sent.length; i += 10) {
    const res = await producer.send({ topic: 'orders', acks: -1, messages: sent.slice(i, i + 10).map((value) => ({ value })) });
    t.equal(res[0].errorCode, 0);
  }
  await producer.disconnect();
  const leader = n(1).broker.replicaManager.getPartition('orders', 0)!;
  t.equal(leader.highWatermark, 100, 'acks=all answered, so the high watermark passed every record');
  for (const id of [2, 3]) {
    const follower = n(id).broker.replicaManager.getPartition('orders', 0)!;
    t.equal(follower.logEndOffset >= 100, true, `broker ${id} holds every acknowledged record`);
  }
  await waitFor('followers learn the high watermark', () => [2, 3].every((id) => n(id).broker.replicaManager.getPartition('orders', 0)!.highWatermark === 100));
  t.same(values(n(2), 'orders'), sent, 'follower 2 log holds the same records, in order');
  t.same(values(n(3), 'orders'), sent, 'follower 3 log holds the same records, in order');
  t.same(logBytes(n(2), 'orders', 0), logBytes(n(1), 'orders', 0), 'follower bytes are the leader bytes (offsets and epochs kept)');

  // Followers 2 and 3 stop; the old leader takes acks=1 writes nobody else will ever have.
  await n(2).broker.stop();
  await n(3).broker.stop();
  const lone = leader.appendRecordsToLeader(
    (await import('../helpers/batches.js')).buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'lost-1' }, { value: 'lost-2' }] }),
    1,
    'client',
    Date.now(),
  );
  t.equal(lone.kind, 'appended');
  t.equal(leader.logEndOffset, 102);
  t.equal(leader.highWatermark, 100, 'unreplicated records stay above the high watermark');
  await n(1).broker.stop();
  nodes.delete(1);

  // The controller elects broker 2 at epoch 1 (ISR [2, 3]); 2 and 3 come back, 2 leads.
  await store.electLeader('orders', 0, 2, [2, 3]);
  for (const id of [2, 3]) nodes.set(id, await startNode(store, d.dir, id, n(id).port));
  const newLeader = n(2).broker.replicaManager.getPartition('orders', 0)!;
  t.equal(newLeader.isLeader, true);
  t.equal(newLeader.leaderEpoch, 1);
  const producer2 = client([n(2), n(3)]).producer({ idempotent: false });
  await producer2.connect();
  await producer2.send({ topic: 'orders', acks: -1, messages: ['b0', 'b1', 'b2'].map((value) => ({ value })) });
  await producer2.disconnect();
  t.equal(newLeader.highWatermark, 103);

  // The deposed leader returns as a follower: it must drop lost-1/lost-2 and take b0..b2.
  nodes.set(1, await startNode(store, d.dir, 1));
  const back = n(1).broker.replicaManager.getPartition('orders', 0)!;
  t.equal(back.isLeader, false);
  await waitFor('the old leader catches up', () => back.logEndOffset === 103);
  t.same(values(n(1), 'orders'), [...sent, 'b0', 'b1', 'b2'], 'divergent tail truncated, new leader records replicated');
  t.same(back.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 100 }], 'epoch cache follows the leader');
});

t.test('the leader shrinks the ISR when a follower stops and expands it when it catches up; min.insync.replicas refuses writes', async (t) => {
  const d = tempDir('spool-isr-');
  t.teardown(d.cleanup);
  const store = new FakeMetadataStore();
  const nodes = new Map<number, Node>();
  t.teardown(async () => {
    for (const n of nodes.values()) await n.broker.stop();
  });
  const extra = { 'replica.lag.time.max.ms': 600 };
  for (const id of [1, 2, 3]) nodes.set(id, await startNode(store, d.dir, id, 0, extra));
  const n = (id: number): Node => nodes.get(id)!;
  await store.addTopic('isr', 1, { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }, { 'min.insync.replicas': '3' });
  const leader = n(1).broker.replicaManager.getPartition('isr', 0)!;
  const { buildBatch } = await import('../helpers/batches.js');
  const one = (v: string) => buildBatch({ baseTimestamp: Date.now(), records: [{ value: v }] });

  const first = leader.appendRecordsToLeader(one('x'), -1, 'client', Date.now());
  await n(1).broker.replicaManager.awaitReplication(leader, first.kind === 'appended' ? first.result.lastOffset : -1, 5000);
  t.equal(leader.highWatermark, 1);

  const port3 = n(3).port;
  await n(3).broker.stop();
  nodes.delete(3);
  await waitFor('ISR shrinks to [1, 2]', () => store.partition('isr', 0)!.isr.length === 2, 5000);
  t.same(store.partition('isr', 0)!.isr, [1, 2], 'the stopped follower left the ISR through the metadata store');
  t.same(leader.isr, [1, 2]);
  let code = 0;
  try {
    leader.appendRecordsToLeader(one('y'), -1, 'client', Date.now());
  } catch (err) {
    code = (err as { code: number }).code;
  }
  t.equal(code, ErrorCode.NOT_ENOUGH_REPLICAS, 'ISR 2 < min.insync.replicas 3: refused before the append');

  nodes.set(3, await startNode(store, d.dir, 3, port3, extra));
  await waitFor('ISR expands back to three', () => store.partition('isr', 0)!.isr.length === 3, 5000);
  t.same([...store.partition('isr', 0)!.isr].sort(), [1, 2, 3], 'the caught-up follower rejoined the ISR');
  const again = leader.appendRecordsToLeader(one('z'), -1, 'client', Date.now());
  t.equal(again.kind, 'appended');
});
