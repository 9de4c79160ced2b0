// api/ room: incremental fetch sessions (KIP-227), Kafka's FetchSessionCache semantics.
//
// A full fetch with epoch 0 (INITIAL) may open a session: the broker remembers the partitions
// asked for and answers with a non-zero sessionId. The next fetches name that session with epoch
// 1, 2, ... and carry only the partitions whose fetch state changed (and forgottenTopicsData for
// the ones to drop); the answer leaves out every partition with no new data and nothing else
// new (high-watermark, log start offset, last stable offset, error). Epoch -1 (FINAL) closes a
// session; a full fetch with a sessionId closes that one first.
//
// The cache holds max.incremental.fetch.session.cache.slots sessions. When it is full a new
// session may evict, in Kafka's order: a session unused for EVICTION_MS, else the least valuable
// one it outranks — (privileged, size, id) compared in that order, followers (replicaId >= 0)
// being privileged; a session younger than EVICTION_MS is protected from consumers, and a
// follower's young session from everyone.
import { randomInt } from 'node:crypto';
import { ErrorCode } from '../errors.js';
import type { FetchRequest } from '../protocol/messages/fetch.js';

/** Kafka's FetchSessionCache eviction age (not configurable there either). */
export const FETCH_SESSION_EVICTION_MS = 120_000;
export const INVALID_SESSION_ID = 0;
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;

type RequestTopic = FetchRequest['topics'][number];
type RequestPartition = RequestTopic['partitions'][number];

/** One partition of a fetch: what the fetcher asked for and, in a session, what it was last told. */
export interface FetchPartition {
  /** The topic as named in the request: its name before v13, '' from v13. */
  topic: string;
  /** The topic id from v13, the zero uuid before. */
  topicId: string;
  partition: number;
  fetchOffset: number;
  currentLeaderEpoch: number;
  logStartOffset: number;
  partitionMaxBytes: number;
  /** v18: the fetcher's high-watermark (a huge default when it does not report one). */
  fetcherHighWatermark: number;
  /** Last values answered for this partition in its session (-1: never, or after an error). */
  sentHighWatermark: number;
  sentLogStartOffset: number;
  sentLastStableOffset: number;
}

/** What a fetch answered for one partition, as the session compares it. */
export interface PartitionAnswer {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  lastStableOffset: number;
  recordBytes: number;
}

function keyOf(topic: string, topicId: string, partition: number): string {
  return `${topic}\u0000${topicId}\u0000${partition}`;
}

export function partitionKey(p: FetchPartition): string {
  return keyOf(p.topic, p.topicId, p.partition);
}

function fromRequest(t: RequestTopic, p: RequestPartition, usesTopicIds: boolean): FetchPartition {
  return {
    topic: usesTopicIds ? '' : t.topic,
    topicId: usesTopicIds ? t.topicId : '',
    partition: p.partition,
    fetchOffset: p.fetchOffset,
    currentLeaderEpoch: p.currentLeaderEpoch,
    logStartOffset: p.logStartOffset,
    partitionMaxBytes: p.partitionMaxBytes,
    fetcherHighWatermark: p.highWatermark,
    sentHighWatermark: -1,
    sentLogStartOffset: -1,
    sentLastStableOffset: -1,
  };
}

/** The partitions of a request, in request order. */
export function requestPartitions(req: FetchRequest, usesTopicIds: boolean): FetchPartition[] {
  const out: FetchPartition[] = [];
  for (const t of req.topics) for (const p of t.partitions) out.push(fromRequest(t, p, usesTopicIds));
  return out;
}

export class FetchSession {
  /** Insertion-ordered: partitions that returned data move to the end, so all get their turn. */
  readonly partitions = new Map<string, FetchPartition>();
  /** The epoch the next incremental fetch must carry. */
  epoch = 1;
  lastUsedMs: number;
  /** Size when last touched: the cache's partition count and eviction rank use it. */
  cachedSize = 0;
  /**
   * With an authorizer: the principal ("User:alice") that opened the session, set before its id
   * is answered. Only that principal may use or close it (null: no authorization layer).
   */
  principal: string | null = null;

  constructor(
    readonly id: number,
    readonly privileged: boolean,
    readonly usesTopicIds: boolean,
    readonly creationMs: number,
    partitions: FetchPartition[],
  ) {
    this.lastUsedMs = creationMs;
    for (const p of partitions) this.partitions.set(partitionKey(p), p);
  }

  get size(): number {
    return this.partitions.size;
  }

  /** Applies an incremental request: changed or added partitions, then forgotten ones. */
  update(req: FetchRequest): void {
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const incoming = fromRequest(t, p, this.usesTopicIds);
        const key = partitionKey(incoming);
        const cached = this.partitions.get(key);
        if (cached === undefined) {
          this.partitions.set(key, incoming);
        } else {
          cached.fetchOffset = incoming.fetchOffset;
          cached.currentLeaderEpoch = incoming.currentLeaderEpoch;
          cached.logStartOffset = incoming.logStartOffset;
          cached.partitionMaxBytes = incoming.partitionMaxBytes;
          cached.fetcherHighWatermark = incoming.fetcherHighWatermark;
        }
      }
    }
    for (const f of req.forgottenTopicsData) {
      for (const partition of f.partitions) {
        this.partitions.delete(keyOf(this.usesTopicIds ? '' : f.topic, this.usesTopicIds ? f.topicId : '', partition));
      }
    }
  }
}

/**
 * Whether an incremental answer must include this partition (Kafka's CachedPartition
 * maybeUpdateResponseData): new data, an error, or a changed high-watermark, log start offset or
 * last stable offset. With `record`, the partition remembers what it was told.
 */
export function mustRespond(p: FetchPartition, a: PartitionAnswer, record: boolean): boolean {
  let must = a.recordBytes > 0;
  if (a.highWatermark !== p.sentHighWatermark) {
    must = true;
    if (record) p.sentHighWatermark = a.highWatermark;
  }
  if (a.logStartOffset !== p.sentLogStartOffset) {
    must = true;
    if (record) p.sentLogStartOffset = a.logStartOffset;
  }
  if (a.lastStableOffset !== p.sentLastStableOffset) {
    must = true;
    if (record) p.sentLastStableOffset = a.lastStableOffset;
  }
  if (a.errorCode !== ErrorCode.NONE) {
    // Forget the high-watermark, so the partition is answered again once the error is gone.
    if (record) p.sentHighWatermark = -1;
    must = true;
  }
  return must;
}

/** Ranks sessions for eviction: non-privileged before privileged, then smaller, then lower id. */
function compareRank(aPrivileged: boolean, aSize: number, aId: number, b: FetchSession): number {
  if (aPrivileged !== b.privileged) return aPrivileged ? 1 : -1;
  if (aSize !== b.cachedSize) return aSize - b.cachedSize;
  return aId - b.id;
}

export interface FetchSessionCacheStats {
  sessions: number;
  partitions: number;
  created: number;
  evictions: number;
  incrementalFetches: number;
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private numPartitions = 0;
  private created = 0;
  private evictions = 0;
  incrementalFetches = 0;

  constructor(
    private readonly maxSlots: () => number,
    private readonly evictionMs = FETCH_SESSION_EVICTION_MS,
    private readonly random: () => number = () => randomInt(1, 0x7fffffff),
  ) {}

  get(id: number): FetchSession | undefined {
    return this.sessions.get(id);
  }

  remove(id: number): FetchSession | undefined {
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    this.sessions.delete(id);
    this.numPartitions -= s.cachedSize;
    return s;
  }

  /** Marks a session used now and re-counts its size. */
  touch(session: FetchSession, now: number): void {
    session.lastUsedMs = now;
    this.numPartitions += session.size - session.cachedSize;
    session.cachedSize = session.size;
  }

  stats(): FetchSessionCacheStats {
    return {
      sessions: this.sessions.size,
      partitions: this.numPartitions,
      created: this.created,
      evictions: this.evictions,
      incrementalFetches: this.incrementalFetches,
    };
  }

  /**
   * A new session over `partitions`, or null when the cache has no slot and no session this one
   * may evict (the fetch is then served without a session).
   */
  maybeCreate(now: number, privileged: boolean, usesTopicIds: boolean, partitions: FetchPartition[]): FetchSession | null {
    const slots = this.maxSlots();
    if (slots <= 0) return null;
    while (this.sessions.size >= slots) {
      if (!this.tryEvict(privileged, partitions.length, now)) return null;
    }
    let id = this.random();
    for (let i = 0; this.sessions.has(id) || id === INVALID_SESSION_ID; i++) {
      if (i > 100) return null;
      id = this.random();
    }
    const session = new FetchSession(id, privileged, usesTopicIds, now, partitions);
    this.sessions.set(id, session);
    this.touch(session, now);
    this.created++;
    return session;
  }

  private tryEvict(privileged: boolean, size: number, now: number): boolean {
    // A session nobody used for evictionMs goes first, whoever asks.
    let stalest: FetchSession | undefined;
    for (const s of this.sessions.values()) {
      if (stalest === undefined || s.lastUsedMs < stalest.lastUsedMs) stalest = s;
    }
    if (stalest === undefined) return false;
    if (now - stalest.lastUsedMs > this.evictionMs) {
      this.evict(stalest);
      return true;
    }
    // Otherwise the least valuable session the newcomer may evict, if it outranks it: a
    // follower may evict consumers' sessions and old ones, a consumer only old ones.
    let victim: FetchSession | undefined;
    for (const s of this.sessions.values()) {
      const old = now - s.creationMs > this.evictionMs;
      if (!(old || (privileged && !s.privileged))) continue;
      if (victim === undefined || compareRank(s.privileged, s.cachedSize, s.id, victim) < 0) victim = s;
    }
    // The newcomer's id is not known yet: Kafka ranks it as id 0, below any real one.
    if (victim === undefined || compareRank(privileged, size, 0, victim) < 0) return false;
    this.evict(victim);
    return true;
  }

  private evict(s: FetchSession): void {
    this.remove(s.id);
    this.evictions++;
  }
}

/**
 * What the authorization layer (api/authorize.ts) decided for one fetch request, handed to
 * newFetchContext through the request object: Kafka authorizes every partition of the fetch
 * context (the whole session for an incremental fetch) on every fetch, not only those the request
 * names. A refused partition is not read, stays in its session and is answered
 * TOPIC_AUTHORIZATION_FAILED by the layer.
 */
export interface FetchAuthorization {
  /** Who sends the fetch, as principalToString writes it. */
  readonly principal: string;
  /** Whether the principal may read this partition now. */
  mayRead(p: FetchPartition): boolean;
  /** Filled by newFetchContext: the partitions of the context it left out, in context order. */
  readonly refused: FetchPartition[];
}

const authorizations = new WeakMap<FetchRequest, FetchAuthorization>();

/** Called by the authorization layer before the handler sees `req`. */
export function setFetchAuthorization(req: FetchRequest, auth: FetchAuthorization): void {
  authorizations.set(req, auth);
}

/** The partitions `auth` lets the principal read; the others go to auth.refused. */
function authorizedPartitions(auth: FetchAuthorization | undefined, partitions: FetchPartition[]): FetchPartition[] {
  if (auth === undefined) return partitions;
  return partitions.filter((p) => {
    if (auth.mayRead(p)) return true;
    // As mustRespond does for an error: answered again once the principal may read it.
    p.sentHighWatermark = -1;
    auth.refused.push(p);
    return false;
  });
}

/**
 * Marks a session just opened by an authorized fetch as `principal`'s, and adds the partitions the
 * authorization layer refused (they belong to the session, as in Kafka, and are answered
 * TOPIC_AUTHORIZATION_FAILED until the principal may read them).
 */
export function claimFetchSession(cache: FetchSessionCache, id: number, principal: string, refused: FetchPartition[], now: number): void {
  const session = cache.get(id);
  // Claimed once, by the fetch that opened it (its id is answered only after this).
  if (session?.principal !== null) return;
  session.principal = principal;
  for (const p of refused) {
    const key = partitionKey(p);
    if (!session.partitions.has(key)) session.partitions.set(key, p);
  }
  cache.touch(session, now);
}

/** How one fetch request relates to the session cache. */
export type FetchContext =
  /** A full fetch: every partition of the request; `open` when it may open a session. */
  | { kind: 'full'; partitions: FetchPartition[]; open: boolean }
  /** An incremental fetch in `session` (already updated with the request). */
  | { kind: 'incremental'; session: FetchSession; partitions: FetchPartition[] }
  | { kind: 'error'; errorCode: number };

/** Kafka's FetchManager.newContext: which partitions to read, and the session, if any. */
export function newFetchContext(cache: FetchSessionCache, req: FetchRequest, apiVersion: number, now: number): FetchContext {
  const usesTopicIds = apiVersion >= 13;
  const auth = authorizations.get(req);
  // With an authorizer, a session is its opener's: to anyone else it does not exist.
  const mayUse = (s: FetchSession): boolean => auth === undefined || s.principal === auth.principal;
  if (req.sessionEpoch === INITIAL_EPOCH || req.sessionEpoch === FINAL_EPOCH) {
    // A full fetch naming a session closes it (Kafka serves the fetch whatever the id).
    if (req.sessionId !== INVALID_SESSION_ID) {
      const named = cache.get(req.sessionId);
      if (named !== undefined && mayUse(named)) cache.remove(req.sessionId);
    }
    return { kind: 'full', partitions: authorizedPartitions(auth, requestPartitions(req, usesTopicIds)), open: req.sessionEpoch === INITIAL_EPOCH };
  }
  const session = cache.get(req.sessionId);
  if (session === undefined || !mayUse(session)) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
  if (session.epoch !== req.sessionEpoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
  // A session opened with topic ids must go on with them, and one opened with names with names.
  if (session.usesTopicIds !== usesTopicIds) {
    cache.remove(session.id);
    return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR };
  }
  session.update(req);
  session.epoch = session.epoch === 0x7fffffff ? 1 : session.epoch + 1; // Kafka: INT32_MAX wraps to 1
  cache.touch(session, now);
  cache.incrementalFetches++;
  return { kind: 'incremental', session, partitions: authorizedPartitions(auth, [...session.partitions.values()]) };
}

/** Per-broker caches, keyed by the broker's services object (api/ sees no Broker). */
const caches = new WeakMap<object, FetchSessionCache>();

export function fetchSessionCacheFor(owner: object, maxSlots: () => number): FetchSessionCache {
  let cache = caches.get(owner);
  if (cache === undefined) {
    cache = new FetchSessionCache(maxSlots);
    caches.set(owner, cache);
  }
  return cache;
}

/** The cache of a broker's services object, if a fetch created it (tests, metrics). */
export function existingFetchSessionCache(owner: object): FetchSessionCache | undefined {
  return caches.get(owner);
}
