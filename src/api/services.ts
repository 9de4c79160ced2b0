// api/ room: the narrow view of the broker that handlers get. The composition root (broker.ts)
// builds these services once; handlers never see the Broker itself.
import type { Logger } from 'pino';
import type { MetadataStore } from '../cluster/index.js';
import type { BrokerConfig } from '../config/index.js';
import type { GroupCoordinator } from '../coordinator/group/index.js';
import type { ShareServices } from '../coordinator/share/index.js';
import type { TransactionCoordinator } from '../coordinator/txn/index.js';
import type { ProducerIdManager, ReplicaManager } from '../replication/index.js';

export interface ApiServices {
  readonly nodeId: number;
  readonly config: BrokerConfig;
  readonly logger: Logger;
  /** Topics, partition state, brokers, cluster id; admin writes go through it. */
  readonly metadata: MetadataStore;
  readonly replicaManager: ReplicaManager;
  readonly groupCoordinator: GroupCoordinator;
  readonly txnCoordinator: TransactionCoordinator;
  /** Share groups (KIP-932): their coordinator, the share-partitions led here, their durable state. */
  readonly share: ShareServices;
  readonly producerIds: ProducerIdManager;
}
