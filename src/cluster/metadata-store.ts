// cluster/ room: the MetadataStore interface. Two implementations: local (files in the data dir,
// one node) and etcd (a cluster, later). Reads come from this broker's applied image; writes are
// compare-and-set on a version/epoch and never rely on locks or leases for mutual exclusion.
import type { BrokerRegistration, MetadataListener, PartitionState, ProducerIdBlock, TopicImage } from './types.js';

export interface NewTopic {
  name: string;
  partitions: number;
  /** Replica assignment per partition; default: round-robin over the registered brokers. */
  replicationFactor: number;
  configs: Record<string, string | null>;
  internal: boolean;
}

/** An AlterPartition request from a partition's leader (ISR shrink/expand). */
export interface PartitionChange {
  topic: string;
  partition: number;
  /** The leader epoch the caller leads at: a deposed leader is refused with FENCED_LEADER_EPOCH. */
  leaderEpoch: number;
  /** The partition epoch the caller last saw: a stale view is refused with INVALID_UPDATE_VERSION. */
  partitionEpoch: number;
  isr?: number[];
  /** Set only by the controller's election; bumps the leader epoch. */
  leader?: number;
}

/** ElectLeaders' election types (Kafka's ElectionType: PREFERRED = 0, UNCLEAN = 1). */
export type ElectionType = 'preferred' | 'unclean';

export interface ElectionTarget {
  topic: string;
  partition: number;
}

/** What an election did to one partition, with Kafka's error code (NONE: a new leader was elected). */
export interface ElectionResult {
  topic: string;
  partition: number;
  /**
   * NONE, ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE,
   * UNKNOWN_TOPIC_OR_PARTITION, or NOT_CONTROLLER / REQUEST_TIMED_OUT when it could not be written.
   */
  errorCode: number;
  errorMessage: string | null;
}

/** SCRAM mechanisms as Kafka names them (ScramMechanism: SCRAM-SHA-256 = 1, SCRAM-SHA-512 = 2). */
export type ScramMechanismName = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/**
 * One user's SCRAM credential for one mechanism, salted as Kafka's controller stores it (RFC 5802
 * StoredKey and ServerKey, base64): the password itself is never stored.
 */
export interface ScramCredentialRecord {
  user: string;
  mechanism: ScramMechanismName;
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}

export interface ScramCredentialDeletion {
  user: string;
  mechanism: ScramMechanismName;
}

/**
 * One ACL as the authorizer stores it (Kafka's AclBinding / AccessControlEntryRecord), codes as on
 * the wire: resourceType (TOPIC 2, GROUP 3, CLUSTER 4, TRANSACTIONAL_ID 5, DELEGATION_TOKEN 6,
 * USER 7), patternType (LITERAL 3, PREFIXED 4), operation, permissionType (DENY 2, ALLOW 3).
 */
export interface AclRecord {
  resourceType: number;
  resourceName: string;
  patternType: number;
  /** "User:alice", or "User:*" for every principal. */
  principal: string;
  /** A client address, or "*" for every host. */
  host: string;
  operation: number;
  permissionType: number;
}

export interface MetadataStore {
  readonly clusterId: string;
  /** Version of the last event applied to this broker's image. */
  readonly version: number;

  /** Loads (or creates) the metadata and starts following changes. */
  start(): Promise<void>;
  close(): Promise<void>;

  // Reads: this broker's applied image.
  topics(): TopicImage[];
  topic(name: string): TopicImage | undefined;
  topicById(topicId: string): TopicImage | undefined;
  partition(topic: string, partition: number): PartitionState | undefined;
  brokers(): BrokerRegistration[];
  /** The node that answers as controller in Metadata/DescribeCluster; -1 when none is known. */
  controllerId(): number;

  /**
   * Writes. Each resolves once this broker's listeners have applied the resulting event, so a
   * caller that created a topic can use it at once. Each throws KafkaError with Kafka's code:
   * TOPIC_ALREADY_EXISTS, UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS, INVALID_CONFIG,
   * INVALID_REPLICATION_FACTOR, FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, …
   */
  createTopic(topic: NewTopic, options?: { validateOnly?: boolean }): Promise<TopicImage>;
  deleteTopic(name: string): Promise<TopicImage>;
  createPartitions(name: string, totalCount: number, options?: { validateOnly?: boolean }): Promise<TopicImage>;
  /** Replaces the topic's overrides (null = back to the default). */
  alterTopicConfigs(name: string, configs: Record<string, string | null>, options?: { validateOnly?: boolean }): Promise<TopicImage>;
  alterPartition(change: PartitionChange): Promise<PartitionState>;
  registerBroker(registration: Omit<BrokerRegistration, 'epoch'>): Promise<BrokerRegistration>;
  /**
   * ElectLeaders (KIP-460), decided and written by the controller as its other partition changes
   * are (leader epoch and partition epoch bumped). Preferred: the first replica leads if it is
   * alive and in the ISR (ELECTION_NOT_NEEDED when it already leads, else
   * PREFERRED_LEADER_NOT_AVAILABLE). Unclean: only a partition without a live leader gets one, an
   * in-sync replica if one is alive, else any live replica with ISR = [it] (ELECTION_NOT_NEEDED /
   * ELIGIBLE_LEADERS_NOT_AVAILABLE). `partitions` null: every partition, and as Kafka the results
   * leave out those answered ELECTION_NOT_NEEDED. Resolves once this broker applied the changes.
   * Throws KafkaError NOT_CONTROLLER when this broker is not the controller (callers forward).
   */
  electLeaders(type: ElectionType, partitions: ElectionTarget[] | null): Promise<ElectionResult[]>;
  /** A block of producer ids no other caller (on any broker, before or after a restart) gets. */
  allocateProducerIds(): Promise<ProducerIdBlock>;

  /**
   * SCRAM credentials (KIP-554), seen by every broker of the cluster. Optional: a store without
   * them has no SCRAM users. `alterScramCredentials` applies deletions then upsertions at once.
   */
  scramCredential?(user: string, mechanism: ScramMechanismName): Promise<ScramCredentialRecord | undefined>;
  scramCredentials?(): Promise<ScramCredentialRecord[]>;
  alterScramCredentials?(upsertions: ScramCredentialRecord[], deletions: ScramCredentialDeletion[]): Promise<void>;

  /**
   * ACLs (the authorizer's bindings), the same on every broker of the cluster and kept across
   * restarts. Optional: a store without them has no ACLs (and cannot create any). `acls` returns
   * the same array until the ACLs change, so a caller may cache what it derives from it.
   * `createAcls` skips bindings already stored (as Kafka); `deleteAcls` removes exactly the given
   * ones. Both resolve once this broker applied the change.
   */
  acls?(): readonly AclRecord[];
  createAcls?(acls: AclRecord[]): Promise<void>;
  deleteAcls?(acls: AclRecord[]): Promise<void>;

  /**
   * Dynamic group configs (ConfigResource GROUP, KIP-848/KIP-932): each group's overrides, the
   * same on every broker and kept across restarts. Optional: a store without them has none.
   * `alterGroupConfigs` replaces the group's whole override set (empty: removes it) and resolves
   * once this broker applied the change. Values are stored as given: callers validate them.
   */
  groupConfigs?(groupId: string): Readonly<Record<string, string>> | undefined;
  alterGroupConfigs?(groupId: string, configs: Record<string, string>): Promise<void>;

  /**
   * Follows changes in order. Listeners run one event at a time; an async listener delays the
   * next event (and the write that caused it) until it is done. Returns the unsubscribe.
   */
  subscribe(listener: MetadataListener): () => void;
}
