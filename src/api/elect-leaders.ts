// api/ room: ElectLeaders (key 43, KIP-460) — preferred or unclean leader election, decided and
// written by the controller (MetadataStore.electLeaders). A broker that is not the controller
// forwards the request to the one its metadata names, as a Kafka broker forwards it to the KRaft
// controller; a forwarded request is not forwarded again (two brokers that disagree about the
// controller answer NOT_CONTROLLER instead of bouncing it between them).
import type { ElectionResult, ElectionTarget } from '../cluster/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import { BrokerConnection } from '../network/client.js';
import { ApiKey } from '../protocol/index.js';
import { noPeerAddressReason, peerAddress } from '../replication/index.js';
import type { ElectLeadersRequest, ElectLeadersResponse } from '../protocol/messages/elect-leaders.js';
import { errorResponse } from './errors.js';
import { defineApi, type RequestContext } from './types.js';

const PREFERRED = 0;
const UNCLEAN = 1;
/** The client id of a forwarded request: its receiver does not forward it again. */
export const FORWARDED_CLIENT_ID_PREFIX = 'spool-forwarded-';
const FORWARD_VERSION = 2;
const FORWARD_MAX_RESPONSE_BYTES = 100 * 1024 * 1024;

type TopicResult = ElectLeadersResponse['replicaElectionResults'][number];

/** Kafka's error response: the code at the top (v1+) and for every partition the request named. */
function errorAll(req: ElectLeadersRequest, errorCode: number, errorMessage: string | null): ElectLeadersResponse {
  return {
    throttleTimeMs: 0,
    errorCode,
    replicaElectionResults: (req.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitionId.map((partitionId) => ({ partitionId, errorCode, errorMessage })),
    })),
  };
}

/** Results in the request's order (one entry per partition named); for all partitions, by topic. */
function toResponse(req: ElectLeadersRequest, results: ElectionResult[], topicOrder: string[]): ElectLeadersResponse {
  const byPartition = new Map(results.map((r) => [`${r.topic}\u0000${r.partition}`, r]));
  let replicaElectionResults: TopicResult[];
  if (req.topicPartitions === null) {
    // As Kafka: every topic, each with the partitions where something happened.
    const byTopic = new Map<string, TopicResult>(topicOrder.map((topic) => [topic, { topic, partitionResult: [] }]));
    for (const r of results) {
      let entry = byTopic.get(r.topic);
      if (entry === undefined) {
        entry = { topic: r.topic, partitionResult: [] };
        byTopic.set(r.topic, entry);
      }
      entry.partitionResult.push({ partitionId: r.partition, errorCode: r.errorCode, errorMessage: r.errorMessage });
    }
    replicaElectionResults = [...byTopic.values()];
  } else {
    replicaElectionResults = req.topicPartitions.map((t) => ({
      topic: t.topic,
      partitionResult: t.partitionId.map((partitionId) => {
        const r = byPartition.get(`${t.topic}\u0000${partitionId}`);
        return r === undefined
          ? { partitionId, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no election result' }
          : { partitionId, errorCode: r.errorCode, errorMessage: r.errorMessage };
      }),
    }));
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults };
}

/** Sends the request to the controller and relays its answer. */
async function forwardToController(req: ElectLeadersRequest, electionType: number, ctx: RequestContext): Promise<ElectLeadersResponse> {
  const { metadata, nodeId, config } = ctx.services;
  const controllerId = metadata.controllerId();
  const controller = metadata.brokers().find((b) => b.nodeId === controllerId);
  if (controller === undefined || controllerId === nodeId) {
    return errorAll(req, ErrorCode.NOT_CONTROLLER, controllerId < 0 ? 'No controller is known' : `Broker ${nodeId} is not the controller`);
  }
  const timeoutMs = Math.min(Math.max(req.timeoutMs, 5000), 120_000);
  let connection: BrokerConnection | null = null;
  try {
    const address = peerAddress(config, controller);
    if (address === null) throw new Error(noPeerAddressReason(config, controller));
    connection = await BrokerConnection.open({
      ...address,
      clientId: `${FORWARDED_CLIENT_ID_PREFIX}${nodeId}`,
      maxResponseBytes: FORWARD_MAX_RESPONSE_BYTES,
      connectTimeoutMs: config.getNumber('replica.socket.timeout.ms'),
    });
    const res = await connection.request(ApiKey.ElectLeaders, FORWARD_VERSION, { electionType, topicPartitions: req.topicPartitions, timeoutMs: req.timeoutMs }, timeoutMs);
    if (res.errorCode !== ErrorCode.NONE) return errorAll(req, res.errorCode, null);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: res.replicaElectionResults };
  } catch (err) {
    ctx.services.logger.warn({ controller: controllerId, err: (err as Error).message }, 'forwarding ElectLeaders to the controller failed');
    // Retriable for the client: it asks the (new) controller again.
    return errorAll(req, ErrorCode.NOT_CONTROLLER, `Forwarding to the controller (broker ${controllerId}) failed: ${(err as Error).message}`);
  } finally {
    connection?.close();
  }
}

export async function handleElectLeaders(req: ElectLeadersRequest, ctx: RequestContext): Promise<ElectLeadersResponse> {
  const { metadata } = ctx.services;
  // v0 has no election type: preferred.
  const electionType = ctx.apiVersion === 0 ? PREFERRED : req.electionType;
  if (electionType !== PREFERRED && electionType !== UNCLEAN) return errorAll(req, ErrorCode.INVALID_REQUEST, `Unknown election type ${electionType}`);
  const targets: ElectionTarget[] | null = req.topicPartitions === null ? null : req.topicPartitions.flatMap((t) => t.partitionId.map((partition) => ({ topic: t.topic, partition })));
  try {
    const results = await metadata.electLeaders(electionType === PREFERRED ? 'preferred' : 'unclean', targets);
    return toResponse(req, results, metadata.topics().map((t) => t.name));
  } catch (err) {
    const forwarded = ctx.clientId?.startsWith(FORWARDED_CLIENT_ID_PREFIX) === true;
    if (err instanceof KafkaError && err.code === ErrorCode.NOT_CONTROLLER && !forwarded) return forwardToController(req, electionType, ctx);
    const info = errorResponse(ctx, err, 'ElectLeaders', { electionType });
    return errorAll(req, info.code, info.message);
  }
}

export const electLeadersApi = defineApi({ apiKey: ApiKey.ElectLeaders, handler: handleElectLeaders });
