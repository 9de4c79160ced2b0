// native room: gzip codec (codec 1).
use super::{corrupt, Fill};
use crate::error::SResult;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::{Compression, Crc, Decompress, FlushDecompress, Status};
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

/// Inflate state reused from batch to batch.
pub struct Inflater {
    inflate: Decompress,
    crc: Crc,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            inflate: Decompress::new(false),
            crc: Crc::new(),
        }
    }
}

enum State {
    Header,
    Body,
    Done,
}

/// Streams the members of a gzip payload, with zlib's checks (header flags and CRC, trailer
/// CRC-32 and length) and Node's member rule, so both engines accept the same payloads: after a
/// member, the input ends, or a 0x00 byte ends it (padding), or another member follows.
pub struct GzipStream<'a> {
    input: &'a [u8],
    pos: usize,
    st: &'a mut Inflater,
    state: State,
    members: u32,
}

impl<'a> GzipStream<'a> {
    pub fn new(input: &'a [u8], st: &'a mut Inflater) -> Self {
        GzipStream {
            input,
            pos: 0,
            st,
            state: State::Header,
            members: 0,
        }
    }

    fn trailer(&mut self) -> Result<(), String> {
        let t = self
            .input
            .get(self.pos..self.pos + 8)
            .ok_or("gzip: unexpected end of file")?;
        let crc = u32::from_le_bytes(t[..4].try_into().unwrap());
        let isize = u32::from_le_bytes(t[4..].try_into().unwrap());
        if crc != self.st.crc.sum() {
            return Err("gzip: incorrect data check".into());
        }
        if isize != self.st.inflate.total_out() as u32 {
            return Err("gzip: incorrect length check".into());
        }
        self.pos += 8;
        Ok(())
    }
}

/// Length of the RFC 1952 member header at the start of `b`.
fn header_len(b: &[u8]) -> Result<usize, String> {
    const EOF: &str = "gzip: unexpected end of file";
    if b.len() < 10 {
        return Err(EOF.into());
    }
    if b[0] != 0x1f || b[1] != 0x8b {
        return Err("gzip: incorrect header check".into());
    }
    if b[2] != 8 {
        return Err("gzip: unknown compression method".into());
    }
    let flags = b[3];
    if flags & 0xe0 != 0 {
        return Err("gzip: unknown header flags set".into());
    }
    let mut p = 10;
    if flags & 0x04 != 0 {
        let xlen = b.get(p..p + 2).ok_or(EOF)?;
        p += 2 + u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
        if p > b.len() {
            return Err(EOF.into());
        }
    }
    for flag in [0x08, 0x10] {
        if flags & flag != 0 {
            let end = b[p..].iter().position(|&c| c == 0).ok_or(EOF)?;
            p += end + 1;
        }
    }
    if flags & 0x02 != 0 {
        let stored = b.get(p..p + 2).ok_or(EOF)?;
        let mut crc = Crc::new();
        crc.update(&b[..p]);
        if u16::from_le_bytes([stored[0], stored[1]]) != crc.sum() as u16 {
            return Err("gzip: header crc mismatch".into());
        }
        p += 2;
    }
    Ok(p)
}

impl Fill for GzipStream<'_> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, String> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => {
                    let rest = &self.input[self.pos..];
                    if self.members > 0 && rest.first().is_none_or(|&b| b == 0) {
                        self.state = State::Done;
                        return Ok(0);
                    }
                    self.pos += header_len(rest)?;
                    self.st.inflate.reset(false);
                    self.st.crc.reset();
                    self.state = State::Body;
                }
                State::Body => {
                    let (in_before, out_before) =
                        (self.st.inflate.total_in(), self.st.inflate.total_out());
                    let status = self
                        .st
                        .inflate
                        .decompress(&self.input[self.pos..], out, FlushDecompress::None)
                        .map_err(|e| format!("gzip: {e}"))?;
                    let consumed = (self.st.inflate.total_in() - in_before) as usize;
                    let produced = (self.st.inflate.total_out() - out_before) as usize;
                    self.pos += consumed;
                    self.st.crc.update(&out[..produced]);
                    if status == Status::StreamEnd {
                        self.trailer()?;
                        self.members += 1;
                        self.state = State::Header;
                    } else if consumed == 0 && produced == 0 {
                        return Err("gzip: unexpected end of file".into());
                    }
                    if produced > 0 {
                        return Ok(produced);
                    }
                }
            }
        }
    }
}
