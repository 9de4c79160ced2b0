// admin/ room: what the admin plane sees of the broker — the same services the Kafka handlers
// get, read lazily because the admin listener is up before the logs are loaded.
import type { ApiServices, RequestContext } from '../api/index.js';
import type { StorageEngine } from '../storage/engine.js';
import { plaintextSecurity } from '../security/index.js';

export interface AdminServices {
  api: ApiServices;
  engine: StorageEngine;
}

/** The broker as the admin plane needs it; every function reads live state. */
export interface AdminTarget {
  readonly nodeId: number;
  /** Null until every service is built (logs loaded, coordinators running), and once stopping. */
  services(): AdminServices | null;
  kafkaListenerBound(): boolean;
  connectionCount(): number;
}

/**
 * A RequestContext for calling a Kafka handler on behalf of an admin request, so the REST API
 * applies exactly the validation and errors of CreateTopics, DeleteTopics, ….
 */
export function adminRequestContext(services: ApiServices, apiKey: number, apiVersion: number, clientHost: string): RequestContext {
  return { services, apiKey, apiVersion, correlationId: 0, clientId: 'spool-admin-http', clientHost, connectionId: -1, security: plaintextSecurity('spool-admin-http') };
}
