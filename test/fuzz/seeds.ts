// Seed inputs of the fuzz targets (JS: test/fuzz/*.test.ts; Rust: native/fuzz), built from the
// project's own encoders so every API version and every codec is represented. The checked-in
// corpus under test/fuzz/corpus and native/fuzz/corpus is written from these by
// `node dist/test/fuzz/seeds.js --write` and read back by the tests, so a change to the encoders
// does not silently change what the fuzzers start from.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apis } from '../../src/protocol/index.js';
import { Writer } from '../../src/protocol/primitives.js';
import { ControlRecordType, encodeControlBatch, encodeRecordBatch } from '../../src/protocol/record-batch.js';
import type { AnyMessageSchema } from '../../src/protocol/schema.js';
import { compress } from '../../src/storage/ts/codec.js';
import { crc32c } from '../../src/storage/ts/crc32c.js';
import { Codec } from '../../src/storage/engine.js';
import { sampleStruct } from '../helpers/protocol.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const jsCorpusDir = join(repoRoot, 'test', 'fuzz', 'corpus');
export const rustCorpusDir = join(repoRoot, 'native', 'fuzz', 'corpus');

/** A request frame (header v1/v2 + sampled body) for every API at its lowest and highest version. */
export function requestFrameSeeds(): Buffer[] {
  const frames: Buffer[] = [];
  for (const entry of Object.values(apis)) {
    const schema = entry.request as AnyMessageSchema;
    for (const v of new Set([schema.versions.min, schema.versions.max])) {
      const w = new Writer();
      w.int16(schema.apiKey);
      w.int16(v);
      w.int32(1234);
      w.string('fuzz', false);
      if (schema.isFlexible(v)) w.uvarint(0);
      schema.encodeUnchecked(w, sampleStruct(schema.struct, v, schema.isFlexible(v)), v);
      frames.push(Buffer.from(w.toBuffer()));
    }
  }
  return frames;
}

/** Rewrites a v2 batch's records section compressed with `codec` (attributes and CRC updated). */
function recompressed(batch: Buffer, codec: Codec): Buffer {
  const header = Buffer.from(batch.subarray(0, 61));
  const body = compress(codec, batch.subarray(61));
  const out = Buffer.concat([header, body]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt16BE((out.readInt16BE(21) & ~7) | codec, 21);
  out.writeUInt32BE(crc32c(out, 21, out.length), 17);
  return out;
}

/** Record batches: plain, with headers/null keys/values, transactional, control, every codec. */
export function recordBatchSeeds(): Buffer[] {
  const t0 = 1_700_000_000_000;
  const plain = encodeRecordBatch(
    [
      { key: Buffer.from('key-1'), value: Buffer.from('value-1'), headers: [{ key: 'h', value: Buffer.from('v') }], timestamp: t0 },
      { key: null, value: null, timestamp: t0 + 5 },
      { key: Buffer.from('k'), value: Buffer.alloc(40, 7), headers: [{ key: 'a', value: null }], timestamp: t0 - 3 },
    ],
    { producerId: 7, producerEpoch: 1, baseSequence: 0 },
  );
  const single = encodeRecordBatch([{ key: Buffer.from('x'), value: Buffer.from('y'), timestamp: t0 }]);
  const txn = encodeRecordBatch([{ key: Buffer.from('t'), value: Buffer.from('txn'), timestamp: t0 }], {
    producerId: 9,
    producerEpoch: 0,
    baseSequence: 5,
    isTransactional: true,
  });
  const marker = encodeControlBatch(ControlRecordType.COMMIT, 3, t0, { producerId: 9, producerEpoch: 0 });
  const seeds = [plain, single, txn, marker, Buffer.concat([plain, single])];
  for (const codec of [Codec.gzip, Codec.snappy, Codec.lz4, Codec.zstd]) seeds.push(recompressed(plain, codec));
  return seeds;
}

function writeDir(dir: string, seeds: Buffer[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  seeds.forEach((s, i) => writeFileSync(join(dir, `seed-${String(i).padStart(3, '0')}`), s));
}

/** The checked-in corpus of one target. */
export function readCorpus(dir: string): Buffer[] {
  return readdirSync(dir)
    .sort()
    .map((name) => readFileSync(join(dir, name)));
}

if (process.argv.includes('--write')) {
  writeDir(join(jsCorpusDir, 'request-frames'), requestFrameSeeds());
  writeDir(join(jsCorpusDir, 'record-batches'), recordBatchSeeds());
  // The Rust target's first byte picks its mode (bit 0: repair length and CRC; bit 1: compacted
  // rules); the rest is the produce buffer.
  writeDir(
    join(rustCorpusDir, 'validate_batches'),
    recordBatchSeeds().flatMap((b) => [Buffer.concat([Buffer.from([0]), b]), Buffer.concat([Buffer.from([3]), b])]),
  );
  console.log(`corpus written under ${jsCorpusDir} and ${rustCorpusDir}`);
}
