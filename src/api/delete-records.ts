// api/ room: DeleteRecords (key 21) — raises each partition's log start offset on its leader
// (offset -1: up to the high watermark), deleting whole segments below it; consumers then get
// OFFSET_OUT_OF_RANGE below the new start, and followers follow the leader's log start offset
// through their fetches. Used by kafka-delete-records and by Kafka Streams to purge repartition
// topics. The answer's low watermark is the leader's new log start offset (Kafka waits until
// every replica has reached it; see README).
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/messages/delete-records.js';
import { errorResponse } from './errors.js';
import { defineApi, type RequestContext } from './types.js';

export function handleDeleteRecords(req: DeleteRecordsRequest, ctx: RequestContext): DeleteRecordsResponse {
  const { replicaManager } = ctx.services;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        try {
          const partition = replicaManager.getPartitionOrError(t.name, p.partitionIndex);
          const lowWatermark = partition.deleteRecordsOnLeader(p.offset);
          ctx.services.logger.info({ topic: t.name, partition: p.partitionIndex, requested: p.offset, lowWatermark, clientId: ctx.clientId }, 'records deleted');
          return { partitionIndex: p.partitionIndex, lowWatermark, errorCode: ErrorCode.NONE };
        } catch (err) {
          const info = errorResponse(ctx, err, 'DeleteRecords', { topic: t.name, partition: p.partitionIndex, offset: p.offset });
          return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: info.code };
        }
      }),
    })),
  };
}

export const deleteRecordsApi = defineApi({ apiKey: ApiKey.DeleteRecords, handler: handleDeleteRecords });
