// api/ room: ListOffsets (earliest -2, latest -1, max timestamp -3, by timestamp) and
// OffsetForLeaderEpoch, answered from the partition leader. The leader epoch returned with an
// offset is the epoch of that record (from the leader epoch cache), not the current one.
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/messages/list-offsets.js';
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/offset-for-leader-epoch.js';
import type { Partition } from '../replication/index.js';
import { errorResponse } from './errors.js';
import { defineApi, type RequestContext } from './types.js';

type ListOffsetsPartitionOut = ListOffsetsResponse['topics'][number]['partitions'][number];
type EpochEndOffset = OffsetForLeaderEpochResponse['topics'][number]['partitions'][number];

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
export const MAX_TIMESTAMP = -3;
export const EARLIEST_LOCAL_TIMESTAMP = -4;
export const LATEST_TIERED_TIMESTAMP = -5;
/** v11+ (KIP-1023): the earliest offset not yet uploaded to remote storage. */
export const EARLIEST_PENDING_UPLOAD_TIMESTAMP = -6;
const READ_COMMITTED = 1;

function partitionError(partitionIndex: number, errorCode: number): ListOffsetsPartitionOut {
  return { partitionIndex, errorCode, timestamp: -1, offset: -1, leaderEpoch: -1 };
}

/**
 * One partition's answer. A lookup by timestamp reads (and decompresses) batches, so it runs
 * off the event loop (Partition.offsetForTimestampAsync): other clients' requests keep being
 * answered while a large compressed log is searched.
 */
async function lookup(partition: Partition, timestamp: number, isolationLevel: number, partitionIndex: number, version: number): Promise<ListOffsetsPartitionOut> {
  const found = (offset: number, ts = -1, leaderEpoch = partition.epochForOffset(offset)): ListOffsetsPartitionOut => ({
    partitionIndex,
    errorCode: ErrorCode.NONE,
    timestamp: ts,
    offset,
    leaderEpoch,
  });
  const notFound: ListOffsetsPartitionOut = { partitionIndex, errorCode: ErrorCode.NONE, timestamp: -1, offset: -1, leaderEpoch: -1 };
  switch (timestamp) {
    case LATEST_TIMESTAMP:
    case LATEST_TIERED_TIMESTAMP:
      // Kafka answers the last fetchable offset with the current leader epoch.
      return found(isolationLevel === READ_COMMITTED ? partition.lastStableOffset : partition.highWatermark, -1, partition.leaderEpoch);
    case EARLIEST_TIMESTAMP:
    case EARLIEST_LOCAL_TIMESTAMP:
      return found(partition.logStartOffset);
    case EARLIEST_PENDING_UPLOAD_TIMESTAMP:
      // Spool has no remote storage: like Kafka for a topic without it, no offset (-1, -1, -1).
      // Before v11 the value means nothing and gets the negative-timestamp answer below.
      if (version >= 11) return notFound;
      return partitionError(partitionIndex, ErrorCode.INVALID_REQUEST);
    case MAX_TIMESTAMP: {
      const max = partition.maxTimestampAndOffset();
      return max ? found(max.offset, max.timestamp) : notFound;
    }
    default: {
      if (timestamp < 0) return partitionError(partitionIndex, ErrorCode.INVALID_REQUEST);
      const hit = await partition.offsetForTimestampAsync(timestamp);
      // Kafka: no record at or after the timestamp → offset -1, timestamp -1.
      return hit ? found(hit.offset, hit.timestamp) : notFound;
    }
  }
}

export async function handleListOffsets(req: ListOffsetsRequest, ctx: RequestContext): Promise<ListOffsetsResponse> {
  const { replicaManager } = ctx.services;
  // Partitions one after another: each lookup by timestamp may be a long scan, and running them
  // all at once would only compete for the same pool threads.
  const topics: ListOffsetsResponse['topics'] = [];
  for (const t of req.topics) {
    const partitions: ListOffsetsPartitionOut[] = [];
    for (const p of t.partitions) {
      try {
        const partition = replicaManager.getPartitionOrError(t.name, p.partitionIndex, p.currentLeaderEpoch);
        partitions.push(await lookup(partition, p.timestamp, req.isolationLevel, p.partitionIndex, ctx.apiVersion));
      } catch (err) {
        const info = errorResponse(ctx, err, 'ListOffsets', { topic: t.name, partition: p.partitionIndex }, ErrorCode.KAFKA_STORAGE_ERROR);
        partitions.push(partitionError(p.partitionIndex, info.code));
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
}

export function handleOffsetForLeaderEpoch(req: OffsetForLeaderEpochRequest, ctx: RequestContext): OffsetForLeaderEpochResponse {
  const { replicaManager } = ctx.services;
  // A follower (replicaId >= 0) may ask any replica; consumers (-1) need the leader.
  const requireLeader = req.replicaId < 0;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p): EpochEndOffset => {
        const error = (errorCode: number): EpochEndOffset => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1 });
        try {
          const partition = replicaManager.getPartitionOrError(t.topic, p.partition, p.currentLeaderEpoch, requireLeader);
          const r = partition.lastOffsetForLeaderEpoch(p.currentLeaderEpoch, p.leaderEpoch, requireLeader);
          return { errorCode: r.errorCode, partition: p.partition, leaderEpoch: r.leaderEpoch, endOffset: r.endOffset };
        } catch (err) {
          return error(errorResponse(ctx, err, 'OffsetForLeaderEpoch', { topic: t.topic, partition: p.partition }, ErrorCode.KAFKA_STORAGE_ERROR).code);
        }
      }),
    })),
  };
}

export const listOffsetsApi = defineApi({ apiKey: ApiKey.ListOffsets, handler: handleListOffsets });
export const offsetForLeaderEpochApi = defineApi({ apiKey: ApiKey.OffsetForLeaderEpoch, handler: handleOffsetForLeaderEpoch });
