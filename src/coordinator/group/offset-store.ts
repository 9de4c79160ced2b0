// coordinator/group room: the committed offsets of one __consumer_offsets partition (Kafka's
// OffsetMetadataManager's store), kept apart from group membership so classic and KIP-848
// consumer groups share it. Changed only by replaying offset commit records and their tombstones.
import type { CommittedOffset } from './group.js';

export class OffsetStore {
  /** group → topic → partition → committed offset; empty maps are removed. */
  private readonly byGroup = new Map<string, Map<string, Map<number, CommittedOffset>>>();

  offset(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.byGroup.get(groupId)?.get(topic)?.get(partition);
  }

  /** topic → partition → offset of one group (empty when it has none); do not mutate. */
  offsetsOf(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.byGroup.get(groupId) ?? new Map();
  }

  hasOffsets(groupId: string): boolean {
    return this.byGroup.has(groupId);
  }

  /** Groups that have at least one committed offset. */
  groupIds(): IterableIterator<string> {
    return this.byGroup.keys();
  }

  put(groupId: string, topic: string, partition: number, value: CommittedOffset): void {
    let byTopic = this.byGroup.get(groupId);
    if (byTopic === undefined) {
      byTopic = new Map();
      this.byGroup.set(groupId, byTopic);
    }
    let byPartition = byTopic.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      byTopic.set(topic, byPartition);
    }
    byPartition.set(partition, value);
  }

  delete(groupId: string, topic: string, partition: number): boolean {
    const byTopic = this.byGroup.get(groupId);
    const byPartition = byTopic?.get(topic);
    if (byTopic === undefined || byPartition === undefined) return false;
    const deleted = byPartition.delete(partition);
    if (byPartition.size === 0) byTopic.delete(topic);
    if (byTopic.size === 0) this.byGroup.delete(groupId);
    return deleted;
  }
}
