// network/ room: the TCP listener. Accepts connections within max.connections and
// max.connections.per.ip (a connection beyond them is closed at once), hands each frame to the
// request processor, keeps the broker-wide request memory budget (queued.max.request.bytes), and
// on stop finishes in-flight requests before closing.
import { lookup } from 'node:dns/promises';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Connection, type ConnectionOptions, type RequestProcessor } from './connection.js';
import { RequestMemoryPool } from './memory-pool.js';

export interface ServerOptions extends ConnectionOptions {
  host: string;
  port: number;
  /** max.connections: connections open at once; a new one beyond it is closed at once. Default unbounded. */
  maxConnections?: number;
  /** max.connections.per.ip: the same, per client address. Default unbounded. */
  maxConnectionsPerIp?: number;
  /** max.connections.per.ip.overrides: address or host name → its own limit. */
  maxConnectionsPerIpOverrides?: ReadonlyMap<string, number>;
  /** queued.max.request.bytes: request bytes held at once (≤ 0: unbounded). Default unbounded. */
  queuedMaxRequestBytes?: number;
}

/** Rejections are logged at most once per this many ms per reason, with how many were not. */
const REJECTION_LOG_INTERVAL_MS = 10_000;

/** Kafka's "host:count,host:count" (an IPv6 address keeps its colons: the count follows the last). */
export function parseConnectionOverrides(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const at = entry.lastIndexOf(':');
    const host = at > 0 ? entry.slice(0, at).trim().replace(/^\[(.*)\]$/, '$1') : '';
    const count = at > 0 ? entry.slice(at + 1).trim() : '';
    if (host === '' || !/^\d+$/.test(count) || Number(count) > 2147483647) {
      throw new Error(`"${entry}" is not host:count (count 0-2147483647)`);
    }
    out.set(host, Number(count));
  }
  return out;
}

/** One spelling per address: IPv4-mapped IPv6 (::ffff:1.2.3.4) is the IPv4 address. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** At most one message per interval; says how many it left out. */
class RateLimitedLog {
  private last = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  /** The count left out since the last message when one is due now, else null. */
  due(now: number): number | null {
    if (now - this.last < REJECTION_LOG_INTERVAL_MS) {
      this.suppressed++;
      return null;
    }
    const left = this.suppressed;
    this.last = now;
    this.suppressed = 0;
    return left;
  }
}

export class SocketServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();
  private readonly maxConnections: number;
  private readonly maxConnectionsPerIp: number;
  /** Overrides by address; host names are resolved when the server starts listening. */
  private overrides = new Map<string, number>();
  readonly memoryPool: RequestMemoryPool;
  private nextConnectionId = 1;
  private boundPort = 0;
  private rejectedTotal = 0;
  private readonly rejectionLogs = new Map<string, RateLimitedLog>();

  constructor(
    private readonly options: ServerOptions,
    private readonly process: RequestProcessor,
    private readonly logger: Logger,
  ) {
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    this.maxConnectionsPerIp = options.maxConnectionsPerIp ?? Number.POSITIVE_INFINITY;
    this.memoryPool = new RequestMemoryPool(options.queuedMaxRequestBytes ?? -1);
    // allowHalfOpen: a client that shuts down its write side still gets its responses.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => this.logger.error({ err }, 'listener error'));
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections closed at accept for max.connections / max.connections.per.ip since start. */
  get rejectedConnections(): number {
    return this.rejectedTotal;
  }

  async listen(): Promise<{ host: string; port: number }> {
    this.overrides = await this.resolveOverrides();
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : this.options.port;
        resolve({ host: this.options.host, port: this.boundPort });
      });
    });
  }

  /** Kafka resolves override host names once (InetAddress.getByName); every address of the name counts. */
  private async resolveOverrides(): Promise<Map<string, number>> {
    const resolved = new Map<string, number>();
    for (const [host, count] of this.options.maxConnectionsPerIpOverrides ?? []) {
      if (isIP(host) !== 0) {
        resolved.set(normalizeAddress(host), count);
        continue;
      }
      try {
        for (const { address } of await lookup(host, { all: true })) resolved.set(normalizeAddress(address), count);
      } catch (err) {
        this.logger.warn({ host, err: (err as Error).message }, 'max.connections.per.ip.overrides: host name does not resolve; its override is ignored');
      }
    }
    return resolved;
  }

  private accept(socket: Socket): void {
    // A socket closed before it was handed over has no address: nothing to count.
    socket.on('error', () => undefined);
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const address = normalizeAddress(socket.remoteAddress);
    const fromAddress = this.perAddress.get(address) ?? 0;
    const perIpLimit = this.overrides.get(address) ?? this.maxConnectionsPerIp;
    if (this.connections.size >= this.maxConnections) {
      this.reject(socket, address, 'max.connections', this.maxConnections);
      return;
    }
    if (fromAddress >= perIpLimit) {
      this.reject(socket, address, 'max.connections.per.ip', perIpLimit);
      return;
    }
    const id = this.nextConnectionId++;
    this.perAddress.set(address, fromAddress + 1);
    const conn = new Connection(id, socket, this.process, this.options, this.logger, (c) => this.closed(c, address), this.memoryPool);
    this.connections.add(conn);
    this.logger.debug({ connectionId: id, clientHost: conn.clientHost }, 'accepted connection');
  }

  private closed(conn: Connection, address: string): void {
    if (!this.connections.delete(conn)) return;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }

  /** Closes a connection beyond a limit at once (existing ones are untouched), logged rate-limited. */
  private reject(socket: Socket, address: string, setting: string, limit: number): void {
    this.rejectedTotal++;
    socket.destroy();
    let log = this.rejectionLogs.get(setting);
    if (!log) {
      log = new RateLimitedLog();
      this.rejectionLogs.set(setting, log);
    }
    const leftOut = log.due(Date.now());
    if (leftOut === null) return;
    const who = setting === 'max.connections' ? 'the broker' : 'the address';
    this.logger.warn(
      { clientAddress: address, limit, setting, notLoggedSinceLastMessage: leftOut, rejectedTotal: this.rejectedTotal },
      `Rejected connection from ${address}: ${who} already has the configured maximum of ${limit} connections (${setting})`,
    );
  }

  /** Stops accepting, lets every connection answer what it has in flight (bounded), then closes. */
  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const drains = [...this.connections].map((c) => c.drain());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(drains),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await closed;
  }
}
