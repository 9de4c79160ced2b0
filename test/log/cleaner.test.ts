// log room tests: the log cleaner's scheduling decisions (Kafka's LogCleanerManager) against fake
// logs — dirty ratio, min/max compaction lag, first uncleanable offset, the offset map size, the
// cleaner-offset-checkpoint file (read, write, clamp, forget, truncate), failures marking a log
// uncleanable for a while, the per-round stats line, and stop waiting for a running round.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { BrokerConfig, type TopicConfig } from '../../src/config/index.js';
import {
  CLEANER_OFFSET_CHECKPOINT,
  LogCleaner,
  cleanableOffsets,
  cleanerSettings,
  isCleanable,
  logToClean,
  maxCompactionDelay,
  maxMapEntries,
  readCheckpoint,
  writeCheckpoint,
  type CleanableLog,
  type CleanerSettings,
  type LogCleanOptions,
} from '../../src/log/index.js';
import type { CleanResult, SegmentInfo } from '../../src/storage/engine.js';

const brokerConfig = new BrokerConfig({ env: {} });

function topicConfig(overrides: Record<string, string> = {}): TopicConfig {
  return brokerConfig.resolveTopicConfig({ 'cleanup.policy': 'compact', ...overrides });
}

interface FakeSegment {
  baseOffset: number;
  sizeInBytes: number;
  maxTimestamp?: number;
  firstBatchTimestamp?: number;
}

/** A log of given segments (the last one active); clean() answers what the test says. */
class FakeLog implements CleanableLog {
  logStartOffset: number;
  logEndOffset: number;
  lso: number | null;
  available = true;
  readonly cleanCalls: LogCleanOptions[] = [];
  cleanImpl: (options: LogCleanOptions) => Promise<CleanResult> = (options) => Promise.resolve(result(options.endOffset));

  constructor(
    readonly topic: string,
    readonly partition: number,
    public segs: FakeSegment[],
    public config: TopicConfig = topicConfig(),
    logEndOffset?: number,
  ) {
    this.logStartOffset = segs[0].baseOffset;
    this.logEndOffset = logEndOffset ?? segs[segs.length - 1].baseOffset + 10;
    this.lso = this.logEndOffset;
  }

  isAvailable(): boolean {
    return this.available;
  }
  segments(): SegmentInfo[] {
    return this.segs.map((s) => ({ baseOffset: s.baseOffset, sizeInBytes: s.sizeInBytes, maxTimestamp: s.maxTimestamp ?? -1, lastModifiedMs: 0 }));
  }
  lastStableOffset(): number | null {
    return this.lso;
  }
  firstBatchTimestamp(offset: number): number {
    return this.segs.find((s) => s.baseOffset === offset)?.firstBatchTimestamp ?? -1;
  }
  clean(options: LogCleanOptions): Promise<CleanResult> {
    this.cleanCalls.push(options);
    return this.cleanImpl(options);
  }
}

function result(cleanedUpTo: number, extra: Partial<CleanResult> = {}): CleanResult {
  return { cleanedUpTo, abandoned: false, bytesRead: 3000, bytesWritten: 1000, recordsRead: 300, recordsRetained: 100, groups: [], ...extra };
}

/** Segments at 0, 100, 200, … of `size` bytes each; the last one is the active segment. */
function segments(count: number, size = 1000): FakeSegment[] {
  return Array.from({ length: count }, (_, i) => ({ baseOffset: i * 100, sizeInBytes: size }));
}

const settings: CleanerSettings = { threads: 1, backoffMs: 10, dedupeBufferSize: 24 * 1000, loadFactor: 0.9, ioMaxBytesPerSecond: Infinity };

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'spool-cleaner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function cleaner(dir: string, logs: FakeLog[], extra: { now?: () => number; uncleanableRetryMs?: number; logger?: pino.Logger; settings?: CleanerSettings } = {}): LogCleaner {
  return new LogCleaner({
    dataDir: dir,
    logs: () => logs,
    settings: extra.settings ?? settings,
    logger: extra.logger ?? pino({ level: 'silent' }),
    now: extra.now,
    uncleanableRetryMs: extra.uncleanableRetryMs,
  });
}

t.test('offset map size: dedupe buffer / threads / 24 bytes * load factor, as Kafka', (t) => {
  t.equal(maxMapEntries(134217728, 1, 0.9), Math.floor(Math.floor(134217728 / 24) * 0.9), 'the defaults: 5,033,164 keys');
  t.equal(maxMapEntries(134217728, 1, 0.9), 5033164);
  t.equal(maxMapEntries(134217728, 4, 0.9), Math.floor(Math.floor(134217728 / 4 / 24) * 0.9), 'each thread has its share');
  t.equal(maxMapEntries(8 * 1024 ** 3, 1, 1), Math.floor(2147483647 / 24), 'a thread map is at most 2 GiB');
  const s = cleanerSettings(new BrokerConfig({ env: {}, overrides: { 'log.cleaner.threads': 2, 'log.cleaner.dedupe.buffer.size': 48000, 'log.cleaner.backoff.ms': 5 } }));
  t.same(s, { threads: 2, backoffMs: 5, dedupeBufferSize: 48000, loadFactor: 0.9, ioMaxBytesPerSecond: Infinity }, 'settings by their Kafka names; the Double.MAX_VALUE default is unthrottled');
  t.equal(cleaner(scratch(t), [], { settings: { ...s } }).maxMapEntries, Math.floor(1000 * 0.9));
  t.end();
});

t.test('first dirty offset: the checkpoint, reset to the log start when out of range', (t) => {
  const log = new FakeLog('c', 0, segments(4));
  log.logStartOffset = 50;
  t.same(cleanableOffsets(log, undefined, 0), { firstDirtyOffset: 50, firstUncleanableDirtyOffset: 300, forceUpdateCheckpoint: false }, 'never cleaned: from the log start');
  t.same(cleanableOffsets(log, 120, 0), { firstDirtyOffset: 120, firstUncleanableDirtyOffset: 300, forceUpdateCheckpoint: false }, 'from the checkpoint');
  t.same(cleanableOffsets(log, 10, 0), { firstDirtyOffset: 50, firstUncleanableDirtyOffset: 300, forceUpdateCheckpoint: true }, 'below the log start (retention, DeleteRecords): clamped, and written back');
  t.same(cleanableOffsets(log, 9999, 0), { firstDirtyOffset: 50, firstUncleanableDirtyOffset: 300, forceUpdateCheckpoint: true }, 'past the log end: from the log start');
  t.end();
});

t.test('first uncleanable offset: min(active segment, last stable offset, first segment newer than min.compaction.lag.ms)', (t) => {
  const now = 1_000_000;
  const segs = segments(5);
  segs[0].maxTimestamp = now - 60_000;
  segs[1].maxTimestamp = now - 50_000;
  segs[2].maxTimestamp = now - 5_000;
  segs[3].maxTimestamp = now - 1_000;
  const log = new FakeLog('c', 0, segs);
  t.equal(cleanableOffsets(log, undefined, now).firstUncleanableDirtyOffset, 400, 'the active segment');
  log.lso = 250;
  t.equal(cleanableOffsets(log, undefined, now).firstUncleanableDirtyOffset, 250, 'an open transaction (or the high watermark) holds it back');
  log.lso = null;
  t.equal(cleanableOffsets(log, undefined, now).firstUncleanableDirtyOffset, 0, 'no replication state: nothing is cleanable');
  log.lso = log.logEndOffset;
  log.config = topicConfig({ 'min.compaction.lag.ms': '10000' });
  t.equal(cleanableOffsets(log, undefined, now).firstUncleanableDirtyOffset, 200, 'segment 200 holds a record younger than 10 s');
  log.config = topicConfig({ 'min.compaction.lag.ms': '55000' });
  t.equal(cleanableOffsets(log, undefined, now).firstUncleanableDirtyOffset, 100, 'segment 100 (50 s old) is too young for a 55 s lag');
  t.equal(cleanableOffsets(log, 300, now).firstUncleanableDirtyOffset, 300, 'never below the first dirty offset');
  t.end();
});

t.test('cleanable ratio: dirty bytes / (clean + dirty) bytes against min.cleanable.dirty.ratio', (t) => {
  // Segments 0..300 of 1000 bytes, 400 active; checkpoint at 200: 2000 clean, 2000 dirty bytes.
  const log = new FakeLog('c', 0, segments(5));
  const ltc = logToClean(log, cleanableOffsets(log, 200, 0), 0);
  t.match(ltc, { firstDirtyOffset: 200, firstUncleanableOffset: 400, cleanBytes: 2000, cleanableBytes: 2000, totalBytes: 4000, cleanableRatio: 0.5, needCompactionNow: false });
  t.notOk(isCleanable(ltc), 'ratio 0.5 is not above the default 0.5 (Kafka compares with >)');
  log.config = topicConfig({ 'min.cleanable.dirty.ratio': '0.49' });
  t.ok(isCleanable(logToClean(log, cleanableOffsets(log, 200, 0), 0)), 'above 0.49');
  log.lso = 250;
  const held = logToClean(log, cleanableOffsets(log, 200, 0), 0);
  t.match(held, { firstUncleanableOffset: 200, cleanableBytes: 0, cleanableRatio: 0 }, 'an LSO inside segment 200 leaves that segment (and after) dirty but uncleanable');
  t.notOk(isCleanable(held));
  log.lso = log.logEndOffset;
  const fresh = logToClean(log, cleanableOffsets(log, undefined, 0), 0);
  t.match(fresh, { cleanBytes: 0, cleanableBytes: 4000, cleanableRatio: 1 }, 'never cleaned: everything but the active segment is dirty');
  t.end();
});

t.test('max.compaction.lag.ms makes a log cleanable whatever its ratio', (t) => {
  const now = 10_000_000;
  const segs = segments(4);
  segs[2].firstBatchTimestamp = now - 70_000;
  const log = new FakeLog('c', 0, segs, topicConfig({ 'min.cleanable.dirty.ratio': '0.9' }));
  t.equal(maxCompactionDelay(log, 200, now), 0, 'the default lag (forever) never forces');
  log.config = topicConfig({ 'min.cleanable.dirty.ratio': '0.9', 'max.compaction.lag.ms': '60000' });
  t.equal(maxCompactionDelay(log, 200, now), 10_000, 'the dirty segment 200 is 10 s past the 60 s lag');
  t.equal(maxCompactionDelay(log, 300, now), 0, 'only dirty non-active segments count');
  const ltc = logToClean(log, cleanableOffsets(log, 200, now), maxCompactionDelay(log, 200, now));
  t.match(ltc, { cleanableRatio: 1000 / 3000, needCompactionNow: true });
  t.ok(isCleanable(ltc), 'ratio 0.33 < 0.9, but overdue');
  t.end();
});

t.test('the cleaner picks the dirtiest cleanable log, checkpoints where the round ended and logs the stats', async (t) => {
  const dir = scratch(t);
  const a = new FakeLog('a', 0, segments(5), topicConfig({ 'min.cleanable.dirty.ratio': '0.1', 'delete.retention.ms': '1234', 'segment.bytes': '5000' }));
  const b = new FakeLog('b', 0, segments(5), topicConfig({ 'min.cleanable.dirty.ratio': '0.1' }));
  const plain = new FakeLog('plain', 0, segments(5), brokerConfig.resolveTopicConfig({}));
  writeCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT), [{ topic: 'a', partition: 0, offset: 300 }]);
  const { logger, lines } = capture();
  const c = cleaner(dir, [plain, a, b], { logger, now: () => 5000 });
  t.equal(c.checkpointOf('a', 0), 300, 'read at start');
  t.equal(await c.cleanFilthiestLog(), true);
  t.equal(plain.cleanCalls.length, 0, 'cleanup.policy=delete logs are never cleaned');
  t.equal(a.cleanCalls.length, 0, 'a (ratio 0.25) is cleaner than b (ratio 1)');
  t.same(b.cleanCalls, [{ firstDirtyOffset: 0, endOffset: 400, now: 5000, deleteRetentionMs: 86400000, maxMapEntries: 900, segmentBytes: 1073741824, ioMaxBytesPerSecond: Infinity }]);
  t.same(readCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT)), [
    { topic: 'a', partition: 0, offset: 300 },
    { topic: 'b', partition: 0, offset: 400 },
  ], 'the checkpoint file is written after the round');
  const stats = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('Log cleaner thread 0 cleaned log b-0'));
  t.ok(stats, 'one info line per round');
  t.match(stats, { level: 30, bytesRead: 3000, bytesWritten: 1000, recordsRead: 300, recordsRetained: 100, cleanedUpTo: 400 });
  t.match(stats?.msg, /dirty section = \[0, 400\]/);
  t.match(stats?.msg, /66\.7% size reduction \(66\.7% fewer messages\)/);

  b.segs.push({ baseOffset: 500, sizeInBytes: 1000 }); // b: 4000 clean bytes, 1000 dirty (ratio 0.2)
  t.equal(await c.cleanFilthiestLog(), true);
  t.same(a.cleanCalls, [{ firstDirtyOffset: 300, endOffset: 400, now: 5000, deleteRetentionMs: 1234, maxMapEntries: 900, segmentBytes: 5000, ioMaxBytesPerSecond: Infinity }], 'then a (0.25 > 0.2), with its topic settings');
  t.same(c.totals, { rounds: 2, bytesRead: 6000, bytesWritten: 2000, recordsRead: 600, recordsRetained: 200 });
});

t.test('a checkpoint below the log start is clamped and written back', async (t) => {
  const dir = scratch(t);
  const log = new FakeLog('x', 3, segments(3), topicConfig({ 'min.cleanable.dirty.ratio': '0.99' }));
  log.logStartOffset = 120;
  writeCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT), [{ topic: 'x', partition: 3, offset: 7 }]);
  const c = cleaner(dir, [log]);
  t.equal(await c.cleanFilthiestLog(), false, 'not dirty enough');
  t.equal(c.checkpointOf('x', 3), 120);
  t.same(readCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT)), [{ topic: 'x', partition: 3, offset: 120 }]);
});

t.test('an unreadable checkpoint file is ignored (the logs are cleaned from their start)', async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, CLEANER_OFFSET_CHECKPOINT), 'garbage\n');
  const log = new FakeLog('x', 0, segments(3));
  const c = cleaner(dir, [log]);
  t.equal(c.checkpointOf('x', 0), undefined);
  t.equal(await c.cleanFilthiestLog(), true);
  t.equal(log.cleanCalls[0].firstDirtyOffset, 0);
});

t.test('deleted topics leave the checkpoint; truncation lowers it; an abandoned round keeps it', async (t) => {
  const dir = scratch(t);
  const a = new FakeLog('a', 0, segments(3));
  const b = new FakeLog('b', 1, segments(3));
  const logs = [a, b];
  const c = cleaner(dir, logs);
  await c.cleanFilthiestLog();
  await c.cleanFilthiestLog();
  t.same(readCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT)).map((e) => `${e.topic}-${e.partition}@${e.offset}`), ['a-0@200', 'b-1@200']);
  c.truncated(a, 150);
  c.truncated(b, 250);
  t.same(readCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT)).map((e) => `${e.topic}-${e.partition}@${e.offset}`), ['a-0@150', 'b-1@200'], 'only a truncation below the checkpoint moves it');
  logs.splice(1, 1);
  c.forget('b', 1);
  t.same(readCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT)).map((e) => `${e.topic}-${e.partition}@${e.offset}`), ['a-0@150']);

  a.segs.push({ baseOffset: 300, sizeInBytes: 1000 }, { baseOffset: 400, sizeInBytes: 1000 });
  a.logEndOffset = 410;
  a.lso = 410;
  a.cleanImpl = () => Promise.resolve(result(0, { abandoned: true }));
  t.equal(await c.cleanFilthiestLog(), true);
  t.equal(c.checkpointOf('a', 0), 150, 'an abandoned round checkpoints nothing');
  t.equal(c.totals.rounds, 2);
});

t.test('a round of a log deleted meanwhile writes no checkpoint for it', async (t) => {
  const dir = scratch(t);
  const log = new FakeLog('gone', 0, segments(3));
  const logs = [log];
  const c = cleaner(dir, logs);
  let finish: (r: CleanResult) => void = () => undefined;
  log.cleanImpl = () => new Promise((resolve) => (finish = resolve));
  const round = c.cleanFilthiestLog();
  logs.length = 0;
  c.forget('gone', 0);
  finish(result(200));
  await round;
  t.equal(c.checkpointOf('gone', 0), undefined);
});

t.test('a round that throws marks the log uncleanable for a while, without stopping the others', async (t) => {
  const dir = scratch(t);
  let now = 1000;
  const bad = new FakeLog('bad', 0, segments(3));
  const good = new FakeLog('good', 0, segments(3), topicConfig({ 'min.cleanable.dirty.ratio': '0.1' }));
  bad.cleanImpl = () => Promise.reject(new Error('disk on fire'));
  const { logger, lines } = capture();
  // Equally dirty: the first one listed (bad) goes first.
  const c = cleaner(dir, [bad, good], { now: () => now, uncleanableRetryMs: 60_000, logger });
  t.equal(await c.cleanFilthiestLog(), true);
  t.equal(bad.cleanCalls.length, 1);
  const error = lines.find((l) => l.level === 50);
  t.match(error, { topic: 'bad', partition: 0, msg: /Unexpected exception thrown when cleaning log bad-0\. Marking its partition \(bad-0\) as uncleanable/ });
  t.match(error?.err, { message: 'disk on fire' });
  t.equal(c.checkpointOf('bad', 0), undefined);
  t.equal(await c.cleanFilthiestLog(), true);
  t.equal(good.cleanCalls.length, 1, 'the next pass cleans the other log');
  t.equal(await c.cleanFilthiestLog(), false, 'bad is left alone');
  now += 60_000;
  bad.cleanImpl = (o) => Promise.resolve(result(o.endOffset));
  t.equal(await c.cleanFilthiestLog(), true, 'and tried again after the retry delay');
  t.equal(c.checkpointOf('bad', 0), 200);
});

t.test('a log closed or being reopened is skipped', async (t) => {
  const log = new FakeLog('x', 0, segments(3));
  log.available = false;
  const c = cleaner(scratch(t), [log]);
  t.equal(await c.cleanFilthiestLog(), false);
  t.equal(log.cleanCalls.length, 0);
});

t.test('threads run rounds of different logs at once; stop waits for the rounds in progress', async (t) => {
  const dir = scratch(t);
  const logs = [new FakeLog('a', 0, segments(3)), new FakeLog('b', 0, segments(3)), new FakeLog('c', 0, segments(3))];
  const pending: Array<() => void> = [];
  let running = 0;
  let maxRunning = 0;
  for (const log of logs) {
    log.cleanImpl = (o) =>
      new Promise((resolve) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        pending.push(() => {
          running--;
          resolve(result(o.endOffset));
        });
      });
  }
  const c = cleaner(dir, logs, { settings: { ...settings, threads: 2 } });
  c.start();
  // Bounded: the two threads start their rounds within a few turns of the event loop.
  for (let i = 0; i < 100 && pending.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(maxRunning, 2, 'log.cleaner.threads rounds at once, never the same log twice');
  let stopped = false;
  const stopping = c.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(stopped, 'stop waits for the running rounds');
  for (const done of pending.splice(0)) done();
  await stopping;
  t.equal(logs.filter((l) => l.cleanCalls.length > 0).length, 2, 'no new round after stop');
  const written = readFileSync(join(dir, CLEANER_OFFSET_CHECKPOINT), 'utf8');
  t.match(written, /^0\n2\n/, 'both finished rounds are checkpointed (Kafka checkpoint format)');
});
