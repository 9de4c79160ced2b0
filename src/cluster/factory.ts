// cluster/ room: picks the MetadataStore a broker runs with: etcd when spool.etcd.endpoints is
// set (a cluster), else the data dir (a single node).
import type { BrokerConfig } from '../config/index.js';
import { EtcdMetadataStore, type MetadataLogger } from './etcd-metadata-store.js';
import { LocalMetadataStore } from './local-metadata-store.js';
import type { MetadataStore } from './metadata-store.js';

export function createMetadataStore(config: BrokerConfig, logDir: string, logger?: MetadataLogger): MetadataStore {
  return config.getList('spool.etcd.endpoints').length > 0 ? new EtcdMetadataStore(logDir, config, { logger }) : new LocalMetadataStore(logDir, config);
}
