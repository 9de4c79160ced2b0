// native room: zstd codec (codec 4). Decompression streams because frames from some producers
// carry no content size, which the one-shot API needs.
use super::corrupt;
use crate::error::SResult;
use std::io::Read;

const LEVEL: i32 = 3;

pub fn compress(data: &[u8]) -> SResult<Vec<u8>> {
    zstd::bulk::compress(data, LEVEL).map_err(|e| corrupt("zstd", e))
}

pub fn decompress(data: &[u8]) -> SResult<Vec<u8>> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt("zstd", e))?;
    let mut out = Vec::with_capacity(data.len() * 3);
    dec.read_to_end(&mut out).map_err(|e| corrupt("zstd", e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn frame_without_content_size_decompresses() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        // The streaming encoder does not know the total size up front, so the frame header
        // omits the content size, as with streaming producers.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), LEVEL).unwrap();
        enc.include_contentsize(false).unwrap();
        enc.write_all(&data).unwrap();
        let frame = enc.finish().unwrap();
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&frame),
            Ok(None)
        ));
        assert_eq!(decompress(&frame).unwrap(), data);
    }
}
