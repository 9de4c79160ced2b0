// cluster/ room: the etcd key layout of a Spool cluster and the JSON values stored under it.
//
//   /spool/<prefix>/cluster_id               cluster id (Kafka Uuid text), created once
//   /spool/<prefix>/brokers/<nodeId>         {"nodeId","host","port","rack"} under the broker's lease;
//                                            its create revision is the broker epoch
//   /spool/<prefix>/controller               {"nodeId","epoch"} under the controller's lease
//   /spool/<prefix>/controller_epoch         last controller epoch (decimal), bumped with each election
//   /spool/<prefix>/topics/<name>            {"name","topicId","internal","configs","replicas":[[…],…]}
//   /spool/<prefix>/topic_names/<normalized> the topic name whose '.' → '_' form this is, created and
//                                            deleted with the topic: Kafka's collision rule, atomically
//   /spool/<prefix>/partitions/<topicId>/<p> {"replicas","isr","leader","leaderEpoch","partitionEpoch"},
//                                            written at the partition's first change; until then the
//                                            state is the initial one (leader = first replica, ISR =
//                                            replicas, epochs 0) derived from the topic's assignment
//   /spool/<prefix>/producer_ids             first producer id of the next block (decimal)
//   /spool/<prefix>/scram/<mechanism>/<user> a SCRAM credential {"user","mechanism","salt","storedKey",
//                                            "serverKey","iterations"} (user URI-encoded), read on demand
//                                            by the SASL authenticator: no watch, no image
import type { PartitionState } from './types.js';

export interface TopicRecord {
  name: string;
  topicId: string;
  internal: boolean;
  configs: Record<string, string>;
  /** Replica assignment, one list per partition (its length is the partition count). */
  replicas: number[][];
}

export interface PartitionRecord {
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
}

export interface BrokerRecord {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** Every listener's advertised address; absent in records written before listeners. */
  endpoints?: Array<{ name: string; host: string; port: number; securityProtocol: string }>;
}

export interface ControllerRecord {
  nodeId: number;
  epoch: number;
}

export type ParsedKey =
  | { kind: 'cluster_id' | 'controller' | 'controller_epoch' | 'producer_ids' | 'other' }
  | { kind: 'broker'; nodeId: number }
  | { kind: 'topic'; name: string }
  | { kind: 'partition'; topicId: string; partition: number };

export class EtcdKeys {
  /** `/spool/<prefix>/` */
  readonly base: string;

  constructor(prefix: string) {
    this.base = `/spool/${prefix}/`;
  }

  get clusterId(): string {
    return `${this.base}cluster_id`;
  }
  get controller(): string {
    return `${this.base}controller`;
  }
  get controllerEpoch(): string {
    return `${this.base}controller_epoch`;
  }
  get producerIds(): string {
    return `${this.base}producer_ids`;
  }
  broker(nodeId: number): string {
    return `${this.base}brokers/${nodeId}`;
  }
  topic(name: string): string {
    return `${this.base}topics/${name}`;
  }
  /** Kafka refuses topic names that collide once '.' and '_' are treated alike. */
  topicName(name: string): string {
    return `${this.base}topic_names/${name.replace(/\./g, '_')}`;
  }
  partitionsOf(topicId: string): string {
    return `${this.base}partitions/${topicId}/`;
  }
  partition(topicId: string, partition: number): string {
    return `${this.base}partitions/${topicId}/${partition}`;
  }

  parse(key: string): ParsedKey {
    if (!key.startsWith(this.base)) return { kind: 'other' };
    const rest = key.slice(this.base.length);
    switch (rest) {
      case 'cluster_id':
      case 'controller':
      case 'controller_epoch':
      case 'producer_ids':
        return { kind: rest };
    }
    if (rest.startsWith('brokers/')) {
      const nodeId = Number(rest.slice('brokers/'.length));
      return Number.isSafeInteger(nodeId) && nodeId >= 0 ? { kind: 'broker', nodeId } : { kind: 'other' };
    }
    if (rest.startsWith('topics/')) return { kind: 'topic', name: rest.slice('topics/'.length) };
    const m = /^partitions\/([^/]+)\/(\d+)$/.exec(rest);
    if (m) return { kind: 'partition', topicId: m[1], partition: Number(m[2]) };
    return { kind: 'other' };
  }
}

/** The first key after every key starting with `prefix` (etcd's range_end of a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

// Decoding: values are checked field by field, so a malformed or foreign key is reported, not
// half-applied.

class MalformedValue extends Error {}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MalformedValue(`${what}: not an object`);
  return v as Record<string, unknown>;
}
function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new MalformedValue(`${what}: not an integer`);
  return v;
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new MalformedValue(`${what}: not a string`);
  return v;
}
function ints(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new MalformedValue(`${what}: not an array`);
  return v.map((x, i) => int(x, `${what}[${i}]`));
}

function parse(value: Buffer | string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch {
    throw new MalformedValue(`${what}: not JSON`);
  }
  return object(parsed, what);
}

export function decodeTopic(value: Buffer | string): TopicRecord {
  const o = parse(value, 'topic');
  const configs: Record<string, string> = {};
  for (const [k, v] of Object.entries(object(o.configs, 'topic.configs'))) configs[k] = str(v, `topic.configs.${k}`);
  if (!Array.isArray(o.replicas)) throw new MalformedValue('topic.replicas: not an array');
  return {
    name: str(o.name, 'topic.name'),
    topicId: str(o.topicId, 'topic.topicId'),
    internal: o.internal === true,
    configs,
    replicas: o.replicas.map((r, i) => ints(r, `topic.replicas[${i}]`)),
  };
}

export function encodeTopic(record: TopicRecord): string {
  return JSON.stringify({ name: record.name, topicId: record.topicId, internal: record.internal, configs: record.configs, replicas: record.replicas });
}

export function decodePartition(value: Buffer | string): PartitionRecord {
  const o = parse(value, 'partition');
  return {
    replicas: ints(o.replicas, 'partition.replicas'),
    isr: ints(o.isr, 'partition.isr'),
    leader: int(o.leader, 'partition.leader'),
    leaderEpoch: int(o.leaderEpoch, 'partition.leaderEpoch'),
    partitionEpoch: int(o.partitionEpoch, 'partition.partitionEpoch'),
  };
}

export function encodePartition(state: PartitionRecord): string {
  return JSON.stringify({ replicas: state.replicas, isr: state.isr, leader: state.leader, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch });
}

export function decodeBroker(value: Buffer | string): BrokerRecord {
  const o = parse(value, 'broker');
  return {
    nodeId: int(o.nodeId, 'broker.nodeId'),
    host: str(o.host, 'broker.host'),
    port: int(o.port, 'broker.port'),
    rack: o.rack === null || o.rack === undefined ? null : str(o.rack, 'broker.rack'),
    ...(Array.isArray(o.endpoints)
      ? {
          endpoints: o.endpoints.map((e: unknown) => {
            const r = (e ?? {}) as Record<string, unknown>;
            return { name: str(r.name, 'broker.endpoints.name'), host: str(r.host, 'broker.endpoints.host'), port: int(r.port, 'broker.endpoints.port'), securityProtocol: str(r.securityProtocol, 'broker.endpoints.securityProtocol') };
          }),
        }
      : {}),
  };
}

export function encodeBroker(record: BrokerRecord): string {
  return JSON.stringify({ nodeId: record.nodeId, host: record.host, port: record.port, rack: record.rack, endpoints: record.endpoints });
}

export function decodeController(value: Buffer | string): ControllerRecord {
  const o = parse(value, 'controller');
  return { nodeId: int(o.nodeId, 'controller.nodeId'), epoch: int(o.epoch, 'controller.epoch') };
}

export function encodeController(record: ControllerRecord): string {
  return JSON.stringify({ nodeId: record.nodeId, epoch: record.epoch });
}

/** A partition's state before its key exists: the first replica leads, all replicas in sync. */
export function initialPartitionState(topic: string, topicId: string, partition: number, replicas: readonly number[]): PartitionState {
  return { topic, topicId, partition, replicas: [...replicas], isr: [...replicas], leader: replicas[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0 };
}

export function partitionStateFrom(topic: string, topicId: string, partition: number, record: PartitionRecord): PartitionState {
  return { topic, topicId, partition, replicas: [...record.replicas], isr: [...record.isr], leader: record.leader, leaderEpoch: record.leaderEpoch, partitionEpoch: record.partitionEpoch };
}
