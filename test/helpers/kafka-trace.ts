// test helper: a recording TCP proxy between Kafka clients and a broker (Spool or Apache Kafka).
// It forwards bytes untouched and, on the side, decodes every request and response with the
// protocol room's schemas, so a test can report exactly which APIs, versions and error codes a
// real client used (e.g. the transaction calls of issue 13). The broker must advertise the
// proxy's address (advertised.listeners) so clients keep talking through it after bootstrap.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { apiName, apiTable, decodeRequestHeader, errorName, Reader } from '../../src/protocol/index.js';

/** One request and (once seen) its response, reduced to the fields worth reporting. */
export interface TraceEvent {
  connection: number;
  /** clientSoftwareName/version from ApiVersions v3+ (when sent) and the client's role (see role()). */
  client: string;
  clientId: string | null;
  apiKey: number;
  api: string;
  version: number;
  request: Record<string, unknown[]>;
  response: Record<string, unknown[]> | null;
  /** Names of the non-zero error codes anywhere in the response. */
  errors: string[];
}

export interface TraceProxy {
  readonly port: number;
  readonly events: TraceEvent[];
  /** Where connections go; connections made before this is set wait for it. */
  setUpstream(host: string, port: number): void;
  stop(): Promise<void>;
}

/** Request fields collected wherever they occur in a request body. */
const REQUEST_FIELDS = new Set([
  'keyType',
  'key',
  'coordinatorKeys',
  'transactionalId',
  'v3AndBelowTransactionalId',
  'transactionTimeoutMs',
  'producerId',
  'v3AndBelowProducerId',
  'producerEpoch',
  'v3AndBelowProducerEpoch',
  'committed',
  'groupId',
  'generationId',
  'verifyOnly',
  'isolationLevel',
  'requireStable',
  'acks',
  'timestamp',
  'clientSoftwareName',
  'clientSoftwareVersion',
]);
/** Response fields collected wherever they occur in a response body. */
const RESPONSE_FIELDS = new Set(['producerId', 'producerEpoch', 'lastStableOffset', 'highWatermark', 'offset', 'committedOffset']);
const MAX_VALUES = 6;

/** Record-batch header facts for `records` fields (magic 2 layout). */
function batchFacts(buf: Buffer, out: Record<string, unknown[]>): void {
  let pos = 0;
  while (pos + 61 <= buf.length) {
    const length = buf.readInt32BE(pos + 8);
    if (buf.readInt8(pos + 16) !== 2) return;
    const attributes = buf.readInt16BE(pos + 21);
    const transactional = (attributes & 0x10) !== 0;
    const control = (attributes & 0x20) !== 0;
    add(out, 'batch', `${control ? 'control' : 'data'}${transactional ? '+txn' : ''}`);
    if (control) add(out, 'marker', `${controlType(buf, pos + 61)}@${String(buf.readBigInt64BE(pos))}`);
    pos += 12 + length;
  }
}

/** A control record's type (0 abort, 1 commit) from its key: version int16, type int16. */
function controlType(buf: Buffer, start: number): string {
  try {
    const r = new Reader(buf, start);
    r.varint(); // record length
    r.int8(); // attributes
    r.varint(); // timestamp delta
    r.varint(); // offset delta
    r.varint(); // key length
    r.int16(); // version
    const type = r.int16();
    return type === 0 ? 'abort' : type === 1 ? 'commit' : `type${type}`;
  } catch {
    return '?';
  }
}

/**
 * What kind of client a connection is, from its client id without the run-specific part:
 * "producer", "consumer", "adminclient", or the whole id for the broker's own clients
 * ("AddPartitionsManager-client-1", "broker-1-txn-marker-sender" in Apache Kafka).
 */
function role(clientId: string | null): string {
  if (clientId === null || clientId === '') return '(no client id)';
  const m = /^(producer|consumer|adminclient|rdkafka|kgo|kafkajs)\b/.exec(clientId);
  return m !== null ? m[1] : clientId;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function add(out: Record<string, unknown[]>, key: string, value: unknown): void {
  const list = (out[key] ??= []);
  if (list.length >= MAX_VALUES) return;
  const s = JSON.stringify(value);
  if (!list.some((v) => JSON.stringify(v) === s)) list.push(value);
}

function collect(value: unknown, fields: Set<string>, out: Record<string, unknown[]>, errors: Set<string>, key = ''): void {
  if (Buffer.isBuffer(value)) {
    if (key === 'records') batchFacts(value, out);
    return;
  }
  if (Array.isArray(value)) {
    if (key === 'abortedTransactions') add(out, 'abortedTransactions', value.length);
    if (key === 'finalizedFeatures' || key === 'supportedFeatures') {
      for (const f of value as Array<Record<string, unknown>>) {
        add(out, key, `${String(f.name)}=${String(f.maxVersionLevel ?? f.maxVersion)}`);
      }
      return;
    }
    for (const v of value) {
      if (fields.has(key) && (v === null || typeof v !== 'object')) add(out, key, v);
      else collect(v, fields, out, errors, key);
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if ((k === 'errorCode' || k === 'partitionErrorCode') && typeof v === 'number' && v !== 0) errors.add(errorName(v));
      else if (fields.has(k) && (v === null || typeof v !== 'object')) add(out, k, v);
      else collect(v, fields, out, errors, k);
    }
  }
}

function decodeBody(apiKey: number, version: number, frame: Buffer, offset: number, side: 'request' | 'response') {
  const entry = apiTable.get(apiKey);
  if (entry === undefined || version < entry.request.versions.min || version > entry.request.versions.max) return null;
  const schema = side === 'request' ? entry.request : entry.response;
  return schema.decode(new Reader(frame, offset), version);
}

/** Splits a byte stream into size-prefixed frames (without the prefix). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      onFrame(pending.subarray(4, 4 + size));
      pending = pending.subarray(4 + size);
    }
  };
}

export async function startTraceProxy(listenPort = 0): Promise<TraceProxy> {
  const events: TraceEvent[] = [];
  const sockets = new Set<Socket>();
  let upstream: { host: string; port: number } | null = null;
  const waiting: Array<() => void> = [];
  let connections = 0;

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.pause();
    const connection = ++connections;
    let software: string | null = null;
    const inflight = new Map<number, TraceEvent>();

    const onRequest = framer((frame) => {
      try {
        const h = decodeRequestHeader(frame);
        const request: Record<string, unknown[]> = {};
        const body = decodeBody(h.apiKey, h.apiVersion, frame, h.bodyOffset, 'request');
        if (body !== null) collect(body, REQUEST_FIELDS, request, new Set());
        const name = request.clientSoftwareName as unknown[] | undefined;
        const version = request.clientSoftwareVersion as unknown[] | undefined;
        if (h.apiKey === 18 && name !== undefined && name[0] !== '') software = `${text(name[0])}/${text(version?.[0] ?? '?')}`;
        const event: TraceEvent = {
          connection,
          client: software !== null ? `${software} ${role(h.clientId)}` : role(h.clientId),
          clientId: h.clientId,
          apiKey: h.apiKey,
          api: apiName(h.apiKey),
          version: h.apiVersion,
          request,
          response: null,
          errors: [],
        };
        events.push(event);
        inflight.set(h.correlationId, event);
      } catch {
        // Undecodable: still forwarded, just not traced.
      }
    });
    const onResponse = framer((frame) => {
      try {
        const correlationId = frame.readInt32BE(0);
        const event = inflight.get(correlationId);
        if (event === undefined) return;
        inflight.delete(correlationId);
        const entry = apiTable.get(event.apiKey);
        if (entry === undefined) return;
        let offset = 4;
        if (event.apiKey !== 18 && event.version <= entry.response.versions.max && entry.response.isFlexible(event.version)) {
          const r = new Reader(frame, 4);
          const count = r.uvarint();
          for (let i = 0; i < count; i++) {
            r.uvarint();
            r.skip(r.uvarint());
          }
          offset = r.pos;
        }
        const body = decodeBody(event.apiKey, event.version, frame, offset, 'response');
        if (body === null) return;
        const response: Record<string, unknown[]> = {};
        const errors = new Set<string>();
        collect(body, RESPONSE_FIELDS, response, errors);
        event.response = response;
        event.errors = [...errors];
      } catch {
        // ditto
      }
    });

    const open = () => {
      if (upstream === null) return;
      const broker = connect({ host: upstream.host, port: upstream.port });
      sockets.add(broker);
      broker.on('close', () => {
        sockets.delete(broker);
        client.destroy();
      });
      broker.on('error', () => client.destroy());
      client.on('close', () => broker.destroy());
      client.on('data', (chunk: Buffer) => {
        broker.write(chunk);
        onRequest(chunk);
      });
      broker.on('data', (chunk: Buffer) => {
        client.write(chunk);
        onResponse(chunk);
      });
      broker.once('connect', () => client.resume());
    };
    if (upstream !== null) open();
    else waiting.push(open);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    events,
    setUpstream(host, p) {
      upstream = { host, port: p };
      for (const open of waiting.splice(0)) open();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A compact, stable report of a trace: per client software, each API with the versions used, the
 * notable request values and the errors seen; plus the features the broker finalized.
 */
export function summarizeTrace(events: TraceEvent[], filter: (e: TraceEvent) => boolean = () => true): string[] {
  interface ApiUse {
    versions: Set<number>;
    notes: Map<string, Set<string>>;
    errors: Set<string>;
    count: number;
  }
  const byClient = new Map<string, Map<string, ApiUse>>();
  for (const e of events) {
    if (!filter(e)) continue;
    const apis = byClient.get(e.client) ?? new Map<string, ApiUse>();
    byClient.set(e.client, apis);
    const name = `${e.api}(${e.apiKey})`;
    const entry: ApiUse = apis.get(name) ?? { versions: new Set<number>(), notes: new Map<string, Set<string>>(), errors: new Set<string>(), count: 0 };
    apis.set(name, entry);
    entry.count++;
    entry.versions.add(e.version);
    for (const err of e.errors) entry.errors.add(err);
    const note = (k: string, values: unknown[] | undefined) => {
      if (values === undefined) return;
      const set = entry.notes.get(k) ?? new Set<string>();
      entry.notes.set(k, set);
      for (const v of values) set.add(text(v));
    };
    if (e.apiKey === 10) note('keyType', e.request.keyType);
    if (e.apiKey === 1 || e.apiKey === 2) note('isolationLevel', e.request.isolationLevel);
    if (e.apiKey === 0) {
      note('transactionalId', e.request.transactionalId);
      note('batch', e.request.batch);
    }
    if (e.apiKey === 24) note('verifyOnly', e.request.verifyOnly);
    if (e.apiKey === 26) note('committed', e.request.committed);
    if (e.apiKey === 9) note('requireStable', e.request.requireStable);
    if (e.apiKey === 18) note('finalizedFeatures', e.response?.finalizedFeatures);
  }
  const lines: string[] = [];
  for (const [client, apis] of [...byClient.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    lines.push(`${client}:`);
    const sorted = [...apis.entries()].sort((a, b) => Number(/\((\d+)\)/.exec(a[0])?.[1]) - Number(/\((\d+)\)/.exec(b[0])?.[1]));
    for (const [name, e] of sorted) {
      const notes = [...e.notes.entries()].filter(([, v]) => v.size > 0).map(([k, v]) => `${k}=${[...v].join('|')}`);
      const errors = e.errors.size > 0 ? ` errors=${[...e.errors].join('|')}` : '';
      lines.push(`  ${name} v${[...e.versions].sort((a, b) => a - b).join(',')} x${e.count}${notes.length > 0 ? ` ${notes.join(' ')}` : ''}${errors}`);
    }
  }
  return lines;
}
