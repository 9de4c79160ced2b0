// network/ room: one client connection — framing, pipelined requests processed concurrently,
// responses written strictly in request order (those ready in the same event-loop turn in one
// socket write), bounded in-flight bytes, idle timeout, the
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
  /** The outcome once processing finished (set as it settles); undefined until then. */
  result: RequestOutcome | undefined;
  /**
   * Its response's slices have an owner: the pump writing it (writeResponse releases them once
   * the write settled) or the close (releaseUnwritten).
   */
  taken: boolean;
}

/**
 * Responses ready together are written with one socket write (one system call, and with loopback
 * TCP one pass of the receive path) when they are plain buffers adding up to at most this: they
 * are copied into one buffer. Larger ones go out corked (one writev), by reference.
 */
const COALESCE_MAX_BYTES = 64 * 1024;


/**
 * At most this much of a response goes through the socket stream when the native send finds the
 * socket full (its write callback is the event loop's "writable again"); the rest goes on natively.
 */
const NUDGE_BYTES = 16 * 1024;
/** A response the client takes no byte of for this long closes the connection (native transfer.rs: WRITABLE_TIMEOUT_MS). */
const WRITABLE_TIMEOUT_MS = 30_000;
const EMPTY_BUFFER = Buffer.alloc(0);

/** A response made of buffers only (no file slices): it can go out in a coalesced write. */
function buffersOnly(response: EncodedResponse): boolean {
  for (const chunk of response.chunks) if (!isBuffer(chunk)) return false;
  return true;
}

/** Throws when a response's chunks do not add up to its size (its prefix would frame the wrong bytes). */
function checkSize(response: EncodedResponse): void {
  let length = 0;
  for (const chunk of response.chunks) length += chunk.length;
  if (length !== response.size) throw new Error(`response of size ${response.size} has ${length} bytes of chunks`);
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
  /**
   * The queue's head is being written by the async path (file slices, closing outcomes), or the
   * socket is full and a 'drain' is awaited: nothing else is written meanwhile.
   */
  private writing = false;
  /** A flush of the ready responses is scheduled (setImmediate). */
  private flushScheduled = false;
  /** drain() waits for the socket's 'finish': responses were still buffered when the queue emptied. */
  private drainAwaitsFinish = false;
  /** Frames completed by the chunk being read (reused: no array per chunk). */
  private readonly frames: Buffer[] = [];
  private readonly onFrame = (frame: Buffer): void => {
    this.frames.push(frame);
  };
  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flushSafely();
  };
  private readonly onSocketDrain = (): void => {
    this.writing = false;
    this.flushSafely();
  };
  /** Coalesced writes handed to the socket, and those it reported done (written or failed). */
  private batchesSent = 0;
  private batchesDone = 0;
  /** Waits for every coalesced write to be done (flushed()). */
  private flushedWaiter: (() => void) | null = null;
  private readonly onBatchDone = (): void => {
    this.batchesDone++;
    if (this.batchesDone === this.batchesSent && this.flushedWaiter !== null) {
      const waiter = this.flushedWaiter;
      this.flushedWaiter = null;
      waiter();
    }
  };
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
      // Responses still buffered in the socket (a client not reading them) keep it open, as requests do.
      if (this.queue.length === 0 && socket.writableLength === 0) {
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
    const frames = this.frames;
    try {
      this.decoder.push(chunk, this.onFrame);
    } catch (err) {
      frames.length = 0;
      if (err instanceof FrameTooLargeError) {
        this.logger.warn({ connectionId: this.connectionId, clientHost: this.clientHost, size: err.size, limit: err.limit }, err.message);
        this.destroy();
        return;
      }
      throw err;
    }
    const count = frames.length;
    let frameBytes = 0;
    for (let i = 0; i < count; i++) frameBytes += frames[i].length;
    // Charged before processing starts: the memory is in use now, and the pool may mute readers.
    const buffered = this.decoder.bufferedBytes;
    this.pool?.charge(this, buffered - this.charged, frameBytes);
    this.charged = buffered;
    if (count === 1) {
      const frame = frames[0];
      frames.length = 0;
      this.enqueue(frame);
    } else if (count > 1) {
      const ready = frames.slice();
      frames.length = 0;
      for (const frame of ready) this.enqueue(frame);
    }
  }

  private enqueue(frame: Buffer): void {
    const size = frame.length;
    if (this.closed) {
      this.pool?.release(size);
      return;
    }
    const unauthenticated = !this.security.authenticated;
    const entry: Pending = { size, outcome: undefined as unknown as Promise<RequestOutcome>, result: undefined, taken: false };
    entry.outcome = this.process(frame, this).then(
      (outcome) => this.settled(entry, outcome, unauthenticated),
      (err: unknown) =>
        this.settled(entry, { kind: 'close', reason: `request processing failed: ${err instanceof Error ? err.message : String(err)}` }, unauthenticated),
    );
    this.queue.push(entry);
    this.inflightBytes += size;
    if (unauthenticated) {
      this.unauthenticatedInflight++;
      this.updateReading();
      this.pool?.readerChanged(this);
    }
    if (!this.paused && (this.inflightBytes >= this.options.maxInflightBytes || this.queue.length >= this.options.maxInflightRequests)) {
      // Backpressure: stop reading until responses go out.
      this.paused = true;
      this.updateReading();
      this.pool?.readerChanged(this);
    }
  }

  /** A request was processed: its frame's memory goes back, and the responses ready in order are flushed soon. */
  private settled(entry: Pending, outcome: RequestOutcome, unauthenticated: boolean): RequestOutcome {
    entry.result = outcome;
    // The frame's memory is the broker's until its request was processed (answered or not).
    this.pool?.release(entry.size);
    // A close without an answer (a failed raw-token SASL exchange) stops reading now, not when the
    // flush reaches it: nothing sent from here on is read (closeUnanswered does the rest).
    if (outcome.kind === 'close' && outcome.delayMs !== undefined && outcome.delayMs > 0 && !this.closingUnanswered) {
      this.closingUnanswered = true;
      this.updateReading();
      this.pool?.readerChanged(this);
    }
    if (unauthenticated) {
      this.unauthenticatedInflight--;
      this.updateReading();
      this.pool?.readerChanged(this);
    }
    // Only the head can unblock writing; later ones go with it. The flush waits for the end of this
    // turn of the event loop (setImmediate), so responses finished together share one write.
    if (this.queue[0] === entry && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
    return outcome;
  }

  /**
   * Writes the responses ready at the head of the queue, strictly in request order: consecutive
   * ones made of buffers go out together in one socket write, without waiting for the kernel to
   * take them (the socket's buffer keeps them in order; past its high-water mark the next flush
   * waits for 'drain'). A head that needs more (file slices, a close) goes to pumpHead.
   */
  private flush(): void {
    if (this.writing || this.closed || this.closingAfterResponse || this.socket.destroyed) return;
    const queue = this.queue;
    let batch: EncodedResponse[] | null = null;
    let batchBytes = 0;
    let special: Pending | null = null;
    while (queue.length > 0) {
      const head = queue[0];
      const outcome = head.result;
      if (outcome === undefined) break;
      if (outcome.kind === 'response' && buffersOnly(outcome.response)) {
        (batch ??= []).push(outcome.response);
        batchBytes += 4 + outcome.response.size;
      } else if (outcome.kind !== 'noResponse') {
        special = head;
        break;
      }
      head.taken = true;
      queue.shift();
      this.inflightBytes -= head.size;
    }
    if (batch !== null && !this.writeBatch(batch, batchBytes)) {
      // The socket's buffer is past its high-water mark: more waits until the client read some.
      this.writing = true;
      this.socket.once('drain', this.onSocketDrain);
    }
    // Not while a 'drain' is awaited: the responses in the socket's buffer count against the bounds
    // until the client reads them (onSocketDrain flushes again, and resumes reading then).
    if (this.paused && !this.writing && this.inflightBytes < this.options.maxInflightBytes && queue.length < this.options.maxInflightRequests) {
      this.paused = false;
      this.updateReading();
      this.pool?.readerChanged(this);
    }
    if (special !== null && !this.writing) {
      void this.pumpHead(special);
      return;
    }
    this.maybeFinish();
  }

  /**
   * flush() from a callback of its own (setImmediate, 'drain', the end of pumpHead): a failure
   * closes this connection only, never the broker.
   */
  private flushSafely(): void {
    try {
      this.flush();
    } catch (err) {
      this.logger.warn({ err, connectionId: this.connectionId, clientHost: this.clientHost }, 'writing responses failed; closing connection');
      this.destroy();
    }
  }

  /** Hands responses to the socket; false when its buffer is full (wait for 'drain'). */
  private writeBatch(batch: EncodedResponse[], bytes: number): boolean {
    const socket = this.socket;
    if (bytes <= COALESCE_MAX_BYTES) {
      // Small responses (Produce answers are ~100 bytes): copied into one buffer, one write.
      const out = Buffer.allocUnsafe(bytes);
      let pos = 0;
      for (const response of batch) {
        // Never send uninitialised bytes, nor a frame whose size prefix lies.
        checkSize(response);
        pos = out.writeInt32BE(response.size, pos);
        for (const chunk of response.chunks) pos += (chunk as Buffer).copy(out, pos);
      }
      if (pos !== bytes) throw new Error(`coalesced ${pos} of ${bytes} response bytes`);
      this.batchesSent++;
      return socket.write(out, this.onBatchDone);
    }
    // Large ones by reference, corked: one writev.
    const buffers: Buffer[] = [];
    for (const response of batch) {
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeInt32BE(response.size, 0);
      buffers.push(prefix);
      checkSize(response);
      for (const chunk of response.chunks) buffers.push(chunk as Buffer);
    }
    const last = buffers.length - 1;
    socket.cork();
    for (let i = 0; i < last; i++) socket.write(buffers[i]);
    this.batchesSent++;
    const ok = socket.write(buffers[last], this.onBatchDone);
    socket.uncork();
    return ok;
  }

  /** Resolves once every coalesced write so far was handed to the kernel (or failed). */
  private flushed(): Promise<void> {
    if (this.batchesDone === this.batchesSent) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushedWaiter = resolve;
    });
  }

  /** Writes (or acts on) a head outcome that the coalescing flush does not: file slices, closes. */
  private async pumpHead(head: Pending): Promise<void> {
    const outcome = head.result;
    if (outcome === undefined) return;
    this.writing = true;
    try {
      head.taken = true;
      // The responses before a close are in the kernel before it (a destroy drops what the socket buffers).
      if (outcome.kind === 'close') await this.flushed();
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
    } catch (err) {
      // A client that went away mid-response (a long poll it gave up on) is routine: debug, no stack.
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (this.closed || code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END') {
        this.logger.debug({ connectionId: this.connectionId, clientHost: this.clientHost, code }, 'client disconnected while a response was written');
      } else {
        this.logger.warn({ err, connectionId: this.connectionId, clientHost: this.clientHost }, 'writing response failed; closing connection');
      }
      this.destroy();
      return;
    } finally {
      this.writing = false;
    }
    this.flushSafely();
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
   * takes it all. When the socket fills up (EAGAIN), a little of what comes next goes through the
   * socket stream (bytes, or file data read from the page cache by readNow, at most NUDGE_BYTES):
   * its write callback tells, on the event loop, that the socket takes data again, and the native
   * call goes on from there. File data the native call left for another reason (not known to be
   * in the page cache), or not in the page cache now, goes by sendFile on the pool, as before.
   * No write progress for WRITABLE_TIMEOUT_MS closes the connection (the pool's sendFile gives up
   * the same way).
   */
  private async sendNow(
    fd: number,
    prefix: Buffer,
    response: EncodedResponse,
    sendFile: SendFile,
    now: (socketFd: number, buffers: Buffer[], slices: number[]) => number,
  ): Promise<void> {
    // buffers[0], files[0], buffers[1], ..., files[n - 1], buffers[n]: "steps" 0 .. 2n.
    const buffers: Buffer[] = [];
    const files: FileSlice[] = [];
    let gap: Buffer[] = [prefix];
    for (const chunk of response.chunks) {
      if (isBuffer(chunk)) {
        gap.push(chunk);
      } else if (chunk.length > 0) {
        buffers.push(gap.length === 1 ? gap[0] : Buffer.concat(gap));
        gap = [];
        files.push(chunk);
      }
    }
    buffers.push(gap.length === 1 ? gap[0] : Buffer.concat(gap));
    const steps = buffers.length + files.length;
    const stepLength = (step: number): number => (step % 2 === 0 ? buffers[step >> 1].length : files[step >> 1].length);
    const readNow = sendFile.readNow;
    const stoppedFull = sendFile.nowStoppedFull;
    // Where sending stands: this step, `done` bytes of it sent.
    let step = 0;
    let done = 0;
    // Bounded: every turn sends at least one byte, or moves on a step.
    while (step < steps) {
      // Straight to the fd only while this connection still owns it: after a close its number may
      // already name another connection's socket or a file.
      this.checkOwnsFd(fd);
      const out: Buffer[] = [];
      const slices: number[] = [];
      let k = step >> 1;
      if (step % 2 === 0) {
        out.push(done === 0 ? buffers[k] : buffers[k].subarray(done));
      } else {
        const f = files[k];
        out.push(EMPTY_BUFFER);
        slices.push(f.fd, f.position + done, f.length - done);
        out.push(buffers[++k]);
      }
      for (; k < files.length; k++) {
        const f = files[k];
        slices.push(f.fd, f.position, f.length);
        out.push(buffers[k + 1]);
      }
      let sent = now(fd, out, slices);
      const full = stoppedFull?.() === true;
      while (step < steps && sent >= stepLength(step) - done) {
        sent -= stepLength(step) - done;
        step++;
        done = 0;
      }
      if (step === steps) return;
      done += sent;
      if (step % 2 === 0) {
        // Bytes: a little through the stream (the socket is full), the rest natively again.
        const b = buffers[step >> 1];
        const end = Math.min(b.length, done + NUDGE_BYTES);
        await this.writeWithin(b.subarray(done, end));
        done = end;
        if (done === b.length) {
          step++;
          done = 0;
        }
        continue;
      }
      const f = files[step >> 1];
      if (full && readNow !== undefined) {
        const chunk = readNow(f.fd, f.position + done, Math.min(NUDGE_BYTES, f.length - done));
        if (chunk !== null) {
          await this.writeWithin(chunk);
          done += chunk.length;
          if (done === f.length) {
            step++;
            done = 0;
          }
          continue;
        }
      }
      // Not in the page cache (or not known to be): the rest of this slice on the pool.
      await this.sendFileSlice({ fd: f.fd, position: f.position + done, length: f.length - done }, sendFile);
      step++;
      done = 0;
    }
  }

  /** Throws unless this connection is open and its socket still has `fd`. */
  private checkOwnsFd(fd: number): void {
    if (this.closed || this.socket.destroyed || this.socketFd() !== fd) {
      throw Object.assign(new Error('connection closed during the response'), { code: 'ERR_STREAM_DESTROYED' });
    }
  }

  /**
   * A stream write of at most NUDGE_BYTES: once the kernel takes no byte of it for
   * WRITABLE_TIMEOUT_MS (a client that stopped reading), the connection is closed.
   */
  private async writeWithin(chunk: Buffer): Promise<void> {
    const timer = setTimeout(() => {
      this.logger.info({ connectionId: this.connectionId, clientHost: this.clientHost, timeoutMs: WRITABLE_TIMEOUT_MS }, 'client read nothing of a response in time; closing connection');
      this.destroy();
    }, WRITABLE_TIMEOUT_MS);
    try {
      await this.write([chunk]);
    } finally {
      clearTimeout(timer);
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
      this.socket.write(buffers[last], (err) => {
        if (err) reject(err);
        // A destroyed stream calls back without an error: nothing was sent, the client is gone.
        else if (this.socket.destroyed) reject(Object.assign(new Error('socket destroyed during the write'), { code: 'ERR_STREAM_DESTROYED' }));
        else resolve();
      });
      if (last > 0) this.socket.uncork();
    });
  }

  private maybeFinish(): void {
    if (this.queue.length > 0) return;
    if (this.readEnded && !this.closed) this.socket.end();
    const draining = this.draining;
    if (draining === null) return;
    if (this.closed || this.socket.writableLength === 0) {
      draining();
    } else if (!this.drainAwaitsFinish) {
      // The last responses are still in the socket's buffer: answered once the kernel has them all.
      this.drainAwaitsFinish = true;
      this.socket.once('finish', () => this.draining?.());
    }
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
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.draining = () => {
        this.draining = null;
        resolve();
      };
      this.maybeFinish();
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
