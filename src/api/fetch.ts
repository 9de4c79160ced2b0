// api/ room: Fetch — file slices of whole batches (the network layer sends them with sendfile),
// long polling through the purgatory, no fetch sessions (sessionId 0 = sessions declined).
// v18 (KIP-1166): a fetcher that reports a high-watermark below ours is answered without waiting,
// so it learns the new high-watermark even when no new data would complete the long poll.
import type { Log, Topic } from '../log/index.js';
import { ErrorCode } from '../protocol/index.js';
import type { FetchRequest, FetchResponse } from '../protocol/messages/fetch.js';
import type { FileSlice } from '../storage/engine.js';
import { toApiError } from './errors.js';
import type { RequestContext } from './types.js';

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
  logs: Log[];
  /** Some partition's fetcher-reported high-watermark (v18+) is behind ours. */
  fetcherBehind: boolean;
}

function resolveTopic(req: FetchRequest['topics'][number], ctx: RequestContext): Topic | undefined {
  const lm = ctx.broker.logManager;
  return ctx.apiVersion >= 13 ? lm.getTopicById(req.topicId) : lm.getTopic(req.topic);
}

/** One read over every requested partition, honouring maxBytes and partitionMaxBytes (KIP-74). */
function readAll(req: FetchRequest, ctx: RequestContext, maxBytes: number): FetchPass {
  const pass: FetchPass = { responses: [], bytes: 0, hasError: false, logs: [], fetcherBehind: false };
  const readCommitted = req.isolationLevel === READ_COMMITTED;
  for (const t of req.topics) {
    const topic = resolveTopic(t, ctx);
    const out: TopicOut = { topic: topic?.name ?? t.topic, topicId: topic?.topicId ?? t.topicId, partitions: [] };
    pass.responses.push(out);
    for (const p of t.partitions) {
      const log = topic?.logs[p.partition];
      if (!topic || !log) {
        pass.hasError = true;
        const code = !topic && ctx.apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        out.partitions.push(partitionError(p.partition, code));
        continue;
      }
      if (p.currentLeaderEpoch > 0) {
        // Our leader epoch is always 0: a client that saw a newer one has newer metadata than us.
        pass.hasError = true;
        out.partitions.push(partitionError(p.partition, ErrorCode.UNKNOWN_LEADER_EPOCH));
        continue;
      }
      if (!log.isAvailable()) {
        pass.hasError = true;
        out.partitions.push(partitionError(p.partition, ErrorCode.NOT_LEADER_OR_FOLLOWER));
        continue;
      }
      pass.logs.push(log);
      const highWatermark = log.highWatermark;
      // Before v18 the field is at its default (unsupported, above any offset); -1 is "not known".
      if (p.highWatermark < highWatermark) pass.fetcherBehind = true;
      let records: Buffer | FileSlice = EMPTY;
      try {
        const remaining = maxBytes - pass.bytes;
        // KIP-74: the first non-empty partition returns one batch even past the limits.
        if ((remaining > 0 || pass.bytes === 0) && p.fetchOffset < highWatermark) {
          const slice = log.read(p.fetchOffset, Math.max(1, Math.min(p.partitionMaxBytes, remaining)), highWatermark);
          if (slice.length > 0 && (pass.bytes === 0 || slice.length <= remaining)) {
            records = slice;
            pass.bytes += slice.length;
          }
        } else if (p.fetchOffset > highWatermark || p.fetchOffset < log.logStartOffset) {
          log.read(p.fetchOffset, 1); // throws OFFSET_OUT_OF_RANGE with context
        }
      } catch (err) {
        const info = toApiError(err);
        if (info.unexpected) ctx.broker.logger.error({ err, topic: topic.name, partition: p.partition, fetchOffset: p.fetchOffset }, 'fetch read failed');
        pass.hasError = true;
        out.partitions.push(partitionError(p.partition, info.unexpected ? ErrorCode.KAFKA_STORAGE_ERROR : info.code));
        continue;
      }
      out.partitions.push({
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark,
        lastStableOffset: highWatermark,
        logStartOffset: log.logStartOffset,
        abortedTransactions: readCommitted ? [] : null,
        preferredReadReplica: -1,
        records,
      });
    }
  }
  return pass;
}

export async function handleFetch(req: FetchRequest, ctx: RequestContext): Promise<FetchResponse> {
  const broker = ctx.broker;
  // Epoch 0 (INITIAL) and -1 (FINAL) mark a full fetch, which Kafka serves whatever sessionId says
  // (it only closes that session); kafka-go sends sessionId -1 / epoch -1. Only an incremental
  // fetch names a session we must know, and we never hand one out.
  if (req.sessionEpoch !== 0 && req.sessionEpoch !== -1) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
  }
  const maxBytes = Math.min(req.maxBytes, broker.config.getNumber('fetch.max.bytes'));
  let pass = readAll(req, ctx, maxBytes);
  if (!pass.hasError && !pass.fetcherBehind && pass.bytes < req.minBytes && req.maxWaitMs > 0 && pass.logs.length > 0) {
    await broker.fetchPurgatory.wait(pass.logs, req.maxWaitMs, () => {
      const next = readAll(req, ctx, maxBytes);
      return next.bytes >= req.minBytes || next.fetcherBehind;
    });
    pass = readAll(req, ctx, maxBytes);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: pass.responses };
}
