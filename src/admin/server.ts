// admin/ room: the admin HTTP plane — one fastify app on spool.admin.listeners serving
// Prometheus /metrics, the /v1/status probes, the REST admin API (JSON schemas on every route,
// published as OpenAPI 3.1 at /openapi.json) and the web console. Started before the Kafka side
// so probes answer while logs load, stopped first when the broker stops.
import { timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Dispatcher } from '../api/index.js';
import { ConfigError, type BrokerConfig } from '../config/index.js';
import { registerConsole } from './console.js';
import type { AdminTarget } from './context.js';
import type { AdminDeps } from './deps.js';
import { HttpError } from './http-errors.js';
import { BrokerMetrics } from './metrics.js';
import { registerClusterRoutes } from './routes-cluster.js';
import { registerGroupRoutes } from './routes-groups.js';
import { registerRecordRoutes } from './routes-records.js';
import { registerTopicRoutes } from './routes-topics.js';

const LISTENERS = 'spool.admin.listeners';
const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function parseAdminListener(uri: string): { host: string; port: number } {
  const m = /^http:\/\/(\[[0-9a-fA-F:]+\]|[^:\s/[\]]+):(\d{1,5})$/.exec(uri);
  if (!m) throw new ConfigError(LISTENERS, uri, 'must be empty or one http://host:port URL');
  return { host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port: Number(m[2]) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class AdminServer {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly app: FastifyInstance,
    private readonly metrics: BrokerMetrics,
    readonly address: { host: string; port: number },
  ) {}

  /**
   * Binds spool.admin.listeners; null when it is empty. A bind failure is a start-up error naming
   * the setting, except for the default listener (not set explicitly) being in use: then the
   * broker starts without an admin plane and says so (several brokers on one host).
   */
  static async start(config: BrokerConfig, logger: Logger, target: AdminTarget): Promise<AdminServer | null> {
    const uris = config.getList(LISTENERS);
    if (uris.length === 0) return null;
    const listener = parseAdminListener(uris[0]);
    const token = config.getString('spool.admin.token');
    const mutationsOpen = token === '' && isLoopback(listener.host);
    if (token === '' && !mutationsOpen) {
      logger.warn(
        { listener: uris[0] },
        `${LISTENERS} is not a loopback address and spool.admin.token is not set: admin API mutations are refused with 403 (set spool.admin.token to allow them)`,
      );
    }
    // With an authorizer the admin routes would bypass the ACLs the Kafka listeners enforce: every
    // REST route (reads included; the status probes and /metrics excepted) then needs the token.
    const readsGuarded = config.getString('authorizer.class.name') !== '';
    if (readsGuarded && token === '') {
      logger.warn(
        { listener: uris[0] },
        'authorizer.class.name is set and spool.admin.token is not: the admin REST API is refused with 403 (set spool.admin.token to use it)',
      );
    }
    const metrics = new BrokerMetrics(target);
    const app = await buildApp({ target, metrics, config, logger: logger.child({ room: 'admin' }) }, token, mutationsOpen && !readsGuarded, readsGuarded);
    try {
      await app.listen({ host: listener.host, port: listener.port });
    } catch (err) {
      await app.close();
      const reason = (err as Error).message;
      if (!config.has(LISTENERS) && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        logger.warn({ listener: uris[0], reason }, `the default ${LISTENERS} is in use: starting without the admin HTTP plane`);
        return null;
      }
      throw new ConfigError(LISTENERS, uris[0], `cannot listen: ${reason}`);
    }
    const bound = app.server.address();
    const address = bound !== null && typeof bound === 'object' ? { host: bound.address, port: bound.port } : listener;
    logger.info({ host: address.host, port: address.port }, 'Spool admin HTTP plane started');
    return new AdminServer(app, metrics, address);
  }

  /** Request and per-topic metrics from the Kafka dispatcher. */
  instrument(dispatcher: Dispatcher): void {
    this.metrics.instrument(dispatcher);
  }

  close(): Promise<void> {
    this.closing ??= this.app.close();
    return this.closing;
  }
}

/** A REST route the token guards when reads are guarded (not the probes, /metrics or the console's files). */
function isGuardedRead(url: string): boolean {
  return url.startsWith('/v1/') && !url.startsWith('/v1/status/');
}

async function buildApp(deps: AdminDeps, token: string, mutationsOpen: boolean, readsGuarded: boolean): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Spool admin API', version: '1', description: 'Administration of a Spool broker: topics, consumer groups, records, status.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const mutation = MUTATIONS.has(request.method);
    // The matched route's pattern, not the raw URL (percent-encoding cannot slip past it).
    if (!mutation && !(readsGuarded && isGuardedRead(request.routeOptions.url ?? request.url))) return;
    if (token !== '') {
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!sameToken(given, token)) {
        const what = mutation ? 'This mutation' : 'With authorizer.class.name set, this request';
        await reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'Unauthorized', message: `${what} needs Authorization: Bearer <spool.admin.token>` });
      }
    } else if (readsGuarded) {
      await reply.code(403).send({ error: 'Forbidden', message: 'The admin API is refused: authorizer.class.name is set and spool.admin.token is not' });
    } else if (!mutationsOpen) {
      await reply.code(403).send({ error: 'Forbidden', message: 'Admin mutations are refused: spool.admin.listeners is not a loopback address and spool.admin.token is not set' });
    }
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.error, message: err.message });
    const e = err as { validation?: unknown; statusCode?: number; message?: string };
    if (e.validation !== undefined) return reply.code(400).send({ error: 'BadRequest', message: e.message ?? 'invalid request' });
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: 'BadRequest', message: e.message ?? 'invalid request' });
    }
    deps.logger.error({ err, method: request.method, url: request.url }, 'admin request failed');
    return reply.code(500).send({ error: 'InternalServerError', message: err instanceof Error ? err.message : String(err) });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'NotFound', message: `No route ${request.method} ${request.url}` }));

  registerClusterRoutes(app, deps);
  registerTopicRoutes(app, deps);
  registerGroupRoutes(app, deps);
  registerRecordRoutes(app, deps);
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  try {
    registerConsole(app);
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message }, 'web console not served');
  }
  await app.ready();
  return app;
}
