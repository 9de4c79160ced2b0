// network/ room: the TCP listener. Accepts connections, hands each frame to the request
// processor, and on stop finishes in-flight requests before closing.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Connection, type ConnectionOptions, type RequestProcessor } from './connection.js';

export interface ServerOptions extends ConnectionOptions {
  host: string;
  port: number;
}

export class SocketServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;
  private boundPort = 0;

  constructor(
    private readonly options: ServerOptions,
    private readonly process: RequestProcessor,
    private readonly logger: Logger,
  ) {
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

  listen(): Promise<{ host: string; port: number }> {
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

  private accept(socket: Socket): void {
    const id = this.nextConnectionId++;
    const conn = new Connection(id, socket, this.process, this.options, this.logger, (c) => this.connections.delete(c));
    this.connections.add(conn);
    this.logger.debug({ connectionId: id, clientHost: conn.clientHost }, 'accepted connection');
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
