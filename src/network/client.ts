// network/ room: a client connection to another broker (replica fetchers). Requests are pipelined
// and matched to responses by correlation id; each has a timeout; a connection error fails every
// pending request and the connection is not reused (callers open a new one after a backoff).
// With SASL credentials (a SASL inter-broker listener) the connection authenticates right after
// connecting (after the TLS handshake on SASL_SSL) and, when the other broker gave the session a
// lifetime (KIP-368, connections.max.reauth.ms), re-authenticates on the same connection before it
// ends: at 85-95% of the lifetime, as Kafka's client, once no request is in flight.
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions as TlsConnectOptions } from 'node:tls';
import {
  decodeResponse,
  encodeRequest,
  responseCorrelationId,
  type DecodedResponseFor,
  type KnownApiKey,
  type RequestInputFor,
} from '../protocol/index.js';
import { saslClientAuthenticate, type SaslClientCredentials, type SaslRequester } from '../security/sasl/client.js';

interface Pending {
  resolve(frame: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface BrokerConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  /** Bound on a response's size (socket.request.max.bytes on the other side is the real limit). */
  maxResponseBytes: number;
  connectTimeoutMs: number;
  /** Present for a TLS connection (the other broker's inter-broker listener is SSL or SASL_SSL): see tls.ts clientTlsOptions. */
  tls?: TlsConnectOptions;
  /** Present when the other broker's inter-broker listener is SASL: authenticate with these (open() resolves once authenticated). */
  sasl?: SaslClientCredentials;
  /** Aborts open(): the socket is destroyed, and open() rejects. */
  signal?: AbortSignal;
}

export class BrokerConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private failure: Error | null = null;
  /** When to re-authenticate (KIP-368); Infinity when the session does not expire or there is no SASL. */
  private reauthAtMs = Number.POSITIVE_INFINITY;
  private reauthenticating: Promise<void> | null = null;
  /** Resolved when no request is in flight (a re-authentication waits for that). */
  private drainWaiters: Array<() => void> = [];
  /** Session lifetime the other broker gave at the last (re-)authentication; 0: unbounded. */
  sessionLifetimeMs = 0;
  /** Successful SASL authentications on this connection (1 + re-authentications). */
  authentications = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly options: BrokerConnectionOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(`connection to ${options.host}:${options.port} closed`)));
  }

  /**
   * Connects (TLS when options.tls) and, with options.sasl, authenticates; rejects when either
   * fails, when options.signal aborts, or when the whole of it takes longer than connectTimeoutMs.
   */
  static async open(options: BrokerConnectionOptions): Promise<BrokerConnection> {
    const started = Date.now();
    const connection = await BrokerConnection.connect(options);
    if (options.sasl === undefined) {
      if (options.signal?.aborted === true) {
        connection.close();
        throw new Error(`connecting to ${options.host}:${options.port} was aborted`);
      }
      return connection;
    }
    const abort = (): void => connection.fail(new Error(`connecting to ${options.host}:${options.port} was aborted`));
    options.signal?.addEventListener('abort', abort, { once: true });
    const deadline = setTimeout(
      () => connection.fail(new Error(`connecting to ${options.host}:${options.port} and authenticating timed out after ${options.connectTimeoutMs} ms`)),
      Math.max(0, options.connectTimeoutMs - (Date.now() - started)),
    );
    try {
      if (options.signal?.aborted === true) abort();
      await connection.authenticate(options.sasl);
      // A failure that came after the last answer (abort, deadline) still fails open().
      if (connection.failure !== null) throw connection.failure;
    } catch (err) {
      connection.close();
      throw err;
    } finally {
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', abort);
    }
    return connection;
  }

  private static connect(options: BrokerConnectionOptions): Promise<BrokerConnection> {
    return new Promise((resolve, reject) => {
      const socket =
        options.tls === undefined
          ? connect({ host: options.host, port: options.port, noDelay: true })
          : connectTls({ ...options.tls, host: options.host, port: options.port }).setNoDelay(true);
      const signal = options.signal;
      const onAbort = (): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`connecting to ${options.host}:${options.port} was aborted`));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new Error(`connecting to ${options.host}:${options.port} timed out after ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted === true) onAbort();
      socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(new BrokerConnection(socket, options));
      });
      socket.once('error', (err: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
    });
  }

  get isOpen(): boolean {
    return this.failure === null;
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    // Bounded: each iteration consumes one whole frame or stops.
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (size < 4 || size > this.options.maxResponseBytes) {
        this.fail(new Error(`response of ${size} bytes from ${this.options.host}:${this.options.port} is out of bounds`));
        return;
      }
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const id = responseCorrelationId(frame);
      const waiter = this.pending.get(id);
      if (waiter === undefined) {
        this.fail(new Error(`unexpected correlation id ${id} from ${this.options.host}:${this.options.port}`));
        return;
      }
      this.pending.delete(id);
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
      if (this.pending.size === 0) this.drained();
    }
  }

  private drained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** SaslHandshake + SaslAuthenticate on this connection; sets when to re-authenticate. */
  private async authenticate(creds: SaslClientCredentials): Promise<void> {
    const raw: SaslRequester = { request: (apiKey, apiVersion, body, timeoutMs) => this.send(apiKey, apiVersion, body, timeoutMs) };
    const { sessionLifetimeMs } = await saslClientAuthenticate(raw, creds, this.options.connectTimeoutMs);
    this.sessionLifetimeMs = sessionLifetimeMs;
    this.authentications++;
    this.reauthAtMs = sessionLifetimeMs > 0 ? Date.now() + sessionLifetimeMs * (0.85 + 0.1 * Math.random()) : Number.POSITIVE_INFINITY;
  }

  /** KIP-368 from the client side: once no request is in flight, authenticate again; a failure closes the connection. */
  private async reauthenticate(creds: SaslClientCredentials): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    try {
      await this.authenticate(creds);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.fail(error);
      throw error;
    }
  }

  private fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.socket.destroy();
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
    this.pending.clear();
    this.drained();
  }

  async request<K extends KnownApiKey>(apiKey: K, apiVersion: number, body: RequestInputFor<K>, timeoutMs: number): Promise<DecodedResponseFor<K>> {
    const sasl = this.options.sasl;
    if (sasl !== undefined && this.reauthenticating === null && Date.now() >= this.reauthAtMs) {
      this.reauthenticating = this.reauthenticate(sasl).finally(() => {
        this.reauthenticating = null;
      });
    }
    if (this.reauthenticating !== null) await this.reauthenticating;
    return this.send(apiKey, apiVersion, body, timeoutMs);
  }

  private async send<K extends KnownApiKey>(apiKey: K, apiVersion: number, body: RequestInputFor<K>, timeoutMs: number): Promise<DecodedResponseFor<K>> {
    if (this.failure !== null) throw this.failure;
    const correlationId = this.nextCorrelationId++;
    const frame = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`request ${apiKey} v${apiVersion} to ${this.options.host}:${this.options.port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.socket.write(encodeRequest(apiKey, apiVersion, correlationId, this.options.clientId, body));
    });
    return decodeResponse(apiKey, apiVersion, frame);
  }

  close(): void {
    this.fail(new Error('connection closed by this broker'));
  }
}
