// native room: one segment — a .log of concatenated v2 batches plus its two sparse indexes,
// indexed per batch exactly like Kafka's LogSegment (docs/storage-format.md, "Append" step 5).
use crate::batch::{self, BatchHeader, HEADER_SIZE, LOG_OVERHEAD};
use crate::codec;
use crate::error::*;
use crate::fileio::{read_at, write_all_at, LogFile};
use crate::index::{OffsetIndex, TimeIndex};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// Appended to a deleted segment's file names until its delete delay has passed.
pub const DELETED_SUFFIX: &str = ".deleted";

/// Suffixes of a cleaned segment's files while it is written and while it replaces the old ones
/// (Kafka's `.cleaned` and `.swap`).
pub const CLEANED_SUFFIX: &str = ".cleaned";
pub const SWAP_SUFFIX: &str = ".swap";

/// Identifies a segment's contents: new per opened segment object and per truncation, so a
/// cleaning round can check that the segments it read are still the log's, unchanged.
static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Bytes read at a time while walking batch headers.
const SCAN_CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct SegmentConfig {
    pub index_interval_bytes: u64,
    pub max_index_size: usize,
    /// How long a FileSlice's lease may be held before it is reported as a leak (it still holds).
    pub lease_ms: u64,
}

pub struct Segment {
    pub base_offset: i64,
    /// Unique per opened segment object (see NEXT_UID).
    pub uid: u64,
    /// The .log: opened lazily and closed when idle once the segment is sealed (fileio::LogFile).
    log: Arc<LogFile>,
    log_path: PathBuf,
    index_path: PathBuf,
    time_index_path: PathBuf,
    pub size: u64,
    pub offset_index: OffsetIndex,
    pub time_index: TimeIndex,
    cfg: SegmentConfig,
    bytes_since_last_index_entry: u64,
    pub max_timestamp_so_far: i64,
    pub offset_of_max_timestamp_so_far: i64,
    /// maxTimestamp of the first batch, read lazily (segment.ms roll check).
    rolling_based_timestamp: Option<i64>,
    /// Offset after the last batch; baseOffset when empty.
    next_offset: i64,
    /// Bytes from the start of the .log known to hold CRC-valid batches: checked at recovery,
    /// appended after validation, or checked by a read. Reads check the rest before serving it.
    verified_end: AtomicU64,
}

/// A batch found while scanning a segment file.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub position: u64,
    pub header: BatchHeader,
}

impl Segment {
    fn paths(dir: &Path, base_offset: i64, suffix: &str) -> (PathBuf, PathBuf, PathBuf) {
        (
            dir.join(file_name(base_offset, &format!(".log{suffix}"))),
            dir.join(file_name(base_offset, &format!(".index{suffix}"))),
            dir.join(file_name(base_offset, &format!(".timeindex{suffix}"))),
        )
    }

    /// Opens (or creates) the files of a segment; `fresh` empties whatever was there.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        cfg: SegmentConfig,
        fresh: bool,
    ) -> SResult<(Segment, bool, bool)> {
        Self::open_with_suffix(dir, base_offset, cfg, fresh, "")
    }

    /// Like open, for files named `<base>.log<suffix>` etc. (a cleaned or swap segment).
    pub fn open_with_suffix(
        dir: &Path,
        base_offset: i64,
        cfg: SegmentConfig,
        fresh: bool,
        suffix: &str,
    ) -> SResult<(Segment, bool, bool)> {
        let (log_path, index_path, time_index_path) = Self::paths(dir, base_offset, suffix);
        let index_existed = index_path.exists() && time_index_path.exists();
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(fresh)
            .open(&log_path)?;
        let size = log.metadata()?.len();
        let log = LogFile::new(log_path.clone(), log)?;
        // A fresh segment's index files are created empty and preallocated in one open each;
        // neither keeps a handle (index.rs).
        let (offset_index, a1, time_index, a2) = if fresh {
            (
                OffsetIndex::create(&index_path, base_offset, cfg.max_index_size)?,
                true,
                TimeIndex::create(&time_index_path, base_offset, cfg.max_index_size)?,
                true,
            )
        } else {
            let (o, a1) = OffsetIndex::open(&index_path, base_offset, cfg.max_index_size)?;
            let (t, a2) = TimeIndex::open(&time_index_path, base_offset, cfg.max_index_size)?;
            (o, a1, t, a2)
        };
        let seg = Segment {
            base_offset,
            uid: NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            log,
            log_path,
            index_path,
            time_index_path,
            size,
            offset_index,
            time_index,
            cfg,
            bytes_since_last_index_entry: 0,
            max_timestamp_so_far: -1,
            offset_of_max_timestamp_so_far: base_offset,
            rolling_based_timestamp: None,
            next_offset: base_offset,
            verified_end: AtomicU64::new(0),
        };
        Ok((seg, index_existed, a1 && a2))
    }

    /// The log's directory was renamed away (a deleted topic): its .log is never opened by path
    /// again (the old path may be a recreated topic's file). A handle still open keeps serving
    /// reads; once closed, reads fail (an empty path opens nothing).
    pub fn detach(&mut self) {
        self.log.set_path(PathBuf::new());
    }

    /// The .log's fd for a FileSlice, with a lease that keeps it open until
    /// fileio::release_lease(token), past the lease expiry too (then reported as a leak): (fd, token).
    pub fn lease(&self) -> SResult<(i64, u64)> {
        Ok(self.log.lease(Duration::from_millis(self.cfg.lease_ms))?)
    }
    /// The .log's fd without a lease: for an empty slice of the active segment (pinned, open).
    pub fn unleased_fd(&self) -> SResult<i64> {
        Ok(self.log.fd()?)
    }
    /// The shared .log handle (lease releases go through it).
    pub fn log_handle(&self) -> &Arc<LogFile> {
        &self.log
    }
    /// The .log's handle, opened if it was closed.
    pub fn log_file(&self) -> SResult<Arc<File>> {
        Ok(self.log.file()?)
    }
    /// Paths of the index files written or resized since the last call: what a flush of the
    /// active segment must fsync besides its .log (no index handle is kept to fsync through).
    pub fn dirty_index_paths(&mut self) -> Vec<PathBuf> {
        let mut paths = Vec::with_capacity(2);
        if self.offset_index.take_dirty() {
            paths.push(self.index_path.clone());
        }
        if self.time_index.take_dirty() {
            paths.push(self.time_index_path.clone());
        }
        paths
    }
    /// fsyncs both index files, each opened by path for it.
    pub fn sync_index_files(&mut self) -> SResult<()> {
        self.offset_index.sync()?;
        self.time_index.sync()
    }
    /// Paths of the three files (a flush of a sealed segment opens them to fsync).
    pub fn file_paths(&self) -> [PathBuf; 3] {
        [
            self.log_path.clone(),
            self.index_path.clone(),
            self.time_index_path.clone(),
        ]
    }
    /// The segment is sealed (rolled, or found inactive at open): the .log handle closes unless
    /// a lease holds it; it is opened again on demand, within spool.log.max.open.segment.files.
    /// (Index files hold no handle in any state.)
    pub fn release_files(&mut self) {
        self.log.unpin();
    }
    /// The segment is active again (truncation removed the ones after it): its handle stays.
    pub fn pin_files(&mut self) -> SResult<()> {
        Ok(self.log.pin()?)
    }
    pub fn last_modified_ms(&self) -> i64 {
        fs::metadata(&self.log_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Reads the batch header at `position`, None past the end or on a short/garbled header.
    pub fn header_at(&self, position: u64) -> SResult<Option<BatchHeader>> {
        if position + HEADER_SIZE as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_SIZE];
        if read_at(&*self.log.file()?, &mut buf, position)? < HEADER_SIZE {
            return Ok(None);
        }
        let h = BatchHeader::parse(&buf);
        if (h.batch_length as i64 + LOG_OVERHEAD as i64) < HEADER_SIZE as i64
            || position + h.size() as u64 > self.size
        {
            return Ok(None);
        }
        Ok(Some(h))
    }

    pub fn read_batch(&self, loc: &Located) -> SResult<Vec<u8>> {
        let mut buf = vec![0u8; loc.header.size()];
        let n = read_at(&*self.log.file()?, &mut buf, loc.position)?;
        if n < buf.len() {
            return Err(StorageErr::new(
                KAFKA_STORAGE_ERROR,
                format!(
                    "short read at {} in {}",
                    loc.position,
                    self.log_path.display()
                ),
            ));
        }
        Ok(buf)
    }

    /// Walks batch headers from `position` while `f` returns true. Headers are read through a
    /// small buffer: one pread serves every header it holds, instead of one pread per batch.
    /// After a large batch only the next header is read: a chunk would hold no other header, and
    /// copying the batch's data into it cost more than the sendfile that serves it (fetch path).
    pub fn scan_from(
        &self,
        position: u64,
        f: impl FnMut(&Located) -> SResult<bool>,
    ) -> SResult<()> {
        scan_file(&*self.log.file()?, self.size, position, f)
    }

    /// Kafka's per-batch index rule.
    fn index_batch(&mut self, h: &BatchHeader, position: u64) -> SResult<()> {
        if h.max_timestamp > self.max_timestamp_so_far {
            self.max_timestamp_so_far = h.max_timestamp;
            self.offset_of_max_timestamp_so_far = h.last_offset();
        }
        if self.bytes_since_last_index_entry > self.cfg.index_interval_bytes {
            self.offset_index.append(h.last_offset(), position)?;
            self.time_index.maybe_append(
                self.max_timestamp_so_far,
                self.offset_of_max_timestamp_so_far,
            )?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += h.size() as u64;
        Ok(())
    }

    /// Writes already-validated batches (one write) and indexes them.
    pub fn append(&mut self, bytes: &[u8], headers: &[(usize, BatchHeader)]) -> SResult<()> {
        // Checked before anything is written: a violation here would leave batches on disk that
        // recovery, the indexes and reads all misinterpret.
        let mut expected_position = 0usize;
        let mut next_offset = self.next_offset;
        for (pos, h) in headers {
            assert!(
                *pos == expected_position,
                "segment {}: batch at byte {pos} of the append, expected the next batch at byte \
                 {expected_position} (batches must be contiguous)",
                self.base_offset
            );
            assert!(
                h.base_offset >= self.base_offset,
                "segment {}: batch base offset {} is below the segment's base offset",
                self.base_offset,
                h.base_offset
            );
            assert!(
                h.base_offset >= next_offset && h.last_offset() >= h.base_offset,
                "segment {}: batch [{}, {}] does not follow the segment's next offset {next_offset}",
                self.base_offset,
                h.base_offset,
                h.last_offset()
            );
            assert!(
                h.last_offset() - self.base_offset <= i32::MAX as i64,
                "segment {}: offset {} does not fit a 32-bit offset relative to the base",
                self.base_offset,
                h.last_offset()
            );
            expected_position += h.size();
            next_offset = h.last_offset() + 1;
        }
        assert!(
            expected_position == bytes.len(),
            "segment {}: batches cover {expected_position} of the {} bytes appended",
            self.base_offset,
            bytes.len()
        );
        let start = self.size;
        write_all_at(&*self.log.file()?, bytes, start)?;
        self.size += bytes.len() as u64;
        if self.verified_end.load(Ordering::Relaxed) >= start {
            self.verified_end.store(self.size, Ordering::Relaxed);
        }
        for (pos, h) in headers {
            if self.rolling_based_timestamp.is_none() && start == 0 && *pos == 0 {
                self.rolling_based_timestamp = Some(h.max_timestamp);
            }
            self.index_batch(h, start + *pos as u64)?;
            self.next_offset = h.last_offset() + 1;
        }
        // Index entries stay in memory until flush, roll or close: lookups never read the
        // active segment's index files, and recovery rebuilds them, so writing them on every
        // append would only add two syscalls to the produce path.
        Ok(())
    }

    /// Writes index entries added since the last call (before an fsync).
    pub fn write_pending_indexes(&mut self) -> SResult<()> {
        self.offset_index.write_pending()?;
        self.time_index.write_pending()
    }

    pub fn rolling_based_timestamp(&mut self) -> SResult<Option<i64>> {
        if self.rolling_based_timestamp.is_none() {
            self.rolling_based_timestamp = self.header_at(0)?.map(|h| h.max_timestamp);
        }
        Ok(self.rolling_based_timestamp)
    }

    /// Offset after the segment's last batch (baseOffset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Learns the next offset by scanning from the last offset index entry.
    fn compute_next_offset(&mut self) -> SResult<()> {
        let start = match self.offset_index.last_entry() {
            Some((_, p)) if p < self.size => p,
            _ => 0,
        };
        let mut next = self.base_offset;
        self.scan_from(start, |loc| {
            next = loc.header.last_offset() + 1;
            Ok(true)
        })?;
        self.next_offset = next;
        Ok(())
    }

    /// Recovery after an unclean shutdown: keep the prefix of whole, CRC-valid batches, drop the
    /// rest, rebuild both indexes (left preallocated, as for the active segment). Returns the
    /// bytes and the batches truncated (batches whose headers could still be walked; a torn or
    /// garbled tail counts as one).
    ///
    /// A batch's baseOffset is not covered by its CRC, so offsets are checked too (as Kafka's
    /// LogSegment.recover checks each batch's offsets against the segment): every batch must
    /// start after the previous one ends, at or above the segment's base offset, below
    /// `next_base` (the next segment's base offset, i64::MAX for the last segment), and its last
    /// offset must fit a 32-bit offset relative to the base. A batch that does not is treated as
    /// corrupt like a CRC mismatch.
    pub fn recover(&mut self, next_base: i64) -> SResult<(u64, u64)> {
        self.reset_index_state()?;
        let mut position = 0u64;
        let mut next = self.base_offset;
        while let Some(header) = self.header_at(position)? {
            let loc = Located { position, header };
            // checked_add: a flipped high bit may put baseOffset anywhere in the i64 range.
            let offsets_ok = header.base_offset >= next
                && header.last_offset_delta >= 0
                && header
                    .base_offset
                    .checked_add(header.last_offset_delta as i64)
                    .is_some_and(|last| {
                        last < next_base && last - self.base_offset <= i32::MAX as i64
                    });
            if !offsets_ok {
                break;
            }
            let bytes = self.read_batch(&loc)?;
            if !batch::check_stored(&bytes) {
                break;
            }
            if position == 0 {
                self.rolling_based_timestamp = Some(header.max_timestamp);
            }
            self.index_batch(&header, position)?;
            next = header.last_offset() + 1;
            position += header.size() as u64;
        }
        let truncated = self.size - position;
        let mut batches = 0u64;
        if truncated > 0 {
            self.scan_from(position, |_| {
                batches += 1;
                Ok(true)
            })?;
            self.log.file()?.set_len(position)?;
            self.size = position;
        }
        self.next_offset = next;
        self.verified_end.store(self.size, Ordering::Relaxed);
        self.offset_index.preallocate()?;
        self.time_index.preallocate()?;
        Ok((truncated, batches.max(u64::from(truncated > 0))))
    }

    /// The active segment after a clean shutdown: the bytes are trusted and nothing is cut;
    /// the indexes are rebuilt from the batch headers (reads still check CRCs before serving).
    pub fn rebuild_active_trusted(&mut self) -> SResult<()> {
        self.reset_index_state()?;
        let mut found = Vec::new();
        self.scan_from(0, |loc| {
            found.push(*loc);
            Ok(true)
        })?;
        for loc in &found {
            self.index_batch(&loc.header, loc.position)?;
        }
        self.rolling_based_timestamp = found.first().map(|l| l.header.max_timestamp);
        self.next_offset = found
            .last()
            .map(|l| l.header.last_offset() + 1)
            .unwrap_or(self.base_offset);
        self.offset_index.preallocate()?;
        self.time_index.preallocate()
    }

    /// How many bytes of the slice [position, position + length) of whole batches can be
    /// served: every batch not yet known good is read and its CRC checked; the slice stops
    /// before the first bad one. An error when the first batch itself is bad (a read must never
    /// skip it and serve later offsets instead).
    fn verify_slice(&self, position: u64, length: u64, target: i64) -> SResult<u64> {
        let verified = self.verified_end.load(Ordering::Relaxed);
        let end = position + length;
        if end <= verified {
            return Ok(length);
        }
        // verified_end is always a batch boundary (the end of a walk from the start of the file,
        // of an append, or of a truncation), so walking on from it stays on boundaries.
        let mut at = position.max(verified);
        while at < end {
            let Some(header) = self.header_at(at)? else {
                break;
            };
            let loc = Located {
                position: at,
                header,
            };
            if !batch::check_stored(&self.read_batch(&loc)?) {
                break;
            }
            at += header.size() as u64;
        }
        if at > verified && position <= verified {
            self.verified_end.fetch_max(at, Ordering::Relaxed);
        }
        if at < end {
            if at == position {
                return Err(self.corrupt(at, target));
            }
            return Ok(at - position);
        }
        Ok(length)
    }

    fn corrupt(&self, position: u64, target: i64) -> StorageErr {
        StorageErr::new(
            CORRUPT_MESSAGE,
            format!(
                "{}: corrupt batch at byte {position} (segment size {}) while reading offset                  {target}: its header or CRC does not check",
                self.log_path.display(),
                self.size
            ),
        )
    }

    /// Rebuilds the indexes of an inactive segment from its batch headers (no CRC check), as
    /// roll would have left them.
    pub fn rebuild_inactive(&mut self) -> SResult<()> {
        self.reset_index_state()?;
        let mut found = Vec::new();
        self.scan_from(0, |loc| {
            found.push(*loc);
            Ok(true)
        })?;
        for loc in &found {
            self.index_batch(&loc.header, loc.position)?;
        }
        self.next_offset = found
            .last()
            .map(|l| l.header.last_offset() + 1)
            .unwrap_or(self.base_offset);
        self.seal()
    }

    fn reset_index_state(&mut self) -> SResult<()> {
        self.offset_index.reset()?;
        self.time_index.reset()?;
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp_so_far = -1;
        self.offset_of_max_timestamp_so_far = self.base_offset;
        Ok(())
    }

    /// Whether the indexes of an inactive segment found at open can be trusted.
    pub fn indexes_look_valid(&self, next_segment_base: i64) -> bool {
        if let Some((off, pos)) = self.offset_index.last_entry() {
            // A preallocated file from an unclean shutdown ends in zero entries (position 0 is
            // never indexed: an entry follows at least one batch).
            if pos == 0 || pos >= self.size || off >= next_segment_base {
                return false;
            }
        }
        if self.time_index.entries() > 0 {
            let (ts, off) = self.time_index.last_entry();
            if off >= next_segment_base
                || (ts == 0 && off == self.base_offset && self.time_index.entries() > 1)
            {
                return false;
            }
        }
        true
    }

    /// Inactive segment loaded from trusted indexes: the time index's last entry is what roll
    /// appended from maxTimestampSoFar.
    pub fn load_inactive_state(&mut self) -> SResult<()> {
        let (ts, off) = self.time_index.last_entry();
        self.max_timestamp_so_far = ts;
        self.offset_of_max_timestamp_so_far = off;
        self.compute_next_offset()
    }

    /// Roll / close: the final time index entry, then trim both files.
    pub fn seal(&mut self) -> SResult<()> {
        self.time_index.maybe_append(
            self.max_timestamp_so_far,
            self.offset_of_max_timestamp_so_far,
        )?;
        self.offset_index.trim()?;
        self.time_index.trim()?;
        Ok(())
    }

    /// An inactive segment becomes active again (truncation removed the ones after it).
    pub fn reactivate(&mut self) -> SResult<()> {
        self.offset_index.preallocate()?;
        self.time_index.preallocate()
    }

    /// First batch whose lastOffset >= target, from the offset index's hint.
    pub fn translate_offset(&self, target: i64) -> SResult<Option<Located>> {
        let (indexed_offset, start) = self.offset_index.lookup(target);
        let mut found = None;
        let mut first_last_offset = None;
        let mut walked_to = start;
        self.scan_from(start, |loc| {
            first_last_offset.get_or_insert(loc.header.last_offset());
            if loc.header.last_offset() >= target {
                found = Some(*loc);
                return Ok(false);
            }
            walked_to = loc.position + loc.header.size() as u64;
            Ok(true)
        })?;
        // An index entry is (lastOffset, position) of one whole batch: the scan must find that
        // batch at that position, or it started in the middle of a batch (and so would every
        // slice read from it).
        // No readable header there at all is damage on disk (a garbled header the entry points
        // at, or an entry into the middle of a batch): refused like any corrupt batch.
        if start > 0 && first_last_offset.is_none() {
            return Err(self.corrupt(start, target));
        }
        if start > 0 {
            assert!(
                first_last_offset == Some(indexed_offset),
                "segment {}: offset index entry ({indexed_offset}, {start}) is not a batch \
                 boundary: the header there reads lastOffset {first_last_offset:?} (segment size {})",
                self.base_offset,
                self.size
            );
        }
        // The walk stopped before the end of the data without finding the offset: a garbled
        // header (or a short read) lies in between. Going on to the next segment would skip
        // every offset behind it without a word.
        if found.is_none() && walked_to < self.size {
            return Err(self.corrupt(walked_to, target));
        }
        Ok(found)
    }

    /// Slice of whole batches from the one holding `target`; None when this segment has none.
    pub fn read(
        &self,
        target: i64,
        max_bytes: u64,
        max_offset: i64,
    ) -> SResult<Option<(u64, u64)>> {
        let Some(first) = self.translate_offset(target)? else {
            return Ok(None);
        };
        if first.header.base_offset >= max_offset {
            return Ok(Some((first.position, 0)));
        }
        let first_end = first.position + first.header.size() as u64;
        // The offset index vouches for whole batches up to one of its entries: an entry
        // (lastOffset, position) is a batch starting there, so every batch between the first one
        // and it fits max_bytes (the entry is within reach) and starts below max_offset (its
        // offsets are below the entry's lastOffset). Only the batches from the entry on are
        // walked, not every header before it: a 1 MiB fetch of 16 KiB batches reads a header or
        // two instead of 64. The walk checks that the entry's batch is where the entry says;
        // when it is not, every header is walked as without the index.
        let reach = first.position.saturating_add(max_bytes).min(self.size);
        let skipped = match self.offset_index.floor_within(reach, max_offset) {
            Some((last, position)) if position > first_end => {
                self.walk_slice(first.position, position, max_bytes, max_offset, Some(last))?
            }
            _ => None,
        };
        let total = match skipped {
            Some(total) => total,
            None => self
                .walk_slice(first.position, first_end, max_bytes, max_offset, None)?
                .unwrap_or(first_end - first.position),
        };
        assert!(
            first.position + total <= self.size,
            "segment {}: read slice [{}, {}) for offset {target} runs past the segment size {}",
            self.base_offset,
            first.position,
            first.position + total,
            self.size
        );
        debug_assert!(
            self.is_batch_boundary(first.position)?,
            "segment {}: read slice for offset {target} starts at byte {}, not a batch boundary",
            self.base_offset,
            first.position
        );
        let total = self.verify_slice(first.position, total, target)?;
        Ok(Some((first.position, total)))
    }

    /// Length of the slice from `start` that read() serves: the whole batches in [start, from)
    /// (known to fit and to start below `max_offset`), then those from `from` on while they fit
    /// `max_bytes` and start below `max_offset`. With `expect`, the batch at `from` must have that
    /// lastOffset (an offset index entry's): None when it does not (or no header reads there).
    fn walk_slice(
        &self,
        start: u64,
        from: u64,
        max_bytes: u64,
        max_offset: i64,
        expect: Option<i64>,
    ) -> SResult<Option<u64>> {
        let mut total = from - start;
        let mut confirmed = expect.is_none();
        self.scan_from(from, |loc| {
            if !confirmed {
                if loc.position != from || Some(loc.header.last_offset()) != expect {
                    return Ok(false);
                }
                confirmed = true;
            }
            let next = loc.header.size() as u64;
            if total + next > max_bytes || loc.header.base_offset >= max_offset {
                return Ok(false);
            }
            total += next;
            Ok(true)
        })?;
        Ok(confirmed.then_some(total))
    }

    /// Whether a batch starts at `position`, walking every header from the start of the file
    /// (O(batches): for debug assertions).
    fn is_batch_boundary(&self, position: u64) -> SResult<bool> {
        let mut reached = 0u64;
        self.scan_from(0, |loc| {
            reached = loc.position;
            Ok(loc.position < position)
        })?;
        Ok(reached == position)
    }

    /// First record with timestamp >= target and offset >= starting_offset, as (timestamp, offset).
    pub fn find_offset_by_timestamp(
        &self,
        target: i64,
        starting_offset: i64,
    ) -> SResult<Option<(i64, i64)>> {
        let hint = self.time_index.lookup(target).max(starting_offset);
        let (_, start) = self.offset_index.lookup(hint);
        let mut found = None;
        self.scan_from(start, |loc| {
            if loc.header.max_timestamp >= target && loc.header.last_offset() >= starting_offset {
                let bytes = self.read_batch(loc)?;
                found = find_record(&bytes, &loc.header, |ts, off| {
                    ts >= target && off >= starting_offset
                })?;
            }
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// Record holding the segment's max timestamp (ListOffsets -3, Kafka 3.7+), ignoring
    /// records below `log_start_offset`.
    pub fn max_timestamp_and_offset(&self, log_start_offset: i64) -> SResult<Option<(i64, i64)>> {
        let target = self.max_timestamp_so_far;
        let (_, start) = self
            .offset_index
            .lookup(self.offset_of_max_timestamp_so_far);
        let mut found = None;
        self.scan_from(start, |loc| {
            if loc.header.max_timestamp == target {
                let bytes = self.read_batch(loc)?;
                found = find_record(&bytes, &loc.header, |ts, off| {
                    ts == target && off >= log_start_offset
                })?;
            }
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// Removes batches at or after `target`; returns bytes truncated. The segment is active after.
    pub fn truncate_to(&mut self, target: i64) -> SResult<u64> {
        // A new identity: a cleaning round that read this segment must not swap it out, even
        // if appends bring it back to the same size.
        self.uid = NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let loc = self.translate_offset(target)?;
        let mut truncated = 0;
        if let Some(loc) = loc {
            // A batch straddling target is dropped whole: offsets inside a batch cannot be split.
            truncated = self.size - loc.position;
            self.log.file()?.set_len(loc.position)?;
            self.size = loc.position;
            self.verified_end.fetch_min(self.size, Ordering::Relaxed);
        }
        // The .log is cut: the truncation has happened. The indexes drop their entries in memory
        // first; an index file that cannot be opened to cut it now (out of fds, say) keeps its
        // entries past the live ones, which nothing reads (an active segment's indexes are
        // rebuilt at recovery, and the seal cuts the files to the live entries), and every kept
        // entry is written again by the next flush.
        if self.offset_index.truncate_to(target).is_err() {
            self.offset_index.rewrite_all();
        }
        if self.time_index.truncate_to(target).is_err() {
            self.time_index.rewrite_all();
        }
        if self.size == 0 {
            self.rolling_based_timestamp = None;
        }
        self.bytes_since_last_index_entry = 0;
        self.compute_next_offset()?;
        self.recompute_max_timestamp()?;
        Ok(truncated)
    }

    fn recompute_max_timestamp(&mut self) -> SResult<()> {
        let (mut ts, mut off) = self.time_index.last_entry();
        let (_, start) = self.offset_index.lookup(off);
        self.scan_from(start, |loc| {
            if loc.header.max_timestamp > ts {
                ts = loc.header.max_timestamp;
                off = loc.header.last_offset();
            }
            Ok(true)
        })?;
        self.max_timestamp_so_far = ts;
        self.offset_of_max_timestamp_so_far = off;
        Ok(())
    }

    /// Renames the three files from `<name><from>` to `<name><to>`, the .log's fd kept: the indexes
    /// first, the .log last, so a `.log.swap` found at open always has its indexes beside it.
    pub fn change_suffix(&mut self, from: &str, to: &str) -> SResult<()> {
        for p in [
            &mut self.index_path,
            &mut self.time_index_path,
            &mut self.log_path,
        ] {
            let name = p.to_string_lossy().into_owned();
            let stem = name.strip_suffix(from).unwrap_or(&name);
            let target = PathBuf::from(format!("{stem}{to}"));
            fs::rename(&*p, &target)?;
            *p = target;
        }
        self.sync_handle_paths();
        Ok(())
    }

    /// The .log handle and the index files are reopened by path: they follow every rename.
    fn sync_handle_paths(&mut self) {
        self.log.set_path(self.log_path.clone());
        self.offset_index.set_path(self.index_path.clone());
        self.time_index.set_path(self.time_index_path.clone());
    }

    /// Sets the .log file's mtime (a cleaned segment takes its last source segment's, as Kafka).
    pub fn set_last_modified(&self, time: std::time::SystemTime) -> SResult<()> {
        self.log.file()?.set_modified(time)?;
        Ok(())
    }

    /// The .log file's mtime.
    pub fn modified_time(&self) -> Option<std::time::SystemTime> {
        fs::metadata(&self.log_path).and_then(|m| m.modified()).ok()
    }

    /// First step of a delete (Kafka's `.deleted` suffix): the files leave the segment namespace
    /// at once, so a new segment may take the base offset, while every handle stays open for
    /// FileSlices still in flight (file.delete.delay.ms). `delete_files` finishes the job.
    pub fn rename_to_deleted(&mut self) -> SResult<()> {
        for p in [
            &mut self.log_path,
            &mut self.index_path,
            &mut self.time_index_path,
        ] {
            let mut name = p.as_os_str().to_owned();
            name.push(DELETED_SUFFIX);
            let target = PathBuf::from(name);
            match fs::rename(&*p, &target) {
                // Already gone (removed by hand) counts as renamed: the later delete must never
                // touch the original name, which a new segment may own by then.
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            *p = target;
        }
        self.sync_handle_paths();
        Ok(())
    }

    pub fn delete_files(self) -> SResult<()> {
        let paths = [
            self.log_path.clone(),
            self.index_path.clone(),
            self.time_index_path.clone(),
        ];
        // Close every handle before unlinking: Windows refuses to delete open files.
        self.log.close_now();
        drop(self);
        for p in paths {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Segment::scan_from over any handle of a .log of `size` bytes.
pub fn scan_file(
    file: &File,
    size: u64,
    mut position: u64,
    mut f: impl FnMut(&Located) -> SResult<bool>,
) -> SResult<()> {
    let mut buf = vec![0u8; SCAN_CHUNK];
    let mut buf_start = 0u64;
    let mut buf_len = 0usize;
    let mut last_size = 0usize;
    loop {
        if position + HEADER_SIZE as u64 > size {
            return Ok(());
        }
        let in_buf =
            position >= buf_start && position + HEADER_SIZE as u64 <= buf_start + buf_len as u64;
        if !in_buf {
            let chunk = if last_size >= SCAN_CHUNK / 4 {
                HEADER_SIZE
            } else {
                SCAN_CHUNK
            };
            let want = chunk.min((size - position) as usize);
            buf_len = read_at(file, &mut buf[..want], position)?;
            buf_start = position;
            if buf_len < HEADER_SIZE {
                return Ok(());
            }
        }
        let at = (position - buf_start) as usize;
        let header = BatchHeader::parse(&buf[at..at + HEADER_SIZE]);
        if (header.batch_length as i64 + LOG_OVERHEAD as i64) < HEADER_SIZE as i64
            || position + header.size() as u64 > size
        {
            return Ok(());
        }
        let loc = Located { position, header };
        if !f(&loc)? {
            return Ok(());
        }
        last_size = header.size();
        position += header.size() as u64;
    }
}

fn read_varint(b: &[u8], pos: &mut usize) -> SResult<i64> {
    let mut result: u64 = 0;
    let mut shift = 0;
    loop {
        if *pos >= b.len() || shift > 63 {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                "truncated varint in record",
            ));
        }
        let byte = b[*pos];
        *pos += 1;
        result |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Ok(((result >> 1) as i64) ^ -((result & 1) as i64))
}

/// The first record of a batch satisfying `pred(timestamp, offset)`, decompressing if needed.
pub fn find_record(
    batch_bytes: &[u8],
    h: &BatchHeader,
    pred: impl Fn(i64, i64) -> bool,
) -> SResult<Option<(i64, i64)>> {
    let body = &batch_bytes[HEADER_SIZE..];
    let decompressed;
    let records: &[u8] = if h.codec() == codec::NONE {
        body
    } else {
        decompressed = decompress_bounded(h.codec(), body, batch_bytes.len())?;
        &decompressed
    };
    let mut pos = 0usize;
    for _ in 0..h.records_count {
        let len = read_varint(records, &mut pos)?;
        let start = pos;
        if len < 0 || len as u64 > (records.len() - start) as u64 {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                "record length past the batch end",
            ));
        }
        pos += 1; // record attributes
        let ts_delta = read_varint(records, &mut pos)?;
        let off_delta = read_varint(records, &mut pos)?;
        let ts = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp + ts_delta
        };
        let off = h.base_offset + off_delta;
        if pred(ts, off) {
            return Ok(Some((ts, off)));
        }
        pos = start + len as usize;
    }
    Ok(None)
}

/// The records of a compressed batch, through the streaming decoders and never more than the
/// decompressed-size limit append validation applies (a stored batch passed it, unless the disk
/// changed under it: then CORRUPT_MESSAGE rather than unbounded memory).
fn decompress_bounded(codec_id: u8, body: &[u8], batch_size: usize) -> SResult<Vec<u8>> {
    use crate::codec::Fill;
    let limit = crate::records::max_decompressed_bytes(batch_size);
    let mut decoders = codec::Decoders::default();
    let Some(mut stream) = decoders.stream(codec_id, body, limit) else {
        return Err(StorageErr::new(
            UNSUPPORTED_COMPRESSION_TYPE,
            format!("compression codec {codec_id}"),
        ));
    };
    let mut out = Vec::new();
    let mut len = 0usize;
    loop {
        if out.len() - len < 64 * 1024 {
            out.resize(len + len.clamp(64 * 1024, 16 << 20), 0);
        }
        let n = stream
            .fill(&mut out[len..])
            .map_err(|e| StorageErr::new(CORRUPT_MESSAGE, format!("stored batch: {e}")))?;
        if n == 0 {
            break;
        }
        len += n;
        if len as u64 > limit {
            return Err(StorageErr::new(
                CORRUPT_MESSAGE,
                format!("stored batch: the records decompress to more than {limit} bytes"),
            ));
        }
    }
    out.truncate(len);
    Ok(out)
}

/// Where one segment's part of an offset-for-timestamp lookup starts: run on a pool thread
/// (decompressing batches of GiB-sized segments must not hold the JS thread), so it carries
/// what it reads rather than the segment.
pub struct TimestampScan {
    /// An open handle (the first candidate segment), or the path to open (the others, rarely
    /// needed: the first segment whose max timestamp reaches the target usually holds it).
    file: Option<Arc<File>>,
    path: PathBuf,
    size: u64,
    start: u64,
}

impl Segment {
    /// This segment's part of offset_for_timestamp(target) from `starting_offset`.
    pub fn timestamp_scan(
        &self,
        target: i64,
        starting_offset: i64,
        open_now: bool,
    ) -> SResult<TimestampScan> {
        let hint = self.time_index.lookup(target).max(starting_offset);
        let (_, start) = self.offset_index.lookup(hint);
        Ok(TimestampScan {
            file: if open_now {
                Some(self.log.file()?)
            } else {
                None
            },
            path: self.log_path.clone(),
            size: self.size,
            start,
        })
    }
}

/// First record with timestamp >= target and offset >= starting_offset over the scans in order.
pub fn run_timestamp_scans(
    scans: &[TimestampScan],
    target: i64,
    starting_offset: i64,
) -> SResult<Option<(i64, i64)>> {
    for scan in scans {
        let file = match &scan.file {
            Some(f) => f.clone(),
            None => match File::open(&scan.path) {
                Ok(f) => Arc::new(f),
                // Deleted (retention) or replaced meanwhile: its offsets are gone from the log.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            },
        };
        let mut found = None;
        scan_file(&file, scan.size, scan.start, |loc| {
            if loc.header.max_timestamp >= target && loc.header.last_offset() >= starting_offset {
                let mut bytes = vec![0u8; loc.header.size()];
                if read_at(&file, &mut bytes, loc.position)? < bytes.len() {
                    // Truncated meanwhile: nothing past here is in the log any more.
                    return Ok(false);
                }
                found = find_record(&bytes, &loc.header, |ts, off| {
                    ts >= target && off >= starting_offset
                })?;
            }
            Ok(found.is_none())
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}
