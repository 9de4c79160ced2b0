// native room: the record-batch compression codecs (attributes bits 0-2).
pub mod gzip;
pub mod lz4;
pub mod snappy;
pub mod zstd;

use crate::error::*;

pub const NONE: u8 = 0;
pub const GZIP: u8 = 1;
pub const SNAPPY: u8 = 2;
pub const LZ4: u8 = 3;
pub const ZSTD: u8 = 4;

fn unsupported(codec: u8) -> StorageErr {
    StorageErr::new(
        UNSUPPORTED_COMPRESSION_TYPE,
        format!("compression codec {codec}"),
    )
}

// A codec failure on data a client sent is a corrupt batch as far as Kafka is concerned.
pub(crate) fn corrupt(codec: &str, e: impl std::fmt::Display) -> StorageErr {
    StorageErr::new(CORRUPT_MESSAGE, format!("{codec}: {e}"))
}

pub fn compress(codec: u8, data: &[u8]) -> SResult<Vec<u8>> {
    match codec {
        NONE => Ok(data.to_vec()),
        GZIP => gzip::compress(data),
        SNAPPY => snappy::compress(data),
        LZ4 => lz4::compress(data),
        ZSTD => zstd::compress(data),
        other => Err(unsupported(other)),
    }
}

pub fn decompress(codec: u8, data: &[u8]) -> SResult<Vec<u8>> {
    match codec {
        NONE => Ok(data.to_vec()),
        GZIP => gzip::decompress(data),
        SNAPPY => snappy::decompress(data),
        LZ4 => lz4::decompress(data),
        ZSTD => zstd::decompress(data),
        other => Err(unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..200_000u32 {
            v.extend_from_slice(format!("record-{}-", i % 977).as_bytes());
        }
        v
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for codec in [NONE, GZIP, SNAPPY, LZ4, ZSTD] {
            let c = compress(codec, &data).unwrap();
            if codec != NONE {
                assert!(c.len() < data.len() / 2, "codec {codec} did not compress");
            }
            assert_eq!(decompress(codec, &c).unwrap(), data, "codec {codec}");
        }
        for codec in [NONE, GZIP, SNAPPY, LZ4, ZSTD] {
            let c = compress(codec, &[]).unwrap();
            assert_eq!(
                decompress(codec, &c).unwrap(),
                Vec::<u8>::new(),
                "codec {codec} empty"
            );
        }
    }

    #[test]
    fn unknown_codec_is_unsupported() {
        assert_eq!(
            compress(5, b"x").unwrap_err().code,
            UNSUPPORTED_COMPRESSION_TYPE
        );
        assert_eq!(
            decompress(7, b"x").unwrap_err().code,
            UNSUPPORTED_COMPRESSION_TYPE
        );
    }

    #[test]
    fn garbage_is_corrupt_message() {
        for codec in [GZIP, SNAPPY, LZ4, ZSTD] {
            assert_eq!(
                decompress(codec, b"\x01\x02garbage!").unwrap_err().code,
                CORRUPT_MESSAGE,
                "codec {codec}"
            );
        }
    }
}
