// log/ room: a full log dir. A broker started on a full disk (ENOSPC) comes up read-only instead of
// failing: it serves reads, and appends answer KAFKA_STORAGE_ERROR until space is freed. Opening a
// log writes (the engine rebuilds the active segment's indexes), so each log dir keeps a small
// reserve file, released when a start finds the disk full; the room it frees lets the logs open.
import { closeSync, openSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The reserve file in each log dir (the lock file is `.lock`; partition dirs never start with a dot). */
export const SPACE_RESERVE_FILE = '.spool-space-reserve';
/** Enough for the index rebuild of a few active segments of moderate size. */
export const SPACE_RESERVE_BYTES = 1024 * 1024;

/** Log dirs (resolved paths) that are read-only because they are full, with the reason. */
const readOnlyDirs = new Map<string, string>();

/** True for "no space left on device" from Node (ENOSPC) or from the native engine (os error 28). */
export function isNoSpace(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { code?: unknown }).code === 'ENOSPC') return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && (message.includes('ENOSPC') || message.includes('No space left on device'));
}

/** Why appends to this log dir are refused; null when it is writable. */
export function readOnlyReason(logDir: string): string | null {
  // Asked on every append: no path resolution while no dir is read-only (the usual case).
  if (readOnlyDirs.size === 0) return null;
  return readOnlyDirs.get(resolve(logDir)) ?? null;
}

export function setReadOnly(logDir: string, reason: string | null): void {
  if (reason === null) readOnlyDirs.delete(resolve(logDir));
  else readOnlyDirs.set(resolve(logDir), reason);
}

/** The message of the read-only line and of the refused appends. */
export function fullDiskReason(logDir: string): string {
  return `log dir ${logDir} is full (ENOSPC): serving reads only; produce answers KAFKA_STORAGE_ERROR until space is freed`;
}

/**
 * Makes sure the reserve file is in place. True when it is; false when the disk has no room for
 * it (ENOSPC: the partial file is removed). Other errors are thrown.
 */
export function ensureSpaceReserve(logDir: string): boolean {
  const path = join(logDir, SPACE_RESERVE_FILE);
  try {
    if (statSync(path).size === SPACE_RESERVE_BYTES) return true;
  } catch {
    // missing: written below
  }
  const chunk = Buffer.alloc(64 * 1024);
  let fd: number | null = null;
  try {
    fd = openSync(path, 'w', 0o644);
    for (let written = 0; written < SPACE_RESERVE_BYTES; written += chunk.length) writeSync(fd, chunk);
    closeSync(fd);
    fd = null;
    return true;
  } catch (err) {
    if (fd !== null) closeSync(fd);
    rmSync(path, { force: true });
    if (isNoSpace(err)) return false;
    throw err;
  }
}

/** Removes the reserve file; true when there was one. */
export function releaseSpaceReserve(logDir: string): boolean {
  const path = join(logDir, SPACE_RESERVE_FILE);
  try {
    statSync(path);
  } catch {
    return false;
  }
  rmSync(path, { force: true });
  return true;
}

/** Free bytes for an unprivileged writer on the log dir's filesystem. */
export function freeBytes(logDir: string): number {
  const s = statfsSync(logDir);
  return s.bavail * s.bsize;
}
