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
