// network/ room: one listener. Accepts connections within max.connections and
// max.connections.per.ip (a connection beyond them is closed at once), on an SSL listener runs the
// TLS handshake (ssl.client.auth, the client certificate's principal, certificate reload), gives
// each connection its listener's security state, hands each frame to the request processor, keeps
// the broker-wide request memory budget (queued.max.request.bytes), and on stop finishes
// in-flight requests before closing.
import { lookup } from 'node:dns/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ANONYMOUS, type ConnectionSecurity, type SecurityProtocol } from '../security/index.js';
import { Connection, type ConnectionInfo, type ConnectionOptions, type RequestProcessor } from './connection.js';
import { RequestMemoryPool } from './memory-pool.js';
import { clientAuthOptions, loadServerTls, peerIdentity, type TlsSettings } from './tls.js';

export interface ServerOptions extends ConnectionOptions {
  host: string;
  port: number;
  /** The listener's name (Kafka's listener name, upper case). Default PLAINTEXT. */
  listenerName?: string;
  /** Its security protocol (listener.security.protocol.map). Default PLAINTEXT. */
  securityProtocol?: SecurityProtocol;
  /** SSL and SASL_SSL listeners: the ssl.* settings. */
  tls?: TlsSettings;
  /** How often the keystore/truststore files are checked for changes (0: never). */
  tlsReloadCheckIntervalMs?: number;
  /** max.connections: connections open at once; a new one beyond it is closed at once. Default unbounded. */
  maxConnections?: number;
  /** max.connections.per.ip: the same, per client address. Default unbounded. */
  maxConnectionsPerIp?: number;
  /** max.connections.per.ip.overrides: address or host name → its own limit. */
  maxConnectionsPerIpOverrides?: ReadonlyMap<string, number>;
  /** queued.max.request.bytes: request bytes held at once (≤ 0: unbounded). Default unbounded. */
  queuedMaxRequestBytes?: number;
  /**
   * What the broker's listeners share: the request memory pool and the connection counts that
   * max.connections and max.connections.per.ip limit (broker-wide in Kafka, not per listener).
   * Default: this server's own.
   */
  shared?: SharedListenerState;
}

/** The request memory and connection counts every listener of a broker draws on. */
export class SharedListenerState {
  /** Open connections (TLS handshakes included) over all listeners. */
  total = 0;
  readonly perAddress = new Map<string, number>();

  constructor(readonly memoryPool: RequestMemoryPool) {}
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
  /** SSL listeners: the TLS side; accepted sockets are handed to it after the connection limits. */
  private readonly tlsServer: TlsServer | null = null;
  private readonly tlsFiles: string[] = [];
  private readonly tlsWatchers: Array<{ file: string; listener: (now: Stats, before: Stats) => void }> = [];
  private readonly connections = new Set<Connection>();
  /** Every accepted socket (TLS handshakes included), until it closes. */
  private readonly sockets = new Set<Socket>();
  private readonly shared: SharedListenerState;
  readonly listenerName: string;
  readonly securityProtocol: SecurityProtocol;
  /** The options connections get: without sendFile on TLS (file data must go through TLS). */
  private readonly connectionOptions: ConnectionOptions;
  private tlsReloads = 0;
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
    this.shared = options.shared ?? new SharedListenerState(new RequestMemoryPool(options.queuedMaxRequestBytes ?? -1));
    this.memoryPool = this.shared.memoryPool;
    this.listenerName = options.listenerName ?? 'PLAINTEXT';
    this.securityProtocol = options.securityProtocol ?? 'PLAINTEXT';
    const tlsListener = this.securityProtocol === 'SSL' || this.securityProtocol === 'SASL_SSL';
    const { sendFile, ...withoutSendFile } = options;
    this.connectionOptions = tlsListener || sendFile === undefined ? withoutSendFile : { ...withoutSendFile, sendFile };
    if (tlsListener) {
      if (options.tls === undefined) throw new Error(`listener ${this.listenerName} is ${this.securityProtocol} but has no TLS settings`);
      const loaded = loadServerTls(options.tls);
      this.tlsFiles = loaded.files;
      // Never listens: the plain server accepts (connection limits first), then hands the socket over.
      this.tlsServer = createTlsServer({
        ...loaded.context, ...clientAuthOptions(options.tls.clientAuth),
        allowHalfOpen: true,
        // The handshake is bounded by the idle timeout, as Kafka bounds it by connections.max.idle.ms.
        handshakeTimeout: options.idleTimeoutMs,
      });
      this.tlsServer.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
      this.tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        this.logger.info(
          { listener: this.listenerName, clientAddress: socket.remoteAddress, code: err.code, reason: err.message.split('\n')[0] },
          'TLS handshake failed; closing connection',
        );
        socket.destroy();
      });
    }
    // allowHalfOpen: a client that shuts down its write side still gets its responses.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => this.logger.error({ err }, 'listener error'));
  }

  get port(): number {
    return this.boundPort;
  }

  /** Open connections, TLS handshakes in progress included. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /** The open connections (after their TLS handshake): listener, security protocol, principal. */
  openConnections(): ConnectionInfo[] {
    return [...this.connections];
  }

  /** How many times the TLS certificates were reloaded since start. */
  get tlsReloadCount(): number {
    return this.tlsReloads;
  }

  /**
   * Re-reads the keystore and truststore for new connections (existing ones keep theirs). A
   * keystore that does not load is logged and the previous one stays; returns whether it loaded.
   */
  reloadTls(): boolean {
    if (this.tlsServer === null || this.options.tls === undefined) return false;
    try {
      const loaded = loadServerTls(this.options.tls);
      this.tlsServer.setSecureContext(loaded.context);
      this.tlsReloads++;
      this.logger.info({ listener: this.listenerName, files: loaded.files }, 'TLS keystore/truststore reloaded');
      return true;
    } catch (err) {
      this.logger.error({ listener: this.listenerName, err: (err as Error).message }, 'TLS reload failed; the previous certificate stays in use');
      return false;
    }
  }

  private watchTlsFiles(): void {
    const interval = this.options.tlsReloadCheckIntervalMs ?? 0;
    if (this.tlsServer === null || interval <= 0) return;
    for (const file of this.tlsFiles) {
      const listener = (now: Stats, before: Stats): void => {
        if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) this.reloadTls();
      };
      watchFile(file, { interval, persistent: false }, listener);
      this.tlsWatchers.push({ file, listener });
    }
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
        this.watchTlsFiles();
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
    const fromAddress = this.shared.perAddress.get(address) ?? 0;
    const perIpLimit = this.overrides.get(address) ?? this.maxConnectionsPerIp;
    if (this.shared.total >= this.maxConnections) {
      this.reject(socket, address, 'max.connections', this.maxConnections);
      return;
    }
    if (fromAddress >= perIpLimit) {
      this.reject(socket, address, 'max.connections.per.ip', perIpLimit);
      return;
    }
    this.shared.perAddress.set(address, fromAddress + 1);
    this.shared.total++;
    this.sockets.add(socket);
    socket.once('close', () => this.released(socket, address));
    if (this.tlsServer !== null) {
      this.tlsServer.emit('connection', socket);
      return;
    }
    this.open(socket, ANONYMOUS);
  }

  /** An SSL listener's handshake finished: the principal is the verified client certificate's subject. */
  private secured(socket: TLSSocket): void {
    const identity = peerIdentity(socket);
    if ('refused' in identity) {
      this.logger.info({ listener: this.listenerName, clientAddress: socket.remoteAddress, reason: identity.refused }, 'TLS client refused');
      socket.destroy();
      return;
    }
    // On SASL_SSL the principal comes from SASL (as Kafka), whatever certificate the client showed.
    const subject = this.securityProtocol === 'SSL' ? identity.subject : null;
    this.open(socket, subject === null ? ANONYMOUS : { principalType: 'User', name: subject });
  }

  private open(socket: Socket, principal: ConnectionSecurity['principal']): void {
    const id = this.nextConnectionId++;
    const security: ConnectionSecurity = {
      listenerName: this.listenerName,
      securityProtocol: this.securityProtocol,
      principal,
      // SASL listeners start unauthenticated; the SASL authenticator moves them on.
      authenticated: this.securityProtocol === 'PLAINTEXT' || this.securityProtocol === 'SSL',
    };
    const conn = new Connection(id, socket, this.process, this.connectionOptions, this.logger, (c) => this.connections.delete(c), this.memoryPool, security);
    this.connections.add(conn);
    this.logger.debug({ connectionId: id, clientHost: conn.clientHost, listener: this.listenerName }, 'accepted connection');
  }

  private released(socket: Socket, address: string): void {
    if (!this.sockets.delete(socket)) return;
    this.shared.total--;
    const left = (this.shared.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.shared.perAddress.set(address, left);
    else this.shared.perAddress.delete(address);
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
    for (const { file, listener } of this.tlsWatchers.splice(0)) unwatchFile(file, listener);
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
    // TLS handshakes still in progress.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
