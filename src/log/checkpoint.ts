// log/ room: Kafka's offset checkpoint files (recovery-point-offset-checkpoint,
// log-start-offset-checkpoint): "0\n<count>\n<topic> <partition> <offset>\n…", written atomically.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

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

/** Write to a temp file, fsync, rename over the target, fsync the directory: never a torn file. */
export function writeFileAtomic(path: string, content: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
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
