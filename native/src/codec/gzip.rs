// native room: gzip codec (codec 1).
use super::corrupt;
use crate::error::SResult;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{Read, Write};

pub fn compress(data: &[u8]) -> SResult<Vec<u8>> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::default(),
    );
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

// Multi-member gzip streams are legal, so read members until the input ends.
pub fn decompress(data: &[u8]) -> SResult<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 3);
    MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| corrupt("gzip", e))?;
    Ok(out)
}
