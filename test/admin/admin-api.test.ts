// admin room tests: the admin HTTP plane of a real broker — every REST route, records read and
// key/header search across partitions with data written by KafkaJS, /metrics names and values
// after producing and consuming, the status probes and the OpenAPI document.
import t from 'tap';
import kafkajs, { CompressionTypes, logLevel, Partitioners, type Kafka as KafkaClient } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { RawClient, tempDir } from '../helpers/broker.js';

const { Kafka } = kafkajs;
type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;

const data = tempDir('spool-admin-');
let running: RunningBroker;
let base = '';

function client(): KafkaClient {
  return new Kafka({ clientId: 'admin-test', brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // /metrics is text
  }
  return { status: res.status, body: parsed, text };
}

/** The value of one series in Prometheus text, e.g. metric('x_total{topic="a"}'). */
function metric(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Runs a consumer of `groupId` until it has seen `count` records, then stops it (the group empties). */
async function consumeAll(groupId: string, topic: string, count: number): Promise<void> {
  const consumer = client().consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen} of ${count} consumed`)), 30000);
    void consumer.run({
      autoCommitInterval: 100,
      eachMessage: () => {
        seen++;
        if (seen === count) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  // Disconnect commits what was consumed and leaves the group.
  await consumer.disconnect();
}

t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', config: { 'spool.admin.listeners': 'http://127.0.0.1:0' } });
  const address = running.broker.adminAddress;
  if (address === null) throw new Error('admin plane not started');
  base = `http://127.0.0.1:${address.port}`;
});
t.teardown(async () => {
  await running.stop();
  data.cleanup();
});

const binaryValue = Buffer.from([0xff, 0xfe, 0x00, 0x01]);

t.test('status probes: live, and ready once logs, listener and groups are up', async (t) => {
  const live = await call('GET', '/v1/status/live');
  t.equal(live.status, 200);
  t.same(live.body, { status: 'live' });
  const ready = await call('GET', '/v1/status/ready');
  t.equal(ready.status, 200);
  t.same(ready.body, { status: 'ready' });
});

t.test('brokers: cluster id, controller, this broker with its Kafka port', async (t) => {
  const r = await call('GET', '/v1/brokers');
  t.equal(r.status, 200);
  t.equal(r.body.clusterId, running.broker.clusterId);
  t.equal(r.body.controllerId, 1);
  t.same(r.body.brokers, [{ nodeId: 1, host: '127.0.0.1', port: running.port, rack: null }]);
});

t.test('topics: create, list, describe, errors as JSON with Kafka codes', async (t) => {
  const created = await call('POST', '/v1/topics', { name: 'orders', partitions: 3, configs: { 'retention.ms': '86400000' } });
  t.equal(created.status, 201, created.text);
  t.equal(created.body.name, 'orders');
  t.equal((created.body.partitions as unknown[]).length, 3);
  t.equal((created.body.configs as Record<string, string>)['retention.ms'], '86400000');
  t.same(created.body.configOverrides, { 'retention.ms': '86400000' });

  const again = await call('POST', '/v1/topics', { name: 'orders', partitions: 1 });
  t.equal(again.status, 409);
  t.equal(again.body.error, 'TOPIC_ALREADY_EXISTS');
  t.type(again.body.message, 'string');

  const badName = await call('POST', '/v1/topics', { name: 'bad name!' });
  t.equal(badName.status, 400);
  t.equal(badName.body.error, 'INVALID_TOPIC_EXCEPTION');
  const badBody = await call('POST', '/v1/topics', { partitions: 2 });
  t.equal(badBody.status, 400, 'schema validation: name is required');
  t.equal(badBody.body.error, 'BadRequest');
  const badConfig = await call('POST', '/v1/topics', { name: 'x', configs: { 'retention.ms': 'soon' } });
  t.equal(badConfig.status, 400);
  t.equal(badConfig.body.error, 'INVALID_CONFIG');

  const list = await call('GET', '/v1/topics');
  t.equal(list.status, 200);
  t.same((list.body.topics as unknown[]).find((x) => (x as { name: string }).name === 'orders'), { name: 'orders', partitions: 3, replicationFactor: 1, internal: false });

  const detail = await call('GET', '/v1/topics/orders');
  t.equal(detail.status, 200);
  t.match(detail.body.topicId, /^[A-Za-z0-9_-]{22}$/);
  t.same((detail.body.partitions as unknown[])[0], { partition: 0, leader: 1, replicas: [1], isr: [1], logStartOffset: 0, highWatermark: 0, sizeBytes: 0 });

  const missing = await call('GET', '/v1/topics/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.error, 'NotFound');
  const noRoute = await call('GET', '/v1/nothing-here');
  t.equal(noRoute.status, 404);
});

t.test('records and search over data written by KafkaJS; metrics and stats follow the traffic', async (t) => {
  const producer = client().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = Array.from({ length: 60 }, (_, i) => ({
    key: `order-${i}`,
    value: i === 10 ? null : i === 11 ? binaryValue : `{"order":${i}}`,
    partition: i % 3,
    headers: i === 44 ? { 'trace-id': 'abc-123' } : undefined,
  }));
  await producer.send({ topic: 'orders', acks: -1, messages: messages.slice(0, 30) });
  await producer.send({ topic: 'orders', acks: -1, compression: CompressionTypes.GZIP, messages: messages.slice(30) });
  await producer.disconnect();

  // Partition 1 holds orders 1, 4, 7, 10, 13, … at offsets 0, 1, 2, 3, 4, …
  const page = await call('GET', '/v1/topics/orders/partitions/1/records?offset=2&limit=3');
  t.equal(page.status, 200, page.text);
  const records = page.body.records as Array<Record<string, unknown>>;
  t.same(records.map((r) => r.offset), [2, 3, 4]);
  t.same(records.map((r) => r.key), ['order-7', 'order-10', 'order-13']);
  t.equal(records[0].value, '{"order":7}');
  t.equal(records[0].keyEncoding, 'utf8');
  t.equal(records[1].value, null, 'a null value stays null');
  t.equal(page.body.nextOffset, 5);
  t.type(records[0].timestamp, 'number');
  t.same(records[0].headers, []);

  const binary = await call('GET', '/v1/topics/orders/partitions/2/records?offset=3&limit=1');
  const [rec] = binary.body.records as Array<Record<string, unknown>>;
  t.equal(rec.key, 'order-11');
  t.equal(rec.value, binaryValue.toString('base64'), 'bytes that are not UTF-8 come as base64');
  t.equal(rec.valueEncoding, 'base64');

  const compressed = await call('GET', '/v1/topics/orders/partitions/0/records?offset=10&limit=100');
  const tail = compressed.body.records as Array<Record<string, unknown>>;
  t.same(tail.map((r) => r.key), Array.from({ length: 10 }, (_, i) => `order-${30 + 3 * i}`), 'gzip batches decoded');
  t.equal(compressed.body.nextOffset, 20, 'the end of the partition');

  const first = tail[0];
  const byTime = await call('GET', `/v1/topics/orders/partitions/0/records?timestamp=${String(first.timestamp)}&limit=1`);
  t.ok((byTime.body.records as Array<{ offset: number }>)[0].offset <= 10, 'the first record at or after the timestamp');
  const outOfRange = await call('GET', '/v1/topics/orders/partitions/7/records');
  t.equal(outOfRange.status, 404);

  const found = await call('GET', '/v1/topics/orders/search?key=order-37');
  t.equal(found.status, 200, found.text);
  t.same((found.body.matches as Array<Record<string, unknown>>).map((m) => [m.partition, m.offset, m.key, m.value]), [[1, 12, 'order-37', '{"order":37}']]);
  t.equal(found.body.truncated, false);
  t.ok((found.body.scannedBytes as number) > 0);

  const byHeader = await call('GET', `/v1/topics/orders/search?header=${encodeURIComponent('trace-id:abc-123')}`);
  const hits = byHeader.body.matches as Array<Record<string, unknown>>;
  t.same(hits.map((m) => [m.partition, m.key]), [[2, 'order-44']]);
  t.same(hits[0].headers, [{ key: 'trace-id', value: 'abc-123', valueEncoding: 'utf8' }]);
  const none = await call('GET', '/v1/topics/orders/search?key=order-99');
  t.same(none.body.matches, []);
  const bounded = await call('GET', '/v1/topics/orders/search?key=order-59&maxBytes=1');
  t.equal(bounded.body.truncated, true, 'a byte bound below the data stops the scan');
  const noFilter = await call('GET', '/v1/topics/orders/search');
  t.equal(noFilter.status, 400);
  const tooMuch = await call('GET', '/v1/topics/orders/search?key=a&maxBytes=99999999999');
  t.equal(tooMuch.status, 400, 'above spool.admin.search.max.bytes');

  await consumeAll('billing', 'orders', 60);
  // One failed fetch: an offset past the end of partition 0.
  const raw = await RawClient.connect(running.port);
  const res = await raw.request<FetchRes>(1, 11, FetchRequest, FetchResponse, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'orders', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 999, logStartOffset: -1, partitionMaxBytes: 1024 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  raw.close();
  t.equal(res.responses[0].partitions[0].errorCode, 1, 'OFFSET_OUT_OF_RANGE');

  // One failed produce: clients may not write to an internal topic.
  const refusedProducer = new Kafka({ clientId: 'admin-test', brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).producer();
  await refusedProducer.connect();
  await t.rejects(refusedProducer.send({ topic: '__consumer_offsets', messages: [{ value: 'no' }] }));
  await refusedProducer.disconnect();

  const m = await call('GET', '/metrics');
  t.equal(m.status, 200);
  const text = m.text;
  t.equal(metric(text, 'kafka_server_brokertopicmetrics_messagesin_total{topic="orders"}'), 60);
  const bytesIn = metric(text, 'kafka_server_brokertopicmetrics_bytesin_total{topic="orders"}') ?? 0;
  t.ok(bytesIn > 60 * 10, `bytes in ${bytesIn}`);
  const bytesOut = metric(text, 'kafka_server_brokertopicmetrics_bytesout_total{topic="orders"}') ?? 0;
  t.ok(bytesOut >= bytesIn, `bytes out ${bytesOut} (every batch consumed once)`);
  t.equal(metric(text, 'kafka_server_brokertopicmetrics_failedfetchrequests_total{topic="orders"}'), 1);
  t.equal(metric(text, 'kafka_server_brokertopicmetrics_failedproducerequests_total{topic="__consumer_offsets"}'), 1);
  t.match(text, /kafka_network_requestmetrics_requests_total\{request="Produce",version="\d+"\} 3\n/, 'two sends and the refused one');
  t.match(text, /kafka_network_requestmetrics_requests_total\{request="Fetch",version="\d+"\} \d+/);
  t.match(text, /kafka_network_requestmetrics_totaltimems_bucket\{le="\+Inf",request="Produce"\} 3\n/);
  t.match(text, /kafka_network_requestmetrics_totaltimems_count\{request="JoinGroup"\} \d+/);
  const hosted = running.broker.replicaManager.allPartitions().length;
  t.ok(hosted > 3, 'orders and __consumer_offsets');
  t.equal(metric(text, 'kafka_server_replicamanager_partitioncount'), hosted);
  t.equal(metric(text, 'kafka_server_replicamanager_leadercount'), hosted);
  t.equal(metric(text, 'kafka_server_replicamanager_underreplicatedpartitions'), 0);
  t.equal(metric(text, 'kafka_controller_kafkacontroller_offlinepartitionscount'), 0);
  t.equal(metric(text, 'kafka_controller_kafkacontroller_activecontrollercount'), 1);
  t.equal(metric(text, 'kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="0"}'), 0);
  t.equal(metric(text, 'kafka_consumergroup_current_offset{consumergroup="billing",topic="orders",partition="1"}'), 20);
  t.equal(metric(text, 'kafka_log_log_logendoffset{topic="orders",partition="2"}'), 20);
  t.ok((metric(text, 'kafka_log_log_size{topic="orders",partition="0"}') ?? 0) > 0);
  t.ok((metric(text, 'kafka_server_socketservermetrics_connection_count{listener="PLAINTEXT"}') ?? -1) >= 0);
  t.equal(metric(text, 'spool_storage_engine_info{engine="ts"}'), 1);
  t.match(text, /\nnodejs_eventloop_lag_seconds \d/);

  const stats = await call('GET', '/v1/stats');
  t.equal(stats.status, 200);
  t.type(stats.body.time, 'number');
  t.same((stats.body.topics as unknown[]).find((x) => (x as { name: string }).name === 'orders'), { name: 'orders', bytesIn, messagesIn: 60, bytesOut });

  // Five more records: the group lags by five.
  const more = client().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await more.connect();
  await more.send({ topic: 'orders', messages: Array.from({ length: 5 }, (_, i) => ({ key: `late-${i}`, value: 'x', partition: 0 })) });
  await more.disconnect();
  const after = (await call('GET', '/metrics')).text;
  t.equal(metric(after, 'kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="0"}'), 5);
  t.equal(metric(after, 'kafka_consumergroup_lag_sum{consumergroup="billing",topic="orders"}'), 5);
});

t.test('groups: list, describe with lag, reset offsets only while empty, delete', async (t) => {
  const list = await call('GET', '/v1/groups');
  t.equal(list.status, 200);
  t.same((list.body.groups as unknown[]).find((g) => (g as { groupId: string }).groupId === 'billing'), { groupId: 'billing', state: 'Empty', protocolType: 'consumer', members: 0 });

  const detail = await call('GET', '/v1/groups/billing');
  t.equal(detail.status, 200, detail.text);
  t.equal(detail.body.state, 'Empty');
  t.equal(detail.body.totalLag, 5);
  t.same(detail.body.offsets, [
    { topic: 'orders', partition: 0, committedOffset: 20, logEndOffset: 25, lag: 5 },
    { topic: 'orders', partition: 1, committedOffset: 20, logEndOffset: 20, lag: 0 },
    { topic: 'orders', partition: 2, committedOffset: 20, logEndOffset: 20, lag: 0 },
  ]);
  t.equal((await call('GET', '/v1/groups/nobody')).status, 404);

  const earliest = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', to: 'earliest' });
  t.equal(earliest.status, 200, earliest.text);
  t.same(earliest.body.offsets, [0, 1, 2].map((partition) => ({ topic: 'orders', partition, offset: 0 })));
  t.equal((await call('GET', '/v1/groups/billing')).body.totalLag, 65);
  const one = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', partitions: [1], to: { offset: 7 } });
  t.same(one.body.offsets, [{ topic: 'orders', partition: 1, offset: 7 }]);
  const clamped = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', partitions: [2], to: { offset: 1000 } });
  t.same(clamped.body.offsets, [{ topic: 'orders', partition: 2, offset: 20 }], 'clamped to the end of the log');
  const latest = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', partitions: [0], to: 'latest' });
  t.same(latest.body.offsets, [{ topic: 'orders', partition: 0, offset: 25 }]);
  const byTime = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', partitions: [0], to: { timestamp: 0 } });
  t.same(byTime.body.offsets, [{ topic: 'orders', partition: 0, offset: 0 }]);
  t.same((await call('GET', '/v1/groups/billing')).body.offsets, [
    { topic: 'orders', partition: 0, committedOffset: 0, logEndOffset: 25, lag: 25 },
    { topic: 'orders', partition: 1, committedOffset: 7, logEndOffset: 20, lag: 13 },
    { topic: 'orders', partition: 2, committedOffset: 20, logEndOffset: 20, lag: 0 },
  ]);
  const badTo = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', to: 'yesterday' });
  t.equal(badTo.status, 400);
  const badTopic = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'nope', to: 'earliest' });
  t.equal(badTopic.status, 404);

  // An active member: its assignment shows, and reset and delete are refused with 409.
  const consumer = client().consumer({ groupId: 'billing', maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  let stable: Answer | null = null;
  await consumer.run({ eachMessage: () => Promise.resolve() });
  for (let i = 0; i < 100 && stable === null; i++) {
    const d = await call('GET', '/v1/groups/billing');
    if (d.body.state === 'Stable') stable = d;
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.ok(stable, 'the group became Stable');
  if (stable !== null) {
    t.equal(stable.body.protocol, 'RoundRobinAssigner');
    const [member] = stable.body.members as Array<{ clientId: string; host: string; assignments: unknown[] }>;
    t.equal(member.clientId, 'admin-test');
    t.match(member.host, /127\.0\.0\.1/);
    t.same(member.assignments, [0, 1, 2].map((partition) => ({ topic: 'orders', partition })));
  }
  const refused = await call('POST', '/v1/groups/billing/reset-offsets', { topic: 'orders', to: 'earliest' });
  t.equal(refused.status, 409);
  t.equal(refused.body.error, 'NON_EMPTY_GROUP');
  const notDeleted = await call('DELETE', '/v1/groups/billing');
  t.equal(notDeleted.status, 409);
  await consumer.disconnect();

  const deleted = await call('DELETE', '/v1/groups/billing');
  t.equal(deleted.status, 200, deleted.text);
  t.equal((await call('GET', '/v1/groups/billing')).status, 404);
  t.equal((await call('DELETE', '/v1/groups/billing')).status, 404);
});

t.test('topic configs, partitions and deletion', async (t) => {
  const set = await call('PATCH', '/v1/topics/orders/configs', { configs: { 'cleanup.policy': 'compact', 'retention.ms': null } });
  t.equal(set.status, 200, set.text);
  t.same(set.body.configOverrides, { 'cleanup.policy': 'compact' }, 'null deletes the override');
  t.equal((set.body.configs as Record<string, string>)['retention.ms'], '604800000', 'back to the broker default');
  const invalid = await call('PATCH', '/v1/topics/orders/configs', { configs: { 'min.insync.replicas': '0' } });
  t.equal(invalid.status, 400);
  t.equal(invalid.body.error, 'INVALID_CONFIG');
  const unknownTopic = await call('PATCH', '/v1/topics/nope/configs', { configs: {} });
  t.equal(unknownTopic.status, 404);

  const grown = await call('POST', '/v1/topics/orders/partitions', { count: 4 });
  t.equal(grown.status, 200, grown.text);
  t.equal((grown.body.partitions as unknown[]).length, 4);
  const shrink = await call('POST', '/v1/topics/orders/partitions', { count: 2 });
  t.equal(shrink.status, 400);
  t.equal(shrink.body.error, 'INVALID_PARTITIONS');

  const gone = await call('DELETE', '/v1/topics/orders');
  t.equal(gone.status, 200);
  t.equal(gone.body.name, 'orders');
  t.equal((await call('GET', '/v1/topics/orders')).status, 404);
  t.equal((await call('DELETE', '/v1/topics/orders')).status, 404);
});

t.test('read-committed: records of aborted transactions and markers are left out', async (t) => {
  t.equal((await call('POST', '/v1/topics', { name: 'payments', partitions: 2 })).status, 201);
  const producer = client().producer({ transactionalId: 'admin-test-txn', maxInFlightRequests: 1, idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const aborted = await producer.transaction();
  await aborted.send({ topic: 'payments', messages: [0, 1].map((partition) => ({ key: 'ghost', value: `aborted-${partition}`, partition })) });
  await aborted.abort();
  const committed = await producer.transaction();
  await committed.send({ topic: 'payments', messages: [0, 1].map((partition) => ({ key: 'real', value: `committed-${partition}`, partition })) });
  await committed.commit();

  const ghost = await call('GET', '/v1/topics/payments/search?key=ghost');
  t.same(ghost.body.matches, [], 'aborted records are not found');
  t.ok((ghost.body.scannedBytes as number) > 0, 'they were scanned');
  const real = await call('GET', '/v1/topics/payments/search?key=real');
  t.same((real.body.matches as Array<Record<string, unknown>>).map((m) => [m.partition, m.offset, m.value]), [[0, 2, 'committed-0'], [1, 2, 'committed-1']]);
  const page = await call('GET', '/v1/topics/payments/partitions/0/records');
  t.same((page.body.records as Array<Record<string, unknown>>).map((r) => [r.offset, r.key]), [[2, 'real']], 'offset 0 aborted, 1 and 3 markers');
  t.equal(page.body.nextOffset, 4);
});

t.test('OpenAPI document: 3.1, every route with its schemas', async (t) => {
  const r = await call('GET', '/openapi.json');
  t.equal(r.status, 200);
  interface Operation {
    responses: Partial<Record<string, { content?: Partial<Record<string, { schema?: unknown }>> }>>;
    requestBody?: unknown;
    parameters?: unknown[];
  }
  const doc = r.body as { openapi: string; info: { title: string }; paths: Partial<Record<string, Partial<Record<string, Operation>>>> };
  t.equal(doc.openapi, '3.1.0');
  t.type(doc.info.title, 'string');
  const expected: Array<[string, string, string]> = [
    ['get', '/metrics', '200'],
    ['get', '/v1/status/live', '200'],
    ['get', '/v1/status/ready', '200'],
    ['get', '/v1/brokers', '200'],
    ['get', '/v1/stats', '200'],
    ['get', '/v1/topics', '200'],
    ['post', '/v1/topics', '201'],
    ['get', '/v1/topics/{topic}', '200'],
    ['patch', '/v1/topics/{topic}/configs', '200'],
    ['post', '/v1/topics/{topic}/partitions', '200'],
    ['delete', '/v1/topics/{topic}', '200'],
    ['get', '/v1/groups', '200'],
    ['get', '/v1/groups/{group}', '200'],
    ['post', '/v1/groups/{group}/reset-offsets', '200'],
    ['delete', '/v1/groups/{group}', '200'],
    ['get', '/v1/topics/{topic}/partitions/{partition}/records', '200'],
    ['get', '/v1/topics/{topic}/search', '200'],
  ];
  for (const [method, path, status] of expected) {
    const op = doc.paths[path]?.[method];
    t.ok(op, `${method.toUpperCase()} ${path} is documented`);
    const content = op?.responses[status]?.content ?? {};
    t.ok(Object.values(content).some((c) => c?.schema !== undefined), `${method.toUpperCase()} ${path} has a ${status} response schema`);
  }
  for (const [method, path] of [['post', '/v1/topics'], ['patch', '/v1/topics/{topic}/configs'], ['post', '/v1/groups/{group}/reset-offsets']]) {
    t.ok(doc.paths[path]?.[method]?.requestBody, `${method.toUpperCase()} ${path} has a request body schema`);
  }
  const records = doc.paths['/v1/topics/{topic}/partitions/{partition}/records']?.get;
  t.same((records?.parameters as Array<{ name: string }>).map((p) => p.name).sort(), ['limit', 'maxBytes', 'offset', 'partition', 'timestamp', 'topic']);
  const errorResponse = doc.paths['/v1/topics/{topic}']?.get?.responses['404'];
  t.ok(errorResponse?.content?.['application/json']?.schema, '404 documented with the error schema');
});
