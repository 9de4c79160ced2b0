//! Fuzzes the native engine's produce validation (batch::validate_batches: header checks, CRC,
//! codec, record-by-record parsing with bounded streaming decompression).
//!
//! Input: one mode byte, then the produce buffer. Mode bit 0 repairs the first batch's length
//! field and CRC so mutants get past the checksum into the record parser; bit 1 applies the
//! compacted-topic rules; bits 2-4 (when bit 0 is set) pick the codec written into the
//! attributes; bit 5 validates as a follower append (compacted batches: offset gaps, empty
//! batches). Properties checked beyond "no panic": an accepted buffer consists of whole v2
//! batches whose stored CRC is right and, on a leader append, whose record count matches its
//! offset deltas.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spool_native::batch::{check_stored, crc32c, validate_batches};
use spool_native::records::RecordRules;

const BATCH_LENGTH: usize = 8;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const HEADER: usize = 61;

fn repair(buf: &mut [u8], codec: u8) {
    if buf.len() < HEADER {
        return;
    }
    let len = (buf.len() - 12) as i32;
    buf[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
    buf[MAGIC] = 2;
    if codec != 0xff {
        buf[ATTRIBUTES + 1] = (buf[ATTRIBUTES + 1] & !7) | codec;
    }
    let crc = crc32c(&buf[ATTRIBUTES..]);
    buf[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut buf = rest.to_vec();
    if mode & 1 == 1 {
        let codec = (mode >> 2) & 7;
        repair(&mut buf, if codec <= 4 { codec } else { 0xff });
    }
    let rules = RecordRules {
        compacted: mode & 2 == 2,
        timestamps: None,
        follower: mode & 0x20 == 0x20,
    };
    if let Ok(batches) = validate_batches(&buf, 1_048_588, &rules) {
        let mut end = 0usize;
        for b in &batches {
            assert_eq!(b.position, end, "batches must tile the buffer");
            let size = b.header.batch_length as usize + 12;
            assert!(check_stored(&buf[b.position..b.position + size]));
            if !rules.follower {
                assert_eq!(b.header.records_count, b.header.last_offset_delta + 1);
            }
            end = b.position + size;
        }
        assert_eq!(end, buf.len());
    }
});
