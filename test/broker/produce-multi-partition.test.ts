// broker room tests: one Produce request carrying several partitions, on both engines. Every
// partition is answered on its own: a refused one (corrupt batch, unknown partition or topic)
// gets its error and leaves its log unchanged while the request's other partitions are appended;
// pipelined requests to the same partitions are appended, and answered, in request order.
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { FetchRequest, FetchResponse } from '../../src/protocol/messages/fetch.js';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/messages/produce.js';
import { loadEngine } from '../../src/storage/loader.js';
import { buildBatch, decodeBatches } from '../helpers/batches.js';
import { RawClient, tempDir } from '../helpers/broker.js';

type FetchRes = ReturnType<typeof FetchResponse.decodeBuffer>;
type ProduceRes = ReturnType<typeof ProduceResponse.decodeBuffer>;

const nativeAvailable = await loadEngine('native').then(
  () => true,
  () => false,
);

function batchOf(values: string[]): Buffer {
  return buildBatch({ baseTimestamp: Date.now(), records: values.map((v, i) => ({ key: null, value: v, timestampDelta: i })) });
}

async function fetchValues(c: RawClient, topic: string, partition: number): Promise<string[]> {
  const res = await c.request<FetchRes>(1, 12, FetchRequest, FetchResponse, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const records = res.responses[0].partitions[0].records;
  return records === null ? [] : decodeBatches(records).flatMap((b) => b.records.map((r) => `${r.offset}:${r.value?.toString() ?? ''}`));
}

for (const engine of ['ts', 'native'] as const) {
  t.test(`${engine} engine: multi-partition produce answers per partition and appends in request order`, async (t) => {
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
    await b.broker.createTopic('multi', 4);
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.close());

    for (const acks of [1, -1]) {
      const before = [0, 1, 2, 3].map((p) => b.broker.logManager.getLog('multi', p)!.logEndOffset);
      const corrupt = batchOf(['bad-0', 'bad-1']);
      corrupt[corrupt.length - 1] ^= 0x55; // the CRC no longer matches
      const res = await c.request<ProduceRes>(0, 9, ProduceRequest, ProduceResponse, {
        transactionalId: null,
        acks,
        timeoutMs: 5000,
        topicData: [
          {
            name: 'multi',
            partitionData: [
              // Two batches for partition 0 in one partition entry: written together, in order.
              { index: 0, records: Buffer.concat([batchOf([`a${acks}-0`, `a${acks}-1`]), batchOf([`a${acks}-2`])]) },
              { index: 1, records: corrupt },
              { index: 2, records: batchOf([`c${acks}-0`]) },
              { index: 9, records: batchOf(['nowhere']) },
              { index: 3, records: batchOf([`d${acks}-0`, `d${acks}-1`]) },
            ],
          },
          { name: 'no-such-topic', partitionData: [{ index: 0, records: batchOf(['lost']) }] },
        ],
      });
      const parts = res.responses[0].partitionResponses;
      t.same(
        parts.map((p) => [p.index, p.errorCode, p.baseOffset]),
        [
          [0, ErrorCode.NONE, before[0]],
          [1, ErrorCode.CORRUPT_MESSAGE, -1],
          [2, ErrorCode.NONE, before[2]],
          [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1],
          [3, ErrorCode.NONE, before[3]],
        ],
        `acks=${acks}: each partition answered on its own, in request order`,
      );
      t.ok(parts.filter((p) => p.errorCode === ErrorCode.NONE).every((p) => p.logStartOffset === 0), 'logStartOffset on the appended ones');
      t.same(res.responses[1].partitionResponses.map((p) => p.errorCode), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], 'unknown topic');
      t.same(
        [0, 1, 2, 3].map((p) => b.broker.logManager.getLog('multi', p)!.logEndOffset),
        [before[0] + 3, before[1], before[2] + 1, before[3] + 2],
        'the refused partition is unchanged, the others appended',
      );
    }

    // 30 pipelined requests, each to partitions 1 and 2, sent before any answer is read.
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(
        c.send(0, 9, ProduceRequest, {
          transactionalId: null,
          acks: i % 2 === 0 ? 1 : -1,
          timeoutMs: 5000,
          topicData: [
            {
              name: 'multi',
              partitionData: [
                { index: 1, records: batchOf([`p${i}-0`, `p${i}-1`]) },
                { index: 2, records: batchOf([`q${i}`]) },
              ],
            },
          ],
        }),
      );
    }
    const bases: Array<[number, number]> = [];
    for (const id of ids) {
      const r = await c.receive<ProduceRes>(ProduceResponse, 9, id, 0);
      const [p1, p2] = r.responses[0].partitionResponses;
      t.equal(p1.errorCode + p2.errorCode, ErrorCode.NONE);
      bases.push([p1.baseOffset, p2.baseOffset]);
    }
    t.same(
      bases,
      Array.from({ length: 30 }, (_, i) => [2 * i, 2 + i]),
      'answers in request order with offsets in request order',
    );
    t.same(
      await fetchValues(c, 'multi', 1),
      Array.from({ length: 30 }, (_, i) => [`${2 * i}:p${i}-0`, `${2 * i + 1}:p${i}-1`]).flat(),
      'partition 1: the pipelined records in request order',
    );
    t.same(
      await fetchValues(c, 'multi', 2),
      ['0:c1-0', '1:c-1-0', ...Array.from({ length: 30 }, (_, i) => `${2 + i}:q${i}`)],
      'partition 2: the earlier records, then the pipelined ones in order',
    );
    t.same(await fetchValues(c, 'multi', 0), ['0:a1-0', '1:a1-1', '2:a1-2', '3:a-1-0', '4:a-1-1', '5:a-1-2'], 'partition 0: both batches of each entry, in order');
  });
}
