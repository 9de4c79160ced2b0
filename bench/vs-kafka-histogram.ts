// bench/ room: a log-bucket latency histogram in the manner of HdrHistogram, for the fixed-rate
// end-to-end latency rows of bench/vs-kafka.ts. Values are integer microseconds; each power of two
// above 256 µs is cut into 128 equal sub-buckets, so a recorded value is known to within 1/128
// (< 0.8%) of itself, and values below 256 µs exactly. A percentile reports the highest value of
// its bucket (HdrHistogram's "highest equivalent value"), so it never understates.

/** Sub-buckets per power of two (2^7): the relative precision. */
const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS;
/** Up to 2^40 µs (~12.7 days): far beyond any bench phase. */
const MAX_EXPONENT = 40;
const SIZE = (MAX_EXPONENT - SUB_BITS + 1) * SUB_COUNT + SUB_COUNT;

function indexOf(us: number): number {
  const v = Math.max(0, Math.floor(us));
  if (v < 2 * SUB_COUNT) return v;
  const shift = Math.min(MAX_EXPONENT, Math.floor(Math.log2(v))) - SUB_BITS;
  // v >> shift lies in [128, 256): the sub-bucket inside the power of two.
  return shift * SUB_COUNT + Math.min(2 * SUB_COUNT - 1, Math.floor(v / 2 ** shift));
}

/** The highest value that falls in bucket `index`, µs. */
function highestOf(index: number): number {
  if (index < 2 * SUB_COUNT) return index;
  const shift = Math.floor(index / SUB_COUNT) - 1;
  const sub = index - shift * SUB_COUNT;
  return (sub + 1) * 2 ** shift - 1;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(SIZE);
  total = 0;
  maxUs = 0;

  recordUs(us: number): void {
    this.counts[indexOf(us)]++;
    this.total++;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < SIZE; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /** The value at percentile p (0–100), ms; 0 when empty. */
  percentileMs(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(highestOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  /** Non-empty buckets as [index, count] pairs, for the results file. */
  toSparse(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < SIZE; i++) if (this.counts[i] > 0) out.push([i, this.counts[i]]);
    return out;
  }

  static fromSparse(pairs: ReadonlyArray<readonly [number, number]>, maxUs: number): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [i, n] of pairs) {
      h.counts[i] += n;
      h.total += n;
    }
    h.maxUs = maxUs;
    return h;
  }
}
