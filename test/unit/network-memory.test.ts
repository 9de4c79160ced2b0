// network room tests (issue 8): a frame's memory follows the bytes that arrived, not its announced
// size; the request memory pool mutes and unmutes readers, lets the read that ran it out finish its
// frame, and never leaves only muted partial frames holding the memory (no deadlock).
import t from 'tap';
import { FRAME_INITIAL_BUFFER_BYTES, FrameDecoder } from '../../src/network/framing.js';
import { RequestMemoryPool, type PoolMember } from '../../src/network/memory-pool.js';

const MiB = 1024 * 1024;

function prefix(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(size, 0);
  return b;
}

t.test('a frame announced at 100 MiB holds only what arrived', async (t) => {
  const d = new FrameDecoder(100 * MiB);
  const frames: Buffer[] = [];
  d.push(prefix(100 * MiB), (f) => frames.push(f));
  t.equal(d.bufferedBytes, 0, 'the size alone allocates nothing');
  t.ok(d.midFrame);
  d.push(Buffer.alloc(10, 1), (f) => frames.push(f));
  t.equal(d.bufferedBytes, FRAME_INITIAL_BUFFER_BYTES, 'the first bytes take 64 KiB');
  for (let i = 0; i < 16; i++) d.push(Buffer.alloc(64 * 1024, 2), (f) => frames.push(f));
  t.ok(d.bufferedBytes <= 2 * (MiB + 10), `about 1 MiB arrived, ${d.bufferedBytes} bytes held`);
  t.equal(frames.length, 0);
});

t.test('frames spread over many chunks come out whole; buffers grow to exactly the frame', async (t) => {
  const sizes = [0, 1, 65535, 65536, 65537, 300 * 1024, 1 * MiB + 3];
  const payloads = sizes.map((n, i) => Buffer.alloc(n, i + 1).fill(i * 7, 0, Math.min(n, 5)));
  const stream = Buffer.concat(payloads.flatMap((p) => [prefix(p.length), p]));
  for (const cut of [1, 3, 7001, 65536, 200000]) {
    const d = new FrameDecoder(2 * MiB);
    const out: Buffer[] = [];
    let maxHeld = 0;
    for (let pos = 0; pos < stream.length; pos += cut) {
      d.push(stream.subarray(pos, pos + cut), (f) => out.push(Buffer.from(f)));
      maxHeld = Math.max(maxHeld, d.bufferedBytes);
    }
    t.same(out.map((b) => b.length), sizes, `chunk size ${cut}`);
    t.ok(out.every((b, i) => b.equals(payloads[i])), 'content intact');
    t.equal(d.bufferedBytes, 0);
    t.notOk(d.midFrame);
    t.ok(maxHeld <= 1 * MiB + 3, 'never more than the largest frame held');
  }
});

class Member implements PoolMember {
  muted = false;
  midFrame = true;
  readBlocked = false;
  constructor(readonly name: string) {}
  setMemoryMuted(muted: boolean): void {
    this.muted = muted;
  }
}

t.test('unbounded pool (queued.max.request.bytes <= 0) counts nothing and mutes nobody', async (t) => {
  const pool = new RequestMemoryPool(-1);
  const a = new Member('a');
  pool.join(a);
  pool.charge(a, 10 * MiB, 500 * MiB);
  t.notOk(pool.outOfMemory);
  t.notOk(a.muted);
  t.equal(pool.usedBytes, 0);
});

t.test('out of memory: everyone but the reader that ran it out is muted until memory comes back', async (t) => {
  const pool = new RequestMemoryPool(100);
  const [a, b, c] = [new Member('a'), new Member('b'), new Member('c')];
  for (const m of [a, b, c]) pool.join(m);
  pool.charge(a, 60, 0);
  t.notOk(pool.outOfMemory);
  pool.charge(b, 50, 0);
  t.ok(pool.outOfMemory, '110 of 100');
  t.same([a.muted, b.muted, c.muted], [true, false, true], 'b ran it out mid-frame: b finishes its frame, the others wait');
  const late = new Member('late');
  pool.join(late);
  t.ok(late.muted, 'a connection accepted meanwhile waits too');
  // b's frame (80 bytes) is complete: b waits like the others, its request is processed.
  pool.charge(b, -50, 80);
  t.ok(b.muted);
  t.equal(pool.usedBytes, 140);
  pool.release(80);
  t.equal(pool.usedBytes, 60);
  t.same([a.muted, b.muted, c.muted, late.muted], [false, false, false, false], 'memory back: everyone reads again');
});

t.test('only muted partial frames hold the memory: the oldest is let through (no deadlock)', async (t) => {
  const pool = new RequestMemoryPool(100);
  const [a, b, c] = [new Member('a'), new Member('b'), new Member('c')];
  for (const m of [a, b, c]) pool.join(m);
  c.midFrame = false;
  pool.charge(a, 60, 0);
  pool.charge(b, 50, 0);
  t.same([a.muted, b.muted], [true, false], 'b privileged');
  // Bytes a had already read arrive after the mute; then b goes away mid-frame.
  pool.charge(a, 45, 0);
  pool.leave(b, 50);
  t.ok(pool.outOfMemory, '105 of 100, all of it a partial frame nobody may finish');
  t.notOk(a.muted, 'a (oldest, mid-frame) may finish its frame');
  t.ok(c.muted, 'c (not mid-frame) still waits');
  // a completes its frame: processing will free memory, so nobody else is let through.
  a.midFrame = false;
  pool.charge(a, -105, 120);
  t.ok(a.muted);
  pool.release(120);
  t.notOk(pool.outOfMemory);
  t.same([a.muted, c.muted], [false, false]);
  t.equal(pool.usedBytes, 0);
});

t.test('a privileged reader that stops reading for its own reasons hands the privilege on', async (t) => {
  const pool = new RequestMemoryPool(100);
  const [a, b] = [new Member('a'), new Member('b')];
  pool.join(a);
  pool.join(b);
  pool.charge(a, 40, 0);
  pool.charge(b, 70, 0);
  t.same([a.muted, b.muted], [true, false], 'b ran it out: b privileged');
  // b stops reading (its client does not read its responses): a can finish instead.
  b.readBlocked = true;
  pool.readerChanged(b);
  t.same([a.muted, b.muted], [false, true], 'a (mid-frame, reading) is let through');
  // A reader that cannot read is never chosen.
  const pool2 = new RequestMemoryPool(10);
  const [c, d] = [new Member('c'), new Member('d')];
  c.readBlocked = true;
  pool2.join(c);
  pool2.join(d);
  pool2.charge(c, 6, 0);
  pool2.charge(d, 6, 0);
  t.same([c.muted, d.muted], [true, false], 'd, not the blocked c');
});
