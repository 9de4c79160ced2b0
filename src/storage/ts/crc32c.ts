// storage/ room (ts engine): CRC-32C (Castagnoli), the checksum of v2 record batches.
// Slicing-by-8: eight 256-entry tables let the inner loop consume 8 bytes per iteration, which is
// several times faster than the byte-at-a-time loop on the multi-megabyte produce path.

const POLY = 0x82f63b78; // reflected Castagnoli polynomial

const TABLES: Uint32Array[] = (() => {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  tables.push(t0);
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1];
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
    tables.push(t);
  }
  return tables;
})();

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES;

/** The word loop reads little-endian words through a Uint32Array view, so it needs an LE host. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this, creating the typed-array view costs more than it saves. */
const WORD_PATH_MIN = 64;

/** Unsigned CRC-32C of buf[start, end). */
export function crc32c(buf: Buffer, start = 0, end = buf.length): number {
  if (start < 0 || end > buf.length || start > end) {
    throw new RangeError(`crc32c range [${start}, ${end}) outside buffer of ${buf.length} bytes`);
  }
  let crc = 0xffffffff;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= WORD_PATH_MIN) {
    // Bytes up to a 4-byte aligned address, then aligned 8-byte steps read as two words:
    // a third faster than assembling the words from single bytes.
    while (((buf.byteOffset + i) & 3) !== 0) {
      crc = T0[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
      i++;
    }
    const pairs = (end - i) >>> 3;
    const words = new Uint32Array(buf.buffer, buf.byteOffset + i, pairs * 2);
    for (let w = 0; w < words.length; w += 2) {
      const lo = words[w] ^ crc;
      const hi = words[w + 1];
      crc =
        T7[lo & 0xff] ^
        T6[(lo >>> 8) & 0xff] ^
        T5[(lo >>> 16) & 0xff] ^
        T4[lo >>> 24] ^
        T3[hi & 0xff] ^
        T2[(hi >>> 8) & 0xff] ^
        T1[(hi >>> 16) & 0xff] ^
        T0[hi >>> 24];
    }
    i += pairs * 8;
  } else {
    const fastEnd = end - ((end - start) & 7);
    while (i < fastEnd) {
      const lo = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ crc;
      crc =
        T7[lo & 0xff] ^
        T6[(lo >>> 8) & 0xff] ^
        T5[(lo >>> 16) & 0xff] ^
        T4[lo >>> 24] ^
        T3[buf[i + 4]] ^
        T2[buf[i + 5]] ^
        T1[buf[i + 6]] ^
        T0[buf[i + 7]];
      i += 8;
    }
  }
  while (i < end) {
    crc = T0[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    i++;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
