// admin/ room: consumer groups as the admin plane shows them — members with their decoded
// assignments, committed offsets against the log end, lag — read from the group coordinator.
import type { ApiServices } from '../api/index.js';

export interface GroupOffset {
  topic: string;
  partition: number;
  committedOffset: number;
  /** The partition's high watermark (what kafka-consumer-groups shows); null when not hosted here. */
  logEndOffset: number | null;
  lag: number | null;
}

/** Committed offsets of a group with their lag, sorted by topic and partition. */
export function groupOffsets(api: ApiServices, groupId: string): GroupOffset[] {
  const fetched = api.groupCoordinator.fetchOffsets(groupId, null);
  const out: GroupOffset[] = [];
  for (const t of fetched.topics) {
    for (const p of t.partitions) {
      if (p.errorCode !== 0 || p.committedOffset < 0) continue;
      const partition = api.replicaManager.getPartition(t.name, p.partitionIndex);
      const logEndOffset = partition === undefined ? null : partition.highWatermark;
      const lag = logEndOffset === null ? null : Math.max(0, logEndOffset - p.committedOffset);
      out.push({ topic: t.name, partition: p.partitionIndex, committedOffset: p.committedOffset, logEndOffset, lag });
    }
  }
  return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/**
 * The topic-partitions of a ConsumerProtocolAssignment (int16 version, [topic, [int32]], user
 * data); empty when the bytes are not one (a group of another protocol type).
 */
export function decodeConsumerAssignment(bytes: Buffer): Array<{ topic: string; partition: number }> {
  const out: Array<{ topic: string; partition: number }> = [];
  try {
    let pos = 0;
    if (bytes.length < 6 || bytes.readInt16BE(pos) < 0) return [];
    pos += 2;
    const topics = bytes.readInt32BE(pos);
    pos += 4;
    if (topics < 0 || topics > bytes.length) return [];
    for (let i = 0; i < topics; i++) {
      const len = bytes.readInt16BE(pos);
      pos += 2;
      if (len < 0 || pos + len > bytes.length) return [];
      const topic = bytes.toString('utf8', pos, pos + len);
      pos += len;
      const count = bytes.readInt32BE(pos);
      pos += 4;
      if (count < 0 || pos + 4 * count > bytes.length) return [];
      for (let j = 0; j < count; j++) {
        out.push({ topic, partition: bytes.readInt32BE(pos) });
        pos += 4;
      }
    }
    return out;
  } catch {
    return [];
  }
}
