// log/ room: Kafka's offset checkpoint files (recovery-point-offset-checkpoint,
// log-start-offset-checkpoint): "0\n<count>\n<topic> <partition> <offset>\n…", written atomically.
import { closeSync, fsyncSync, openSync, promises as fsp, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** fsyncs in flight at once in DeferredSync.flush (the libuv pool runs 4 at a time by default). */
const DEFERRED_SYNC_CONCURRENCY = 32;

async function fsyncPathAsync(path: string): Promise<void> {
  const handle = await fsp.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Group durability for many small files written at once (a topic's partitions being created):
 * writeFileAtomic(…, deferred) writes and renames without fsync and records the file and its
 * directory here; flush() then fsyncs all of them concurrently off the event loop (the filesystem
 * commits concurrent fsyncs together), files first, then each directory once. Whoever defers
 * must await flush() before it reports the writes done. Until then a crash may leave such a file
 * empty (a new file whose data was not yet allocated), so its readers treat an empty file as absent.
 */
export class DeferredSync {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();

  add(file: string): void {
    this.files.add(file);
    this.dirs.add(dirname(file));
  }

  /** Also fsyncs this directory (a new entry in it must survive a crash). */
  addDir(dir: string): void {
    this.dirs.add(dir);
  }

  get size(): number {
    return this.files.size + this.dirs.size;
  }

  async flush(): Promise<void> {
    const files = [...this.files];
    const dirs = [...this.dirs];
    this.files.clear();
    this.dirs.clear();
    await runBounded(files, fsyncPathAsync);
    // A directory fsync is not possible on every platform (Windows); the renames are still atomic.
    await runBounded(dirs, (d) => fsyncPathAsync(d).catch((err: unknown) => (isMissing(err) ? undefined : ignoreOnWindows(err))));
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function ignoreOnWindows(err: unknown): void {
  if (process.platform !== 'win32') throw err;
}

/** Runs `fn` over `items`, at most DEFERRED_SYNC_CONCURRENCY at once; the first error is thrown after all settle. */
async function runBounded<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    // Bounded by items.length: each iteration takes one item.
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DEFERRED_SYNC_CONCURRENCY, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}

export interface CheckpointEntry {
  topic: string;
  partition: number;
  offset: number;
}

const CHECKPOINT_VERSION = 0;

export function readCheckpoint(path: string): CheckpointEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length < 2 || Number(lines[0]) !== CHECKPOINT_VERSION) {
    throw new Error(`malformed checkpoint file ${path}: unsupported version line ${JSON.stringify(lines[0])}`);
  }
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count !== lines.length - 2) {
    throw new Error(`malformed checkpoint file ${path}: expected ${lines[1]} entries, found ${lines.length - 2}`);
  }
  return lines.slice(2).map((line) => {
    const parts = line.split(' ');
    if (parts.length !== 3) throw new Error(`malformed checkpoint file ${path}: bad line ${JSON.stringify(line)}`);
    return { topic: parts[0], partition: Number(parts[1]), offset: Number(parts[2]) };
  });
}

export function writeCheckpoint(path: string, entries: CheckpointEntry[]): void {
  const body = [String(CHECKPOINT_VERSION), String(entries.length), ...entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`)];
  writeFileAtomic(path, body.join('\n') + '\n');
}

/**
 * Write to a temp file, fsync, rename over the target, fsync the directory: never a torn file.
 * With `deferred`, the fsyncs are left to deferred.flush() (see DeferredSync).
 */
export function writeFileAtomic(path: string, content: string, deferred?: DeferredSync): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, content);
    if (deferred === undefined) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (deferred !== undefined) {
    deferred.add(path);
    return;
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is not possible on every platform (Windows); the rename is still atomic.
  }
}
