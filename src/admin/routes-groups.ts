// admin/ room: consumer groups — list, describe with offsets and lag, reset offsets (only while
// the group is empty, as kafka-consumer-groups --reset-offsets refuses otherwise), delete.
import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../api/index.js';
import { ErrorCode, errorName } from '../errors.js';
import { decodeConsumerAssignment, groupOffsets } from './groups.js';
import { HttpError, badRequest, errorSchema, notFound, throwIfKafkaError } from './http-errors.js';
import { requireServices, type AdminDeps } from './deps.js';

const groupParams = { type: 'object', required: ['group'], properties: { group: { type: 'string', minLength: 1 } } } as const;

type ResetTo = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

const groupDetailSchema = {
  type: 'object',
  required: ['groupId', 'state', 'protocolType', 'protocol', 'members', 'offsets', 'totalLag'],
  properties: {
    groupId: { type: 'string' },
    state: { type: 'string', enum: ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'] },
    protocolType: { type: 'string' },
    protocol: { type: ['string', 'null'], description: 'The assignor of a Stable group' },
    members: {
      type: 'array',
      items: {
        type: 'object',
        required: ['memberId', 'clientId', 'host', 'assignments'],
        properties: {
          memberId: { type: 'string' },
          groupInstanceId: { type: ['string', 'null'] },
          clientId: { type: 'string' },
          host: { type: 'string' },
          assignments: {
            type: 'array',
            items: { type: 'object', required: ['topic', 'partition'], properties: { topic: { type: 'string' }, partition: { type: 'integer' } } },
          },
        },
      },
    },
    offsets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'committedOffset', 'logEndOffset', 'lag'],
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          committedOffset: { type: 'integer' },
          logEndOffset: { type: ['integer', 'null'], description: 'The high watermark; null when the partition is not hosted by this broker' },
          lag: { type: ['integer', 'null'] },
        },
      },
    },
    totalLag: { type: 'integer' },
  },
} as const;

/** 503 when another broker coordinates the group or its shard is loading. */
function checkCoordinator(api: ApiServices, groupId: string): void {
  const code = api.groupCoordinator.coordinatorErrorFor(groupId);
  if (code === ErrorCode.NONE) return;
  throw new HttpError(503, errorName(code), `This broker is not the loaded coordinator of group '${groupId}' (${errorName(code)}); ask the leader of __consumer_offsets-${api.groupCoordinator.partitionFor(groupId)}`);
}

function groupDetail(api: ApiServices, groupId: string): unknown {
  checkCoordinator(api, groupId);
  const [described] = api.groupCoordinator.describeGroups([groupId]);
  throwIfKafkaError(described.errorCode, null, `Group '${groupId}' cannot be described`);
  const offsets = groupOffsets(api, groupId);
  if (api.groupCoordinator.groupState(groupId) === null && offsets.length === 0) throw notFound(`Group '${groupId}' does not exist.`);
  const consumer = described.protocolType === 'consumer';
  return {
    groupId,
    state: described.groupState,
    protocolType: described.protocolType,
    protocol: described.protocolData === '' ? null : described.protocolData,
    members: described.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      host: m.clientHost,
      assignments: consumer ? decodeConsumerAssignment(m.memberAssignment) : [],
    })),
    offsets,
    totalLag: offsets.reduce((n, o) => n + (o.lag ?? 0), 0),
  };
}

/** The offset `to` names on a partition hosted here (clamped into the log, as the Kafka tool does). */
function targetOffset(api: ApiServices, topic: string, partition: number, to: ResetTo): number {
  const local = api.replicaManager.getPartition(topic, partition);
  if (local === undefined) throw new HttpError(503, 'NOT_LEADER_OR_FOLLOWER', `${topic}-${partition} is not hosted by this broker`);
  const start = local.logStartOffset;
  const end = local.highWatermark;
  if (to === 'earliest') return start;
  if (to === 'latest') return end;
  if ('offset' in to) return Math.min(Math.max(to.offset, start), end);
  return local.offsetForTimestamp(to.timestamp)?.offset ?? end;
}

export function registerGroupRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get(
    '/v1/groups',
    {
      schema: {
        tags: ['groups'],
        summary: 'Consumer groups coordinated by this broker',
        response: {
          200: {
            type: 'object',
            required: ['groups'],
            properties: {
              groups: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['groupId', 'state', 'protocolType', 'members'],
                  properties: { groupId: { type: 'string' }, state: { type: 'string' }, protocolType: { type: 'string' }, members: { type: 'integer' } },
                },
              },
            },
          },
          503: errorSchema,
        },
      },
    },
    () => {
      const api = requireServices(deps).api;
      const listed = api.groupCoordinator.listGroups([]);
      throwIfKafkaError(listed.errorCode, null, 'Consumer groups are not available');
      const described = api.groupCoordinator.describeGroups(listed.groups.map((g) => g.groupId));
      const groups = listed.groups
        .map((g, i) => ({ groupId: g.groupId, state: g.groupState, protocolType: g.protocolType, members: described[i]?.members.length ?? 0 }))
        .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
      return { groups };
    },
  );

  app.get<{ Params: { group: string } }>(
    '/v1/groups/:group',
    {
      schema: {
        tags: ['groups'],
        summary: 'A group: state, members with assignments, committed offsets and lag',
        params: groupParams,
        response: { 200: groupDetailSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    (request) => groupDetail(requireServices(deps).api, request.params.group),
  );

  app.post<{ Params: { group: string }; Body: { topic: string; partitions?: number[]; to: ResetTo } }>(
    '/v1/groups/:group/reset-offsets',
    {
      schema: {
        tags: ['groups'],
        summary: 'Reset the committed offsets of an empty group on a topic',
        security: [{ bearer: [] }],
        params: groupParams,
        body: {
          type: 'object',
          required: ['topic', 'to'],
          additionalProperties: false,
          properties: {
            topic: { type: 'string' },
            partitions: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'default every partition' },
            to: {
              oneOf: [
                { type: 'string', enum: ['earliest', 'latest'] },
                { type: 'object', required: ['offset'], additionalProperties: false, properties: { offset: { type: 'integer', minimum: 0 } } },
                { type: 'object', required: ['timestamp'], additionalProperties: false, properties: { timestamp: { type: 'integer', minimum: 0 } } },
              ],
            },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['groupId', 'offsets'],
            properties: {
              groupId: { type: 'string' },
              offsets: {
                type: 'array',
                items: { type: 'object', required: ['topic', 'partition', 'offset'], properties: { topic: { type: 'string' }, partition: { type: 'integer' }, offset: { type: 'integer' } } },
              },
            },
          },
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          409: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const api = requireServices(deps).api;
      const groupId = request.params.group;
      const { topic, to } = request.body;
      const image = api.metadata.topic(topic);
      if (image === undefined) throw notFound(`Topic '${topic}' does not exist.`);
      const partitions = request.body.partitions ?? image.partitions.map((p) => p.partition);
      for (const p of partitions) if (p >= image.partitions.length) throw badRequest(`Topic '${topic}' has no partition ${p}`);
      checkCoordinator(api, groupId);
      const state = api.groupCoordinator.groupState(groupId);
      if (state !== null && state !== 'Empty' && state !== 'Dead') {
        throw new HttpError(409, errorName(ErrorCode.NON_EMPTY_GROUP), `Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${state}.`);
      }
      const offsets = [...new Set(partitions)].sort((a, b) => a - b).map((partition) => ({ topic, partition, offset: targetOffset(api, topic, partition, to) }));
      // A commit without a generation: accepted only while the group has no members (as Kafka).
      const committed = await api.groupCoordinator.commitOffsets({
        groupId,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [{ name: topic, partitions: offsets.map((o) => ({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: -1, committedMetadata: null })) }],
      });
      for (const t of committed) for (const p of t.partitions) throwIfKafkaError(p.errorCode, null, `Offset of ${t.name}-${p.partitionIndex} not committed (${errorName(p.errorCode)})`);
      return { groupId, offsets };
    },
  );

  app.delete<{ Params: { group: string } }>(
    '/v1/groups/:group',
    {
      schema: {
        tags: ['groups'],
        summary: 'Delete an empty group and its committed offsets (DeleteGroups)',
        security: [{ bearer: [] }],
        params: groupParams,
        response: {
          200: { type: 'object', required: ['groupId'], properties: { groupId: { type: 'string' } } },
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          409: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const api = requireServices(deps).api;
      const groupId = request.params.group;
      checkCoordinator(api, groupId);
      const [result] = await api.groupCoordinator.deleteGroups([groupId]);
      const message =
        result.errorCode === ErrorCode.NON_EMPTY_GROUP
          ? `Group '${groupId}' is not empty.`
          : result.errorCode === ErrorCode.GROUP_ID_NOT_FOUND
            ? `Group '${groupId}' does not exist.`
            : null;
      throwIfKafkaError(result.errorCode, message, `Group '${groupId}' was not deleted`);
      return { groupId };
    },
  );
}
