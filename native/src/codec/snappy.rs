// native room: snappy codec (codec 2). Kafka's Java client writes snappy-java's "xerial"
// framing; librdkafka and others may send raw snappy, so reading accepts both.
use super::{corrupt, Fill};
use crate::error::SResult;

pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_SIZE: usize = 16;
// snappy-java's SnappyOutputStream default block size.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// Most output one compressed byte can yield (a 3-byte copy-2 element writes 64 bytes): a block
/// declaring more than this times its size is corrupt, refused before a buffer is sized for it
/// (the TS engine's rule too).
const MAX_EXPANSION: u64 = 22;

pub fn compress(data: &[u8]) -> SResult<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + XERIAL_HEADER_SIZE);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes()); // version
    out.extend_from_slice(&1i32.to_be_bytes()); // minimum compatible version
    let mut enc = snap::raw::Encoder::new();
    for chunk in data.chunks(XERIAL_BLOCK_SIZE) {
        let block = enc.compress_vec(chunk).map_err(|e| corrupt("snappy", e))?;
        out.extend_from_slice(&(block.len() as i32).to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

pub fn decompress(data: &[u8]) -> SResult<Vec<u8>> {
    if data.len() >= XERIAL_HEADER_SIZE && data[..8] == XERIAL_MAGIC {
        return decompress_xerial(&data[XERIAL_HEADER_SIZE..]);
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(|e| corrupt("snappy", e))
}

fn decompress_xerial(mut rest: &[u8]) -> SResult<Vec<u8>> {
    let mut dec = snap::raw::Decoder::new();
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(corrupt("snappy", "truncated xerial block length"));
        }
        let len = i32::from_be_bytes(rest[..4].try_into().unwrap());
        if len < 0 || len as usize > rest.len() - 4 {
            return Err(corrupt(
                "snappy",
                format!("xerial block length {len} past the end"),
            ));
        }
        let block = &rest[4..4 + len as usize];
        let n = snap::raw::decompress_len(block).map_err(|e| corrupt("snappy", e))?;
        let start = out.len();
        out.resize(start + n, 0);
        dec.decompress(block, &mut out[start..])
            .map_err(|e| corrupt("snappy", e))?;
        rest = &rest[4 + len as usize..];
    }
    Ok(out)
}

fn is_xerial_header(b: &[u8]) -> bool {
    b.len() >= XERIAL_HEADER_SIZE && b[..8] == XERIAL_MAGIC
}

/// Streams a snappy payload one raw block at a time into a reused buffer: xerial framing (with
/// further stream headers allowed between blocks, as snappy-java reads them) or one raw block.
/// A block's declared length is checked against what is left of `limit` before any buffer is
/// sized for it.
pub struct SnappyStream<'a> {
    input: &'a [u8],
    pos: usize,
    xerial: bool,
    block: &'a mut Vec<u8>,
    out_start: usize,
    out_end: usize,
    limit: u64,
    produced: u64,
}

impl<'a> SnappyStream<'a> {
    pub fn new(input: &'a [u8], block: &'a mut Vec<u8>, limit: u64) -> Self {
        let xerial = is_xerial_header(input);
        SnappyStream {
            input,
            pos: if xerial { XERIAL_HEADER_SIZE } else { 0 },
            xerial,
            block,
            out_start: 0,
            out_end: 0,
            limit,
            produced: 0,
        }
    }

    /// The next raw block, or None at the end of the input.
    fn next_block(&mut self) -> Result<Option<&'a [u8]>, String> {
        let input = self.input;
        if !self.xerial {
            if self.pos > 0 {
                return Ok(None);
            }
            self.pos = input.len();
            return Ok(Some(input));
        }
        loop {
            if self.pos == input.len() {
                return Ok(None);
            }
            if is_xerial_header(&input[self.pos..]) {
                self.pos += XERIAL_HEADER_SIZE;
                continue;
            }
            let len = input
                .get(self.pos..self.pos + 4)
                .map(|b| i32::from_be_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("snappy: truncated xerial block length at {}", self.pos))?;
            let start = self.pos + 4;
            if len < 0 || len as usize > input.len() - start {
                return Err(format!(
                    "snappy: xerial block of {len} bytes at {start} runs past input end"
                ));
            }
            self.pos = start + len as usize;
            return Ok(Some(&input[start..self.pos]));
        }
    }

    fn decode(&mut self, raw: &[u8]) -> Result<usize, String> {
        let declared = snap::raw::decompress_len(raw).map_err(|e| format!("snappy: {e}"))?;
        let preamble = raw
            .iter()
            .position(|&b| b & 0x80 == 0)
            .map_or(raw.len(), |i| i + 1);
        if declared as u64 > (raw.len() - preamble) as u64 * MAX_EXPANSION {
            return Err(format!(
                "snappy: declared length {declared} impossible for {} compressed bytes",
                raw.len() - preamble
            ));
        }
        // Unreachable while the limit is at least 64 times the batch, kept as the bound itself.
        if declared as u64 > self.limit - self.produced {
            return Err(format!(
                "snappy: block declares {declared} bytes, more than the {} left of the limit",
                self.limit - self.produced
            ));
        }
        if self.block.len() < declared {
            self.block.resize(declared, 0);
        }
        let n = snap::raw::Decoder::new()
            .decompress(raw, &mut self.block[..declared])
            .map_err(|e| format!("snappy: {e}"))?;
        self.produced += n as u64;
        Ok(n)
    }
}

impl Fill for SnappyStream<'_> {
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, String> {
        while self.out_start == self.out_end {
            match self.next_block()? {
                None => return Ok(0),
                Some(raw) => {
                    self.out_start = 0;
                    self.out_end = self.decode(raw)?;
                }
            }
        }
        let n = (self.out_end - self.out_start).min(out.len());
        out[..n].copy_from_slice(&self.block[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_writes_xerial_framing() {
        let data = vec![7u8; 100_000];
        let c = compress(&data).unwrap();
        assert_eq!(&c[..8], &XERIAL_MAGIC);
        assert_eq!(i32::from_be_bytes(c[8..12].try_into().unwrap()), 1);
        assert_eq!(i32::from_be_bytes(c[12..16].try_into().unwrap()), 1);
        // 100 000 bytes in 32 KiB blocks is four length-prefixed blocks.
        let mut rest = &c[16..];
        let mut blocks = 0;
        while !rest.is_empty() {
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4 + len..];
            blocks += 1;
        }
        assert_eq!(blocks, 4);
        assert_eq!(decompress(&c).unwrap(), data);
    }

    #[test]
    fn raw_snappy_is_accepted_on_read() {
        let data = b"raw snappy from a non-Java producer, raw snappy, raw snappy".to_vec();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(&raw).unwrap(), data);
    }

    #[test]
    fn truncated_xerial_block_is_corrupt() {
        let c = compress(&vec![1u8; 5000]).unwrap();
        assert!(decompress(&c[..c.len() - 3]).is_err());
    }
}
