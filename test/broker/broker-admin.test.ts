// broker room tests: admin and producer-id APIs over raw sockets and KafkaJS — DescribeCluster,
// OffsetForLeaderEpoch, IncrementalAlterConfigs, DeleteTopics by id, InitProducerId, idempotence;
// and connection behaviour: idle timeout, half-close.
import t from 'tap';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { DeleteTopicsRequest, DeleteTopicsResponse } from '../../src/protocol/messages/delete-topics.js';
import { DescribeClusterRequest, DescribeClusterResponse } from '../../src/protocol/messages/describe-cluster.js';
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../../src/protocol/messages/describe-log-dirs.js';
import { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../../src/protocol/messages/incremental-alter-configs.js';
import { FindCoordinatorRequest, FindCoordinatorResponse } from '../../src/protocol/messages/find-coordinator.js';
import { InitProducerIdRequest, InitProducerIdResponse } from '../../src/protocol/messages/init-producer-id.js';
import { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../../src/protocol/messages/offset-for-leader-epoch.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/messages/api-versions.js';
import { frame, RawClient, requestHeader, tempDir } from '../helpers/broker.js';

type Decoded<S extends { decodeBuffer(b: Buffer, v: number): unknown }> = ReturnType<S['decodeBuffer']>;

const data = tempDir();
let running: RunningBroker;
t.before(async () => {
  running = await startBroker({ dataDir: data.dir, port: 0, host: '127.0.0.1', engine: 'ts', config: { 'connections.max.idle.ms': 400 } });
});
t.teardown(async () => {
  await running.stop();
  data.cleanup();
});

t.test('DescribeCluster lists this broker', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<Decoded<typeof DescribeClusterResponse>>(60, 1, DescribeClusterRequest, DescribeClusterResponse, {
    includeClusterAuthorizedOperations: false,
    endpointType: 1,
  });
  t.equal(res.errorCode, 0);
  t.equal(res.clusterId, running.broker.clusterId);
  t.same(res.brokers.map((b) => [b.brokerId, b.port]), [[1, running.port]]);
});

t.test('DescribeLogDirs reports each partition replica with its size and lag, filtered as asked', async (t) => {
  await running.broker.createTopic('dirs', 2);
  const { buildBatch } = await import('../helpers/batches.js');
  const batch = buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
  running.broker.replicaManager.getPartition('dirs', 1)!.appendRecordsToLeader(batch, 1, 'client', Date.now());
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<Decoded<typeof DescribeLogDirsResponse>>(35, 4, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: [{ topic: 'dirs', partitions: [1] }] });
  t.equal(res.errorCode, 0);
  t.equal(res.results.length, 1);
  const dir = res.results[0];
  t.equal(dir.logDir, (await import('node:path')).resolve(data.dir));
  t.same(dir.topics, [{ name: 'dirs', partitions: [{ partitionIndex: 1, partitionSize: batch.length, offsetLag: 0, isFutureKey: false }] }], 'only the asked partition, its bytes on disk, no lag');
  t.ok(dir.totalBytes > 0 && dir.usableBytes > 0 && dir.usableBytes <= dir.totalBytes, 'v4 reports the dir capacity');
  const all = await c.request<Decoded<typeof DescribeLogDirsResponse>>(35, 1, DescribeLogDirsRequest, DescribeLogDirsResponse, { topics: null });
  t.ok(all.results[0].topics.some((x) => x.name === 'dirs' && x.partitions.length === 2), 'null topics: every partition');
});

t.test('OffsetForLeaderEpoch: epoch 0 ends at the log end offset', async (t) => {
  const topic = await running.broker.createTopic('epochs', 1);
  const { buildBatch } = await import('../helpers/batches.js');
  running.broker.replicaManager.getPartition(topic.name, 0)!.appendRecordsToLeader(buildBatch({ baseTimestamp: Date.now(), records: [{ value: 'a' }, { value: 'b' }] }), 1, 'client', Date.now());
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<Decoded<typeof OffsetForLeaderEpochResponse>>(23, 4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, {
    replicaId: -1,
    topics: [{ topic: 'epochs', partitions: [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }, { partition: 3, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
  });
  t.same(res.topics[0].partitions[0], { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 2 });
  t.equal(res.topics[0].partitions[1].errorCode, 3);
});

t.test('IncrementalAlterConfigs SET / DELETE / APPEND, and DeleteTopics by id', async (t) => {
  const topic = await running.broker.createTopic('incr', 1, { 'retention.ms': '5000' });
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const res = await c.request<Decoded<typeof IncrementalAlterConfigsResponse>>(44, 1, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, {
    resources: [
      {
        resourceType: 2,
        resourceName: 'incr',
        configs: [
          { name: 'retention.ms', configOperation: 1, value: null },
          { name: 'segment.bytes', configOperation: 0, value: '65536' },
          { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
        ],
      },
      { resourceType: 2, resourceName: 'missing', configs: [{ name: 'retention.ms', configOperation: 0, value: '1' }] },
      { resourceType: 2, resourceName: 'incr', configs: [{ name: 'retention.ms', configOperation: 0, value: 'x' }] },
    ],
    validateOnly: false,
  });
  t.equal(res.responses[0].errorCode, 0);
  t.equal(res.responses[1].errorCode, 3, 'unknown topic');
  t.equal(res.responses[2].errorCode, 40, 'INVALID_CONFIG');
  t.same(running.broker.metadata.topic('incr')?.configs, { 'segment.bytes': '65536', 'cleanup.policy': 'delete,compact' });
  t.equal(running.broker.logManager.getLog('incr', 0)?.config.segmentBytes, 65536);
  const del = await c.request<Decoded<typeof DeleteTopicsResponse>>(20, 6, DeleteTopicsRequest, DeleteTopicsResponse, {
    topics: [{ name: null, topicId: topic.topicId }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }],
    timeoutMs: 1000,
  });
  t.same(del.responses.map((r) => [r.name, r.errorCode]), [['incr', 0], [null, 100]]);
  t.equal(running.broker.metadata.topic('incr'), undefined);
});

t.test('InitProducerId: ids are allocated; a transactional id gets its id from the transaction coordinator, the epoch bumped each time', async (t) => {
  const c = await RawClient.connect(running.port);
  t.teardown(() => c.close());
  const a = await c.request<Decoded<typeof InitProducerIdResponse>>(22, 4, InitProducerIdRequest, InitProducerIdResponse, {
    transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1,
  });
  const b = await c.request<Decoded<typeof InitProducerIdResponse>>(22, 4, InitProducerIdRequest, InitProducerIdResponse, {
    transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1,
  });
  t.equal(a.errorCode, 0);
  t.not(a.producerId, b.producerId);
  t.equal(a.producerEpoch, 0);
  const found = await c.request<Decoded<typeof FindCoordinatorResponse>>(10, 4, FindCoordinatorRequest, FindCoordinatorResponse, {
    key: '', keyType: 1, coordinatorKeys: ['tx-1'],
  });
  t.same(found.coordinators.map((x) => [x.key, x.errorCode, x.port]), [['tx-1', 0, running.port]], 'FindCoordinator key type 1: this broker (it creates __transaction_state)');
  const init = () =>
    c.request<Decoded<typeof InitProducerIdResponse>>(22, 4, InitProducerIdRequest, InitProducerIdResponse, {
      transactionalId: 'tx-1', transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1,
    });
  const first = await init();
  const second = await init();
  t.same([first.errorCode, first.producerEpoch], [0, 0], 'a new transactional id: epoch 0');
  t.same([second.errorCode, second.producerId, second.producerEpoch], [0, first.producerId, 1], 'the same id again: same producer id, next epoch (the previous instance is fenced)');
  t.not(first.producerId, a.producerId);
  const tooLong = await c.request<Decoded<typeof InitProducerIdResponse>>(22, 4, InitProducerIdRequest, InitProducerIdResponse, {
    transactionalId: 'tx-1', transactionTimeoutMs: 900001, producerId: -1, producerEpoch: -1,
  });
  t.equal(tooLong.errorCode, 50, 'above transaction.max.timeout.ms: INVALID_TRANSACTION_TIMEOUT');
});

t.test('a KafkaJS idempotent producer works', async (t) => {
  const kafka = new Kafka({ brokers: [`127.0.0.1:${running.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'idem', numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  for (let i = 0; i < 3; i++) await producer.send({ topic: 'idem', acks: -1, messages: [{ value: `i${i}` }, { value: `j${i}` }] });
  t.equal(running.broker.logManager.getLog('idem', 0)?.logEndOffset, 6);
});

t.test('idle connections are closed after connections.max.idle.ms', async (t) => {
  const c = await RawClient.connect(running.port);
  const started = Date.now();
  await c.closed;
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 300 && elapsed < 3000, `closed after ${elapsed} ms`);
});

t.test('a half-closed client still gets its responses', async (t) => {
  const c = await RawClient.connect(running.port);
  c.write(frame(Buffer.concat([requestHeader(18, 0, 42, false), ApiVersionsRequest.encodeToBuffer({}, 0)])));
  c.socket.end();
  const f = await c.nextFrame();
  t.equal(f?.readInt32BE(0), 42);
  t.equal(ApiVersionsResponse.decodeBuffer(f!.subarray(4), 0).errorCode, 0);
  await c.closed;
});
