// network/ room: Kafka's 4-byte size-prefixed framing, reassembled from socket chunks with at most
// one copy per frame (none when a frame arrives inside a single chunk).
import { assert } from '../errors.js';

export class FrameTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      size < 0
        ? `Invalid receive (size = ${size})`
        : `Invalid receive (size = ${size} larger than socket.request.max.bytes ${limit})`,
    );
    this.name = 'FrameTooLargeError';
  }
}

export class FrameDecoder {
  private readonly sizeBuf = Buffer.alloc(4);
  private sizeFilled = 0;
  private frame: Buffer | null = null;
  private frameFilled = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes of a partially received frame (size prefix included): nothing pending when 0. */
  get pendingBytes(): number {
    return this.sizeFilled + this.frameFilled;
  }

  /** Feeds one chunk; calls `onFrame` for every complete frame. Throws FrameTooLargeError. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frame === null) {
        // Fast path: whole size prefix and frame inside this chunk → a view, no copy.
        if (this.sizeFilled === 0 && chunk.length - pos >= 4) {
          const size = chunk.readInt32BE(pos);
          this.checkSize(size);
          if (chunk.length - pos - 4 >= size) {
            onFrame(chunk.subarray(pos + 4, pos + 4 + size));
            pos += 4 + size;
            continue;
          }
          this.startFrame(size);
          pos += 4;
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
        this.startFrame(size);
        if (size === 0) this.finishFrame(onFrame);
        continue;
      }
      const n = Math.min(this.frame.length - this.frameFilled, chunk.length - pos);
      chunk.copy(this.frame, this.frameFilled, pos, pos + n);
      this.frameFilled += n;
      pos += n;
      if (this.frameFilled === this.frame.length) this.finishFrame(onFrame);
    }
  }

  private checkSize(size: number): void {
    if (size < 0 || size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
  }

  private startFrame(size: number): void {
    this.frame = Buffer.allocUnsafe(size);
    this.frameFilled = 0;
  }

  private finishFrame(onFrame: (frame: Buffer) => void): void {
    const frame = this.frame;
    assert(frame !== null, 'finishFrame called with no frame started');
    this.frame = null;
    this.frameFilled = 0;
    onFrame(frame);
  }
}
