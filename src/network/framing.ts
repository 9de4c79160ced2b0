// network/ room: Kafka's 4-byte size-prefixed framing, reassembled from socket chunks. A frame's
// memory follows the bytes that arrived, never the size it announced: a frame inside one chunk is
// a view of it (no copy); a frame spread over chunks keeps views of the large pieces that arrived
// (Node gives every socket read its own buffer) and copies small ones into a buffer that grows as
// they come, then joins the pieces once when it completes: its bytes are copied about once, and a
// client that announces 100 MiB and sends nothing costs nothing.
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

/** Buffer that a frame's first bytes are copied into when they come in small pieces (or the frame's size when smaller). */
export const FRAME_INITIAL_BUFFER_BYTES = 64 * 1024;

/**
 * A piece of a frame at least this large is kept as a view of its socket chunk; smaller ones are
 * copied, so a client sending a frame a few bytes at a time does not make one object per read.
 */
const FRAME_VIEW_MIN_BYTES = 16 * 1024;

export class FrameDecoder {
  private readonly sizeBuf = Buffer.alloc(4);
  private sizeFilled = 0;
  /** Size of the frame being received; -1 while none is. */
  private expected = -1;
  /** Its pieces so far: views of socket chunks and full copy buffers, in order. */
  private parts: Buffer[] = [];
  /** The copy buffer being filled with small pieces (allocated on the first one), and its bytes. */
  private tail: Buffer | null = null;
  private tailFilled = 0;
  /** Bytes of the frame received so far (in `parts` and `tail`). */
  private filled = 0;
  /** Memory held: the pieces' lengths and the copy buffer's capacity. */
  private held = 0;
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

  /** Memory held for the partially received frame (the pieces kept and the copy buffer's capacity). */
  get bufferedBytes(): number {
    return this.held;
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
      if (this.tail === null && (n >= FRAME_VIEW_MIN_BYTES || this.filled + n === this.expected)) {
        // A large piece, or the one that ends the frame: a view, copied once when the frame completes.
        this.parts.push(chunk.subarray(pos, pos + n));
        this.held += n;
        this.filled += n;
        pos += n;
      } else {
        const tail = this.roomInTail(n);
        const m = Math.min(n, tail.length - this.tailFilled);
        chunk.copy(tail, this.tailFilled, pos, pos + m);
        this.tailFilled += m;
        this.filled += m;
        pos += m;
        // A full copy buffer becomes a piece once it is large (or ends the frame); a small one grows.
        if (this.tailFilled === tail.length && (tail.length >= FRAME_VIEW_MIN_BYTES || this.filled === this.expected)) {
          this.parts.push(tail);
          this.tail = null;
          this.tailFilled = 0;
        }
      }
      if (this.filled === this.expected) this.finishFrame(onFrame);
    }
  }

  private checkSize(size: number): void {
    if (size < 0 || size > this.limit) throw new FrameTooLargeError(size, this.limit, this.limitSetting);
  }

  /**
   * The copy buffer, with room for at least one byte of a piece of `n`: a new one takes 64 KiB for
   * a frame's first bytes and the piece's size after a view; a full one doubles (at least to fit
   * the piece). Never beyond the rest of the frame, so memory held stays within 64 KiB or twice
   * what arrived, as with one growing buffer.
   */
  private roomInTail(n: number): Buffer {
    const rest = this.expected - this.filled;
    const tail = this.tail;
    if (tail === null) {
      const fresh = Buffer.allocUnsafe(Math.min(rest, Math.max(n, this.filled === 0 ? FRAME_INITIAL_BUFFER_BYTES : 0)));
      this.held += fresh.length;
      this.tail = fresh;
      return fresh;
    }
    if (this.tailFilled < tail.length) return tail;
    const grown = Buffer.allocUnsafe(Math.min(this.tailFilled + rest, Math.max(2 * tail.length, this.tailFilled + n)));
    tail.copy(grown, 0, 0, this.tailFilled);
    this.held += grown.length - tail.length;
    this.tail = grown;
    return grown;
  }

  private finishFrame(onFrame: (frame: Buffer) => void): void {
    // A copy buffer is pushed when full, and it never outgrows the frame: none is left over.
    assert(this.tail === null, 'a finished frame has no partly filled copy buffer', { size: this.expected, tail: this.tailFilled });
    const parts = this.parts;
    const frame = parts.length === 0 ? Buffer.alloc(0) : parts.length === 1 ? parts[0] : Buffer.concat(parts, this.expected);
    assert(frame.length === this.expected, 'a finished frame has its size', { size: this.expected, frame: frame.length });
    this.parts = [];
    this.filled = 0;
    this.held = 0;
    this.expected = -1;
    onFrame(frame);
  }
}
