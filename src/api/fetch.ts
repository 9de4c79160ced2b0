// api/ room: Fetch — file slices of whole batches below the high watermark (the network layer
// sends them with sendfile), long polling through the replica manager's fetch purgatory, no fetch
// sessions (sessionId 0 = sessions declined). A fetch from a replica (replicaId >= 0) reads up to
// the log end offset and reports the follower's position to the leader's Partition.
// v18 (KIP-1166): a fetcher that reports a high-watermark below ours is answered without waiting,
// so it learns the new high-watermark even when no new data would complete the long poll.
import type { TopicImage } from '../cluster/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { FetchRequest, FetchResponse } from '../protocol/messages/fetch.js';
import type { Partition } from '../replication/index.js';
import type { FileSlice } from '../storage/engine.js';
import { errorResponse } from './errors.js';
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

interface FetchPass {
  responses: TopicOut[];
  bytes: number;
  hasError: boolean;
  partitions: Partition[];
  /** Some partition's fetcher-reported high-watermark (v18+) is behind ours. */
  fetcherBehind: boolean;
}

function resolveTopic(req: FetchRequest['topics'][number], ctx: RequestContext): TopicImage | undefined {
  const metadata = ctx.services.metadata;
  return ctx.apiVersion >= 13 ? metadata.topicById(req.topicId) : metadata.topic(req.topic);
}

function replicaIdOf(req: FetchRequest, apiVersion: number): number {
  return apiVersion >= 15 ? req.replicaState.replicaId : req.replicaId;
}

/** One read over every requested partition, honouring maxBytes and partitionMaxBytes (KIP-74). */
function readAll(req: FetchRequest, ctx: RequestContext, maxBytes: number): FetchPass {
  const pass: FetchPass = { responses: [], bytes: 0, hasError: false, partitions: [], fetcherBehind: false };
  const readCommitted = req.isolationLevel === READ_COMMITTED;
  const replicaId = replicaIdOf(req, ctx.apiVersion);
  for (const t of req.topics) {
    const topic = resolveTopic(t, ctx);
    const out: TopicOut = { topic: topic?.name ?? t.topic, topicId: topic?.topicId ?? t.topicId, partitions: [] };
    pass.responses.push(out);
    for (const p of t.partitions) {
      // Kafka sets unknown topics and partitions aside (KafkaApis' "erroneous" partitions): the
      // others still long-poll, so a client asking for a deleted topic does not spin.
      if (!topic) {
        out.partitions.push(partitionError(p.partition, ctx.apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      if (p.partition < 0 || p.partition >= topic.partitions.length) {
        out.partitions.push(partitionError(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      let partition: Partition;
      let records: Buffer | FileSlice = EMPTY;
      try {
        partition = ctx.services.replicaManager.getPartitionOrError(topic.name, p.partition, p.currentLeaderEpoch);
        if (replicaId >= 0) partition.updateFollowerFetchState(replicaId, p.fetchOffset);
        pass.partitions.push(partition);
        const highWatermark = partition.highWatermark;
        // Consumers read committed data only; a follower replicates everything the leader has.
        const maxOffset = replicaId >= 0 ? partition.logEndOffset : readCommitted ? partition.lastStableOffset : highWatermark;
        // Before v18 the field is at its default (unsupported, above any offset); -1 is "not known".
        if (p.highWatermark < highWatermark) pass.fetcherBehind = true;
        const remaining = maxBytes - pass.bytes;
        // KIP-74: the first non-empty partition returns one batch even past the limits.
        if ((remaining > 0 || pass.bytes === 0) && p.fetchOffset < maxOffset) {
          const slice = partition.read(p.fetchOffset, Math.max(1, Math.min(p.partitionMaxBytes, remaining)), maxOffset);
          if (slice.length > 0 && (pass.bytes === 0 || slice.length <= remaining)) {
            records = slice;
            pass.bytes += slice.length;
          }
        } else if (p.fetchOffset > partition.logEndOffset || p.fetchOffset < partition.logStartOffset) {
          throw new KafkaError(
            ErrorCode.OFFSET_OUT_OF_RANGE,
            `Fetch offset ${p.fetchOffset} is out of range for ${topic.name}-${p.partition}: [${partition.logStartOffset}, ${partition.logEndOffset}]`,
          );
        }
      } catch (err) {
        const info = errorResponse(ctx, err, 'fetch', { topic: topic.name, partition: p.partition, fetchOffset: p.fetchOffset }, ErrorCode.KAFKA_STORAGE_ERROR);
        pass.hasError = true;
        out.partitions.push(partitionError(p.partition, info.code));
        continue;
      }
      out.partitions.push({
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: partition.highWatermark,
        lastStableOffset: partition.lastStableOffset,
        logStartOffset: partition.logStartOffset,
        // The aborted transactions that overlap what this answer can hold (up to the last stable offset).
        abortedTransactions: readCommitted && replicaId < 0 ? partition.abortedTransactions(p.fetchOffset, partition.lastStableOffset) : null,
        preferredReadReplica: -1,
        records,
      });
    }
  }
  return pass;
}

export async function handleFetch(req: FetchRequest, ctx: RequestContext): Promise<FetchResponse> {
  const { config, replicaManager } = ctx.services;
  // Epoch 0 (INITIAL) and -1 (FINAL) mark a full fetch, which Kafka serves whatever sessionId says
  // (it only closes that session); kafka-go sends sessionId -1 / epoch -1. Only an incremental
  // fetch names a session we must know, and we never hand one out.
  if (req.sessionEpoch !== 0 && req.sessionEpoch !== -1) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const maxBytes = Math.min(req.maxBytes, config.getNumber('fetch.max.bytes'));
  let pass = readAll(req, ctx, maxBytes);
  if (!pass.hasError && !pass.fetcherBehind && pass.bytes < req.minBytes && req.maxWaitMs > 0 && pass.partitions.length > 0) {
    await replicaManager.fetchPurgatory.wait(pass.partitions, req.maxWaitMs, () => {
      const next = readAll(req, ctx, maxBytes);
      return next.bytes >= req.minBytes || next.fetcherBehind || next.hasError;
    });
    pass = readAll(req, ctx, maxBytes);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: pass.responses };
}

export const fetchApi = defineApi({ apiKey: ApiKey.Fetch, handler: handleFetch });
