// protocol/ room tests: v2 record batches built and read in JS, cross-checked against KafkaJS's
// own record-batch codec (a real client's implementation, not ours).
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { ProtocolError } from '../../src/protocol/errors.js';
import {
  ControlRecordType,
  decodeRecordBatch,
  decodeRecordBatches,
  encodeControlBatch,
  encodeRecordBatch,
} from '../../src/protocol/record-batch.js';
import { crc32c } from '../../src/storage/ts/crc32c.js';

const require = createRequire(import.meta.url);
type KjsDecoderCtor = new (buf: Buffer) => unknown;
const KjsDecoder = require('kafkajs/src/protocol/decoder') as KjsDecoderCtor;
const kjsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  firstOffset: string;
  producerId: string;
  inTransaction: boolean;
  isControlBatch: boolean;
  records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }>;
}>;
const kjsRecordBatch = (require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (opts: Record<string, unknown>) => Promise<{ buffer: Buffer }> }).RecordBatch;
const kjsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (opts: Record<string, unknown>) => unknown;
const kjsLong = require('kafkajs/src/utils/long') as { fromValue(v: number | string): unknown; fromInt(v: number): unknown };

const records = [
  { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'h', value: Buffer.from('x') }], timestamp: 1_700_000_000_000 },
  { key: null, value: Buffer.from('second'), timestamp: 1_700_000_000_005 },
  { key: Buffer.from('k3'), value: null, headers: [{ key: 'n', value: null }], timestamp: 1_699_999_999_999 },
];

t.test('an encoded batch has Kafka header fields and a valid CRC-32C', async (t) => {
  const batch = encodeRecordBatch(records, { baseOffset: 100, producerId: 7, producerEpoch: 1, baseSequence: 3, partitionLeaderEpoch: 2 });
  t.equal(batch.readBigInt64BE(0), 100n);
  t.equal(batch.readInt32BE(8), batch.length - 12, 'batchLength = size - 12');
  t.equal(batch.readInt32BE(12), 2);
  t.equal(batch.readInt8(16), 2, 'magic 2');
  t.equal(batch.readUInt32BE(17), crc32c(batch, 21, batch.length));
  t.equal(batch.readInt32BE(23), 2, 'lastOffsetDelta');
  t.equal(Number(batch.readBigInt64BE(27)), 1_700_000_000_000, 'baseTimestamp is the first record');
  t.equal(Number(batch.readBigInt64BE(35)), 1_700_000_000_005, 'maxTimestamp');
  t.equal(Number(batch.readBigInt64BE(43)), 7);
  t.equal(batch.readInt32BE(57), 3, 'recordsCount');
});

t.test('our batches decode in KafkaJS', async (t) => {
  const batch = encodeRecordBatch(records, { baseOffset: 100, producerId: 7, isTransactional: true });
  const kjs = await kjsDecodeBatch(new KjsDecoder(batch));
  t.equal(kjs.firstOffset, '100');
  t.equal(kjs.producerId, '7');
  t.equal(kjs.inTransaction, true);
  t.same(kjs.records.map((r) => r.offset), ['100', '101', '102']);
  t.same(kjs.records.map((r) => r.timestamp), ['1700000000000', '1700000000005', '1699999999999']);
  t.equal(kjs.records[0].value?.toString(), 'v1');
  t.equal(kjs.records[0].headers.h.toString(), 'x');
  t.equal(kjs.records[1].key, null);
  t.equal(kjs.records[2].value, null);
});

t.test('our decoder reads our batches back', async (t) => {
  const batch = encodeRecordBatch(records, { baseOffset: 5 });
  const d = decodeRecordBatch(batch);
  t.equal(d.sizeInBytes, batch.length);
  t.equal(d.codec, 0);
  t.same(
    d.records.map((r) => ({ ...r, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, headers: r.headers.map((h) => ({ key: h.key, value: h.value?.toString() ?? null })) })),
    [
      { offset: 5, timestamp: 1_700_000_000_000, key: 'k1', value: 'v1', headers: [{ key: 'h', value: 'x' }] },
      { offset: 6, timestamp: 1_700_000_000_005, key: null, value: 'second', headers: [] },
      { offset: 7, timestamp: 1_699_999_999_999, key: 'k3', value: null, headers: [{ key: 'n', value: null }] },
    ],
  );
});

t.test('KafkaJS batches, plain and gzip-compressed, decode with ours', async (t) => {
  const kjsRecords = [
    kjsRecord({ offsetDelta: 0, timestampDelta: kjsLong.fromInt(0), key: Buffer.from('a'), value: Buffer.from('1'), headers: { hk: Buffer.from('hv') } }),
    kjsRecord({ offsetDelta: 1, timestampDelta: kjsLong.fromInt(10), key: null, value: Buffer.from('2') }),
  ];
  for (const compression of [0, 1]) {
    const { buffer } = await kjsRecordBatch({
      compression,
      firstOffset: kjsLong.fromValue(40),
      firstTimestamp: 1000,
      maxTimestamp: 1010,
      lastOffsetDelta: 1,
      producerId: kjsLong.fromValue(-1),
      records: kjsRecords,
    });
    const d = decodeRecordBatch(buffer, 0, (codec, data) => {
      t.equal(codec, 1);
      return gunzipSync(data);
    });
    t.equal(d.codec, compression);
    t.same(d.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString()]), [
      [40, 1000, 'a', '1'],
      [41, 1010, null, '2'],
    ]);
    t.same(d.records[0].headers.map((h) => [h.key, h.value?.toString()]), [['hk', 'hv']]);
  }
});

t.test('control batches carry the marker type and coordinator epoch', async (t) => {
  const batch = encodeControlBatch(ControlRecordType.COMMIT, 4, 123, { producerId: 9, producerEpoch: 2, baseOffset: 50 });
  const d = decodeRecordBatch(batch);
  t.ok(d.isControl);
  t.ok(d.isTransactional);
  t.equal(d.records[0].key?.readInt16BE(2), ControlRecordType.COMMIT);
  t.equal(d.records[0].value?.readInt32BE(2), 4);
  const kjs = await kjsDecodeBatch(new KjsDecoder(batch));
  t.equal(kjs.isControlBatch, true);
});

t.test('a corrupted byte fails the CRC; a cut batch is truncated', async (t) => {
  const batch = encodeRecordBatch(records);
  const bad = Buffer.from(batch);
  bad[bad.length - 3] ^= 0x55;
  t.throws(() => decodeRecordBatch(bad), ProtocolError);
  t.throws(() => decodeRecordBatch(batch.subarray(0, batch.length - 1)), ProtocolError);
  t.throws(() => decodeRecordBatch(batch.subarray(0, 30)), ProtocolError);
});

t.test('decodeRecordBatches reads concatenated batches and ignores a partial tail', async (t) => {
  const a = encodeRecordBatch(records.slice(0, 1), { baseOffset: 0 });
  const b = encodeRecordBatch(records.slice(1), { baseOffset: 1 });
  const all = Buffer.concat([a, b, b.subarray(0, 20)]);
  const batches = decodeRecordBatches(all);
  t.same(batches.map((x) => x.records.map((r) => r.offset)), [[0], [1, 2]]);
});
