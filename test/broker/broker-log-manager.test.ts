// broker room tests (cluster/, log/, replication/): topic lifecycle on disk, checkpoints,
// internal topics, retention, producer id blocks, live config changes.
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { topicNameProblem } from '../../src/cluster/index.js';
import { KafkaError } from '../../src/errors.js';
import { readCheckpoint } from '../../src/log/index.js';
import { tsEngine } from '../../src/storage/ts/index.js';
import { buildBatch } from '../helpers/batches.js';
import { enginesUnderTest, readSlice } from '../helpers/engines.js';
import { tempDir } from '../helpers/broker.js';
import { TestNode } from '../helpers/node.js';

const logger = pino({ level: 'silent' });

async function open(dir: string, overrides: Record<string, string | number> = {}): Promise<TestNode> {
  return TestNode.open(dir, tsEngine, overrides, logger);
}

function batch(n: number, ts = Date.now(), size = 10): Buffer {
  return buildBatch({ baseTimestamp: ts, records: Array.from({ length: n }, (_, i) => ({ value: Buffer.alloc(size, i) })) });
}

t.test('topic names follow Kafka\'s rules', async (t) => {
  t.equal(topicNameProblem('orders.v1_x-y'), null);
  t.match(topicNameProblem(''), /empty/);
  t.match(topicNameProblem('.'), /"\."/);
  t.match(topicNameProblem('..'), /"\.\."/);
  t.match(topicNameProblem('a'.repeat(250)), /249/);
  t.equal(topicNameProblem('a'.repeat(249)), null);
  t.match(topicNameProblem('bad name'), /illegal/);
  t.match(topicNameProblem('ünïcode'), /illegal/);
});

t.test('create, persist, reload and delete topics', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  let lm = await open(d.dir);
  const created = await lm.createTopic('a', 3, { 'retention.ms': '1000' });
  t.equal(created.topicId.length, 22);
  await t.rejects(lm.createTopic('a', 1), KafkaError, 'duplicate refused');
  await t.rejects(lm.createTopic('a.b', 1).then(() => lm.createTopic('a_b', 1)), /collides/);
  await t.rejects(lm.createTopic('x', 0), /larger than 0/);
  await t.rejects(lm.createTopic('y', 1, { 'retention.ms': 'never' }), /retention\.ms/);
  t.equal(lm.getTopic('y'), undefined, 'nothing created on a failed validation');
  await lm.createTopic('validate-only', 1, {}, { validateOnly: true });
  t.equal(lm.getTopic('validate-only'), undefined);
  lm.getLog('a', 1)!.append(batch(4));
  await lm.close();
  const meta = readFileSync(join(d.dir, 'meta.properties'), 'utf8');
  t.match(meta, /node\.id=1\n/);
  t.match(meta, /cluster\.id=\S{22}\n/);
  t.match(meta, /version=1/);
  const recovery = readCheckpoint(join(d.dir, 'recovery-point-offset-checkpoint'));
  t.same(recovery.find((e) => e.topic === 'a' && e.partition === 1)?.offset, 4);
  lm = await open(d.dir);
  t.teardown(() => lm.close());
  t.equal(lm.getTopic('a')?.topicId, created.topicId);
  t.same(lm.getTopic('a')?.configs, { 'retention.ms': '1000' });
  t.equal(lm.getLog('a', 1)?.logEndOffset, 4);
  await lm.createPartitions('a', 5);
  t.equal(lm.getTopic('a')?.logs.length, 5);
  await t.rejects(lm.createPartitions('a', 2), /higher than the requested 2/);
  await lm.deleteTopic('a');
  t.equal(lm.getTopic('a'), undefined);
  t.same(readdirSync(d.dir).filter((n) => /^a-\d+$/.test(n)), [], 'partition directories renamed away');
  t.equal(readdirSync(d.dir).filter((n) => /^a-\d+\.[0-9a-f]+-delete$/.test(n)).length, 5, 'kept as -delete for file.delete.delay.ms');
  await t.rejects(lm.deleteTopic('a'), /does not exist/);
  await lm.close();
  t.same(readdirSync(d.dir).filter((n) => n.startsWith('a-')), [], 'close removes them without waiting out the delay');
});

t.test('a deleted topic keeps its logs open for log.segment.delete.delay.ms', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const lm = await open(d.dir, { 'log.segment.delete.delay.ms': 150 });
  t.teardown(() => lm.close());
  await lm.createTopic('gone', 1);
  const log = lm.getLog('gone', 0)!;
  log.append(batch(3));
  const slice = log.read(0, 1 << 20);
  const bytes = readSlice(slice);
  await lm.deleteTopic('gone');
  t.equal(lm.pendingTopicDeleteCount(), 1);
  t.same(readSlice(slice), bytes, 'a Fetch holding a slice still reads the deleted topic\'s bytes');
  t.notOk(existsSync(join(d.dir, 'gone-0')), 'the name is free at once');
  const again = await lm.createTopic('gone', 1);
  t.equal(again.logs[0].logEndOffset, 0, 'a new topic of the same name starts empty');
  again.logs[0].append(batch(1));
  t.same(readSlice(slice), bytes, 'and does not disturb the old slice');
  for (let i = 0; i < 100 && lm.pendingTopicDeleteCount() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(lm.pendingTopicDeleteCount(), 0, 'closed once the delay passed');
  t.same(readdirSync(d.dir).filter((n) => n.endsWith('-delete')), [], 'and its directory removed');
  t.equal(lm.getLog('gone', 0)?.logEndOffset, 1, 'the new topic is untouched');
});

t.test("a deleted topic's log never writes into a recreated topic's files", async (t) => {
  for (const engine of await enginesUnderTest(t)) {
    await t.test(engine.name, async (t) => {
      const d = tempDir();
      t.teardown(d.cleanup);
      const cfg = { 'segment.bytes': '1000', 'index.interval.bytes': '1' };
      let lm = await TestNode.open(d.dir, engine, {}, logger);
      await lm.createTopic('t', 1, cfg);
      // The old log's active segment 0 holds index entries of its own, sealed at its close.
      for (let i = 0; i < 3; i++) lm.getLog('t', 0)!.append(batch(1));
      await lm.deleteTopic('t');
      await lm.createTopic('t', 1, cfg);
      const log = lm.getLog('t', 0)!;
      for (let i = 0; i < 12; i++) log.append(batch(2, Date.now(), 150));
      t.ok(log.segments().length > 1, 'segment 0 of the new topic rolled');
      await log.flush();
      const dir = join(d.dir, 't-0');
      const segment0 = (): string[] => ['log', 'index', 'timeindex'].map((ext) => readFileSync(join(dir, `00000000000000000000.${ext}`)).toString('hex'));
      const before = segment0();
      const middle = log.readBytes(3, 1 << 20);
      t.equal(lm.pendingTopicDeleteCount(), 1);
      // Closing finishes the pending delete: the old log closes without waiting out the delay.
      await lm.close();
      t.same(segment0(), before, "the old log's close left the new topic's segment 0 alone");
      lm = await TestNode.open(d.dir, engine, {}, logger);
      t.teardown(() => lm.close());
      t.same(lm.getLog('t', 0)!.readBytes(3, 1 << 20), middle, 'a fetch from the middle of segment 0 after a restart');
    });
  }
});

t.test('internal topics are created once, compacted', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const lm = await open(d.dir);
  t.teardown(() => lm.close());
  const [x, y] = await Promise.all([lm.getOrCreateInternalTopic('__consumer_offsets', 5), lm.getOrCreateInternalTopic('__consumer_offsets', 5)]);
  t.equal(x.topicId, y.topicId, 'concurrent callers get the same topic');
  t.equal(x.internal, true);
  t.same(x.logs[0].config.cleanupPolicy, ['compact']);
  t.equal(x.logs.length, 5);
});

t.test('time and size retention delete old segments, never the active one', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const lm = await open(d.dir, { 'log.segment.bytes': 1024 });
  t.teardown(() => lm.close());
  await lm.createTopic('old', 1, { 'retention.ms': '60000' });
  await lm.createTopic('big', 1, { 'retention.bytes': '3000' });
  const now = Date.now();
  const oldLog = lm.getLog('old', 0)!;
  for (let i = 0; i < 5; i++) oldLog.append(batch(5, now - 3_600_000, 150));
  for (let i = 0; i < 3; i++) oldLog.append(batch(5, now, 150));
  const bigLog = lm.getLog('big', 0)!;
  for (let i = 0; i < 20; i++) bigLog.append(batch(5, now, 150));
  const oldSegments = oldLog.segments().length;
  const bigSize = bigLog.segments().reduce((s, x) => s + x.sizeInBytes, 0);
  t.ok(oldSegments > 2 && bigSize > 3000);
  const deleted = lm.runRetention(now);
  t.ok(deleted > 0);
  t.ok(oldLog.logStartOffset > 0, 'old records gone');
  for (const s of oldLog.segments().slice(0, -1)) t.ok(s.maxTimestamp >= now - 60000, 'remaining closed segments are young');
  const remaining = bigLog.segments().reduce((s, x) => s + x.sizeInBytes, 0);
  t.ok(remaining <= 3000 + 1024, `size retention kept ~retention.bytes (${remaining})`);
  t.ok(bigLog.segments().length >= 1);
  const starts = readCheckpoint(join(d.dir, 'log-start-offset-checkpoint'));
  t.equal(starts.find((e) => e.topic === 'old')?.offset, oldLog.logStartOffset, 'log start checkpoint written');
});

t.test('producer ids are never reused across restarts', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  let lm = await open(d.dir);
  const first = [await lm.allocateProducerId(), await lm.allocateProducerId()];
  await lm.close();
  lm = await open(d.dir);
  t.teardown(() => lm.close());
  const next = await lm.allocateProducerId();
  t.ok(next > Math.max(...first), `${next} > ${first.join(',')}`);
});

t.test('altering topic configs applies to the live log', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const lm = await open(d.dir);
  t.teardown(() => lm.close());
  await lm.createTopic('live', 1);
  const log = lm.getLog('live', 0)!;
  log.append(batch(2));
  await lm.alterTopicConfigs('live', { 'max.message.bytes': '100' });
  t.equal(log.config.maxMessageBytes, 100);
  t.throws(() => log.append(batch(5, Date.now(), 50)), /larger|too large|MESSAGE_TOO_LARGE|max/i, 'new limit enforced by the reopened log');
  t.equal(log.logEndOffset, 2, 'data kept across the reopen');
  await t.rejects(lm.alterTopicConfigs('live', { 'segment.bytes': '1' }), /segment\.bytes/);
});

t.test('leftover -delete directories are removed at startup', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const lm = await open(d.dir);
  await lm.close();
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(d.dir, 'gone-0.abc-delete'));
  utimesSync(d.dir, new Date(), new Date());
  const lm2 = await open(d.dir);
  await lm2.close();
  t.notOk(existsSync(join(d.dir, 'gone-0.abc-delete')));
});

t.test('the recovery-point round flushes a few logs at a time and advances every point', async (t) => {
  const d = tempDir();
  t.teardown(d.cleanup);
  const lm = await open(d.dir);
  t.teardown(() => lm.close());
  const topic = await lm.createTopic('many', 12);
  let running = 0;
  let most = 0;
  for (const log of topic.logs) {
    log.append(batch(3));
    const flush = log.flush.bind(log);
    log.flush = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      try {
        await flush();
      } finally {
        running--;
      }
    };
  }
  await lm.logManager.advanceRecoveryPoints();
  t.ok(most >= 1 && most <= 2, `at most 2 logs flushing at once (saw ${most})`);
  lm.logManager.writeCheckpoints();
  const points = readCheckpoint(join(d.dir, 'recovery-point-offset-checkpoint'));
  const many = points.filter((e) => e.topic === 'many');
  t.equal(many.length, 12);
  t.ok(many.every((e) => e.offset === 3), 'every log\'s recovery point moved to its end');
});
