// api/ room: ShareFetch and ShareAcknowledge (KIP-932), served by the leaders of the partitions
// a share group consumes. A ShareFetch first applies the acknowledgements it carries, then, for
// every partition of the member's share session, reads whole batches from the first available
// offset of the share-partition (below the high watermark, the same Partition.read Fetch uses)
// and acquires the available records in them for the member under an acquisition lock. With
// nothing acquired it waits up to maxWaitMs for new data or released records.
import type { TopicImage } from '../cluster/index.js';
import type { AcknowledgementBatch, FetchedBatch, SessionPartition, SharePartitionKey } from '../coordinator/share/index.js';
import { FINAL_SHARE_SESSION_EPOCH } from '../coordinator/share/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { AclOperation } from '../security/authorizer/index.js';
import { ApiKey } from '../protocol/index.js';
import type { ShareAcknowledgeRequest, ShareAcknowledgeResponse } from '../protocol/messages/share-acknowledge.js';
import type { ShareFetchRequest, ShareFetchResponse } from '../protocol/messages/share-fetch.js';
import { batchHeaders } from '../records/batch-layout.js';
import type { Partition } from '../replication/index.js';
import type { FileSlice } from '../storage/engine.js';
import { read as fsRead } from 'node:fs';
import { errorResponse } from './errors.js';
import { ensureShareStateTopic } from './share-groups.js';
import { topicAccess } from './topic-access.js';
import { defineApi, type ApiRegistration, type RequestContext } from './types.js';

type FetchTopicOut = ShareFetchResponse['responses'][number];
type FetchPartitionOut = FetchTopicOut['partitions'][number];
type AckTopicOut = ShareAcknowledgeResponse['responses'][number];

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
/** Kafka answers empty (never null) records for a partition with nothing acquired. */
const EMPTY_RECORDS = Buffer.alloc(0);
/** ShareAcquireMode (v2): 1 = record limit (maxRecords is strict). */
const ACQUIRE_MODE_RECORD_LIMIT = 1;

function readSlice(slice: FileSlice): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(slice.length);
    let done = 0;
    // Bounded: every step reads at least one byte or fails.
    const step = (): void => {
      fsRead(slice.fd, buf, done, slice.length - done, slice.position + done, (err, n) => {
        if (err) reject(err);
        else if (n === 0) reject(new Error(`short read of fd ${slice.fd}: ${done} of ${slice.length} bytes`));
        else {
          done += n;
          if (done < slice.length) step();
          else resolve(buf);
        }
      });
    };
    step();
  });
}

/** The leader's Partition for a share-partition, or a KafkaError (unknown topic id, not leader). */
function leaderPartition(ctx: RequestContext, topicId: string, index: number): { topic: TopicImage; partition: Partition } {
  const topic = ctx.services.metadata.topicById(topicId);
  if (topic === undefined) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, `unknown topic id ${topicId}`);
  if (index < 0 || index >= topic.partitions.length) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic.name}-${index} does not exist`);
  return { topic, partition: ctx.services.replicaManager.getPartitionOrError(topic.name, index) };
}

function currentLeader(ctx: RequestContext, topicId: string, index: number): { leaderId: number; leaderEpoch: number } {
  const topic = ctx.services.metadata.topicById(topicId);
  const state = topic === undefined ? undefined : ctx.services.metadata.partition(topic.name, index);
  return state === undefined ? NO_LEADER : { leaderId: state.leader, leaderEpoch: state.leaderEpoch };
}

/**
 * UNKNOWN_MEMBER_ID when this broker coordinates `groupId` and `memberId` is not one of its members
 * (no such group included: share-partition state is only created for a group that exists). When
 * another broker coordinates the group, membership cannot be checked here.
 */
function membershipError(ctx: RequestContext, groupId: string, memberId: string): { code: number; message: string } | null {
  const services = ctx.services;
  if (services.groupCoordinator.coordinatorErrorFor(groupId) !== ErrorCode.NONE) return null;
  if (services.share.groups.isMember(groupId, memberId)) return null;
  return { code: ErrorCode.UNKNOWN_MEMBER_ID, message: `Member ${memberId} is not a member of share group ${groupId}` };
}

/** READ on a session partition's topic (every partition of the session, not just the request's); null = no authorizer. */
function sessionReadAccess(ctx: RequestContext): ((topicId: string) => boolean) | null {
  const canRead = topicAccess(ctx, AclOperation.READ);
  if (canRead === null) return null;
  return (topicId) => {
    const name = ctx.services.metadata.topicById(topicId)?.name;
    // An unknown topic id answers UNKNOWN_TOPIC_ID when fetched.
    return name === undefined || canRead(name);
  };
}

const refusedPartition = (partitionIndex: number): FetchPartitionOut => ({
  partitionIndex,
  errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  errorMessage: null,
  acknowledgeErrorCode: ErrorCode.NONE,
  acknowledgeErrorMessage: null,
  currentLeader: NO_LEADER,
  records: EMPTY_RECORDS,
  acquiredRecords: [],
});

interface AckInput {
  topicId: string;
  partitionIndex: number;
  acknowledgementBatches: AcknowledgementBatch[];
}

/** Applies one partition's acknowledgements; returns its error code and message. */
async function acknowledgePartition(ctx: RequestContext, groupId: string, memberId: string, ack: AckInput): Promise<{ code: number; message: string | null }> {
  try {
    const { partition } = leaderPartition(ctx, ack.topicId, ack.partitionIndex);
    const key: SharePartitionKey = { groupId, topicId: ack.topicId, partition: ack.partitionIndex };
    await ctx.services.share.partitions.get(key, partition.leaderEpoch, partition);
    await ctx.services.share.partitions.acknowledge(key, memberId, ack.acknowledgementBatches);
    return { code: ErrorCode.NONE, message: null };
  } catch (err) {
    const info = errorResponse(ctx, err, 'share acknowledge', { groupId, topicId: ack.topicId, partition: ack.partitionIndex });
    return { code: info.code, message: info.message };
  }
}

interface FetchBudget {
  bytes: number;
  records: number;
}

/** One pass over the session's partitions: acquire what is available. */
async function acquireAll(
  ctx: RequestContext,
  req: ShareFetchRequest,
  groupId: string,
  memberId: string,
  partitions: SessionPartition[],
  budget: FetchBudget,
  strictRecordLimit: boolean,
): Promise<{ out: Map<string, FetchPartitionOut>; acquired: number; watched: Partition[] }> {
  const out = new Map<string, FetchPartitionOut>();
  const watched: Partition[] = [];
  let acquired = 0;
  const manager = ctx.services.share.partitions;
  for (const sp of partitions) {
    const id = `${sp.topicId}:${sp.partition}`;
    const result: FetchPartitionOut = {
      partitionIndex: sp.partition,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      acknowledgeErrorCode: ErrorCode.NONE,
      acknowledgeErrorMessage: null,
      currentLeader: NO_LEADER,
      records: EMPTY_RECORDS,
      acquiredRecords: [],
    };
    out.set(id, result);
    try {
      const { partition } = leaderPartition(ctx, sp.topicId, sp.partition);
      watched.push(partition);
      const key: SharePartitionKey = { groupId, topicId: sp.topicId, partition: sp.partition };
      const share = await manager.get(key, partition.leaderEpoch, partition);
      const wanted = req.maxRecords - budget.records;
      if (wanted <= 0 || (budget.bytes <= 0 && acquired > 0)) continue;
      const fetchOffset = share.nextFetchOffset();
      const highWatermark = partition.highWatermark;
      if (fetchOffset === null || fetchOffset >= highWatermark) continue;
      const slice = partition.read(fetchOffset, Math.max(1, budget.bytes), highWatermark);
      let buf: Buffer;
      try {
        buf = slice.length === 0 ? Buffer.alloc(0) : await readSlice(slice);
      } finally {
        slice.release?.();
      }
      const headers = batchHeaders(buf);
      const batches: FetchedBatch[] = headers.map((h) => ({ baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, isControl: h.isControl }));
      // Offsets the records do not cover (compacted away, before the first batch or between
      // batches) are archived by the share-partition, so its start offset moves past them.
      const ranges = manager.acquire(key, memberId, batches, wanted, fetchOffset);
      if (ranges.length === 0) continue;
      let count = 0;
      for (const r of ranges) count += r.lastOffset - r.firstOffset + 1;
      // Only the batches that hold acquired records travel.
      const first = ranges[0]?.firstOffset ?? 0;
      const last = ranges.at(-1)?.lastOffset ?? 0;
      const used = headers.filter((h) => h.baseOffset + h.lastOffsetDelta >= first && h.baseOffset <= last);
      const start = used[0]?.position ?? 0;
      const lastUsed = used.at(-1);
      const end = lastUsed === undefined ? 0 : lastUsed.position + lastUsed.sizeInBytes;
      result.records = buf.subarray(start, end);
      result.acquiredRecords = ranges;
      budget.bytes -= end - start;
      budget.records += count;
      acquired += count;
      if (strictRecordLimit && budget.records >= req.maxRecords) budget.bytes = 0;
    } catch (err) {
      const info = errorResponse(ctx, err, 'share fetch', { groupId, topicId: sp.topicId, partition: sp.partition }, ErrorCode.KAFKA_STORAGE_ERROR);
      result.errorCode = info.code;
      result.errorMessage = info.message;
      if (info.code === ErrorCode.NOT_LEADER_OR_FOLLOWER || info.code === ErrorCode.FENCED_LEADER_EPOCH) result.currentLeader = currentLeader(ctx, sp.topicId, sp.partition);
    }
  }
  return { out, acquired, watched };
}

/** Waits until one of `partitions` changes, records are released, or `ms` pass. */
function waitForRecords(ctx: RequestContext, partitions: Partition[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribers: Array<() => void> = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const u of unsubscribers) u();
      resolve();
    };
    const timer = setTimeout(finish, ms);
    for (const p of new Set(partitions)) unsubscribers.push(p.onChange(finish));
    unsubscribers.push(ctx.services.share.partitions.onAvailability(finish));
  });
}

const SHARE_RECORD_LOCK_DURATION_MS = 'share.record.lock.duration.ms';

/** A ShareFetch/ShareAcknowledge answer carrying only a top-level error (or none). */
function topLevel(ctx: RequestContext, errorCode: number, errorMessage: string | null, groupId: string | null) {
  return {
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    // The group's share.record.lock.duration.ms (ConfigResource GROUP), else the broker's.
    acquisitionLockTimeoutMs: Number(
      (groupId === null ? undefined : ctx.services.metadata.groupConfigs?.(groupId)?.[SHARE_RECORD_LOCK_DURATION_MS]) ??
        ctx.services.share.partitions.config.lockDurationMs,
    ),
    responses: [],
    nodeEndpoints: [],
  };
}

/** The checks ShareFetch and ShareAcknowledge share: ids set, and the sender a member of the group. */
function requestError(ctx: RequestContext, groupId: string, memberId: string, epoch: number): { code: number; message: string } | null {
  if (groupId.length === 0) return { code: ErrorCode.INVALID_REQUEST, message: 'GroupId must be set' };
  if (memberId.length === 0) return { code: ErrorCode.INVALID_REQUEST, message: 'MemberId must be set' };
  // A closing request (epoch -1) may follow the member's leave: it only closes the session.
  return epoch === FINAL_SHARE_SESSION_EPOCH ? null : membershipError(ctx, groupId, memberId);
}

async function handleShareFetch(req: ShareFetchRequest, ctx: RequestContext): Promise<ShareFetchResponse> {
  const services = ctx.services;
  const top = (errorCode: number, errorMessage: string | null): ShareFetchResponse => topLevel(ctx, errorCode, errorMessage, req.groupId);
  const groupId = req.groupId ?? '';
  const memberId = req.memberId ?? '';
  const invalid = requestError(ctx, groupId, memberId, req.shareSessionEpoch);
  if (invalid !== null) return top(invalid.code, invalid.message);
  try {
    await ensureShareStateTopic(services);
  } catch (err) {
    return top(ErrorCode.COORDINATOR_NOT_AVAILABLE, errorResponse(ctx, err, 'creating __share_group_state', {}).message);
  }
  const added: SessionPartition[] = [];
  for (const t of req.topics) for (const p of t.partitions) added.push({ topicId: t.topicId, partition: p.partitionIndex });
  const forgotten: SessionPartition[] = [];
  for (const t of req.forgottenTopicsData) for (const partition of t.partitions) forgotten.push({ topicId: t.topicId, partition });
  let sessionPartitions: SessionPartition[];
  try {
    sessionPartitions = services.share.partitions.sessions.update(groupId, memberId, req.shareSessionEpoch, added, forgotten, false);
  } catch (err) {
    const info = errorResponse(ctx, err, 'share fetch session', { groupId, memberId });
    return top(info.code, info.message);
  }
  // Every partition of the session is authorized again (an ACL may have been removed since the
  // request that added it); a refused one answers TOPIC_AUTHORIZATION_FAILED and is not fetched.
  const canRead = sessionReadAccess(ctx);
  const refused = new Map<string, FetchPartitionOut>();
  if (canRead !== null) {
    sessionPartitions = sessionPartitions.filter((sp) => {
      if (canRead(sp.topicId)) return true;
      refused.set(`${sp.topicId}:${sp.partition}`, refusedPartition(sp.partition));
      return false;
    });
  }
  // Acknowledgements first: what they release may be acquired again by this very fetch.
  const ackResults = new Map<string, { code: number; message: string | null }>();
  for (const t of req.topics) {
    for (const p of t.partitions) {
      if (p.acknowledgementBatches.length === 0) continue;
      if (canRead !== null && !canRead(t.topicId)) {
        ackResults.set(`${t.topicId}:${p.partitionIndex}`, { code: ErrorCode.TOPIC_AUTHORIZATION_FAILED, message: null });
        continue;
      }
      ackResults.set(`${t.topicId}:${p.partitionIndex}`, await acknowledgePartition(ctx, groupId, memberId, { topicId: t.topicId, partitionIndex: p.partitionIndex, acknowledgementBatches: p.acknowledgementBatches }));
    }
  }
  const closing = req.shareSessionEpoch === FINAL_SHARE_SESSION_EPOCH;
  let results = new Map<string, FetchPartitionOut>();
  if (closing) {
    services.share.partitions.sessions.remove(groupId, memberId);
    await services.share.partitions.releaseMember(groupId, memberId);
  } else {
    const budget: FetchBudget = { bytes: Math.min(req.maxBytes, services.config.getNumber('fetch.max.bytes')), records: 0 };
    const strict = req.shareAcquireMode === ACQUIRE_MODE_RECORD_LIMIT;
    let pass = await acquireAll(ctx, req, groupId, memberId, sessionPartitions, budget, strict);
    const deadline = Date.now() + Math.max(0, req.maxWaitMs);
    const hasError = (): boolean => [...pass.out.values()].some((r) => r.errorCode !== ErrorCode.NONE);
    // Bounded by the deadline: each round waits for a change or the rest of maxWaitMs.
    while (pass.acquired === 0 && !hasError() && pass.watched.length > 0 && Date.now() < deadline) {
      await waitForRecords(ctx, pass.watched, deadline - Date.now());
      pass = await acquireAll(ctx, req, groupId, memberId, sessionPartitions, budget, strict);
    }
    results = pass.out;
    for (const [id, r] of refused) results.set(id, r);
    services.logger.debug({ groupId, memberId, epoch: req.shareSessionEpoch, acquired: pass.acquired, partitions: sessionPartitions.length, maxWaitMs: req.maxWaitMs }, 'share fetch answered');
  }
  // Every partition that carried acknowledgements answers, fetched or not.
  for (const [id, ack] of ackResults) {
    let r = results.get(id);
    if (r === undefined) {
      const [topicId = '', index = '0'] = id.split(':');
      r = {
        partitionIndex: Number(index),
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        acknowledgeErrorCode: ErrorCode.NONE,
        acknowledgeErrorMessage: null,
        currentLeader: NO_LEADER,
        records: EMPTY_RECORDS,
        acquiredRecords: [],
      };
      results.set(`${topicId}:${index}`, r);
    }
    r.acknowledgeErrorCode = ack.code;
    r.acknowledgeErrorMessage = ack.message;
  }
  const byTopic = new Map<string, FetchTopicOut>();
  for (const [id, r] of results) {
    const topicId = id.slice(0, id.lastIndexOf(':'));
    let t = byTopic.get(topicId);
    if (t === undefined) {
      t = { topicId, partitions: [] };
      byTopic.set(topicId, t);
    }
    t.partitions.push(r);
  }
  return { ...top(ErrorCode.NONE, null), responses: [...byTopic.values()] };
}

async function handleShareAcknowledge(req: ShareAcknowledgeRequest, ctx: RequestContext): Promise<ShareAcknowledgeResponse> {
  const services = ctx.services;
  const top = (errorCode: number, errorMessage: string | null): ShareAcknowledgeResponse => topLevel(ctx, errorCode, errorMessage, req.groupId);
  const groupId = req.groupId ?? '';
  const memberId = req.memberId ?? '';
  const invalid = requestError(ctx, groupId, memberId, req.shareSessionEpoch);
  if (invalid !== null) return top(invalid.code, invalid.message);
  try {
    services.share.partitions.sessions.update(groupId, memberId, req.shareSessionEpoch, [], [], true);
  } catch (err) {
    const info = errorResponse(ctx, err, 'share acknowledge session', { groupId, memberId });
    return top(info.code, info.message);
  }
  const canRead = sessionReadAccess(ctx);
  const responses: AckTopicOut[] = [];
  for (const t of req.topics) {
    const out: AckTopicOut = { topicId: t.topicId, partitions: [] };
    responses.push(out);
    for (const p of t.partitions) {
      if (canRead !== null && !canRead(t.topicId)) {
        out.partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null, currentLeader: NO_LEADER });
        continue;
      }
      const r = await acknowledgePartition(ctx, groupId, memberId, { topicId: t.topicId, partitionIndex: p.partitionIndex, acknowledgementBatches: p.acknowledgementBatches });
      out.partitions.push({
        partitionIndex: p.partitionIndex,
        errorCode: r.code,
        errorMessage: r.message,
        currentLeader: r.code === ErrorCode.NOT_LEADER_OR_FOLLOWER ? currentLeader(ctx, t.topicId, p.partitionIndex) : NO_LEADER,
      });
    }
  }
  if (req.shareSessionEpoch === FINAL_SHARE_SESSION_EPOCH) {
    services.share.partitions.sessions.remove(groupId, memberId);
    await services.share.partitions.releaseMember(groupId, memberId);
  }
  return { ...top(ErrorCode.NONE, null), responses };
}

export const shareFetchApis: ApiRegistration[] = [
  defineApi({ apiKey: ApiKey.ShareFetch, handler: handleShareFetch }),
  defineApi({ apiKey: ApiKey.ShareAcknowledge, handler: handleShareAcknowledge }),
];
