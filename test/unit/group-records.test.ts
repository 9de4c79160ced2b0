// coordinator/group room tests: __consumer_offsets key/value encoding and group partitioning.
import t from 'tap';
import {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  javaStringHashCode,
  partitionForGroup,
} from '../../src/coordinator/group/records.js';
import { encodeSubscription, subscribedTopics } from '../../src/coordinator/group/consumer-protocol.js';

t.test('javaStringHashCode matches Java String.hashCode', async (t) => {
  t.equal(javaStringHashCode(''), 0);
  t.equal(javaStringHashCode('a'), 97);
  t.equal(javaStringHashCode('hello'), 99162322);
  // Overflows int32 like Java does.
  t.equal(javaStringHashCode('hello world, this overflows'), javaRef('hello world, this overflows'));
  t.equal(javaStringHashCode('polygenelubricants'), -2147483648);
});

function javaRef(s: string): number {
  let h = 0n;
  for (const ch of s) h = (h * 31n + BigInt(ch.charCodeAt(0))) & 0xffffffffn;
  return Number(BigInt.asIntN(32, h));
}

t.test('partitionForGroup is abs(hashCode) % n, with Integer.MIN_VALUE mapped to 0', async (t) => {
  t.equal(partitionForGroup('hello', 50), 99162322 % 50);
  t.equal(partitionForGroup('polygenelubricants', 50), 0);
  const negative = 'group-with-negative-hash-xyz';
  const h = javaStringHashCode(negative);
  t.equal(partitionForGroup(negative, 50), Math.abs(h) % 50);
  for (const g of ['a', 'b', 'my-group', 'console-consumer-123']) {
    const p = partitionForGroup(g, 50);
    t.ok(p >= 0 && p < 50, `${g} → ${p}`);
  }
});

t.test('offset commit key is version 1, group, topic, partition', async (t) => {
  const key = encodeOffsetCommitKey('g', 'tp', 7);
  t.same([...key], [0, 1, 0, 1, 0x67, 0, 2, 0x74, 0x70, 0, 0, 0, 7]);
  t.same(decodeKey(key), { type: 'offset', group: 'g', topic: 'tp', partition: 7 });
  // Version 0 keys (older brokers) have the same layout.
  const v0 = Buffer.from(key);
  v0.writeInt16BE(0, 0);
  t.same(decodeKey(v0), { type: 'offset', group: 'g', topic: 'tp', partition: 7 });
});

t.test('group metadata key is version 2 and the group id', async (t) => {
  const key = encodeGroupMetadataKey('grp');
  t.same([...key], [0, 2, 0, 3, 0x67, 0x72, 0x70]);
  t.same(decodeKey(key), { type: 'group', group: 'grp' });
  t.throws(() => decodeKey(Buffer.from([0, 9, 0, 0])));
});

t.test('offset commit value v3 layout and round trip', async (t) => {
  const value = { offset: 1234567890123, leaderEpoch: 5, metadata: 'meta', commitTimestamp: 1700000000000, expireTimestamp: -1 };
  const buf = encodeOffsetCommitValue(value);
  t.equal(buf.readInt16BE(0), 3);
  t.equal(Number(buf.readBigInt64BE(2)), 1234567890123);
  t.equal(buf.readInt32BE(10), 5);
  t.equal(buf.readInt16BE(14), 4);
  t.equal(buf.toString('utf8', 16, 20), 'meta');
  t.equal(Number(buf.readBigInt64BE(20)), 1700000000000);
  t.equal(buf.length, 28);
  t.same(decodeOffsetCommitValue(buf), value);
});

t.test('offset commit value with its own retention is written as version 1', async (t) => {
  const value = { offset: 10, leaderEpoch: -1, metadata: '', commitTimestamp: 1000, expireTimestamp: 5000 };
  const buf = encodeOffsetCommitValue(value);
  t.equal(buf.readInt16BE(0), 1);
  t.same(decodeOffsetCommitValue(buf), value);
});

t.test('offset commit value v4 (flexible) written by newer Kafka decodes', async (t) => {
  // version 4: offset int64, leaderEpoch int32, compact string metadata, commitTimestamp, empty tagged fields
  const buf = Buffer.concat([
    Buffer.from([0, 4]),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 42]),
    Buffer.from([0, 0, 0, 3]),
    Buffer.from([3, 0x68, 0x69]),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 9]),
    Buffer.from([0]),
  ]);
  t.same(decodeOffsetCommitValue(buf), { offset: 42, leaderEpoch: 3, metadata: 'hi', commitTimestamp: 9, expireTimestamp: -1 });
});

t.test('group metadata value v3 round trip with members, nulls and empty bytes', async (t) => {
  const value = {
    protocolType: 'consumer',
    generation: 7,
    protocol: 'range',
    leader: 'm1',
    currentStateTimestamp: 1700000000000,
    members: [
      {
        memberId: 'm1',
        groupInstanceId: 'i1',
        clientId: 'c1',
        clientHost: '/127.0.0.1',
        rebalanceTimeout: 300000,
        sessionTimeout: 45000,
        subscription: Buffer.from([1, 2, 3]),
        assignment: Buffer.from([4, 5]),
      },
      {
        memberId: 'm2',
        groupInstanceId: null,
        clientId: 'c2',
        clientHost: '/127.0.0.1',
        rebalanceTimeout: 60000,
        sessionTimeout: 10000,
        subscription: Buffer.alloc(0),
        assignment: Buffer.alloc(0),
      },
    ],
  };
  const buf = encodeGroupMetadataValue(value);
  t.equal(buf.readInt16BE(0), 3);
  t.same(decodeGroupMetadataValue(buf), value);
  const empty = { protocolType: 'consumer', generation: 3, protocol: null, leader: null, currentStateTimestamp: 5, members: [] };
  t.same(decodeGroupMetadataValue(encodeGroupMetadataValue(empty)), empty);
});

t.test('a truncated record is an error, not garbage', async (t) => {
  const buf = encodeGroupMetadataValue({ protocolType: 'consumer', generation: 1, protocol: 'x', leader: 'a', currentStateTimestamp: 1, members: [] });
  t.throws(() => decodeGroupMetadataValue(buf.subarray(0, buf.length - 2)), RangeError);
});

t.test('consumer subscription topics are readable', async (t) => {
  t.same(subscribedTopics(encodeSubscription(['a', 'bb'])), ['a', 'bb']);
  t.equal(subscribedTopics(Buffer.from([1])), null);
});
