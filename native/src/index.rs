// native room: the sparse offset index (.index) and time index (.timeindex) of one segment.
// Entries live in memory (lookups are binary searches); new ones reach the file in one write at
// flush, roll or close (`write_pending`). The file stays preallocated while the segment is active and is
// trimmed on roll and close. No handle is kept, not even for the active segment: each operation
// that writes, resizes or fsyncs the file opens it by path and closes it before returning, so a
// partition costs one file descriptor (its active .log), as in Kafka, which mmaps its indexes.
use crate::error::SResult;
use crate::fileio::{read_at, write_all_at};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

pub const OFFSET_ENTRY_SIZE: usize = 8;
pub const TIME_ENTRY_SIZE: usize = 12;

fn open_rw(path: &Path) -> SResult<File> {
    Ok(OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?)
}

fn read_whole(file: &File) -> SResult<Vec<u8>> {
    let len = file.metadata()?.len() as usize;
    let mut buf = vec![0u8; len];
    let n = read_at(file, &mut buf, 0)?;
    buf.truncate(n);
    Ok(buf)
}

/// What was found in an index file at open, before deciding whether to trust it.
fn entries_len(bytes: &[u8], entry_size: usize) -> usize {
    bytes.len() / entry_size
}

/// An index file reached by path: opened for one operation, closed right after.
struct IndexFile {
    path: PathBuf,
    /// Written or resized since the last `take_dirty` (what a flush must fsync).
    dirty: bool,
}

impl IndexFile {
    /// Creates (or empties) the file and sizes it to `len` bytes of zeros, in one open.
    fn create(path: &Path, len: u64) -> SResult<IndexFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(len)?;
        Ok(IndexFile {
            path: path.to_path_buf(),
            dirty: true,
        })
    }

    /// Opens (creating when missing) and reads the whole file; the handle closes before return.
    fn load(path: &Path) -> SResult<(IndexFile, Vec<u8>)> {
        let bytes = read_whole(&open_rw(path)?)?;
        Ok((
            IndexFile {
                path: path.to_path_buf(),
                dirty: false,
            },
            bytes,
        ))
    }

    /// Runs `f` on the file opened by path. A file that is gone (its log directory renamed
    /// away by a topic deletion, or removed by hand) is left alone: it is not created again
    /// (a write past its start would leave zeros that read as entries), and recovery rebuilds
    /// a missing index.
    fn with(&mut self, f: impl FnOnce(&File) -> std::io::Result<()>) -> SResult<()> {
        let file = match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        self.dirty = true;
        f(&file)?;
        Ok(())
    }

    /// fsyncs the file's data through a descriptor of its own (fsync reaches the data whichever
    /// descriptor wrote it); gone counts as nothing to sync.
    fn sync(&mut self) -> SResult<()> {
        match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(file) => file.sync_all()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.dirty = false;
        Ok(())
    }
}

/// Entry bytes from `from`, then the file cut to `live` entries (zeroing stale ones) and, with
/// `prealloc`, grown to `prealloc` bytes again: one open for a write_pending + trim + preallocate.
fn write_and_size(
    file: &mut IndexFile,
    pending: &[u8],
    at: u64,
    live: u64,
    prealloc: Option<u64>,
) -> SResult<()> {
    file.with(|f| {
        if !pending.is_empty() {
            write_all_at(f, pending, at)?;
        }
        f.set_len(live)?;
        if let Some(len) = prealloc {
            f.set_len(len)?;
        }
        Ok(())
    })
}

pub struct OffsetIndex {
    file: IndexFile,
    base_offset: i64,
    max_entries: usize,
    /// (relative offset, position)
    entries: Vec<(i32, i32)>,
    /// Entries already in the file.
    written: usize,
}

impl OffsetIndex {
    /// Loads the entries of an existing file (created empty when missing); the bool tells
    /// whether its length is a whole number of entries.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_size: usize,
    ) -> SResult<(OffsetIndex, bool)> {
        let (file, bytes) = IndexFile::load(path)?;
        let aligned = bytes.len() % OFFSET_ENTRY_SIZE == 0;
        let entries = bytes
            .chunks_exact(OFFSET_ENTRY_SIZE)
            .map(|c| {
                (
                    i32::from_be_bytes(c[0..4].try_into().unwrap()),
                    i32::from_be_bytes(c[4..8].try_into().unwrap()),
                )
            })
            .collect();
        let written = entries_len(&bytes, OFFSET_ENTRY_SIZE);
        let idx = OffsetIndex {
            file,
            base_offset,
            max_entries: max_index_size / OFFSET_ENTRY_SIZE,
            entries,
            written,
        };
        Ok((idx, aligned))
    }

    /// A new, empty index for a new active segment: the file is emptied and preallocated.
    pub fn create(path: &Path, base_offset: i64, max_index_size: usize) -> SResult<OffsetIndex> {
        let max_entries = max_index_size / OFFSET_ENTRY_SIZE;
        Ok(OffsetIndex {
            file: IndexFile::create(path, (max_entries * OFFSET_ENTRY_SIZE) as u64)?,
            base_offset,
            max_entries,
            entries: Vec::new(),
            written: 0,
        })
    }

    pub fn entries(&self) -> usize {
        self.entries.len()
    }
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }
    pub fn last_entry(&self) -> Option<(i64, u64)> {
        self.entries
            .last()
            .map(|&(r, p)| (self.base_offset + r as i64, p as u32 as u64))
    }
    pub fn entry_list(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.entries
            .iter()
            .map(|&(r, p)| (self.base_offset + r as i64, p as u32 as u64))
    }

    /// Adds an entry when `offset` is past the last one; a full index takes no more entries.
    pub fn append(&mut self, offset: i64, position: u64) -> SResult<()> {
        if self.is_full() {
            return Ok(());
        }
        if let Some((last, last_position)) = self.last_entry() {
            if offset <= last {
                return Ok(());
            }
            // lookup() and truncate_to() binary-search the entries: positions must rise with
            // offsets, or a lookup would start scanning in the middle of a batch.
            assert!(
                position > last_position,
                "offset index (base {}): entry ({offset}, {position}) does not follow the last \
                 entry ({last}, {last_position}) in position",
                self.base_offset
            );
        }
        let rel = (offset - self.base_offset) as i32;
        self.entries.push((rel, position as i32));
        Ok(())
    }

    /// Whether the entries are strictly increasing in offset and position (O(entries): for
    /// debug assertions).
    fn is_sorted(&self) -> bool {
        self.entries
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && (w[0].1 as u32) < (w[1].1 as u32))
    }

    /// Bytes of the entries not in the file yet, and where they go.
    fn pending(&self) -> (Vec<u8>, u64) {
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * OFFSET_ENTRY_SIZE);
        for &(rel, pos) in &self.entries[self.written..] {
            buf.extend_from_slice(&rel.to_be_bytes());
            buf.extend_from_slice(&pos.to_be_bytes());
        }
        (buf, (self.written * OFFSET_ENTRY_SIZE) as u64)
    }

    /// Writes the entries added since the last call, in one write.
    pub fn write_pending(&mut self) -> SResult<()> {
        if self.written < self.entries.len() {
            let (buf, at) = self.pending();
            self.file.with(|f| write_all_at(f, &buf, at))?;
            self.written = self.entries.len();
        }
        Ok(())
    }

    /// Largest entry with offset <= target, as (offset, position); (baseOffset, 0) if none.
    pub fn lookup(&self, target: i64) -> (i64, u64) {
        debug_assert!(
            self.is_sorted(),
            "offset index (base {}) entries out of order",
            self.base_offset
        );
        let rel = target - self.base_offset;
        let n = self.entries.partition_point(|&(r, _)| (r as i64) <= rel);
        if n == 0 {
            (self.base_offset, 0)
        } else {
            let (r, p) = self.entries[n - 1];
            (self.base_offset + r as i64, p as u32 as u64)
        }
    }

    /// Largest entry with position <= `max_position` and offset < `below_offset`, as (offset,
    /// position); None if none. Entries rise in both, so one bound each way (fetch: how far a
    /// slice may reach without walking every batch header).
    pub fn floor_within(&self, max_position: u64, below_offset: i64) -> Option<(i64, u64)> {
        let by_position = self
            .entries
            .partition_point(|&(_, p)| (p as u32 as u64) <= max_position);
        let rel = below_offset.saturating_sub(self.base_offset);
        let by_offset = self.entries.partition_point(|&(r, _)| (r as i64) < rel);
        let n = by_position.min(by_offset);
        (n > 0).then(|| {
            let (r, p) = self.entries[n - 1];
            (self.base_offset + r as i64, p as u32 as u64)
        })
    }

    /// Drops entries with offset >= target.
    pub fn truncate_to(&mut self, target: i64) -> SResult<()> {
        debug_assert!(
            self.is_sorted(),
            "offset index (base {}) entries out of order before truncating to {target}",
            self.base_offset
        );
        let rel = target - self.base_offset;
        let keep = self.entries.partition_point(|&(r, _)| (r as i64) < rel);
        self.entries.truncate(keep);
        self.written = self.written.min(keep);
        self.preallocate()
    }
    /// Every entry is written again by the next write (a truncation could not cut the file).
    pub fn rewrite_all(&mut self) {
        self.written = 0;
    }

    pub fn reset(&mut self) -> SResult<()> {
        self.entries.clear();
        self.written = 0;
        self.file.with(|f| f.set_len(0))
    }
    /// Writes pending entries and cuts the file to the live ones (roll, close).
    pub fn trim(&mut self) -> SResult<()> {
        self.resize(false)
    }
    /// Writes pending entries, zeroes the tail past them (so stale entries never survive a
    /// shrink+grow) and grows the file to its maximum size again (an active segment's).
    pub fn preallocate(&mut self) -> SResult<()> {
        self.resize(true)
    }
    fn resize(&mut self, prealloc: bool) -> SResult<()> {
        let (buf, at) = self.pending();
        let live = (self.entries.len() * OFFSET_ENTRY_SIZE) as u64;
        let max = (self.max_entries * OFFSET_ENTRY_SIZE) as u64;
        write_and_size(&mut self.file, &buf, at, live, prealloc.then_some(max))?;
        self.written = self.entries.len();
        Ok(())
    }
    /// Whether the file was written or resized since the last call (a flush fsyncs it then).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.file.dirty)
    }
    /// fsyncs the file (opened by path for it).
    pub fn sync(&mut self) -> SResult<()> {
        self.file.sync()
    }
    /// The file was renamed: later operations open it under the new name.
    pub fn set_path(&mut self, path: PathBuf) {
        self.file.path = path;
    }
}

pub struct TimeIndex {
    file: IndexFile,
    base_offset: i64,
    max_entries: usize,
    /// (timestamp, relative offset)
    entries: Vec<(i64, i32)>,
    /// Entries already in the file.
    written: usize,
}

impl TimeIndex {
    /// Loads the entries of an existing file (created empty when missing); the bool tells
    /// whether its length is a whole number of entries.
    pub fn open(
        path: &Path,
        base_offset: i64,
        max_index_size: usize,
    ) -> SResult<(TimeIndex, bool)> {
        let (file, bytes) = IndexFile::load(path)?;
        let aligned = bytes.len() % TIME_ENTRY_SIZE == 0;
        let entries = bytes
            .chunks_exact(TIME_ENTRY_SIZE)
            .map(|c| {
                (
                    i64::from_be_bytes(c[0..8].try_into().unwrap()),
                    i32::from_be_bytes(c[8..12].try_into().unwrap()),
                )
            })
            .collect();
        let written = entries_len(&bytes, TIME_ENTRY_SIZE);
        let idx = TimeIndex {
            file,
            base_offset,
            max_entries: max_index_size / TIME_ENTRY_SIZE,
            entries,
            written,
        };
        Ok((idx, aligned))
    }

    /// A new, empty index for a new active segment: the file is emptied and preallocated.
    pub fn create(path: &Path, base_offset: i64, max_index_size: usize) -> SResult<TimeIndex> {
        let max_entries = max_index_size / TIME_ENTRY_SIZE;
        Ok(TimeIndex {
            file: IndexFile::create(path, (max_entries * TIME_ENTRY_SIZE) as u64)?,
            base_offset,
            max_entries,
            entries: Vec::new(),
            written: 0,
        })
    }

    pub fn entries(&self) -> usize {
        self.entries.len()
    }
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }
    /// Kafka's lastEntry: (-1, baseOffset) when empty.
    pub fn last_entry(&self) -> (i64, i64) {
        match self.entries.last() {
            Some(&(ts, r)) => (ts, self.base_offset + r as i64),
            None => (-1, self.base_offset),
        }
    }
    pub fn entry_list(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.entries
            .iter()
            .map(|&(t, r)| (t, self.base_offset + r as i64))
    }

    /// Appends only when the timestamp grows and the offset does not go back.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> SResult<()> {
        if self.is_full() {
            return Ok(());
        }
        let (last_ts, last_off) = self.last_entry();
        if timestamp <= last_ts || offset < last_off {
            return Ok(());
        }
        let rel = (offset - self.base_offset) as i32;
        self.entries.push((timestamp, rel));
        Ok(())
    }

    /// Whether timestamps strictly increase and offsets never go back (O(entries): for debug
    /// assertions).
    fn is_sorted(&self) -> bool {
        self.entries
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
    }

    /// Bytes of the entries not in the file yet, and where they go.
    fn pending(&self) -> (Vec<u8>, u64) {
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * TIME_ENTRY_SIZE);
        for &(ts, rel) in &self.entries[self.written..] {
            buf.extend_from_slice(&ts.to_be_bytes());
            buf.extend_from_slice(&rel.to_be_bytes());
        }
        (buf, (self.written * TIME_ENTRY_SIZE) as u64)
    }

    /// Writes the entries added since the last call, in one write.
    pub fn write_pending(&mut self) -> SResult<()> {
        if self.written < self.entries.len() {
            let (buf, at) = self.pending();
            self.file.with(|f| write_all_at(f, &buf, at))?;
            self.written = self.entries.len();
        }
        Ok(())
    }

    /// Offset of the largest entry with timestamp <= target; baseOffset if none.
    pub fn lookup(&self, target: i64) -> i64 {
        debug_assert!(
            self.is_sorted(),
            "time index (base {}) entries out of order",
            self.base_offset
        );
        let n = self.entries.partition_point(|&(t, _)| t <= target);
        if n == 0 {
            self.base_offset
        } else {
            self.base_offset + self.entries[n - 1].1 as i64
        }
    }

    /// Drops entries with offset >= target.
    pub fn truncate_to(&mut self, target: i64) -> SResult<()> {
        debug_assert!(
            self.is_sorted(),
            "time index (base {}) entries out of order before truncating to {target}",
            self.base_offset
        );
        let rel = target - self.base_offset;
        let keep = self.entries.partition_point(|&(_, r)| (r as i64) < rel);
        self.entries.truncate(keep);
        self.written = self.written.min(keep);
        self.preallocate()
    }
    /// Every entry is written again by the next write (a truncation could not cut the file).
    pub fn rewrite_all(&mut self) {
        self.written = 0;
    }

    pub fn reset(&mut self) -> SResult<()> {
        self.entries.clear();
        self.written = 0;
        self.file.with(|f| f.set_len(0))
    }
    /// Writes pending entries and cuts the file to the live ones (roll, close).
    pub fn trim(&mut self) -> SResult<()> {
        self.resize(false)
    }
    /// Writes pending entries, zeroes the tail past them and grows the file to its maximum
    /// size again (an active segment's).
    pub fn preallocate(&mut self) -> SResult<()> {
        self.resize(true)
    }
    fn resize(&mut self, prealloc: bool) -> SResult<()> {
        let (buf, at) = self.pending();
        let live = (self.entries.len() * TIME_ENTRY_SIZE) as u64;
        let max = (self.max_entries * TIME_ENTRY_SIZE) as u64;
        write_and_size(&mut self.file, &buf, at, live, prealloc.then_some(max))?;
        self.written = self.entries.len();
        Ok(())
    }
    /// Whether the file was written or resized since the last call (a flush fsyncs it then).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.file.dirty)
    }
    /// fsyncs the file (opened by path for it).
    pub fn sync(&mut self) -> SResult<()> {
        self.file.sync()
    }
    /// The file was renamed: later operations open it under the new name.
    pub fn set_path(&mut self, path: PathBuf) {
        self.file.path = path;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> crate::testutil::TempDir {
        crate::testutil::TempDir::new("spool-index", name)
    }

    #[test]
    fn offset_index_lookup_finds_largest_entry_at_or_below() {
        let d = tmp("oi");
        let (mut idx, _) = OffsetIndex::open(&d.join("a.index"), 100, 1024).unwrap();
        idx.preallocate().unwrap();
        assert_eq!(idx.lookup(150), (100, 0));
        idx.append(110, 4000).unwrap();
        idx.append(120, 8000).unwrap();
        idx.append(120, 9000).unwrap(); // not past the last entry: ignored
        idx.append(130, 12000).unwrap();
        assert_eq!(idx.entries(), 3);
        assert_eq!(idx.lookup(105), (100, 0));
        assert_eq!(idx.lookup(110), (110, 4000));
        assert_eq!(idx.lookup(125), (120, 8000));
        assert_eq!(idx.lookup(1_000_000), (130, 12000));
        assert_eq!(std::fs::metadata(d.join("a.index")).unwrap().len(), 1024);
        idx.trim().unwrap();
        assert_eq!(std::fs::metadata(d.join("a.index")).unwrap().len(), 24);
        let (re, aligned) = OffsetIndex::open(&d.join("a.index"), 100, 1024).unwrap();
        assert!(aligned);
        assert_eq!(re.lookup(125), (120, 8000));
        let bytes = std::fs::read(d.join("a.index")).unwrap();
        assert_eq!(&bytes[0..8], &[0, 0, 0, 10, 0, 0, 0x0f, 0xa0]);
        idx.truncate_to(120).unwrap();
        assert_eq!(idx.last_entry(), Some((110, 4000)));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn offset_index_stops_when_full() {
        let d = tmp("full");
        let (mut idx, _) = OffsetIndex::open(&d.join("b.index"), 0, 20).unwrap();
        for i in 1..10 {
            idx.append(i, i as u64 * 100).unwrap();
        }
        assert_eq!(idx.entries(), 2);
        assert!(idx.is_full());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    #[should_panic(expected = "entry (20, 100) does not follow the last entry (10, 400)")]
    fn offset_index_refuses_a_position_that_goes_back() {
        let d = tmp("backwards");
        let (mut idx, _) = OffsetIndex::open(&d.join("c.index"), 0, 1024).unwrap();
        idx.append(10, 400).unwrap();
        idx.append(20, 100).unwrap();
    }

    #[test]
    fn time_index_maybe_append_and_lookup() {
        let d = tmp("ti");
        let (mut idx, _) = TimeIndex::open(&d.join("a.timeindex"), 50, 1200).unwrap();
        idx.preallocate().unwrap();
        assert_eq!(
            std::fs::metadata(d.join("a.timeindex")).unwrap().len(),
            1200
        );
        assert_eq!(idx.last_entry(), (-1, 50));
        idx.maybe_append(1000, 55).unwrap();
        idx.maybe_append(1000, 60).unwrap(); // same timestamp: ignored
        idx.maybe_append(900, 61).unwrap(); // older timestamp: ignored
        idx.maybe_append(2000, 54).unwrap(); // offset goes back: ignored
        idx.maybe_append(3000, 70).unwrap();
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.lookup(999), 50);
        assert_eq!(idx.lookup(1000), 55);
        assert_eq!(idx.lookup(2999), 55);
        assert_eq!(idx.lookup(5000), 70);
        idx.trim().unwrap();
        let bytes = std::fs::read(d.join("a.timeindex")).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[0..12], &[0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5]);
        idx.truncate_to(70).unwrap();
        assert_eq!(idx.last_entry(), (1000, 55));
        std::fs::remove_dir_all(d).unwrap();
    }
}
