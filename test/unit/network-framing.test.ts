// network room tests: frame reassembly across arbitrary chunk boundaries and the size limit.
import t from 'tap';
import { FrameDecoder, FrameTooLargeError } from '../../src/network/framing.js';

function framed(payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((p) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(p.length, 0);
      return [size, p];
    }),
  );
}

t.test('frames split at every possible boundary come out whole and in order', async (t) => {
  const payloads = [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.from('x')];
  const stream = framed(payloads);
  for (let cut = 1; cut < stream.length; cut += 7) {
    const d = new FrameDecoder(1024);
    const out: Buffer[] = [];
    for (let pos = 0; pos < stream.length; pos += cut) d.push(stream.subarray(pos, pos + cut), (f) => out.push(Buffer.from(f)));
    t.same(out, payloads, `chunk size ${cut}`);
    t.equal(d.pendingBytes, 0);
  }
});

t.test('a size above the limit or negative throws FrameTooLargeError', async (t) => {
  const d = new FrameDecoder(100);
  const big = Buffer.alloc(4);
  big.writeInt32BE(101, 0);
  t.throws(() => d.push(big, () => undefined), FrameTooLargeError);
  const neg = Buffer.alloc(4);
  neg.writeInt32BE(-1, 0);
  t.throws(() => new FrameDecoder(100).push(neg, () => undefined), /Invalid receive/);
  // Size prefix split across chunks is checked too.
  const d2 = new FrameDecoder(100);
  d2.push(big.subarray(0, 2), () => undefined);
  t.throws(() => d2.push(big.subarray(2), () => undefined), FrameTooLargeError);
});

t.test('a frame spread over chunks of mixed sizes comes out whole; memory held stays near what arrived', async (t) => {
  // Large pieces are kept as views and small ones copied: sizes around the 16 KiB view threshold,
  // a frame that starts mid-chunk and one that ends mid-chunk.
  const payloads = [Buffer.alloc(200_000), Buffer.alloc(40_000), Buffer.alloc(70_000)];
  payloads.forEach((p, i) => {
    for (let j = 0; j < p.length; j++) p[j] = (j * 31 + i) & 0xff;
  });
  const stream = framed(payloads);
  for (const cuts of [
    [1, 16_383, 16_384, 65_536, 3, 100_000],
    [16_384, 16_385, 10, 65_536],
    [5, 70_000, 17],
  ]) {
    const d = new FrameDecoder(1024 * 1024);
    const out: Buffer[] = [];
    let pos = 0;
    for (let i = 0; pos < stream.length; i++) {
      const n = cuts[i % cuts.length];
      d.push(stream.subarray(pos, pos + n), (f) => out.push(Buffer.from(f)));
      pos += n;
      const arrived = d.pendingBytes;
      t.ok(d.bufferedBytes <= arrived + 64 * 1024, `held ${d.bufferedBytes} for ${arrived} arrived`);
    }
    t.same(
      out.map((b) => b.length),
      payloads.map((p) => p.length),
      `cuts ${cuts.join(',')}`,
    );
    t.ok(
      out.every((b, i) => b.equals(payloads[i])),
      'content intact',
    );
    t.equal(d.bufferedBytes, 0);
  }
});
