// api/ room: the transaction admin APIs (KIP-664) that kafka-transactions and Admin use —
// DescribeProducers (key 61) from the producer state of the partition replicas held here, and
// ListTransactions (key 66) / DescribeTransactions (key 65) from the transaction coordinator.
import { topicNameProblem } from '../cluster/index.js';
import { ErrorCode, errorCodeOf } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { DescribeProducersRequest, DescribeProducersResponse } from '../protocol/messages/describe-producers.js';
import type { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../protocol/messages/describe-transactions.js';
import type { ListTransactionsRequest, ListTransactionsResponse } from '../protocol/messages/list-transactions.js';
import { NO_LEADER_EPOCH, lastSequenceOf, type ReplicaManager } from '../replication/index.js';
import { defineApi, type RequestContext } from './types.js';

type PartitionResponse = DescribeProducersResponse['topics'][number]['partitions'][number];

/** Kafka's message for UNKNOWN_TOPIC_OR_PARTITION when the topic itself is unknown. */
const UNKNOWN_TOPIC_MESSAGE = 'This server does not host this topic-partition.';

/**
 * Kafka's ReplicaManager.activeProducerState: any replica held here answers (leader or follower,
 * so `--broker-id` can ask a follower); a replica not held is NOT_LEADER_OR_FOLLOWER when the
 * partition exists and UNKNOWN_TOPIC_OR_PARTITION otherwise, without a message.
 */
function activeProducerState(replicaManager: ReplicaManager, topic: string, partitionIndex: number): PartitionResponse {
  let partition;
  try {
    partition = replicaManager.getPartitionOrError(topic, partitionIndex, NO_LEADER_EPOCH, false);
  } catch (e) {
    return { partitionIndex, errorCode: errorCodeOf(e), errorMessage: null, activeProducers: [] };
  }
  const activeProducers = [...partition.producerState.activeProducers().values()].map((entry) => ({
    producerId: entry.producerId,
    producerEpoch: entry.producerEpoch,
    lastSequence: lastSequenceOf(entry),
    lastTimestamp: entry.lastTimestamp,
    coordinatorEpoch: entry.coordinatorEpoch,
    currentTxnStartOffset: entry.currentTxnFirstOffset,
  }));
  return { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers };
}

/** DescribeProducers: an illegal topic name is INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION, for each partition asked. */
export function handleDescribeProducers(req: DescribeProducersRequest, ctx: RequestContext): DescribeProducersResponse {
  const { metadata, replicaManager } = ctx.services;
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => {
      const problem = topicNameProblem(t.name);
      const topicError =
        problem !== null
          ? { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: problem }
          : metadata.topic(t.name) === undefined
            ? { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: UNKNOWN_TOPIC_MESSAGE }
            : null;
      return {
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) =>
          topicError !== null ? { partitionIndex, ...topicError, activeProducers: [] } : activeProducerState(replicaManager, t.name, partitionIndex),
        ),
      };
    }),
  };
}

/**
 * Compiles a ListTransactions v2 TransactionalIdPattern the way Kafka reads it: an RE2 expression
 * that must match the whole transactional id (`Matcher.matches()`). JavaScript's dialect is close
 * to RE2's; the differences that matter are bridged: a leading `(?flags)` group (i, m, s) becomes
 * RegExp flags, `(?P<name>` a named group, `\A` / `\z` input anchors, and what RE2 refuses —
 * lookaround and backreferences — is refused here too. Returns null for an invalid expression.
 */
export function compileTransactionalIdPattern(pattern: string): RegExp | null {
  let flags = '';
  let i = 0;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead !== null) {
    const given = lead[1];
    if (!/^[ims]+$/.test(given)) return null;
    flags = [...new Set(given)].join('');
    i = lead[0].length;
  }
  let source = '';
  let inClass = false;
  for (; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    const next = pattern.charAt(i + 1);
    if (c === '\\') {
      if (!inClass && (/[1-9]/.test(next) || next === 'k')) return null;
      if (!inClass && next === 'A') source += '(?<![\\s\\S])';
      else if (!inClass && next === 'z') source += '(?![\\s\\S])';
      else source += c + next;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      source += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      source += c;
      if (pattern.charAt(i + 1) === '^') source += pattern.charAt(++i);
      // A ']' right after the opening bracket is a literal in RE2.
      if (pattern.charAt(i + 1) === ']') {
        source += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && next === '?') {
      const rest = pattern.slice(i + 2);
      if (/^(=|!|<=|<!)/.test(rest)) return null;
      if (rest.startsWith('P<')) {
        source += '(?<';
        i += 3;
        continue;
      }
    }
    source += c;
  }
  try {
    // Anchored at the input's ends whatever the flags ('m' changes what ^ and $ mean).
    return new RegExp(`(?<![\\s\\S])(?:${source})(?![\\s\\S])`, flags);
  } catch {
    return null;
  }
}

export function handleListTransactions(req: ListTransactionsRequest, ctx: RequestContext): ListTransactionsResponse {
  let pattern: RegExp | null = null;
  if (req.transactionalIdPattern !== null && req.transactionalIdPattern !== '') {
    pattern = compileTransactionalIdPattern(req.transactionalIdPattern);
    if (pattern === null) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REGULAR_EXPRESSION, unknownStateFilters: [], transactionStates: [] };
    }
  }
  const listed = ctx.services.txnCoordinator.listTransactions(req.stateFilters, req.producerIdFilters, req.durationFilter, pattern);
  return {
    throttleTimeMs: 0,
    errorCode: listed.errorCode,
    unknownStateFilters: listed.unknownStateFilters,
    transactionStates: listed.transactions,
  };
}

export function handleDescribeTransactions(req: DescribeTransactionsRequest, ctx: RequestContext): DescribeTransactionsResponse {
  return { throttleTimeMs: 0, transactionStates: ctx.services.txnCoordinator.describeTransactions(req.transactionalIds) };
}

export const txnAdminApis = [
  defineApi({ apiKey: ApiKey.DescribeProducers, handler: handleDescribeProducers }),
  defineApi({ apiKey: ApiKey.ListTransactions, handler: handleListTransactions }),
  defineApi({ apiKey: ApiKey.DescribeTransactions, handler: handleDescribeTransactions }),
];
