// protocol/ room tests: wire primitives and the schema engine.
import t from 'tap';
import { ProtocolError } from '../../src/protocol/errors.js';
import { Reader, Writer, ZERO_UUID, uvarintSize } from '../../src/protocol/primitives.js';
import { array, int32, int64, message, records, string, struct, uuid } from '../../src/protocol/schema.js';

t.test('integers round-trip at their limits', async (t) => {
  const w = new Writer(1);
  w.int8(-128);
  w.int16(-32768);
  w.uint16(65535);
  w.int32(-2147483648);
  w.uint32(4294967295);
  w.int64(Number.MAX_SAFE_INTEGER);
  w.int64(-Number.MAX_SAFE_INTEGER);
  w.int64(-1);
  w.float64(1.5);
  const r = new Reader(w.toBuffer());
  t.equal(r.int8(), -128);
  t.equal(r.int16(), -32768);
  t.equal(r.uint16(), 65535);
  t.equal(r.int32(), -2147483648);
  t.equal(r.uint32(), 4294967295);
  t.equal(r.int64(), Number.MAX_SAFE_INTEGER);
  t.equal(r.int64(), -Number.MAX_SAFE_INTEGER);
  t.equal(r.int64(), -1);
  t.equal(r.float64(), 1.5);
  t.equal(r.remaining, 0);
});

t.test('int64 beyond 2^53 decodes to the nearest double and encodes back within int64', async (t) => {
  t.equal(new Reader(Buffer.from('7fffffffffffffff', 'hex')).int64(), 2 ** 63, 'Long.MAX_VALUE: the nearest double');
  t.equal(new Reader(Buffer.from('1000000000000000', 'hex')).int64(), 2 ** 60, '2^60 exactly');
  t.equal(new Reader(Buffer.from('8000000000000000', 'hex')).int64(), -(2 ** 63), 'Long.MIN_VALUE');
  const w = new Writer();
  w.int64(2 ** 60);
  w.int64(2 ** 63);
  w.int64(-(2 ** 63));
  t.equal(w.toBuffer().toString('hex'), '1000000000000000' + '7fffffffffffffff' + '8000000000000000', 'exact, then clamped to int64');
  t.throws(() => new Writer().int64(1.5), RangeError, 'not an integer');
  t.ok(ProtocolError, 'ProtocolError stays the decoder error type');
});

t.test('varints use zig-zag and match known encodings', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [64, '8001'],
    [300, 'd804'],
  ];
  for (const [v, hex] of cases) {
    const w = new Writer();
    w.varint(v);
    t.equal(w.toBuffer().toString('hex'), hex, `varint ${v}`);
    t.equal(new Reader(Buffer.from(hex, 'hex')).varint(), v);
  }
  const big = [2 ** 40 + 3, -(2 ** 50), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
  for (const v of big) {
    const w = new Writer();
    w.varlong(v);
    t.equal(new Reader(w.toBuffer()).varlong(), v, `varlong ${v}`);
  }
  const u = new Writer();
  u.uvarint(4294967295);
  t.equal(u.toBuffer().toString('hex'), 'ffffffff0f');
  t.equal(uvarintSize(4294967295), 5);
  t.equal(new Reader(u.toBuffer()).uvarint(), 4294967295);
  t.throws(() => new Reader(Buffer.from('ffffffffff7f', 'hex')).uvarint(), ProtocolError);
  t.throws(() => new Reader(Buffer.from('80', 'hex')).uvarint(), ProtocolError);
});

t.test('strings and bytes: classic and compact, null and empty', async (t) => {
  const w = new Writer();
  w.string('héllo', false);
  w.string(null, false);
  w.string('', true);
  w.string(null, true);
  w.bytes(Buffer.from([1, 2]), false);
  w.bytes(null, true);
  const buf = w.toBuffer();
  t.equal(buf.subarray(0, 8).toString('hex'), '000668c3a96c6c6f');
  const r = new Reader(buf);
  t.equal(r.string(false), 'héllo');
  t.equal(r.string(false), null);
  t.equal(r.string(true), '');
  t.equal(r.string(true), null);
  t.same([...(r.bytes(false) ?? [])], [1, 2]);
  t.equal(r.bytes(true), null);
  t.equal(r.remaining, 0);
});

t.test('a length past the end of the frame is a ProtocolError', async (t) => {
  t.throws(() => new Reader(Buffer.from('0005616263', 'hex')).string(false), ProtocolError);
  t.throws(() => new Reader(Buffer.from('7fffffff', 'hex')).bytes(false), ProtocolError);
  t.throws(() => new Reader(Buffer.from('7fffffff', 'hex')).arrayLength(false, 1), ProtocolError);
});

t.test('uuid is 22-char base64url', async (t) => {
  const w = new Writer();
  w.uuid(ZERO_UUID);
  const id = Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64url');
  w.uuid(id);
  const r = new Reader(w.toBuffer());
  t.equal(r.uuid(), ZERO_UUID);
  t.equal(r.uuid(), id);
  t.throws(() => new Writer().uuid('short'), RangeError);
});

t.test('file slices become their own chunks with the length prefix before them', async (t) => {
  const w = new Writer(4);
  w.int32(7);
  w.slice({ fd: 9, position: 100, length: 50 }, false);
  w.int16(1);
  w.slice({ fd: 9, position: 500, length: 0 }, true);
  w.int32(2);
  const { chunks, size } = w.finish();
  t.equal(size, 4 + 4 + 50 + 2 + 1 + 4);
  t.equal(chunks.length, 3);
  t.equal((chunks[0] as Buffer).toString('hex'), '0000000700000032');
  t.same(chunks[1], { fd: 9, position: 100, length: 50 });
  t.equal((chunks[2] as Buffer).toString('hex'), '00010100000002');
});

const Sample = message({
  name: 'Sample',
  apiKey: 1000,
  versions: '0-3',
  flexible: '2+',
  fields: {
    id: int32(),
    name: string({ v: '1+', nullable: '1+', default: null }),
    items: array({ offset: int64(), data: records({ nullable: '0+' }) }),
    ids: array(int32(), { v: '1+', nullable: '1+' }),
    topicId: uuid({ v: '3+' }),
    leader: struct({ leaderId: int32({ default: -1 }) }, { v: '2+', tag: 5 }),
    note: string({ v: '2+', tag: 1, default: 'x' }),
  },
});

t.test('absent fields decode to their defaults and are not written', async (t) => {
  const buf = Sample.encodeToBuffer({ id: 3, name: 'n', items: [], ids: [1], note: 'y' }, 0);
  t.equal(buf.toString('hex'), '0000000300000000');
  const out = Sample.decodeBuffer(buf, 0);
  t.same(out, { id: 3, name: null, items: [], ids: [], topicId: ZERO_UUID, leader: { leaderId: -1 }, note: 'x' });
});

t.test('tagged fields: written only when not default, in tag order; unknown tags skipped', async (t) => {
  const v2 = Sample.encodeToBuffer({ id: 1, items: [], ids: null, note: 'y', leader: { leaderId: 4 } }, 2);
  // id, name null (compact 0), items [] (compact 1), ids null (0), 2 tags: tag 1 "y", tag 5 {4, no tags}
  t.equal(v2.toString('hex'), '00000001' + '00' + '01' + '00' + '02' + '0102' + '0279' + '0505' + '0000000400');
  t.same(Sample.decodeBuffer(v2, 2), { id: 1, name: null, items: [], ids: null, topicId: ZERO_UUID, leader: { leaderId: 4 }, note: 'y' });
  const defaults = Sample.encodeToBuffer({ id: 1, items: [], ids: [], note: 'x' }, 2);
  t.equal(defaults.toString('hex'), '00000001' + '00' + '01' + '01' + '00');
  // An unknown tag 3 between known ones is skipped.
  const withUnknown = Buffer.from('00000001' + '00' + '01' + '01' + '02' + '0102027a' + '0302abcd', 'hex');
  t.same(Sample.decodeBuffer(withUnknown, 2).note, 'z');
});

t.test('null in a non-nullable field is a ProtocolError on decode', async (t) => {
  // v0: ids absent; items is non-nullable: int32 -1 count.
  t.throws(() => Sample.decodeBuffer(Buffer.from('00000001ffffffff', 'hex'), 0), ProtocolError);
  // Encoding null where the version does not allow it is a broker bug: TypeError.
  t.throws(() => Sample.encodeToBuffer({ id: 1, items: null as never, ids: [] }, 1), TypeError);
});

t.test('large record buffers are passed through as chunks, small ones copied', async (t) => {
  const big = Buffer.alloc(20000, 7);
  const w = new Writer();
  w.int8(1);
  w.bytesZeroCopy(big, true);
  w.bytesZeroCopy(Buffer.from([9]), true);
  const { chunks, size } = w.finish();
  t.equal(chunks.length, 3);
  t.equal(chunks[1], big, 'the same Buffer, not a copy');
  t.equal(size, 1 + 3 + 20000 + 2);
  const w2 = new Writer();
  w2.int8(1);
  w2.bytesZeroCopy(big, false);
  w2.int8(2);
  const all = w2.toBuffer();
  t.equal(all.length, 1 + 4 + 20000 + 1);
  t.equal(all.readInt32BE(1), 20000);
  t.equal(all[all.length - 1], 2);
});
