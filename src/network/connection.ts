// network/ room: one client connection — framing, pipelined requests processed concurrently,
// responses written strictly in request order, bounded in-flight bytes, idle timeout, the
// broker-wide request memory budget (queued.max.request.bytes), and the sendfile path for fetch
// data.
import { read as fsRead } from 'node:fs';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { plaintextSecurity, type ConnectionSecurity } from '../security/index.js';
import type { FileSlice, SendFile } from '../storage/engine.js';
import { FrameDecoder, FrameTooLargeError } from './framing.js';
import type { PoolMember, RequestMemoryPool } from './memory-pool.js';

/** An encoded response without its 4-byte size prefix; slices are file data. */
export interface EncodedResponse {
  chunks: Array<Buffer | FileSlice>;
  size: number;
}

/** What the request processor decided for one frame. */
export type RequestOutcome =
  | { kind: 'response'; response: EncodedResponse }
  | { kind: 'noResponse' }
  /** With delayMs (failed SASL authentication without an answer): reading stops now, the close comes delayMs later. */
  | { kind: 'close'; reason: string; delayMs?: number }
  /** The response is written, then the connection closes after delayMs (failed SASL authentication). */
  | { kind: 'responseThenClose'; response: EncodedResponse; delayMs: number; reason: string };

export interface ConnectionInfo {
  connectionId: number;
  clientHost: string;
  /** The listener, security protocol and principal of this connection (mutated by SASL). */
  security: ConnectionSecurity;
}

export type RequestProcessor = (frame: Buffer, conn: ConnectionInfo) => Promise<RequestOutcome>;

export interface ConnectionOptions {
  maxFrameBytes: number;
  /**
   * sasl.server.max.receive.size: the largest frame of a connection whose security is not
   * authenticated (a SASL listener's before SASL authentication); larger ones close it.
   */
  maxUnauthenticatedFrameBytes?: number;
  maxInflightBytes: number;
  maxInflightRequests: number;
  idleTimeoutMs: number;
  /** Present when file slices may go out with sendfile(2): native engine, plaintext socket. */
  sendFile?: SendFile;
}

interface Pending {
  size: number;
  outcome: Promise<RequestOutcome>;
  /**
   * Its response's slices have an owner: the pump writing it (writeResponse releases them once
   * the write settled) or the close (releaseUnwritten).
   */
  taken: boolean;
}

function isBuffer(chunk: Buffer | FileSlice): chunk is Buffer {
  return Buffer.isBuffer(chunk);
}

/** Ends the fd leases of a response's slices (FileSlice, storage/engine.ts). */
function releaseResponse(response: EncodedResponse): void {
  for (const chunk of response.chunks) if (!isBuffer(chunk)) chunk.release?.();
}

function releaseOutcome(outcome: RequestOutcome): void {
  if (outcome.kind === 'response' || outcome.kind === 'responseThenClose') releaseResponse(outcome.response);
}

function readSlice(slice: FileSlice): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(slice.length);
    let done = 0;
    const step = (): void => {
      fsRead(slice.fd, buf, done, slice.length - done, slice.position + done, (err, n) => {
        if (err) reject(err);
        else if (n === 0) reject(new Error(`short read of fd ${slice.fd}: ${done} of ${slice.length} bytes`));
        else {
          done += n;
          if (done < slice.length) step();
          else resolve(buf);
        }
      });
    };
    step();
  });
}

export class Connection implements ConnectionInfo, PoolMember {
  readonly clientHost: string;
  private readonly decoder: FrameDecoder;
  private readonly queue: Pending[] = [];
  private inflightBytes = 0;
  private writing = false;
  private readEnded = false;
  /** Not reading: too many requests or bytes of this connection in flight. */
  private paused = false;
  /** Not reading: the broker's request memory is used up (see RequestMemoryPool). */
  private memoryMuted = false;
  /** What the partial frame's buffer is charged to the pool at. */
  private charged = 0;
  private closed = false;
  private leftPool = false;
  private draining: (() => void) | null = null;
  /** A response that closes the connection went out: input is read and dropped until the close. */
  private closingAfterResponse = false;
  /** Closing after a delay with no answer (a failed raw-token SASL exchange): nothing more is read. */
  private closingUnanswered = false;
  /**
   * Frames of a not yet authenticated connection (a SASL listener's) being processed: reading
   * waits until none is, as Kafka's authenticator holds one receive at a time; an unauthenticated
   * client cannot fill the broker's request memory.
   */
  private unauthenticatedInflight = 0;

  constructor(
    readonly connectionId: number,
    private readonly socket: Socket,
    private readonly process: RequestProcessor,
    private readonly options: ConnectionOptions,
    private readonly logger: Logger,
    private readonly onClose: (conn: Connection) => void,
    private readonly pool: RequestMemoryPool | null = null,
    readonly security: ConnectionSecurity = plaintextSecurity(),
  ) {
    this.clientHost = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      // Half-closed by the client: answer what is in flight, then close our side.
      this.readEnded = true;
      this.pool?.readerChanged(this);
      this.maybeFinish();
    });
    socket.on('timeout', () => {
      if (this.queue.length === 0) {
        this.logger.info({ connectionId, clientHost: this.clientHost, idleMs: options.idleTimeoutMs }, 'closing idle connection (connections.max.idle.ms)');
        this.destroy();
      } else {
        socket.setTimeout(options.idleTimeoutMs);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.logger.debug({ connectionId, clientHost: this.clientHost, code: err.code }, 'connection error');
    });
    socket.on('close', () => {
      this.closed = true;
      this.releaseUnwritten();
      this.leavePool();
      this.draining?.();
      this.onClose(this);
    });
    pool?.join(this);
  }

  get inflight(): number {
    return this.queue.length;
  }

  /** PoolMember: a frame is partly received. */
  get midFrame(): boolean {
    return this.decoder.midFrame;
  }

  /** PoolMember: not reading for a reason of its own. */
  get readBlocked(): boolean {
    return this.paused || this.readEnded || this.closed || this.closingUnanswered || this.unauthenticatedInflight > 0;
  }

  /** PoolMember: the pool stops and resumes reading for lack of memory. */
  setMemoryMuted(muted: boolean): void {
    this.memoryMuted = muted;
    this.updateReading();
  }

  /** Reads while nothing holds it back: in-flight bounds, memory, end of input, close. */
  private updateReading(): void {
    const read = !this.closed && !this.readEnded && !this.paused && !this.memoryMuted && !this.closingUnanswered && this.unauthenticatedInflight === 0;
    if (read && this.socket.isPaused()) this.socket.resume();
    else if (!read && !this.socket.isPaused()) this.socket.pause();
  }

  private leavePool(): void {
    if (this.leftPool) return;
    this.leftPool = true;
    this.pool?.leave(this, this.charged);
    this.charged = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.closingAfterResponse) return;
    this.decoder.restrict(this.security.authenticated ? null : (this.options.maxUnauthenticatedFrameBytes ?? null), 'sasl.server.max.receive.size');
    const frames: Buffer[] = [];
    let frameBytes = 0;
    try {
      this.decoder.push(chunk, (frame) => {
        frames.push(frame);
        frameBytes += frame.length;
      });
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.logger.warn({ connectionId: this.connectionId, clientHost: this.clientHost, size: err.size, limit: err.limit }, err.message);
        this.destroy();
        return;
      }
      throw err;
    }
    // Charged before processing starts: the memory is in use now, and the pool may mute readers.
    const buffered = this.decoder.bufferedBytes;
    this.pool?.charge(this, buffered - this.charged, frameBytes);
    this.charged = buffered;
    for (const frame of frames) this.enqueue(frame);
  }

  private enqueue(frame: Buffer): void {
    if (this.closed) {
      this.pool?.release(frame.length);
      return;
    }
    const outcome = this.process(frame, this).catch(
      (err: unknown): RequestOutcome => ({
        kind: 'close',
        reason: `request processing failed: ${err instanceof Error ? err.message : String(err)}`,
      }),
    );
    // The frame's memory is the broker's until its request was processed (answered or not).
    const pool = this.pool;
    if (pool) void outcome.then(() => pool.release(frame.length));
    this.queue.push({ size: frame.length, outcome, taken: false });
    this.inflightBytes += frame.length;
    if (!this.security.authenticated) {
      this.unauthenticatedInflight++;
      this.updateReading();
      this.pool?.readerChanged(this);
      void outcome.then(() => {
        this.unauthenticatedInflight--;
        this.updateReading();
        this.pool?.readerChanged(this);
      });
    }
    if (!this.paused && (this.inflightBytes >= this.options.maxInflightBytes || this.queue.length >= this.options.maxInflightRequests)) {
      // Backpressure: stop reading until responses go out.
      this.paused = true;
      this.updateReading();
      this.pool?.readerChanged(this);
    }
    void this.pump();
  }

  /** Writes responses strictly in request order as each one becomes ready. */
  private async pump(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const head = this.queue[0];
        const outcome = await head.outcome;
        // The connection may have closed during the await; TS still narrows `closed` to false.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (this.closed) return; // releaseUnwritten owns its slices
        head.taken = true;
        if (outcome.kind === 'close' && outcome.delayMs !== undefined && outcome.delayMs > 0) {
          this.closeUnanswered(outcome.delayMs, outcome.reason);
          return;
        }
        if (outcome.kind === 'close') {
          this.logger.warn({ connectionId: this.connectionId, clientHost: this.clientHost, reason: outcome.reason }, 'closing connection');
          this.destroy();
          return;
        }
        if (outcome.kind === 'responseThenClose') {
          await this.writeResponse(outcome.response);
          this.closeAfterResponse(outcome.delayMs, outcome.reason);
          return;
        }
        if (outcome.kind === 'response') await this.writeResponse(outcome.response);
        this.queue.shift();
        this.inflightBytes -= head.size;
        if (this.paused && this.inflightBytes < this.options.maxInflightBytes && this.queue.length < this.options.maxInflightRequests) {
          this.paused = false;
          this.updateReading();
          this.pool?.readerChanged(this);
        }
      }
    } catch (err) {
      // A client that went away mid-response (a long poll it gave up on) is routine: debug, no stack.
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (this.closed || code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END') {
        this.logger.debug({ connectionId: this.connectionId, clientHost: this.clientHost, code }, 'client disconnected while a response was written');
      } else {
        this.logger.warn({ err, connectionId: this.connectionId, clientHost: this.clientHost }, 'writing response failed; closing connection');
      }
      this.destroy();
    } finally {
      this.writing = false;
    }
    this.maybeFinish();
  }

  private async writeResponse(response: EncodedResponse): Promise<void> {
    try {
      await this.writeResponseChunks(response);
    } finally {
      // Done with the file data (the write settled: no send uses the fds any more): the slices'
      // fds may be closed from now on (FileSlice leases, storage/engine.ts). Responses never
      // written are released by releaseUnwritten.
      releaseResponse(response);
    }
  }

  private async writeResponseChunks(response: EncodedResponse): Promise<void> {
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeInt32BE(response.size, 0);
    const sendFile = this.options.sendFile;
    // Nothing queued in the stream (the pump awaits every write), so bytes written straight to
    // the fd stay in order.
    if (sendFile?.now !== undefined && this.socket.writableLength === 0 && response.chunks.some((c) => !isBuffer(c) && c.length > 0)) {
      const fd = this.socketFd();
      if (fd !== undefined) {
        await this.sendNow(fd, prefix, response, sendFile, sendFile.now);
        return;
      }
    }
    let pending: Buffer[] = [prefix];
    for (const chunk of response.chunks) {
      if (isBuffer(chunk)) {
        pending.push(chunk);
        continue;
      }
      if (chunk.length === 0) continue;
      if (this.options.sendFile) {
        // Everything before the file data must be in the kernel before sendfile writes after it.
        await this.write(pending);
        pending = [];
        await this.sendFileSlice(chunk, this.options.sendFile);
      } else {
        pending.push(await readSlice(chunk));
      }
    }
    if (pending.length > 0) await this.write(pending);
  }

  /**
   * The whole response from the event loop thread in one native call (sendmsg for the bytes,
   * MSG_MORE before file data, sendfile for the slices), with no thread hand-off while the socket
   * takes it all; what did not fit goes on the usual way: stream writes and sendFile on the pool.
   */
  private async sendNow(
    fd: number,
    prefix: Buffer,
    response: EncodedResponse,
    sendFile: SendFile,
    now: (socketFd: number, buffers: Buffer[], slices: number[]) => number,
  ): Promise<void> {
    const buffers: Buffer[] = [];
    const slices: number[] = [];
    const files: FileSlice[] = [];
    let gap: Buffer[] = [prefix];
    for (const chunk of response.chunks) {
      if (isBuffer(chunk)) {
        gap.push(chunk);
      } else if (chunk.length > 0) {
        buffers.push(gap.length === 1 ? gap[0] : Buffer.concat(gap));
        gap = [];
        slices.push(chunk.fd, chunk.position, chunk.length);
        files.push(chunk);
      }
    }
    buffers.push(gap.length === 1 ? gap[0] : Buffer.concat(gap));
    let skip = now(fd, buffers, slices);
    if (skip === 4 + response.size) return;
    // The socket filled up: the rest from where it stopped.
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (skip < b.length) await this.write([b.subarray(skip)]);
      skip = Math.max(0, skip - b.length);
      if (i === files.length) break;
      const f = files[i];
      if (skip < f.length) await this.sendFileSlice({ fd: f.fd, position: f.position + skip, length: f.length - skip }, sendFile);
      skip = Math.max(0, skip - f.length);
    }
  }

  /** The socket's fd, or undefined (Node exposes no public accessor; libuv's TCP handle has it). */
  private socketFd(): number | undefined {
    const fd = (this.socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : undefined;
  }

  private async sendFileSlice(slice: FileSlice, sendFile: (fd: number, slice: FileSlice) => Promise<number>): Promise<void> {
    // The one place, with socketFd, where the network layer reaches into Node internals.
    const fd = this.socketFd();
    if (fd === undefined) {
      await this.write([await readSlice(slice)]);
      return;
    }
    const sent = await sendFile(fd, slice);
    if (sent !== slice.length) throw new Error(`sendfile sent ${sent} of ${slice.length} bytes`);
  }

  /**
   * Writes buffers; resolves once they are handed to the kernel (and the socket drained). Several
   * go out corked, as one writev: no copy into one buffer (file data read for the TS engine or
   * TLS is copied through JS once, by the read).
   */
  private write(buffers: Buffer[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (buffers.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const last = buffers.length - 1;
      if (last > 0) this.socket.cork();
      for (let i = 0; i < last; i++) this.socket.write(buffers[i]);
      this.socket.write(buffers[last], (err) => (err ? reject(err) : resolve()));
      if (last > 0) this.socket.uncork();
    });
  }

  private maybeFinish(): void {
    if (this.readEnded && this.queue.length === 0 && !this.closed) this.socket.end();
    if (this.queue.length === 0) this.draining?.();
  }

  /** Stops reading new requests and resolves once every in-flight one was answered (or the socket closed). */
  drain(): Promise<void> {
    if (this.closingUnanswered) {
      // Nothing more will be answered: closing now only brings its delayed close forward.
      this.destroy();
      return Promise.resolve();
    }
    this.readEnded = true;
    this.socket.pause();
    if (this.queue.length === 0 || this.closed) {
      if (!this.closed) this.socket.end();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.draining = () => {
        this.draining = null;
        resolve();
      };
    });
  }

  /**
   * The last response was written: requests still queued are not answered, what the client sends
   * is read and dropped (unread input would turn the close into a reset that may lose the
   * response), and the connection closes after delayMs.
   */
  private closeAfterResponse(delayMs: number, reason: string): void {
    this.closingAfterResponse = true;
    this.leavePool();
    this.socket.resume();
    this.logger.info({ connectionId: this.connectionId, clientHost: this.clientHost, reason, delayMs }, 'closing connection after its response');
    setTimeout(() => this.destroy(), delayMs);
  }

  /** Stops reading at once (what is queued is not answered) and closes after delayMs. */
  private closeUnanswered(delayMs: number, reason: string): void {
    this.closingUnanswered = true;
    this.closingAfterResponse = true;
    this.leavePool();
    this.updateReading();
    this.logger.info({ connectionId: this.connectionId, clientHost: this.clientHost, reason, delayMs }, 'closing connection without an answer');
    // Unref'd: a client that goes first does not keep the process waiting for the delay.
    setTimeout(() => this.destroy(), delayMs).unref();
  }

  /**
   * The connection closed: the responses it will never write give their slices' leases back, as
   * their requests finish (the one being written, if any, is released once its write settles).
   */
  private releaseUnwritten(): void {
    for (const entry of this.queue) {
      if (entry.taken) continue;
      entry.taken = true;
      void entry.outcome.then(releaseOutcome);
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseUnwritten();
    this.leavePool();
    this.socket.destroy();
  }
}
