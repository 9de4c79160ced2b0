// api/ room: Produce — batches go to the partition leader as raw bytes (replication/Partition
// checks them as Kafka's LogValidator and detects idempotent retries); acks=all waits in the
// produce purgatory until the ISR has the batch. Transactional batches are accepted; their markers come from the transaction coordinator.
// Produce v12+ is transactions V2 (KIP-890 part 2): a transactional batch whose producer has no open
// transaction on the partition first adds the partition to its transaction at the coordinator.
// While that runs, later requests touching the same partitions wait behind it, so appends stay in
// request order.
import { INTERNAL_TOPICS } from '../cluster/index.js';
import type { TxnTopicPartitions } from '../coordinator/txn/index.js';
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/produce.js';
import { batchHeaders } from '../records/batch-layout.js';
import { errorResponse } from './errors.js';
import type { ApiServices } from './services.js';
import { addPartitionsImplicitly, implicitAddErrorForProducer } from './txn-markers.js';
import { defineApi, type RequestContext } from './types.js';

/** Produce v12 is the first version of transactions V2 (Kafka's ADD_PARTITION transaction support). */
const FIRST_TXN_V2_PRODUCE_VERSION = 12;

/** Per services: `topic:partition` → the implicit add a request on it is waiting for. */
const pendingAdds = new WeakMap<ApiServices, Map<string, Promise<void>>>();

interface ImplicitAdd {
  producerId: number;
  producerEpoch: number;
  partitions: Array<{ topic: string; partition: number }>;
}

/**
 * The partitions of a v12+ request whose transactional batch opens the producer's transaction
 * there (Kafka skips partitions that already hold the producer's open transaction at that epoch).
 */
function partitionsToAdd(req: ProduceRequest, ctx: RequestContext, byId: boolean): ImplicitAdd | null {
  if (ctx.apiVersion < FIRST_TXN_V2_PRODUCE_VERSION || req.transactionalId === null) return null;
  const { metadata, replicaManager } = ctx.services;
  let out: ImplicitAdd | null = null;
  for (const topicData of req.topicData) {
    const topic = byId ? metadata.topicById(topicData.topicId) : metadata.topic(topicData.name);
    if (topic === undefined || INTERNAL_TOPICS.has(topic.name)) continue;
    for (const p of topicData.partitionData) {
      if (p.records === null || p.records.length === 0) continue;
      const h = batchHeaders(p.records).at(0);
      if (h === undefined || !h.isTransactional || h.producerId < 0) continue;
      const entry = replicaManager.getPartition(topic.name, p.index)?.producerState.lastEntry(h.producerId);
      if (entry?.producerEpoch === h.producerEpoch && entry.currentTxnFirstOffset >= 0) continue;
      out ??= { producerId: h.producerId, producerEpoch: h.producerEpoch, partitions: [] };
      out.partitions.push({ topic: topic.name, partition: p.index });
    }
  }
  return out;
}

/** Waits for earlier implicit adds on this request's partitions, then makes its own; per partition: the error to answer. */
async function addImplicitly(req: ProduceRequest, ctx: RequestContext, byId: boolean, prior: Array<Promise<void>>): Promise<Map<string, number>> {
  await Promise.all(prior);
  const errors = new Map<string, number>();
  const add = partitionsToAdd(req, ctx, byId);
  if (add === null || req.transactionalId === null) return errors;
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of add.partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
  const partitions: TxnTopicPartitions[] = [...byTopic].map(([topic, ids]) => ({ topic, partitions: ids }));
  const code = implicitAddErrorForProducer(await addPartitionsImplicitly(ctx.services, req.transactionalId, add.producerId, add.producerEpoch, partitions));
  if (code !== ErrorCode.NONE) for (const { topic, partition } of add.partitions) errors.set(`${topic}:${partition}`, code);
  return errors;
}

type PartitionOut = ProduceResponse['responses'][number]['partitionResponses'][number];

function partitionError(index: number, errorCode: number, errorMessage: string | null = null): PartitionOut {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage };
}

export async function handleProduce(req: ProduceRequest, ctx: RequestContext): Promise<ProduceResponse> {
  const { metadata, replicaManager } = ctx.services;
  const responses: ProduceResponse['responses'] = [];
  const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
  const replications: Array<Promise<void>> = [];
  const byId = ctx.apiVersion >= 13;
  // Transactions V2: wait for this request's implicit adds (and earlier ones on its partitions);
  // later requests on these partitions wait until this one has appended.
  let addErrors: Map<string, number> | null = null;
  let release = (): void => undefined;
  let gated = false;
  const pending = pendingAdds.get(ctx.services) ?? new Map<string, Promise<void>>();
  pendingAdds.set(ctx.services, pending);
  // The common case (no implicit add pending anywhere, none needed here) builds no keys.
  const adds = partitionsToAdd(req, ctx, byId) !== null;
  let prior: Array<Promise<void>> = [];
  if (pending.size > 0 || adds) {
    const keys = req.topicData.flatMap((t) => t.partitionData.map((p) => `${byId ? t.topicId : t.name}:${p.index}`));
    prior = [...new Set(keys.map((k) => pending.get(k)).filter((x): x is Promise<void> => x !== undefined))];
    if (prior.length > 0 || adds) {
      const gate = new Promise<void>((resolve) => {
        release = () => {
          for (const k of keys) if (pending.get(k) === gate) pending.delete(k);
          resolve();
        };
      });
      for (const k of keys) pending.set(k, gate);
      gated = true;
    }
  }
  try {
    if (gated) addErrors = await addImplicitly(req, ctx, byId, prior);
    {
      const now = Date.now();
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
          const addError = addErrors?.get(`${topic.name}:${p.index}`);
          if (addError !== undefined) {
            partitionResponses.push(partitionError(p.index, addError, 'The partition could not be added to the transaction'));
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
    }
  } finally {
    release();
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
