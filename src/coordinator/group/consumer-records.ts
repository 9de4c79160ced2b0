// coordinator/group room: the __consumer_offsets records Kafka writes for KIP-848 consumer groups
// (group-coordinator/src/main/resources/common/message/ConsumerGroup*.json). Keys are
// non-flexible: an int16 key version that is the record type (3 ConsumerGroupMetadata,
// 4 ConsumerGroupPartitionMetadata, 5 ConsumerGroupMemberMetadata, 6 ConsumerGroupTargetAssignmentMetadata,
// 7 ConsumerGroupTargetAssignmentMember, 8 ConsumerGroupCurrentMemberAssignment), then the group id
// (and member id). Values are version 0, flexible (compact strings and arrays, tagged fields).
import type { Assignment, ClassicMemberMetadata, SubscribedTopic } from './consumer-group.js';

export const CONSUMER_GROUP_METADATA = 3;
export const CONSUMER_GROUP_PARTITION_METADATA = 4;
export const CONSUMER_GROUP_MEMBER_METADATA = 5;
export const CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA = 6;
export const CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER = 7;
export const CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT = 8;

export interface ConsumerGroupKey {
  type: number;
  group: string;
  /** Types 5, 7 and 8 only; '' otherwise. */
  member: string;
}

export interface MemberMetadataValue {
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  rebalanceTimeoutMs: number;
  serverAssignor: string | null;
  /** Tag 0: a member of a consumer group that uses the classic protocol (KIP-848 online migration); null otherwise. */
  classicMemberMetadata?: ClassicMemberMetadata | null;
}

export interface CurrentAssignmentValue {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: number;
  assigned: Assignment;
  pendingRevocation: Assignment;
}

// ---------------------------------------------------------------------------------------------
// Codec helpers

function uuidBytes(id: string): Buffer {
  const b = Buffer.from(id, 'base64url');
  if (b.length !== 16) throw new RangeError(`topic id ${id} is not a 16-byte uuid`);
  return b;
}

class FlexWriter {
  private readonly parts: Buffer[] = [];
  private push(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.push(b);
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.push(b);
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.push(b);
  }
  uvarint(v: number): this {
    const out: number[] = [];
    let x = v;
    while (x >= 0x80) {
      out.push((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(x);
    return this.push(Buffer.from(out));
  }
  /** Non-flexible int16-length string (keys). */
  keyString(v: string): this {
    const b = Buffer.from(v, 'utf8');
    return this.int16(b.length).push(b);
  }
  string(v: string | null): this {
    if (v === null) return this.uvarint(0);
    const b = Buffer.from(v, 'utf8');
    return this.uvarint(b.length + 1).push(b);
  }
  uuid(v: string): this {
    return this.push(uuidBytes(v));
  }
  bytes(v: Buffer): this {
    return this.uvarint(v.length + 1).push(v);
  }
  raw(v: Buffer): this {
    return this.push(v);
  }
  array<T>(items: readonly T[], each: (w: this, item: T) => void): this {
    this.uvarint(items.length + 1);
    for (const item of items) each(this, item);
    return this;
  }
  tags(): this {
    return this.uvarint(0);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class FlexReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new RangeError(`consumer group record truncated at ${this.pos}`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  int8(): number {
    return this.take(1).readInt8(0);
  }
  int16(): number {
    return this.take(2).readInt16BE(0);
  }
  int32(): number {
    return this.take(4).readInt32BE(0);
  }
  uvarint(): number {
    let result = 0;
    for (let i = 0, shift = 1; i < 5; i++, shift *= 128) {
      const b = this.take(1)[0];
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError('unsigned varint longer than 5 bytes');
  }
  keyString(): string {
    const n = this.int16();
    return n < 0 ? '' : this.take(n).toString('utf8');
  }
  nullableString(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.take(n).toString('utf8');
  }
  string(): string {
    return this.nullableString() ?? '';
  }
  uuid(): string {
    return Buffer.from(this.take(16)).toString('base64url');
  }
  bytes(): Buffer {
    const n = this.uvarint() - 1;
    return n < 0 ? Buffer.alloc(0) : Buffer.from(this.take(n));
  }
  /** Tagged fields: tag → raw bytes. */
  tags(): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      const tag = this.uvarint();
      out.set(tag, Buffer.from(this.take(this.uvarint())));
    }
    return out;
  }
  array<T>(each: () => T): T[] {
    const n = this.uvarint() - 1;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(each());
    return out;
  }
  skipTags(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.take(this.uvarint());
    }
  }
}

function writeTopicPartitions(w: FlexWriter, a: Assignment): void {
  const topics = [...a].filter(([, ps]) => ps.size > 0);
  w.array(topics, (x, [topicId, ps]) => {
    x.uuid(topicId);
    x.array([...ps].sort((p, q) => p - q), (y, p) => y.int32(p));
    x.tags();
  });
}

function readTopicPartitions(r: FlexReader): Assignment {
  const a: Assignment = new Map();
  for (const [topicId, ps] of r.array(() => {
    const topicId = r.uuid();
    const ps = r.array(() => r.int32());
    r.skipTags();
    return [topicId, ps] as const;
  })) {
    a.set(topicId, new Set(ps));
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Keys

/** The key's type (its version) when it is one of ours, else null. */
export function consumerGroupKeyType(key: Buffer): number | null {
  if (key.length < 2) return null;
  const v = key.readInt16BE(0);
  return v >= CONSUMER_GROUP_METADATA && v <= CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT ? v : null;
}

export function encodeConsumerGroupKey(type: number, group: string, member?: string): Buffer {
  const w = new FlexWriter().int16(type).keyString(group);
  if (member !== undefined) w.keyString(member);
  return w.done();
}

export function decodeConsumerGroupKey(key: Buffer): ConsumerGroupKey {
  const r = new FlexReader(key);
  const type = r.int16();
  const group = r.keyString();
  const withMember = type === CONSUMER_GROUP_MEMBER_METADATA || type === CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER || type === CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT;
  return { type, group, member: withMember ? r.keyString() : '' };
}

// ---------------------------------------------------------------------------------------------
// Values (all version 0)

/** ConsumerGroupMetadataValue: the group epoch. Also TargetAssignmentMetadataValue: the assignment epoch. */
export function encodeEpochValue(epoch: number): Buffer {
  return new FlexWriter().int16(0).int32(epoch).tags().done();
}

export function decodeEpochValue(buf: Buffer): number {
  const r = new FlexReader(buf);
  r.int16();
  return r.int32();
}

export function encodePartitionMetadataValue(topics: Iterable<SubscribedTopic>): Buffer {
  return new FlexWriter()
    .int16(0)
    .array([...topics], (w, t) => {
      w.uuid(t.topicId).string(t.name).int32(t.numPartitions);
      // PartitionMetadata (racks): unused since Kafka 4.0, written empty.
      w.array([], () => undefined);
      w.tags();
    })
    .tags()
    .done();
}

export function decodePartitionMetadataValue(buf: Buffer): SubscribedTopic[] {
  const r = new FlexReader(buf);
  r.int16();
  const topics = r.array(() => {
    const topicId = r.uuid();
    const name = r.string();
    const numPartitions = r.int32();
    r.array(() => {
      r.int32();
      r.array(() => r.string());
      r.skipTags();
      return null;
    });
    r.skipTags();
    return { topicId, name, numPartitions };
  });
  r.skipTags();
  return topics;
}

export function encodeMemberMetadataValue(v: MemberMetadataValue): Buffer {
  const w = new FlexWriter()
    .int16(0)
    .string(v.instanceId)
    .string(v.rackId)
    .string(v.clientId)
    .string(v.clientHost)
    .array(v.subscribedTopicNames, (w, t) => w.string(t))
    .string(v.subscribedTopicRegex)
    .int32(v.rebalanceTimeoutMs)
    .string(v.serverAssignor);
  // Tag 0, ClassicMemberMetadata: a nullable struct whose default is the empty struct, written as
  // Kafka's generated code does — null as the tag with the one-byte payload 0 (so a consumer-protocol
  // member always carries the tag), a struct as uvarint(size + 1), 1, the struct; the default struct
  // (session timeout 0, no protocols) is left out.
  const classic = v.classicMemberMetadata ?? null;
  if (classic === null) return w.uvarint(1).uvarint(0).uvarint(1).uvarint(0).done();
  if (classic.sessionTimeoutMs === 0 && classic.supportedProtocols.length === 0) return w.tags().done();
  const c = new FlexWriter()
    .int32(classic.sessionTimeoutMs)
    .array(classic.supportedProtocols, (x, p) => {
      x.string(p.name).bytes(p.metadata);
      x.tags();
    })
    .tags()
    .done();
  return w.uvarint(1).uvarint(0).uvarint(c.length + 1).uvarint(1).raw(c).done();
}

function decodeTaggedClassicMemberMetadata(buf: Buffer): ClassicMemberMetadata | null {
  const r = new FlexReader(buf);
  if (r.uvarint() === 0) return null;
  const sessionTimeoutMs = r.int32();
  const supportedProtocols = r.array(() => {
    const name = r.string();
    const metadata = r.bytes();
    r.skipTags();
    return { name, metadata };
  });
  r.skipTags();
  return { sessionTimeoutMs, supportedProtocols };
}

export function decodeMemberMetadataValue(buf: Buffer): MemberMetadataValue {
  const r = new FlexReader(buf);
  r.int16();
  const v: MemberMetadataValue = {
    instanceId: r.nullableString(),
    rackId: r.nullableString(),
    clientId: r.string(),
    clientHost: r.string(),
    subscribedTopicNames: r.array(() => r.string()),
    subscribedTopicRegex: r.nullableString(),
    rebalanceTimeoutMs: r.int32(),
    serverAssignor: r.nullableString(),
  };
  // Tag 0: ClassicMemberMetadata, set for members that use the classic protocol: a presence uvarint
  // (0: null), then the struct. Kafka reads an absent tag as the default (empty) struct, but
  // only ever leaves the tag out for that struct, which no classic member has; records written
  // before Spool wrote the tag for every member leave it out for consumer-protocol members, so an
  // absent tag is read as null.
  const tagged = r.tags().get(0);
  v.classicMemberMetadata = tagged === undefined ? null : decodeTaggedClassicMemberMetadata(tagged);
  return v;
}

export function encodeTargetAssignmentMemberValue(a: Assignment): Buffer {
  const w = new FlexWriter().int16(0);
  writeTopicPartitions(w, a);
  return w.tags().done();
}

export function decodeTargetAssignmentMemberValue(buf: Buffer): Assignment {
  const r = new FlexReader(buf);
  r.int16();
  const a = readTopicPartitions(r);
  r.skipTags();
  return a;
}

export function encodeCurrentAssignmentValue(v: CurrentAssignmentValue): Buffer {
  const w = new FlexWriter().int16(0).int32(v.memberEpoch).int32(v.previousMemberEpoch).int8(v.state);
  writeTopicPartitions(w, v.assigned);
  writeTopicPartitions(w, v.pendingRevocation);
  return w.tags().done();
}

export function decodeCurrentAssignmentValue(buf: Buffer): CurrentAssignmentValue {
  const r = new FlexReader(buf);
  r.int16();
  const memberEpoch = r.int32();
  const previousMemberEpoch = r.int32();
  const state = r.int8();
  const assigned = readTopicPartitions(r);
  const pendingRevocation = readTopicPartitions(r);
  r.skipTags();
  return { memberEpoch, previousMemberEpoch, state, assigned, pendingRevocation };
}
