// protocol/ room tests: every declared message round-trips at every version, and hand-checked
// bytes decode to what Kafka's definitions say.
import t from 'tap';
import {
  ApiKey,
  ErrorCode,
  ProtocolError,
  apis,
  decodeRequestBody,
  decodeRequestHeader,
  encodeApiVersionsUnsupported,
  encodeResponse,
  isSupported,
  supportedApis,
  type RequestFor,
} from '../../src/protocol/index.js';
import { Reader, Writer, type RecordsSlice } from '../../src/protocol/primitives.js';
import type { AnyMessageSchema } from '../../src/protocol/schema.js';
import { normalize, project, sampleStruct } from '../helpers/protocol.js';

function encode(schema: AnyMessageSchema, value: unknown, version: number): Buffer {
  const w = new Writer();
  schema.encodeUnchecked(w, value, version);
  return w.toBuffer();
}

function concat(chunks: Array<Buffer | RecordsSlice>): Buffer {
  return Buffer.concat(chunks.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(`<slice ${c.fd}:${c.position}:${c.length}>`))));
}

t.test('every message round-trips at every version with every field set', async (t) => {
  for (const [name, entry] of Object.entries(apis)) {
    for (const schema of [entry.request, entry.response] as AnyMessageSchema[]) {
      for (let v = schema.versions.min; v <= schema.versions.max; v++) {
        const flexible = schema.isFlexible(v);
        const sample = sampleStruct(schema.struct, v, flexible);
        const buf = encode(schema, sample, v);
        const r = new Reader(buf);
        const decoded = schema.decode(r, v);
        t.equal(r.remaining, 0, `${name} ${schema.name} v${v} consumed every byte`);
        t.same(project(decoded, sample), normalize(sample), `${schema.name} v${v} round-trips`);
        t.equal(encode(schema, decoded, v).toString('hex'), buf.toString('hex'), `${schema.name} v${v} re-encodes identically`);
      }
    }
  }
});

t.test('every truncation of a valid request is a ProtocolError', async (t) => {
  for (const entry of Object.values(apis)) {
    const schema = entry.request as AnyMessageSchema;
    for (const v of [schema.versions.min, schema.versions.max]) {
      const buf = encode(schema, sampleStruct(schema.struct, v, schema.isFlexible(v)), v);
      let thrown = 0;
      for (let cut = 0; cut < buf.length; cut++) {
        try {
          schema.decode(new Reader(buf.subarray(0, cut)), v);
        } catch (err) {
          if (err instanceof ProtocolError) thrown++;
          else throw err;
        }
      }
      t.equal(thrown, buf.length, `${schema.name} v${v}: all ${buf.length} truncations rejected`);
    }
  }
});

t.test('ApiVersions v3 request from a client decodes (header v2 + compact strings)', async (t) => {
  const frame = Buffer.from(
    '0012' + '0003' + '0000002a' + '0002' + Buffer.from('ab').toString('hex') + '00' +
      '08' + Buffer.from('kafkajs').toString('hex') + '04' + Buffer.from('2.2').toString('hex') + '00',
    'hex',
  );
  const h = decodeRequestHeader(frame);
  t.same(h, { apiKey: 18, apiVersion: 3, correlationId: 42, clientId: 'ab', bodyOffset: 13 });
  const body = decodeRequestBody(ApiKey.ApiVersions, 3, frame, h.bodyOffset);
  // clusterId/nodeId are v5 fields (KIP-1242): their defaults below v5.
  t.same(body, { clientSoftwareName: 'kafkajs', clientSoftwareVersion: '2.2', clusterId: null, nodeId: -1 });
});

t.test('ApiVersions at an unknown version: header decodes, answer is v0 UNSUPPORTED_VERSION', async (t) => {
  const frame = Buffer.from('0012' + '0063' + '00000007' + 'ffff' + '00' + '0000', 'hex');
  const h = decodeRequestHeader(frame);
  t.equal(h.apiVersion, 99);
  t.equal(h.correlationId, 7);
  t.equal(h.clientId, null);
  t.notOk(isSupported(h.apiKey, h.apiVersion));
  const { chunks, size } = encodeApiVersionsUnsupported(7);
  const buf = concat(chunks);
  t.equal(buf.length, size);
  const r = new Reader(buf);
  t.equal(r.int32(), 7, 'header v0: just the correlation id');
  t.equal(r.int16(), ErrorCode.UNSUPPORTED_VERSION);
  const count = r.int32();
  t.equal(count, supportedApis().length);
  const first = { apiKey: r.int16(), minVersion: r.int16(), maxVersion: r.int16() };
  t.same(first, { apiKey: 0, minVersion: 0, maxVersion: 13 });
});

t.test('Produce: advertised from v0, v0-2 rejected, v3 decodes hand-checked bytes', async (t) => {
  const produce = supportedApis().find((a) => a.apiKey === ApiKey.Produce);
  t.equal(produce?.minVersion, 0);
  t.notOk(isSupported(ApiKey.Produce, 2));
  t.ok(isSupported(ApiKey.Produce, 3));
  const records = Buffer.from('deadbeef', 'hex');
  const frame = Buffer.from(
    '0000' + '0003' + '00000005' + '0001' + '63' + // header v1, clientId "c"
      'ffff' + 'ffff' + '00007530' + // transactionalId null, acks -1, timeout 30000
      '00000001' + '0001' + '74' + // one topic "t"
      '00000001' + '00000002' + '00000004' + records.toString('hex'), // partition 2, 4 bytes of records
    'hex',
  );
  const h = decodeRequestHeader(frame);
  t.same(h, { apiKey: 0, apiVersion: 3, correlationId: 5, clientId: 'c', bodyOffset: 11 });
  const body: RequestFor<0> = decodeRequestBody(ApiKey.Produce, 3, frame, h.bodyOffset);
  t.equal(body.transactionalId, null);
  t.equal(body.acks, -1);
  t.equal(body.timeoutMs, 30000);
  const p = body.topicData[0].partitionData[0];
  t.equal(body.topicData[0].name, 't');
  t.equal(p.index, 2);
  t.equal(p.records?.toString('hex'), 'deadbeef');
  t.equal(p.records?.buffer, frame.buffer, 'records are a view of the frame, not a copy');
});

t.test('Produce v0-2: refused by isSupported, but answerable with UNSUPPORTED_VERSION in v2 format', async (t) => {
  const frame = Buffer.from('0000' + '0002' + '00000006' + 'ffff' + 'ffff' + '00007530' + '00000001' + '0001' + '74' + '00000001' + '00000000' + 'ffffffff', 'hex');
  const h = decodeRequestHeader(frame);
  t.notOk(isSupported(h.apiKey, h.apiVersion));
  const req = decodeRequestBody(ApiKey.Produce, 2, frame, h.bodyOffset);
  t.equal(req.topicData[0].partitionData[0].records, null);
  const { chunks } = encodeResponse(ApiKey.Produce, 2, 6, {
    responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION, baseOffset: -1 }] }],
  });
  t.equal(
    concat(chunks).toString('hex'),
    '00000006' + '00000001' + '0001' + '74' + '00000001' + '00000000' + '0023' + 'ffffffffffffffff' + 'ffffffffffffffff' + '00000000',
  );
});

t.test('Produce v13 names topics by id (hand-checked bytes)', async (t) => {
  const id = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  const body = Buffer.from(
    '00' + 'ffff' + '00007530' + // transactionalId null (compact), acks -1, timeout 30000
      '02' + id.toString('hex') + // one topic, by id
      '02' + '00000001' + '05' + 'deadbeef' + '00' + '00' + '00', // partition 1, 4 bytes, tags
    'hex',
  );
  const req = decodeRequestBody(ApiKey.Produce, 13, body, 0);
  t.equal(req.topicData[0].topicId, id.toString('base64url'));
  t.equal(req.topicData[0].name, '', 'no name on the wire at v13');
  t.equal(req.topicData[0].partitionData[0].records?.toString('hex'), 'deadbeef');
  const { chunks } = encodeResponse(ApiKey.Produce, 13, 3, {
    responses: [{ topicId: id.toString('base64url'), partitionResponses: [{ index: 1, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, baseOffset: -1 }] }],
    throttleTimeMs: 0,
  });
  const r = new Reader(concat(chunks));
  t.equal(r.int32(), 3);
  t.equal(r.uvarint(), 0, 'response header tags');
  t.equal(r.uvarint(), 2, 'one topic');
  t.equal(r.uuid(), id.toString('base64url'), 'topic id, no name');
  t.equal(r.uvarint(), 2, 'one partition');
  t.equal(r.int32(), 1);
  t.equal(r.int16(), 100);
});

t.test('Fetch v18: the partition highWatermark is tag 1, left out at its default', async (t) => {
  const body = (highWatermark?: number) => ({
    maxWaitMs: 0,
    minBytes: 0,
    topics: [{ topicId: 'AAECAwQFBgcICQoLDA0ODw', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1, highWatermark }] }],
  });
  const plain = encode(apis.Fetch.request, body(), 18);
  const withHw = encode(apis.Fetch.request, body(5), 18);
  t.equal(withHw.length, plain.length + 10, 'tag 1 adds tag, size and 8 bytes');
  t.ok(withHw.includes(Buffer.from('0101080000000000000005', 'hex')), 'one tagged field: tag 1, 8 bytes, 5');
  const decodedPlain = decodeRequestBody(ApiKey.Fetch, 18, plain, 0);
  t.equal(decodedPlain.topics[0].partitions[0].highWatermark, 2 ** 63, 'absent: unsupported (Long.MAX_VALUE)');
  t.ok(decodedPlain.topics[0].partitions[0].highWatermark > Number.MAX_SAFE_INTEGER);
  t.equal(decodeRequestBody(ApiKey.Fetch, 18, withHw, 0).topics[0].partitions[0].highWatermark, 5);
  t.equal(encode(apis.Fetch.request, body(), 17).length, plain.length, 'v17 has no such field');
});

t.test('JoinGroup v0: no rebalanceTimeoutMs on the wire', async (t) => {
  const body = Buffer.from('0001' + '67' + '00002710' + '0000' + '0008' + Buffer.from('consumer').toString('hex') + '00000001' + '0005' + Buffer.from('range').toString('hex') + '00000001' + '01', 'hex');
  const req = decodeRequestBody(ApiKey.JoinGroup, 0, body, 0);
  t.same([req.groupId, req.sessionTimeoutMs, req.rebalanceTimeoutMs, req.memberId, req.protocolType], ['g', 10000, -1, '', 'consumer']);
  t.equal(req.protocols[0].name, 'range');
  t.equal(req.protocols[0].metadata.toString('hex'), '01');
});

t.test('Metadata v0 request: empty list; v1 null list means all topics', async (t) => {
  const v0 = decodeRequestBody(ApiKey.Metadata, 0, Buffer.from('00000001' + '0001' + '74', 'hex'), 0);
  t.same(v0, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 't' }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const v1 = decodeRequestBody(ApiKey.Metadata, 1, Buffer.from('ffffffff', 'hex'), 0);
  t.equal(v1.topics, null);
  t.throws(() => decodeRequestBody(ApiKey.Metadata, 0, Buffer.from('ffffffff', 'hex'), 0), ProtocolError);
});

t.test('Fetch response with a file slice: header v1, records as their own chunk', async (t) => {
  const slice = { fd: 12, position: 4096, length: 100 };
  const { chunks, size } = encodeResponse(ApiKey.Fetch, 12, 9, {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 't',
        partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 10, abortedTransactions: null, records: slice }],
      },
    ],
  });
  t.equal(chunks.length, 3);
  t.same(chunks[1], slice);
  const head = chunks[0] as Buffer;
  const tail = chunks[2] as Buffer;
  t.equal(size, head.length + 100 + tail.length);
  const r = new Reader(head);
  t.equal(r.int32(), 9);
  t.equal(r.uvarint(), 0, 'response header v1 tagged fields');
  t.equal(r.int32(), 0);
  t.equal(r.int16(), 0);
  t.equal(r.int32(), 0);
  t.equal(r.uvarint(), 2, 'one topic');
  t.equal(r.string(true), 't');
  t.equal(r.uvarint(), 2, 'one partition');
  t.equal(r.int32(), 0);
  t.equal(r.int16(), 0);
  t.equal(r.int64(), 10);
  t.equal(r.int64(), -1, 'lastStableOffset default');
  t.equal(r.int64(), -1, 'logStartOffset default');
  t.equal(r.uvarint(), 0, 'abortedTransactions null');
  t.equal(r.int32(), -1, 'preferredReadReplica default');
  t.equal(r.uvarint(), 101, 'records compact length');
  t.equal(r.remaining, 0);
  t.equal(tail.toString('hex'), '00' + '00' + '00', 'partition, topic and body tagged-field counts');
});

t.test('Metadata v0 response is exact bytes', async (t) => {
  const { chunks } = encodeResponse(ApiKey.Metadata, 0, 1, {
    brokers: [{ nodeId: 1, host: 'h', port: 9092 }],
    topics: [
      {
        errorCode: 0,
        name: 't',
        partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1] }],
      },
    ],
  });
  t.equal(
    concat(chunks).toString('hex'),
    '00000001' + '00000001' + '00000001' + '000168' + '00002384' + '00000001' + '0000' + '000174' + '00000001' + '0000' +
      '00000000' + '00000001' + '00000001' + '00000001' + '00000001' + '00000001',
  );
});

t.test('malformed headers are ProtocolErrors carrying the correlation id when known', async (t) => {
  t.throws(() => decodeRequestHeader(Buffer.from('0012', 'hex')), ProtocolError);
  try {
    decodeRequestHeader(Buffer.from('0003000000000009' + '0010' + '61', 'hex'));
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof ProtocolError);
    t.equal((err as ProtocolError).correlationId, 9);
  }
});

t.test('supportedApis lists every table entry by key and can be narrowed to served APIs', async (t) => {
  const all = supportedApis();
  t.same(all.map((a) => a.apiKey), Object.values(apis).map((e) => e.request.apiKey).sort((a, b) => a - b));
  t.same(all.find((a) => a.apiKey === ApiKey.Fetch), { apiKey: 1, minVersion: 4, maxVersion: 18 });
  t.same(all.find((a) => a.apiKey === ApiKey.JoinGroup), { apiKey: 11, minVersion: 0, maxVersion: 9 });
  t.same(all.find((a) => a.apiKey === ApiKey.InitProducerId), { apiKey: 22, minVersion: 0, maxVersion: 5 }, 'v6 is unstable in Kafka 4.1');
  t.same(all.find((a) => a.apiKey === ApiKey.Metadata), { apiKey: 3, minVersion: 0, maxVersion: 13 });
  const served = supportedApis((k) => k === ApiKey.ApiVersions || k === ApiKey.Metadata);
  t.same(served.map((a) => a.apiKey), [3, 18]);
  const { chunks } = encodeApiVersionsUnsupported(1, served);
  t.equal(concat(chunks).readInt32BE(6), 2, 'the v0 answer lists only the served APIs');
});

t.test('flexible versions, hand-checked: Metadata v12 request and ApiVersions v3 response', async (t) => {
  const md = decodeRequestBody(
    ApiKey.Metadata,
    12,
    Buffer.from('02' + '00'.repeat(16) + '0274' + '00' + '01' + '00' + '00', 'hex'),
    0,
  );
  t.same(md, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 't' }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const { chunks } = encodeResponse(ApiKey.ApiVersions, 3, 5, {
    errorCode: 0,
    apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
    throttleTimeMs: 0,
  });
  // Header v0 (no tagged fields even though v3 is flexible), compact array of 1, entry tags,
  // throttle, body tags (no features: all tagged fields at their defaults).
  t.equal(concat(chunks).toString('hex'), '00000005' + '0000' + '02' + '0012' + '0000' + '0004' + '00' + '00000000' + '00');
});
