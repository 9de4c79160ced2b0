// api/ room: transaction APIs — AddPartitionsToTxn (v0-3 from clients, v4+ batched from brokers,
// verifyOnly), AddOffsetsToTxn, EndTxn, TxnOffsetCommit and WriteTxnMarkers. They translate
// requests into TransactionCoordinator / GroupCoordinator calls; InitProducerId with a
// transactional id is in cluster.ts. Both transaction protocol versions, decided per request as
// Kafka does: EndTxn v5 bumps the epoch (transactions V2), TxnOffsetCommit v5 adds the group's
// __consumer_offsets partition implicitly, AddPartitionsToTxn v5 adds (verifyOnly=false) for a
// leader that got a V2 batch; older versions keep the explicit adds and the epoch of V1.
import type { TxnTopicPartitions } from '../coordinator/txn/index.js';
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from '../protocol/messages/add-offsets-to-txn.js';
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from '../protocol/messages/add-partitions-to-txn.js';
import type { EndTxnRequest, EndTxnResponse } from '../protocol/messages/end-txn.js';
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../protocol/messages/txn-offset-commit.js';
import type { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from '../protocol/messages/write-txn-markers.js';
import { autoCreateTopic } from './metadata.js';
import type { ApiServices } from './services.js';
import { addPartitionsImplicitly, implicitAddErrorForProducer, writeMarkerLocally } from './txn-markers.js';
import { defineApi, type RequestContext } from './types.js';

const CONSUMER_OFFSETS = '__consumer_offsets';

type TopicResult = NonNullable<AddPartitionsToTxnResponse['resultsByTopicV3AndBelow']>[number];

/**
 * Kafka's per-partition answer to AddPartitionsToTxn: unknown partitions get
 * UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED; otherwise every partition
 * gets the coordinator's answer.
 */
async function addPartitions(
  services: ApiServices,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  topics: Array<{ name: string; partitions: number[] }>,
  verifyOnly: boolean,
  implicitAdd = false,
): Promise<TopicResult[]> {
  const unknown = new Set<string>();
  for (const t of topics) {
    const image = services.metadata.topic(t.name);
    for (const p of t.partitions) if (image === undefined || p < 0 || p >= image.partitions.length) unknown.add(`${t.name}:${p}`);
  }
  const each = (code: (topic: string, partition: number) => number): TopicResult[] =>
    topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: code(t.name, p) })) }));
  if (unknown.size > 0) {
    return each((topic, p) => (unknown.has(`${topic}:${p}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED));
  }
  const partitions: TxnTopicPartitions[] = topics.map((t) => ({ topic: t.name, partitions: t.partitions }));
  if (verifyOnly) {
    const codes = services.txnCoordinator.verifyPartitionsInTxn(transactionalId, producerId, producerEpoch, partitions);
    return each((topic, p) => codes.get(`${topic}:${p}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR);
  }
  const code = await services.txnCoordinator.addPartitionsToTxn(transactionalId, producerId, producerEpoch, partitions, implicitAdd ? 2 : null);
  return each(() => code);
}

export async function handleAddPartitionsToTxn(req: AddPartitionsToTxnRequest, ctx: RequestContext): Promise<AddPartitionsToTxnResponse> {
  const services = ctx.services;
  if (ctx.apiVersion <= 3) {
    const results = await addPartitions(services, req.v3AndBelowTransactionalId, req.v3AndBelowProducerId, req.v3AndBelowProducerEpoch, req.v3AndBelowTopics, false);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow: results };
  }
  const resultsByTransaction = await Promise.all(
    req.transactions.map(async (txn) => ({
      transactionalId: txn.transactionalId,
      // v5 from a leader (transactions V2): the partitions of a V2 batch join the transaction.
      topicResults: await addPartitions(services, txn.transactionalId, txn.producerId, txn.producerEpoch, txn.topics, txn.verifyOnly, ctx.apiVersion >= 5),
    })),
  );
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction, resultsByTopicV3AndBelow: [] };
}

export async function handleAddOffsetsToTxn(req: AddOffsetsToTxnRequest, ctx: RequestContext): Promise<AddOffsetsToTxnResponse> {
  const services = ctx.services;
  if (req.groupId.length === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID };
  try {
    await autoCreateTopic(services, CONSUMER_OFFSETS);
  } catch {
    return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
  }
  // The group's __consumer_offsets partition joins the transaction: TxnOffsetCommit writes there.
  const partition = services.groupCoordinator.partitionFor(req.groupId);
  const errorCode = await services.txnCoordinator.addPartitionsToTxn(req.transactionalId, req.producerId, req.producerEpoch, [{ topic: CONSUMER_OFFSETS, partitions: [partition] }]);
  return { throttleTimeMs: 0, errorCode };
}

export async function handleEndTxn(req: EndTxnRequest, ctx: RequestContext): Promise<EndTxnResponse> {
  // v5 (KIP-890 part 2): transactions V2, the answer carries the producer id and epoch to continue with.
  const answer = await ctx.services.txnCoordinator.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed, ctx.apiVersion >= 5 ? 2 : 1);
  return { throttleTimeMs: 0, ...answer };
}

export async function handleTxnOffsetCommit(req: TxnOffsetCommitRequest, ctx: RequestContext): Promise<TxnOffsetCommitResponse> {
  if (ctx.apiVersion >= 5) {
    // Transactions V2: no AddOffsetsToTxn; the group's __consumer_offsets partition joins here.
    const added = await addConsumerOffsetsImplicitly(req, ctx);
    if (added !== ErrorCode.NONE) {
      return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: added })) })) };
    }
  }
  const topics = await ctx.services.groupCoordinator.commitTransactionalOffsets(
    {
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      retentionTimeMs: -1,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          committedOffset: p.committedOffset,
          committedLeaderEpoch: p.committedLeaderEpoch,
          committedMetadata: p.committedMetadata,
        })),
      })),
    },
    { producerId: req.producerId, producerEpoch: req.producerEpoch },
  );
  return { throttleTimeMs: 0, topics };
}

/** TxnOffsetCommit v5's implicit add, with Kafka's errors for it (retriable ones: COORDINATOR_NOT_AVAILABLE). */
async function addConsumerOffsetsImplicitly(req: TxnOffsetCommitRequest, ctx: RequestContext): Promise<number> {
  const services = ctx.services;
  if (services.metadata.topic(CONSUMER_OFFSETS) === undefined) {
    try {
      await autoCreateTopic(services, CONSUMER_OFFSETS);
    } catch {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }
  const partition = services.groupCoordinator.partitionFor(req.groupId);
  const code = implicitAddErrorForProducer(
    await addPartitionsImplicitly(services, req.transactionalId, req.producerId, req.producerEpoch, [{ topic: CONSUMER_OFFSETS, partitions: [partition] }]),
  );
  return code === ErrorCode.NOT_ENOUGH_REPLICAS ? ErrorCode.COORDINATOR_NOT_AVAILABLE : code;
}

export async function handleWriteTxnMarkers(req: WriteTxnMarkersRequest, ctx: RequestContext): Promise<WriteTxnMarkersResponse> {
  const markers = await Promise.all(
    req.markers.map(async (m) => ({
      producerId: m.producerId,
      topics: await Promise.all(
        m.topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(
            t.partitionIndexes.map(async (partitionIndex) => ({
              partitionIndex,
              errorCode: await writeMarkerLocally(ctx.services, t.name, partitionIndex, {
                producerId: m.producerId,
                producerEpoch: m.producerEpoch,
                coordinatorEpoch: m.coordinatorEpoch,
                commit: m.transactionResult,
              }),
            })),
          ),
        })),
      ),
    })),
  );
  return { markers };
}

export const txnApis = [
  defineApi({ apiKey: ApiKey.AddPartitionsToTxn, handler: handleAddPartitionsToTxn }),
  defineApi({ apiKey: ApiKey.AddOffsetsToTxn, handler: handleAddOffsetsToTxn }),
  defineApi({ apiKey: ApiKey.EndTxn, handler: handleEndTxn }),
  defineApi({ apiKey: ApiKey.TxnOffsetCommit, handler: handleTxnOffsetCommit }),
  defineApi({ apiKey: ApiKey.WriteTxnMarkers, handler: handleWriteTxnMarkers }),
];
