// native room: one partition's log — segments, roll, read, offset-for-timestamp, truncation,
// retention deletes, recovery and flush (docs/storage-format.md).
use crate::batch::{self, BatchHeader};
use crate::cleaner::{CleanJob, CleanOptions, CleanStats, Prepared, SourceSegment};
use crate::error::*;
use crate::records::{RecordRules, TimestampRange};
use crate::segment::{Segment, SegmentConfig, CLEANED_SUFFIX, SWAP_SUFFIX};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A FileSlice's lease on a segment's .log handle lasts until JS releases it; one still held
/// after file.delete.delay.ms, and never less than this, is reported as a leak (fileio.rs).
const MIN_LEASE_MS: i64 = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    pub segment_bytes: i64,
    pub segment_ms: i64,
    pub index_interval_bytes: i64,
    pub max_index_size: i64,
    pub max_message_bytes: i64,
    pub log_append_time: bool,
    /// file.delete.delay.ms: how long a deleted segment's handles stay open (and its files stay
    /// as `*.deleted`) for FileSlices handed out before the delete.
    pub file_delete_delay_ms: i64,
    /// cleanup.policy contains compact: a record without a key is refused.
    pub compacted: bool,
    /// message.timestamp.before.max.ms / after.max.ms, checked per record on leader appends of a
    /// CreateTime log; None is unlimited.
    pub timestamp_before_max_ms: Option<i64>,
    pub timestamp_after_max_ms: Option<i64>,
}

impl LogConfig {
    /// What a leader append's records must satisfy at `now`.
    fn leader_rules(&self, now: i64) -> RecordRules {
        let timestamps = match (
            self.log_append_time,
            self.timestamp_before_max_ms,
            self.timestamp_after_max_ms,
        ) {
            (false, before, after) if before.is_some() || after.is_some() => Some(TimestampRange {
                now,
                before_max_ms: before.unwrap_or(i64::MAX),
                after_max_ms: after.unwrap_or(i64::MAX),
            }),
            _ => None,
        };
        RecordRules {
            compacted: self.compacted,
            timestamps,
            follower: false,
        }
    }

    fn segment_config(&self) -> SegmentConfig {
        SegmentConfig {
            index_interval_bytes: self.index_interval_bytes.max(0) as u64,
            max_index_size: self.max_index_size.max(0) as usize,
            lease_ms: self.file_delete_delay_ms.max(MIN_LEASE_MS) as u64,
        }
    }
}

#[derive(Debug)]
pub struct AppendSummary {
    pub batches: Vec<BatchHeader>,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub log_append_time: i64,
    pub log_end_offset: i64,
}

pub struct SegmentSummary {
    pub base_offset: i64,
    pub size_in_bytes: i64,
    pub max_timestamp: i64,
    pub last_modified_ms: i64,
}

/// Files to fsync, gathered on the JS thread so the fsyncs themselves run on a pool thread
/// without holding the log.
pub struct FlushJob {
    files: Vec<File>,
    /// Files of segments sealed since the last flush, and the active segment's index files
    /// written since: no handle of theirs is open, so they are opened here (fsync reaches the
    /// file's data whichever descriptor asks). Gone (renamed `.deleted`, replaced by a cleaned
    /// segment, the log's directory renamed by a topic deletion) means nothing is left to make
    /// durable.
    paths: Vec<PathBuf>,
    dir: Option<PathBuf>,
    /// Where a failed run leaves its paths (and whether the directory was due) for the log's
    /// next flush: a failed fsync must not forget what still needs one.
    retry: Arc<Mutex<FlushRetry>>,
}

/// What failed flushes left to fsync (see FlushJob::retry).
#[derive(Default)]
struct FlushRetry {
    paths: Vec<PathBuf>,
    dir: bool,
}

impl FlushJob {
    pub fn run(self) -> SResult<()> {
        let result = self.sync();
        if result.is_err() {
            let mut retry = self.retry.lock().unwrap_or_else(|e| e.into_inner());
            retry.paths.extend(self.paths);
            retry.dir |= self.dir.is_some();
        }
        result
    }

    fn sync(&self) -> SResult<()> {
        for f in &self.files {
            f.sync_data()?;
        }
        for p in &self.paths {
            match fs::OpenOptions::new().read(true).write(true).open(p) {
                Ok(f) => f.sync_data()?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        #[cfg(unix)]
        if let Some(dir) = &self.dir {
            match File::open(dir) {
                Ok(d) => d.sync_all()?,
                // Renamed away (a deleted topic's log, closed after file.delete.delay.ms): no
                // directory entry of it is worth making durable.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        #[cfg(not(unix))]
        let _ = &self.dir;
        Ok(())
    }
}

/// An offset-for-timestamp lookup gathered on the JS thread, run on a pool thread.
pub struct TimestampJob {
    scans: Vec<crate::segment::TimestampScan>,
    timestamp: i64,
    starting_offset: i64,
}

impl TimestampJob {
    pub fn run(&self) -> SResult<Option<(i64, i64)>> {
        crate::segment::run_timestamp_scans(&self.scans, self.timestamp, self.starting_offset)
    }
}

/// How much of a log open() checks and may cut (OpenOptions.recoveryPoint / hadCleanShutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No recovery point known: the active segment is CRC-checked and cut at its first bad batch.
    ActiveOnly,
    /// After an unclean shutdown: every segment from the one holding this offset (everything
    /// below it was flushed) is CRC-checked; the log is cut at the first bad batch and the
    /// segments after it are deleted.
    From(i64),
    /// After a clean shutdown: nothing is cut; the active segment's indexes are rebuilt.
    Clean,
}

/// A segment removed from the log whose files are `*.deleted` and whose handles stay open until
/// `until`: a Fetch may still be sending from a FileSlice of it.
struct DoomedSegment {
    until: Instant,
    segment: Segment,
}

pub struct Log {
    pub dir: PathBuf,
    cfg: LogConfig,
    segments: Vec<Segment>,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub recovered_bytes_truncated: u64,
    /// Batches in those bytes (see Segment::recover), whole segments deleted included.
    pub recovered_batches_truncated: u64,
    /// Files of segments sealed since the last flush: their last writes still need an fsync.
    unflushed: Vec<PathBuf>,
    dir_dirty: bool,
    doomed: Vec<DoomedSegment>,
    /// Left by failed flushes for the next one (FlushJob::retry).
    flush_retry: Arc<Mutex<FlushRetry>>,
    /// The topic was deleted and its directory renamed away (mark_deleted): the paths held here
    /// may belong to a recreated topic of the same name, so nothing is done by path any more.
    detached: bool,
}

/// Offset after the last batch of a .log file (its base offset when empty or unreadable).
fn next_offset_of(path: &Path, base: i64) -> SResult<i64> {
    let f = File::open(path)?;
    let size = f.metadata()?.len();
    let mut next = base;
    let mut position = 0u64;
    let mut header = [0u8; batch::HEADER_SIZE];
    while position + batch::HEADER_SIZE as u64 <= size {
        if crate::fileio::read_at(&f, &mut header, position)? < batch::HEADER_SIZE {
            break;
        }
        let h = BatchHeader::parse(&header);
        if h.size() < batch::HEADER_SIZE || position + h.size() as u64 > size {
            break;
        }
        next = h.last_offset() + 1;
        position += h.size() as u64;
    }
    Ok(next)
}

/// Open-time recovery of an interrupted cleaning swap (Kafka's LogLoader): `*.cleaned` files
/// are dropped (by the caller); each `<base>.log.swap` was fsynced before it was renamed, so the
/// swap is completed: segments with base offsets in [smallest swap base, largest swap next
/// offset) go, and the `.swap` files take their final names. A swap segment whose index files
/// did not both reach `.swap` gets its indexes rebuilt by open.
fn complete_swaps(dir: &Path) -> SResult<()> {
    let mut swap_logs = Vec::new();
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(base) = name
            .strip_suffix(SWAP_SUFFIX)
            .and_then(|n| parse_base_offset(n, ".log"))
        {
            swap_logs.push(base);
        }
        names.push(name);
    }
    if swap_logs.is_empty() {
        return Ok(());
    }
    let mut covered = Vec::with_capacity(swap_logs.len());
    for &base in &swap_logs {
        let path = dir.join(crate::segment::file_name(
            base,
            &format!(".log{SWAP_SUFFIX}"),
        ));
        covered.push((base, next_offset_of(&path, base)?.max(base + 1)));
    }
    let is_covered = |b: i64| covered.iter().any(|&(lo, hi)| b >= lo && b < hi);
    for name in &names {
        let base = parse_base_offset(name, ".log")
            .or_else(|| parse_base_offset(name, ".index"))
            .or_else(|| parse_base_offset(name, ".timeindex"));
        if base.is_some_and(is_covered) {
            match fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
    }
    for name in &names {
        let Some(stem) = name.strip_suffix(SWAP_SUFFIX) else {
            continue;
        };
        let base = parse_base_offset(stem, ".log")
            .or_else(|| parse_base_offset(stem, ".index"))
            .or_else(|| parse_base_offset(stem, ".timeindex"));
        if base.is_some_and(|b| swap_logs.contains(&b)) {
            fs::rename(dir.join(name), dir.join(stem))?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> SResult<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// What one committed cleaning round did.
pub struct CleanSummary {
    pub cleaned_up_to: i64,
    pub abandoned: bool,
    pub stats: CleanStats,
    /// (new base offset, replaced base offsets, new size).
    pub groups: Vec<(i64, Vec<i64>, u64)>,
}

fn parse_base_offset(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

impl Log {
    /// Opens or creates a partition directory and recovers its active segment.
    pub fn open(dir: &Path, cfg: LogConfig, log_start_offset: Option<i64>) -> SResult<Log> {
        Self::open_with(dir, cfg, log_start_offset, Recovery::ActiveOnly)
    }

    /// Opens or creates a partition directory, recovering it as `recovery` says.
    pub fn open_with(
        dir: &Path,
        cfg: LogConfig,
        log_start_offset: Option<i64>,
        recovery: Recovery,
    ) -> SResult<Log> {
        fs::create_dir_all(dir)?;
        let seg_cfg = cfg.segment_config();
        let mut bases = Vec::new();
        let mut index_files = Vec::new();
        complete_swaps(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(CLEANED_SUFFIX)
                || name.ends_with(SWAP_SUFFIX)
                || name.ends_with(".deleted")
            {
                fs::remove_file(entry.path())?;
            } else if let Some(base) = parse_base_offset(&name, ".log") {
                bases.push(base);
            } else if let Some(base) = parse_base_offset(&name, ".index")
                .or_else(|| parse_base_offset(&name, ".timeindex"))
            {
                index_files.push((base, entry.path()));
            }
        }
        bases.sort_unstable();
        // Index files without their .log are leftovers of a deletion cut short.
        for (base, path) in index_files {
            if bases.binary_search(&base).is_err() {
                fs::remove_file(path)?;
            }
        }
        let mut segments = Vec::with_capacity(bases.len().max(1));
        let mut recovered = 0;
        let mut recovered_batches = 0;
        if bases.is_empty() {
            let (seg, _, _) =
                Segment::open(dir, log_start_offset.unwrap_or(0).max(0), seg_cfg, true)?;
            segments.push(seg);
        } else {
            // Index of the first segment whose batches are CRC-checked (None: none is).
            let check_from = match recovery {
                Recovery::Clean => None,
                Recovery::ActiveOnly => Some(bases.len() - 1),
                Recovery::From(point) => {
                    Some(bases.partition_point(|&b| b <= point).saturating_sub(1))
                }
            };
            let mut cut = false;
            for (i, &base) in bases.iter().enumerate() {
                let last = i + 1 == bases.len();
                let (mut seg, indexes_existed, aligned) = Segment::open(dir, base, seg_cfg, false)?;
                if cut {
                    // After the first bad batch nothing is kept (Kafka deletes the segments
                    // after the one it truncates).
                    let mut batches = 0u64;
                    seg.scan_from(0, |_| {
                        batches += 1;
                        Ok(true)
                    })?;
                    recovered += seg.size;
                    recovered_batches += batches.max(u64::from(seg.size > 0));
                    seg.delete_files()?;
                    continue;
                }
                if check_from.is_some_and(|k| i >= k) {
                    let (bytes, batches) =
                        seg.recover(bases.get(i + 1).copied().unwrap_or(i64::MAX))?;
                    recovered += bytes;
                    recovered_batches += batches;
                    if bytes > 0 {
                        cut = true;
                    } else if !last {
                        seg.seal()?;
                    }
                } else if last {
                    seg.rebuild_active_trusted()?;
                } else if !indexes_existed || !aligned || !seg.indexes_look_valid(bases[i + 1]) {
                    seg.rebuild_inactive()?;
                } else {
                    seg.load_inactive_state()?;
                }
                // A sealed segment lets its handles go at once, so opening a log never holds a
                // descriptor per segment (a segment cut here stays active: it ends the log).
                if !last && !cut {
                    seg.release_files();
                }
                segments.push(seg);
            }
        }
        // Sealed segments keep no handle open: their indexes are in memory, their .log opens on
        // the first read (so a restart never needs a descriptor per segment).
        let sealed = segments.len() - 1;
        for seg in &mut segments[..sealed] {
            seg.release_files();
        }
        let log_end_offset = segments.last().unwrap().next_offset();
        let first_base = segments[0].base_offset;
        let log_start_offset = log_start_offset
            .unwrap_or(first_base)
            .max(first_base)
            .min(log_end_offset);
        Ok(Log {
            dir: dir.to_path_buf(),
            cfg,
            segments,
            log_start_offset,
            log_end_offset,
            recovered_bytes_truncated: recovered,
            recovered_batches_truncated: recovered_batches,
            unflushed: Vec::new(),
            dir_dirty: true,
            doomed: Vec::new(),
            flush_retry: Arc::default(),
            detached: false,
        })
    }

    fn active(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a log always has an active segment")
    }

    /// Leader append: assigns offsets, leader epoch and (LogAppendTime) timestamps in place.
    pub fn append(
        &mut self,
        buf: &mut [u8],
        now: i64,
        leader_epoch: i32,
    ) -> SResult<AppendSummary> {
        self.check_attached()?;
        let refs =
            batch::validate_batches(buf, self.cfg.max_message_bytes, &self.cfg.leader_rules(now))?;
        let count: i64 = refs
            .iter()
            .map(|r| r.header.last_offset_delta as i64 + 1)
            .sum();
        let last_offset = self.log_end_offset + count - 1;
        self.maybe_roll(buf.len() as u64, now, last_offset, self.log_end_offset)?;
        let log_append_time = if self.cfg.log_append_time {
            Some(now)
        } else {
            None
        };
        let mut next = self.log_end_offset;
        let mut written = Vec::with_capacity(refs.len());
        for r in &refs {
            let end = r.position + r.header.size();
            let h = batch::assign(
                &mut buf[r.position..end],
                next,
                leader_epoch,
                log_append_time,
            );
            next = h.last_offset() + 1;
            written.push((r.position, h));
        }
        self.write(buf, written, log_append_time.unwrap_or(-1))
    }

    /// Follower append: batches keep their offsets, epochs and timestamps. Records are checked
    /// for being well formed only: the leader applied the topic's rules when it took them.
    pub fn append_as_follower(&mut self, buf: &[u8], now: i64) -> SResult<AppendSummary> {
        self.check_attached()?;
        let rules = RecordRules {
            follower: true,
            ..RecordRules::default()
        };
        let refs = batch::validate_batches(buf, self.cfg.max_message_bytes, &rules)?;
        // Kafka refuses only a first offset below the log end: a compacted leader's log has
        // gaps, so the first batch may start past it and batches may leave gaps between them,
        // but offsets must keep rising.
        let mut expected = self.log_end_offset;
        for r in &refs {
            let base = r.header.base_offset;
            if base < expected {
                let code = if r.position == 0 {
                    INVALID_RECORD
                } else {
                    CORRUPT_MESSAGE
                };
                return Err(StorageErr::new(
                    code,
                    format!(
                        "{}: follower batch at offset {base}, expected at least {expected}",
                        self.dir.display()
                    ),
                ));
            }
            expected = r.header.last_offset() + 1;
        }
        let first = refs[0].header.base_offset;
        self.maybe_roll(buf.len() as u64, now, expected - 1, first)?;
        let written = refs.iter().map(|r| (r.position, r.header)).collect();
        self.write(buf, written, -1)
    }

    fn write(
        &mut self,
        buf: &[u8],
        written: Vec<(usize, BatchHeader)>,
        log_append_time: i64,
    ) -> SResult<AppendSummary> {
        let log_end_offset = self.log_end_offset;
        let active_next = self.active().next_offset();
        // A follower roll may start the new (empty) segment past the log end, at the first
        // batch of a compacted leader's data.
        let active_empty = self.active().size == 0;
        assert!(
            active_next == log_end_offset || (active_empty && active_next > log_end_offset),
            "{}: log end offset {log_end_offset} differs from the active segment's next offset \
             {active_next}",
            self.dir.display()
        );
        // Offsets only ever go up: each batch starts past the last offset already in the log
        // (or in this append), and ends at or after its own base offset.
        let mut last_assigned = log_end_offset - 1;
        for (_, h) in &written {
            assert!(
                h.base_offset > last_assigned && h.last_offset() >= h.base_offset,
                "{}: batch [{}, {}] does not come after offset {last_assigned} (log end offset \
                 {log_end_offset})",
                self.dir.display(),
                h.base_offset,
                h.last_offset()
            );
            last_assigned = h.last_offset();
        }
        self.active().append(buf, &written)?;
        let first_offset = written[0].1.base_offset;
        let last_offset = written[written.len() - 1].1.last_offset();
        self.log_end_offset = last_offset + 1;
        let max_timestamp = written
            .iter()
            .map(|(_, h)| h.max_timestamp)
            .max()
            .unwrap_or(-1);
        Ok(AppendSummary {
            batches: written.into_iter().map(|(_, h)| h).collect(),
            first_offset,
            last_offset,
            max_timestamp,
            log_append_time,
            log_end_offset: self.log_end_offset,
        })
    }

    /// Rolls when the append would not fit; the new segment starts at `first_offset` (the log
    /// end offset, or a follower's first batch, which a compacted leader may place past it).
    fn maybe_roll(
        &mut self,
        incoming: u64,
        now: i64,
        last_offset: i64,
        first_offset: i64,
    ) -> SResult<()> {
        let cfg = self.cfg;
        let seg = self.active();
        if seg.size == 0 {
            // A follower's batch far past the log end (a compacted leader's gap) may not fit a
            // 32-bit offset relative to the empty active segment: that segment is replaced by
            // one at the batch's offset (Kafka rolls, deleting the empty segment).
            if last_offset - seg.base_offset > i32::MAX as i64 && first_offset > seg.base_offset {
                let empty = self
                    .segments
                    .pop()
                    .expect("a log always has an active segment");
                self.schedule_delete(empty)?;
                let (fresh, _, _) =
                    Segment::open(&self.dir, first_offset, cfg.segment_config(), true)?;
                self.segments.push(fresh);
                self.dir_dirty = true;
            }
            return Ok(());
        }
        let too_big = seg.size + incoming > cfg.segment_bytes.max(0) as u64;
        let too_old = match seg.rolling_based_timestamp()? {
            Some(ts) => now - ts > cfg.segment_ms,
            None => false,
        };
        let index_full = seg.offset_index.is_full() || seg.time_index.is_full();
        let offset_overflow = last_offset - seg.base_offset > i32::MAX as i64;
        if too_big || too_old || index_full || offset_overflow {
            self.roll_at(first_offset.max(self.log_end_offset))?;
        }
        Ok(())
    }

    fn roll_at(&mut self, base_offset: i64) -> SResult<()> {
        let seg = self.active();
        // Segments stay sorted by base offset (read() binary-searches them) and never overlap.
        assert!(
            base_offset > seg.base_offset && base_offset >= seg.next_offset(),
            "roll at offset {base_offset} below the active segment (base {}, next offset {})",
            seg.base_offset,
            seg.next_offset()
        );
        // The new segment first (its files opened by path: out of fds, say): a failure leaves
        // the log as it was, its active segment still active.
        let (fresh, _, _) = Segment::open(&self.dir, base_offset, self.cfg.segment_config(), true)?;
        let seg = self.active();
        if let Err(e) = seg.seal() {
            let _ = fresh.delete_files();
            return Err(e);
        }
        let paths = seg.file_paths();
        seg.release_files();
        self.unflushed.extend(paths);
        self.segments.push(fresh);
        self.dir_dirty = true;
        Ok(())
    }

    /// Starts a new segment at the log end offset unless the active one is empty.
    pub fn roll(&mut self) -> SResult<()> {
        self.check_attached()?;
        if self.active().size > 0 {
            self.roll_at(self.log_end_offset)?;
        }
        Ok(())
    }

    /// (fd, position, length, lease) of whole batches starting at the one holding `offset`. The
    /// fd stays open until `release(lease)` (fileio::release_lease), however long; lease 0
    /// (an empty slice) holds nothing.
    pub fn read(
        &mut self,
        offset: i64,
        max_bytes: i64,
        max_offset: i64,
    ) -> SResult<(i64, u64, u64, u64)> {
        let (index, position, length) = self.locate(offset, max_bytes, max_offset)?;
        if length == 0 {
            // Nothing to read: the active segment's fd (always open) and no lease.
            let fd = self.segments[self.segments.len() - 1].unleased_fd()?;
            return Ok((fd, position, 0, 0));
        }
        let (fd, token) = self.segments[index].lease()?;
        Ok((fd, position, length, token))
    }

    /// Ends a FileSlice's lease (JS is done with its fd). Unknown or repeated tokens are ignored.
    pub fn release(&mut self, token: u64) {
        crate::fileio::release_lease(token);
    }

    /// (segment index, position, length) of the slice read() hands out.
    fn locate(&self, offset: i64, max_bytes: i64, max_offset: i64) -> SResult<(usize, u64, u64)> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(StorageErr::new(
                OFFSET_OUT_OF_RANGE,
                format!(
                    "{}: offset {offset} outside [{}, {}]",
                    self.dir.display(),
                    self.log_start_offset,
                    self.log_end_offset
                ),
            ));
        }
        let last = self.segments.len() - 1;
        let active = &self.segments[last];
        if offset == self.log_end_offset {
            return Ok((last, active.size, 0));
        }
        debug_assert!(
            self.segments
                .windows(2)
                .all(|w| w[0].base_offset < w[1].base_offset),
            "{}: segments out of base offset order: {:?}",
            self.dir.display(),
            self.segments
                .iter()
                .map(|s| s.base_offset)
                .collect::<Vec<_>>()
        );
        let start = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        for (i, seg) in self.segments.iter().enumerate().skip(start) {
            if let Some((position, length)) =
                seg.read(offset, max_bytes.max(0) as u64, max_offset)?
            {
                return Ok((i, position, length));
            }
        }
        Ok((last, active.size, 0))
    }

    /// What offset_for_timestamp reads, for a pool thread: the candidate segments (max
    /// timestamp reaching the target) in order, the first one with its handle open.
    pub fn offset_for_timestamp_job(&self, timestamp: i64) -> SResult<TimestampJob> {
        let mut scans = Vec::new();
        for seg in &self.segments {
            if seg.max_timestamp_so_far < timestamp || seg.next_offset() <= self.log_start_offset {
                continue;
            }
            scans.push(seg.timestamp_scan(timestamp, self.log_start_offset, scans.is_empty())?);
        }
        Ok(TimestampJob {
            scans,
            timestamp,
            starting_offset: self.log_start_offset,
        })
    }

    pub fn offset_for_timestamp(&self, timestamp: i64) -> SResult<Option<(i64, i64)>> {
        for seg in &self.segments {
            if seg.max_timestamp_so_far < timestamp {
                continue;
            }
            if let Some(found) = seg.find_offset_by_timestamp(timestamp, self.log_start_offset)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    pub fn max_timestamp_and_offset(&self) -> SResult<Option<(i64, i64)>> {
        if self.log_end_offset <= self.log_start_offset {
            return Ok(None);
        }
        let mut best: Option<&Segment> = None;
        for seg in &self.segments {
            if seg.size == 0 || seg.next_offset() <= self.log_start_offset {
                continue;
            }
            if best.is_none_or(|b| seg.max_timestamp_so_far > b.max_timestamp_so_far) {
                best = Some(seg);
            }
        }
        match best {
            Some(seg) => seg.max_timestamp_and_offset(self.log_start_offset),
            None => Ok(None),
        }
    }

    pub fn segments(&self) -> Vec<SegmentSummary> {
        self.segments
            .iter()
            .map(|s| SegmentSummary {
                base_offset: s.base_offset,
                size_in_bytes: s.size as i64,
                max_timestamp: s.max_timestamp_so_far,
                last_modified_ms: s.last_modified_ms(),
            })
            .collect()
    }

    /// Removes every batch at or after `offset`.
    pub fn truncate_to(&mut self, target: i64) -> SResult<()> {
        self.check_attached()?;
        // Offsets are never negative; the TS engine clamps the same way.
        let offset = target.max(0);
        if offset >= self.log_end_offset {
            return Ok(());
        }
        self.dir_dirty = true;
        // Kafka's UnifiedLog.truncateTo: only a target below the first segment empties the log.
        if offset < self.segments[0].base_offset {
            return self.truncate_fully_and_start_at(offset);
        }
        while self.segments.len() > 1 && self.segments.last().unwrap().base_offset > offset {
            let seg = self.segments.pop().unwrap();
            self.schedule_delete(seg)?;
        }
        self.active().pin_files()?;
        let old_end = self.log_end_offset;
        let active_base = self.active().base_offset;
        assert!(
            active_base <= offset,
            "{}: truncating the active segment (base {active_base}) to offset {offset}, below \
             its base",
            self.dir.display()
        );
        self.active().truncate_to(offset)?;
        let new_end = self.active().next_offset();
        // Truncation only removes: the new log end never exceeds the target (a batch straddling
        // it goes whole), let alone the old log end.
        assert!(
            new_end <= offset && new_end <= old_end,
            "{}: truncation to offset {offset} left log end offset {new_end} (was {old_end})",
            self.dir.display()
        );
        self.log_end_offset = new_end;
        self.log_start_offset = self.log_start_offset.min(self.log_end_offset);
        self.close_expired_deletes();
        Ok(())
    }

    fn truncate_fully_and_start_at(&mut self, offset: i64) -> SResult<()> {
        for seg in std::mem::take(&mut self.segments) {
            self.schedule_delete(seg)?;
        }
        let (fresh, _, _) =
            Segment::open(&self.dir, offset.max(0), self.cfg.segment_config(), true)?;
        self.segments.push(fresh);
        self.log_start_offset = offset.max(0);
        self.log_end_offset = offset.max(0);
        self.close_expired_deletes();
        Ok(())
    }

    /// Deletes segments whose every offset is below `offset` (never the active one) and raises
    /// logStartOffset. Returns how many segments were deleted.
    pub fn delete_segments_before(&mut self, offset: i64) -> SResult<u32> {
        self.check_attached()?;
        let mut deleted = 0;
        while self.segments.len() > 1 && self.segments[1].base_offset <= offset {
            let seg = self.segments.remove(0);
            self.schedule_delete(seg)?;
            deleted += 1;
        }
        if deleted > 0 {
            self.dir_dirty = true;
        }
        let new_start = offset
            .min(self.log_end_offset)
            .max(self.segments[0].base_offset);
        if new_start > self.log_start_offset {
            self.log_start_offset = new_start;
        }
        self.close_expired_deletes();
        Ok(deleted)
    }

    /// Snapshot for a cleaning round: the inactive segments ending at or below endOffset, each
    /// with a duplicated fd the pool thread reads through (the log itself is not touched until
    /// clean_commit).
    pub fn clean_job(&mut self, opts: CleanOptions, cancel: Arc<AtomicBool>) -> SResult<CleanJob> {
        self.check_attached()?;
        let n = self.segments.len();
        let mut sources = Vec::with_capacity(n.saturating_sub(1));
        // Only segments ending at or below endOffset can be mapped or cleaned.
        for i in 0..n.saturating_sub(1) {
            if self.segments[i + 1].base_offset > opts.end_offset {
                break;
            }
            let s = &self.segments[i];
            sources.push(SourceSegment {
                base_offset: s.base_offset,
                uid: s.uid,
                size: s.size,
                next_base: self.segments[i + 1].base_offset,
                file: s.log_file()?.try_clone()?,
                modified: s.modified_time(),
            });
        }
        Ok(CleanJob {
            dir: self.dir.clone(),
            seg_cfg: self.cfg.segment_config(),
            sources,
            opts,
            cancel,
        })
    }

    /// Whether every segment of `signatures` is still an inactive segment of the log, as the
    /// round saw it (not deleted, truncated, or re-created at the same base offset).
    pub fn segments_unchanged(&self, signatures: &[(i64, u64, u64)]) -> bool {
        let inactive = &self.segments[..self.segments.len() - 1];
        signatures.iter().all(|&(base, uid, size)| {
            inactive
                .iter()
                .any(|s| s.uid == uid && s.base_offset == base && s.size == size)
        })
    }

    /// Swaps the cleaned segments in, group by group (Kafka's replaceSegments): `.cleaned` →
    /// `.swap` (indexes, then .log), directory fsync, the old segments leave through the
    /// deleted-segment path, directory fsync, `.swap` → final names. A group whose source
    /// segments changed meanwhile (deleted, truncated, re-created) abandons the round from there
    /// on: its files and those of the later groups are removed; earlier groups stay swapped.
    pub fn clean_commit(&mut self, prepared: Prepared) -> SResult<CleanSummary> {
        let Prepared {
            cleaned_up_to,
            groups,
            stats,
        } = prepared;
        let mut summary = CleanSummary {
            cleaned_up_to,
            abandoned: false,
            stats,
            groups: Vec::with_capacity(groups.len()),
        };
        let mut groups = groups.into_iter();
        while let Some(mut g) = groups.next() {
            if !self.segments_unchanged(&g.replaced) {
                summary.abandoned = true;
                let _ = g.segment.delete_files();
                for rest in groups.by_ref() {
                    let _ = rest.segment.delete_files();
                }
                break;
            }
            if let Err(e) = g.segment.change_suffix(CLEANED_SUFFIX, SWAP_SUFFIX) {
                // Nothing of this group is replaced yet: a `.log.swap` never appeared (it is
                // renamed last), so a later open will not complete it.
                let _ = g.segment.delete_files();
                for rest in groups {
                    let _ = rest.segment.delete_files();
                }
                return Err(e);
            }
            sync_dir(&self.dir)?;
            let first = self
                .segments
                .iter()
                .position(|s| s.uid == g.replaced[0].1)
                .expect("checked by segments_unchanged");
            let count = g.replaced.len();
            debug_assert!(g
                .replaced
                .iter()
                .enumerate()
                .all(|(i, r)| self.segments[first + i].uid == r.1));
            let size = g.segment.size;
            let old: Vec<Segment> = self
                .segments
                .splice(first..first + count, std::iter::once(g.segment))
                .collect();
            for seg in old {
                self.schedule_delete(seg)?;
            }
            sync_dir(&self.dir)?;
            self.segments[first].change_suffix(SWAP_SUFFIX, "")?;
            self.segments[first].release_files();
            self.dir_dirty = true;
            summary.groups.push((
                self.segments[first].base_offset,
                g.replaced.iter().map(|r| r.0).collect(),
                size,
            ));
        }
        self.close_expired_deletes();
        Ok(summary)
    }

    /// Retention or truncation dropped `seg`: rename its files to `*.deleted` now, close and
    /// remove them once file.delete.delay.ms has passed (Kafka's asynchronous segment delete).
    fn schedule_delete(&mut self, mut seg: Segment) -> SResult<()> {
        let renamed = seg.rename_to_deleted();
        let until =
            Instant::now() + Duration::from_millis(self.cfg.file_delete_delay_ms.max(0) as u64);
        // Kept even when the rename failed: its fd may back a FileSlice either way.
        self.doomed.push(DoomedSegment {
            until,
            segment: seg,
        });
        renamed
    }

    /// Closes and removes deleted segments whose delay has passed. Called on every log call
    /// (lazily: no timer lives in the addon) and cheap when nothing is pending.
    pub fn close_expired_deletes(&mut self) {
        if self.doomed.is_empty() {
            return;
        }
        let now = Instant::now();
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.doomed)
            .into_iter()
            .partition(|d| d.until <= now);
        self.doomed = kept;
        for d in expired {
            if self.detached {
                // Its old path may name a recreated topic's file: only the handles close.
                drop(d);
                continue;
            }
            // A `*.deleted` file that cannot be removed is a leftover the next open removes;
            // failing the caller's unrelated read or append over it would help nobody.
            let _ = d.segment.delete_files();
        }
    }

    /// How many deleted segments still hold their handles open (tests).
    pub fn pending_deletes(&self) -> usize {
        self.doomed.len()
    }

    /// What a flush must fsync: sealed segments not yet synced plus the active segment.
    pub fn flush_job(&mut self) -> SResult<FlushJob> {
        let retry = Arc::clone(&self.flush_retry);
        if self.detached {
            // A deleted topic's data needs no fsync, and its paths may be another topic's.
            return Ok(FlushJob {
                files: Vec::new(),
                paths: Vec::new(),
                dir: None,
                retry,
            });
        }
        // Everything that can fail comes before anything pending is taken: a failure here
        // leaves it all for the next flush.
        let seg = self.active();
        seg.write_pending_indexes()?;
        let files = vec![seg.log_file()?.try_clone()?];
        // The active segment's index files hold no handle (one fd per partition): they are
        // fsynced by path, when written or resized since the last flush.
        let index_paths = seg.dirty_index_paths();
        let mut paths = std::mem::take(&mut self.unflushed);
        let mut dir_dirty = std::mem::replace(&mut self.dir_dirty, false);
        {
            let mut failed = self.flush_retry.lock().unwrap_or_else(|e| e.into_inner());
            paths.append(&mut failed.paths);
            dir_dirty |= std::mem::take(&mut failed.dir);
        }
        paths.extend(index_paths);
        let dir = dir_dirty.then(|| self.dir.clone());
        Ok(FlushJob {
            files,
            paths,
            dir,
            retry,
        })
    }

    /// The topic was deleted and the log's directory is being renamed away (Kafka's `-delete`
    /// suffix): its paths may soon name a recreated topic's files. From now on the log writes,
    /// trims, fsyncs and removes nothing by path; writes are refused; reads through handles
    /// already open (FileSlices in flight) keep working; close() only closes handles.
    pub fn mark_deleted(&mut self) {
        self.detached = true;
        for seg in &mut self.segments {
            seg.detach();
        }
        for d in &mut self.doomed {
            d.segment.detach();
        }
    }

    fn check_attached(&self) -> SResult<()> {
        if self.detached {
            return Err(StorageErr::new(
                KAFKA_STORAGE_ERROR,
                format!("log {} belongs to a deleted topic", self.dir.display()),
            ));
        }
        Ok(())
    }

    /// Seals the active segment's indexes and fsyncs; the Log is consumed. Every step runs even
    /// when an earlier one fails; the first error is returned.
    pub fn close(mut self) -> SResult<()> {
        if self.detached {
            // Dropping the segments closes their handles; nothing is sealed or removed by path
            // (the caller removes the renamed directory).
            return Ok(());
        }
        let sealed = self.active().seal();
        self.dir_dirty = true;
        let flushed = self.flush_job().and_then(FlushJob::run);
        // Closing ends every delete delay: the caller (LogManager) waits out in-flight requests
        // before it closes a log.
        for d in std::mem::take(&mut self.doomed) {
            let _ = d.segment.delete_files();
        }
        sealed.and(flushed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::make_batch;

    fn cfg() -> LogConfig {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 100,
            max_index_size: 1024,
            max_message_bytes: 1_048_588,
            log_append_time: false,
            file_delete_delay_ms: 0,
            compacted: false,
            timestamp_before_max_ms: None,
            timestamp_after_max_ms: None,
        }
    }

    fn tmp(name: &str) -> crate::testutil::TempDir {
        crate::testutil::TempDir::new("spool-log", name)
    }

    #[test]
    fn append_assigns_offsets_and_read_returns_whole_batches() {
        let d = tmp("append");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let mut buf = make_batch(3, 1000, 0);
        buf.extend(make_batch(2, 2000, 0));
        let s = log.append(&mut buf, 5000, 4).unwrap();
        assert_eq!((s.first_offset, s.last_offset, s.log_end_offset), (0, 4, 5));
        assert_eq!(s.batches[1].base_offset, 3);
        assert_eq!(batch::get_i64(&buf, 0), 0);
        assert_eq!(batch::get_i32(&buf, 12), 4);
        let first_size = make_batch(3, 1000, 0).len() as u64;
        // Offset 1 lies inside the first batch: the slice starts at that batch.
        let (_, pos, len, _) = log.read(1, 1 << 20, i64::MAX).unwrap();
        assert_eq!((pos, len), (0, buf.len() as u64));
        let (_, pos, len, _) = log.read(3, 1 << 20, i64::MAX).unwrap();
        assert_eq!((pos, len), (first_size, buf.len() as u64 - first_size));
        // maxBytes smaller than one batch still returns that batch.
        let (_, _, len, _) = log.read(0, 1, i64::MAX).unwrap();
        assert_eq!(len, first_size);
        assert_eq!(log.read(5, 100, i64::MAX).unwrap().2, 0);
        assert_eq!(
            log.read(6, 100, i64::MAX).unwrap_err().code,
            OFFSET_OUT_OF_RANGE
        );
        assert_eq!(log.offset_for_timestamp(1001).unwrap(), Some((1001, 1)));
        assert_eq!(log.offset_for_timestamp(1500).unwrap(), Some((2000, 3)));
        assert_eq!(log.offset_for_timestamp(3000).unwrap(), None);
        assert_eq!(log.max_timestamp_and_offset().unwrap(), Some((2001, 4)));
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn invalid_batch_writes_nothing() {
        let d = tmp("invalid");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let mut buf = make_batch(3, 1000, 0);
        let mut bad = make_batch(1, 0, 0);
        bad[16] = 1;
        buf.extend(bad);
        assert_eq!(
            log.append(&mut buf, 0, 0).unwrap_err().code,
            CORRUPT_MESSAGE
        );
        assert_eq!(log.log_end_offset, 0);
        assert_eq!(log.segments()[0].size_in_bytes, 0);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn invalid_records_write_nothing_on_leader_and_follower_appends() {
        let d = tmp("invalid-records");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        log.append(&mut make_batch(2, 1000, 0), 0, 0).unwrap();
        let size = log.segments()[0].size_in_bytes;
        // One record, recordsCount 2^31-1: the log end offset must not jump by 2^31.
        let mut bad = make_batch(1, 0, 0);
        batch::put_i32(&mut bad, batch::RECORDS_COUNT, i32::MAX);
        batch::put_i32(&mut bad, batch::LAST_OFFSET_DELTA, i32::MAX - 1);
        crate::batch::tests::fix_crc(&mut bad);
        let mut buf = make_batch(3, 1000, 0);
        buf.extend_from_slice(&bad);
        let e = log.append(&mut buf.clone(), 0, 0).unwrap_err();
        assert_eq!(
            (e.code, e.record_index, e.batch_position),
            (INVALID_RECORD, Some(1), Some(make_batch(3, 1000, 0).len()))
        );
        batch::put_i64(&mut buf, 0, 2);
        let e = log.append_as_follower(&buf, 0).unwrap_err();
        assert_eq!(e.code, INVALID_RECORD);
        assert_eq!(log.log_end_offset, 2);
        assert_eq!(log.segments()[0].size_in_bytes, size);
        assert_eq!(
            log.append(&mut make_batch(1, 0, 0), 0, 0)
                .unwrap()
                .last_offset,
            2
        );
        log.close().unwrap();
    }

    #[test]
    fn compacted_and_timestamp_rules_apply_to_leader_appends_only() {
        let d = tmp("rules");
        let mut c = cfg();
        c.compacted = true;
        c.timestamp_after_max_ms = Some(1000);
        let mut log = Log::open(&d, c, None).unwrap();
        // make_batch writes null keys.
        let e = log.append(&mut make_batch(1, 0, 0), 0, 0).unwrap_err();
        assert_eq!((e.code, e.record_index), (INVALID_RECORD, Some(0)));
        let mut b = make_batch(1, 0, 0);
        batch::put_i64(&mut b, 0, 0);
        assert_eq!(log.append_as_follower(&b, 0).unwrap().log_end_offset, 1);
        log.close().unwrap();
        let d = tmp("rules-ts");
        c.compacted = false;
        let mut log = Log::open(&d, c, None).unwrap();
        // Records at 5000 and 5001 with now = 3000: more than 1000 ms ahead.
        let e = log
            .append(&mut make_batch(2, 5000, 0), 3000, 0)
            .unwrap_err();
        assert_eq!((e.code, e.record_index), (INVALID_TIMESTAMP, Some(0)));
        assert_eq!(
            log.append(&mut make_batch(2, 5000, 0), 4001, 0)
                .unwrap()
                .log_end_offset,
            2
        );
        log.close().unwrap();
    }

    #[test]
    fn roll_truncate_recovery_and_retention() {
        let d = tmp("roll");
        let mut c = cfg();
        c.segment_bytes = 300;
        let mut log = Log::open(&d, c, None).unwrap();
        for i in 0..10 {
            let mut b = make_batch(2, 1000 + i * 10, 0);
            log.append(&mut b, 0, 0).unwrap();
        }
        let segs = log.segments();
        assert!(segs.len() > 2, "expected rolls, got {}", segs.len());
        assert_eq!(log.log_end_offset, 20);
        log.truncate_to(15).unwrap();
        // Offset 15 is inside the batch [14, 15], which goes whole.
        assert_eq!(log.log_end_offset, 14);
        let deleted = log.delete_segments_before(6).unwrap();
        assert!(deleted >= 1);
        assert_eq!(log.log_start_offset, 6);
        assert_eq!(
            log.read(4, 100, i64::MAX).unwrap_err().code,
            OFFSET_OUT_OF_RANGE
        );
        log.close().unwrap();

        // A torn tail is cut at the last whole batch on reopen.
        let active = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .max()
            .unwrap();
        let mut f = fs::OpenOptions::new().append(true).open(&active).unwrap();
        std::io::Write::write_all(&mut f, &make_batch(2, 0, 0)[..30]).unwrap();
        drop(f);
        let log = Log::open(&d, c, Some(6)).unwrap();
        assert_eq!(log.recovered_bytes_truncated, 30);
        assert_eq!(log.log_end_offset, 14);
        assert_eq!(log.log_start_offset, 6);
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn damaged_indexes_of_inactive_segments_are_rebuilt_identically() {
        let d = tmp("rebuild");
        let mut c = cfg();
        c.segment_bytes = 300;
        c.index_interval_bytes = 50;
        let mut log = Log::open(&d, c, None).unwrap();
        for i in 0..12 {
            let mut b = make_batch(1 + (i % 3) as i32, 1000 + i * 7, 0);
            log.append(&mut b, 0, 0).unwrap();
        }
        assert!(log.segments().len() >= 3);
        log.close().unwrap();
        let first_index = d.join(crate::segment::file_name(0, ".index"));
        let first_time = d.join(crate::segment::file_name(0, ".timeindex"));
        let index_before = fs::read(&first_index).unwrap();
        let time_before = fs::read(&first_time).unwrap();
        assert!(!index_before.is_empty() && !time_before.is_empty());
        fs::remove_file(&first_index).unwrap();
        // A preallocated (zero-filled) time index, as an unclean shutdown during a roll leaves.
        let mut zeroed = time_before.clone();
        zeroed.resize(time_before.len() + 120, 0);
        fs::write(&first_time, &zeroed).unwrap();
        let log = Log::open(&d, c, None).unwrap();
        assert_eq!(fs::read(&first_index).unwrap(), index_before);
        assert_eq!(fs::read(&first_time).unwrap(), time_before);
        assert_eq!(log.recovered_bytes_truncated, 0);
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn recovery_points_and_clean_shutdowns_decide_what_is_checked_and_cut() {
        let d = tmp("recovery-point");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let mut sizes = Vec::new();
        for i in 0..6 {
            let mut b = make_batch(2, 1000, 0);
            log.append(&mut b, 0, 0).unwrap();
            sizes.push(b.len());
            if i % 2 == 1 {
                log.roll().unwrap();
            }
        }
        log.close().unwrap();
        // Segments 0, 4, 8 (two batches each); the second batch of the first one is damaged.
        let path = d.join(crate::segment::file_name(0, ".log"));
        let mut bytes = fs::read(&path).unwrap();
        bytes[sizes[0] + 70] ^= 0x55;
        fs::write(&path, &bytes).unwrap();
        let total: usize = sizes.iter().sum();

        // Clean: nothing cut; the damaged batch is refused on read, never skipped.
        let mut log = Log::open_with(&d, cfg(), None, Recovery::Clean).unwrap();
        assert_eq!(log.recovered_bytes_truncated, 0);
        assert_eq!(log.log_end_offset, 12);
        assert_eq!(
            log.read(2, 1 << 20, i64::MAX).unwrap_err().code,
            CORRUPT_MESSAGE
        );
        assert_eq!(log.read(0, 1 << 20, i64::MAX).unwrap().2, sizes[0] as u64);
        log.close().unwrap();

        // Unclean from a recovery point past the damage: trusted.
        let log = Log::open_with(&d, cfg(), None, Recovery::From(4)).unwrap();
        assert_eq!(log.recovered_bytes_truncated, 0);
        log.close().unwrap();

        // Unclean from before it: cut there, the later segments deleted.
        let log = Log::open_with(&d, cfg(), None, Recovery::From(0)).unwrap();
        assert_eq!(log.recovered_bytes_truncated, (total - sizes[0]) as u64);
        assert_eq!(log.recovered_batches_truncated, 5);
        assert_eq!(log.log_end_offset, 2);
        assert_eq!(log.segments.len(), 1);
        assert!(!d.join(crate::segment::file_name(4, ".log")).exists());
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn recovery_stops_at_the_first_batch_with_a_bad_crc() {
        let d = tmp("crc");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let sizes: Vec<usize> = (0..3)
            .map(|_| {
                let mut b = make_batch(2, 1000, 0);
                log.append(&mut b, 0, 0).unwrap();
                b.len()
            })
            .collect();
        log.close().unwrap();
        let path = d.join(crate::segment::file_name(0, ".log"));
        let mut bytes = fs::read(&path).unwrap();
        let second_body = sizes[0] + 70;
        bytes[second_body] ^= 0x55;
        fs::write(&path, &bytes).unwrap();
        let log = Log::open(&d, cfg(), None).unwrap();
        assert_eq!(log.recovered_bytes_truncated, (sizes[1] + sizes[2]) as u64);
        assert_eq!(log.log_end_offset, 2);
        assert_eq!(fs::metadata(&path).unwrap().len(), sizes[0] as u64);
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn recovery_cuts_at_a_base_offset_the_crc_does_not_cover() {
        // baseOffset lies before the CRC'd part of a batch: a flipped bit there passes the CRC.
        for (bit_byte, bit) in [(7usize, 0x02u8), (0, 0x40), (0, 0x80), (3, 0x80)] {
            let d = tmp("base-offset");
            let mut log = Log::open(&d, cfg(), None).unwrap();
            let sizes: Vec<usize> = (0..3)
                .map(|_| {
                    let mut b = make_batch(2, 1000, 0);
                    log.append(&mut b, 0, 0).unwrap();
                    b.len()
                })
                .collect();
            log.close().unwrap();
            let path = d.join(crate::segment::file_name(0, ".log"));
            let mut bytes = fs::read(&path).unwrap();
            // The second batch's baseOffset (2) goes back to 0, negative, or far past a 32-bit
            // offset relative to the segment.
            bytes[sizes[0] + bit_byte] ^= bit;
            fs::write(&path, &bytes).unwrap();
            // A clean shutdown trusts the bytes; an unclean one checks offsets and cuts.
            let log = Log::open(&d, cfg(), None).unwrap();
            assert_eq!(log.recovered_bytes_truncated, (sizes[1] + sizes[2]) as u64);
            assert_eq!(log.recovered_batches_truncated, 2);
            assert_eq!(log.log_end_offset, 2);
            log.close().unwrap();
            fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn recovery_cuts_a_sealed_segment_whose_offsets_reach_the_next_one() {
        let d = tmp("base-offset-range");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let mut sizes = Vec::new();
        for _ in 0..2 {
            let mut b = make_batch(2, 1000, 0);
            log.append(&mut b, 0, 0).unwrap();
            sizes.push(b.len());
        }
        log.roll().unwrap();
        let mut b = make_batch(2, 1000, 0);
        log.append(&mut b, 0, 0).unwrap();
        log.close().unwrap();
        // Offsets 0-1 and 2-3 in segment 0, 4-5 in segment 4: moving the second batch to
        // baseOffset 6 keeps it monotonic but past the next segment's base.
        let path = d.join(crate::segment::file_name(0, ".log"));
        let mut bytes = fs::read(&path).unwrap();
        bytes[sizes[0] + 7] = 6;
        fs::write(&path, &bytes).unwrap();
        let log = Log::open_with(&d, cfg(), None, Recovery::From(0)).unwrap();
        assert_eq!(log.log_end_offset, 2);
        assert_eq!(log.recovered_bytes_truncated, (sizes[1] + b.len()) as u64);
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    #[cfg(unix)]
    fn pread(fd: i64, len: usize, at: u64) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        use std::os::unix::io::FromRawFd;
        // Borrowed, never closed here: the log owns the descriptor.
        let f = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd as i32) });
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, at)?;
        Ok(buf)
    }

    #[cfg(unix)]
    #[test]
    fn deleted_segments_keep_their_fd_until_the_delay_passes() {
        let d = tmp("delay");
        let mut c = cfg();
        c.segment_bytes = 300;
        c.file_delete_delay_ms = 60;
        let mut log = Log::open(&d, c, None).unwrap();
        let mut first = make_batch(2, 1000, 0);
        log.append(&mut first, 0, 0).unwrap();
        for i in 0..8 {
            let mut b = make_batch(2, 1100 + i, 0);
            log.append(&mut b, 0, 0).unwrap();
        }
        let (fd, pos, len, _) = log.read(0, first.len() as i64, i64::MAX).unwrap();
        assert_eq!((pos, len), (0, first.len() as u64));
        let second_base = log.segments()[1].base_offset;
        assert_eq!(log.delete_segments_before(second_base).unwrap(), 1);
        assert!(!d.join(crate::segment::file_name(0, ".log")).exists());
        assert!(d
            .join(crate::segment::file_name(0, ".log.deleted"))
            .exists());
        assert!(d
            .join(crate::segment::file_name(0, ".timeindex.deleted"))
            .exists());
        assert_eq!(pread(fd, first.len(), 0).unwrap(), first);
        // Truncation below a segment drops it the same way.
        let (fd2, pos2, len2, _) = log.read(second_base, 1 << 20, i64::MAX).unwrap();
        let before = pread(fd2, len2 as usize, pos2).unwrap();
        log.truncate_to(second_base - 1).unwrap();
        assert!(log.pending_deletes() >= 2);
        assert_eq!(pread(fd2, len2 as usize, pos2).unwrap(), before);
        std::thread::sleep(Duration::from_millis(80));
        log.close_expired_deletes();
        assert_eq!(log.pending_deletes(), 0);
        let left: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(left.iter().all(|n| !n.ends_with(".deleted")), "{left:?}");
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }

    fn seg_cfg() -> SegmentConfig {
        cfg().segment_config()
    }

    #[test]
    #[should_panic(expected = "batch base offset 5 is below the segment's base offset")]
    fn segment_append_refuses_offsets_below_its_base() {
        let d = tmp("below-base");
        let (mut seg, _, _) = Segment::open(&d, 10, seg_cfg(), true).unwrap();
        let mut b = make_batch(1, 0, 0);
        let h = batch::assign(&mut b, 5, 0, None);
        let _ = seg.append(&b, &[(0, h)]);
    }

    #[test]
    #[should_panic(expected = "does not come after offset 2")]
    fn log_append_refuses_offsets_that_do_not_increase() {
        let d = tmp("not-increasing");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        log.append(&mut make_batch(3, 0, 0), 0, 0).unwrap();
        let mut b = make_batch(1, 0, 0);
        let h = batch::assign(&mut b, 1, 0, None);
        let _ = log.write(&b, vec![(0, h)], -1);
    }

    #[test]
    fn read_refuses_an_index_entry_inside_a_batch() {
        let d = tmp("mid-batch");
        let mut c = cfg();
        c.index_interval_bytes = 1 << 20;
        let mut log = Log::open(&d, c, None).unwrap();
        for _ in 0..3 {
            log.append(&mut make_batch(2, 0, 0), 0, 0).unwrap();
        }
        let size = make_batch(2, 0, 0).len() as u64;
        // Offset 3 ends the second batch, which starts at `size`; the entry points 10 bytes in.
        log.active().offset_index.append(3, size + 10).unwrap();
        // A header that does not parse there is refused as corrupt; one that parses to another
        // offset is a broken invariant (a panic).
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            log.read(4, 1 << 20, i64::MAX)
        }));
        match read {
            Err(_) => {}
            Ok(r) => assert_eq!(r.unwrap_err().code, CORRUPT_MESSAGE),
        }
    }

    #[test]
    fn follower_batches_past_a_32_bit_gap_start_a_new_segment() {
        let d = tmp("follower-far");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let far = 5_000_000_000i64;
        let mut b = make_batch(2, 0, 0);
        batch::put_i64(&mut b, 0, far);
        // Into the empty active segment (base 0): it is replaced by one at the batch's offset.
        assert_eq!(
            log.append_as_follower(&b, 0).unwrap().log_end_offset,
            far + 2
        );
        assert_eq!(log.segments().len(), 1);
        assert_eq!(log.segments()[0].base_offset, far);
        // From a non-empty segment: a roll at the batch's offset.
        let mut c = make_batch(1, 0, 0);
        batch::put_i64(&mut c, 0, 2 * far);
        log.append_as_follower(&c, 0).unwrap();
        let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
        assert_eq!(bases, vec![far, 2 * far]);
        assert_eq!(
            log.read(far + 5, 1 << 20, i64::MAX).unwrap().2,
            c.len() as u64
        );
        log.close().unwrap();
        let log = Log::open(&d, cfg(), None).unwrap();
        assert_eq!(log.log_end_offset, 2 * far + 1);
        log.close().unwrap();
    }

    #[test]
    fn follower_append_keeps_offsets_takes_gaps_and_rejects_going_back() {
        let d = tmp("follower");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        let mut b = make_batch(2, 0, 0);
        batch::put_i64(&mut b, 0, 0);
        log.append_as_follower(&b, 0).unwrap();
        // A compacted leader's log: the next batch may start past the log end.
        let mut gap = make_batch(1, 0, 0);
        batch::put_i64(&mut gap, 0, 5);
        assert_eq!(log.append_as_follower(&gap, 0).unwrap().log_end_offset, 6);
        // Below the log end: refused.
        let mut low = make_batch(1, 0, 0);
        batch::put_i64(&mut low, 0, 4);
        assert_eq!(
            log.append_as_follower(&low, 0).unwrap_err().code,
            INVALID_RECORD
        );
        // Offsets going back inside one request: refused, nothing written.
        let mut two = make_batch(1, 0, 0);
        batch::put_i64(&mut two, 0, 9);
        let mut second = make_batch(1, 0, 0);
        batch::put_i64(&mut second, 0, 9);
        two.extend(second);
        assert_eq!(
            log.append_as_follower(&two, 0).unwrap_err().code,
            CORRUPT_MESSAGE
        );
        assert_eq!(log.log_end_offset, 6);
        fs::remove_dir_all(d).unwrap();
    }

    /// Descriptors of this process open on files under `dir` (Linux: /proc/self/fd).
    #[cfg(target_os = "linux")]
    fn fds_under(dir: &Path) -> usize {
        fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p.starts_with(dir))
            .count()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_log_holds_one_descriptor_its_active_segments_log() {
        let d = tmp("one-fd");
        let mut c = cfg();
        c.segment_bytes = 400;
        c.index_interval_bytes = 1;
        let mut log = Log::open(&d, c, None).unwrap();
        for i in 0..20 {
            log.append(&mut make_batch(3, 1000 + i * 10, 0), 0, 0)
                .unwrap();
        }
        assert!(log.segments().len() > 3, "the log rolled");
        assert_eq!(fds_under(&d), 1, "only the active .log is open");
        // An append that indexes, then a flush: the entries reach the active .index, which is
        // opened for the write and the fsync only.
        for i in 0..8 {
            if log.active().offset_index.entries() > 0 {
                break;
            }
            log.append(&mut make_batch(3, 2000 + i * 10, 0), 0, 0)
                .unwrap();
        }
        assert!(log.active().offset_index.entries() > 0);
        log.flush_job().unwrap().run().unwrap();
        assert_eq!(fds_under(&d), 1, "still one after a flush");
        let active = log.segments().last().unwrap().base_offset;
        let index = fs::read(d.join(crate::segment::file_name(active, ".index"))).unwrap();
        assert_eq!(index.len(), 1024, "the active index stays preallocated");
        assert_ne!(
            &index[0..8],
            &[0u8; 8],
            "its first entry was written by the flush"
        );
        log.close().unwrap();
        assert_eq!(fds_under(&d), 0, "close releases it");
        let index = fs::read(d.join(crate::segment::file_name(active, ".index"))).unwrap();
        assert!(
            !index.is_empty() && index.len().is_multiple_of(8) && index.len() < 1024,
            "close trims the index to its entries"
        );
    }

    /// What read() must answer, found by walking every batch header of the slice's file (read
    /// whole through its fd): the batch holding `target`, then whole batches while they fit
    /// `max_bytes` and start below `max_offset`.
    fn walked_slice(fd: i64, target: i64, max_bytes: u64, max_offset: i64) -> (u64, u64) {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstat(fd as i32, &mut st) }, 0);
        let mut bytes = vec![0u8; st.st_size as usize];
        let n = unsafe {
            libc::pread(
                fd as i32,
                bytes.as_mut_ptr() as *mut libc::c_void,
                bytes.len(),
                0,
            )
        };
        assert_eq!(n as usize, bytes.len());
        let mut headers = Vec::new();
        let mut at = 0usize;
        while at + batch::HEADER_SIZE <= bytes.len() {
            let h = batch::BatchHeader::parse(&bytes[at..at + batch::HEADER_SIZE]);
            headers.push((at as u64, h));
            at += h.size();
        }
        let i = headers
            .iter()
            .position(|(_, h)| h.last_offset() >= target)
            .expect("the slice's file holds the target");
        let (start, first) = headers[i];
        if first.base_offset >= max_offset {
            return (start, 0);
        }
        let mut total = first.size() as u64;
        for (_, h) in &headers[i + 1..] {
            if total + h.size() as u64 > max_bytes || h.base_offset >= max_offset {
                break;
            }
            total += h.size() as u64;
        }
        (start, total)
    }

    #[test]
    fn read_slices_match_a_walk_of_every_batch_header() {
        // Dense and sparse offset indexes; batches of uneven sizes over several segments.
        for interval in [1, 100, 700, 1 << 20] {
            let d = tmp(&format!("read-walk-{interval}"));
            let mut c = cfg();
            c.segment_bytes = 1500;
            c.index_interval_bytes = interval;
            let mut log = Log::open(&d, c, None).unwrap();
            for i in 0..80 {
                log.append(&mut make_batch(1 + (i * 7) % 11, 1000 + i as i64, 0), 0, 0)
                    .unwrap();
            }
            let end = log.log_end_offset;
            assert!(log.segments().len() >= 3, "several segments");
            for target in 0..end {
                for max_bytes in [1u64, 150, 400, 700, 1300, 1 << 20] {
                    for max_offset in [target, target + 9, end - 3, i64::MAX] {
                        // The segment holding target (an empty slice names the active one).
                        let (fd, _, _, held) = log.read(target, 1, i64::MAX).unwrap();
                        let want = walked_slice(fd, target, max_bytes, max_offset);
                        let (_, pos, len, lease) =
                            log.read(target, max_bytes as i64, max_offset).unwrap();
                        assert_eq!(
                            (pos, len),
                            want,
                            "interval {interval} offset {target} maxBytes {max_bytes} maxOffset {max_offset}"
                        );
                        crate::fileio::release_lease(lease);
                        crate::fileio::release_lease(held);
                    }
                }
            }
            log.close().unwrap();
            fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn a_failed_flush_leaves_its_files_for_the_next_one() {
        let d = tmp("flush-retry");
        let mut log = Log::open(&d, cfg(), None).unwrap();
        log.append(&mut make_batch(2, 1000, 0), 0, 0).unwrap();
        log.flush_job().unwrap().run().unwrap();
        log.roll().unwrap();
        // The sealed segment's index cannot be opened for its fsync: the flush fails.
        let index = d.join("00000000000000000000.index");
        fs::remove_file(&index).unwrap();
        fs::create_dir(&index).unwrap();
        let job = log.flush_job().unwrap();
        assert!(job.paths.contains(&index) && job.dir.is_some());
        assert!(job.run().is_err());
        fs::remove_dir(&index).unwrap();
        fs::write(&index, b"").unwrap();
        let job = log.flush_job().unwrap();
        assert!(
            job.paths.contains(&index) && job.dir.is_some(),
            "the next flush fsyncs what the failed one did not"
        );
        job.run().unwrap();
        let job = log.flush_job().unwrap();
        assert!(job.paths.is_empty() && job.dir.is_none());
        log.close().unwrap();
        fs::remove_dir_all(d).unwrap();
    }
}
