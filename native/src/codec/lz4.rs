// native room: lz4 codec (codec 3), the LZ4 frame format as Kafka's Java client writes it:
// 64 KiB independent blocks, no content checksum.
use super::corrupt;
use crate::error::SResult;
use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use std::io::{Read, Write};

pub fn compress(data: &[u8]) -> SResult<Vec<u8>> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 32));
    enc.write_all(data)?;
    enc.finish().map_err(|e| corrupt("lz4", e))
}

pub fn decompress(data: &[u8]) -> SResult<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 3);
    FrameDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| corrupt("lz4", e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lz4_frame_magic() {
        let c = compress(b"hello hello hello hello").unwrap();
        assert_eq!(&c[..4], &[0x04, 0x22, 0x4d, 0x18]);
        assert_eq!(decompress(&c).unwrap(), b"hello hello hello hello");
    }
}
