// protocol/ room tests: random and mutated frames never make the decoders throw anything but
// ProtocolError. Deterministic PRNG so failures reproduce; bounded iteration counts.
import t from 'tap';
import { ProtocolError, apis, decodeRequestBody, decodeRequestHeader } from '../../src/protocol/index.js';
import { Writer } from '../../src/protocol/primitives.js';
import { decodeRecordBatch, decodeRecordBatches, encodeRecordBatch } from '../../src/protocol/record-batch.js';
import type { AnyMessageSchema } from '../../src/protocol/schema.js';
import { crc32c } from '../../src/storage/ts/crc32c.js';
import { sampleStruct } from '../helpers/protocol.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function decodeFrame(frame: Buffer): void {
  const h = decodeRequestHeader(frame);
  decodeRequestBody(h.apiKey, h.apiVersion, frame, h.bodyOffset);
}

function onlyProtocolErrors(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof ProtocolError ? null : String((err as Error).stack ?? err);
  }
}

/** A valid frame (header + sampled body) for every API at its lowest and highest version. */
function validFrames(): Buffer[] {
  const frames: Buffer[] = [];
  for (const entry of Object.values(apis)) {
    const schema = entry.request as AnyMessageSchema;
    for (const v of [schema.versions.min, schema.versions.max]) {
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

t.test('valid frames decode', async (t) => {
  for (const frame of validFrames()) t.doesNotThrow(() => decodeFrame(frame));
});

t.test('random garbage frames only ever throw ProtocolError', async (t) => {
  const rand = prng(1);
  const keys = Object.values(apis).map((e) => e.request.apiKey);
  let failures = 0;
  for (let i = 0; i < 20000 && failures < 5; i++) {
    const len = Math.floor(rand() * 64);
    const frame = Buffer.alloc(len);
    for (let j = 0; j < len; j++) frame[j] = Math.floor(rand() * 256);
    // Aim most frames at real APIs and versions so bodies get exercised, not just headers.
    if (len >= 4 && rand() < 0.8) {
      const schema = apis[Object.keys(apis)[Math.floor(rand() * keys.length)] as keyof typeof apis].request;
      frame.writeInt16BE(schema.apiKey, 0);
      frame.writeInt16BE(schema.versions.min + Math.floor(rand() * (schema.versions.max - schema.versions.min + 1)), 2);
    }
    const err = onlyProtocolErrors(() => decodeFrame(frame));
    if (err !== null) {
      failures++;
      t.fail(`frame ${frame.toString('hex')}: ${err}`);
    }
  }
  t.equal(failures, 0);
});

t.test('mutated valid frames only ever throw ProtocolError', async (t) => {
  const rand = prng(2);
  let failures = 0;
  for (const base of validFrames()) {
    for (let i = 0; i < 300 && failures < 5; i++) {
      const frame = Buffer.from(base);
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) {
        const at = 8 + Math.floor(rand() * Math.max(1, frame.length - 8));
        if (at < frame.length) frame[at] = Math.floor(rand() * 256);
      }
      const cut = rand() < 0.3 ? frame.subarray(0, Math.floor(rand() * frame.length)) : frame;
      const err = onlyProtocolErrors(() => decodeFrame(cut));
      if (err !== null) {
        failures++;
        t.fail(`frame ${cut.toString('hex')}: ${err}`);
      }
    }
  }
  t.equal(failures, 0);
});

t.test('mutated record batches only ever throw ProtocolError', async (t) => {
  const rand = prng(3);
  const batch = encodeRecordBatch([
    { key: Buffer.from('key'), value: Buffer.from('value'), headers: [{ key: 'h', value: Buffer.from('v') }], timestamp: 1 },
    { key: null, value: null, timestamp: 2 },
  ]);
  let failures = 0;
  for (let i = 0; i < 5000 && failures < 5; i++) {
    const b = Buffer.from(batch);
    const at = Math.floor(rand() * b.length);
    b[at] = Math.floor(rand() * 256);
    // Half the time re-seal the CRC, so the record parser also meets hostile lengths and counts
    // behind a valid checksum instead of stopping at the CRC check.
    if (at >= 21 && rand() < 0.5) b.writeUInt32BE(crc32c(b, 21, b.length), 17);
    const err = onlyProtocolErrors(() => {
      decodeRecordBatch(b);
      decodeRecordBatches(Buffer.concat([b, b.subarray(0, Math.floor(rand() * b.length))]));
    });
    if (err !== null) {
      failures++;
      t.fail(`batch ${b.toString('hex')}: ${err}`);
    }
  }
  t.equal(failures, 0);
});
