// admin/ room: what every route module gets from the admin server.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/index.js';
import type { AdminServices, AdminTarget } from './context.js';
import { HttpError } from './http-errors.js';
import type { BrokerMetrics } from './metrics.js';

export interface AdminDeps {
  target: AdminTarget;
  metrics: BrokerMetrics;
  config: BrokerConfig;
  logger: Logger;
}

/** The services, or 503 while the broker is still starting. */
export function requireServices(deps: AdminDeps): AdminServices {
  const services = deps.target.services();
  if (services === null) throw new HttpError(503, 'NotReady', 'The broker is starting: its logs are not loaded yet');
  return services;
}
