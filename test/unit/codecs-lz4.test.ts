// storage/ room tests: the pure-TS lz4 codec (LZ4 frame format, block format, xxHash32).
// Known vectors were produced once with Python's lz4 4.4.5 and xxhash packages and are pinned
// here as hex, so the tests need nothing but this repo.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { lz4Compress, lz4CompressBlock, lz4Decompress, lz4DecompressBlock, xxh32 } from '../../src/storage/ts/codecs/lz4.js';

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

/** Block size words of a frame without optional fields, content size or checksums. */
function blockWords(frame: Buffer): number[] {
  const words: number[] = [];
  let pos = 7;
  for (let i = 0; i < 10_000; i++) {
    const word = frame.readUInt32LE(pos);
    words.push(word);
    if (word === 0) return words;
    pos += 4 + (word & 0x7fffffff);
  }
  throw new Error('frame has no EndMark within 10000 blocks');
}

const HELLO = Buffer.from('Hello, Kafka! '.repeat(100));
const BIG = repeated(200 * 1024, lcgBytes(97, 42));

// lz4.frame.compress(b'Hello, Kafka! ' * 100): content size stored
const LZ4_DEFAULT_TEXT =
  '04224d1868407805000000000000151d000000ef48656c6c6f2c204b61666b6121200e00ffffffffff5750666b612120' +
  '00000000';
// lz4.frame.compress(repeated(200 KiB, lcg_chunk(97, 42)), block_size=4 MiB, block_linked=True,
//   content_checksum=True, block_checksum=True, store_size=True)
const LZ4_LINKED_CHECKSUMS_4M =
  '04224d187c5000200300000000009c8e030000ff528989a57520456d8461815412eed4b530450bb7e399d48eb06e2f77' +
  'e9f79571ba2fe5bcf3b9121393788ea918ee75e489567adb3f809291776f62ef99b369834687edfb24aba75f69002d12' +
  '28e523865e5322c2bcba6395329b349740e217e5fc096100ffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffa950f79571ba2fdd0f27e400000000945a4ce6';
// the same input, 64 KiB linked blocks, no content size: later blocks copy from earlier ones
const LZ4_LINKED_64K =
  '04224d184040c06c010000ff528989a57520456d8461815412eed4b530450bb7e399d48eb06e2f77e9f79571ba2fe5bc' +
  'f3b9121393788ea918ee75e489567adb3f809291776f62ef99b369834687edfb24aba75f69002d1228e523865e5322c2' +
  'bcba6395329b349740e217e5fc096100ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff87506f62ef99b30a0100000fc3ffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffe85099d48eb06e0a0100000f6100ffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe85022c2' +
  'bcba632a0000000fc3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0850f79571ba' +
  '2f00000000';
// lz4.frame.compress(lcg_chunk(300, 7)[:200], store_size=False): one uncompressed block
const LZ4_CHUNK_UNCOMPRESSED =
  '04224d18604082c80000806c4e74921325222e31a1cd13be12ed426966ce24fc23d7da8d2097616a06956ec28ad40313' +
  '6828d4571e3c5dee6e5ec04a91115f5d3b513ec253a416ad6ee5389411d0289aa34cf5c0347c59caf08495f3611b0b50' +
  '68d59804f92eb7299955577999be78c01066870299e57f6cd235bcfb8f449deee23be1eccc8cbff5bfbec20bdbf86b9c' +
  'e54f85b607cf46e94a4b2afbd4e58f4fe15c11128218a32b18f772df8fd57a475bdee4743493265c919dd98be654598a' +
  '9d0f1f0ed42adde0dcd85e906ead1cd9abea9e00000000';

t.test('xxHash32 matches the reference implementation', async (t) => {
  t.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05, 'empty, seed 0');
  t.equal(xxh32(Buffer.alloc(0), 1), 0x0b2cb792, 'empty, seed 1');
  t.equal(xxh32(Buffer.from('abc')), 0x32d153ff, 'abc');
  t.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f, '39 bytes: stripes and tail');
  const ramp = Buffer.alloc(1024);
  for (let i = 0; i < ramp.length; i++) ramp[i] = i & 0xff;
  t.equal(xxh32(ramp, 0x9747b28c), 0x3433dfe5, '1 KiB with a seed above 2^31');
});

t.test('round trips through the frame format', async (t) => {
  const inputs: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    tiny: Buffer.from('a'),
    'below match limit': Buffer.from('abcabcabcab'),
    incompressible: randomBytes(200_000),
    'highly repetitive': Buffer.alloc(1024 * 1024, 0x41),
    '1 MiB mixed': mixedMiB(),
    'exact block multiple': repeated(128 * 1024, lcgBytes(1000, 3)),
  };
  for (const [name, input] of Object.entries(inputs)) {
    t.ok(lz4Decompress(lz4Compress(input)).equals(input), `${name}: 64 KiB blocks`);
    t.ok(lz4Decompress(lz4Compress(input, { blockSize: 4096 })).equals(input), `${name}: 4 MiB blocks`);
  }
  const rep = lz4Compress(inputs['highly repetitive']);
  t.ok(rep.length < (1024 * 1024) / 100, `repetitive input shrinks (${rep.length} bytes)`);
});

t.test('frame header is what Kafka clients write', async (t) => {
  t.same([...lz4Compress(Buffer.alloc(0))], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0], 'empty frame equals python lz4 output');
  const big = lz4Compress(Buffer.alloc(10, 1), { blockSize: 4096 });
  t.same([...big.subarray(4, 7)], [0x60, 0x70, 0x73], 'FLG independent blocks, BD 4 MiB, header checksum');
});

t.test('a block that does not shrink is stored uncompressed', async (t) => {
  const input = randomBytes(150_000);
  const frame = lz4Compress(input);
  const words = blockWords(frame);
  t.same(
    words.map((w) => w >>> 0),
    [(0x80000000 | 65536) >>> 0, (0x80000000 | 65536) >>> 0, (0x80000000 | (150_000 - 131072)) >>> 0, 0],
    'every block has the uncompressed flag and its raw size',
  );
  const squeezed = blockWords(lz4Compress(Buffer.alloc(70_000)));
  t.ok(squeezed.slice(0, -1).every((w) => (w & 0x80000000) === 0), 'compressible blocks are compressed');
});

t.test('decodes frames made by python lz4', async (t) => {
  t.ok(lz4Decompress(Buffer.from(LZ4_DEFAULT_TEXT, 'hex')).equals(HELLO), 'content size flag');
  t.ok(lz4Decompress(Buffer.from(LZ4_LINKED_CHECKSUMS_4M, 'hex')).equals(BIG), 'block and content checksums, 4 MiB');
  const linked = Buffer.from(LZ4_LINKED_64K, 'hex');
  t.ok(lz4Decompress(linked).equals(BIG), 'linked 64 KiB blocks');
  t.ok(linked.length < lz4Compress(BIG).length, 'the linked frame really refers back across blocks');
  t.ok(lz4Decompress(Buffer.from(LZ4_CHUNK_UNCOMPRESSED, 'hex')).equals(lcgBytes(300, 7).subarray(0, 200)), 'uncompressed block');
  const two = Buffer.concat([Buffer.from(LZ4_DEFAULT_TEXT, 'hex'), Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]), lz4Compress(Buffer.from('!'))]);
  t.equal(lz4Decompress(two).toString(), HELLO.toString() + '!', 'concatenated frames with a skippable frame between');
});

t.test('block format round trips and decodes a hand-assembled block', async (t) => {
  for (const input of [Buffer.alloc(0), Buffer.from('abcdefghijklmnop'), mixedMiB().subarray(0, 65536)]) {
    t.ok(lz4DecompressBlock(lz4CompressBlock(input), input.length).equals(input), `${input.length} bytes`);
  }
  // token 0x35: 3 literals "abc", match length 5+4 = 9 at offset 3; then 0x50 + 5 literals.
  const block = Buffer.from([0x35, 0x61, 0x62, 0x63, 0x03, 0x00, 0x50, 0x78, 0x78, 0x78, 0x78, 0x78]);
  t.equal(lz4DecompressBlock(block, 100).toString(), 'abcabcabcabcxxxxx');
});

t.test('corrupt input throws', async (t) => {
  const good = lz4Compress(repeated(100_000, lcgBytes(50, 1)));
  const mutate = (fn: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    fn(b);
    return b;
  };
  const cases: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    'bad magic': mutate((b) => (b[0] = 0x05)),
    'bad header checksum': mutate((b) => (b[6] ^= 0xff)),
    'reserved block size code': mutate((b) => (b[5] = 0x30)),
    'bad version': mutate((b) => (b[4] = 0x20)),
    'truncated in a block': good.subarray(0, good.length - 20),
    'missing EndMark': good.subarray(0, good.length - 4),
    'block larger than the block maximum': mutate((b) => b.writeUInt32LE(70_000, 7)),
    'trailing garbage': Buffer.concat([good, Buffer.from([1, 2])]),
  };
  for (const [name, frame] of Object.entries(cases)) t.throws(() => lz4Decompress(frame), Error, name);

  const checked = Buffer.from(LZ4_LINKED_CHECKSUMS_4M, 'hex');
  const badBlock = Buffer.from(checked);
  badBlock[30] ^= 0x01;
  t.throws(() => lz4Decompress(badBlock), /checksum/, 'block checksum mismatch');
  const badContent = Buffer.from(checked);
  badContent[badContent.length - 1] ^= 0x01;
  t.throws(() => lz4Decompress(badContent), /content checksum/, 'content checksum mismatch');
  const sized = Buffer.from(LZ4_DEFAULT_TEXT, 'hex');
  // Header with content size 1401 instead of 1400, header checksum recomputed.
  const badSize = Buffer.concat([sized.subarray(0, 6), Buffer.from([0x79, 0x05, 0, 0, 0, 0, 0, 0, 0])]);
  badSize[14] = (xxh32(badSize, 0, 4, 14) >>> 8) & 0xff;
  t.throws(() => lz4Decompress(Buffer.concat([badSize, sized.subarray(15)])), /content size/, 'content size mismatch');

  t.throws(() => lz4DecompressBlock(Buffer.from([0x14, 0x61, 0x00, 0x00]), 100), /offset/, 'match offset 0');
  t.throws(() => lz4DecompressBlock(Buffer.from([0x14, 0x61, 0x02, 0x00]), 100), /offset/, 'match offset before the block');
  t.throws(() => lz4DecompressBlock(Buffer.from([0x50, 0x61]), 100), /literal/, 'literals past the block end');
  t.throws(() => lz4DecompressBlock(Buffer.from([0x1f, 0x61, 0x01, 0x00, 0xff, 0xff]), 100), /length/, 'truncated match length');
  t.throws(() => lz4DecompressBlock(Buffer.from([0x1f, 0x61, 0x01, 0x00, 0xff, 0x10, 0x00]), 100), /maximum/, 'output over the cap');
});

t.test('random corruption never hangs', async (t) => {
  const frame = lz4Compress(Buffer.concat([lcgBytes(2000, 11), Buffer.from('spool '.repeat(2000))]));
  let threw = 0;
  for (let i = 0; i < 3000; i++) {
    const bad = Buffer.from(frame);
    const flips = 1 + (i % 4);
    for (let f = 0; f < flips; f++) bad[7 + ((i * 7919 + f * 104729) % (bad.length - 7))] ^= 1 + ((i + f) % 255);
    try {
      const out = lz4Decompress(bad);
      if (out.length > 64 * 1024 * 2) t.fail(`output ${out.length} exceeds the block maximum bound`);
    } catch (err) {
      if (!(err instanceof Error)) t.fail('threw a non-Error');
      threw++;
    }
  }
  t.ok(threw > 0, `${threw} of 3000 corrupted frames were rejected`);
});
