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
