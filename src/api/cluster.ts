// api/ room: DescribeCluster and InitProducerId. Producer ids come from blocks the metadata store
// reserves, so they are never reused; with a transactional id the transaction coordinator answers.
import { brokerEndpoint } from '../cluster/index.js';
import { ErrorCode } from '../errors.js';
import { ApiKey } from '../protocol/index.js';
import type { DescribeClusterRequest, DescribeClusterResponse } from '../protocol/messages/describe-cluster.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/init-producer-id.js';
import { errorResponse } from './errors.js';
import { defineApi, type RequestContext } from './types.js';

const ENDPOINT_TYPE_BROKERS = 1;
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export function handleDescribeCluster(req: DescribeClusterRequest, ctx: RequestContext): DescribeClusterResponse {
  const { metadata } = ctx.services;
  const base = {
    throttleTimeMs: 0,
    endpointType: req.endpointType,
    clusterId: metadata.clusterId,
    controllerId: metadata.controllerId(),
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
  if (ctx.apiVersion >= 1 && req.endpointType !== ENDPOINT_TYPE_BROKERS) {
    // Controllers are not a separate endpoint: every Spool node is a combined broker.
    return { ...base, errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `Unsupported endpoint type ${req.endpointType}`, brokers: [] };
  }
  return {
    ...base,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    // Addresses on the listener this request arrived on, as Metadata.
    brokers: metadata.brokers().flatMap((b) => {
      const at = brokerEndpoint(b, ctx.security.listenerName);
      return at === null ? [] : [{ brokerId: b.nodeId, host: at.host, port: at.port, rack: b.rack, isFenced: false }];
    }),
  };
}

export async function handleInitProducerId(req: InitProducerIdRequest, ctx: RequestContext): Promise<InitProducerIdResponse> {
  if (req.transactionalId !== null) {
    // The transaction coordinator of this id (found with FindCoordinator key type 1) answers.
    const answer = await ctx.services.txnCoordinator.initProducerId({
      transactionalId: req.transactionalId,
      transactionTimeoutMs: req.transactionTimeoutMs,
      producerId: req.producerId,
      producerEpoch: req.producerEpoch,
    });
    return { throttleTimeMs: 0, ...answer };
  }
  try {
    // As Kafka: without a transactional id every InitProducerId gets a fresh id at epoch 0.
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: await ctx.services.producerIds.generateProducerId(), producerEpoch: 0 };
  } catch (err) {
    const info = errorResponse(ctx, err, 'InitProducerId', {});
    return { throttleTimeMs: 0, errorCode: info.code === ErrorCode.UNKNOWN_SERVER_ERROR ? ErrorCode.COORDINATOR_NOT_AVAILABLE : info.code, producerId: -1, producerEpoch: -1 };
  }
}

export const describeClusterApi = defineApi({ apiKey: ApiKey.DescribeCluster, handler: handleDescribeCluster });
export const initProducerIdApi = defineApi({ apiKey: ApiKey.InitProducerId, handler: handleInitProducerId });
