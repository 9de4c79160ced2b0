// broker room test helper: a raw-socket Kafka client (our own framing, the protocol room's schemas)
// for protocol edge cases real clients never produce, and a temp data dir helper.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyMessageSchema } from '../../src/protocol/schema.js';
import { Reader } from '../../src/protocol/primitives.js';

export function tempDir(prefix = 'spool-broker-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function requestHeader(apiKey: number, apiVersion: number, correlationId: number, flexible: boolean, clientId = 'raw-test'): Buffer {
  const id = Buffer.from(clientId);
  const h = Buffer.alloc(10 + id.length + (flexible ? 1 : 0));
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(apiVersion, 2);
  h.writeInt32BE(correlationId, 4);
  h.writeInt16BE(id.length, 8);
  id.copy(h, 10);
  return h; // the trailing byte (if flexible) is 0: no tagged fields
}

export function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

export class RawClient {
  private buffered = Buffer.alloc(0);
  private waiters: Array<(frame: Buffer | null) => void> = [];
  private frames: Buffer[] = [];
  private ended = false;
  private nextCorrelationId = 1;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length < 4 + size) break;
        const f = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        const w = this.waiters.shift();
        if (w) w(f);
        else this.frames.push(f);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        for (const w of this.waiters.splice(0)) w(null);
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Response frames received but not yet read (lets a test check that nothing was answered yet). */
  get pendingFrames(): number {
    return this.frames.length;
  }

  /** Next response frame (without size prefix), or null when the broker closed the connection. */
  nextFrame(timeoutMs = 5000): Promise<Buffer | null> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** Sends a request encoded with the protocol room's schema; returns its correlation id. */
  send(apiKey: number, version: number, schema: AnyMessageSchema & { encodeToBuffer(v: never, version: number): Buffer }, body: unknown): number {
    const correlationId = this.nextCorrelationId++;
    const payload = Buffer.concat([
      requestHeader(apiKey, version, correlationId, schema.isFlexible(version)),
      schema.encodeToBuffer(body as never, version),
    ]);
    this.write(frame(payload));
    return correlationId;
  }

  /** Reads the next response and decodes it; checks the correlation id. */
  async receive<T>(schema: AnyMessageSchema, version: number, correlationId: number, apiKey: number): Promise<T> {
    const f = await this.nextFrame();
    if (f === null) throw new Error('connection closed by broker');
    const got = f.readInt32BE(0);
    if (got !== correlationId) throw new Error(`correlation id ${got}, expected ${correlationId}`);
    // Response header v1 (flexible, except ApiVersions) carries an empty tagged-field section.
    const offset = apiKey !== 18 && schema.isFlexible(version) ? 5 : 4;
    return schema.decode(new Reader(f, offset), version) as T;
  }

  async request<T>(
    apiKey: number,
    version: number,
    req: AnyMessageSchema & { encodeToBuffer(v: never, version: number): Buffer },
    res: AnyMessageSchema,
    body: unknown,
  ): Promise<T> {
    const id = this.send(apiKey, version, req, body);
    return this.receive<T>(res, version, id, apiKey);
  }

  close(): void {
    this.socket.destroy();
  }
}
