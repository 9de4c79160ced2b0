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
}

function key(groupId: string, memberId: string): string {
  return `${groupId}\0${memberId}`;
}

export function partitionKey(p: SessionPartition): string {
  return `${p.topicId}:${p.partition}`;
}

export class ShareSessionCache {
  private readonly sessions = new Map<string, ShareSession>();

  constructor(private readonly maxSessions: number) {}

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
    if (epoch === INITIAL_SHARE_SESSION_EPOCH) {
      if (acknowledgeOnly) throw new KafkaError(ErrorCode.INVALID_SHARE_SESSION_EPOCH, 'ShareAcknowledge cannot open a share session');
      if (session === undefined && this.sessions.size >= this.maxSessions) {
        throw new KafkaError(ErrorCode.SHARE_SESSION_LIMIT_REACHED, `The limit of ${this.maxSessions} share sessions has been reached`);
      }
      session = { groupId, memberId, nextEpoch: 1, partitions: new Map() };
      this.sessions.set(k, session);
    } else {
      if (session === undefined) throw new KafkaError(ErrorCode.SHARE_SESSION_NOT_FOUND, `No share session for member ${memberId} of group ${groupId}`);
      if (epoch !== FINAL_SHARE_SESSION_EPOCH) {
        if (epoch !== session.nextEpoch) {
          throw new KafkaError(ErrorCode.INVALID_SHARE_SESSION_EPOCH, `Share session epoch ${epoch} is not the expected ${session.nextEpoch}`);
        }
        session.nextEpoch = session.nextEpoch === 0x7fffffff ? 1 : session.nextEpoch + 1;
      }
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

  clear(): void {
    this.sessions.clear();
  }
}
