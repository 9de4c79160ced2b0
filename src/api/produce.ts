// api/ room: Produce — batches go to the engine as raw bytes; per-partition errors carry Kafka's
// codes. Transactions are not supported yet; idempotent retries of the last 5 batches are
// acknowledged without being written twice, but sequence gaps are not rejected.
import { INTERNAL_TOPICS, type Log, type ProducerBatchMetadata } from '../log/index.js';
import { ErrorCode } from '../protocol/index.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/produce.js';
import { toApiError } from './errors.js';
import type { RequestContext } from './types.js';

type PartitionOut = ProduceResponse['responses'][number]['partitionResponses'][number];

const BATCH_HEADER_BYTES = 61;
const ATTR_TIMESTAMP_TYPE = 0x08;
const ATTR_TRANSACTIONAL = 0x10;
const ATTR_CONTROL = 0x20;
/** One broker: the in-sync replica set is this node alone. */
const ISR_SIZE = 1;

function partitionError(index: number, errorCode: number, errorMessage: string | null = null): PartitionOut {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage };
}

/**
 * Checks batch headers the engine does not judge (it validates structure and CRC): transactional
 * and control batches, and CreateTime timestamps outside message.timestamp.before/after.max.ms.
 */
function precheckBatches(records: Buffer, log: Log, now: number): { code: number; message: string } | null {
  let pos = 0;
  // Bounded: every iteration advances by at least the batch header size, else stops.
  while (pos + BATCH_HEADER_BYTES <= records.length) {
    const size = records.readInt32BE(pos + 8) + 12;
    if (size < BATCH_HEADER_BYTES) return null; // the engine reports CORRUPT_MESSAGE with context
    const attributes = records.readInt16BE(pos + 21);
    if (attributes & ATTR_CONTROL) return { code: ErrorCode.INVALID_RECORD, message: 'Clients may not write control batches' };
    if (attributes & ATTR_TRANSACTIONAL) {
      return { code: ErrorCode.INVALID_TXN_STATE, message: 'Transactional produce is not supported by this broker yet' };
    }
    if (log.config.messageTimestampType === 'CreateTime' && (attributes & ATTR_TIMESTAMP_TYPE) === 0) {
      const baseTimestamp = Number(records.readBigInt64BE(pos + 27));
      const maxTimestamp = Number(records.readBigInt64BE(pos + 35));
      const before = log.config.timestampBeforeMaxMs;
      const after = log.config.timestampAfterMaxMs;
      for (const ts of [baseTimestamp, maxTimestamp]) {
        if (ts >= 0 && (now - ts > before || ts - now > after)) {
          return {
            code: ErrorCode.INVALID_TIMESTAMP,
            message: `Timestamp ${ts} of a batch at offset position ${pos} is out of range (message.timestamp.before.max.ms=${before}, message.timestamp.after.max.ms=${after})`,
          };
        }
      }
    }
    pos += size;
  }
  return null;
}

/** A single idempotent batch that this partition already holds (a producer retry), else null. */
function findDuplicateBatch(records: Buffer, log: Log): ProducerBatchMetadata | null {
  if (records.length < BATCH_HEADER_BYTES || records.readInt32BE(8) + 12 !== records.length) return null;
  const producerId = Number(records.readBigInt64BE(43));
  const baseSequence = records.readInt32BE(53);
  if (producerId < 0 || baseSequence < 0) return null;
  const lastOffsetDelta = records.readInt32BE(23);
  return log.findDuplicate(producerId, records.readInt16BE(51), baseSequence, baseSequence + lastOffsetDelta);
}

export async function handleProduce(req: ProduceRequest, ctx: RequestContext): Promise<ProduceResponse> {
  const broker = ctx.broker;
  const responses: ProduceResponse['responses'] = [];
  const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
  const flushes: Array<Promise<void>> = [];
  const now = Date.now();
  const byId = ctx.apiVersion >= 13;
  for (const topicData of req.topicData) {
    const partitionResponses: PartitionOut[] = [];
    // v13+ (KIP-516) name topics by id, and the answer echoes the id it was asked about.
    const topic = byId ? broker.logManager.getTopicById(topicData.topicId) : broker.logManager.getTopic(topicData.name);
    responses.push({ name: topic?.name ?? topicData.name, topicId: topicData.topicId, partitionResponses });
    for (const p of topicData.partitionData) {
      if (!validAcks) {
        partitionResponses.push(partitionError(p.index, ErrorCode.INVALID_REQUIRED_ACKS));
        continue;
      }
      if (req.transactionalId !== null) {
        partitionResponses.push(partitionError(p.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'Transactions are not supported by this broker yet'));
        continue;
      }
      if (!topic && byId) {
        partitionResponses.push(partitionError(p.index, ErrorCode.UNKNOWN_TOPIC_ID));
        continue;
      }
      const log = topic?.logs[p.index];
      if (!topic || !log) {
        partitionResponses.push(partitionError(p.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
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
      // Appending synchronously (no await unless the log is being reopened) keeps pipelined
      // produce requests to one partition in request order.
      if (!log.isAvailable()) await log.ready();
      if (req.acks === -1 && log.config.minInsyncReplicas > ISR_SIZE) {
        partitionResponses.push(
          partitionError(p.index, ErrorCode.NOT_ENOUGH_REPLICAS, `The size of the current ISR [${broker.nodeId}] is insufficient to satisfy the min.isr requirement of ${log.config.minInsyncReplicas}`),
        );
        continue;
      }
      const problem = precheckBatches(p.records, log, now);
      if (problem) {
        partitionResponses.push(partitionError(p.index, problem.code, problem.message));
        continue;
      }
      const duplicate = findDuplicateBatch(p.records, log);
      if (duplicate) {
        partitionResponses.push({
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: duplicate.firstOffset,
          logAppendTimeMs: -1,
          logStartOffset: log.logStartOffset,
          recordErrors: [],
          errorMessage: null,
        });
        continue;
      }
      try {
        const result = log.append(p.records);
        partitionResponses.push({
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: result.firstOffset,
          logAppendTimeMs: result.logAppendTime,
          logStartOffset: log.logStartOffset,
          recordErrors: [],
          errorMessage: null,
        });
        // acks=all on one broker: the ISR is this broker; fsync only when the topic's flush policy asks.
        if (req.acks === -1 && log.config.flushMessages <= 1) flushes.push(log.flush());
      } catch (err) {
        const info = toApiError(err);
        if (info.unexpected) broker.logger.error({ err, topic: topic.name, partition: p.index }, 'append failed');
        else broker.logger.debug({ topic: topic.name, partition: p.index, code: info.code, reason: info.message }, 'produce rejected');
        partitionResponses.push(partitionError(p.index, info.unexpected ? ErrorCode.KAFKA_STORAGE_ERROR : info.code, info.message));
      }
    }
  }
  if (flushes.length > 0) await Promise.all(flushes);
  return { responses, throttleTimeMs: 0 };
}
