// coordinator/share room: share sessions (KIP-932's ShareSessionEpoch), kept by the broker that
// serves a member's ShareFetch/ShareAcknowledge. Like incremental fetch sessions: epoch 0 opens
// a session with the partitions named, each later request carries the next epoch and names only
// partitions added (or acknowledged) or forgotten, and epoch -1 closes it. The session's partition
// set is what every ShareFetch of it fetches.
import { ErrorCode, KafkaError } from '../../errors.js';

export const INITIAL_SHARE_SESSION_EPOCH = 0;
export const FINAL_SHARE_SESSION_EPOCH = -1;

export interface SessionPartition {
  topicId: string;
  partition: number;
}

interface ShareSession {
  groupId: string;
  memberId: string;
  /** The epoch the next request must carry. */
  nextEpoch: number;
  partitions: Map<string, SessionPartition>;
  /** When a request last used it (ms), for evicting idle sessions when the cache is full. */
  lastUsed: number;
}

function key(groupId: string, memberId: string): string {
  return `${groupId}\0${memberId}`;
}

export function partitionKey(p: SessionPartition): string {
  return `${p.topicId}:${p.partition}`;
}

export class ShareSessionCache {
  private readonly sessions = new Map<string, ShareSession>();

  /**
   * `idleMs`: when the cache is full, a session no request used for that long is evicted to make
   * room (a client that went away without closing it — its member left the group, its connection
   * died — cannot hold a slot of group.share.max.share.sessions for good).
   */
  constructor(
    private readonly maxSessions: number,
    private readonly idleMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Evicts the least recently used session idle for idleMs or more; false when none is. */
  private evictIdle(now: number): boolean {
    let oldest: [string, ShareSession] | null = null;
    for (const entry of this.sessions) if (oldest === null || entry[1].lastUsed < oldest[1].lastUsed) oldest = entry;
    if (oldest === null || now - oldest[1].lastUsed < this.idleMs) return false;
    this.sessions.delete(oldest[0]);
    return true;
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Validates the epoch of a request of (groupId, memberId) and moves the session on: opens it at
   * epoch 0 (replacing an older one), checks and bumps it otherwise. `acknowledgeOnly` requests
   * (ShareAcknowledge) cannot open a session. Returns the session's partitions after the request's
   * additions and removals; throws SHARE_SESSION_NOT_FOUND / INVALID_SHARE_SESSION_EPOCH /
   * SHARE_SESSION_LIMIT_REACHED.
   */
  update(
    groupId: string,
    memberId: string,
    epoch: number,
    added: readonly SessionPartition[],
    forgotten: readonly SessionPartition[],
    acknowledgeOnly: boolean,
  ): SessionPartition[] {
    const k = key(groupId, memberId);
    let session = this.sessions.get(k);
    const now = this.now();
    if (epoch === INITIAL_SHARE_SESSION_EPOCH) {
      if (acknowledgeOnly) throw new KafkaError(ErrorCode.INVALID_SHARE_SESSION_EPOCH, 'ShareAcknowledge cannot open a share session');
      if (session === undefined && this.sessions.size >= this.maxSessions && !this.evictIdle(now)) {
        throw new KafkaError(ErrorCode.SHARE_SESSION_LIMIT_REACHED, `The limit of ${this.maxSessions} share sessions has been reached`);
      }
      session = { groupId, memberId, nextEpoch: 1, partitions: new Map(), lastUsed: now };
      this.sessions.set(k, session);
    } else {
      if (session === undefined) throw new KafkaError(ErrorCode.SHARE_SESSION_NOT_FOUND, `No share session for member ${memberId} of group ${groupId}`);
      if (epoch !== FINAL_SHARE_SESSION_EPOCH) {
        if (epoch !== session.nextEpoch) {
          // The expected epoch is not told: it would let anyone take over the session.
          throw new KafkaError(ErrorCode.INVALID_SHARE_SESSION_EPOCH, `Share session epoch ${epoch} is not valid for this share session`);
        }
        session.nextEpoch = session.nextEpoch === 0x7fffffff ? 1 : session.nextEpoch + 1;
      }
      session.lastUsed = now;
    }
    for (const p of added) session.partitions.set(partitionKey(p), p);
    for (const p of forgotten) session.partitions.delete(partitionKey(p));
    return [...session.partitions.values()];
  }

  /** Closes the session (epoch -1, or the member left the group); returns its partitions. */
  remove(groupId: string, memberId: string): SessionPartition[] {
    const k = key(groupId, memberId);
    const s = this.sessions.get(k);
    this.sessions.delete(k);
    return s === undefined ? [] : [...s.partitions.values()];
  }

  /** Whether any member of `groupId` has a share session here. */
  hasGroup(groupId: string): boolean {
    for (const s of this.sessions.values()) if (s.groupId === groupId) return true;
    return false;
  }

  clear(): void {
    this.sessions.clear();
  }
}
