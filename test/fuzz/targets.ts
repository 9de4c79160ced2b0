// The JS fuzz targets (see coverage-fuzzer.ts) and a runner: `node dist/test/fuzz/targets.js
// <target> <seconds> <seed>` fuzzes one target in a fresh process and prints its report as JSON.
// A process of its own keeps the coverage snapshot small (only the modules under test are loaded,
// not the test runner's), which makes each execution several times cheaper.
import { join } from 'node:path';
import { ProtocolError, decodeRequestBody, decodeRequestHeader } from '../../src/protocol/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch.js';
import { StorageError, type Codec } from '../../src/storage/engine.js';
import { validateBatches } from '../../src/storage/ts/batch.js';
import { decompress } from '../../src/storage/ts/codec.js';
import { crc32c } from '../../src/storage/ts/crc32c.js';
import { fuzz, type FuzzTarget } from './coverage-fuzzer.js';
import { jsCorpusDir, readCorpus } from './seeds.js';

/** Makes the first batch's length field and CRC agree with the bytes, so mutants reach the record parser. */
function resealBatch(b: Buffer): Buffer {
  if (b.length < 61) return b;
  const out = Buffer.from(b);
  out.writeInt8(2, 16);
  out.writeInt32BE(out.length - 12, 8);
  out.writeUInt32BE(crc32c(out, 21, out.length), 17);
  return out;
}

export const targets: Array<{ target: FuzzTarget; corpus: string | null }> = [
  {
    corpus: 'request-frames',
    target: {
      name: 'request-frames',
      covers: /\/dist\/src\/protocol\//,
      run(input) {
        const h = decodeRequestHeader(input);
        decodeRequestBody(h.apiKey, h.apiVersion, input, h.bodyOffset);
      },
      expected: (err) => err instanceof ProtocolError,
    },
  },
  {
    corpus: 'record-batches',
    target: {
      name: 'record-batches',
      covers: /\/dist\/src\/(protocol|storage\/ts)\//,
      run(input) {
        decodeRecordBatches(input, (codec, data) => decompress(codec as Codec, data));
      },
      // A compressed section that does not decompress is the codec's StorageError (CORRUPT_MESSAGE).
      expected: (err) => err instanceof ProtocolError || err instanceof StorageError,
      repair: resealBatch,
    },
  },
  {
    corpus: 'record-batches',
    target: {
      name: 'ts-engine-validation',
      covers: /\/dist\/src\/(storage\/ts|records)\//,
      run(input) {
        const compacted = input.length > 0 && (input[input.length - 1] & 1) === 1;
        validateBatches(input, 1048588, { compacted, timestamps: null }, 'fuzz');
      },
      expected: (err) => err instanceof StorageError,
      repair: resealBatch,
    },
  },
  {
    corpus: null,
    target: { name: 'planted', covers: /\/dist\/test\/fuzz\/targets\.js$/, run: plantedBug, expected: () => false },
  },
];

// The fuzzer itself: a bug behind four nested byte-range checks. Blind mutation of the seed
// reaches it about once in 16^4 * (mutation odds) inputs; following coverage one check at a time
// reaches it in a few thousand.
export function plantedBug(b: Buffer): void {
  if (b.length < 4) return;
  if (b[0] < 0xf0) return;
  if (b[1] > 0x0f) return;
  if (b[2] < 0xf0) return;
  if (b[3] <= 0x0f) throw new TypeError('reached the planted bug');
}

const [name, seconds, seed] = process.argv.slice(2) as Array<string | undefined>;
if (name !== undefined) {
  const entry = targets.find((e) => e.target.name === name);
  if (entry === undefined) throw new Error(`unknown fuzz target ${name}`);
  const seeds = entry.corpus === null ? [Buffer.from('....')] : readCorpus(join(jsCorpusDir, entry.corpus));
  const report = fuzz(entry.target, { seeds, maxTimeMs: Number(seconds) * 1000, seed: Number(seed), slowMs: 2000, stopOnCrash: name === 'planted' });
  process.stdout.write(JSON.stringify({ ...report, crashes: report.crashes.map((c) => ({ input: c.input.toString('hex'), error: c.error })) }));
}
