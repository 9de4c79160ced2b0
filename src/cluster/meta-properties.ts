// cluster/ room: a log dir's meta.properties (Kafka's format): which cluster and node the data
// belongs to. A dir written for another node or cluster is refused at start.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/index.js';
import { writeFileAtomic } from '../log/checkpoint.js';
import { randomKafkaUuid } from './topics.js';

const META_PROPERTIES = 'meta.properties';

/**
 * Reads `dir`/meta.properties, checking node.id and cluster.id against the configured ones, or
 * writes a new one. Returns the cluster id.
 */
export function loadOrCreateMetaProperties(dir: string, nodeId: number, configuredClusterId: string | null): string {
  const path = join(dir, META_PROPERTIES);
  let clusterId = '';
  if (existsSync(path)) {
    const props = new Map<string, string>();
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^([^#=]+)=(.*)$/.exec(line.trim());
      if (m) props.set(m[1], m[2]);
    }
    const storedNode = props.get('node.id') ?? props.get('broker.id');
    if (storedNode !== undefined && Number(storedNode) !== nodeId) {
      throw new ConfigError('node.id', String(nodeId), `${path} belongs to node.id ${storedNode}`);
    }
    clusterId = props.get('cluster.id') ?? '';
    if (configuredClusterId !== null && clusterId !== '' && configuredClusterId !== clusterId) {
      throw new ConfigError('cluster.id', configuredClusterId, `${path} belongs to cluster ${clusterId}`);
    }
  }
  if (clusterId === '') {
    clusterId = configuredClusterId ?? randomKafkaUuid();
    const text = ['#', `#${new Date().toString()}`, `cluster.id=${clusterId}`, `directory.id=${randomKafkaUuid()}`, `node.id=${nodeId}`, 'version=1', ''].join('\n');
    writeFileAtomic(path, text);
  }
  return clusterId;
}
