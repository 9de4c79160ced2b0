// native room: the record-batch compression codecs (attributes bits 0-2): one-shot compress and
// decompress, plus bounded streaming decoders (`Fill`) for record validation on append.
pub mod gzip;
pub mod lz4;
pub mod snappy;
mod xxh32;
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

/// A streaming decoder over one batch's compressed records: each call decompresses the next
/// bytes into `out` and returns how many; Ok(0) means the compressed data ended cleanly. Errors
/// say what is wrong with the data. Decoders never size a buffer from a length the data
/// declares beyond `limit`.
pub trait Fill {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, String>;
}

/// Decoder state kept between batches (one set per thread), so validating a batch allocates
/// nothing once the buffers have grown to the batches seen.
pub struct Decoders {
    zstd: ::zstd::zstd_safe::DCtx<'static>,
    gzip: gzip::Inflater,
    lz4: Vec<u8>,
    snappy: Vec<u8>,
}

impl Default for Decoders {
    fn default() -> Self {
        Decoders {
            zstd: ::zstd::zstd_safe::DCtx::create(),
            gzip: gzip::Inflater::default(),
            lz4: Vec::new(),
            snappy: Vec::new(),
        }
    }
}

/// One of the streaming decoders (an enum rather than a boxed trait object: no allocation).
pub enum Stream<'a> {
    Gzip(gzip::GzipStream<'a>),
    Snappy(snappy::SnappyStream<'a>),
    Lz4(lz4::Lz4Stream<'a>),
    Zstd(zstd::ZstdStream<'a>),
}

impl Fill for Stream<'_> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, String> {
        match self {
            Stream::Gzip(s) => s.fill(out),
            Stream::Snappy(s) => s.fill(out),
            Stream::Lz4(s) => s.fill(out),
            Stream::Zstd(s) => s.fill(out),
        }
    }
}

/// Buffers above this are given back after a batch, so one huge batch does not pin its memory.
const KEEP_BUFFER_BYTES: usize = 8 << 20;

impl Decoders {
    /// The streaming decoder of `codec` over `data`, or None for codecs without one (none, 5-7).
    pub fn stream<'a>(&'a mut self, codec: u8, data: &'a [u8], limit: u64) -> Option<Stream<'a>> {
        match codec {
            GZIP => Some(Stream::Gzip(gzip::GzipStream::new(data, &mut self.gzip))),
            SNAPPY => Some(Stream::Snappy(snappy::SnappyStream::new(
                data,
                &mut self.snappy,
                limit,
            ))),
            LZ4 => Some(Stream::Lz4(lz4::Lz4Stream::new(data, &mut self.lz4))),
            ZSTD => Some(Stream::Zstd(zstd::ZstdStream::new(data, &mut self.zstd))),
            _ => None,
        }
    }

    pub fn release_large_buffers(&mut self) {
        for b in [&mut self.lz4, &mut self.snappy] {
            if b.capacity() > KEEP_BUFFER_BYTES {
                *b = Vec::new();
            }
        }
    }
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
