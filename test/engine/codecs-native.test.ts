// storage/ room tests: the TS snappy/lz4 codecs and the native addon's must read each other's
// output, since a batch compressed by one engine's broker may be read back by the other's.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Codec, type StorageEngine } from '../../src/storage/engine.js';
import { loadNativeEngine } from '../../src/storage/loader.js';
import { lz4Compress, lz4Decompress } from '../../src/storage/ts/codecs/lz4.js';
import { snappyCompress, snappyDecompress } from '../../src/storage/ts/codecs/snappy.js';

function mixedMiB(): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < 1024 * 1024; i++) {
    const part = i % 3 === 2 ? randomBytes(5000) : Buffer.from(`{"user":${i},"event":"click","page":"/p/${i % 17}"}`.repeat(40));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts).subarray(0, 1024 * 1024);
}

const inputs: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  tiny: Buffer.from('a'),
  incompressible: randomBytes(200_000),
  'highly repetitive': Buffer.alloc(1024 * 1024, 0x41),
  '1 MiB mixed': mixedMiB(),
};

const codecs = [
  { name: 'snappy', codec: Codec.snappy, compress: snappyCompress, decompress: snappyDecompress },
  { name: 'lz4', codec: Codec.lz4, compress: lz4Compress, decompress: lz4Decompress },
] as const;

let native: StorageEngine | null = null;
let unavailable = '';
try {
  native = await loadNativeEngine();
} catch (err) {
  unavailable = (err as Error).message;
}

if (native === null) {
  // Without a built addon there is nothing to cross-check; what remains testable is that the
  // loader fails the documented way, so the broker's fallback to the TS engine can happen.
  t.match(unavailable, /^native storage engine unavailable/, `no native addon: ${unavailable.split('\n')[0]}`);
} else {
  const engine = native;
  for (const c of codecs) {
    t.test(`${c.name}: TS output decompresses with the native engine and vice versa`, async (t) => {
      for (const [name, input] of Object.entries(inputs)) {
        t.ok(engine.decompress(c.codec, c.compress(input)).equals(input), `${name}: TS → native`);
        t.ok(c.decompress(engine.compress(c.codec, input)).equals(input), `${name}: native → TS`);
      }
      t.ok(engine.compress(c.codec, inputs.empty).equals(c.compress(inputs.empty)), 'empty input: identical bytes');
    });
  }
}
