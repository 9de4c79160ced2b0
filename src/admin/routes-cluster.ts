// admin/ room: /metrics, the status probes, brokers and cumulative per-topic traffic.
import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../errors.js';
import { requireServices, type AdminDeps } from './deps.js';
import { errorSchema } from './http-errors.js';

/** Why the broker is not ready to serve clients, or null when it is. */
export function notReadyReason(deps: AdminDeps): string | null {
  const services = deps.target.services();
  if (services === null) return 'logs are not loaded yet';
  if (!deps.target.kafkaListenerBound()) return 'the Kafka listener is not bound yet';
  if (services.api.groupCoordinator.listGroups([]).errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return 'consumer groups are still loading';
  return null;
}

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
} as const;

export function registerClusterRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['status'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: { description: 'Prometheus text exposition format 0.0.4', type: 'string' } },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    },
  );

  app.get(
    '/v1/status/live',
    { schema: { tags: ['status'], summary: 'Liveness: the process answers', response: { 200: statusSchema } } },
    () => ({ status: 'live' }),
  );

  app.get(
    '/v1/status/ready',
    {
      schema: {
        tags: ['status'],
        summary: 'Readiness: logs loaded, Kafka listener bound, consumer groups loaded',
        response: { 200: statusSchema, 503: statusSchema },
      },
    },
    async (_request, reply) => {
      const reason = notReadyReason(deps);
      if (reason === null) return { status: 'ready' };
      return reply.code(503).send({ status: 'not ready', reason });
    },
  );

  app.get(
    '/v1/brokers',
    {
      schema: {
        tags: ['cluster'],
        summary: 'Cluster id, controller and registered brokers',
        response: {
          200: {
            type: 'object',
            required: ['clusterId', 'controllerId', 'brokers'],
            properties: {
              clusterId: { type: 'string' },
              controllerId: { type: 'integer' },
              brokers: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['nodeId', 'host', 'port', 'rack'],
                  properties: { nodeId: { type: 'integer' }, host: { type: 'string' }, port: { type: 'integer' }, rack: { type: ['string', 'null'] } },
                },
              },
            },
          },
          503: errorSchema,
        },
      },
    },
    () => {
      const { metadata } = requireServices(deps).api;
      return {
        clusterId: metadata.clusterId,
        controllerId: metadata.controllerId(),
        brokers: metadata
          .brokers()
          .map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }))
          .sort((a, b) => a.nodeId - b.nodeId),
      };
    },
  );

  app.get(
    '/v1/stats',
    {
      schema: {
        tags: ['cluster'],
        summary: 'Cumulative per-topic traffic through this broker (rates are computed by the caller)',
        response: {
          200: {
            type: 'object',
            required: ['time', 'topics'],
            properties: {
              time: { type: 'integer', description: 'ms since the epoch' },
              topics: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'bytesIn', 'messagesIn', 'bytesOut'],
                  properties: { name: { type: 'string' }, bytesIn: { type: 'integer' }, messagesIn: { type: 'integer' }, bytesOut: { type: 'integer' } },
                },
              },
            },
          },
          503: errorSchema,
        },
      },
    },
    () => {
      const { metadata } = requireServices(deps).api;
      const topics = metadata
        .topics()
        .map((t) => ({ name: t.name, ...deps.metrics.trafficOf(t.name) }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { time: Date.now(), topics };
    },
  );
}
