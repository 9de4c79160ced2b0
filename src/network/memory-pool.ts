// network/ room: queued.max.request.bytes — one broker-wide budget for request bytes, those of
// frames being received and those of requests being processed, as Kafka's MemoryPool. When it
// runs out, every connection stops reading (Kafka mutes its channels) until processing frees
// memory. Like Kafka's non-strict pool, the read that ran the budget out may finish its frame, so
// a frame larger than what is left (or than the budget) still gets through, one at a time.

/** A connection as the pool sees it. */
export interface PoolMember {
  /** A frame (or its size prefix) is partly received: only reading on can finish it. */
  readonly midFrame: boolean;
  /** Not reading for another reason (its own in-flight bounds, end of input): it cannot finish a frame now. */
  readonly readBlocked: boolean;
  /** Stop (true) or resume (false) reading for lack of memory. */
  setMemoryMuted(muted: boolean): void;
}

export class RequestMemoryPool {
  /** Bytes charged: partial frames' buffers plus complete frames not yet released. */
  private used = 0;
  /** Of `used`, complete frames being processed: memory that comes back without reading. */
  private framed = 0;
  private muted = false;
  /** The member that may read on while out of memory, until its current frame is complete. */
  private privileged: PoolMember | null = null;
  /** In joining order: the oldest is chosen first when a frame must be let through. */
  private readonly members = new Set<PoolMember>();

  /** `capacity` ≤ 0: unbounded (Kafka's queued.max.request.bytes = -1); nothing is counted. */
  constructor(readonly capacity: number) {}

  get bounded(): boolean {
    return this.capacity > 0;
  }

  get usedBytes(): number {
    return this.used;
  }

  /** Kafka's isOutOfMemory: nothing left. */
  get outOfMemory(): boolean {
    return this.bounded && this.used >= this.capacity;
  }

  join(member: PoolMember): void {
    if (!this.bounded) return;
    this.members.add(member);
    if (this.muted) member.setMemoryMuted(true);
  }

  /** A member closed: what its partial frame held comes back (its frames in flight come back on release). */
  leave(member: PoolMember, partialBytes: number): void {
    if (!this.bounded) return;
    this.members.delete(member);
    if (this.privileged === member) this.privileged = null;
    this.used -= partialBytes;
    this.update(null);
  }

  /**
   * After `member` read a chunk: its partial frame's buffer changed by `partialDelta` and it
   * completed frames of `frameBytes` in all (charged until `release`).
   */
  charge(member: PoolMember, partialDelta: number, frameBytes: number): void {
    if (!this.bounded || (partialDelta === 0 && frameBytes === 0)) return;
    this.used += partialDelta + frameBytes;
    this.framed += frameBytes;
    // The privileged frame is complete: its member waits like the others from now on.
    if (this.privileged === member && frameBytes > 0) {
      this.privileged = null;
      if (this.muted) member.setMemoryMuted(true);
    }
    this.update(member);
  }

  /** `member` stopped or resumed reading for a reason of its own (see PoolMember.readBlocked). */
  readerChanged(member: PoolMember): void {
    if (!this.bounded) return;
    if (this.privileged === member && member.readBlocked) {
      // It cannot finish its frame now: another may, rather than everyone waiting on it.
      this.privileged = null;
      member.setMemoryMuted(true);
    }
    this.update(null);
  }

  /** A request was processed: its frame's bytes come back. */
  release(frameBytes: number): void {
    if (!this.bounded || frameBytes === 0) return;
    this.used -= frameBytes;
    this.framed -= frameBytes;
    this.update(null);
  }

  private update(actor: PoolMember | null): void {
    if (!this.outOfMemory) {
      this.privileged = null;
      if (this.muted) {
        this.muted = false;
        for (const m of this.members) m.setMemoryMuted(false);
      }
      return;
    }
    if (!this.muted) {
      this.muted = true;
      // Non-strict, as Kafka's pool: the read that ran the budget out finishes its frame.
      if (actor !== null && actor.midFrame && !actor.readBlocked) this.privileged = actor;
      for (const m of this.members) if (m !== this.privileged) m.setMemoryMuted(true);
    }
    // Only partial frames hold the memory and none may read on: nothing would ever free it. The
    // oldest one that can read finishes (then it is processed and released), one frame at a time.
    if (this.privileged === null && this.framed === 0) {
      for (const m of this.members) {
        if (!m.midFrame || m.readBlocked) continue;
        this.privileged = m;
        m.setMemoryMuted(false);
        break;
      }
    }
  }
}
