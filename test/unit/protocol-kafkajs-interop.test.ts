// protocol/ room tests: requests encoded by KafkaJS's own protocol code decode with our schemas,
// and our responses decode with KafkaJS's response decoders. KafkaJS covers the older versions
// (Produce ≤7, Fetch ≤11, Metadata ≤6…); our round-trip tests cover the rest.
import { createRequire } from 'node:module';
import t from 'tap';
import { ApiKey, decodeRequestBody, encodeResponse, type RecordsSlice } from '../../src/protocol/index.js';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/protocol/record-batch.js';

const require = createRequire(import.meta.url);
interface KjsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
type KjsRequestFactory = (args: unknown) => KjsRequest;
const kjsReq = (path: string): KjsRequestFactory => require(`kafkajs/src/protocol/requests/${path}/request`) as KjsRequestFactory;
const kjsRes = (path: string): ((raw: Buffer) => Promise<Record<string, unknown>>) =>
  (require(`kafkajs/src/protocol/requests/${path}/response`) as { decode: (raw: Buffer) => Promise<Record<string, unknown>> }).decode;
const Long = require('kafkajs/src/utils/long') as { fromInt(v: number): unknown };

async function body(factory: KjsRequestFactory, args: unknown): Promise<{ apiKey: number; apiVersion: number; buf: Buffer }> {
  const req = factory(args);
  const { buffer } = await req.encode();
  return { apiKey: req.apiKey, apiVersion: req.apiVersion, buf: buffer };
}

function decodeAll(r: { apiKey: number; apiVersion: number; buf: Buffer }): unknown {
  return decodeRequestBody(r.apiKey, r.apiVersion, r.buf, 0);
}

function joined(chunks: Array<Buffer | RecordsSlice>): Buffer {
  return Buffer.concat(chunks.map((c) => {
    if (!Buffer.isBuffer(c)) throw new Error('unexpected slice');
    return c;
  }));
}

/** Our response body without the correlation id (KafkaJS decoders take the body only). */
function responseBody(apiKey: number, apiVersion: number, value: unknown): Buffer {
  const { chunks } = encodeResponse(apiKey, apiVersion, 1, value as never);
  return joined(chunks).subarray(4);
}

t.test('KafkaJS Produce v3 and v7 requests decode; records are the batch bytes', async (t) => {
  for (const v of [3, 7]) {
    const r = await body(kjsReq(`produce/v${v}`), {
      acks: -1,
      timeout: 30000,
      transactionalId: null,
      producerId: Long.fromInt(-1),
      topicData: [{ topic: 'orders', partitions: [{ partition: 2, messages: [{ key: 'k', value: 'v', timestamp: 1000 }] }] }],
    });
    const req = decodeAll(r) as { acks: number; timeoutMs: number; topicData: Array<{ name: string; partitionData: Array<{ index: number; records: Buffer }> }> };
    t.equal(req.acks, -1);
    t.equal(req.timeoutMs, 30000);
    t.equal(req.topicData[0].name, 'orders');
    t.equal(req.topicData[0].partitionData[0].index, 2);
    const batch = decodeRecordBatch(req.topicData[0].partitionData[0].records);
    t.equal(batch.records[0].value?.toString(), 'v', `v${v} record value`);
  }
});

t.test('KafkaJS Fetch v11, Metadata v6, JoinGroup v5, OffsetCommit v5, ListOffsets v3 requests decode', async (t) => {
  const fetch = decodeAll(
    await body(kjsReq('fetch/v11'), {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 1048576,
      isolationLevel: 1,
      topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: '42', maxBytes: 1000 }] }],
      rackId: 'r1',
    }),
  ) as { maxWaitMs: number; isolationLevel: number; rackId: string; topics: Array<{ topic: string; partitions: Array<{ fetchOffset: number; partitionMaxBytes: number }> }> };
  t.equal(fetch.maxWaitMs, 500);
  t.equal(fetch.isolationLevel, 1);
  t.equal(fetch.rackId, 'r1');
  t.equal(fetch.topics[0].topic, 't');
  t.equal(fetch.topics[0].partitions[0].fetchOffset, 42);
  t.equal(fetch.topics[0].partitions[0].partitionMaxBytes, 1000);

  const md = decodeAll(await body(kjsReq('metadata/v6'), { topics: ['a', 'b'], allowAutoTopicCreation: false })) as {
    topics: Array<{ name: string }>;
    allowAutoTopicCreation: boolean;
  };
  t.same(md.topics.map((x) => x.name), ['a', 'b']);
  t.equal(md.allowAutoTopicCreation, false);

  const join = decodeAll(
    await body(kjsReq('joinGroup/v5'), {
      groupId: 'g',
      sessionTimeout: 10000,
      rebalanceTimeout: 60000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([1, 2]) }],
    }),
  ) as { groupId: string; sessionTimeoutMs: number; rebalanceTimeoutMs: number; protocols: Array<{ name: string; metadata: Buffer }> };
  t.equal(join.groupId, 'g');
  t.equal(join.sessionTimeoutMs, 10000);
  t.equal(join.rebalanceTimeoutMs, 60000);
  t.equal(join.protocols[0].name, 'RoundRobinAssigner');
  t.same([...join.protocols[0].metadata], [1, 2]);

  const commit = decodeAll(
    await body(kjsReq('offsetCommit/v5'), {
      groupId: 'g',
      groupGenerationId: 3,
      memberId: 'm',
      topics: [{ topic: 't', partitions: [{ partition: 1, offset: '99', metadata: 'meta' }] }],
    }),
  ) as { generationIdOrMemberEpoch: number; topics: Array<{ partitions: Array<{ committedOffset: number; committedMetadata: string }> }> };
  t.equal(commit.generationIdOrMemberEpoch, 3);
  t.equal(commit.topics[0].partitions[0].committedOffset, 99);
  t.equal(commit.topics[0].partitions[0].committedMetadata, 'meta');

  const lo = decodeAll(
    await body(kjsReq('listOffsets/v3'), { replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 0, timestamp: -2 }] }] }),
  ) as { topics: Array<{ partitions: Array<{ timestamp: number }> }> };
  t.equal(lo.topics[0].partitions[0].timestamp, -2);
});

t.test('our Metadata v6, ApiVersions v2, JoinGroup v5 and Produce v7 responses decode in KafkaJS', async (t) => {
  const md = await kjsRes('metadata/v6')(
    responseBody(ApiKey.Metadata, 6, {
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'c',
      controllerId: 1,
      topics: [{ errorCode: 0, name: 't', partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1] }] }],
    }),
  );
  t.match(md, { brokers: [{ nodeId: 1, host: 'localhost', port: 9092 }], clusterId: 'c', controllerId: 1 });
  t.match(md.topicMetadata, [{ topic: 't', partitionMetadata: [{ partitionId: 0, leader: 1, replicas: [1], isr: [1] }] }]);

  const av = await kjsRes('apiVersions/v2')(
    responseBody(ApiKey.ApiVersions, 2, { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 12 }] }),
  );
  t.match(av, { errorCode: 0, apiVersions: [{ apiKey: 0, minVersion: 0, maxVersion: 12 }] });

  const jg = await kjsRes('joinGroup/v5')(
    responseBody(ApiKey.JoinGroup, 5, {
      errorCode: 0,
      generationId: 4,
      protocolName: 'RoundRobinAssigner',
      leader: 'm1',
      memberId: 'm1',
      members: [{ memberId: 'm1', metadata: Buffer.from([7]) }],
    }),
  );
  t.match(jg, { generationId: 4, groupProtocol: 'RoundRobinAssigner', leaderId: 'm1', memberId: 'm1' });

  const pr = await kjsRes('produce/v7')(
    responseBody(ApiKey.Produce, 7, {
      responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 41 }] }],
    }),
  );
  t.match(pr, { topics: [{ topicName: 't', partitions: [{ partition: 0, errorCode: 0, baseOffset: '41' }] }] });
});

t.test('our Fetch v11 response with records decodes in KafkaJS', async (t) => {
  const batch = encodeRecordBatch([{ key: null, value: Buffer.from('hello'), timestamp: 5 }], { baseOffset: 10 });
  const fr = await kjsRes('fetch/v11')(
    responseBody(ApiKey.Fetch, 11, {
      responses: [
        {
          topic: 't',
          partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 11, lastStableOffset: 11, abortedTransactions: [], records: batch }],
        },
      ],
    }),
  );
  const partitions = (fr.responses as Array<{ partitions: Array<{ highWatermark: string; messages: Array<{ offset: string; value: Buffer }> }> }>)[0].partitions;
  t.equal(partitions[0].highWatermark, '11');
  t.equal(partitions[0].messages[0].offset, '10');
  t.equal(partitions[0].messages[0].value.toString(), 'hello');
});
