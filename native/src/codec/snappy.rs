// native room: snappy codec (codec 2). Kafka's Java client writes snappy-java's "xerial"
// framing; librdkafka and others may send raw snappy, so reading accepts both.
use super::corrupt;
use crate::error::SResult;

pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_SIZE: usize = 16;
// snappy-java's SnappyOutputStream default block size.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;

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
