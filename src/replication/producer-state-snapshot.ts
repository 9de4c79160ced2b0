// replication/ room: Kafka's producer state snapshot files — `<20-digit offset>.snapshot` in the
// partition dir, the offset being the log end offset the snapshot covers (exclusive). The bytes
// are Kafka's ProducerSnapshot v1 (storage/src/main/resources/message/ProducerSnapshot.json,
// written by ProducerStateManager.writeSnapshot), so Kafka's own tools read ours:
//
//   version               int16   = 1
//   crc                   uint32  CRC-32C of everything after it (from byte 6 to the end)
//   producerEntries       int32 count, then per producer (46 bytes):
//     producerId int64, epoch int16, lastSequence int32, lastOffset int64, offsetDelta int32,
//     timestamp int64, coordinatorEpoch int32, currentTxnFirstOffset int64 (-1: none)
//
// Only a producer's last batch is stored (as Kafka): lastOffset -1 means the producer has no batch.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readInt64, writeInt64 } from '../records/batch-layout.js';
import { crc32c } from '../storage/ts/crc32c.js';

export const SNAPSHOT_SUFFIX = '.snapshot';
export const SNAPSHOT_VERSION = 1;
const VERSION_OFFSET = 0;
const CRC_OFFSET = 2;
/** Kafka's PRODUCER_ENTRIES_OFFSET: the CRC covers the bytes from here to the end. */
export const PRODUCER_ENTRIES_OFFSET = 6;
const ENTRY_SIZE = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

/** One producer as a snapshot holds it (Kafka's ProducerSnapshot.ProducerEntry). */
export interface SnapshotEntry {
  producerId: number;
  epoch: number;
  lastSequence: number;
  lastOffset: number;
  /** lastOffset − the first offset of the last batch (= its last sequence − first sequence). */
  offsetDelta: number;
  /** Max timestamp of the producer's last batch (or marker). */
  timestamp: number;
  coordinatorEpoch: number;
  currentTxnFirstOffset: number;
}

/** A snapshot file that cannot be used: unknown version, truncated, or its CRC no longer matches. */
export class CorruptSnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptSnapshotError';
  }
}

export function encodeSnapshot(entries: readonly SnapshotEntry[]): Buffer {
  const buf = Buffer.alloc(PRODUCER_ENTRIES_OFFSET + 4 + entries.length * ENTRY_SIZE);
  buf.writeInt16BE(SNAPSHOT_VERSION, VERSION_OFFSET);
  let pos = PRODUCER_ENTRIES_OFFSET;
  buf.writeInt32BE(entries.length, pos);
  pos += 4;
  for (const e of entries) {
    writeInt64(buf, e.producerId, pos);
    buf.writeInt16BE(e.epoch, pos + 8);
    buf.writeInt32BE(e.lastSequence, pos + 10);
    writeInt64(buf, e.lastOffset, pos + 14);
    buf.writeInt32BE(e.offsetDelta, pos + 22);
    writeInt64(buf, e.timestamp, pos + 26);
    buf.writeInt32BE(e.coordinatorEpoch, pos + 34);
    writeInt64(buf, e.currentTxnFirstOffset, pos + 38);
    pos += ENTRY_SIZE;
  }
  buf.writeUInt32BE(crc32c(buf, PRODUCER_ENTRIES_OFFSET), CRC_OFFSET);
  return buf;
}

/** Kafka's readSnapshot: the version, then the struct, then the CRC over the entries. */
export function decodeSnapshot(buf: Buffer): SnapshotEntry[] {
  if (buf.length < PRODUCER_ENTRIES_OFFSET + 4) throw new CorruptSnapshotError(`Snapshot is truncated: ${buf.length} bytes`);
  const version = buf.readInt16BE(VERSION_OFFSET);
  if (version !== SNAPSHOT_VERSION) throw new CorruptSnapshotError(`Snapshot contained an unknown file version ${version}`);
  const count = buf.readInt32BE(PRODUCER_ENTRIES_OFFSET);
  const expected = PRODUCER_ENTRIES_OFFSET + 4 + count * ENTRY_SIZE;
  if (count < 0 || buf.length !== expected) {
    throw new CorruptSnapshotError(`Snapshot failed schema validation: ${count} entries need ${expected} bytes, the file has ${buf.length}`);
  }
  const stored = buf.readUInt32BE(CRC_OFFSET);
  const computed = crc32c(buf, PRODUCER_ENTRIES_OFFSET);
  if (stored !== computed) throw new CorruptSnapshotError(`Snapshot is corrupt (CRC is no longer valid). Stored crc: ${stored}. Computed crc: ${computed}`);
  const entries: SnapshotEntry[] = [];
  for (let i = 0, pos = PRODUCER_ENTRIES_OFFSET + 4; i < count; i++, pos += ENTRY_SIZE) {
    entries.push({
      producerId: readInt64(buf, pos),
      epoch: buf.readInt16BE(pos + 8),
      lastSequence: buf.readInt32BE(pos + 10),
      lastOffset: readInt64(buf, pos + 14),
      offsetDelta: buf.readInt32BE(pos + 22),
      timestamp: readInt64(buf, pos + 26),
      coordinatorEpoch: buf.readInt32BE(pos + 34),
      currentTxnFirstOffset: readInt64(buf, pos + 38),
    });
  }
  return entries;
}

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${SNAPSHOT_SUFFIX}`;
}

/** The snapshot files of a partition dir, by ascending offset. */
export function listSnapshots(dir: string): Array<{ offset: number; path: string }> {
  if (!existsSync(dir)) return [];
  const out: Array<{ offset: number; path: string }> = [];
  for (const name of readdirSync(dir)) {
    if (!/^\d{20}\.snapshot$/.test(name)) continue;
    out.push({ offset: Number(name.slice(0, 20)), path: join(dir, name) });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

export function readSnapshotFile(path: string): SnapshotEntry[] {
  return decodeSnapshot(readFileSync(path));
}

/**
 * Writes a snapshot in place, as Kafka does: a crash mid-write leaves a file whose length or CRC
 * is wrong, which loading detects, deletes and replaces by replaying more of the log. `sync`
 * fsyncs the file (clean shutdown); at a segment roll the page cache is enough, as in Kafka.
 */
export function writeSnapshotFile(path: string, entries: readonly SnapshotEntry[], sync: boolean): void {
  const buf = encodeSnapshot(entries);
  const fd = openSync(path, 'w');
  try {
    let done = 0;
    // Bounded: each writeSync writes at least one byte or throws.
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function deleteSnapshotFile(path: string): void {
  rmSync(path, { force: true });
}
