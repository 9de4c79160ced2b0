// log/ room: the log dir lock — Kafka's `.lock` file, held while a broker runs so a second broker
// (another process, or another embedded broker in this one) never opens the same data: two
// writers on one segment overwrite each other's acknowledged records.
//
// Node has no flock, so the lock is a file created exclusively (link() of a fully written temp
// file: the lock never exists half-written) naming its holder: pid, hostname, the holder's
// process start identity and the time it was taken. A lock whose holder is gone — same host and
// the pid is dead, or the pid now belongs to another process (Linux: its start time differs) —
// is stale (a kill -9, a power cut) and is taken over with a log line. A lock held from another
// host (a shared filesystem) is never taken over.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';

export const LOCK_FILE_NAME = '.lock';

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** Linux: field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null elsewhere. */
  procStart: string | null;
  /** Milliseconds since the epoch when the lock was taken. */
  lockedAt: number;
}

/** Kafka's message (LogManager.lockLogDirs), so operators and scripts recognise it. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | null,
  ) {
    super(`Failed to acquire lock on file ${LOCK_FILE_NAME} in ${dir}. A Kafka instance in another process or thread is using this directory.`);
    this.name = 'DataDirLockedError';
  }
}

/** Locks held by this process, by real path: a second embedded broker on the same dir is refused. */
const heldHere = new Map<string, DirLock>();
let exitHookInstalled = false;

function procStartOf(pid: number): string | null {
  if (process.platform !== 'linux') return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.hostname !== 'string') return null;
    return { pid: v.pid, hostname: v.hostname, procStart: typeof v.procStart === 'string' ? v.procStart : null, lockedAt: typeof v.lockedAt === 'number' ? v.lockedAt : 0 };
  } catch {
    return null;
  }
}

/** Why the holder is known to be gone, or null while it may still be running. */
function staleReason(holder: LockHolder | null, realDir: string): string | null {
  if (holder === null) return 'the lock file is unreadable';
  if (holder.hostname !== hostname()) return null;
  if (holder.pid === process.pid) {
    // Our own pid but not held by this process: a previous process with the same pid (a
    // container restarted as pid 1) or a broker of this process that never stopped cleanly.
    return heldHere.has(realDir) ? null : 'held by this process id but not by this process';
  }
  if (!pidAlive(holder.pid)) return `process ${holder.pid} is not running`;
  const now = procStartOf(holder.pid);
  if (holder.procStart !== null && now !== null && now !== holder.procStart) return `process id ${holder.pid} now belongs to another process`;
  return null;
}

/** Releases every lock this process still holds when it exits without stopping its brokers. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lock of [...heldHere.values()]) lock.release();
  });
}

export class DirLock {
  private released = false;

  private constructor(
    readonly dir: string,
    private readonly realDir: string,
    private readonly content: string,
  ) {}

  get path(): string {
    return join(this.dir, LOCK_FILE_NAME);
  }

  /**
   * Takes the lock on `dir` (created when missing); throws DataDirLockedError while another
   * broker holds it. A stale lock is taken over, with a warning naming its previous holder.
   */
  static acquire(dir: string, logger: Logger): DirLock {
    mkdirSync(dir, { recursive: true });
    const realDir = realpathSync(dir);
    if (heldHere.has(realDir)) throw new DataDirLockedError(dir, heldHere.get(realDir)?.holder() ?? null);
    const lockPath = join(dir, LOCK_FILE_NAME);
    const holder: LockHolder = { pid: process.pid, hostname: hostname(), procStart: procStartOf(process.pid), lockedAt: Date.now() };
    const content = `${JSON.stringify(holder)}\n`;
    // Written in full and fsynced under a private name, then linked: link() fails when `.lock`
    // exists, atomically, and the lock is never seen empty.
    const tmp = join(dir, `${LOCK_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, lockPath);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        let text: string;
        try {
          text = readFileSync(lockPath, 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue; // released meanwhile
          throw err;
        }
        const previous = parseHolder(text);
        const why = attempt < 3 ? staleReason(previous, realDir) : null;
        if (why === null) throw new DataDirLockedError(dir, previous);
        if (!DirLock.setAsideStale(lockPath, text)) throw new DataDirLockedError(dir, previous);
        logger.warn({ dir, previousHolder: previous, reason: why }, `taking over the stale ${LOCK_FILE_NAME} file in ${dir}: its broker did not stop cleanly`);
      }
    } finally {
      unlinkSync(tmp);
    }
    const lock = new DirLock(dir, realDir, content);
    heldHere.set(realDir, lock);
    installExitHook();
    return lock;
  }

  /**
   * Moves the stale lock out of the way; false when what was moved is not the lock judged stale
   * (another broker took it over first), which is put back.
   */
  private static setAsideStale(lockPath: string, staleText: string): boolean {
    const aside = `${lockPath}.stale-${randomBytes(6).toString('hex')}`;
    try {
      renameSync(lockPath, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    let moved = '';
    try {
      moved = readFileSync(aside, 'utf8');
    } catch {
      // unreadable: treated as not ours to remove
    }
    if (moved === staleText) {
      unlinkSync(aside);
      return true;
    }
    try {
      linkSync(aside, lockPath);
    } catch {
      // a third broker locked meanwhile: it holds the lock
    }
    unlinkSync(aside);
    return false;
  }

  holder(): LockHolder {
    return JSON.parse(this.content) as LockHolder;
  }

  /** Removes the lock file if it is still ours; idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (heldHere.get(this.realDir) === this) heldHere.delete(this.realDir);
    try {
      if (readFileSync(this.path, 'utf8') === this.content) unlinkSync(this.path);
    } catch {
      // gone already (the directory was removed): nothing to release
    }
  }
}
