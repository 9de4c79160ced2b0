// native room: lz4 codec (codec 3), the LZ4 frame format as Kafka's Java client writes it:
// 64 KiB independent blocks, no content checksum.
use super::xxh32::{xxh32, Xxh32};
use super::{corrupt, Fill};
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

const FRAME_MAGIC: u32 = 0x184d_2204;
const SKIPPABLE_MAGIC: u32 = 0x184d_2a50;
const SKIPPABLE_MASK: u32 = 0xffff_fff0;
const FLG_VERSION: u8 = 0x40;
const FLG_BLOCK_INDEPENDENCE: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;
const BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;
/// Matches reach back at most 64 KiB (a 16-bit offset).
const WINDOW: usize = 64 * 1024;
const MIN_MATCH: usize = 4;
/// Most output one input byte of a block can yield (a run of 255 length bytes).
const MAX_EXPANSION: usize = 256;
/// Copies up to this long go as one fixed-size copy when the buffers have room past them.
const WILD: usize = 16;

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Decodes one LZ4 block into `out[op..]`, writing at most up to `out_limit`; matches may reach
/// back to `window_start`. The same rules as the TS engine's decoder (src/storage/ts/codecs/
/// lz4.ts), so both engines accept exactly the same blocks: the block ends with literals, a
/// match offset is never 0 and never points before the window.
fn decode_block(
    src: &[u8],
    out: &mut [u8],
    mut op: usize,
    out_limit: usize,
    window_start: usize,
) -> Result<usize, String> {
    let end = src.len();
    let mut ip = 0;
    let length = |ip: &mut usize, base: usize, what: &str| -> Result<usize, String> {
        let mut n = base;
        loop {
            let b = *src
                .get(*ip)
                .ok_or_else(|| format!("lz4: truncated {what} length"))?;
            *ip += 1;
            n += b as usize;
            if b != 255 {
                return Ok(n);
            }
        }
    };
    loop {
        if ip >= end {
            return Err(format!("lz4: block ends without final literals at {ip}"));
        }
        let token = src[ip];
        ip += 1;
        let mut lit = (token >> 4) as usize;
        if lit == 15 {
            lit = length(&mut ip, lit, "literal")?;
        }
        if lit > end - ip {
            return Err(format!("lz4: literal of {lit} bytes runs past block end"));
        }
        if op + lit > out_limit {
            return Err("lz4: literals overrun block maximum size".into());
        }
        if lit <= WILD && ip + WILD <= end && op + WILD <= out.len() {
            // Short literals: one fixed-size copy (bytes past `lit` are overwritten later).
            out[op..op + WILD].copy_from_slice(&src[ip..ip + WILD]);
        } else {
            out[op..op + lit].copy_from_slice(&src[ip..ip + lit]);
        }
        ip += lit;
        op += lit;
        if ip == end {
            return Ok(op);
        }
        if ip + 2 > end {
            return Err("lz4: truncated match offset".into());
        }
        let offset = u16::from_le_bytes([src[ip], src[ip + 1]]) as usize;
        ip += 2;
        if offset == 0 || op < window_start + offset {
            return Err(format!(
                "lz4: match offset {offset} points before the window at output {op}"
            ));
        }
        let mut len = (token & 15) as usize + MIN_MATCH;
        if token & 15 == 15 {
            len = length(&mut ip, len, "match")?;
        }
        if op + len > out_limit {
            return Err("lz4: match overruns block maximum size".into());
        }
        let from = op - offset;
        if offset >= WILD && op + len.next_multiple_of(WILD) <= out.len() {
            // Fixed-size chunks, each copied from bytes already written before it (the source of a
            // chunk ends at most at its destination), so overlapping matches come out right.
            for at in (0..len).step_by(WILD) {
                let (done, rest) = out.split_at_mut(op + at);
                rest[..WILD].copy_from_slice(&done[from + at..from + at + WILD]);
            }
        } else if offset >= len {
            out.copy_within(from..from + len, op);
        } else {
            // Overlapping: the match repeats the last `offset` bytes.
            for i in 0..len {
                out[op + i] = out[from + i];
            }
        }
        op += len;
    }
}

struct Frame {
    block_max: usize,
    independent: bool,
    block_checksums: bool,
    content_size: Option<u64>,
    content_hash: Option<Xxh32>,
    produced: u64,
}

/// Streams LZ4 frames block by block into a reused buffer that also keeps the 64 KiB window of a
/// linked-block frame. Framing rules are the TS engine's: at least one 4-byte magic, frames and
/// skippable frames back to back, header checksum verified, block and content checksums and the
/// content size verified when the frame declares them, no dictionaries.
pub struct Lz4Stream<'a> {
    input: &'a [u8],
    pos: usize,
    buf: &'a mut Vec<u8>,
    out_start: usize,
    out_end: usize,
    frame: Option<Frame>,
}

impl<'a> Lz4Stream<'a> {
    pub fn new(input: &'a [u8], buf: &'a mut Vec<u8>) -> Self {
        Lz4Stream {
            input,
            pos: 0,
            buf,
            out_start: 0,
            out_end: 0,
            frame: None,
        }
    }

    /// Parses the frame header at `pos` (the magic already checked).
    fn open_frame(&mut self) -> Result<Frame, String> {
        let src = self.input;
        let pos = self.pos;
        if pos + 7 > src.len() {
            return Err(format!("lz4: truncated frame header at {pos}"));
        }
        let (flg, bd) = (src[pos + 4], src[pos + 5]);
        if flg & 0xc0 != FLG_VERSION {
            return Err(format!("lz4: unsupported frame version in FLG {flg:#x}"));
        }
        if flg & 0x02 != 0 || bd & 0x8f != 0 {
            return Err("lz4: reserved frame descriptor bits set".into());
        }
        let block_max = match (bd >> 4) & 7 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            code => return Err(format!("lz4: invalid block maximum size code {code}")),
        };
        let mut desc_end = pos + 6;
        let mut content_size = None;
        if flg & FLG_CONTENT_SIZE != 0 {
            if desc_end + 8 > src.len() {
                return Err("lz4: truncated content size".into());
            }
            content_size = Some(u64::from_le_bytes(
                src[desc_end..desc_end + 8].try_into().unwrap(),
            ));
            desc_end += 8;
        }
        if flg & FLG_DICT_ID != 0 {
            return Err("lz4: frames needing a dictionary are not supported".into());
        }
        if desc_end + 1 > src.len() {
            return Err("lz4: truncated frame header checksum".into());
        }
        let hc = (xxh32(&src[pos + 4..desc_end], 0) >> 8) as u8;
        if src[desc_end] != hc {
            return Err(format!(
                "lz4: frame header checksum {:#x} != {hc:#x}",
                src[desc_end]
            ));
        }
        self.pos = desc_end + 1;
        Ok(Frame {
            block_max,
            independent: flg & FLG_BLOCK_INDEPENDENCE != 0,
            block_checksums: flg & FLG_BLOCK_CHECKSUM != 0,
            content_size,
            content_hash: (flg & FLG_CONTENT_CHECKSUM != 0).then(|| Xxh32::new(0)),
            produced: 0,
        })
    }

    /// Steps to the next frame (over skippable ones); false at the end of the input.
    fn next_frame(&mut self) -> Result<bool, String> {
        let src = self.input;
        if src.len() < 4 {
            return Err(format!("lz4: {} bytes is too short for a frame", src.len()));
        }
        loop {
            if self.pos == src.len() {
                return Ok(false);
            }
            if self.pos + 4 > src.len() {
                return Err(format!(
                    "lz4: trailing {} bytes after frame",
                    src.len() - self.pos
                ));
            }
            let magic = u32_le(src, self.pos);
            if magic == FRAME_MAGIC {
                let frame = self.open_frame()?;
                self.frame = Some(frame);
                self.out_start = 0;
                self.out_end = 0;
                return Ok(true);
            }
            if magic & SKIPPABLE_MASK != SKIPPABLE_MAGIC {
                return Err(format!("lz4: bad frame magic {magic:#x} at {}", self.pos));
            }
            if self.pos + 8 > src.len() {
                return Err("lz4: truncated skippable frame".into());
            }
            let skip = 8 + u32_le(src, self.pos + 4) as usize;
            if skip > src.len() - self.pos {
                return Err("lz4: skippable frame runs past input end".into());
            }
            self.pos += skip;
        }
    }

    /// Decodes the next block of the open frame into the buffer; false at the frame's end mark.
    fn next_block(&mut self) -> Result<bool, String> {
        let src = self.input;
        let f = self.frame.as_mut().expect("a frame is open");
        if self.pos + 4 > src.len() {
            return Err(format!("lz4: truncated block size at {}", self.pos));
        }
        let word = u32_le(src, self.pos);
        self.pos += 4;
        if word == 0 {
            if let Some(size) = f.content_size {
                if f.produced != size {
                    return Err(format!(
                        "lz4: frame decoded to {} bytes, content size says {size}",
                        f.produced
                    ));
                }
            }
            if let Some(hash) = &f.content_hash {
                if self.pos + 4 > src.len() {
                    return Err("lz4: truncated content checksum".into());
                }
                if hash.digest() != u32_le(src, self.pos) {
                    return Err("lz4: content checksum mismatch".into());
                }
                self.pos += 4;
            }
            self.frame = None;
            return Ok(false);
        }
        let size = (word & !BLOCK_UNCOMPRESSED) as usize;
        if size > f.block_max {
            return Err(format!(
                "lz4: block of {size} bytes exceeds block maximum {}",
                f.block_max
            ));
        }
        let checksum_len = if f.block_checksums { 4 } else { 0 };
        if size + checksum_len > src.len() - self.pos {
            return Err(format!("lz4: block at {} runs past input end", self.pos));
        }
        let block = &src[self.pos..self.pos + size];
        if f.block_checksums && xxh32(block, 0) != u32_le(src, self.pos + size) {
            return Err(format!("lz4: block checksum mismatch at {}", self.pos));
        }
        self.pos += size + checksum_len;
        // A linked block may copy from the frame's last 64 KiB of output: keep them in front.
        let keep = if f.independent {
            0
        } else {
            self.out_end.min(WINDOW)
        };
        self.buf.copy_within(self.out_end - keep..self.out_end, 0);
        // Room past the block for the decoder's fixed-size copies.
        if self.buf.len() < keep + f.block_max + 2 * WILD {
            self.buf.resize(keep + f.block_max + 2 * WILD, 0);
        }
        let end = if word & BLOCK_UNCOMPRESSED != 0 {
            self.buf[keep..keep + size].copy_from_slice(block);
            keep + size
        } else {
            let limit = keep + f.block_max.min(size * MAX_EXPANSION);
            decode_block(block, self.buf, keep, limit, 0)?
        };
        if let Some(hash) = &mut f.content_hash {
            hash.update(&self.buf[keep..end]);
        }
        f.produced += (end - keep) as u64;
        self.out_start = keep;
        self.out_end = end;
        Ok(true)
    }
}

impl Fill for Lz4Stream<'_> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, String> {
        while self.out_start == self.out_end {
            if self.frame.is_none() {
                if !self.next_frame()? {
                    return Ok(0);
                }
            } else if !self.next_block()? {
                self.out_start = 0;
                self.out_end = 0;
            }
        }
        let n = (self.out_end - self.out_start).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a stream yields, read in uneven chunks.
    fn stream_all(frame: &[u8]) -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        let mut s = Lz4Stream::new(frame, &mut buf);
        let mut out = Vec::new();
        let mut chunk = [0u8; 1000];
        loop {
            let n = s.fill(&mut chunk[..997])?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }

    #[test]
    fn the_stream_decodes_what_lz4_flex_encodes_in_every_block_mode_and_size() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
        // Runs of repeats at short and long distances, mixed with noise.
        let mut data = Vec::new();
        let mut x = 0x1234_5678u32;
        while data.len() < 3 << 20 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match x % 4 {
                0 => data.extend((0..(x >> 8) % 300).map(|i| (i ^ x) as u8)),
                1 => data.extend(std::iter::repeat_n(
                    (x >> 3) as u8,
                    (x >> 12) as usize % 200,
                )),
                _ => {
                    let back = 1 + (x >> 9) as usize % 70_000.min(data.len().max(1));
                    let len = 4 + (x >> 20) as usize % 100;
                    for _ in 0..len {
                        let b = data
                            .get(data.len().wrapping_sub(back))
                            .copied()
                            .unwrap_or(7);
                        data.push(b);
                    }
                }
            }
        }
        for mode in [BlockMode::Linked, BlockMode::Independent] {
            for size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max4MB] {
                let info = FrameInfo::new()
                    .block_mode(mode)
                    .block_size(size)
                    .block_checksums(true)
                    .content_checksum(true);
                let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
                enc.write_all(&data).unwrap();
                let frame = enc.finish().unwrap();
                assert!(stream_all(&frame).unwrap() == data, "{mode:?} {size:?}");
            }
        }
    }

    #[test]
    fn writes_lz4_frame_magic() {
        let c = compress(b"hello hello hello hello").unwrap();
        assert_eq!(&c[..4], &[0x04, 0x22, 0x4d, 0x18]);
        assert_eq!(decompress(&c).unwrap(), b"hello hello hello hello");
    }
}
