// replication/ room: Kafka's LeaderEpochFileCache — which leader epoch started at which offset,
// kept in the partition dir's `leader-epoch-checkpoint` ("0\n<count>\n<epoch> <startOffset>\n…").
// Serves OffsetForLeaderEpoch (KIP-101/279 truncation) and the epoch of a record for ListOffsets.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../errors.js';
import { writeFileAtomic, type DeferredSync } from '../log/checkpoint.js';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export class LeaderEpochFileCache {
  /** Ascending in both epoch and start offset. */
  private entries: EpochEntry[];
  /** While set, writes leave their fsyncs to it (a batch of new partitions, see DeferredSync). */
  private deferred: DeferredSync | undefined;

  constructor(
    private readonly dir: string,
    deferred?: DeferredSync,
  ) {
    this.entries = LeaderEpochFileCache.read(join(dir, LEADER_EPOCH_CHECKPOINT));
    // Deferred only when there is no history to lose (see read()).
    this.deferred = this.entries.length === 0 ? deferred : undefined;
  }

  /** Writes from now on fsync at once again (the batch that deferred them has flushed or will). */
  stopDeferring(): void {
    this.deferred = undefined;
  }

  private static read(path: string): EpochEntry[] {
    if (!existsSync(path)) return [];
    const text = readFileSync(path, 'utf8');
    // Empty: written under a DeferredSync and cut by a crash before its flush. Only a new
    // partition's first write is deferred, and its log was empty then: nothing is lost.
    if (text.length === 0) return [];
    const lines = text.split('\n').filter((l) => l.length > 0);
    if (lines.length < 2 || lines[0] !== '0') throw new Error(`malformed ${path}: unsupported version line ${JSON.stringify(lines[0])}`);
    const count = Number(lines[1]);
    if (!Number.isInteger(count) || count !== lines.length - 2) throw new Error(`malformed ${path}: expected ${lines[1]} entries, found ${lines.length - 2}`);
    return lines.slice(2).map((line) => {
      const [epoch, startOffset] = line.split(' ').map(Number);
      if (!Number.isInteger(epoch) || !Number.isInteger(startOffset)) throw new Error(`malformed ${path}: bad line ${JSON.stringify(line)}`);
      return { epoch, startOffset };
    });
  }

  private flush(): void {
    const body = ['0', String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    writeFileAtomic(join(this.dir, LEADER_EPOCH_CHECKPOINT), body.join('\n') + '\n', this.deferred);
  }

  epochEntries(): readonly EpochEntry[] {
    return this.entries;
  }

  latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Only a newer epoch is added (Kafka ignores an
   * older or equal one); entries it makes impossible (start offset at or after it) are dropped.
   */
  assign(epoch: number, startOffset: number): void {
    if (epoch < 0 || epoch <= this.latestEpoch()) return;
    this.entries = this.entries.filter((e) => e.startOffset < startOffset);
    this.entries.push({ epoch, startOffset });
    for (let i = 1; i < this.entries.length; i++) {
      assert(this.entries[i].epoch > this.entries[i - 1].epoch && this.entries[i].startOffset > this.entries[i - 1].startOffset, 'leader epochs and their start offsets increase', {
        dir: this.dir,
        epoch,
        startOffset,
      });
    }
    this.flush();
  }

  /**
   * Kafka's endOffsetFor: the largest epoch <= `requestedEpoch` and the offset where the next
   * epoch starts (the log end offset when the requested epoch is the latest). Unknown or newer
   * epochs give (-1, -1); an epoch older than all known gives (requested, first start offset).
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEntry & { endOffset: number } {
    const undefinedResult = { epoch: UNDEFINED_EPOCH, startOffset: UNDEFINED_EPOCH_OFFSET, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedResult;
    const latest = this.entries.at(-1);
    if (latest?.epoch === requestedEpoch) return { ...latest, endOffset: logEndOffset };
    const higher = this.entries.find((e) => e.epoch > requestedEpoch);
    if (higher === undefined) return undefinedResult;
    const floor = [...this.entries].reverse().find((e) => e.epoch <= requestedEpoch);
    if (floor === undefined) return { epoch: requestedEpoch, startOffset: UNDEFINED_EPOCH_OFFSET, endOffset: higher.startOffset };
    return { ...floor, endOffset: higher.startOffset };
  }

  /** The epoch the record at `offset` was written in; -1 when not known. */
  epochForOffset(offset: number): number {
    let epoch = UNDEFINED_EPOCH;
    for (const e of this.entries) {
      if (e.startOffset > offset) break;
      epoch = e.epoch;
    }
    return epoch;
  }

  /** After truncating the log to `endOffset`: epochs starting at or after it are gone. */
  truncateFromEnd(endOffset: number): void {
    const kept = this.entries.filter((e) => e.startOffset < endOffset);
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    this.flush();
  }

  /** After the log start moved to `startOffset`: the epoch covering it now starts there. */
  truncateFromStart(startOffset: number): void {
    let changed = false;
    while (this.entries.length > 1 && this.entries[1].startOffset <= startOffset) {
      this.entries.shift();
      changed = true;
    }
    if (this.entries.length > 0 && this.entries[0].startOffset < startOffset) {
      this.entries[0] = { epoch: this.entries[0].epoch, startOffset };
      changed = true;
    }
    if (changed) this.flush();
  }
}
