// native room: one log compaction round (Kafka 4.x Cleaner.doClean, MemoryRecords.filterTo,
// MemoryRecordsBuilder), as specified by `CleanOptions` in src/storage/engine.ts and
// docs/storage-format.md ("Cleaning"). `CleanJob::run` does all the byte work on a pool thread
// over duplicated fds of the source segments; the log itself is only touched to snapshot the
// segment list (Log::clean_job) and to swap the cleaned segments in (Log::clean_commit).
use crate::batch::{self, BatchHeader, HEADER_SIZE, LOG_OVERHEAD};
use crate::codec::{self, Decoders, Fill};
use crate::error::*;
use crate::fileio::read_at;
use crate::records::max_decompressed_bytes;
use crate::segment::{Segment, SegmentConfig, CLEANED_SUFFIX};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// KIP-534: attributes bit 6 says the base timestamp field holds the batch's delete horizon.
pub const DELETE_HORIZON_BIT: i16 = 0x40;
/// Kafka's RecordBatch.NO_TIMESTAMP.
const NO_TIMESTAMP: i64 = -1;
/// Bytes read from a source segment at a time.
const READ_CHUNK: usize = 1 << 20;
/// Decompressed bytes asked of a decoder at a time (at least).
const DECODE_CHUNK: usize = 64 * 1024;
/// Cleaned bytes gathered before one write to the new segment.
const WRITE_CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// engine.ts CleanOptions.
#[derive(Debug, Clone)]
pub struct CleanOptions {
    pub first_dirty_offset: i64,
    pub end_offset: i64,
    pub now: i64,
    pub delete_retention_ms: i64,
    pub max_map_entries: i64,
    pub segment_bytes: i64,
    /// Infinity (or <= 0, NaN) = unthrottled.
    pub io_max_bytes_per_second: f64,
    /// Ascending by first offset.
    pub aborted_txns: Vec<AbortedTxn>,
    pub producer_last_offsets: HashMap<i64, i64>,
}

/// One inactive segment as the round saw it when it started.
pub struct SourceSegment {
    pub base_offset: i64,
    pub uid: u64,
    pub size: u64,
    /// Base offset of the segment after it (the active segment's for the last one).
    pub next_base: i64,
    pub file: File,
    pub modified: Option<SystemTime>,
}

impl SourceSegment {
    /// (base offset, uid, size): what must still hold at commit for the round to stand.
    pub fn signature(&self) -> (i64, u64, u64) {
        (self.base_offset, self.uid, self.size)
    }
}

pub struct CleanJob {
    pub dir: PathBuf,
    pub seg_cfg: SegmentConfig,
    pub sources: Vec<SourceSegment>,
    pub opts: CleanOptions,
    pub cancel: Arc<AtomicBool>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    /// Bytes read from source segments (offset map and cleaning passes).
    pub bytes_read: u64,
    /// Bytes written to the cleaned segments' .log files.
    pub bytes_written: u64,
    /// recordsCount summed over the batches of the cleaned groups.
    pub records_read: u64,
    pub records_retained: u64,
}

/// A cleaned segment (files `*.cleaned`, fsynced) and the source segments it replaces.
pub struct CleanedGroup {
    pub segment: Segment,
    pub replaced: Vec<(i64, u64, u64)>,
}

pub struct Prepared {
    pub cleaned_up_to: i64,
    pub groups: Vec<CleanedGroup>,
    pub stats: CleanStats,
}

impl Prepared {
    /// Removes the cleaned files (abandoned round, closed log).
    pub fn discard(self) {
        for g in self.groups {
            let _ = g.segment.delete_files();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Offset map: 128-bit key hashes (Kafka uses MD5 digests the same way), at most maxMapEntries.

/// The key digests are already uniformly random: hash them by their low 64 bits.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

type DigestMap = HashMap<u128, i64, BuildHasherDefault<DigestHasher>>;

struct KeyDigest(RandomState, RandomState);

impl KeyDigest {
    fn new() -> Self {
        KeyDigest(RandomState::new(), RandomState::new())
    }
    fn of(&self, key: &[u8]) -> u128 {
        ((self.0.hash_one(key) as u128) << 64) | self.1.hash_one(key) as u128
    }
}

// ---------------------------------------------------------------------------------------------
// Record parsing and writing (Kafka's DefaultRecord).

fn varint(b: &[u8], pos: &mut usize) -> SResult<i32> {
    let mut raw: u32 = 0;
    for i in 0..5 {
        let byte = *b.get(*pos).ok_or_else(|| corrupt("truncated varint"))?;
        *pos += 1;
        raw |= ((byte & 0x7f) as u32) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((raw >> 1) as i32 ^ -((raw & 1) as i32));
        }
    }
    Err(corrupt("varint longer than 5 bytes"))
}

fn varlong(b: &[u8], pos: &mut usize) -> SResult<i64> {
    let mut raw: u64 = 0;
    for i in 0..10 {
        let byte = *b.get(*pos).ok_or_else(|| corrupt("truncated varlong"))?;
        *pos += 1;
        raw |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err(corrupt("varlong longer than 10 bytes"))
}

fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_varlong(out, v as i64);
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn corrupt(what: &str) -> StorageErr {
    StorageErr::new(CORRUPT_MESSAGE, format!("cleaner: {what}"))
}

/// Length-prefixed bytes, None for length -1.
fn bytes_field<'a>(b: &'a [u8], pos: &mut usize) -> SResult<Option<&'a [u8]>> {
    let len = varint(b, pos)?;
    if len < 0 {
        return Ok(None);
    }
    let end = *pos + len as usize;
    let v = b
        .get(*pos..end)
        .ok_or_else(|| corrupt("field past the record end"))?;
    *pos = end;
    Ok(Some(v))
}

/// One record of a batch, borrowed from the (decompressed) records bytes.
#[derive(Clone, Copy)]
struct Rec<'a> {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    header_count: i32,
    /// The headers' bytes, as stored.
    headers: &'a [u8],
}

fn parse_record<'a>(b: &'a [u8], pos: &mut usize) -> SResult<Rec<'a>> {
    let length = varint(b, pos)?;
    if length < 0 {
        return Err(corrupt("negative record length"));
    }
    let end = *pos + length as usize;
    let r = b
        .get(..end)
        .ok_or_else(|| corrupt("record past the batch end"))?;
    *pos += 1; // attributes
    let timestamp_delta = varlong(r, pos)?;
    let offset_delta = varint(r, pos)?;
    let key = bytes_field(r, pos)?;
    let value = bytes_field(r, pos)?;
    let header_count = varint(r, pos)?;
    let headers = r
        .get(*pos..end)
        .ok_or_else(|| corrupt("bad record length"))?;
    *pos = end;
    Ok(Rec {
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count,
        headers,
    })
}

/// Decoder state and a chunk buffer, reused between batches.
struct Decode {
    decoders: Decoders,
    chunk: Vec<u8>,
}

impl Default for Decode {
    fn default() -> Self {
        Decode {
            decoders: Decoders::default(),
            chunk: vec![0; DECODE_CHUNK],
        }
    }
}

/// The records of a batch, decompressed when needed (never to more than
/// records::max_decompressed_bytes).
fn records_of<'a>(
    bytes: &'a [u8],
    h: &BatchHeader,
    scratch: &'a mut Vec<u8>,
    decode: &mut Decode,
) -> SResult<&'a [u8]> {
    let body = &bytes[HEADER_SIZE..];
    if h.codec() == codec::NONE {
        return Ok(body);
    }
    let limit = max_decompressed_bytes(bytes.len());
    let Decode { decoders, chunk } = decode;
    let mut stream = decoders.stream(h.codec(), body, limit).ok_or_else(|| {
        StorageErr::new(
            UNSUPPORTED_COMPRESSION_TYPE,
            format!("cleaner: compression codec {}", h.codec()),
        )
    })?;
    scratch.clear();
    loop {
        let n = stream
            .fill(chunk)
            .map_err(|e| corrupt(&format!("cannot decompress the records: {e}")))?;
        if n == 0 {
            break;
        }
        if (scratch.len() + n) as u64 > limit {
            return Err(corrupt(&format!(
                "records decompress to more than {limit} bytes"
            )));
        }
        scratch.extend_from_slice(&chunk[..n]);
    }
    decoders.release_large_buffers();
    Ok(scratch)
}

fn for_each_record<'a>(
    records: &'a [u8],
    h: &BatchHeader,
    mut f: impl FnMut(Rec<'a>) -> SResult<bool>,
) -> SResult<()> {
    let mut pos = 0;
    for _ in 0..h.records_count.max(0) {
        if !f(parse_record(records, &mut pos)?)? {
            break;
        }
    }
    Ok(())
}

/// DefaultRecord.writeTo: attributes 0, canonical varints, headers re-encoded.
fn write_record(out: &mut Vec<u8>, r: &Rec, timestamp_delta: i64) -> SResult<()> {
    let mut body = Vec::with_capacity(
        16 + r.key.map_or(0, |k| k.len()) + r.value.map_or(0, |v| v.len()) + r.headers.len(),
    );
    body.push(0);
    put_varlong(&mut body, timestamp_delta);
    put_varint(&mut body, r.offset_delta);
    for field in [r.key, r.value] {
        match field {
            None => put_varint(&mut body, -1),
            Some(b) => {
                put_varint(&mut body, b.len() as i32);
                body.extend_from_slice(b);
            }
        }
    }
    put_varint(&mut body, r.header_count);
    let mut pos = 0;
    for _ in 0..r.header_count.max(0) {
        let key = bytes_field(r.headers, &mut pos)?.ok_or_else(|| corrupt("null header key"))?;
        put_varint(&mut body, key.len() as i32);
        body.extend_from_slice(key);
        match bytes_field(r.headers, &mut pos)? {
            None => put_varint(&mut body, -1),
            Some(v) => {
                put_varint(&mut body, v.len() as i32);
                body.extend_from_slice(v);
            }
        }
    }
    put_varint(out, body.len() as i32);
    out.extend_from_slice(&body);
    Ok(())
}

/// Header fields of a batch the cleaner writes.
struct NewHeader {
    base_offset: i64,
    partition_leader_epoch: i32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records_count: i32,
}

/// DefaultRecordBatch.writeHeader over `body`, CRC-32C over attributes..end.
fn write_batch(out: &mut Vec<u8>, h: &NewHeader, body: &[u8]) {
    let start = out.len();
    out.resize(start + HEADER_SIZE, 0);
    out.extend_from_slice(body);
    let b = &mut out[start..];
    let len = b.len();
    batch::put_i64(b, batch::BASE_OFFSET, h.base_offset);
    batch::put_i32(b, batch::BATCH_LENGTH, (len - LOG_OVERHEAD) as i32);
    batch::put_i32(b, batch::PARTITION_LEADER_EPOCH, h.partition_leader_epoch);
    b[batch::MAGIC] = 2;
    batch::put_i16(b, batch::ATTRIBUTES, h.attributes);
    batch::put_i32(b, batch::LAST_OFFSET_DELTA, h.last_offset_delta);
    batch::put_i64(b, batch::BASE_TIMESTAMP, h.base_timestamp);
    batch::put_i64(b, batch::MAX_TIMESTAMP, h.max_timestamp);
    batch::put_i64(b, batch::PRODUCER_ID, h.producer_id);
    batch::put_i16(b, batch::PRODUCER_EPOCH, h.producer_epoch);
    batch::put_i32(b, batch::BASE_SEQUENCE, h.base_sequence);
    batch::put_i32(b, batch::RECORDS_COUNT, h.records_count);
    let crc = batch::crc32c(&b[batch::ATTRIBUTES..]);
    batch::put_u32(b, batch::CRC, crc);
}

/// Attribute bits a rebuilt batch keeps (DefaultRecordBatch.computeAttributes).
const KEPT_ATTRIBUTES: i16 =
    batch::CODEC_MASK | batch::TIMESTAMP_TYPE_BIT | batch::TRANSACTIONAL_BIT | batch::CONTROL_BIT;

/// MemoryRecordsBuilder over the retained records (filterTo's buildRetainedRecordsInto): same
/// base offset, original last offset, codec and flags; base timestamp = delete horizon or the
/// first record's timestamp; max timestamp recomputed (LogAppendTime: the batch's).
fn rebuild_batch(
    out: &mut Vec<u8>,
    h: &BatchHeader,
    retained: &[Rec],
    delete_horizon: i64,
) -> SResult<()> {
    let lat = h.is_log_append_time();
    let ts = |r: &Rec| {
        if lat {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(r.timestamp_delta)
        }
    };
    let base_timestamp = if delete_horizon >= 0 {
        delete_horizon
    } else {
        ts(&retained[0])
    };
    let mut max_timestamp = NO_TIMESTAMP;
    let mut records = Vec::new();
    for r in retained {
        let t = ts(r);
        max_timestamp = max_timestamp.max(t);
        write_record(&mut records, r, t.wrapping_sub(base_timestamp))?;
    }
    if lat {
        max_timestamp = h.max_timestamp;
    }
    let body = if h.codec() == codec::NONE {
        records
    } else {
        codec::compress(h.codec(), &records)?
    };
    let mut attributes = h.attributes & KEPT_ATTRIBUTES;
    if delete_horizon >= 0 {
        attributes |= DELETE_HORIZON_BIT;
    }
    write_batch(
        out,
        &NewHeader {
            base_offset: h.base_offset,
            partition_leader_epoch: h.partition_leader_epoch,
            attributes,
            last_offset_delta: h.last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            records_count: retained.len() as i32,
        },
        &body,
    );
    Ok(())
}

/// DefaultRecordBatch.writeEmptyHeader: a producer's last batch, kept without its records.
fn empty_batch(out: &mut Vec<u8>, h: &BatchHeader) {
    write_batch(
        out,
        &NewHeader {
            base_offset: h.base_offset,
            partition_leader_epoch: h.partition_leader_epoch,
            attributes: h.attributes
                & (batch::TIMESTAMP_TYPE_BIT | batch::TRANSACTIONAL_BIT | batch::CONTROL_BIT),
            last_offset_delta: h.last_offset_delta,
            base_timestamp: NO_TIMESTAMP,
            max_timestamp: h.max_timestamp,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            records_count: 0,
        },
        &[],
    );
}

fn delete_horizon_of(h: &BatchHeader) -> Option<i64> {
    (h.attributes & DELETE_HORIZON_BIT != 0).then_some(h.base_timestamp)
}

// ---------------------------------------------------------------------------------------------
// Transactions (Kafka's CleanedTransactionMetadata).

#[derive(Default)]
struct TxnState {
    /// Aborted transactions not reached yet, ascending by first offset.
    pending: Vec<AbortedTxn>,
    next: usize,
    ongoing_committed: HashSet<i64>,
    /// Producer id -> last offset of a batch of its aborted transaction seen so far.
    ongoing_aborted: HashMap<i64, Option<i64>>,
}

impl TxnState {
    /// The aborted transactions ending at or after `from`, in the given (firstOffset) order.
    fn new(all: &[AbortedTxn], from: i64) -> Self {
        let pending: Vec<AbortedTxn> = all
            .iter()
            .filter(|t| t.last_offset >= from)
            .copied()
            .collect();
        TxnState {
            pending,
            ..Default::default()
        }
    }

    fn consume_up_to(&mut self, offset: i64) {
        while self.next < self.pending.len() && self.pending[self.next].first_offset <= offset {
            let t = self.pending[self.next];
            self.ongoing_aborted.entry(t.producer_id).or_insert(None);
            self.next += 1;
        }
    }

    /// A control batch read; true when it may be discarded.
    fn on_control_batch(&mut self, h: &BatchHeader, first_key: Option<&[u8]>) -> bool {
        self.consume_up_to(h.last_offset());
        let Some(key) = first_key else {
            // An empty control batch was already cleaned.
            return true;
        };
        let kind = if key.len() >= 4 {
            batch::get_i16(key, 2)
        } else {
            -1
        };
        match kind {
            // ABORT: kept while batches of the transaction remain.
            0 => !matches!(self.ongoing_aborted.remove(&h.producer_id), Some(Some(_))),
            // COMMIT: discardable when no batch of the transaction was seen.
            1 => !self.ongoing_committed.remove(&h.producer_id),
            _ => false,
        }
    }

    /// A data batch read; true when it belongs to an aborted transaction.
    fn on_batch(&mut self, h: &BatchHeader) -> bool {
        self.consume_up_to(h.last_offset());
        if !h.is_transactional() {
            return false;
        }
        match self.ongoing_aborted.get_mut(&h.producer_id) {
            Some(seen) => {
                *seen = Some(h.last_offset());
                true
            }
            None => {
                self.ongoing_committed.insert(h.producer_id);
                false
            }
        }
    }
}

/// The key of a control batch's first record.
fn first_key<'a>(records: &'a [u8], h: &BatchHeader) -> SResult<Option<&'a [u8]>> {
    if h.records_count <= 0 {
        return Ok(None);
    }
    let mut pos = 0;
    Ok(parse_record(records, &mut pos)?.key)
}

// ---------------------------------------------------------------------------------------------
// I/O: sequential batch reads with throttling and cancellation.

struct Io {
    rate: f64,
    started: Instant,
    bytes: u64,
    cancel: Arc<AtomicBool>,
    stats: CleanStats,
    decode: Decode,
}

impl Io {
    fn check_cancel(&self) -> SResult<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(StorageErr::new(
                KAFKA_STORAGE_ERROR,
                "cleaning round cancelled: the log is closing",
            ));
        }
        Ok(())
    }

    /// Kafka's Throttler: sleeps while the bytes moved run ahead of the allowed rate.
    fn account(&mut self, n: u64) -> SResult<()> {
        self.bytes += n;
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Ok(());
        }
        loop {
            self.check_cancel()?;
            let due = Duration::from_secs_f64(self.bytes as f64 / self.rate);
            let elapsed = self.started.elapsed();
            if due <= elapsed {
                return Ok(());
            }
            std::thread::sleep((due - elapsed).min(Duration::from_millis(100)));
        }
    }

    /// Calls `f(header, batch bytes)` for each batch of `src` while it returns true.
    fn scan(
        &mut self,
        src: &SourceSegment,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&mut Self, &BatchHeader, &[u8]) -> SResult<bool>,
    ) -> SResult<()> {
        if buf.len() < READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        }
        let mut window = 0u64; // file position of buf[0]
        let mut len = 0usize;
        let mut off = 0usize;
        loop {
            let at = window + off as u64;
            if at >= src.size {
                return Ok(());
            }
            let avail = len - off;
            let need = if avail >= HEADER_SIZE {
                let h = BatchHeader::parse(&buf[off..off + HEADER_SIZE]);
                if h.magic != 2 || h.size() < HEADER_SIZE {
                    return Err(corrupt(&format!(
                        "bad batch header at byte {at} of segment {}",
                        src.base_offset
                    )));
                }
                h.size()
            } else {
                HEADER_SIZE
            };
            if avail < need {
                if at + need as u64 > src.size {
                    return Err(corrupt(&format!(
                        "batch at byte {at} of segment {} runs past its end",
                        src.base_offset
                    )));
                }
                self.check_cancel()?;
                buf.copy_within(off..len, 0);
                len = avail;
                off = 0;
                window = at;
                if buf.len() < need {
                    buf.resize(need, 0);
                }
                let want = (buf.len() - len).min((src.size - (window + len as u64)) as usize);
                let n = read_at(&src.file, &mut buf[len..len + want], window + len as u64)?;
                if n == 0 {
                    return Err(corrupt(&format!(
                        "segment {} ends at byte {} (expected {})",
                        src.base_offset,
                        window + len as u64,
                        src.size
                    )));
                }
                len += n;
                self.stats.bytes_read += n as u64;
                self.account(n as u64)?;
                continue;
            }
            let h = BatchHeader::parse(&buf[off..off + HEADER_SIZE]);
            if !f(self, &h, &buf[off..off + need])? {
                return Ok(());
            }
            off += need;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The round.

impl CleanJob {
    pub fn signatures(&self) -> Vec<(i64, u64, u64)> {
        self.sources.iter().map(|s| s.signature()).collect()
    }

    pub fn run(self) -> SResult<Prepared> {
        let mut io = Io {
            rate: self.opts.io_max_bytes_per_second,
            started: Instant::now(),
            bytes: 0,
            cancel: self.cancel.clone(),
            stats: CleanStats::default(),
            decode: Decode::default(),
        };
        let digest = KeyDigest::new();
        let mut buf = Vec::new();
        let (map, cleaned_up_to) = self.build_offset_map(&mut io, &digest, &mut buf)?;
        let mut groups: Vec<CleanedGroup> = Vec::new();
        let any_dirty = self.sources.iter().any(|s| {
            s.next_base <= self.opts.end_offset && s.next_base > self.opts.first_dirty_offset
        });
        let cleanable: Vec<&SourceSegment> = if any_dirty {
            self.sources
                .iter()
                .take_while(|s| s.next_base <= cleaned_up_to)
                .collect()
        } else {
            Vec::new()
        };
        for group in group_by_size(&cleanable, self.opts.segment_bytes) {
            match self.clean_group(&group, &mut io, &digest, &map, &mut buf) {
                Ok(g) => groups.push(g),
                Err(e) => {
                    for g in groups {
                        let _ = g.segment.delete_files();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Prepared {
            cleaned_up_to,
            groups,
            stats: io.stats,
        })
    }

    /// Key digest -> largest offset over the dirty segments, and where the map ended
    /// (cleanedUpTo). Dirty = inactive segments ending in (firstDirtyOffset, endOffset]; each is
    /// read whole and joins the map only whole (the first one always).
    fn build_offset_map(
        &self,
        io: &mut Io,
        digest: &KeyDigest,
        buf: &mut Vec<u8>,
    ) -> SResult<(DigestMap, i64)> {
        let o = &self.opts;
        let start = o.first_dirty_offset;
        let max_entries = o.max_map_entries.max(0) as usize;
        let dirty: Vec<&SourceSegment> = self
            .sources
            .iter()
            .filter(|s| s.next_base <= o.end_offset && s.next_base > start)
            .collect();
        let mut map = DigestMap::default();
        let Some(first) = dirty.first() else {
            return Ok((map, start));
        };
        let mut txns = TxnState::new(&o.aborted_txns, first.base_offset);
        let mut scratch = Vec::new();
        for (i, src) in dirty.iter().enumerate() {
            let mut own = DigestMap::default();
            let mut added = 0usize;
            let mut fits = true;
            io.scan(src, buf, |io, h, bytes| {
                let records = records_of(bytes, h, &mut scratch, &mut io.decode)?;
                if h.is_control() {
                    txns.on_control_batch(h, first_key(records, h)?);
                } else if !txns.on_batch(h) && fits {
                    for_each_record(records, h, |r| {
                        let offset = h.base_offset + r.offset_delta as i64;
                        if let (Some(key), true) = (r.key, offset >= start) {
                            let d = digest.of(key);
                            if i == 0 {
                                map.insert(d, offset);
                            } else if own.insert(d, offset).is_none() && !map.contains_key(&d) {
                                added += 1;
                                fits = map.len() + added <= max_entries;
                            }
                        }
                        Ok(fits)
                    })?;
                }
                // Read on to the segment's end either way (bytesRead counts whole segments).
                Ok(true)
            })?;
            // Checked even when the segment brought no new key: a map already past the bound
            // (after the first segment, which always goes in whole) takes no further segment.
            if i > 0 && map.len() + added > max_entries {
                return Ok((map, src.base_offset));
            }
            map.extend(own);
        }
        Ok((map, dirty[dirty.len() - 1].next_base))
    }

    fn clean_group(
        &self,
        group: &[&SourceSegment],
        io: &mut Io,
        digest: &KeyDigest,
        map: &DigestMap,
        buf: &mut Vec<u8>,
    ) -> SResult<CleanedGroup> {
        let o = &self.opts;
        let base = group[0].base_offset;
        let (mut seg, _, _) =
            Segment::open_with_suffix(&self.dir, base, self.seg_cfg, true, CLEANED_SUFFIX)?;
        let result = (|| {
            let mut txns = TxnState::new(&o.aborted_txns, base);
            let mut out: Vec<u8> = Vec::with_capacity(WRITE_CHUNK + 4096);
            let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
            let mut scratch = Vec::new();
            for src in group {
                io.scan(src, buf, |io, h, bytes| {
                    let at = out.len();
                    filter_batch(
                        o,
                        &mut txns,
                        digest,
                        map,
                        h,
                        bytes,
                        &mut scratch,
                        io,
                        &mut out,
                    )?;
                    if out.len() > at {
                        headers.push((at, BatchHeader::parse(&out[at..])));
                    }
                    if out.len() >= WRITE_CHUNK {
                        write_out(&mut seg, &mut out, &mut headers, io)?;
                    }
                    Ok(true)
                })?;
            }
            write_out(&mut seg, &mut out, &mut headers, io)?;
            seg.seal()?;
            if let Some(m) = group[group.len() - 1].modified {
                seg.set_last_modified(m)?;
            }
            seg.log_file()?.sync_all()?;
            seg.sync_index_files()?;
            Ok(())
        })();
        match result {
            Ok(()) => Ok(CleanedGroup {
                segment: seg,
                replaced: group.iter().map(|s| s.signature()).collect(),
            }),
            Err(e) => {
                let _ = seg.delete_files();
                Err(e)
            }
        }
    }
}

fn write_out(
    seg: &mut Segment,
    out: &mut Vec<u8>,
    headers: &mut Vec<(usize, BatchHeader)>,
    io: &mut Io,
) -> SResult<()> {
    if out.is_empty() {
        return Ok(());
    }
    seg.append(out, headers)?;
    io.stats.bytes_written += out.len() as u64;
    io.account(out.len() as u64)?;
    out.clear();
    headers.clear();
    Ok(())
}

/// Kafka's groupSegmentsBySize: consecutive segments whose sizes add up to <= maxSize and whose
/// offsets stay within 2^31 - 1 of the group's base (an empty segment always joins).
fn group_by_size<'a>(segs: &[&'a SourceSegment], max_size: i64) -> Vec<Vec<&'a SourceSegment>> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let mut group = vec![segs[i]];
        let mut size = segs[i].size as i64;
        i += 1;
        while i < segs.len()
            && size + segs[i].size as i64 <= max_size
            && (segs[i].size == 0
                || segs[i].next_base - 1 - group[0].base_offset <= i32::MAX as i64)
        {
            size += segs[i].size as i64;
            group.push(segs[i]);
            i += 1;
        }
        groups.push(group);
    }
    groups
}

#[derive(PartialEq, Eq)]
enum Retention {
    Delete,
    DeleteEmpty,
    RetainEmpty,
}

/// One batch through the cleaner's RecordFilter and MemoryRecords.filterTo; appends what is kept
/// to `out`.
#[allow(clippy::too_many_arguments)]
fn filter_batch(
    o: &CleanOptions,
    txns: &mut TxnState,
    digest: &KeyDigest,
    map: &DigestMap,
    h: &BatchHeader,
    bytes: &[u8],
    scratch: &mut Vec<u8>,
    io: &mut Io,
    out: &mut Vec<u8>,
) -> SResult<()> {
    io.stats.records_read += h.records_count.max(0) as u64;
    let records = records_of(bytes, h, scratch, &mut io.decode)?;
    let horizon = delete_horizon_of(h);
    let can_discard = if h.is_control() {
        txns.on_control_batch(h, first_key(records, h)?)
    } else {
        txns.on_batch(h)
    };
    let discard_records = if h.is_control() {
        can_discard && horizon.is_some_and(|t| t <= o.now)
    } else {
        can_discard
    };
    let last_of_producer =
        h.producer_id >= 0 && o.producer_last_offsets.get(&h.producer_id) == Some(&h.last_offset());
    let retention = if last_of_producer {
        Retention::RetainEmpty
    } else if discard_records {
        Retention::Delete
    } else {
        Retention::DeleteEmpty
    };
    if retention == Retention::Delete {
        return Ok(());
    }
    let mut retained: Vec<Rec> = Vec::new();
    let mut all_retained = true;
    let mut tombstones = false;
    for_each_record(records, h, |r| {
        let offset = h.base_offset + r.offset_delta as i64;
        let keep = if discard_records {
            false
        } else if h.is_control() {
            true
        } else {
            match r.key {
                None => false,
                Some(key) => {
                    let newest = offset >= map.get(&digest.of(key)).copied().unwrap_or(-1);
                    let keep_value = r.value.is_some() || horizon.is_none_or(|t| o.now < t);
                    newest && keep_value
                }
            }
        };
        if keep {
            tombstones |= r.value.is_none();
            retained.push(r);
        } else {
            all_retained = false;
        }
        Ok(true)
    })?;
    if !retained.is_empty() {
        io.stats.records_retained += retained.len() as u64;
        let marker_for_empty_txn = can_discard && h.is_control();
        let needs_horizon = (tombstones || marker_for_empty_txn) && horizon.is_none();
        if all_retained && !needs_horizon {
            out.extend_from_slice(bytes);
        } else {
            let new_horizon = if needs_horizon {
                o.now.saturating_add(o.delete_retention_ms)
            } else {
                horizon.unwrap_or(NO_TIMESTAMP)
            };
            rebuild_batch(out, h, &retained, new_horizon)?;
        }
    } else if retention == Retention::RetainEmpty {
        empty_batch(out, h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::{fix_crc, write_varlong};
    use crate::batch::*;
    use crate::log::{CleanSummary, Log, LogConfig};
    use std::fs;
    use std::path::Path;

    #[test]
    fn varints_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            let mut pos = 0;
            assert_eq!(varlong(&out, &mut pos).unwrap(), v);
            assert_eq!(pos, out.len());
        }
    }

    type Kv<'a> = (Option<&'a str>, Option<&'a str>);

    /// A batch of records with the given keys / values (record i: timestamp base_ts + i).
    fn keyed_batch(recs: &[Kv], base_ts: i64, attributes: i16, producer_id: i64) -> Vec<u8> {
        let mut records = Vec::new();
        for (i, (k, v)) in recs.iter().enumerate() {
            let mut r = vec![0u8];
            write_varlong(&mut r, i as i64);
            write_varlong(&mut r, i as i64);
            for f in [k, v] {
                match f {
                    None => write_varlong(&mut r, -1),
                    Some(s) => {
                        write_varlong(&mut r, s.len() as i64);
                        r.extend_from_slice(s.as_bytes());
                    }
                }
            }
            write_varlong(&mut r, 0);
            write_varlong(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        let codec = (attributes & CODEC_MASK) as u8;
        let body = codec::compress(codec, &records).unwrap();
        let mut b = vec![0u8; HEADER_SIZE];
        b.extend_from_slice(&body);
        let len = b.len();
        put_i32(&mut b, BATCH_LENGTH, (len - LOG_OVERHEAD) as i32);
        put_i32(&mut b, PARTITION_LEADER_EPOCH, 0);
        b[MAGIC] = 2;
        put_i16(&mut b, ATTRIBUTES, attributes);
        put_i32(&mut b, LAST_OFFSET_DELTA, recs.len() as i32 - 1);
        put_i64(&mut b, BASE_TIMESTAMP, base_ts);
        put_i64(&mut b, MAX_TIMESTAMP, base_ts + recs.len() as i64 - 1);
        put_i64(&mut b, PRODUCER_ID, producer_id);
        put_i16(
            &mut b,
            PRODUCER_EPOCH,
            if producer_id >= 0 { 0 } else { -1 },
        );
        put_i32(&mut b, BASE_SEQUENCE, if producer_id >= 0 { 0 } else { -1 });
        put_i32(&mut b, RECORDS_COUNT, recs.len() as i32);
        fix_crc(&mut b);
        b
    }

    fn cfg(segment_bytes: i64) -> LogConfig {
        LogConfig {
            segment_bytes,
            segment_ms: i64::MAX / 2,
            index_interval_bytes: 64,
            max_index_size: 4096,
            max_message_bytes: 1 << 20,
            log_append_time: false,
            file_delete_delay_ms: 0,
            compacted: true,
            timestamp_before_max_ms: None,
            timestamp_after_max_ms: None,
        }
    }

    fn opts(first_dirty: i64, end: i64, now: i64) -> CleanOptions {
        CleanOptions {
            first_dirty_offset: first_dirty,
            end_offset: end,
            now,
            delete_retention_ms: 1000,
            max_map_entries: 1 << 20,
            segment_bytes: 1 << 30,
            io_max_bytes_per_second: f64::INFINITY,
            aborted_txns: Vec::new(),
            producer_last_offsets: HashMap::new(),
        }
    }

    fn clean(log: &mut Log, o: CleanOptions) -> CleanSummary {
        let job = log.clean_job(o, Arc::new(AtomicBool::new(false))).unwrap();
        let prepared = job.run().unwrap();
        log.clean_commit(prepared).unwrap()
    }

    /// Every batch of every `.log` file of `dir`: (header, [(offset, key, value)]).
    #[allow(clippy::type_complexity)]
    fn dump(dir: &Path) -> Vec<(BatchHeader, Vec<(i64, Option<String>, Option<String>)>)> {
        let mut logs: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        let mut out = Vec::new();
        for p in logs {
            let bytes = fs::read(p).unwrap();
            let mut pos = 0;
            while pos < bytes.len() {
                let h = BatchHeader::parse(&bytes[pos..]);
                let b = &bytes[pos..pos + h.size()];
                assert!(check_stored(b), "bad CRC at {pos}");
                let mut scratch = Vec::new();
                let records = records_of(b, &h, &mut scratch, &mut Decode::default()).unwrap();
                let mut recs = Vec::new();
                let s = |v: Option<&[u8]>| v.map(|x| String::from_utf8(x.to_vec()).unwrap());
                for_each_record(records, &h, |r| {
                    recs.push((h.base_offset + r.offset_delta as i64, s(r.key), s(r.value)));
                    Ok(true)
                })
                .unwrap();
                out.push((h, recs));
                pos += h.size();
            }
        }
        out
    }

    fn offsets_and_keys(dir: &Path) -> Vec<(i64, String)> {
        dump(dir)
            .into_iter()
            .flat_map(|(_, r)| r)
            .map(|(o, k, _)| (o, k.unwrap_or_default()))
            .collect()
    }

    fn tmp(name: &str) -> crate::testutil::TempDir {
        crate::testutil::TempDir::new("spool-clean", name)
    }

    #[test]
    fn keeps_the_newest_record_of_each_key_and_keeps_offsets() {
        for codec in [codec::NONE, codec::GZIP, codec::ZSTD] {
            let d = tmp(&format!("basic-{codec}"));
            let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
            let c = codec as i16;
            log.append(
                &mut keyed_batch(
                    &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
                    100,
                    c,
                    -1,
                ),
                0,
                0,
            )
            .unwrap();
            log.roll().unwrap();
            log.append(
                &mut keyed_batch(
                    &[(Some("a"), Some("2")), (Some("c"), Some("1"))],
                    200,
                    c,
                    -1,
                ),
                0,
                0,
            )
            .unwrap();
            log.roll().unwrap();
            log.append(
                &mut keyed_batch(&[(Some("b"), Some("3"))], 300, c, -1),
                0,
                0,
            )
            .unwrap();
            log.roll().unwrap();
            let r = clean(&mut log, opts(0, 5, 1000));
            assert!(!r.abandoned);
            assert_eq!(r.cleaned_up_to, 5);
            assert_eq!(r.groups.len(), 1);
            assert_eq!(r.groups[0].0, 0);
            assert_eq!(r.groups[0].1, vec![0, 2, 4]);
            assert_eq!(r.stats.records_read, 5);
            assert_eq!(r.stats.records_retained, 3);
            assert_eq!(
                offsets_and_keys(&d),
                vec![(2, "a".into()), (3, "c".into()), (4, "b".into())]
            );
            let batches = dump(&d);
            // The first batch lost every record: dropped. The second lost none: copied as is.
            assert_eq!(batches[0].0.base_offset, 2);
            assert_eq!(batches[0].0.base_timestamp, 200);
            // Reads, offset for timestamp and the files after a reopen agree.
            assert_eq!(log.read(0, 1 << 20, i64::MAX).unwrap().1, 0);
            assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((200, 2)));
            assert_eq!(log.offset_for_timestamp(250).unwrap(), Some((300, 4)));
            let names: Vec<String> = fs::read_dir(&*d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            assert!(
                names.iter().all(|n| !n.contains(".cleaned")
                    && !n.contains(".swap")
                    && !n.contains(".deleted")),
                "{names:?}"
            );
            log.close().unwrap();
            let log = Log::open(&d, cfg(1 << 20), None).unwrap();
            assert_eq!(log.log_end_offset, 5);
            assert_eq!(log.segments().len(), 2);
            log.close().unwrap();
        }
    }

    #[test]
    fn rebuilt_batches_keep_last_offset_and_recompute_timestamps_and_crc() {
        let d = tmp("rebuild");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        log.append(
            &mut keyed_batch(
                &[
                    (Some("a"), Some("1")),
                    (Some("b"), Some("1")),
                    (Some("a"), Some("x")),
                ],
                100,
                0,
                7,
            ),
            0,
            0,
        )
        .unwrap();
        log.append(
            &mut keyed_batch(&[(Some("b"), Some("2"))], 500, 0, -1),
            0,
            0,
        )
        .unwrap();
        log.roll().unwrap();
        clean(&mut log, opts(0, 4, 1000));
        let batches = dump(&d);
        let (h, recs) = &batches[0];
        // Only "a"@2 survives of the first batch: base offset 0, last offset 2, one record.
        assert_eq!((h.base_offset, h.last_offset(), h.records_count), (0, 2, 1));
        assert_eq!((h.base_timestamp, h.max_timestamp), (102, 102));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (7, 0, 0)
        );
        assert_eq!(recs, &vec![(2, Some("a".into()), Some("x".into()))]);
        log.close().unwrap();
    }

    #[test]
    fn tombstones_get_a_delete_horizon_then_go_after_it() {
        let d = tmp("horizon");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        log.append(
            &mut keyed_batch(
                &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
                100,
                0,
                -1,
            ),
            0,
            0,
        )
        .unwrap();
        log.append(&mut keyed_batch(&[(Some("a"), None)], 200, 0, -1), 0, 0)
            .unwrap();
        log.roll().unwrap();
        clean(&mut log, opts(0, 3, 10_000));
        let batches = dump(&d);
        assert_eq!(batches.len(), 2);
        let (h, recs) = &batches[1];
        assert!(h.attributes & DELETE_HORIZON_BIT != 0);
        assert_eq!(h.base_timestamp, 11_000);
        assert_eq!(h.max_timestamp, 200);
        assert_eq!(recs, &vec![(2, Some("a".into()), None)]);
        // Before the horizon the tombstone stays (and the batch is copied as is).
        let before = fs::read(d.join(crate::segment::file_name(0, ".log"))).unwrap();
        clean(&mut log, opts(3, 3, 10_999));
        assert_eq!(
            fs::read(d.join(crate::segment::file_name(0, ".log"))).unwrap(),
            before
        );
        // Mapping needs a dirty segment: one more, then past the horizon.
        log.append(
            &mut keyed_batch(&[(Some("c"), Some("1"))], 300, 0, -1),
            0,
            0,
        )
        .unwrap();
        log.roll().unwrap();
        clean(&mut log, opts(3, 4, 11_000));
        assert_eq!(offsets_and_keys(&d), vec![(1, "b".into()), (3, "c".into())]);
        log.close().unwrap();
    }

    #[test]
    fn a_producers_last_batch_stays_as_an_empty_batch() {
        let d = tmp("empty");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        log.append(
            &mut keyed_batch(
                &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
                100,
                0,
                42,
            ),
            0,
            0,
        )
        .unwrap();
        log.append(
            &mut keyed_batch(
                &[(Some("a"), Some("2")), (Some("b"), Some("2"))],
                200,
                0,
                -1,
            ),
            0,
            0,
        )
        .unwrap();
        log.roll().unwrap();
        let mut o = opts(0, 4, 1000);
        o.producer_last_offsets.insert(42, 1);
        clean(&mut log, o);
        let batches = dump(&d);
        let (h, recs) = &batches[0];
        assert!(recs.is_empty());
        assert_eq!(
            (h.base_offset, h.last_offset(), h.records_count, h.size()),
            (0, 1, 0, HEADER_SIZE)
        );
        assert_eq!(
            (h.base_timestamp, h.max_timestamp, h.producer_id),
            (-1, 101, 42)
        );
        // A follower takes such a log as it is.
        let f = tmp("empty-follower");
        let mut follower = Log::open(&f, cfg(1 << 20), None).unwrap();
        let all = fs::read(d.join(crate::segment::file_name(0, ".log"))).unwrap();
        let s = follower.append_as_follower(&all, 0).unwrap();
        assert_eq!(s.log_end_offset, 4);
        log.close().unwrap();
        follower.close().unwrap();
    }

    #[test]
    fn the_map_stops_before_a_segment_that_does_not_fit() {
        let d = tmp("map-full");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        for keys in [["a", "b"], ["a", "c"], ["d", "e"]] {
            log.append(
                &mut keyed_batch(
                    &[(Some(keys[0]), Some("v")), (Some(keys[1]), Some("v"))],
                    100,
                    0,
                    -1,
                ),
                0,
                0,
            )
            .unwrap();
            log.roll().unwrap();
        }
        let mut o = opts(0, 6, 1000);
        o.max_map_entries = 3;
        let r = clean(&mut log, o);
        assert_eq!(r.cleaned_up_to, 4);
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.groups[0].1, vec![0, 2]);
        assert_eq!(
            offsets_and_keys(&d),
            vec![
                (1, "b".into()),
                (2, "a".into()),
                (3, "c".into()),
                (4, "d".into()),
                (5, "e".into())
            ]
        );
        log.close().unwrap();
    }

    #[test]
    fn a_map_already_past_its_bound_takes_no_further_segment() {
        let d = tmp("map-over");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        for _ in 0..2 {
            let recs = [
                (Some("a"), Some("v")),
                (Some("b"), Some("v")),
                (Some("c"), Some("v")),
            ];
            log.append(&mut keyed_batch(&recs, 100, 0, -1), 0, 0)
                .unwrap();
            log.roll().unwrap();
        }
        let mut o = opts(0, 6, 1000);
        o.max_map_entries = 2;
        let r = clean(&mut log, o);
        // The first segment goes in whole (3 keys); the second adds none but the map is full.
        assert_eq!(r.cleaned_up_to, 3);
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.groups[0].1, vec![0]);
        log.close().unwrap();
    }

    #[test]
    fn groups_follow_segment_bytes() {
        let d = tmp("groups");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        let size = keyed_batch(&[(Some("a"), Some("v"))], 100, 0, -1).len() as i64;
        for k in ["a", "b", "c", "d", "e"] {
            log.append(&mut keyed_batch(&[(Some(k), Some("v"))], 100, 0, -1), 0, 0)
                .unwrap();
            log.roll().unwrap();
        }
        let mut o = opts(0, 5, 1000);
        o.segment_bytes = 2 * size;
        let r = clean(&mut log, o);
        let g: Vec<_> = r.groups.iter().map(|g| (g.0, g.1.clone())).collect();
        assert_eq!(g, vec![(0, vec![0, 1]), (2, vec![2, 3]), (4, vec![4])]);
        assert_eq!(log.segments().len(), 4);
        log.close().unwrap();
    }

    #[test]
    fn a_round_is_abandoned_when_a_segment_is_truncated_or_deleted_meanwhile() {
        let d = tmp("abandon");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        for k in ["a", "a", "a"] {
            log.append(&mut keyed_batch(&[(Some(k), Some("v"))], 100, 0, -1), 0, 0)
                .unwrap();
            log.roll().unwrap();
        }
        let before = offsets_and_keys(&d);
        let job = log
            .clean_job(opts(0, 3, 1000), Arc::new(AtomicBool::new(false)))
            .unwrap();
        let prepared = job.run().unwrap();
        log.delete_segments_before(1).unwrap();
        let r = log.clean_commit(prepared).unwrap();
        assert!(r.abandoned);
        assert!(r.groups.is_empty());
        assert_eq!(offsets_and_keys(&d), before[1..].to_vec());
        let names: Vec<String> = fs::read_dir(&*d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".cleaned")), "{names:?}");
        // Truncation that re-creates a segment at the same base also abandons.
        let job = log
            .clean_job(opts(1, 3, 1000), Arc::new(AtomicBool::new(false)))
            .unwrap();
        let prepared = job.run().unwrap();
        log.truncate_to(2).unwrap();
        log.append(
            &mut keyed_batch(&[(Some("a"), Some("v"))], 100, 0, -1),
            0,
            0,
        )
        .unwrap();
        log.roll().unwrap();
        assert!(log.clean_commit(prepared).unwrap().abandoned);
        log.close().unwrap();
    }

    #[test]
    fn open_completes_an_interrupted_swap_and_drops_cleaned_files() {
        let d = tmp("swap");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        for k in ["a", "b", "a"] {
            log.append(&mut keyed_batch(&[(Some(k), Some("v"))], 100, 0, -1), 0, 0)
                .unwrap();
            log.roll().unwrap();
        }
        log.append(
            &mut keyed_batch(&[(Some("z"), Some("v"))], 100, 0, -1),
            0,
            0,
        )
        .unwrap();
        let job = log
            .clean_job(opts(0, 3, 1000), Arc::new(AtomicBool::new(false)))
            .unwrap();
        let prepared = job.run().unwrap();
        // Crash after the `.swap` renames, before the old segments went.
        let mut groups = prepared.groups;
        groups[0]
            .segment
            .change_suffix(CLEANED_SUFFIX, crate::segment::SWAP_SUFFIX)
            .unwrap();
        drop(groups);
        log.close().unwrap();
        fs::write(d.join("00000000000000000002.log.cleaned"), b"junk").unwrap();
        let log = Log::open(&d, cfg(1 << 20), None).unwrap();
        assert_eq!(
            offsets_and_keys(&d),
            vec![(1, "b".into()), (2, "a".into()), (3, "z".into())]
        );
        assert_eq!(log.log_end_offset, 4);
        assert_eq!(log.segments().len(), 2);
        let names: Vec<String> = fs::read_dir(&*d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.contains(".cleaned") && !n.contains(".swap")),
            "{names:?}"
        );
        log.close().unwrap();
    }

    #[test]
    fn transactions_aborted_data_goes_and_markers_get_a_horizon() {
        let d = tmp("txn");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        // pid 5: aborted transaction at 0..1, abort marker at 2; pid 6: committed at 3, marker 4.
        let txn = TRANSACTIONAL_BIT;
        log.append(
            &mut keyed_batch(
                &[(Some("a"), Some("x")), (Some("b"), Some("x"))],
                100,
                txn,
                5,
            ),
            0,
            0,
        )
        .unwrap();
        // Control records: key = version 0, type (0 abort / 1 commit).
        let control = |pid: i64, kind: u8| {
            let mut records = Vec::new();
            let mut r = vec![0u8, 0, 0];
            write_varlong(&mut r, 4);
            r.extend_from_slice(&[0, 0, 0, kind]);
            write_varlong(&mut r, 6);
            r.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            write_varlong(&mut r, 0);
            write_varlong(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
            let mut b = keyed_batch(&[(Some("x"), Some("x"))], 100, txn | CONTROL_BIT, pid);
            b.truncate(HEADER_SIZE);
            b.extend_from_slice(&records);
            let len = b.len();
            put_i32(&mut b, BATCH_LENGTH, (len - LOG_OVERHEAD) as i32);
            fix_crc(&mut b);
            b
        };
        log.append_as_follower(
            &{
                let mut b = control(5, 0);
                put_i64(&mut b, 0, 2);
                b
            },
            0,
        )
        .unwrap();
        let mut c = keyed_batch(&[(Some("c"), Some("x"))], 100, txn, 6);
        put_i64(&mut c, 0, 3);
        log.append_as_follower(&c, 0).unwrap();
        let mut m = control(6, 1);
        put_i64(&mut m, 0, 4);
        log.append_as_follower(&m, 0).unwrap();
        log.roll().unwrap();
        let mut o = opts(0, 5, 1000);
        o.aborted_txns.push(AbortedTxn {
            producer_id: 5,
            first_offset: 0,
            last_offset: 2,
        });
        clean(&mut log, o);
        let batches = dump(&d);
        // Aborted data gone; its marker stays (data was seen this round) and so does the commit.
        let bases: Vec<i64> = batches.iter().map(|(h, _)| h.base_offset).collect();
        assert_eq!(bases, vec![2, 3, 4]);
        // Second round: the abort marker's data is gone, so it is discardable: it gets a horizon.
        log.append(
            &mut keyed_batch(&[(Some("q"), Some("x"))], 100, 0, -1),
            0,
            0,
        )
        .unwrap();
        log.roll().unwrap();
        let mut o = opts(5, 6, 2000);
        o.aborted_txns.push(AbortedTxn {
            producer_id: 5,
            first_offset: 0,
            last_offset: 2,
        });
        clean(&mut log, o.clone());
        let batches = dump(&d);
        let abort = &batches[0].0;
        assert_eq!(abort.base_offset, 2);
        assert!(abort.attributes & DELETE_HORIZON_BIT != 0);
        assert_eq!(abort.base_timestamp, 3000);
        // Past the horizon it goes.
        log.append(
            &mut keyed_batch(&[(Some("r"), Some("x"))], 100, 0, -1),
            0,
            0,
        )
        .unwrap();
        log.roll().unwrap();
        o.first_dirty_offset = 6;
        o.end_offset = 7;
        o.now = 3000;
        clean(&mut log, o);
        let bases: Vec<i64> = dump(&d).iter().map(|(h, _)| h.base_offset).collect();
        assert_eq!(bases[0], 3);
        log.close().unwrap();
    }

    #[test]
    fn follower_appends_take_compacted_batches_and_start_past_the_log_end() {
        let d = tmp("follower");
        let mut log = Log::open(&d, cfg(1 << 20), None).unwrap();
        // lastOffsetDelta 4 with records at deltas 1 and 4.
        let mut b = keyed_batch(
            &[(Some("a"), Some("1")), (Some("b"), Some("2"))],
            100,
            0,
            -1,
        );
        let mut records = Vec::new();
        for (delta, key) in [(1, "a"), (4, "b")] {
            let mut r = vec![0u8];
            write_varlong(&mut r, 0);
            write_varlong(&mut r, delta);
            write_varlong(&mut r, 1);
            r.extend_from_slice(key.as_bytes());
            write_varlong(&mut r, 1);
            r.push(b'v');
            write_varlong(&mut r, 0);
            write_varlong(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        b.truncate(HEADER_SIZE);
        b.extend_from_slice(&records);
        let len = b.len();
        put_i32(&mut b, BATCH_LENGTH, (len - LOG_OVERHEAD) as i32);
        put_i32(&mut b, LAST_OFFSET_DELTA, 4);
        put_i16(&mut b, ATTRIBUTES, DELETE_HORIZON_BIT);
        put_i64(&mut b, 0, 10);
        fix_crc(&mut b);
        // The leader refuses it, the follower takes it at offset 10 (> log end 0).
        assert_eq!(
            log.append(&mut b.clone(), 0, 0).unwrap_err().code,
            INVALID_RECORD
        );
        let s = log.append_as_follower(&b, 0).unwrap();
        assert_eq!((s.first_offset, s.log_end_offset), (10, 15));
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((100, 11)));
        assert_eq!(log.read(12, 1 << 20, i64::MAX).unwrap().2, b.len() as u64);
        // Below the log end: refused; out of order inside a request: refused.
        let mut low = keyed_batch(&[(Some("c"), Some("1"))], 100, 0, -1);
        put_i64(&mut low, 0, 14);
        assert_eq!(
            log.append_as_follower(&low, 0).unwrap_err().code,
            INVALID_RECORD
        );
        let mut two = keyed_batch(&[(Some("c"), Some("1"))], 100, 0, -1);
        put_i64(&mut two, 0, 20);
        two.extend_from_slice(&low);
        assert_eq!(
            log.append_as_follower(&two, 0).unwrap_err().code,
            CORRUPT_MESSAGE
        );
        log.close().unwrap();
        let log = Log::open(&d, cfg(1 << 20), None).unwrap();
        assert_eq!((log.log_end_offset, log.recovered_bytes_truncated), (15, 0));
        log.close().unwrap();
    }
}
