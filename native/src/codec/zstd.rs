// native room: zstd codec (codec 4). Decompression streams because frames from some producers
// carry no content size, which the one-shot API needs.
use super::{corrupt, Fill};
use crate::error::SResult;
use std::io::Read;
use zstd::zstd_safe::{DCtx, InBuffer, OutBuffer, ResetDirective};

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

/// Streams the frames of a zstd payload through a reused context. A payload ending inside a
/// frame is an error; trailing bytes that are not a frame are too (libzstd's rules, which the TS
/// engine's zstd-napi shares).
pub struct ZstdStream<'a> {
    input: &'a [u8],
    pos: usize,
    dctx: &'a mut DCtx<'static>,
    /// libzstd's last return value: 0 when a frame just ended (or none began).
    pending: usize,
}

impl<'a> ZstdStream<'a> {
    pub fn new(input: &'a [u8], dctx: &'a mut DCtx<'static>) -> Self {
        // A context left mid-frame by an earlier batch's error starts clean.
        let _ = dctx.reset(ResetDirective::SessionOnly);
        ZstdStream {
            input,
            pos: 0,
            dctx,
            pending: 0,
        }
    }
}

impl Fill for ZstdStream<'_> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, String> {
        loop {
            if self.pos == self.input.len() && self.pending == 0 {
                return Ok(0);
            }
            let mut input = InBuffer::around(&self.input[self.pos..]);
            let mut output = OutBuffer::around(&mut *out);
            let hint = self
                .dctx
                .decompress_stream(&mut output, &mut input)
                .map_err(|code| format!("zstd: {}", zstd::zstd_safe::get_error_name(code)))?;
            let (consumed, produced) = (input.pos(), output.pos());
            self.pos += consumed;
            self.pending = hint;
            if produced > 0 {
                return Ok(produced);
            }
            if consumed == 0 {
                if hint == 0 && self.pos == self.input.len() {
                    return Ok(0);
                }
                return Err(if self.pos == self.input.len() {
                    "zstd: data ends inside a frame".into()
                } else {
                    format!("zstd: no progress at byte {}", self.pos)
                });
            }
        }
    }
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
