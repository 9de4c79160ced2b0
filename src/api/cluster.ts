// api/ room: DescribeCluster and InitProducerId. Producer ids come from persisted blocks so they are
// never reused; transactions are not supported yet, so a transactional id is refused.
import { ErrorCode } from '../protocol/index.js';
import type { RequestContext } from './types.js';
import type { DescribeClusterRequest, DescribeClusterResponse } from '../protocol/messages/describe-cluster.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/init-producer-id.js';

const ENDPOINT_TYPE_BROKERS = 1;
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export function handleDescribeCluster(req: DescribeClusterRequest, ctx: RequestContext): DescribeClusterResponse {
  const broker = ctx.broker;
  const base = {
    throttleTimeMs: 0,
    endpointType: req.endpointType,
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
  if (ctx.apiVersion >= 1 && req.endpointType !== ENDPOINT_TYPE_BROKERS) {
    // Controllers are not a separate endpoint on a combined single node.
    return { ...base, errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `Unsupported endpoint type ${req.endpointType}`, brokers: [] };
  }
  return {
    ...base,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    brokers: [{ brokerId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, rack: null, isFenced: false }],
  };
}

export function handleInitProducerId(req: InitProducerIdRequest, ctx: RequestContext): InitProducerIdResponse {
  if (req.transactionalId !== null) {
    // No transaction coordinator yet: a fatal, clearly-named error beats a client retrying forever.
    ctx.broker.logger.warn({ transactionalId: req.transactionalId, clientId: ctx.clientId }, 'transactional producer refused: transactions are not supported yet');
    return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
  }
  // As Kafka: without a transactional id every InitProducerId gets a fresh id at epoch 0.
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: ctx.broker.logManager.allocateProducerId(), producerEpoch: 0 };
}
