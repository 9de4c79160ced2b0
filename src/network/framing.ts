// network/ room: Kafka's 4-byte size-prefixed framing, reassembled from socket chunks. A frame's
// memory follows the bytes that arrived, never the size it announced: a frame inside one chunk is
// a view of it (no copy); a frame spread over chunks fills a buffer that starts at 64 KiB and
// doubles as bytes come, so a client that announces 100 MiB and sends nothing costs nothing.
import { assert } from '../errors.js';

export class FrameTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
    /** The setting the limit comes from. */
    readonly setting = 'socket.request.max.bytes',
  ) {
    super(size < 0 ? `Invalid receive (size = ${size})` : `Invalid receive (size = ${size} larger than ${setting} ${limit})`);
    this.name = 'FrameTooLargeError';
  }
}

/** First buffer of a frame spread over chunks (or the frame's size when smaller). */
export const FRAME_INITIAL_BUFFER_BYTES = 64 * 1024;

export class FrameDecoder {
  private readonly sizeBuf = Buffer.alloc(4);
  private sizeFilled = 0;
  /** Size of the frame being received; -1 while none is. */
  private expected = -1;
  /** Its bytes so far, in `buf` (allocated on the first byte, grown as bytes arrive). */
  private buf: Buffer | null = null;
  private filled = 0;
  /** The limit frames are checked against now, and the setting it comes from. */
  private limit: number;
  private limitSetting = 'socket.request.max.bytes';

  constructor(private readonly maxFrameBytes: number) {
    this.limit = maxFrameBytes;
  }

  /**
   * Checks the size prefixes read from now on against a lower limit (never above the constructor's),
   * or against the constructor's again with null: sasl.server.max.receive.size before SASL
   * authentication. A frame whose prefix was already accepted is not checked again.
   */
  restrict(limit: number | null, setting: string): void {
    if (limit === null || limit >= this.maxFrameBytes) {
      this.limit = this.maxFrameBytes;
      this.limitSetting = 'socket.request.max.bytes';
    } else {
      this.limit = limit;
      this.limitSetting = setting;
    }
  }

  /** Bytes of a partially received frame (size prefix included): nothing pending when 0. */
  get pendingBytes(): number {
    return this.sizeFilled + this.filled;
  }

  /** Memory held for the partially received frame (its buffer's capacity). */
  get bufferedBytes(): number {
    return this.buf?.length ?? 0;
  }

  /** A frame (or its size prefix) has begun and not finished: it can only finish by reading on. */
  get midFrame(): boolean {
    return this.sizeFilled > 0 || this.expected >= 0;
  }

  /** Feeds one chunk; calls `onFrame` for every complete frame. Throws FrameTooLargeError. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.expected < 0) {
        // Fast path: whole size prefix and frame inside this chunk → a view, no copy.
        if (this.sizeFilled === 0 && chunk.length - pos >= 4) {
          const size = chunk.readInt32BE(pos);
          this.checkSize(size);
          pos += 4;
          if (chunk.length - pos >= size) {
            onFrame(chunk.subarray(pos, pos + size));
            pos += size;
          } else {
            this.expected = size;
          }
          continue;
        }
        const n = Math.min(4 - this.sizeFilled, chunk.length - pos);
        chunk.copy(this.sizeBuf, this.sizeFilled, pos, pos + n);
        this.sizeFilled += n;
        pos += n;
        if (this.sizeFilled < 4) return;
        const size = this.sizeBuf.readInt32BE(0);
        this.checkSize(size);
        this.sizeFilled = 0;
        this.expected = size;
        if (size === 0) this.finishFrame(onFrame);
        continue;
      }
      const n = Math.min(this.expected - this.filled, chunk.length - pos);
      this.reserve(n);
      assert(this.buf !== null, 'frame buffer reserved');
      chunk.copy(this.buf, this.filled, pos, pos + n);
      this.filled += n;
      pos += n;
      if (this.filled === this.expected) this.finishFrame(onFrame);
    }
  }

  private checkSize(size: number): void {
    if (size < 0 || size > this.limit) throw new FrameTooLargeError(size, this.limit, this.limitSetting);
  }

  /** Room for `n` more bytes: at least 64 KiB, doubling, never beyond the frame's size. */
  private reserve(n: number): void {
    const capacity = this.buf?.length ?? 0;
    if (this.filled + n <= capacity) return;
    const next = Math.min(this.expected, Math.max(capacity * 2, this.filled + n, FRAME_INITIAL_BUFFER_BYTES));
    const grown = Buffer.allocUnsafe(next);
    if (this.buf !== null) this.buf.copy(grown, 0, 0, this.filled);
    this.buf = grown;
  }

  private finishFrame(onFrame: (frame: Buffer) => void): void {
    const frame = this.buf ?? Buffer.alloc(0);
    assert(frame.length === this.expected, 'a finished frame fills its buffer', { size: this.expected, buffer: frame.length });
    this.buf = null;
    this.filled = 0;
    this.expected = -1;
    onFrame(frame);
  }
}
