// api/ room: Fetch — file slices of whole batches below the high watermark (the network layer
// sends them with sendfile), long polling through the replica manager's fetch purgatory, and
// incremental fetch sessions (KIP-227, fetch-sessions.ts): a full fetch with epoch 0 opens a
// session, later fetches carry only changed partitions and are answered only for partitions with
// something new. A fetch from a replica (replicaId >= 0) reads up to the log end offset and
// reports the follower's position to the leader's Partition.
// v18 (KIP-1166): a fetcher that reports a high-watermark below ours is answered without waiting,
// so it learns the new high-watermark even when no new data would complete the long poll.
import type { TopicImage } from '../cluster/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { FetchRequest, FetchResponse } from '../protocol/messages/fetch.js';
import type { Partition } from '../replication/index.js';
import type { FileSlice } from '../storage/engine.js';
import { errorResponse } from './errors.js';
import {
  INVALID_SESSION_ID,
  fetchSessionCacheFor,
  mustRespond,
  newFetchContext,
  partitionKey,
  type FetchPartition,
  type FetchSessionCache,
  type PartitionAnswer,
} from './fetch-sessions.js';
import { defineApi, type RequestContext } from './types.js';

type TopicOut = FetchResponse['responses'][number];
type PartitionOut = TopicOut['partitions'][number];

const EMPTY = Buffer.alloc(0);
const READ_COMMITTED = 1;

function partitionError(partitionIndex: number, errorCode: number): PartitionOut {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

/** One partition's answer, with what it was asked and the topic it resolved to. */
interface Answer {
  asked: FetchPartition;
  topic: TopicImage | undefined;
  out: PartitionOut;
  recordBytes: number;
}

interface FetchPass {
  answers: Answer[];
  bytes: number;
  hasError: boolean;
  partitions: Partition[];
  /** Some partition's fetcher-reported high-watermark (v18+) is behind ours. */
  fetcherBehind: boolean;
}

function replicaIdOf(req: FetchRequest, apiVersion: number): number {
  return apiVersion >= 15 ? req.replicaState.replicaId : req.replicaId;
}

function releaseRecords(records: Buffer | FileSlice | null): void {
  if (records !== null && !Buffer.isBuffer(records)) records.release?.();
}

/** Ends the fd leases of a pass's slices (FileSlice, storage/engine.ts): for a pass not sent. */
function releasePass(pass: FetchPass): void {
  for (const a of pass.answers) releaseRecords(a.out.records);
}

/** One read over the partitions asked for, honouring maxBytes and partitionMaxBytes (KIP-74). */
function readAll(req: FetchRequest, asked: FetchPartition[], ctx: RequestContext, maxBytes: number): FetchPass {
  const pass: FetchPass = { answers: [], bytes: 0, hasError: false, partitions: [], fetcherBehind: false };
  try {
    readInto(pass, req, asked, ctx, maxBytes);
  } catch (err) {
    releasePass(pass);
    throw err;
  }
  return pass;
}

function readInto(pass: FetchPass, req: FetchRequest, asked: FetchPartition[], ctx: RequestContext, maxBytes: number): void {
  const readCommitted = req.isolationLevel === READ_COMMITTED;
  const replicaId = replicaIdOf(req, ctx.apiVersion);
  const byIds = ctx.apiVersion >= 13;
  const metadata = ctx.services.metadata;
  let lastKey: string | undefined;
  let topic: TopicImage | undefined;
  for (const p of asked) {
    const key = byIds ? p.topicId : p.topic;
    if (key !== lastKey) {
      topic = byIds ? metadata.topicById(key) : metadata.topic(key);
      lastKey = key;
    }
    // Kafka sets unknown topics and partitions aside (KafkaApis' "erroneous" partitions): the
    // others still long-poll, so a client asking for a deleted topic does not spin.
    if (!topic) {
      pass.answers.push({ asked: p, topic, out: partitionError(p.partition, byIds ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), recordBytes: 0 });
      continue;
    }
    if (p.partition < 0 || p.partition >= topic.partitions.length) {
      pass.answers.push({ asked: p, topic, out: partitionError(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), recordBytes: 0 });
      continue;
    }
    let partition: Partition;
    let records: Buffer | FileSlice = EMPTY;
    let abortedTransactions: PartitionOut['abortedTransactions'] = null;
    try {
      partition = ctx.services.replicaManager.getPartitionOrError(topic.name, p.partition, p.currentLeaderEpoch);
      if (replicaId >= 0) partition.updateFollowerFetchState(replicaId, p.fetchOffset);
      pass.partitions.push(partition);
      const highWatermark = partition.highWatermark;
      // Consumers read committed data only; a follower replicates everything the leader has.
      const maxOffset = replicaId >= 0 ? partition.logEndOffset : readCommitted ? partition.lastStableOffset : highWatermark;
      // Before v18 the field is at its default (unsupported, above any offset); -1 is "not known".
      if (p.fetcherHighWatermark < highWatermark) pass.fetcherBehind = true;
      const remaining = maxBytes - pass.bytes;
      // KIP-74: the first non-empty partition returns one batch even past the limits.
      if ((remaining > 0 || pass.bytes === 0) && p.fetchOffset < maxOffset) {
        const slice = partition.read(p.fetchOffset, Math.max(1, Math.min(p.partitionMaxBytes, remaining)), maxOffset);
        if (slice.length > 0 && (pass.bytes === 0 || slice.length <= remaining)) {
          records = slice;
          pass.bytes += slice.length;
        } else {
          // Not sent: its fd lease ends now (FileSlice, storage/engine.ts).
          slice.release?.();
        }
      } else if (p.fetchOffset > partition.logEndOffset || p.fetchOffset < partition.logStartOffset) {
        throw new KafkaError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `Fetch offset ${p.fetchOffset} is out of range for ${topic.name}-${p.partition}: [${partition.logStartOffset}, ${partition.logEndOffset}]`,
        );
      }
      // The aborted transactions that overlap what this answer can hold (up to the last stable offset).
      if (readCommitted && replicaId < 0) abortedTransactions = partition.abortedTransactions(p.fetchOffset, partition.lastStableOffset);
    } catch (err) {
      // Not sent: a slice already taken gives its lease back.
      releaseRecords(records);
      pass.bytes -= records.length;
      const info = errorResponse(ctx, err, 'fetch', { topic: topic.name, partition: p.partition, fetchOffset: p.fetchOffset }, ErrorCode.KAFKA_STORAGE_ERROR);
      pass.hasError = true;
      pass.answers.push({ asked: p, topic, out: partitionError(p.partition, info.code), recordBytes: 0 });
      continue;
    }
    pass.answers.push({
      asked: p,
      topic,
      recordBytes: records.length,
      out: {
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: partition.highWatermark,
        lastStableOffset: partition.lastStableOffset,
        logStartOffset: partition.logStartOffset,
        abortedTransactions,
        preferredReadReplica: -1,
        records,
      },
    });
  }
}

/** Groups answers into topics, consecutive partitions of one topic together (request or session order). */
function topicsOf(answers: Answer[]): TopicOut[] {
  const topics: TopicOut[] = [];
  let current: TopicOut | undefined;
  let currentKey: string | undefined;
  for (const a of answers) {
    const key = `${a.asked.topic}\u0000${a.asked.topicId}`;
    if (current === undefined || key !== currentKey) {
      current = { topic: a.topic?.name ?? a.asked.topic, topicId: a.topic?.topicId ?? a.asked.topicId, partitions: [] };
      currentKey = key;
      topics.push(current);
    }
    current.partitions.push(a.out);
  }
  return topics;
}

function answerOf(a: Answer): PartitionAnswer {
  return { errorCode: a.out.errorCode, highWatermark: a.out.highWatermark, logStartOffset: a.out.logStartOffset ?? -1, lastStableOffset: a.out.lastStableOffset ?? -1, recordBytes: a.recordBytes };
}

function sessionCache(ctx: RequestContext): FetchSessionCache {
  const config = ctx.services.config;
  return fetchSessionCacheFor(ctx.services, () => config.getNumber('max.incremental.fetch.session.cache.slots'));
}

export async function handleFetch(req: FetchRequest, ctx: RequestContext): Promise<FetchResponse> {
  const { config, replicaManager } = ctx.services;
  const cache = sessionCache(ctx);
  // Fetch sessions start at v7; before, the request reads as sessionId 0, epoch -1 (full, sessionless).
  const fetchContext = newFetchContext(cache, req, ctx.apiVersion, Date.now());
  if (fetchContext.kind === 'error') {
    return { throttleTimeMs: 0, errorCode: fetchContext.errorCode, sessionId: INVALID_SESSION_ID, responses: [] };
  }
  const asked = fetchContext.partitions;
  const maxBytes = Math.min(req.maxBytes, config.getNumber('fetch.max.bytes'));
  let pass = readAll(req, asked, ctx, maxBytes);
  if (!pass.hasError && !pass.fetcherBehind && pass.bytes < req.minBytes && req.maxWaitMs > 0 && pass.partitions.length > 0) {
    // Every pass not sent gives its slices' fd leases back (FileSlice, storage/engine.ts).
    releasePass(pass);
    await replicaManager.fetchPurgatory.wait(pass.partitions, req.maxWaitMs, () => {
      const next = readAll(req, asked, ctx, maxBytes);
      releasePass(next);
      return next.bytes >= req.minBytes || next.fetcherBehind || next.hasError;
    });
    pass = readAll(req, asked, ctx, maxBytes);
  }
  if (fetchContext.kind === 'incremental') {
    const session = fetchContext.session;
    // A session closed or evicted meanwhile answers as Kafka does for an unknown one.
    if (cache.get(session.id) !== session) {
      releasePass(pass);
      return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: INVALID_SESSION_ID, responses: [] };
    }
    const shown: Answer[] = [];
    for (const a of pass.answers) {
      if (!mustRespond(a.asked, answerOf(a), true)) {
        releaseRecords(a.out.records);
        continue;
      }
      shown.push(a);
      // Kafka's round robin: a partition that returned data goes to the back of the session.
      if (a.recordBytes > 0) {
        const key = partitionKey(a.asked);
        if (session.partitions.get(key) === a.asked) {
          session.partitions.delete(key);
          session.partitions.set(key, a.asked);
        }
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: session.id, responses: topicsOf(shown) };
  }
  let sessionId = INVALID_SESSION_ID;
  if (fetchContext.open) {
    const session = cache.maybeCreate(Date.now(), replicaIdOf(req, ctx.apiVersion) >= 0, ctx.apiVersion >= 13, asked);
    if (session !== null) {
      for (const a of pass.answers) mustRespond(a.asked, answerOf(a), true);
      sessionId = session.id;
    }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses: topicsOf(pass.answers) };
}

export const fetchApi = defineApi({ apiKey: ApiKey.Fetch, handler: handleFetch });
