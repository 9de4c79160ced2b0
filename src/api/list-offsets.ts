// api/ room: ListOffsets (earliest -2, latest -1, max timestamp -3, by timestamp) and
// OffsetForLeaderEpoch. Every record carries leader epoch 0 on this single broker.
import { ErrorCode } from '../protocol/index.js';
import { toApiError } from './errors.js';
import type { RequestContext } from './types.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/messages/list-offsets.js';
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/offset-for-leader-epoch.js';

type ListOffsetsPartitionOut = ListOffsetsResponse['topics'][number]['partitions'][number];
type EpochEndOffset = OffsetForLeaderEpochResponse['topics'][number]['partitions'][number];

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
export const MAX_TIMESTAMP = -3;
export const EARLIEST_LOCAL_TIMESTAMP = -4;
export const LATEST_TIERED_TIMESTAMP = -5;

function partitionError(partitionIndex: number, errorCode: number): ListOffsetsPartitionOut {
  return { partitionIndex, errorCode, timestamp: -1, offset: -1, leaderEpoch: -1 };
}

export function handleListOffsets(req: ListOffsetsRequest, ctx: RequestContext): ListOffsetsResponse {
  const lm = ctx.broker.logManager;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => {
      const topic = lm.getTopic(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p): ListOffsetsPartitionOut => {
          const log = topic?.logs[p.partitionIndex];
          if (!log) return partitionError(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          if (p.currentLeaderEpoch > 0) return partitionError(p.partitionIndex, ErrorCode.UNKNOWN_LEADER_EPOCH);
          if (!log.isAvailable()) return partitionError(p.partitionIndex, ErrorCode.NOT_LEADER_OR_FOLLOWER);
          const found = (offset: number, timestamp = -1): ListOffsetsPartitionOut => ({
            partitionIndex: p.partitionIndex,
            errorCode: ErrorCode.NONE,
            timestamp,
            offset,
            leaderEpoch: 0,
          });
          try {
            switch (p.timestamp) {
              case LATEST_TIMESTAMP:
              case LATEST_TIERED_TIMESTAMP:
                // No transactions yet, so the last stable offset is the high watermark either way.
                return found(log.highWatermark);
              case EARLIEST_TIMESTAMP:
              case EARLIEST_LOCAL_TIMESTAMP:
                return found(log.logStartOffset);
              case MAX_TIMESTAMP: {
                const max = log.maxTimestampAndOffset();
                return max ? found(max.offset, max.timestamp) : { ...found(-1), leaderEpoch: -1 };
              }
              default: {
                if (p.timestamp < 0) return partitionError(p.partitionIndex, ErrorCode.INVALID_REQUEST);
                const hit = log.offsetForTimestamp(p.timestamp);
                // Kafka: no record at or after the timestamp → offset -1, timestamp -1.
                return hit ? found(hit.offset, hit.timestamp) : { ...found(-1), leaderEpoch: -1 };
              }
            }
          } catch (err) {
            const info = toApiError(err);
            if (info.unexpected) ctx.broker.logger.error({ err, topic: t.name, partition: p.partitionIndex }, 'ListOffsets failed');
            return partitionError(p.partitionIndex, info.unexpected ? ErrorCode.KAFKA_STORAGE_ERROR : info.code);
          }
        }),
      };
    }),
  };
}

/** Epoch 0 is the only epoch: it ends at the log end offset; later epochs are unknown. */
export function handleOffsetForLeaderEpoch(req: OffsetForLeaderEpochRequest, ctx: RequestContext): OffsetForLeaderEpochResponse {
  const lm = ctx.broker.logManager;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p): EpochEndOffset => {
        const log = lm.getTopic(t.topic)?.logs[p.partition];
        const error = (errorCode: number): EpochEndOffset => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1 });
        if (!log) return error(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        if (p.currentLeaderEpoch > 0) return error(ErrorCode.UNKNOWN_LEADER_EPOCH);
        if (!log.isAvailable()) return error(ErrorCode.NOT_LEADER_OR_FOLLOWER);
        if (p.leaderEpoch > 0) return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
        return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: 0, endOffset: log.logEndOffset };
      }),
    })),
  };
}
