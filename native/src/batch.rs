// native room: v2 record batch header parsing, validation, offset assignment, LogAppendTime.
// Validation order and error codes follow docs/storage-format.md ("Append", step 1); the records
// inside each batch are checked by records.rs.
use crate::error::*;
use crate::records::{self, RecordRules};

pub const HEADER_SIZE: usize = 61;
pub const LOG_OVERHEAD: usize = 12;
pub const BASE_OFFSET: usize = 0;
pub const BATCH_LENGTH: usize = 8;
pub const PARTITION_LEADER_EPOCH: usize = 12;
pub const MAGIC: usize = 16;
pub const CRC: usize = 17;
pub const ATTRIBUTES: usize = 21;
pub const LAST_OFFSET_DELTA: usize = 23;
pub const BASE_TIMESTAMP: usize = 27;
pub const MAX_TIMESTAMP: usize = 35;
pub const PRODUCER_ID: usize = 43;
pub const PRODUCER_EPOCH: usize = 51;
pub const BASE_SEQUENCE: usize = 53;
pub const RECORDS_COUNT: usize = 57;

pub const CODEC_MASK: i16 = 0x07;
pub const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub const TRANSACTIONAL_BIT: i16 = 0x10;
pub const CONTROL_BIT: i16 = 0x20;

pub fn get_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
pub fn get_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
pub fn get_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}
pub fn put_i64(b: &mut [u8], at: usize, v: i64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}
pub fn put_i32(b: &mut [u8], at: usize, v: i32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
pub fn put_i16(b: &mut [u8], at: usize, v: i16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The fixed 61-byte header of a v2 batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses the header; `b` must hold at least HEADER_SIZE bytes.
    pub fn parse(b: &[u8]) -> BatchHeader {
        BatchHeader {
            base_offset: get_i64(b, BASE_OFFSET),
            batch_length: get_i32(b, BATCH_LENGTH),
            partition_leader_epoch: get_i32(b, PARTITION_LEADER_EPOCH),
            magic: b[MAGIC] as i8,
            crc: get_u32(b, CRC),
            attributes: get_i16(b, ATTRIBUTES),
            last_offset_delta: get_i32(b, LAST_OFFSET_DELTA),
            base_timestamp: get_i64(b, BASE_TIMESTAMP),
            max_timestamp: get_i64(b, MAX_TIMESTAMP),
            producer_id: get_i64(b, PRODUCER_ID),
            producer_epoch: get_i16(b, PRODUCER_EPOCH),
            base_sequence: get_i32(b, BASE_SEQUENCE),
            records_count: get_i32(b, RECORDS_COUNT),
        }
    }
    /// Total size on disk, header included.
    pub fn size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
    pub fn codec(&self) -> u8 {
        (self.attributes & CODEC_MASK) as u8
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
}

pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// A validated batch inside a request buffer.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef {
    pub position: usize,
    pub header: BatchHeader,
}

/// Validates every batch of a produce buffer, header and records; on any failure nothing may be
/// written.
pub fn validate_batches(
    buf: &[u8],
    max_message_bytes: i64,
    rules: &RecordRules,
) -> SResult<Vec<BatchRef>> {
    if buf.is_empty() {
        return Err(StorageErr::new(INVALID_RECORD, "empty record batch buffer"));
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let remaining = buf.len() - pos;
        if remaining < HEADER_SIZE {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                format!(
                    "batch at byte {pos}: {remaining} bytes left, a v2 header needs {HEADER_SIZE}"
                ),
            )
            .at_batch(pos));
        }
        let b = &buf[pos..];
        let magic = b[MAGIC] as i8;
        if magic != 2 {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                format!("batch at byte {pos}: magic {magic}, expected 2"),
            )
            .at_batch(pos));
        }
        let batch_length = get_i32(b, BATCH_LENGTH) as i64;
        let size = batch_length + LOG_OVERHEAD as i64;
        if size < HEADER_SIZE as i64 || size > remaining as i64 {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                format!("batch at byte {pos}: batchLength {batch_length} does not fit ({remaining} bytes left)"),
            )
            .at_batch(pos));
        }
        if size > max_message_bytes {
            return Err(StorageErr::new(
                MESSAGE_TOO_LARGE,
                format!("batch at byte {pos}: {size} bytes exceeds max.message.bytes {max_message_bytes}"),
            )
            .at_batch(pos));
        }
        let size = size as usize;
        let stored = get_u32(b, CRC);
        let computed = crc32c(&b[ATTRIBUTES..size]);
        if stored != computed {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                format!("batch at byte {pos}: CRC-32C {computed:#010x} != stored {stored:#010x}"),
            )
            .at_batch(pos));
        }
        let header = BatchHeader::parse(b);
        if header.codec() > 4 {
            return Err(StorageErr::new(
                UNSUPPORTED_COMPRESSION_TYPE,
                format!("batch at byte {pos}: compression codec {}", header.codec()),
            )
            .at_batch(pos));
        }
        // A compacted leader's batches (follower appends) may have lost records: offset deltas
        // with gaps up to lastOffsetDelta, or none at all (a producer's last batch, emptied).
        let count_ok = if rules.follower {
            header.records_count >= 0
                && header.last_offset_delta >= 0
                && header.records_count as i64 <= header.last_offset_delta as i64 + 1
        } else {
            header.records_count > 0
                && header.records_count as i64 == header.last_offset_delta as i64 + 1
        };
        if !count_ok {
            return Err(StorageErr::new(
                INVALID_RECORD,
                format!(
                    "batch at byte {pos}: recordsCount {} inconsistent with lastOffsetDelta {}",
                    header.records_count, header.last_offset_delta
                ),
            )
            .at_batch(pos));
        }
        // A batch a compacted leader emptied (recordsCount 0, nothing after the header) is valid
        // whatever codec its attributes name.
        if !(rules.follower && header.records_count == 0 && size == HEADER_SIZE) {
            records::validate(&b[..size], &header, rules, pos)?;
        }
        out.push(BatchRef {
            position: pos,
            header,
        });
        pos += size;
    }
    Ok(out)
}

/// Assigns the broker-side fields of a leader append. baseOffset and partitionLeaderEpoch lie
/// outside the CRC; a LogAppendTime rewrite touches attributes and maxTimestamp, so the CRC is
/// recomputed then. Returns the header as written.
pub fn assign(
    batch: &mut [u8],
    base_offset: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) -> BatchHeader {
    put_i64(batch, BASE_OFFSET, base_offset);
    put_i32(batch, PARTITION_LEADER_EPOCH, leader_epoch);
    if let Some(now) = log_append_time {
        let attributes = get_i16(batch, ATTRIBUTES) | TIMESTAMP_TYPE_BIT;
        put_i16(batch, ATTRIBUTES, attributes);
        put_i64(batch, MAX_TIMESTAMP, now);
        let crc = crc32c(&batch[ATTRIBUTES..]);
        put_u32(batch, CRC, crc);
    }
    BatchHeader::parse(batch)
}

/// Checks a batch read back from a segment file during recovery: bounds, magic and CRC.
pub fn check_stored(b: &[u8]) -> bool {
    if b.len() < HEADER_SIZE || b[MAGIC] != 2 {
        return false;
    }
    let size = get_i32(b, BATCH_LENGTH) as i64 + LOG_OVERHEAD as i64;
    if size < HEADER_SIZE as i64 || size as usize != b.len() {
        return false;
    }
    get_u32(b, CRC) == crc32c(&b[ATTRIBUTES..])
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds a valid uncompressed v2 batch holding `count` records with small values.
    pub fn make_batch(count: i32, base_timestamp: i64, attributes: i16) -> Vec<u8> {
        let mut records = Vec::new();
        for i in 0..count {
            let mut r = Vec::new();
            r.push(0u8); // attributes
            write_varlong(&mut r, i as i64); // timestampDelta
            write_varlong(&mut r, i as i64); // offsetDelta
            write_varlong(&mut r, -1); // null key
            write_varlong(&mut r, 3);
            r.extend_from_slice(b"abc");
            write_varlong(&mut r, 0); // no headers
            write_varlong(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        let mut b = vec![0u8; HEADER_SIZE];
        b.extend_from_slice(&records);
        let len = b.len();
        put_i64(&mut b, BASE_OFFSET, 0);
        put_i32(&mut b, BATCH_LENGTH, (len - LOG_OVERHEAD) as i32);
        put_i32(&mut b, PARTITION_LEADER_EPOCH, -1);
        b[MAGIC] = 2;
        put_i16(&mut b, ATTRIBUTES, attributes);
        put_i32(&mut b, LAST_OFFSET_DELTA, count - 1);
        put_i64(&mut b, BASE_TIMESTAMP, base_timestamp);
        put_i64(&mut b, MAX_TIMESTAMP, base_timestamp + count as i64 - 1);
        put_i64(&mut b, PRODUCER_ID, -1);
        put_i16(&mut b, PRODUCER_EPOCH, -1);
        put_i32(&mut b, BASE_SEQUENCE, -1);
        put_i32(&mut b, RECORDS_COUNT, count);
        fix_crc(&mut b);
        b
    }

    pub fn fix_crc(b: &mut [u8]) {
        let crc = crc32c(&b[ATTRIBUTES..]);
        put_u32(b, CRC, crc);
    }

    pub fn write_varlong(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }

    fn code(buf: &[u8]) -> i32 {
        validate_batches(buf, 1_048_588, &RecordRules::default())
            .unwrap_err()
            .code
    }

    #[test]
    fn accepts_concatenated_valid_batches() {
        let mut buf = make_batch(3, 1000, 0);
        buf.extend(make_batch(2, 2000, 0));
        let v = validate_batches(&buf, 1_048_588, &RecordRules::default()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].header.records_count, 3);
        assert_eq!(v[1].position, make_batch(3, 1000, 0).len());
    }

    #[test]
    fn empty_buffer_is_invalid_record() {
        assert_eq!(code(&[]), INVALID_RECORD);
    }

    #[test]
    fn short_header_is_corrupt() {
        let b = make_batch(1, 0, 0);
        assert_eq!(code(&b[..40]), CORRUPT_MESSAGE);
    }

    #[test]
    fn wrong_magic_is_corrupt() {
        let mut b = make_batch(1, 0, 0);
        b[MAGIC] = 1;
        assert_eq!(code(&b), CORRUPT_MESSAGE);
    }

    #[test]
    fn batch_length_past_end_or_too_small_is_corrupt() {
        let b = make_batch(2, 0, 0);
        assert_eq!(code(&b[..b.len() - 1]), CORRUPT_MESSAGE);
        let mut small = b.clone();
        put_i32(&mut small, BATCH_LENGTH, 10);
        assert_eq!(code(&small), CORRUPT_MESSAGE);
    }

    #[test]
    fn oversized_batch_is_message_too_large() {
        let b = make_batch(5, 0, 0);
        assert_eq!(
            validate_batches(&b, b.len() as i64 - 1, &RecordRules::default())
                .unwrap_err()
                .code,
            MESSAGE_TOO_LARGE
        );
        assert!(validate_batches(&b, b.len() as i64, &RecordRules::default()).is_ok());
    }

    #[test]
    fn bad_crc_is_corrupt() {
        let mut b = make_batch(2, 0, 0);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert_eq!(code(&b), CORRUPT_MESSAGE);
    }

    #[test]
    fn unknown_codec_is_unsupported_compression_type() {
        let b = make_batch(1, 0, 5);
        assert_eq!(code(&b), UNSUPPORTED_COMPRESSION_TYPE);
    }

    #[test]
    fn count_mismatch_is_invalid_record() {
        let mut b = make_batch(2, 0, 0);
        put_i32(&mut b, RECORDS_COUNT, 3);
        fix_crc(&mut b);
        assert_eq!(code(&b), INVALID_RECORD);
        put_i32(&mut b, RECORDS_COUNT, 0);
        put_i32(&mut b, LAST_OFFSET_DELTA, -1);
        fix_crc(&mut b);
        assert_eq!(code(&b), INVALID_RECORD);
    }

    #[test]
    fn assign_rewrites_offsets_and_log_append_time_keeps_crc_valid() {
        let mut b = make_batch(3, 1000, 0);
        let h = assign(&mut b, 42, 7, Some(99_999));
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.last_offset(), 44);
        assert_eq!(h.partition_leader_epoch, 7);
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 99_999);
        assert_eq!(h.base_timestamp, 1000);
        assert!(check_stored(&b));
        let mut c = make_batch(1, 5, 0);
        let crc_before = get_u32(&c, CRC);
        assign(&mut c, 9, 0, None);
        assert_eq!(get_u32(&c, CRC), crc_before);
    }
}
