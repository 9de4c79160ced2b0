// coordinator/share room: Kafka's __share_group_state record format (the share coordinator's
// ShareSnapshotKey/Value and ShareUpdateKey/Value, record types 0 and 1): the key is an int16
// record type then GroupId, TopicId, Partition; the value an int16 version (0) then the fields
// (flexible, so with tagged fields). And the mapping of a share-partition to a state partition.
import { array, int16, int32, int64, int8, message, string, uuid, type Infer } from '../../protocol/schema.js';
import { Reader, Writer } from '../../protocol/primitives.js';
import type { PersistedShareState } from './share-partition.js';

export const SHARE_GROUP_STATE_TOPIC = '__share_group_state';
export const SHARE_SNAPSHOT_RECORD_TYPE = 0;
export const SHARE_UPDATE_RECORD_TYPE = 1;

const stateBatch = { firstOffset: int64(), lastOffset: int64(), deliveryState: int8(), deliveryCount: int16() };

const ShareStateKey = message({
  name: 'ShareStateKey',
  apiKey: 0,
  versions: '0',
  flexible: 'none',
  fields: { groupId: string(), topicId: uuid(), partition: int32() },
});

const ShareSnapshotValue = message({
  name: 'ShareSnapshotValue',
  apiKey: 0,
  versions: '0',
  flexible: '0+',
  fields: {
    snapshotEpoch: int32(),
    stateEpoch: int32(),
    leaderEpoch: int32(),
    startOffset: int64(),
    deliveryCompleteCount: int32({ tag: 0, default: -1 }),
    createTimestamp: int64(),
    writeTimestamp: int64(),
    stateBatches: array(stateBatch),
  },
});

const ShareUpdateValue = message({
  name: 'ShareUpdateValue',
  apiKey: 1,
  versions: '0',
  flexible: '0+',
  fields: {
    snapshotEpoch: int32(),
    leaderEpoch: int32(),
    startOffset: int64(),
    deliveryCompleteCount: int32({ tag: 0, default: -1 }),
    stateBatches: array(stateBatch),
  },
});

export type ShareStateKey = Infer<typeof ShareStateKey>;
export type ShareSnapshotValue = Infer<typeof ShareSnapshotValue>;
export type ShareUpdateValue = Infer<typeof ShareUpdateValue>;

export interface SharePartitionKey {
  groupId: string;
  topicId: string;
  partition: number;
}

/** Kafka's SharePartitionKey.asCoordinatorKey(): "group:topicId:partition". */
export function coordinatorKey(k: SharePartitionKey): string {
  return `${k.groupId}:${k.topicId}:${k.partition}`;
}

function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The __share_group_state partition that holds a share-partition's state (Utils.abs(hash) % n). */
export function statePartitionFor(k: SharePartitionKey, numPartitions: number): number {
  const h = javaStringHash(coordinatorKey(k));
  return (h === -2147483648 ? 0 : Math.abs(h)) % numPartitions;
}

export function encodeStateKey(recordType: number, k: SharePartitionKey): Buffer {
  const w = new Writer();
  w.int16(recordType);
  ShareStateKey.encode(w, { groupId: k.groupId, topicId: k.topicId, partition: k.partition }, 0);
  return w.toBuffer();
}

export function encodeSnapshotValue(state: PersistedShareState, snapshotEpoch: number, leaderEpoch: number, createTimestamp: number, now: number): Buffer {
  const w = new Writer();
  w.int16(0);
  ShareSnapshotValue.encode(
    w,
    {
      snapshotEpoch,
      stateEpoch: state.stateEpoch,
      leaderEpoch,
      startOffset: state.startOffset,
      createTimestamp,
      writeTimestamp: now,
      stateBatches: state.stateBatches,
    },
    0,
  );
  return w.toBuffer();
}

export type DecodedStateRecord =
  | { type: 'snapshot'; key: SharePartitionKey; value: ShareSnapshotValue | null }
  | { type: 'update'; key: SharePartitionKey; value: ShareUpdateValue | null }
  | { type: 'unknown' };

export function decodeStateRecord(key: Buffer, value: Buffer | null): DecodedStateRecord {
  const kr = new Reader(key);
  const type = kr.int16();
  if (type !== SHARE_SNAPSHOT_RECORD_TYPE && type !== SHARE_UPDATE_RECORD_TYPE) return { type: 'unknown' };
  const k = ShareStateKey.decode(kr, 0);
  const spk = { groupId: k.groupId, topicId: k.topicId, partition: k.partition };
  if (value === null) return type === SHARE_SNAPSHOT_RECORD_TYPE ? { type: 'snapshot', key: spk, value: null } : { type: 'update', key: spk, value: null };
  const vr = new Reader(value);
  vr.int16();
  if (type === SHARE_SNAPSHOT_RECORD_TYPE) return { type: 'snapshot', key: spk, value: ShareSnapshotValue.decode(vr, 0) };
  return { type: 'update', key: spk, value: ShareUpdateValue.decode(vr, 0) };
}
