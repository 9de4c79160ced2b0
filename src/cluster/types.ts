// cluster/ room: the metadata every broker follows — topics, partition state, brokers — as plain
// values, and the ordered events that change them (the way a Kafka broker follows the KRaft
// metadata log). The replica manager and the coordinators apply these events; nothing else.

/** The replication state of one partition, as the controller last wrote it. */
export interface PartitionState {
  topic: string;
  topicId: string;
  partition: number;
  /** Assigned replicas, preferred leader first. */
  replicas: number[];
  /** In-sync replicas; always contains the leader while it has one. */
  isr: number[];
  /** -1 when no replica can lead. */
  leader: number;
  /** Bumped on every leader change; fences stale leaders and stale clients. */
  leaderEpoch: number;
  /** Bumped on every change of this record (ISR included): the compare-and-set version. */
  partitionEpoch: number;
}

export interface TopicImage {
  name: string;
  /** Kafka's Uuid in its string form (22-char base64url). */
  topicId: string;
  internal: boolean;
  /** Topic-level overrides only; defaults come from the broker config. */
  configs: Record<string, string>;
  partitions: PartitionState[];
}

/** One listener of a broker as clients and other brokers reach it (its advertised address). */
export interface BrokerEndpoint {
  /** Listener name, upper case (PLAINTEXT, SSL, INTERNAL, ...). */
  name: string;
  host: string;
  port: number;
  /** PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  securityProtocol: string;
}

export interface BrokerRegistration {
  nodeId: number;
  /** The address of the broker's primary listener (PLAINTEXT, else its first). */
  host: string;
  port: number;
  rack: string | null;
  /**
   * Every listener's advertised address. Absent in registrations written before listeners
   * (then host/port serve every listener name).
   */
  endpoints?: BrokerEndpoint[];
  /** Bumped at every registration, so a restarted broker is told apart from its old session. */
  epoch: number;
}

/** A change of metadata; `version` increases by one per event and is never reused. */
export type MetadataEvent =
  | { version: number; type: 'topic-created'; topic: TopicImage }
  | { version: number; type: 'topic-deleted'; topic: TopicImage }
  | { version: number; type: 'partitions-created'; topic: string; partitions: PartitionState[] }
  | { version: number; type: 'partition-changed'; partition: PartitionState }
  | { version: number; type: 'topic-configs-changed'; topic: string; configs: Record<string, string> }
  | { version: number; type: 'broker-registered'; broker: BrokerRegistration };

export type MetadataListener = (event: MetadataEvent) => void | Promise<void>;

/** The producer ids [firstProducerId, firstProducerId + size) now belong to the caller. */
export interface ProducerIdBlock {
  firstProducerId: number;
  size: number;
}

/**
 * Where a broker is reached on a listener: that listener's advertised address, or null when the
 * broker has no listener of that name (Kafka leaves such a broker out of Metadata). A
 * registration without endpoints answers every listener with its host/port.
 */
export function brokerEndpoint(broker: BrokerRegistration, listenerName: string): { host: string; port: number } | null {
  if (broker.endpoints === undefined || broker.endpoints.length === 0) return { host: broker.host, port: broker.port };
  const e = broker.endpoints.find((x) => x.name === listenerName);
  return e === undefined ? null : { host: e.host, port: e.port };
}
