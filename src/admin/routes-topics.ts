// admin/ room: topics — list, describe (partitions with offsets and sizes), create, alter configs,
// add partitions, delete — through the Kafka handlers themselves (CreateTopics, DeleteTopics,
// CreatePartitions, IncrementalAlterConfigs), so validation and errors are exactly Kafka's.
import type { FastifyInstance } from 'fastify';
import { handleIncrementalAlterConfigs, ResourceType } from '../api/configs.js';
import type { ApiServices } from '../api/index.js';
import { handleCreatePartitions, handleCreateTopics, handleDeleteTopics } from '../api/topics.js';
import { ApiKey, ZERO_UUID } from '../protocol/index.js';
import { adminRequestContext } from './context.js';
import { errorSchema, notFound, throwIfKafkaError } from './http-errors.js';
import { requireServices, type AdminDeps } from './deps.js';

const nullableInteger = { type: ['integer', 'null'] } as const;

export const topicDetailSchema = {
  type: 'object',
  required: ['name', 'topicId', 'internal', 'configs', 'configOverrides', 'partitions'],
  properties: {
    name: { type: 'string' },
    topicId: { type: 'string' },
    internal: { type: 'boolean' },
    configs: { type: 'object', description: 'Effective value of every topic setting', additionalProperties: { type: ['string', 'null'] } },
    configOverrides: { type: 'object', description: 'The topic-level overrides only', additionalProperties: { type: 'string' } },
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['partition', 'leader', 'replicas', 'isr', 'logStartOffset', 'highWatermark', 'sizeBytes'],
        properties: {
          partition: { type: 'integer' },
          leader: { type: 'integer' },
          replicas: { type: 'array', items: { type: 'integer' } },
          isr: { type: 'array', items: { type: 'integer' } },
          logStartOffset: { ...nullableInteger, description: 'null when the partition is not hosted by this broker' },
          highWatermark: nullableInteger,
          sizeBytes: nullableInteger,
        },
      },
    },
  },
} as const;

const topicParams = { type: 'object', required: ['topic'], properties: { topic: { type: 'string' } } } as const;

export function topicDetail(api: ApiServices, name: string): unknown {
  const topic = api.metadata.topic(name);
  if (topic === undefined) throw notFound(`Topic '${name}' does not exist.`);
  const configs: Record<string, string | null> = {};
  for (const c of api.config.describeTopic(topic.configs, false, false)) configs[c.name] = c.value;
  return {
    name: topic.name,
    topicId: topic.topicId,
    internal: topic.internal,
    configs,
    configOverrides: topic.configs,
    partitions: topic.partitions.map((p) => {
      const local = api.replicaManager.getPartition(topic.name, p.partition);
      return {
        partition: p.partition,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
        logStartOffset: local?.logStartOffset ?? null,
        highWatermark: local?.highWatermark ?? null,
        sizeBytes: local === undefined ? null : local.log.segments().reduce((n, s) => n + s.sizeInBytes, 0),
      };
    }),
  };
}

export function registerTopicRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get(
    '/v1/topics',
    {
      schema: {
        tags: ['topics'],
        summary: 'Every topic',
        response: {
          200: {
            type: 'object',
            required: ['topics'],
            properties: {
              topics: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'partitions', 'replicationFactor', 'internal'],
                  properties: { name: { type: 'string' }, partitions: { type: 'integer' }, replicationFactor: { type: 'integer' }, internal: { type: 'boolean' } },
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
        .map((t) => ({ name: t.name, partitions: t.partitions.length, replicationFactor: t.partitions[0]?.replicas.length ?? 0, internal: t.internal }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { topics };
    },
  );

  app.post<{ Body: { name: string; partitions?: number; replicationFactor?: number; configs?: Record<string, string> } }>(
    '/v1/topics',
    {
      schema: {
        tags: ['topics'],
        summary: 'Create a topic (CreateTopics)',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            partitions: { type: 'integer', minimum: 1, description: 'default num.partitions' },
            replicationFactor: { type: 'integer', minimum: 1, maximum: 32767, description: 'default default.replication.factor' },
            configs: { type: 'object', additionalProperties: { type: 'string' } },
          },
        },
        response: { 201: topicDetailSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const api = requireServices(deps).api;
      const body = request.body;
      const res = await handleCreateTopics(
        {
          topics: [
            {
              name: body.name,
              numPartitions: body.partitions ?? -1,
              replicationFactor: body.replicationFactor ?? -1,
              assignments: [],
              configs: Object.entries(body.configs ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
          timeoutMs: 60000,
          validateOnly: false,
        },
        adminRequestContext(api, ApiKey.CreateTopics, 7, request.ip),
      );
      const [result] = res.topics;
      throwIfKafkaError(result.errorCode, result.errorMessage ?? null, `Topic '${body.name}' was not created`);
      return reply.code(201).send(topicDetail(api, body.name));
    },
  );

  app.get<{ Params: { topic: string } }>(
    '/v1/topics/:topic',
    {
      schema: {
        tags: ['topics'],
        summary: 'A topic: id, configs, partitions with leader, replicas, ISR, offsets and size',
        params: topicParams,
        response: { 200: topicDetailSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    (request) => topicDetail(requireServices(deps).api, request.params.topic),
  );

  app.patch<{ Params: { topic: string }; Body: { configs: Record<string, string | null> } }>(
    '/v1/topics/:topic/configs',
    {
      schema: {
        tags: ['topics'],
        summary: 'Set topic config overrides; null deletes an override (IncrementalAlterConfigs)',
        security: [{ bearer: [] }],
        params: topicParams,
        body: {
          type: 'object',
          required: ['configs'],
          additionalProperties: false,
          properties: { configs: { type: 'object', additionalProperties: { type: ['string', 'null'] } } },
        },
        response: { 200: topicDetailSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request) => {
      const api = requireServices(deps).api;
      const name = request.params.topic;
      const res = await handleIncrementalAlterConfigs(
        {
          resources: [
            {
              resourceType: ResourceType.TOPIC,
              resourceName: name,
              configs: Object.entries(request.body.configs).map(([key, value]) => ({ name: key, configOperation: value === null ? 1 : 0, value })),
            },
          ],
          validateOnly: false,
        },
        adminRequestContext(api, ApiKey.IncrementalAlterConfigs, 1, request.ip),
      );
      const [result] = res.responses;
      throwIfKafkaError(result.errorCode, result.errorMessage ?? null, `The configs of topic '${name}' were not changed`);
      return topicDetail(api, name);
    },
  );

  app.post<{ Params: { topic: string }; Body: { count: number } }>(
    '/v1/topics/:topic/partitions',
    {
      schema: {
        tags: ['topics'],
        summary: 'Raise the partition count of a topic (CreatePartitions)',
        security: [{ bearer: [] }],
        params: topicParams,
        body: { type: 'object', required: ['count'], additionalProperties: false, properties: { count: { type: 'integer', minimum: 1, description: 'the new total' } } },
        response: { 200: topicDetailSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request) => {
      const api = requireServices(deps).api;
      const name = request.params.topic;
      const res = await handleCreatePartitions(
        { topics: [{ name, count: request.body.count, assignments: null }], timeoutMs: 60000, validateOnly: false },
        adminRequestContext(api, ApiKey.CreatePartitions, 3, request.ip),
      );
      const [result] = res.results;
      throwIfKafkaError(result.errorCode, result.errorMessage ?? null, `Partitions of topic '${name}' were not created`);
      return topicDetail(api, name);
    },
  );

  app.delete<{ Params: { topic: string } }>(
    '/v1/topics/:topic',
    {
      schema: {
        tags: ['topics'],
        summary: 'Delete a topic (DeleteTopics)',
        security: [{ bearer: [] }],
        params: topicParams,
        response: {
          200: { type: 'object', required: ['name', 'topicId'], properties: { name: { type: 'string' }, topicId: { type: 'string' } } },
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const api = requireServices(deps).api;
      const name = request.params.topic;
      const res = await handleDeleteTopics(
        { topics: [{ name, topicId: ZERO_UUID }], topicNames: [], timeoutMs: 60000 },
        adminRequestContext(api, ApiKey.DeleteTopics, 6, request.ip),
      );
      const [result] = res.responses;
      throwIfKafkaError(result.errorCode, result.errorMessage ?? null, `Topic '${name}' was not deleted`);
      return { name, topicId: result.topicId };
    },
  );
}
