// broker room tests: record-level validation seen through the Produce API, on both engines. A batch
// whose header claims 2^31-1 records but holds one is answered INVALID_RECORD, nothing is
// appended (the log end offset does not jump by 2^31), and the partition keeps working.
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { loadEngine } from '../../src/storage/loader.js';
import { buildBatch, decodeBatches, fixCrc } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;

const nativeAvailable = await loadEngine('native').then(
  () => true,
  () => false,
);

function batchOf(n: number, prefix: string): Buffer {
  return buildBatch({
    baseTimestamp: Date.now(),
    records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${prefix}-${i}`, timestampDelta: i })),
  });
}

/** One record, but recordsCount 2^31-1 and lastOffsetDelta 2^31-2 to match, CRC fixed up. */
function hugeCountBatch(): Buffer {
  const b = batchOf(1, 'huge');
  b.writeInt32BE(2 ** 31 - 2, 23);
  b.writeInt32BE(2 ** 31 - 1, 57);
  fixCrc(b);
  return b;
}

for (const engine of ['ts', 'native'] as const) {
  t.test(`${engine} engine: a batch claiming 2^31-1 records is answered INVALID_RECORD and the partition stays usable`, async (t) => {
    if (engine === 'native' && !nativeAvailable) {
      t.fail('native engine not built (npm run build:native)');
      return;
    }
    const d = tempDir();
    const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1', engine });
    t.teardown(async () => {
      await b.stop();
      d.cleanup();
    });
    t.equal(b.broker.engine.name, engine);
    await b.broker.createTopic('records', 1);
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.close());
    const produce = async (records: Buffer): Promise<ProduceRes['responses'][number]['partitionResponses'][number]> => {
      const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: 'records', partitionData: [{ index: 0, records }] }],
      });
      return res.responses[0].partitionResponses[0];
    };

    const first = await produce(batchOf(2, 'before'));
    t.equal(first.errorCode, ErrorCode.NONE);
    t.equal(first.baseOffset, 0);

    const refused = await produce(hugeCountBatch());
    t.equal(refused.errorCode, ErrorCode.INVALID_RECORD, 'INVALID_RECORD (87)');
    t.equal(refused.baseOffset, -1);
    t.match(refused.errorMessage ?? '', /record 1/, 'the message names the missing record');
    t.equal(b.broker.logManager.getLog('records', 0)!.logEndOffset, 2, 'log end offset unchanged');

    const garbage = batchOf(3, 'zstd');
    garbage.writeInt16BE(4, 21); // claims zstd; the records are not a zstd frame
    fixCrc(garbage);
    t.equal((await produce(garbage)).errorCode, ErrorCode.INVALID_RECORD, 'undecompressable payload: INVALID_RECORD');

    const after = await produce(batchOf(3, 'after'));
    t.equal(after.errorCode, ErrorCode.NONE, 'the next produce is accepted');
    t.equal(after.baseOffset, 2, 'at the offset after the last good batch');

    const fetched = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'records', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const part = fetched.responses[0].partitions[0];
    t.equal(part.errorCode, ErrorCode.NONE);
    t.equal(part.highWatermark, 5);
    const values = decodeBatches(part.records!).flatMap((batch) => batch.records.map((r) => `${r.offset}:${r.value?.toString() ?? ''}`));
    t.same(values, ['0:before-0', '1:before-1', '2:after-0', '3:after-1', '4:after-2']);
  });
}

t.test('a compacted topic refuses records without a key (INVALID_RECORD, recordErrors not needed); keyed ones pass', async (t) => {
  const d = tempDir();
  const b = await startBroker({ dataDir: d.dir, port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    await b.stop();
    d.cleanup();
  });
  await b.broker.createTopic('table', 1, { 'cleanup.policy': 'compact' });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());
  const produce = async (records: Buffer): Promise<number> => {
    const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: 'table', partitionData: [{ index: 0, records }] }],
    });
    return res.responses[0].partitionResponses[0].errorCode;
  };
  const keyless = buildBatch({ baseTimestamp: Date.now(), records: [{ key: 'a', value: '1' }, { value: 'no key' }] });
  t.equal(await produce(keyless), ErrorCode.INVALID_RECORD, 'a keyless record in the batch: INVALID_RECORD');
  t.equal(b.broker.logManager.getLog('table', 0)?.logEndOffset, 0, 'nothing of the batch was written');
  t.equal(await produce(batchOf(2, 'keyed')), ErrorCode.NONE, 'keyed records are accepted');
});
