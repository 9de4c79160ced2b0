// broker tests: __consumer_offsets is compacted. COMMITS offset commits of the same 4 keys
// (group g, topic events, partitions 0-3; committed through the group coordinator in batches,
// the fast path) fill its partition; after cleaning the partition has shrunk and the coordinator's
// load at the next start replays a bounded number of records (against the COMMITS+ the log
// held) and still knows the last offsets, and that a deleted group is gone (its tombstones).
// COMMITS comes from SPOOL_COMPACTION_OFFSETS_COMMITS (a multiple of 2,500), default 1,000,000 and
// 250,000 under CI=true (still dozens of 256 KiB segments and ~19x the load bound; writing the
// commits is most of this file's time).
import pino from 'pino';
import t from 'tap';
import { CONSUMER_OFFSETS_TOPIC } from '../../src/coordinator/group/index.js';
import { tempDir } from '../helpers/broker.js';
import { brokerEngines, logBytes, partitionLog, startCompactingBroker, waitCleanedUpToActive, type KafkaClient } from '../log/compaction-helpers.js';

const COMMITS = Number(process.env.SPOOL_COMPACTION_OFFSETS_COMMITS ?? (process.env.CI === 'true' ? 250_000 : 1_000_000));
const PER_CALL = 2500;
const PARTITIONS = 4;
const SEGMENT_BYTES = 256 * 1024;

/** A logger whose lines the test reads: the coordinator reports the records each load replayed. */
function capturingLogger(): { logger: pino.Logger; loaded: () => number | undefined } {
  const lines: Array<{ msg?: string; topic?: string; partition?: number; records?: number }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as (typeof lines)[number]) });
  return {
    logger,
    loaded: () => lines.find((l) => l.msg === 'coordinator shard loaded' && l.topic === CONSUMER_OFFSETS_TOPIC && l.partition === 0)?.records,
  };
}

async function waitLoaded(loaded: () => number | undefined): Promise<number> {
  // Bounded: 60 s.
  for (let i = 0; i < 3000; i++) {
    const n = loaded();
    if (n !== undefined) return n;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the __consumer_offsets shard did not load');
}

async function committed(kafka: KafkaClient, groupId: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: ['events'] });
    return offsets.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset);
  } finally {
    await admin.disconnect();
  }
}

for (const engine of await brokerEngines(t)) {
  t.test(`${engine}: ${COMMITS.toLocaleString('en-US')} offset commits of 4 keys: __consumer_offsets shrinks and loads a bounded number of records`, async (t) => {
    const d = tempDir('spool-compaction-offsets-');
    t.teardown(d.cleanup);
    const base = { 'offsets.topic.segment.bytes': SEGMENT_BYTES };

    // 1. The cleaner's threads look once at start, find nothing and back off for 10 minutes: the
    // commits pile up uncleaned, and the test runs the rounds itself afterwards.
    const started = Date.now();
    let { running, kafka } = await startCompactingBroker(d.dir, engine, { ...base, 'log.cleaner.backoff.ms': 600_000 });
    t.teardown(() => running.stop());
    await running.broker.createTopic('events', PARTITIONS);
    const admin = kafka.admin();
    await admin.connect();
    // Through the protocol first: creates __consumer_offsets and loads the group's shard.
    await admin.setOffsets({ groupId: 'g', topic: 'events', partitions: [0, 1, 2, 3].map((partition) => ({ partition, offset: '0' })) });
    await admin.setOffsets({ groupId: 'gone', topic: 'events', partitions: [{ partition: 0, offset: '5' }] });
    await admin.deleteGroups(['gone']);
    await admin.disconnect();
    const offsetsLog = partitionLog(running, CONSUMER_OFFSETS_TOPIC);
    t.same(offsetsLog.config.cleanupPolicy, ['compact'], '__consumer_offsets is compacted');
    t.equal(offsetsLog.config.segmentBytes, SEGMENT_BYTES, 'with offsets.topic.segment.bytes');
    let next = 1;
    // Bounded: COMMITS / PER_CALL calls, each one batch of PER_CALL records.
    for (let call = 0; call < COMMITS / PER_CALL; call++) {
      const partitions = Array.from({ length: PER_CALL }, () => {
        const offset = next++;
        return { partitionIndex: offset % PARTITIONS, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' };
      });
      const result = await running.broker.groupCoordinator.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'events', partitions }] });
      if (result[0].partitions.some((p) => p.errorCode !== 0)) throw new Error(`commit failed: ${JSON.stringify(result[0].partitions.find((p) => p.errorCode !== 0))}`);
    }
    const last = [0, 1, 2, 3].map((p) => String(COMMITS - (((COMMITS - p) % PARTITIONS) + PARTITIONS) % PARTITIONS));
    t.same(await committed(kafka, 'g'), last, 'the last commit of each partition');
    const bytesBefore = logBytes(offsetsLog);
    const recordsBefore = offsetsLog.logEndOffset;
    t.ok(recordsBefore > COMMITS, `${recordsBefore} records, ${bytesBefore} bytes, written in ${Date.now() - started} ms`);

    // 2. Cleaning rounds (what the cleaner threads do after their backoff).
    const cleaner = running.broker.logManager.cleaner;
    if (cleaner === null) throw new Error('the log cleaner is disabled');
    // Bounded: each round cleans up to the active segment unless its offset map fills (it does not: 6 keys).
    for (let i = 0; i < 5 && (cleaner.checkpointOf(CONSUMER_OFFSETS_TOPIC, 0) ?? -1) < (offsetsLog.segments().at(-1)?.baseOffset ?? 0); i++) {
      t.ok(await cleaner.cleanFilthiestLog(), '__consumer_offsets is the dirtiest log');
    }
    await waitCleanedUpToActive(running, CONSUMER_OFFSETS_TOPIC, 0, 10_000);
    const bytesAfter = logBytes(offsetsLog);
    t.ok(bytesAfter < bytesBefore / 20, `cleaned: ${bytesBefore} bytes shrank to ${bytesAfter}`);
    t.comment(`cleaner: ${JSON.stringify(cleaner.totals)}`);
    t.same(await committed(kafka, 'g'), last, 'the committed offsets are unchanged');
    await running.stop();

    // 3. The next load reads at most the active segment plus one record per key.
    const capture = capturingLogger();
    ({ running, kafka } = await startCompactingBroker(d.dir, engine, base, capture.logger));
    const cleanedLoad = await waitLoaded(capture.loaded);
    const bound = PARTITIONS + 10 + SEGMENT_BYTES / 20;
    t.ok(cleanedLoad < bound, `cleaned: the load replays ${cleanedLoad} records (< ${bound}: one segment of commits at most; ${recordsBefore} before cleaning), ${bytesAfter} bytes`);
    t.same(await committed(kafka, 'g'), last, 'the last commits survive cleaning');
    const check = kafka.admin();
    await check.connect();
    const groups = (await check.listGroups()).groups.map((g) => g.groupId);
    await check.disconnect();
    t.notOk(groups.includes('gone'), 'the deleted group stays deleted');
    t.ok(groups.includes('g'));
  });
}
