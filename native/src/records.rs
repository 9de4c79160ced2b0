// native room: record-level validation of a batch on append (Kafka's DefaultRecord parsing and
// LogValidator record checks). One pass per batch over the records as they decompress: nothing
// is allocated per record, compressed records stream through a reused chunk buffer, and the
// bytes a batch may decompress to are bounded (docs/storage-format.md, "Append" step 1).
use crate::batch::{BatchHeader, HEADER_SIZE};
use crate::codec::{Decoders, Fill, Stream, NONE};
use crate::error::*;
use std::cell::RefCell;

/// Records of one batch may decompress to at most this many times the batch's size...
pub const DECOMPRESSION_RATIO_LIMIT: u64 = 64;
/// ...but never less than this (small batches of very repetitive records are legitimate)...
pub const MIN_DECOMPRESSED_LIMIT: u64 = 16 << 20;
/// ...and never more than this.
pub const MAX_DECOMPRESSED_LIMIT: u64 = 512 << 20;

/// Bytes the records of a compressed batch of `batch_size` bytes may decompress to.
pub fn max_decompressed_bytes(batch_size: usize) -> u64 {
    (batch_size as u64 * DECOMPRESSION_RATIO_LIMIT)
        .clamp(MIN_DECOMPRESSED_LIMIT, MAX_DECOMPRESSED_LIMIT)
}

/// Decompressed bytes handed from a decoder to the record parser at a time.
const CHUNK: usize = 64 * 1024;
/// The smallest record: length, attributes, timestamp delta, offset delta, key and value
/// lengths, header count, one byte each.
const MIN_RECORD_BYTES: u64 = 7;
/// Kafka's RecordBatch.NO_TIMESTAMP.
const NO_TIMESTAMP: i64 = -1;

/// message.timestamp.before.max.ms / after.max.ms for CreateTime records of a leader append.
#[derive(Debug, Clone, Copy)]
pub struct TimestampRange {
    pub now: i64,
    pub before_max_ms: i64,
    pub after_max_ms: i64,
}

/// What the records of an append must satisfy beyond being well formed.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordRules {
    /// cleanup.policy contains compact: every record needs a key.
    pub compacted: bool,
    pub timestamps: Option<TimestampRange>,
    /// A follower append of a leader's (possibly compacted) log: offset deltas must rise and
    /// stay <= lastOffsetDelta instead of being 0..count-1, and a batch may hold no record.
    pub follower: bool,
}

/// Why the records of a batch were refused; `record` is the index inside the batch.
#[derive(Debug)]
enum Refusal {
    Record {
        index: i64,
        code: i32,
        reason: String,
    },
    Batch(String),
}

fn invalid(index: i64, reason: impl Into<String>) -> Refusal {
    Refusal::Record {
        index,
        code: INVALID_RECORD,
        reason: reason.into(),
    }
}

/// Why a source could not hand out the next bytes.
#[derive(Debug)]
enum Short {
    /// The records ended.
    End,
    /// The compressed data is not valid for its codec.
    Codec(String),
    /// The records decompress to more than the limit.
    Limit(u64),
}

/// The records of a batch as a byte stream.
trait Source {
    /// Bytes handed out so far.
    fn position(&self) -> u64;
    fn byte(&mut self) -> Result<u8, Short>;
    fn skip(&mut self, n: u64) -> Result<(), Short>;
    /// True when no byte is left (the decoder has also ended cleanly).
    fn at_end(&mut self) -> Result<bool, Short>;
}

/// Uncompressed records: the batch body itself.
struct Slice<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Source for Slice<'_> {
    #[inline(always)]
    fn position(&self) -> u64 {
        self.pos as u64
    }
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, Short> {
        let b = *self.data.get(self.pos).ok_or(Short::End)?;
        self.pos += 1;
        Ok(b)
    }
    #[inline(always)]
    fn skip(&mut self, n: u64) -> Result<(), Short> {
        if n > (self.data.len() - self.pos) as u64 {
            self.pos = self.data.len();
            return Err(Short::End);
        }
        self.pos += n as usize;
        Ok(())
    }
    fn at_end(&mut self) -> Result<bool, Short> {
        Ok(self.pos == self.data.len())
    }
}

/// Compressed records: a decoder filling a reused chunk, never more than `limit` bytes in all.
struct Chunked<'a, D: Fill> {
    decoder: D,
    chunk: &'a mut [u8],
    pos: usize,
    len: usize,
    /// Bytes of the stream before the current chunk.
    base: u64,
    limit: u64,
}

impl<D: Fill> Chunked<'_, D> {
    fn refill(&mut self) -> Result<(), Short> {
        self.base += self.len as u64;
        self.pos = 0;
        self.len = 0;
        let n = self.decoder.fill(self.chunk).map_err(Short::Codec)?;
        if n == 0 {
            return Err(Short::End);
        }
        if self.base + n as u64 > self.limit {
            return Err(Short::Limit(self.limit));
        }
        self.len = n;
        Ok(())
    }
}

impl<D: Fill> Source for Chunked<'_, D> {
    #[inline(always)]
    fn position(&self) -> u64 {
        self.base + self.pos as u64
    }
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, Short> {
        if self.pos == self.len {
            self.refill()?;
        }
        let b = self.chunk[self.pos];
        self.pos += 1;
        Ok(b)
    }
    fn skip(&mut self, mut n: u64) -> Result<(), Short> {
        loop {
            let available = (self.len - self.pos) as u64;
            if n <= available {
                self.pos += n as usize;
                return Ok(());
            }
            n -= available;
            self.pos = self.len;
            self.refill()?;
        }
    }
    fn at_end(&mut self) -> Result<bool, Short> {
        if self.pos < self.len {
            return Ok(false);
        }
        match self.refill() {
            Ok(()) => Ok(false),
            Err(Short::End) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// Per-thread decoder state and chunk: every call into the addon runs on the JS thread, so one
/// set serves every log.
struct Scratch {
    decoders: Decoders,
    chunk: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        decoders: Decoders::default(),
        chunk: vec![0; CHUNK],
    });
}

/// Checks every record of the batch at `position` (already checked: header, size, CRC, codec,
/// recordsCount == lastOffsetDelta + 1 > 0). `batch` holds exactly the batch.
pub fn validate(
    batch: &[u8],
    h: &BatchHeader,
    rules: &RecordRules,
    position: usize,
) -> SResult<()> {
    let body = &batch[HEADER_SIZE..];
    let result = if h.codec() == NONE {
        parse(&mut Slice { data: body, pos: 0 }, h, rules)
    } else {
        let limit = max_decompressed_bytes(batch.len());
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            let stream: Stream = s
                .decoders
                .stream(h.codec(), body, limit)
                .expect("codecs above 4 are refused before the records are read");
            let r = parse(
                &mut Chunked {
                    decoder: stream,
                    chunk: &mut s.chunk,
                    pos: 0,
                    len: 0,
                    base: 0,
                    limit,
                },
                h,
                rules,
            );
            s.decoders.release_large_buffers();
            r
        })
    };
    result.map_err(|refusal| {
        let at = format!("batch at byte {position}");
        match refusal {
            Refusal::Record {
                index,
                code,
                reason,
            } => StorageErr::new(code, format!("{at}: record {index}: {reason}"))
                .at_batch(position)
                .at_record(index),
            Refusal::Batch(reason) => {
                StorageErr::new(INVALID_RECORD, format!("{at}: {reason}")).at_batch(position)
            }
        }
    })
}

/// A source failure while reading record `index`.
fn short(index: i64, count: i32, s: Short) -> Refusal {
    match s {
        Short::End => invalid(
            index,
            format!("the records end before the {count} the batch declares (premature EOF)"),
        ),
        Short::Codec(reason) => Refusal::Batch(format!("cannot decompress the records: {reason}")),
        Short::Limit(limit) => {
            Refusal::Batch(format!("the records decompress to more than {limit} bytes"))
        }
    }
}

/// Kafka's ByteUtils.readVarint: zig-zag, at most 5 bytes (bits past 32 are dropped, as Java's
/// shift does).
#[inline(always)]
fn varint<S: Source>(s: &mut S) -> Result<Option<i32>, Short> {
    let mut raw: u32 = 0;
    for i in 0..5 {
        let b = s.byte()?;
        raw |= ((b & 0x7f) as u32) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((raw >> 1) as i32 ^ -((raw & 1) as i32)));
        }
    }
    Ok(None)
}

/// Kafka's ByteUtils.readVarlong: zig-zag, at most 10 bytes.
#[inline(always)]
fn varlong<S: Source>(s: &mut S) -> Result<Option<i64>, Short> {
    let mut raw: u64 = 0;
    for i in 0..10 {
        let b = s.byte()?;
        raw |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((raw >> 1) as i64 ^ -((raw & 1) as i64)));
        }
    }
    Ok(None)
}

fn parse<S: Source>(s: &mut S, h: &BatchHeader, rules: &RecordRules) -> Result<(), Refusal> {
    let count = h.records_count;
    let log_append_time = h.is_log_append_time();
    let mut previous_delta = -1i64;
    for index in 0..count as i64 {
        let sh = |e| short(index, count, e);
        macro_rules! varint {
            ($what:expr) => {
                varint(s).map_err(sh)?.ok_or_else(|| {
                    invalid(index, format!("{} varint longer than 5 bytes", $what))
                })?
            };
        }
        let length = varint!("length") as i64;
        let start = s.position();
        if length < MIN_RECORD_BYTES as i64 - 1 {
            return Err(invalid(
                index,
                format!("record length {length} is too small"),
            ));
        }
        let end = start + length as u64;
        // A length or count read inside the record must fit in what is left of it.
        macro_rules! fits {
            ($n:expr, $what:expr) => {{
                let n = $n as u64;
                let at = s.position();
                if at > end || n > end - at {
                    return Err(invalid(
                        index,
                        format!(
                            "{} of {} bytes runs past the record's end ({length} bytes)",
                            $what, n
                        ),
                    ));
                }
                n
            }};
        }
        s.byte().map_err(sh)?; // attributes: unused in v2
        let timestamp_delta = varlong(s)
            .map_err(sh)?
            .ok_or_else(|| invalid(index, "timestamp delta varlong longer than 10 bytes"))?;
        let offset_delta = varint!("offset delta");
        if rules.follower {
            if (offset_delta as i64) <= previous_delta || offset_delta > h.last_offset_delta {
                return Err(invalid(
                    index,
                    format!(
                        "inner record offset delta {offset_delta} after {previous_delta} (offsets must rise, at most lastOffsetDelta {})",
                        h.last_offset_delta
                    ),
                ));
            }
            previous_delta = offset_delta as i64;
        } else if offset_delta as i64 != index {
            return Err(invalid(
                index,
                format!("inner record offset delta {offset_delta}, expected {index} (offsets must be 0..{} in order)", count - 1),
            ));
        }
        let key_length = varint!("key length");
        if key_length < -1 {
            return Err(invalid(index, format!("key length {key_length}")));
        }
        if key_length == -1 && rules.compacted {
            return Err(invalid(
                index,
                "Compacted topic cannot accept message without key",
            ));
        }
        if key_length > 0 {
            let n = fits!(key_length, "key");
            s.skip(n).map_err(sh)?;
        }
        let value_length = varint!("value length");
        if value_length < -1 {
            return Err(invalid(index, format!("value length {value_length}")));
        }
        if value_length > 0 {
            let n = fits!(value_length, "value");
            s.skip(n).map_err(sh)?;
        }
        let headers = varint!("header count");
        if headers < 0 {
            return Err(invalid(index, format!("header count {headers}")));
        }
        fits!(headers, "header count");
        for header in 0..headers {
            let key_length = varint!("header key length");
            if key_length < 0 {
                return Err(invalid(
                    index,
                    format!(
                        "header {header} has key length {key_length} (a header key cannot be null)"
                    ),
                ));
            }
            let n = fits!(key_length, "header key");
            s.skip(n).map_err(sh)?;
            let value_length = varint!("header value length");
            if value_length < -1 {
                return Err(invalid(
                    index,
                    format!("header {header} has value length {value_length}"),
                ));
            }
            if value_length > 0 {
                let n = fits!(value_length, "header value");
                s.skip(n).map_err(sh)?;
            }
        }
        let read = s.position() - start;
        if read != length as u64 {
            return Err(invalid(
                index,
                format!("record length {length}, but its fields take {read} bytes"),
            ));
        }
        if let Some(range) = rules.timestamps {
            // Kafka's LogValidator.validateTimestamp: a record of a LogAppendTime batch carries
            // the batch's maxTimestamp.
            let timestamp = if log_append_time {
                h.max_timestamp
            } else {
                h.base_timestamp.wrapping_add(timestamp_delta)
            };
            let diff = range.now.wrapping_sub(timestamp);
            if timestamp != NO_TIMESTAMP
                && (diff > range.before_max_ms || diff.wrapping_neg() > range.after_max_ms)
            {
                return Err(Refusal::Record {
                    index,
                    code: INVALID_TIMESTAMP,
                    reason: format!(
                        "timestamp {timestamp} is out of range [{}, {}] (message.timestamp.before.max.ms / after.max.ms)",
                        range.now.saturating_sub(range.before_max_ms),
                        range.now.saturating_add(range.after_max_ms)
                    ),
                });
            }
        }
    }
    match s.at_end() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::Batch(format!(
            "bytes remain after the {count} records the batch declares (Incorrect declared batch size)"
        ))),
        Err(e) => Err(short(count as i64, count, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::{fix_crc, write_varlong};
    use crate::batch::*;
    use crate::codec::{self, GZIP, LZ4, SNAPPY, ZSTD};

    /// A record body (everything after its length varint), fields as given, even invalid ones.
    fn body(
        offset_delta: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(i64, &[u8])],
    ) -> Vec<u8> {
        let mut r = vec![0u8];
        write_varlong(&mut r, offset_delta * 10); // timestamp delta
        write_varlong(&mut r, offset_delta);
        for field in [key, value] {
            match field {
                None => write_varlong(&mut r, -1),
                Some(b) => {
                    write_varlong(&mut r, b.len() as i64);
                    r.extend_from_slice(b);
                }
            }
        }
        write_varlong(&mut r, headers.len() as i64);
        for (key_length, key) in headers {
            write_varlong(&mut r, *key_length);
            r.extend_from_slice(key);
            write_varlong(&mut r, 1);
            r.push(b'v');
        }
        r
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        write_varlong(&mut r, body.len() as i64);
        r.extend_from_slice(body);
        r
    }

    /// `n` well-formed records with keys, values and a header.
    fn good_records(n: i64) -> Vec<u8> {
        (0..n)
            .flat_map(|i| framed(&body(i, Some(b"key"), Some(b"value"), &[(1, b"h")])))
            .collect()
    }

    /// A batch declaring `count` records over `records` (compressed with `codec` unless raw).
    fn batch_with(records: &[u8], count: i32, codec: u8, attributes: i16) -> Vec<u8> {
        let payload = if codec == codec::NONE {
            records.to_vec()
        } else {
            codec::compress(codec, records).unwrap()
        };
        raw_batch(&payload, count, codec as i16 | attributes)
    }

    fn raw_batch(payload: &[u8], count: i32, attributes: i16) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_SIZE];
        b.extend_from_slice(payload);
        let len = b.len();
        put_i32(&mut b, BATCH_LENGTH, (len - LOG_OVERHEAD) as i32);
        b[MAGIC] = 2;
        put_i16(&mut b, ATTRIBUTES, attributes);
        put_i32(&mut b, LAST_OFFSET_DELTA, count - 1);
        put_i64(&mut b, BASE_TIMESTAMP, 1_000_000);
        put_i64(&mut b, MAX_TIMESTAMP, 1_000_000);
        put_i64(&mut b, PRODUCER_ID, -1);
        put_i16(&mut b, PRODUCER_EPOCH, -1);
        put_i32(&mut b, BASE_SEQUENCE, -1);
        put_i32(&mut b, RECORDS_COUNT, count);
        fix_crc(&mut b);
        b
    }

    fn check(b: &[u8], rules: &RecordRules) -> SResult<Vec<BatchRef>> {
        validate_batches(b, 64 << 20, rules)
    }

    fn refused(b: &[u8]) -> StorageErr {
        check(b, &RecordRules::default()).unwrap_err()
    }

    const ALL: [u8; 5] = [codec::NONE, GZIP, SNAPPY, LZ4, ZSTD];

    #[test]
    fn well_formed_records_of_every_codec_are_accepted() {
        for codec in ALL {
            let b = batch_with(&good_records(50), 50, codec, 0);
            assert!(check(&b, &RecordRules::default()).is_ok(), "codec {codec}");
            // Null keys and values, no headers.
            let r: Vec<u8> = (0..3)
                .flat_map(|i| framed(&body(i, None, None, &[])))
                .collect();
            assert!(check(&batch_with(&r, 3, codec, 0), &RecordRules::default()).is_ok());
        }
    }

    #[test]
    fn a_transaction_marker_is_accepted() {
        // Control record: key = version 0, type 1 (commit); value = version 0, coordinator epoch 5.
        let r = framed(&body(
            0,
            Some(&[0, 0, 0, 1]),
            Some(&[0, 0, 0, 0, 0, 5]),
            &[],
        ));
        let b = batch_with(&r, 1, codec::NONE, TRANSACTIONAL_BIT | CONTROL_BIT);
        let rules = RecordRules {
            compacted: true,
            ..RecordRules::default()
        };
        assert!(check(&b, &rules).is_ok());
    }

    #[test]
    fn a_declared_count_of_i32_max_with_one_record_is_invalid_record() {
        for codec in ALL {
            let b = batch_with(&good_records(1), i32::MAX, codec, 0);
            let e = refused(&b);
            assert_eq!(e.code, INVALID_RECORD, "codec {codec}: {e}");
            assert_eq!(e.record_index, Some(1), "codec {codec}: {e}");
            assert_eq!(e.batch_position, Some(0));
            assert!(e.message.contains("premature EOF"), "{e}");
        }
    }

    #[test]
    fn fewer_or_more_records_than_declared_is_invalid_record() {
        for codec in ALL {
            let e = refused(&batch_with(&good_records(2), 3, codec, 0));
            assert_eq!((e.code, e.record_index), (INVALID_RECORD, Some(2)), "{e}");
            let e = refused(&batch_with(&good_records(3), 2, codec, 0));
            assert_eq!(e.code, INVALID_RECORD, "{e}");
            assert!(e.message.contains("bytes remain"), "{e}");
        }
    }

    #[test]
    fn offset_deltas_out_of_order_are_invalid_record() {
        let r: Vec<u8> = [0, 2, 1]
            .iter()
            .flat_map(|&i| framed(&body(i, Some(b"k"), Some(b"v"), &[])))
            .collect();
        for codec in ALL {
            let e = refused(&batch_with(&r, 3, codec, 0));
            assert_eq!((e.code, e.record_index), (INVALID_RECORD, Some(1)), "{e}");
            assert!(e.message.contains("offset delta 2"), "{e}");
        }
    }

    #[test]
    fn a_truncated_record_is_invalid_record() {
        let mut r = good_records(2);
        r.truncate(r.len() - 3);
        for codec in ALL {
            let e = refused(&batch_with(&r, 2, codec, 0));
            assert_eq!((e.code, e.record_index), (INVALID_RECORD, Some(1)), "{e}");
        }
    }

    #[test]
    fn a_record_length_past_the_records_or_too_small_is_invalid_record() {
        let b = body(0, Some(b"k"), Some(b"v"), &[]);
        for length in [
            i32::MAX as i64,
            b.len() as i64 + 1,
            b.len() as i64 - 1,
            3,
            -1,
            -7,
        ] {
            let mut r = Vec::new();
            write_varlong(&mut r, length);
            r.extend_from_slice(&b);
            let e = refused(&batch_with(&r, 1, codec::NONE, 0));
            assert_eq!(
                (e.code, e.record_index),
                (INVALID_RECORD, Some(0)),
                "{length}: {e}"
            );
        }
    }

    #[test]
    fn negative_lengths_other_than_null_are_invalid_record() {
        // key length -2
        let mut r = vec![0u8];
        write_varlong(&mut r, 0);
        write_varlong(&mut r, 0);
        write_varlong(&mut r, -2);
        write_varlong(&mut r, -1);
        write_varlong(&mut r, 0);
        let e = refused(&batch_with(&framed(&r), 1, codec::NONE, 0));
        assert_eq!(e.code, INVALID_RECORD);
        assert!(e.message.contains("key length -2"), "{e}");
        // value length -5
        let mut r = vec![0u8, 0, 0, 1];
        write_varlong(&mut r, -5);
        write_varlong(&mut r, 0);
        let e = refused(&batch_with(&framed(&r), 1, codec::NONE, 0));
        assert!(e.message.contains("value length -5"), "{e}");
        // header count -1
        let mut r = vec![0u8, 0, 0, 1, 1];
        write_varlong(&mut r, -1);
        let e = refused(&batch_with(&framed(&r), 1, codec::NONE, 0));
        assert!(e.message.contains("header count -1"), "{e}");
    }

    #[test]
    fn a_null_or_overlong_header_key_is_invalid_record() {
        let e = refused(&batch_with(
            &framed(&body(0, None, None, &[(-1, b"")])),
            1,
            GZIP,
            0,
        ));
        assert_eq!(e.code, INVALID_RECORD);
        assert!(e.message.contains("header key cannot be null"), "{e}");
        let e = refused(&batch_with(
            &framed(&body(0, None, None, &[(100, b"h")])),
            1,
            ZSTD,
            0,
        ));
        assert!(e.message.contains("runs past the record's end"), "{e}");
    }

    #[test]
    fn keys_values_and_header_counts_must_fit_in_the_record() {
        let mut r = vec![0u8, 0, 0];
        write_varlong(&mut r, 50); // key of 50 bytes in a short record
        r.extend_from_slice(b"abc");
        let mut whole = framed(&r);
        whole.extend(vec![0u8; 60]); // bytes after the record, so the skip itself would succeed
        let e = refused(&batch_with(&whole, 1, codec::NONE, 0));
        assert!(e.message.contains("key of 50 bytes runs past"), "{e}");
        let mut r = vec![0u8, 0, 0, 1, 1];
        write_varlong(&mut r, 40); // 40 headers in a 6-byte record
        let e = refused(&batch_with(&framed(&r), 1, codec::NONE, 0));
        assert!(e.message.contains("header count of 40"), "{e}");
    }

    #[test]
    fn overlong_varints_are_invalid_record() {
        // Offset delta as a 6-byte varint.
        let mut r = vec![0u8, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 1, 1, 0];
        let e = refused(&batch_with(&framed(&r), 1, codec::NONE, 0));
        assert!(
            e.message
                .contains("offset delta varint longer than 5 bytes"),
            "{e}"
        );
        // Timestamp delta as an 11-byte varlong.
        r = vec![0u8];
        r.extend([0x80u8; 10]);
        r.extend([0, 0, 1, 1, 0]);
        let e = refused(&batch_with(&framed(&r), 1, codec::NONE, 0));
        assert!(e.message.contains("varlong longer than 10 bytes"), "{e}");
        // A 5-byte varint whose last byte has bits past 32 is read as Java reads it.
        let mut ok = vec![0u8, 0, 0];
        ok.extend([0x81, 0x80, 0x80, 0x80, 0x70]); // key length 0x...: dropped high bits → -1
        ok.extend([1, 0]);
        assert!(check(
            &batch_with(&framed(&ok), 1, codec::NONE, 0),
            &RecordRules::default()
        )
        .is_ok());
    }

    #[test]
    fn garbage_in_every_codec_with_a_valid_crc_is_invalid_record() {
        for codec in [GZIP, SNAPPY, LZ4, ZSTD] {
            let e = refused(&raw_batch(
                b"\x01\x02 definitely not compressed",
                1,
                codec as i16,
            ));
            assert_eq!(e.code, INVALID_RECORD, "codec {codec}: {e}");
            assert!(
                e.message.contains("cannot decompress"),
                "codec {codec}: {e}"
            );
            assert_eq!(e.record_index, None);
            // A valid payload cut short.
            let full = codec::compress(codec, &good_records(200)).unwrap();
            let e = refused(&raw_batch(&full[..full.len() - 5], 200, codec as i16));
            assert_eq!(e.code, INVALID_RECORD, "codec {codec} truncated: {e}");
            // Trailing garbage after a valid payload.
            let mut tail = full.clone();
            tail.extend_from_slice(b"\x01junk");
            let e = refused(&raw_batch(&tail, 200, codec as i16));
            assert_eq!(e.code, INVALID_RECORD, "codec {codec} trailing: {e}");
        }
    }

    /// One record whose value is `n` zero bytes: compresses to almost nothing.
    fn zero_record(n: usize) -> Vec<u8> {
        framed(&body(0, Some(b"k"), Some(&vec![0u8; n]), &[]))
    }

    #[test]
    fn records_decompressing_past_the_limit_are_invalid_record() {
        let over = zero_record(MIN_DECOMPRESSED_LIMIT as usize + 1000);
        // Snappy expands at most ~21:1, below the ratio limit: it cannot get past it this way.
        for codec in [GZIP, LZ4, ZSTD] {
            let b = batch_with(&over, 1, codec, 0);
            assert!(b.len() < 1 << 20, "codec {codec}: {} bytes", b.len());
            let e = refused(&b);
            assert_eq!(e.code, INVALID_RECORD, "codec {codec}: {e}");
            assert!(
                e.message.contains("decompress to more than"),
                "codec {codec}: {e}"
            );
        }
        // A snappy block declaring 4 GiB is refused before a buffer is sized for it.
        let mut declared = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        declared.extend([0u8; 64]);
        let e = refused(&raw_batch(&declared, 1, SNAPPY as i16));
        assert_eq!(e.code, INVALID_RECORD, "{e}");
        assert!(
            e.message.contains("declared length 4294967295 impossible"),
            "{e}"
        );
        // Just under the limit is fine.
        let under = zero_record(MIN_DECOMPRESSED_LIMIT as usize - 100);
        assert!(check(&batch_with(&under, 1, ZSTD, 0), &RecordRules::default()).is_ok());
        assert_eq!(max_decompressed_bytes(1000), MIN_DECOMPRESSED_LIMIT);
        assert_eq!(max_decompressed_bytes(1 << 20), 64 << 20);
        assert_eq!(max_decompressed_bytes(100 << 20), MAX_DECOMPRESSED_LIMIT);
    }

    #[test]
    fn a_compacted_topic_refuses_a_record_without_a_key() {
        let r: Vec<u8> = [
            framed(&body(0, Some(b"k"), None, &[])),
            framed(&body(1, None, Some(b"v"), &[])),
        ]
        .concat();
        let rules = RecordRules {
            compacted: true,
            ..RecordRules::default()
        };
        for codec in ALL {
            let e = check(&batch_with(&r, 2, codec, 0), &rules).unwrap_err();
            assert_eq!((e.code, e.record_index), (INVALID_RECORD, Some(1)), "{e}");
            assert!(e
                .message
                .contains("Compacted topic cannot accept message without key"));
            assert!(check(&batch_with(&r, 2, codec, 0), &RecordRules::default()).is_ok());
        }
    }

    #[test]
    fn record_timestamps_outside_the_allowed_range_are_invalid_timestamp() {
        // Record i has timestamp 1_000_000 + 10 i.
        let b = batch_with(&good_records(3), 3, LZ4, 0);
        let rules = |now, before, after| RecordRules {
            compacted: false,
            timestamps: Some(TimestampRange {
                now,
                before_max_ms: before,
                after_max_ms: after,
            }),
            follower: false,
        };
        assert!(check(&b, &rules(1_000_010, 10, 10)).is_ok());
        let e = check(&b, &rules(1_000_005, 10, 10)).unwrap_err();
        assert_eq!(
            (e.code, e.record_index),
            (INVALID_TIMESTAMP, Some(2)),
            "{e}"
        );
        let e = check(&b, &rules(1_000_011, 10, i64::MAX)).unwrap_err();
        assert_eq!(
            (e.code, e.record_index),
            (INVALID_TIMESTAMP, Some(0)),
            "{e}"
        );
    }

    #[test]
    fn codec_framing_variants_producers_write_are_accepted() {
        let records = good_records(2000);
        let check_payload = |payload: &[u8], codec: u8, what: &str| {
            let b = raw_batch(payload, 2000, codec as i16);
            if let Err(e) = check(&b, &RecordRules::default()) {
                panic!("{what}: {e}");
            }
        };
        // gzip: two members, and zero padding after the last one.
        let half = good_records(1000);
        let second: Vec<u8> = (1000..2000)
            .flat_map(|i| framed(&body(i, Some(b"key"), Some(b"value"), &[(1, b"h")])))
            .collect();
        let mut two = codec::compress(GZIP, &half).unwrap();
        two.extend(codec::compress(GZIP, &second).unwrap());
        check_payload(&two, GZIP, "gzip two members");
        let mut padded = codec::compress(GZIP, &records).unwrap();
        padded.extend([0, 0, 0, 0]);
        check_payload(&padded, GZIP, "gzip zero padding");
        // snappy: raw, and xerial with a second stream header between blocks.
        let raw = snap::raw::Encoder::new().compress_vec(&records).unwrap();
        check_payload(&raw, SNAPPY, "raw snappy");
        let mut xerial = codec::compress(SNAPPY, &half).unwrap();
        xerial.extend(codec::compress(SNAPPY, &second).unwrap());
        check_payload(&xerial, SNAPPY, "xerial with two stream headers");
        // lz4: linked blocks with every checksum and the content size (librdkafka-style frames).
        use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
        use std::io::Write;
        let info = FrameInfo::new()
            .block_size(BlockSize::Max64KB)
            .block_mode(BlockMode::Linked)
            .block_checksums(true)
            .content_checksum(true)
            .content_size(Some(records.len() as u64));
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&records).unwrap();
        let linked = enc.finish().unwrap();
        check_payload(&linked, LZ4, "lz4 linked blocks");
        // zstd without a content size.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.include_contentsize(false).unwrap();
        enc.write_all(&records).unwrap();
        check_payload(&enc.finish().unwrap(), ZSTD, "zstd streamed");
    }

    #[test]
    fn a_corrupt_lz4_content_checksum_is_invalid_record() {
        use lz4_flex::frame::{FrameEncoder, FrameInfo};
        use std::io::Write;
        let records = good_records(10);
        let mut enc =
            FrameEncoder::with_frame_info(FrameInfo::new().content_checksum(true), Vec::new());
        enc.write_all(&records).unwrap();
        let mut frame = enc.finish().unwrap();
        let last = frame.len() - 1;
        frame[last] ^= 1;
        let e = refused(&raw_batch(&frame, 10, LZ4 as i16));
        assert!(e.message.contains("content checksum"), "{e}");
    }

    #[test]
    fn the_second_batch_of_an_append_is_named_in_the_error() {
        let mut buf = batch_with(&good_records(2), 2, codec::NONE, 0);
        let second = buf.len();
        buf.extend(batch_with(&good_records(1), 2, ZSTD, 0));
        let e = refused(&buf);
        assert_eq!(e.batch_position, Some(second));
        assert!(
            e.message
                .starts_with(&format!("batch at byte {second}: record 1:")),
            "{e}"
        );
    }
}
