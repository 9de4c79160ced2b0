// admin/ room: reading records — one partition from an offset or a timestamp, and a search of a
// whole topic by key or header ("where did event X go"), bounded by the bytes it may scan.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Decompress } from '../protocol/record-batch.js';
import type { Partition } from '../replication/index.js';
import type { AdminServices } from './context.js';
import { HttpError, badRequest, errorSchema, notFound } from './http-errors.js';
import { CommittedRecordReader, showRecord, type ShownRecord } from './records.js';
import { requireServices, type AdminDeps } from './deps.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const DEFAULT_READ_BYTES = 1 << 20;
const MAX_READ_BYTES = 16 << 20;
const DEFAULT_SEARCH_BYTES = 64 << 20;
/** Bytes one partition reads per turn of a search, so every partition advances together. */
const SEARCH_CHUNK_BYTES = 1 << 20;

const encoding = { type: 'string', enum: ['utf8', 'base64'] } as const;
const recordSchema = {
  type: 'object',
  required: ['partition', 'offset', 'timestamp', 'key', 'value', 'keyEncoding', 'valueEncoding', 'headers'],
  properties: {
    partition: { type: 'integer' },
    offset: { type: 'integer' },
    timestamp: { type: 'integer' },
    key: { type: ['string', 'null'], description: 'UTF-8 text when valid, else base64 (see keyEncoding)' },
    value: { type: ['string', 'null'], description: 'UTF-8 text when valid, else base64 (see valueEncoding)' },
    keyEncoding: encoding,
    valueEncoding: encoding,
    headers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'value', 'valueEncoding'],
        properties: { key: { type: 'string' }, value: { type: ['string', 'null'] }, valueEncoding: encoding },
      },
    },
  },
} as const;

function decompressor(services: AdminServices): Decompress {
  return (codec, data) => services.engine.decompress(codec as Parameters<AdminServices['engine']['decompress']>[0], data);
}

function hostedPartition(services: AdminServices, topic: string, partition: number): Partition {
  const image = services.api.metadata.topic(topic);
  if (image === undefined) throw notFound(`Topic '${topic}' does not exist.`);
  if (partition >= image.partitions.length) throw notFound(`Topic '${topic}' has no partition ${partition}.`);
  const local = services.api.replicaManager.getPartition(topic, partition);
  if (local === undefined) {
    const leader = image.partitions[partition].leader;
    throw new HttpError(503, 'NOT_LEADER_OR_FOLLOWER', `${topic}-${partition} is not hosted by this broker; its leader is broker ${leader}`);
  }
  return local;
}

/** Parses "name:value" (the value may contain ':'). */
function parseHeaderFilter(raw: string): { name: string; value: Buffer } {
  const at = raw.indexOf(':');
  if (at <= 0) throw badRequest(`header must be name:value, got "${raw}"`);
  return { name: raw.slice(0, at), value: Buffer.from(raw.slice(at + 1), 'utf8') };
}

export function registerRecordRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get<{ Params: { topic: string; partition: number }; Querystring: { offset?: number; timestamp?: number; limit?: number; maxBytes?: number } }>(
    '/v1/topics/:topic/partitions/:partition/records',
    {
      schema: {
        tags: ['records'],
        summary: 'Committed records of a partition from an offset (default the log start) or the first at/after a timestamp',
        params: { type: 'object', required: ['topic', 'partition'], properties: { topic: { type: 'string' }, partition: { type: 'integer', minimum: 0 } } },
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'integer', minimum: 0 },
            timestamp: { type: 'integer', minimum: 0, description: 'ms since the epoch; wins over offset' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
            maxBytes: { type: 'integer', minimum: 1, maximum: MAX_READ_BYTES, default: DEFAULT_READ_BYTES, description: 'log bytes read at most (at least one batch)' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['records', 'nextOffset'],
            properties: { records: { type: 'array', items: recordSchema }, nextOffset: { type: 'integer' } },
          },
          400: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    (request) => {
      const services = requireServices(deps);
      const { topic, partition } = request.params;
      const q = request.query;
      const local = hostedPartition(services, topic, partition);
      const limit = q.limit ?? DEFAULT_LIMIT;
      const maxBytes = q.maxBytes ?? DEFAULT_READ_BYTES;
      const start =
        q.timestamp !== undefined ? (local.offsetForTimestamp(q.timestamp)?.offset ?? local.lastStableOffset) : (q.offset ?? local.logStartOffset);
      const reader = new CommittedRecordReader(local, start, decompressor(services));
      const records: ShownRecord[] = [];
      let read = 0;
      // Bounded: every read consumes at least one batch or ends the reader.
      while (!reader.done && records.length < limit && read < maxBytes) {
        const chunk = reader.next(maxBytes - read);
        read += chunk.bytes;
        for (const r of chunk.records) {
          if (records.length >= limit) break;
          records.push(showRecord(partition, r));
        }
      }
      const last = records.at(-1);
      const nextOffset = records.length >= limit && last !== undefined ? last.offset + 1 : reader.position;
      return { records, nextOffset };
    },
  );

  app.get<{ Params: { topic: string }; Querystring: { key?: string; header?: string; maxBytes?: number; limit?: number } }>(
    '/v1/topics/:topic/search',
    {
      schema: {
        tags: ['records'],
        summary: 'Find the committed records of a topic with a key and/or header, scanning every partition from its start',
        params: { type: 'object', required: ['topic'], properties: { topic: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: {
            key: { type: 'string', description: 'the record key, as UTF-8 text' },
            header: { type: 'string', description: 'name:value; the header value as UTF-8 text' },
            maxBytes: { type: 'integer', minimum: 1, default: DEFAULT_SEARCH_BYTES, description: 'log bytes scanned at most over all partitions (at most spool.admin.search.max.bytes)' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'matches returned at most' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['matches', 'scannedBytes', 'truncated'],
            properties: {
              matches: { type: 'array', items: recordSchema },
              scannedBytes: { type: 'integer' },
              truncated: { type: 'boolean', description: 'the byte or match bound stopped the scan before the end of every partition' },
              partitionsNotHosted: { type: 'array', items: { type: 'integer' }, description: 'partitions this broker does not host (not searched)' },
            },
          },
          400: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const services = requireServices(deps);
      const { topic } = request.params;
      const q = request.query;
      if (q.key === undefined && q.header === undefined) throw badRequest('Give key, header (name:value) or both');
      const bound = deps.config.getNumber('spool.admin.search.max.bytes');
      const maxBytes = q.maxBytes ?? Math.min(DEFAULT_SEARCH_BYTES, bound);
      if (maxBytes > bound) throw badRequest(`maxBytes ${maxBytes} is above spool.admin.search.max.bytes (${bound})`);
      const limit = q.limit ?? DEFAULT_LIMIT;
      const key = q.key === undefined ? null : Buffer.from(q.key, 'utf8');
      const header = q.header === undefined ? null : parseHeaderFilter(q.header);
      const image = services.api.metadata.topic(topic);
      if (image === undefined) throw notFound(`Topic '${topic}' does not exist.`);
      const decompress = decompressor(services);
      const readers: Array<{ partition: number; reader: CommittedRecordReader }> = [];
      const partitionsNotHosted: number[] = [];
      for (const p of image.partitions) {
        const local = services.api.replicaManager.getPartition(topic, p.partition);
        if (local === undefined) partitionsNotHosted.push(p.partition);
        else readers.push({ partition: p.partition, reader: new CommittedRecordReader(local, local.logStartOffset, decompress) });
      }
      const matches: ShownRecord[] = [];
      let scannedBytes = 0;
      let truncated = false;
      // Round robin over the partitions, one chunk each per turn. Bounded: every turn reads at
      // least one batch from each partition that is not done, and stops at maxBytes.
      for (;;) {
        const active = readers.filter((r) => !r.reader.done);
        if (active.length === 0) break;
        if (scannedBytes >= maxBytes || matches.length >= limit) {
          truncated = true;
          break;
        }
        for (const { partition, reader } of active) {
          if (scannedBytes >= maxBytes || matches.length >= limit) break;
          const chunk = reader.next(Math.min(SEARCH_CHUNK_BYTES, maxBytes - scannedBytes));
          scannedBytes += chunk.bytes;
          for (const r of chunk.records) {
            if (key !== null && r.key?.equals(key) !== true) continue;
            if (header !== null && !r.headers.some((h) => h.key === header.name && h.value?.equals(header.value) === true)) continue;
            if (matches.length < limit) matches.push(showRecord(partition, r));
            else truncated = true;
          }
        }
        await yieldToEventLoop();
      }
      matches.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      return { matches, scannedBytes, truncated, partitionsNotHosted };
    },
  );
}
