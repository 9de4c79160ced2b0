// api/ room: Produce — batches go to the partition leader as raw bytes (replication/Partition
// checks them as Kafka's LogValidator and detects idempotent retries); acks=all waits in the
// produce purgatory until the ISR has the batch. Transactional batches are accepted; their markers come from the transaction coordinator.
import { INTERNAL_TOPICS } from '../cluster/index.js';
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/produce.js';
import { errorResponse } from './errors.js';
import { defineApi, type RequestContext } from './types.js';

type PartitionOut = ProduceResponse['responses'][number]['partitionResponses'][number];

function partitionError(index: number, errorCode: number, errorMessage: string | null = null): PartitionOut {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage };
}

export async function handleProduce(req: ProduceRequest, ctx: RequestContext): Promise<ProduceResponse> {
  const { metadata, replicaManager } = ctx.services;
  const responses: ProduceResponse['responses'] = [];
  const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
  const replications: Array<Promise<void>> = [];
  const now = Date.now();
  const byId = ctx.apiVersion >= 13;
  for (const topicData of req.topicData) {
    const partitionResponses: PartitionOut[] = [];
    // v13+ (KIP-516) name topics by id, and the answer echoes the id it was asked about.
    const topic = byId ? metadata.topicById(topicData.topicId) : metadata.topic(topicData.name);
    responses.push({ name: topic?.name ?? topicData.name, topicId: topicData.topicId, partitionResponses });
    for (const p of topicData.partitionData) {
      if (!validAcks) {
        partitionResponses.push(partitionError(p.index, ErrorCode.INVALID_REQUIRED_ACKS));
        continue;
      }
      if (!topic) {
        partitionResponses.push(partitionError(p.index, byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      if (INTERNAL_TOPICS.has(topic.name)) {
        partitionResponses.push(partitionError(p.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topic.name}`));
        continue;
      }
      if (p.records === null || p.records.length === 0) {
        partitionResponses.push(partitionError(p.index, ErrorCode.INVALID_RECORD, 'Produce request without records'));
        continue;
      }
      try {
        // Appending synchronously (no await unless the log is being reopened for a config change)
        // keeps pipelined produce requests to one partition in request order.
        const held = replicaManager.getPartition(topic.name, p.index);
        if (held && !held.log.isAvailable()) await held.log.ready();
        const partition = replicaManager.getPartitionOrError(topic.name, p.index);
        const appended = replicaManager.appendToLeader(partition, p.records, req.acks, 'client', now);
        const out: PartitionOut = {
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: appended.kind === 'appended' ? appended.result.firstOffset : appended.batch.firstOffset,
          logAppendTimeMs: appended.kind === 'appended' ? appended.result.logAppendTime : -1,
          logStartOffset: partition.logStartOffset,
          recordErrors: [],
          errorMessage: null,
        };
        partitionResponses.push(out);
        if (req.acks === 1 && partition.log.config.flushMessages <= 1) {
          // flush.messages=1: acknowledged only once fsynced, as Kafka flushes in the append.
          replications.push(
            partition.log.flush().catch((err: unknown) => {
              const info = errorResponse(ctx, err, 'produce flush', { topic: topic.name, partition: p.index }, ErrorCode.KAFKA_STORAGE_ERROR);
              Object.assign(out, partitionError(p.index, info.code, info.message));
            }),
          );
        }
        if (req.acks === -1) {
          const lastOffset = appended.kind === 'appended' ? appended.result.lastOffset : appended.batch.lastOffset;
          replications.push(
            replicaManager.awaitReplication(partition, lastOffset, req.timeoutMs).catch((err: unknown) => {
              const info = errorResponse(ctx, err, 'produce replication', { topic: topic.name, partition: p.index }, ErrorCode.KAFKA_STORAGE_ERROR);
              Object.assign(out, partitionError(p.index, info.code, info.message));
            }),
          );
        }
      } catch (err) {
        const info = errorResponse(ctx, err, 'produce', { topic: topic.name, partition: p.index }, ErrorCode.KAFKA_STORAGE_ERROR);
        partitionResponses.push(partitionError(p.index, info.code, info.message));
      }
    }
  }
  if (replications.length > 0) await Promise.all(replications);
  return { responses, throttleTimeMs: 0 };
}

export const produceApi = defineApi({
  apiKey: ApiKey.Produce,
  handler: handleProduce,
  // acks=0: no response; an error closes the connection so the producer refreshes metadata (as Kafka).
  responseMode: (req: ProduceRequest, res: ProduceResponse) => {
    if (req.acks !== 0) return 'send';
    return res.responses.some((t) => t.partitionResponses.some((p) => p.errorCode !== ErrorCode.NONE)) ? 'close' : 'none';
  },
});
