// storage/ room tests: the pure-TS snappy codec (Kafka's xerial framing and raw snappy).
// Known vectors were produced once with Python's python-snappy 0.7.3 and are pinned here as hex,
// so the tests need nothing but this repo.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  snappyCompress,
  snappyCompressRaw,
  snappyDecompress,
  snappyDecompressRaw,
} from '../../src/storage/ts/codecs/snappy.js';

/** Same generator as the Python fixture script: glibc-style LCG, byte = bits 16..23. */
function lcgBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    out[i] = (x >>> 16) & 0xff;
  }
  return out;
}

function repeated(total: number, chunk: Buffer): Buffer {
  const out = Buffer.alloc(total);
  for (let i = 0; i < total; i += chunk.length) chunk.copy(out, i, 0, Math.min(chunk.length, total - i));
  return out;
}

/** 1 MiB alternating text-like and random stretches, like a batch of mixed payloads. */
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

const HELLO = Buffer.from('Hello, Kafka! '.repeat(100));

// snappy.compress(b'Hello, Kafka! ' * 100)
const SNAPPY_RAW_TEXT =
  'f80a3448656c6c6f2c204b61666b612120fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe' +
  '0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00fe0e00a60e00';
// snappy.compress(lcg_chunk(300, 7)): incompressible, one literal with a 2-byte length
const SNAPPY_RAW_CHUNK =
  'ac02f42b016c4e74921325222e31a1cd13be12ed426966ce24fc23d7da8d2097616a06956ec28ad403136828d4571e3c' +
  '5dee6e5ec04a91115f5d3b513ec253a416ad6ee5389411d0289aa34cf5c0347c59caf08495f3611b0b5068d59804f92e' +
  'b7299955577999be78c01066870299e57f6cd235bcfb8f449deee23be1eccc8cbff5bfbec20bdbf86b9ce54f85b607cf' +
  '46e94a4b2afbd4e58f4fe15c11128218a32b18f772df8fd57a475bdee4743493265c919dd98be654598a9d0f1f0ed42a' +
  'dde0dcd85e906ead1cd9abea9ed3da8898dbe003c1427eeb72b84d2c03777b18e52f43397fb42ed9ca6a0b4dab6caf06' +
  '137f6d55d9b9540152f12b8bb6e52d3c322e85f3cce488b0fb11b4df02d66c65105f716c198820ef724c6e042ff2a3ec' +
  '3cf6d9dc3eb8348927e7de769babc9fd06';
// xerial header + [int32 BE len][snappy.compress(block)] for 32 KiB blocks of
// repeated(70000, lcg_chunk(97, 42)), exactly as snappy-java frames it
const SNAPPY_XERIAL_70000 =
  '82534e4150505900000000010000000100000664808002f0618989a57520456d8461815412eed4b530450bb7e399d48e' +
  'b06e2f77e9f79571ba2fe5bcf3b9121393788ea918ee75e489567adb3f809291776f62ef99b369834687edfb24aba75f' +
  '69002d1228e523865e5322c2bcba6395329b349740e217e5fc0989fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe610076610000000664808002f0615e5322c2bcba6395329b349740e217' +
  'e5fc098989a57520456d8461815412eed4b530450bb7e399d48eb06e2f77e9f79571ba2fe5bcf3b9121393788ea918ee' +
  '75e489567adb3f809291776f62ef99b369834687edfb24aba75f69002d1228e523865efe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe' +
  '6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe610076610000000135f022f06169834687edfb24ab' +
  'a75f69002d1228e523865e5322c2bcba6395329b349740e217e5fc098989a57520456d8461815412eed4b530450bb7e3' +
  '99d48eb06e2f77e9f79571ba2fe5bcf3b9121393788ea918ee75e489567adb3f809291776f62ef99b369fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100fe6100' +
  'fe6100fe6100366100';

t.test('round trips through xerial framing', async (t) => {
  const inputs: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    tiny: Buffer.from('a'),
    'below match margin': Buffer.from('abcabcabcabc'),
    incompressible: randomBytes(100_000),
    'highly repetitive': Buffer.alloc(1024 * 1024, 0x41),
    '1 MiB mixed': mixedMiB(),
    'exact block multiple': lcgBytes(64 * 1024, 3),
  };
  for (const [name, input] of Object.entries(inputs)) {
    const compressed = snappyCompress(input);
    t.ok(snappyDecompress(compressed).equals(input), `${name}: decompresses to the input`);
  }
  const rep = snappyCompress(inputs['highly repetitive']);
  t.ok(rep.length < (1024 * 1024) / 15, `repetitive input shrinks (${rep.length} bytes)`);
  const rnd = snappyCompress(inputs.incompressible);
  t.ok(rnd.length < 100_000 + 100_000 / 6 + 200, 'incompressible input stays within the worst-case bound');
});

t.test('raw snappy round trips across 64 KiB fragments', async (t) => {
  for (const input of [Buffer.alloc(0), Buffer.from('x'), mixedMiB(), repeated(300_000, lcgBytes(97, 42))]) {
    t.ok(snappyDecompressRaw(snappyCompressRaw(input)).equals(input), `${input.length} bytes`);
    t.ok(snappyDecompress(snappyCompressRaw(input)).equals(input), `${input.length} bytes via the framing-sniffing entry point`);
  }
});

t.test('compressed output uses xerial framing with 32 KiB blocks', async (t) => {
  const input = lcgBytes(100_000, 9);
  const out = snappyCompress(input);
  t.same([...out.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00], 'magic');
  t.equal(out.readInt32BE(8), 1, 'version');
  t.equal(out.readInt32BE(12), 1, 'compatible version');
  const declared: number[] = [];
  let pos = 16;
  while (pos < out.length) {
    const len = out.readInt32BE(pos);
    const block = out.subarray(pos + 4, pos + 4 + len);
    declared.push(snappyDecompressRaw(block).length);
    pos += 4 + len;
  }
  t.equal(pos, out.length, 'blocks end exactly at the end of the buffer');
  t.same(declared, [32768, 32768, 32768, 100_000 - 3 * 32768], 'block sizes are those of snappy-java');
  t.same([...snappyCompress(Buffer.alloc(0))], [...out.subarray(0, 16)], 'empty input is the header alone');
});

t.test('decodes vectors made by python-snappy', async (t) => {
  t.ok(snappyDecompress(Buffer.from(SNAPPY_RAW_TEXT, 'hex')).equals(HELLO), 'raw snappy of repeated text');
  t.ok(snappyDecompress(Buffer.from(SNAPPY_RAW_CHUNK, 'hex')).equals(lcgBytes(300, 7)), 'raw snappy literal-only block');
  t.ok(
    snappyDecompress(Buffer.from(SNAPPY_XERIAL_70000, 'hex')).equals(repeated(70000, lcgBytes(97, 42))),
    'xerial-framed, three blocks',
  );
  const a = snappyCompress(Buffer.from('first stream '));
  const b = snappyCompress(Buffer.from('second stream'));
  t.equal(snappyDecompress(Buffer.concat([a, b])).toString(), 'first stream second stream', 'concatenated xerial streams');
});

t.test('decodes hand-assembled elements of every tag kind', async (t) => {
  const abc = [0x0c, 0x08, 0x61, 0x62, 0x63];
  const expected = 'abcabcabcabc';
  // copy-1: length 9 = ((tag >> 2) & 7) + 4, offset 3; overlapping, so it repeats "abc".
  t.equal(snappyDecompress(Buffer.from([...abc, 0x15, 0x03])).toString(), expected, 'copy-1');
  t.equal(snappyDecompress(Buffer.from([...abc, 0x22, 0x03, 0x00])).toString(), expected, 'copy-2');
  t.equal(snappyDecompress(Buffer.from([...abc, 0x23, 0x03, 0x00, 0x00, 0x00])).toString(), expected, 'copy-4');
  // literal with a 1-byte length (tag 60): 100 bytes.
  const lit = Buffer.concat([Buffer.from([100, 60 << 2, 99]), Buffer.alloc(100, 0x7a)]);
  t.ok(snappyDecompress(lit).equals(Buffer.alloc(100, 0x7a)), 'literal with 1-byte length');
  t.equal(snappyDecompress(Buffer.from([0x00])).length, 0, 'zero-length raw block');
});

t.test('corrupt input throws', async (t) => {
  const abc = [0x0c, 0x08, 0x61, 0x62, 0x63];
  const cases: Record<string, number[]> = {
    empty: [],
    'truncated preamble': [0x80],
    'preamble over 5 bytes': [0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    'literal past input end': [0x0c, 0x2c, 0x61],
    'copy offset zero': [...abc, 0x15, 0x00],
    'copy offset before output start': [...abc, 0x15, 0x04],
    'copy past declared length': [0x05, 0x08, 0x61, 0x62, 0x63, 0x15, 0x03],
    'fewer bytes than declared': [0x0d, ...abc.slice(1), 0x15, 0x03],
    'truncated copy-2': [...abc, 0x22, 0x03],
    'truncated copy-4': [...abc, 0x23, 0x03, 0x00],
    // Declares 4 GiB in 6 bytes: must be refused before any allocation.
    'impossible declared length': [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00],
  };
  for (const [name, bytes] of Object.entries(cases)) {
    t.throws(() => snappyDecompress(Buffer.from(bytes)), Error, name);
  }
  const framed = snappyCompress(lcgBytes(50_000, 5));
  t.throws(() => snappyDecompress(framed.subarray(0, framed.length - 3)), Error, 'xerial block cut short');
  t.throws(() => snappyDecompress(framed.subarray(0, 18)), Error, 'xerial block length cut short');
  const negative = Buffer.from(framed);
  negative.writeInt32BE(-5, 16);
  t.throws(() => snappyDecompress(negative), Error, 'negative xerial block length');
});

t.test('random corruption never hangs and never yields more than the declared length', async (t) => {
  const input = Buffer.concat([lcgBytes(2000, 11), Buffer.from('spool '.repeat(2000))]);
  const raw = snappyCompressRaw(input);
  let threw = 0;
  for (let i = 0; i < 3000; i++) {
    const bad = Buffer.from(raw);
    const flips = 1 + (i % 4);
    for (let f = 0; f < flips; f++) bad[(i * 7919 + f * 104729) % bad.length] ^= 1 + ((i + f) % 255);
    try {
      const out = snappyDecompressRaw(bad);
      if (out.length > bad.length * 22) t.fail(`output ${out.length} exceeds the expansion bound`);
    } catch (err) {
      if (!(err instanceof Error)) t.fail('threw a non-Error');
      threw++;
    }
  }
  t.ok(threw > 0, `${threw} of 3000 corrupted inputs were rejected`);
});
