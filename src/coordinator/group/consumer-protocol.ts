// coordinator/group room: the few bits of the "consumer" embedded protocol the broker must read.
// The broker never interprets assignments; it only needs a subscription's topics for OffsetDelete.

/**
 * Topics of a ConsumerProtocolSubscription (int16 version, [string] topics, ...). Returns null
 * when the bytes are not a consumer subscription we can read.
 */
export function subscribedTopics(metadata: Buffer): string[] | null {
  try {
    let pos = 0;
    const version = metadata.readInt16BE(pos);
    pos += 2;
    if (version < 0) return null;
    const count = metadata.readInt32BE(pos);
    pos += 4;
    if (count < 0 || count > metadata.length) return null;
    const topics: string[] = [];
    for (let i = 0; i < count; i++) {
      const len = metadata.readInt16BE(pos);
      pos += 2;
      if (len < 0 || pos + len > metadata.length) return null;
      topics.push(metadata.toString('utf8', pos, pos + len));
      pos += len;
    }
    return topics;
  } catch {
    return null;
  }
}

/** Encodes a ConsumerProtocolSubscription v0 (topics, no user data); tests and tools use it. */
export function encodeSubscription(topics: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(topics.length)];
  for (const t of topics) parts.push(str(t));
  parts.push(int32(-1));
  return Buffer.concat(parts);
}

/** Encodes a ConsumerProtocolAssignment v0 (topic → partitions, no user data). */
export function encodeAssignment(assignment: Record<string, number[]>): Buffer {
  const topics = Object.entries(assignment);
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(topics.length)];
  for (const [topic, partitions] of topics) {
    parts.push(str(topic), int32(partitions.length));
    for (const p of partitions) parts.push(int32(p));
  }
  parts.push(int32(-1));
  return Buffer.concat(parts);
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** topic → partitions of a ConsumerProtocolAssignment (any version); null when unreadable. */
export function decodeAssignment(bytes: Buffer): Record<string, number[]> | null {
  if (bytes.length === 0) return {};
  try {
    let pos = 2;
    const topics = bytes.readInt32BE(pos);
    pos += 4;
    if (topics < 0 || topics > bytes.length) return null;
    const out: Record<string, number[]> = {};
    for (let i = 0; i < topics; i++) {
      const len = bytes.readInt16BE(pos);
      pos += 2;
      const topic = bytes.toString('utf8', pos, pos + len);
      pos += len;
      const n = bytes.readInt32BE(pos);
      pos += 4;
      if (n < 0 || pos + n * 4 > bytes.length) return null;
      const partitions: number[] = [];
      for (let j = 0; j < n; j++) partitions.push(bytes.readInt32BE(pos + j * 4));
      pos += n * 4;
      out[topic] = partitions;
    }
    return out;
  } catch {
    return null;
  }
}

/** A ConsumerProtocolSubscription as a classic member sends it in JoinGroup (versions 0-3). */
export interface ConsumerSubscription {
  version: number;
  topics: string[];
  /** v1+: topic → partitions the member still owns (cooperative rebalancing); empty before v1. */
  ownedPartitions: Array<{ topic: string; partitions: number[] }>;
  /** v3+ */
  rackId: string | null;
}

/** Decodes a ConsumerProtocolSubscription; null when the bytes are not one we can read. */
export function decodeSubscription(metadata: Buffer): ConsumerSubscription | null {
  try {
    let pos = 0;
    const int16 = (): number => {
      const v = metadata.readInt16BE(pos);
      pos += 2;
      return v;
    };
    const int32 = (): number => {
      const v = metadata.readInt32BE(pos);
      pos += 4;
      return v;
    };
    const string = (): string | null => {
      const len = int16();
      if (len < 0) return null;
      if (pos + len > metadata.length) throw new RangeError('truncated string');
      const s = metadata.toString('utf8', pos, pos + len);
      pos += len;
      return s;
    };
    const count = (): number => {
      const n = int32();
      if (n > metadata.length) throw new RangeError('bad array length');
      return Math.max(n, 0);
    };
    const version = int16();
    if (version < 0) return null;
    const topics: string[] = [];
    for (let i = 0, n = count(); i < n; i++) topics.push(string() ?? '');
    const userData = int32();
    if (userData > 0) pos += userData;
    const ownedPartitions: ConsumerSubscription['ownedPartitions'] = [];
    let rackId: string | null = null;
    if (version >= 1 && pos < metadata.length) {
      for (let i = 0, n = count(); i < n; i++) {
        const topic = string() ?? '';
        const partitions: number[] = [];
        for (let j = 0, m = count(); j < m; j++) partitions.push(int32());
        ownedPartitions.push({ topic, partitions });
      }
      if (version >= 2 && pos < metadata.length) int32(); // generation id
      if (version >= 3 && pos < metadata.length) rackId = string();
    }
    if (pos > metadata.length) return null;
    return { version, topics, ownedPartitions, rackId };
  } catch {
    return null;
  }
}

/** Encodes a ConsumerProtocolAssignment of `version` (v0 layout, which every version keeps; no user data). */
export function encodeAssignmentVersion(assignment: Record<string, number[]>, version: number): Buffer {
  const b = encodeAssignment(assignment);
  b.writeInt16BE(Math.max(0, Math.min(version, 3)), 0);
  return b;
}
