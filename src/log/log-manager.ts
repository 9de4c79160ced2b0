// log/ room: LogManager — the partition logs of one log dir: opening them (recovery), deleting
// them (Kafka's "-delete" rename, then a delayed close), the offset checkpoints, retention and
// flush.ms. What topics and partitions exist is decided above (cluster/, replication/).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, promises as fsp, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/index.js';
import { ErrorCode, KafkaError } from '../errors.js';
import type { OpenOptions, PartitionLog, StorageEngine } from '../storage/engine.js';
import { readCheckpoint, writeCheckpoint, writeFileAtomic, type CheckpointEntry } from './checkpoint.js';
import { LogCleaner, cleanerSettings } from './cleaner.js';
import { Log, toLogConfig } from './log.js';
import { ensureSpaceReserve, freeBytes, fullDiskReason, isNoSpace, readOnlyReason, releaseSpaceReserve, setReadOnly, SPACE_RESERVE_BYTES } from './disk-space.js';

/** Deleted logs, closed file.delete.delay.ms after the delete (see deleteLogs). */
interface PendingDelete {
  timer: NodeJS.Timeout | null;
  /** Closes the logs and removes the renamed directories now; idempotent. */
  finish(): Promise<void>;
}

const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
/** Kafka's clean shutdown marker (LogLoader.CleanShutdownFileName), written last by close(). */
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
/** Kafka's per-partition file naming the topic id the directory belongs to. */
const PARTITION_METADATA = 'partition.metadata';
/** File names are at most 255 bytes (Kafka shortens the topic part of delete and stray names). */
const MAX_FILE_NAME = 255;

/** Kafka's logDeleteDirName / logStrayDirName: the topic part shortened so the name always fits. */
export function renamedDirName(topic: string, partition: number, kind: 'delete' | 'stray'): string {
  const suffix = `-${partition}.${randomBytes(16).toString('hex')}-${kind}`;
  return `${topic.slice(0, Math.max(0, MAX_FILE_NAME - suffix.length))}${suffix}`;
}

/** The topic id in a partition dir's partition.metadata; null when there is none (or it is unreadable). */
export function readPartitionMetadata(dir: string): string | null {
  try {
    const text = readFileSync(join(dir, PARTITION_METADATA), 'utf8');
    const id = /^topic_id:\s*(\S+)\s*$/m.exec(text);
    return id ? id[1] : null;
  } catch {
    return null;
  }
}

/** Off the event loop: the file creations of many partitions opened together overlap. */
async function writePartitionMetadata(dir: string, topicId: string): Promise<void> {
  const tmp = join(dir, `${PARTITION_METADATA}.tmp`);
  await fsp.writeFile(tmp, `version: 0\ntopic_id: ${topicId}\n`);
  await fsp.rename(tmp, join(dir, PARTITION_METADATA));
}
const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
/** Logs flushed at once by the recovery-point round (each flush is a few fsyncs on the libuv pool). */
const RECOVERY_FLUSH_CONCURRENCY = 2;

export interface LogManagerOptions {
  dataDir: string;
  engine: StorageEngine;
  config: BrokerConfig;
  logger: Logger;
}

function key(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class LogManager {
  readonly dataDir: string;
  readonly engine: StorageEngine;
  private readonly config: BrokerConfig;
  private readonly logger: Logger;
  private readonly logs = new Map<string, Log>();
  /** From log-start-offset-checkpoint at start, used when a log is first opened. */
  private readonly checkpointedLogStart = new Map<string, number>();
  /** From recovery-point-offset-checkpoint at start: where recovery checks the logs from. */
  private readonly checkpointedRecoveryPoint = new Map<string, number>();
  /** Per open log: every offset below it is fsynced (the recovery-point checkpoint's value). */
  private readonly recoveryPoints = new Map<string, number>();
  /** The clean shutdown marker was there at start: the logs are trusted, nothing is truncated. */
  private hadCleanShutdown = false;
  private retentionTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  /** A recovery-point round is running (the timer does not start a second one). */
  private advancing = false;
  /** While read-only (a full disk): checks for space, to leave read-only (disk-space.ts). */
  private spaceTimer: NodeJS.Timeout | null = null;
  private readonly pendingDeletes = new Set<PendingDelete>();
  private closed = false;
  /** The log cleaner of this dir (log.cleaner.enable), started with the background tasks. */
  readonly cleaner: LogCleaner | null;

  private constructor(options: LogManagerOptions) {
    this.dataDir = options.dataDir;
    this.engine = options.engine;
    this.config = options.config;
    this.logger = options.logger;
    this.cleaner = this.config.getBoolean('log.cleaner.enable')
      ? new LogCleaner({
          dataDir: this.dataDir,
          logs: () => this.logs.values(),
          settings: cleanerSettings(this.config),
          logger: this.logger.child({ room: 'log-cleaner' }),
        })
      : null;
  }

  /** Opens the log dir: finishes interrupted deletes, reads the log start checkpoint. */
  static open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    mkdirSync(manager.dataDir, { recursive: true });
    manager.removeDeletedDirs();
    setReadOnly(manager.dataDir, null);
    // Full: no room for the reserve, or (the reserve in place) almost nothing left besides it.
    if (!ensureSpaceReserve(manager.dataDir) || freeBytes(manager.dataDir) < SPACE_RESERVE_BYTES / 4) manager.enterReadOnly();
    for (const e of readCheckpoint(join(manager.dataDir, LOG_START_OFFSET_CHECKPOINT))) {
      manager.checkpointedLogStart.set(key(e.topic, e.partition), e.offset);
    }
    for (const e of readCheckpoint(join(manager.dataDir, RECOVERY_POINT_CHECKPOINT))) {
      manager.checkpointedRecoveryPoint.set(key(e.topic, e.partition), e.offset);
    }
    // As Kafka: the marker says the last stop flushed and closed every log. It is removed at once,
    // so a crash from here on is seen as unclean by the next start.
    const marker = join(manager.dataDir, CLEAN_SHUTDOWN_FILE);
    manager.hadCleanShutdown = existsSync(marker);
    if (manager.hadCleanShutdown) rmSync(marker, { force: true });
    manager.logger.info(
      { dataDir: manager.dataDir, cleanShutdown: manager.hadCleanShutdown },
      manager.hadCleanShutdown ? 'log dir was shut down cleanly' : 'log dir was not shut down cleanly: logs are checked from their recovery points',
    );
    return Promise.resolve(manager);
  }

  /** A full disk: appends are refused (KAFKA_STORAGE_ERROR), reads go on; the reserve is released. */
  private enterReadOnly(): void {
    releaseSpaceReserve(this.dataDir);
    if (readOnlyReason(this.dataDir) !== null) return;
    const reason = fullDiskReason(this.dataDir);
    setReadOnly(this.dataDir, reason);
    this.logger.warn({ dataDir: this.dataDir }, reason);
  }

  /** Why appends are refused (the disk was full at start); null when writable. */
  get readOnlyReason(): string | null {
    return readOnlyReason(this.dataDir);
  }

  /** Leaves read-only once the disk has room for the reserve and half as much again (the reserve is back). */
  private checkSpace(): void {
    if (this.readOnlyReason === null) return;
    try {
      if (freeBytes(this.dataDir) < SPACE_RESERVE_BYTES * 1.5 || !ensureSpaceReserve(this.dataDir)) return;
    } catch (err) {
      this.logger.warn({ err, dataDir: this.dataDir }, 'checking the free space of a full log dir failed');
      return;
    }
    setReadOnly(this.dataDir, null);
    this.logger.info({ dataDir: this.dataDir }, `log dir ${this.dataDir} has free space again: accepting produce`);
  }

  /** Finishes deletes interrupted by a crash: directories renamed to *-delete. */
  private removeDeletedDirs(): void {
    for (const name of readdirSync(this.dataDir)) {
      if (name.endsWith('-delete')) rmSync(join(this.dataDir, name), { recursive: true, force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'log manager is closed');
  }

  getLog(topic: string, partition: number): Log | undefined {
    return this.logs.get(key(topic, partition));
  }

  allLogs(): Log[] {
    return [...this.logs.values()];
  }

  /** The partition's log, opened (and its tail recovered) on first use. */
  async getOrCreateLog(topic: string, partition: number, overrides: Record<string, string>, topicId?: string): Promise<Log> {
    this.assertOpen();
    const existing = this.logs.get(key(topic, partition));
    if (existing) return existing;
    const topicConfig = this.config.resolveTopicConfig(overrides);
    const dir = join(this.dataDir, key(topic, partition));
    if (topicId !== undefined) this.setAsideForeignDir(dir, topic, partition, topicId);
    const logStartOffset = this.checkpointedLogStart.get(key(topic, partition));
    const fresh = !existsSync(dir);
    // After an unclean stop a log without a checkpointed recovery point is checked whole (Kafka's 0).
    const recoveryPoint = this.checkpointedRecoveryPoint.get(key(topic, partition)) ?? 0;
    const openOptions: OpenOptions = this.hadCleanShutdown ? { hadCleanShutdown: true } : { recoveryPoint };
    if (logStartOffset !== undefined) openOptions.logStartOffset = logStartOffset;
    const open = (): Promise<PartitionLog> => this.engine.openLog(dir, toLogConfig(topicConfig), openOptions);
    const pl = await open()
      .catch((err: unknown) => {
        // A full disk (the engine rewrites the active segment's indexes on open): read-only, and
        // the released reserve gives the open the room it needs.
        if (!fresh && isNoSpace(err) && releaseSpaceReserve(this.dataDir)) {
          this.enterReadOnly();
          return open();
        }
        throw err;
      })
      .catch((err: unknown) => {
        // An open that failed (no fds left, no space) leaves no directory of its own behind.
        if (fresh) this.discardFailedDir(dir, topic, partition);
        throw err;
      });
    if (topicId !== undefined && (fresh || readPartitionMetadata(dir) !== topicId)) {
      await writePartitionMetadata(dir, topicId).catch(async (err: unknown) => {
        // As a failed open (no fds left): closed, and a new directory does not stay behind.
        await pl.close().catch(() => undefined);
        if (fresh) this.discardFailedDir(dir, topic, partition);
        throw err;
      });
    }
    // The engine logs a recovered (truncated) tail itself, with the offset where it cut.
    // Another caller may have opened it while we awaited: keep the first.
    const raced = this.logs.get(key(topic, partition));
    if (raced) {
      await pl.close();
      return raced;
    }
    const log = new Log(topic, partition, pl, topicConfig, (err, l) => this.logger.error({ err, topic: l.topic, partition: l.partition }, 'flush failed'));
    log.onTruncate((offset) => this.cleaner?.truncated(log, offset));
    this.recoveryPoints.set(key(topic, partition), Math.min(this.hadCleanShutdown ? pl.logEndOffset : recoveryPoint, pl.logEndOffset));
    this.logs.set(key(topic, partition), log);
    return log;
  }

  /**
   * Renamed "-delete" at once (a rename needs no fd, and the name is free again), then removed;
   * when the removal fails too (no fds left) it is tried again a little later, and a start
   * removes whatever "-delete" directory is left.
   */
  private discardFailedDir(dir: string, topic: string, partition: number): void {
    const target = join(this.dataDir, renamedDirName(topic, partition, 'delete'));
    try {
      renameSync(dir, target);
    } catch (err) {
      this.logger.warn({ err, topic, partition, dir }, 'could not set aside the directory of a log that failed to open');
      return;
    }
    const remove = (attempt: number): void => {
      try {
        rmSync(target, { recursive: true, force: true });
      } catch (err) {
        if (attempt >= 10 || this.closed) {
          this.logger.warn({ err, topic, partition, dir: target }, 'could not remove the directory of a log that failed to open; the next start removes it');
          return;
        }
        setTimeout(() => remove(attempt + 1), 1000).unref();
      }
    };
    remove(0);
  }

  /**
   * A directory left by another topic of the same name (deleted while this broker was away, or
   * metadata lost) is never adopted: its partition.metadata names another topic id. It is renamed
   * `-stray` (kept for the operator, never served, as Kafka does) and the log starts empty.
   * A directory without the file (written before Spool kept it) is adopted.
   */
  private setAsideForeignDir(dir: string, topic: string, partition: number, topicId: string): void {
    if (!existsSync(dir)) return;
    const found = readPartitionMetadata(dir);
    if (found === null || found === topicId) return;
    const target = join(this.dataDir, renamedDirName(topic, partition, 'stray'));
    renameSync(dir, target);
    this.checkpointedLogStart.delete(key(topic, partition));
    this.checkpointedRecoveryPoint.delete(key(topic, partition));
    this.cleaner?.forget(topic, partition);
    this.logger.warn({ topic, partition, topicId, foundTopicId: found, movedTo: target }, 'partition directory belongs to another topic id: set aside as stray, not adopted');
  }

  /**
   * Deletes a topic's logs. Renamed first (Kafka's "-delete" suffix) so a crash mid-delete never
   * revives them and the name is free for a new topic at once. The logs stay open (their fds
   * valid under the new name) for file.delete.delay.ms: a Fetch already holding a FileSlice is
   * still sending it, and closing now would hand it EBADF or, with the fd number reused,
   * another file's bytes.
   */
  deleteLogs(topic: string, partitions: number[], overrides: Record<string, string>): void {
    this.assertOpen();
    const doomed: Array<{ log: Log; dir: string }> = [];
    for (const partition of partitions) {
      const log = this.logs.get(key(topic, partition));
      this.checkpointedLogStart.delete(key(topic, partition));
      this.checkpointedRecoveryPoint.delete(key(topic, partition));
      this.recoveryPoints.delete(key(topic, partition));
      this.cleaner?.forget(topic, partition);
      if (!log) continue;
      this.logs.delete(key(topic, partition));
      // Before the rename: from then on the old paths may name a recreated topic's files.
      log.markDeleted();
      const target = join(this.dataDir, renamedDirName(topic, partition, 'delete'));
      renameSync(log.dir, target);
      doomed.push({ log, dir: target });
    }
    const delayMs = this.config.resolveTopicConfig(overrides).fileDeleteDelayMs;
    this.scheduleClose(topic, doomed, delayMs);
    this.writeCheckpoints();
  }

  /** Closes deleted logs and removes their directories after `delayMs`, or at close(). */
  private scheduleClose(topic: string, doomed: Array<{ log: Log; dir: string }>, delayMs: number): void {
    let finishing: Promise<void> | null = null;
    const pending: PendingDelete = {
      timer: null,
      finish: () => {
        if (pending.timer) clearTimeout(pending.timer);
        pending.timer = null;
        finishing ??= (async () => {
          for (const { log, dir } of doomed) {
            try {
              await log.close();
            } catch (err) {
              this.logger.warn({ err, topic, partition: log.partition }, 'closing a deleted log failed');
            }
            rmSync(dir, { recursive: true, force: true });
          }
          this.pendingDeletes.delete(pending);
        })();
        return finishing;
      },
    };
    this.pendingDeletes.add(pending);
    pending.timer = setTimeout(() => {
      pending.finish().catch((err: unknown) => this.logger.error({ err, topic }, 'removing a deleted topic failed'));
    }, Math.min(Math.max(0, delayMs), 2147483647));
    // Never keeps the process alive: close() finishes whatever is pending.
    pending.timer.unref();
  }

  /** Deleted topics whose logs are still open, waiting out file.delete.delay.ms. */
  pendingTopicDeleteCount(): number {
    return this.pendingDeletes.size;
  }

  /** Applies a topic's new overrides to its open logs (reopening them when storage settings changed). */
  async reconfigureTopic(topic: string, partitions: number, overrides: Record<string, string>): Promise<void> {
    const resolved = this.config.resolveTopicConfig(overrides);
    for (let p = 0; p < partitions; p++) await this.logs.get(key(topic, p))?.reconfigure(resolved, this.engine);
  }

  /** Runs retention and flush.ms checks and writes checkpoints on Kafka's intervals. */
  startBackgroundTasks(): void {
    this.cleaner?.start();
    const retentionInterval = Math.min(this.config.getNumber('log.retention.check.interval.ms'), 2147483647);
    this.retentionTimer = setInterval(() => this.runRetention(Date.now()), retentionInterval);
    this.retentionTimer.unref();
    const checkpointInterval = Math.max(1000, Math.min(this.config.getNumber('log.flush.offset.checkpoint.interval.ms'), 2147483647));
    this.checkpointTimer = setInterval(() => {
      const now = Date.now();
      for (const log of this.logs.values()) if (log.isAvailable()) log.flushIfDue(now);
      // A round still flushing (many logs, a slow disk) is not joined by a second one.
      if (this.advancing) return;
      this.advancing = true;
      void this.advanceRecoveryPoints().finally(() => {
        this.advancing = false;
      }).then(() => {
        if (this.closed) return;
        try {
          this.writeCheckpoints();
        } catch (err) {
          this.logger.error({ err }, 'writing offset checkpoints failed');
        }
      });
    }, checkpointInterval);
    this.checkpointTimer.unref();
    this.spaceTimer = setInterval(() => this.checkSpace(), 5000);
    this.spaceTimer.unref();
  }

  /** One retention pass over every log; returns the number of segments deleted. */
  runRetention(now: number): number {
    let deleted = 0;
    for (const log of this.logs.values()) {
      if (!log.isAvailable()) continue;
      try {
        const n = log.applyRetention(now);
        if (n > 0) {
          deleted += n;
          this.logger.info({ topic: log.topic, partition: log.partition, segments: n, logStartOffset: log.logStartOffset }, 'retention deleted segments');
        }
      } catch (err) {
        this.logger.error({ err, topic: log.topic, partition: log.partition }, 'retention failed');
      }
    }
    if (deleted > 0) this.writeCheckpoints();
    return deleted;
  }

  /**
   * Flushes every log written since its recovery point and moves the point to the log end
   * offset taken before the flush (Kafka's recovery point: everything below it is on disk).
   */
  async advanceRecoveryPoints(): Promise<void> {
    const due: Array<[string, Log, number]> = [];
    for (const [k, log] of this.logs) {
      if (!log.isAvailable()) continue;
      const end = log.logEndOffset;
      if (end !== (this.recoveryPoints.get(k) ?? 0)) due.push([k, log, end]);
    }
    // A few logs at a time: each flush is several fsyncs on the libuv pool, which the fetch
    // path's file reads (TS engine) and other async file work share. Thousands of logs flushed at
    // once filled the pool's four threads for seconds and stalled fetches behind them.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length) {
        const [k, log, end] = due[next++];
        if (!log.isAvailable()) continue;
        try {
          await log.flush();
          if (this.logs.get(k) === log) this.recoveryPoints.set(k, end);
        } catch (err) {
          this.logger.warn({ err, topic: log.topic, partition: log.partition }, 'flush for the recovery point failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECOVERY_FLUSH_CONCURRENCY, due.length) }, worker));
  }

  writeCheckpoints(): void {
    const recovery: CheckpointEntry[] = [];
    const starts: CheckpointEntry[] = [];
    for (const [k, log] of this.logs) {
      if (!log.isAvailable()) continue;
      // Truncation may have moved the log end below the point: the checkpoint never exceeds it.
      recovery.push({ topic: log.topic, partition: log.partition, offset: Math.min(this.recoveryPoints.get(k) ?? 0, log.logEndOffset) });
      starts.push({ topic: log.topic, partition: log.partition, offset: log.logStartOffset });
    }
    writeCheckpoint(join(this.dataDir, RECOVERY_POINT_CHECKPOINT), recovery);
    writeCheckpoint(join(this.dataDir, LOG_START_OFFSET_CHECKPOINT), starts);
  }

  /** Flushes and closes every log, writing the checkpoints last (a clean shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.spaceTimer) clearInterval(this.spaceTimer);
    try {
      this.writeCheckpoints();
    } catch (err) {
      // A full disk (ENOSPC) must not turn a clean stop into a failed one: the logs still close,
      // and the next start recovers from the previous checkpoints.
      this.logger.warn({ err, dataDir: this.dataDir }, 'writing offset checkpoints at close failed; the next start recovers without them');
    }
    this.closed = true;
    // Rounds in progress finish (their checkpoint written) before the logs close.
    await this.cleaner?.stop();
    // All at once: a log's close (its last flush, then the engine's close) fsyncs on the libuv
    // pool, so the fsyncs of every partition overlap (the filesystem commits them together)
    // instead of queueing one after another: 800 partitions close in ~2 s, not ~19 s.
    const logs = [...this.logs.values()];
    // Taken before the close: each close flushes its log, so these become the recovery points.
    const ends = logs.map((log) => (log.isAvailable() ? { topic: log.topic, partition: log.partition, offset: log.logEndOffset } : null));
    const closed = await Promise.allSettled(logs.map((log) => log.close()));
    closed.forEach((r, i) => {
      if (r.status !== 'rejected') return;
      // A full disk is the operator's to fix, not a broker fault: a warning, and the stop stays clean.
      const level = isNoSpace(r.reason) ? 'warn' : 'error';
      this.logger[level]({ err: r.reason, topic: logs[i].topic, partition: logs[i].partition }, 'closing log failed');
    });
    // Only when every log was flushed and closed: the marker tells the next start to trust them.
    const flushed = ends.filter((e) => e !== null);
    if (closed.every((r) => r.status === 'fulfilled') && flushed.length === ends.length) {
      try {
        writeCheckpoint(join(this.dataDir, RECOVERY_POINT_CHECKPOINT), flushed);
        writeFileAtomic(join(this.dataDir, CLEAN_SHUTDOWN_FILE), '');
      } catch (err) {
        this.logger.warn({ err, dataDir: this.dataDir }, 'writing the clean shutdown marker failed: the next start recovers the logs');
      }
    }
    // The broker closes the log manager after its in-flight requests are answered, so no
    // FileSlice of a deleted topic is in use any more: no reason to wait out the delay.
    const results = await Promise.allSettled([...this.pendingDeletes].map((p) => p.finish()));
    for (const r of results) if (r.status === 'rejected') this.logger.error({ err: r.reason }, 'removing a deleted topic failed');
    this.logger.info({ dataDir: this.dataDir }, 'log manager closed');
  }
}
