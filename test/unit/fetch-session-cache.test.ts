// api/ room tests: the fetch session cache (KIP-227) without a broker — session creation on epoch
// 0, epochs, FETCH_SESSION_ID_NOT_FOUND / INVALID_FETCH_SESSION_EPOCH / FETCH_SESSION_TOPIC_ID_ERROR,
// incremental updates and forgotten topics, what an incremental answer must include, and
// Kafka's eviction order (stale first; followers over consumers; bigger sessions over smaller).
import t from 'tap';
import {
  FETCH_SESSION_EVICTION_MS,
  FetchSessionCache,
  mustRespond,
  newFetchContext,
  requestPartitions,
  type FetchPartition,
} from '../../src/api/fetch-sessions.js';
import { ErrorCode } from '../../src/errors.js';
import type { FetchRequest } from '../../src/protocol/messages/fetch.js';

const ZERO = '00000000-0000-0000-0000-000000000000';

function request(sessionId: number, sessionEpoch: number, topics: Array<[string, number[], number?]>, forgotten: Array<[string, number[]]> = []): FetchRequest {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId,
    sessionEpoch,
    topics: topics.map(([topic, partitions, offset]) => ({
      topic,
      topicId: ZERO,
      partitions: partitions.map((partition) => ({
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: offset ?? 0,
        lastFetchedEpoch: -1,
        logStartOffset: -1,
        partitionMaxBytes: 1 << 20,
        replicaDirectoryId: ZERO,
        highWatermark: 2 ** 63,
      })),
    })),
    forgottenTopicsData: forgotten.map(([topic, partitions]) => ({ topic, topicId: ZERO, partitions })),
    rackId: '',
  };
}

function ids(): () => number {
  let next = 100;
  return () => next++;
}

function open(cache: FetchSessionCache, topics: Array<[string, number[], number?]>, now = 0, privileged = false): number {
  const partitions = requestPartitions(request(0, 0, topics), false);
  const s = cache.maybeCreate(now, privileged, false, partitions);
  if (s === null) return 0;
  return s.id;
}

t.test('a full fetch with epoch 0 opens a session; epochs must follow; -1 and a new epoch 0 close it', (t) => {
  const cache = new FetchSessionCache(() => 10, FETCH_SESSION_EVICTION_MS, ids());
  const full = newFetchContext(cache, request(0, 0, [['a', [0, 1]]]), 11, 0);
  t.equal(full.kind, 'full');
  t.ok(full.kind === 'full' && full.open, 'epoch 0 may open a session');
  t.equal(newFetchContext(cache, request(0, -1, [['a', [0]]]), 11, 0).kind, 'full');
  t.notOk((newFetchContext(cache, request(0, -1, [['a', [0]]]), 11, 0) as { open: boolean }).open, 'epoch -1 opens none');
  const id = open(cache, [['a', [0, 1]]]);
  t.equal(id, 100);
  t.same(newFetchContext(cache, request(id, 2, []), 11, 1), { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH }, 'epoch 2 before 1');
  const inc = newFetchContext(cache, request(id, 1, []), 11, 1);
  t.equal(inc.kind, 'incremental');
  t.equal(inc.kind === 'incremental' ? inc.partitions.length : -1, 2, 'an empty incremental fetch reads the whole session');
  t.same(newFetchContext(cache, request(id, 1, []), 11, 2), { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH }, 'an epoch is used once');
  t.equal(newFetchContext(cache, request(id, 2, []), 11, 2).kind, 'incremental');
  t.same(newFetchContext(cache, request(999, 1, []), 11, 2), { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  // A full fetch naming the session closes it.
  t.equal(newFetchContext(cache, request(id, -1, [['a', [0]]]), 11, 3).kind, 'full');
  t.equal(cache.get(id), undefined, 'closed by epoch -1');
  t.same(newFetchContext(cache, request(id, 3, []), 11, 3), { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
  const id2 = open(cache, [['a', [0]]]);
  newFetchContext(cache, request(id2, 0, [['a', [0]]]), 11, 3);
  t.equal(cache.get(id2), undefined, 'closed by a new epoch 0');
  t.equal(cache.stats().sessions, 0);
  t.equal(cache.stats().partitions, 0);
  t.end();
});

t.test('incremental fetches update, add and forget partitions', (t) => {
  const cache = new FetchSessionCache(() => 10, FETCH_SESSION_EVICTION_MS, ids());
  const id = open(cache, [['a', [0, 1], 5], ['b', [0], 7]]);
  const inc = newFetchContext(cache, request(id, 1, [['a', [1], 42], ['c', [3], 9]], [['b', [0]]]), 11, 1);
  if (inc.kind !== 'incremental') throw new Error(inc.kind);
  t.same(
    inc.partitions.map((p) => [p.topic, p.partition, p.fetchOffset]),
    [['a', 0, 5], ['a', 1, 42], ['c', 3, 9]],
    'a-1 moved on, c-3 added, b-0 forgotten, a-0 kept its offset',
  );
  t.equal(cache.stats().partitions, 3);
  t.equal(cache.stats().incrementalFetches, 1);
  t.end();
});

t.test('a session keeps the way it names topics: names before v13, ids from v13', (t) => {
  const cache = new FetchSessionCache(() => 10, FETCH_SESSION_EVICTION_MS, ids());
  const id = open(cache, [['a', [0]]]);
  t.same(newFetchContext(cache, request(id, 1, []), 13, 1), { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR });
  t.equal(cache.get(id), undefined, 'and the session is gone');
  const s = cache.maybeCreate(0, false, true, requestPartitions(request(0, 0, [['', [0]]]), true));
  if (s === null) throw new Error('no session');
  t.same(newFetchContext(cache, request(s.id, 1, []), 12, 1), { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR });
  t.end();
});

t.test('an incremental answer includes a partition only when something is new for it', (t) => {
  const p: FetchPartition = requestPartitions(request(0, 0, [['a', [0]]]), false)[0];
  const a = { errorCode: 0, highWatermark: 10, logStartOffset: 0, lastStableOffset: 10, recordBytes: 0 };
  t.ok(mustRespond(p, a, true), 'first answer: everything is new');
  t.notOk(mustRespond(p, a, true), 'same again: left out');
  t.ok(mustRespond(p, { ...a, recordBytes: 100 }, true), 'records');
  t.ok(mustRespond(p, { ...a, highWatermark: 11, lastStableOffset: 11 }, true), 'high-watermark moved');
  t.ok(mustRespond(p, { ...a, highWatermark: 11, lastStableOffset: 11, logStartOffset: 3 }, true), 'log start moved');
  t.ok(mustRespond(p, { ...a, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1, logStartOffset: -1, lastStableOffset: -1 }, true), 'error');
  t.ok(mustRespond(p, { ...a, highWatermark: 11, lastStableOffset: 11, logStartOffset: 3 }, true), 'answered again once the error is gone');
  t.notOk(mustRespond(p, { ...a, highWatermark: 11, lastStableOffset: 11, logStartOffset: 3 }, false), 'unchanged');
  t.ok(mustRespond(p, { ...a, highWatermark: 12, lastStableOffset: 11, logStartOffset: 3 }, false), 'a check without record...');
  t.ok(mustRespond(p, { ...a, highWatermark: 12, lastStableOffset: 11, logStartOffset: 3 }, false), '...remembers nothing');
  t.end();
});

t.test('max.incremental.fetch.session.cache.slots and Kafka eviction order', (t) => {
  let slots = 2;
  const cache = new FetchSessionCache(() => slots, FETCH_SESSION_EVICTION_MS, ids());
  const small = open(cache, [['a', [0]]], 0);
  const big = open(cache, [['a', [0, 1, 2]]], 1);
  t.ok(small !== 0 && big !== 0);
  t.equal(open(cache, [['b', [0, 1, 2, 3]]], 2), 0, 'full of young sessions: a consumer evicts none, whatever its size');
  const follower = open(cache, [['b', [0, 1]]], 3, true);
  t.not(follower, 0, 'a follower evicts a consumer session');
  t.equal(cache.get(small), undefined, 'the smallest consumer session went');
  t.ok(cache.get(big));
  t.equal(open(cache, [['c', [0, 1, 2, 3]]], 4), 0, 'a bigger consumer session does not evict a young follower session');
  const follower2 = open(cache, [['c', [0]]], 5, true);
  t.not(follower2, 0, 'a follower evicts a consumer session even when that one is bigger');
  t.equal(cache.get(big), undefined);
  t.equal(cache.stats().evictions, 2);
  t.equal(open(cache, [['c', [0, 1, 2, 3, 4]]], 6, true), 0, 'followers do not evict young follower sessions');
  // A session unused for the eviction age goes first, whoever asks.
  const now = 10 + FETCH_SESSION_EVICTION_MS;
  const inc = newFetchContext(cache, request(follower, 1, []), 11, now);
  t.equal(inc.kind, 'incremental', 'the follower keeps using its session');
  const late = open(cache, [['d', [0]]], now + 5);
  t.not(late, 0, 'a consumer evicts the stale session');
  t.equal(cache.get(follower2), undefined, 'the one nobody used for the eviction age');
  t.ok(cache.get(follower), 'the used one stays');
  // Old (but used) sessions may be evicted by consumers when the newcomer outranks them.
  const later = now + 2 * FETCH_SESSION_EVICTION_MS;
  newFetchContext(cache, request(follower, 2, []), 11, later - 1);
  newFetchContext(cache, request(late, 1, []), 11, later - 1);
  t.equal(open(cache, [['e', [0]]], later), 0, 'an old session of the same size stays');
  t.not(open(cache, [['e', [0, 1]]], later), 0, 'a 2-partition consumer session evicts an old 1-partition one');
  t.equal(cache.get(late), undefined);
  t.ok(cache.get(follower), 'an old follower session outranks consumer sessions of its size');
  slots = 0;
  t.equal(open(cache, [['f', [0]]], later), 0, 'no slots: no sessions');
  t.end();
});

t.test('the session epoch wraps from INT32_MAX to 1, as Kafka', (t) => {
  const cache = new FetchSessionCache(() => 10, FETCH_SESSION_EVICTION_MS, ids());
  const id = open(cache, [['a', [0]]]);
  const session = cache.get(id);
  if (session === undefined) throw new Error('no session');
  session.epoch = 0x7fffffff;
  t.equal(newFetchContext(cache, request(id, 0x7fffffff, []), 11, 1).kind, 'incremental');
  t.equal(session.epoch, 1, 'the next epoch is 1 (never 0, never negative)');
  t.equal(newFetchContext(cache, request(id, 1, []), 11, 2).kind, 'incremental');
  t.end();
});
