// coordinator/group room: Kafka's __consumer_offsets record format (keys and values), and the
// group → partition mapping. Layouts follow Apache Kafka's OffsetCommitKey/Value and
// GroupMetadataKey/Value message definitions: an int16 version, then the fields.

/** Key versions 0 and 1 both mean an offset commit; 2 means group metadata. */
export const OFFSET_COMMIT_KEY_VERSION = 1;
export const GROUP_METADATA_KEY_VERSION = 2;
/** Value versions we write. Offset commit v1 only when a commit carries its own expiry. */
export const OFFSET_COMMIT_VALUE_VERSION = 3;
export const GROUP_METADATA_VALUE_VERSION = 3;

export interface OffsetCommitKey {
  type: 'offset';
  group: string;
  topic: string;
  partition: number;
}
export interface GroupMetadataKey {
  type: 'group';
  group: string;
}
export type CoordinatorKey = OffsetCommitKey | GroupMetadataKey;

export interface OffsetCommitValue {
  offset: number;
  /** -1 when unknown (and in value versions < 3). */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Only value version 1 carries it; -1 otherwise. */
  expireTimestamp: number;
}

export interface GroupMemberValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeout: number;
  sessionTimeout: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  currentStateTimestamp: number;
  members: GroupMemberValue[];
}

/** Java's String.hashCode over UTF-16 code units, with int32 overflow. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`. */
export function partitionForGroup(groupId: string, numPartitions: number): number {
  const h = javaStringHashCode(groupId);
  // Utils.abs maps Integer.MIN_VALUE to 0 instead of overflowing.
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % numPartitions;
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int64(v: number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const bytes = Buffer.from(v, 'utf8');
    if (bytes.length > 32767) throw new RangeError(`string of ${bytes.length} bytes does not fit an int16 length`);
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  bytes(v: Buffer): this {
    this.int32(v.length);
    this.parts.push(v);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Reads classic (int16/int32 lengths) or flexible (compact, unsigned varint) encodings. */
class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    readonly flexible = false,
  ) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new RangeError(`__consumer_offsets record truncated: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
    }
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    throw new RangeError('unsigned varint longer than 5 bytes');
  }
  private raw(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  nullableString(): string | null {
    const len = this.flexible ? this.uvarint() - 1 : this.int16();
    if (len < 0) return null;
    return this.raw(len).toString('utf8');
  }
  string(): string {
    const v = this.nullableString();
    if (v === null) throw new RangeError('null where a non-nullable string was expected');
    return v;
  }
  bytes(): Buffer {
    const len = this.flexible ? this.uvarint() - 1 : this.int32();
    if (len < 0) return Buffer.alloc(0);
    return Buffer.from(this.raw(len));
  }
  arrayLength(): number {
    return this.flexible ? this.uvarint() - 1 : this.int32();
  }
  /** Tagged fields exist only in flexible versions; we know none of them, so skip them all. */
  skipTaggedFields(): void {
    if (!this.flexible) return;
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.raw(this.uvarint());
    }
  }
}

export function encodeOffsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return new Writer().int16(OFFSET_COMMIT_KEY_VERSION).string(group).string(topic).int32(partition).done();
}

export function encodeGroupMetadataKey(group: string): Buffer {
  return new Writer().int16(GROUP_METADATA_KEY_VERSION).string(group).done();
}

export function decodeKey(buf: Buffer): CoordinatorKey {
  const r = new Reader(buf);
  const version = r.int16();
  if (version === 0 || version === 1) {
    return { type: 'offset', group: r.string(), topic: r.string(), partition: r.int32() };
  }
  if (version === 2) return { type: 'group', group: r.string() };
  throw new RangeError(`unknown __consumer_offsets key version ${version}`);
}

export function encodeOffsetCommitValue(v: OffsetCommitValue): Buffer {
  if (v.expireTimestamp >= 0) {
    // Only value version 1 can carry a per-commit expiry (OffsetCommit v2-v4 retentionTimeMs).
    return new Writer().int16(1).int64(v.offset).string(v.metadata).int64(v.commitTimestamp).int64(v.expireTimestamp).done();
  }
  return new Writer()
    .int16(OFFSET_COMMIT_VALUE_VERSION)
    .int64(v.offset)
    .int32(v.leaderEpoch)
    .string(v.metadata)
    .int64(v.commitTimestamp)
    .done();
}

export function decodeOffsetCommitValue(buf: Buffer): OffsetCommitValue {
  const version = buf.readInt16BE(0);
  if (version < 0 || version > 4) throw new RangeError(`unknown offset commit value version ${version}`);
  const r = new Reader(buf.subarray(2), version >= 4);
  const offset = r.int64();
  const leaderEpoch = version >= 3 ? r.int32() : -1;
  const metadata = r.string();
  const commitTimestamp = r.int64();
  const expireTimestamp = version === 1 ? r.int64() : -1;
  r.skipTaggedFields();
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp };
}

export function encodeGroupMetadataValue(v: GroupMetadataValue): Buffer {
  const w = new Writer()
    .int16(GROUP_METADATA_VALUE_VERSION)
    .string(v.protocolType)
    .int32(v.generation)
    .string(v.protocol)
    .string(v.leader)
    .int64(v.currentStateTimestamp)
    .int32(v.members.length);
  for (const m of v.members) {
    w.string(m.memberId)
      .string(m.groupInstanceId)
      .string(m.clientId)
      .string(m.clientHost)
      .int32(m.rebalanceTimeout)
      .int32(m.sessionTimeout)
      .bytes(m.subscription)
      .bytes(m.assignment);
  }
  return w.done();
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataValue {
  const version = buf.readInt16BE(0);
  if (version < 0 || version > 4) throw new RangeError(`unknown group metadata value version ${version}`);
  const r = new Reader(buf.subarray(2), version >= 4);
  const protocolType = r.string();
  const generation = r.int32();
  const protocol = r.nullableString();
  const leader = r.nullableString();
  const currentStateTimestamp = version >= 2 ? r.int64() : -1;
  const count = r.arrayLength();
  const members: GroupMemberValue[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = r.string();
    const groupInstanceId = version >= 3 ? r.nullableString() : null;
    const clientId = r.string();
    const clientHost = r.string();
    const sessionOrRebalance = r.int32();
    // Version 0 has no rebalanceTimeout: the session timeout served as both.
    const rebalanceTimeout = sessionOrRebalance;
    const sessionTimeout = version >= 1 ? r.int32() : sessionOrRebalance;
    const subscription = r.bytes();
    const assignment = r.bytes();
    r.skipTaggedFields();
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeout, sessionTimeout, subscription, assignment });
  }
  r.skipTaggedFields();
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}
