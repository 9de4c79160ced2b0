// test helpers (storage room): the engines every storage suite runs against, plus temp dirs.
// The native engine comes from src/storage/loader.ts; when it cannot load, CI=true turns that
// into a failing test instead of a quiet skip.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageEngine } from '../../src/storage/engine.js';
import { loadNativeEngine } from '../../src/storage/loader.js';
import { tsEngine } from '../../src/storage/ts/index.js';

interface Tap {
  fail(message: string): void;
  comment(message: string): void;
}

/** null with the reason when the addon is not there (built by the native room). */
export async function loadNative(): Promise<{ engine: StorageEngine | null; reason: string }> {
  try {
    return { engine: await loadNativeEngine(), reason: '' };
  } catch (err) {
    return { engine: null, reason: (err as Error).message };
  }
}

/** TS always; native when it loads (a failure instead when CI=true). */
export async function enginesUnderTest(t: Tap): Promise<StorageEngine[]> {
  const engines: StorageEngine[] = [tsEngine];
  const native = await loadNative();
  if (native.engine) engines.push(native.engine);
  else if (process.env.CI === 'true') t.fail(`native storage engine did not load: ${native.reason}`);
  else t.comment(`native storage engine not available, testing ts only: ${native.reason}`);
  return engines;
}

export function tempDir(prefix = 'spool-storage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Bytes of a file slice. */
export function readSlice(slice: { fd: number; position: number; length: number }): Buffer {
  const buf = Buffer.alloc(slice.length);
  let done = 0;
  while (done < slice.length) {
    const n = fs.readSync(slice.fd, buf, done, slice.length - done, slice.position + done);
    if (n === 0) throw new Error(`slice ends early: ${done} of ${slice.length} bytes`);
    done += n;
  }
  return buf;
}

/** name → bytes of every file in a directory (sorted), for byte-for-byte comparisons. */
export function dirContents(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) out.set(name, fs.readFileSync(path.join(dir, name)));
  return out;
}
