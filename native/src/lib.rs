// native room: the napi-rs bindings. Only type conversion lives here; the logic is in the plain
// modules below, each with its own `cargo test`s. Errors reach JS as
// "SPOOL_E<kafka code>[context]: <message>" and src/storage/native.ts turns them into StorageError
// (the bracketed context, batchPosition and recordIndex, only when the error has them).
// Calls that parse client or on-disk bytes use catch_unwind: a bug there must surface as a JS
// error, not abort the broker.
pub mod batch;
pub mod cleaner;
pub mod codec;
pub mod error;
pub mod fileio;
pub mod index;
pub mod log;
pub mod records;
pub mod segment;
#[cfg(test)]
mod testutil;
pub mod transfer;

use error::StorageErr;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn to_napi(e: StorageErr) -> napi::Error {
    let mut context = Vec::new();
    if let Some(p) = e.batch_position {
        context.push(format!("batchPosition={p}"));
    }
    if let Some(i) = e.record_index {
        context.push(format!("recordIndex={i}"));
    }
    let context = if context.is_empty() {
        String::new()
    } else {
        format!("[{}]", context.join(","))
    };
    napi::Error::new(
        Status::GenericFailure,
        format!("SPOOL_E{}{context}: {}", e.code, e.message),
    )
}

fn closed(dir: &std::path::Path) -> napi::Error {
    to_napi(StorageErr::new(
        error::KAFKA_STORAGE_ERROR,
        format!("log {} is closed", dir.display()),
    ))
}

#[napi(object)]
pub struct NativeLogConfig {
    pub segment_bytes: i64,
    pub segment_ms: i64,
    pub index_interval_bytes: i64,
    pub max_index_size: i64,
    pub max_message_bytes: i64,
    pub message_timestamp_type: String,
    /// file.delete.delay.ms; Kafka's 60000 when absent.
    pub file_delete_delay_ms: Option<i64>,
    /// cleanup.policy contains compact; false when absent.
    pub compacted: Option<bool>,
    /// message.timestamp.before.max.ms / after.max.ms; unlimited when absent.
    pub message_timestamp_before_max_ms: Option<i64>,
    pub message_timestamp_after_max_ms: Option<i64>,
}

#[napi(object)]
pub struct NativeFileSlice {
    pub fd: i64,
    pub position: i64,
    pub length: i64,
    /// Keeps `fd` open until releaseSlice(lease) (0: nothing held, an empty slice).
    pub lease: i64,
}

#[napi(object)]
pub struct NativeSegmentInfo {
    pub base_offset: i64,
    pub size_in_bytes: i64,
    pub max_timestamp: i64,
    pub last_modified_ms: i64,
}

#[napi(object)]
pub struct NativeAbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// engine.ts CleanOptions; ioMaxBytesPerSecond may be Infinity.
#[napi(object)]
pub struct NativeCleanOptions {
    pub first_dirty_offset: i64,
    pub end_offset: i64,
    pub now: i64,
    pub delete_retention_ms: i64,
    pub max_map_entries: i64,
    pub segment_bytes: i64,
    pub io_max_bytes_per_second: f64,
    pub aborted_txns: Vec<NativeAbortedTxn>,
    /// [producerId, lastOffset] pairs.
    pub producer_last_offsets: Vec<Vec<i64>>,
}

#[napi(object)]
pub struct NativeCleanGroup {
    pub base_offset: i64,
    pub replaced: Vec<i64>,
    pub size_in_bytes: i64,
}

#[napi(object)]
pub struct NativeCleanResult {
    pub cleaned_up_to: i64,
    pub abandoned: bool,
    pub bytes_read: i64,
    pub bytes_written: i64,
    pub records_read: i64,
    pub records_retained: i64,
    pub groups: Vec<NativeCleanGroup>,
}

/// What a cleaning round's pool thread hands back to cleanFinish: the signatures of the segments
/// it read, the round's firstDirtyOffset (an abandoned round's cleanedUpTo) and its outcome.
type CleanOutcome = (Vec<(i64, u64, u64)>, i64, error::SResult<cleaner::Prepared>);

/// Fields per batch in the packed append result (see src/storage/native.ts).
pub const APPEND_HEADER_FIELDS: usize = 5;
pub const APPEND_BATCH_FIELDS: usize = 9;

/// Fields of the packed append result of `s`.
fn packed_len(s: &log::AppendSummary) -> usize {
    APPEND_HEADER_FIELDS + s.batches.len() * APPEND_BATCH_FIELDS
}

/// Writes the packed append result into `out` (at least `packed_len(s)` long).
fn pack_into(s: &log::AppendSummary, out: &mut [f64]) {
    out[..APPEND_HEADER_FIELDS].copy_from_slice(&[
        s.first_offset as f64,
        s.last_offset as f64,
        s.max_timestamp as f64,
        s.log_append_time as f64,
        s.log_end_offset as f64,
    ]);
    let fields = out[APPEND_HEADER_FIELDS..].chunks_exact_mut(APPEND_BATCH_FIELDS);
    for (h, f) in s.batches.iter().zip(fields) {
        let flags = (h.is_transactional() as u8) | ((h.is_control() as u8) << 1);
        f.copy_from_slice(&[
            h.base_offset as f64,
            h.last_offset() as f64,
            h.max_timestamp as f64,
            h.producer_id as f64,
            h.producer_epoch as f64,
            h.base_sequence as f64,
            h.records_count as f64,
            flags as f64,
            h.size() as f64,
        ]);
    }
}

fn pack(s: log::AppendSummary) -> Float64Array {
    let mut v = vec![0.0; packed_len(&s)];
    pack_into(&s, &mut v);
    Float64Array::new(v)
}

/// The packed result written into the caller's reusable `out` (the count of fields written), or
/// a new array when `out` is too short for it: the produce path allocates nothing per append
/// for the result, and takes no napi reference on the appended buffer (see appendInto).
fn pack_or_return(s: log::AppendSummary, out: &mut Float64ArraySlice) -> Either<u32, Float64Array> {
    let n = packed_len(&s);
    // SAFETY: `out` is a JS Float64Array argument of this call; JS runs no code while the call
    // lasts, so nothing else reads or writes it meanwhile.
    let slots = unsafe { out.as_mut() };
    if n <= slots.len() {
        pack_into(&s, &mut slots[..n]);
        Either::A(n as u32)
    } else {
        Either::B(pack(s))
    }
}

// Every method takes &self: napi-rs keeps a borrow of the JS object for as long as a returned
// AsyncTask is pending, so a `&mut self` flush would lock out appends until its fsync ends.
// JS is single-threaded, hence a RefCell, never borrowed across a call.
#[napi]
pub struct NativeLog {
    dir: PathBuf,
    inner: RefCell<Option<log::Log>>,
    /// A cleaning round is between cleanStart and cleanFinish.
    cleaning: Cell<bool>,
    /// Where the running round's pool thread leaves its outcome.
    clean_slot: Arc<Mutex<Option<CleanOutcome>>>,
    /// Set by cancelClean / close: the running round stops at its next batch read.
    clean_cancel: Arc<AtomicBool>,
}

impl NativeLog {
    fn with<T>(&self, f: impl FnOnce(&mut log::Log) -> error::SResult<T>) -> Result<T> {
        let mut guard = self.inner.borrow_mut();
        let log = guard.as_mut().ok_or_else(|| closed(&self.dir))?;
        log.close_expired_deletes();
        f(log).map_err(to_napi)
    }
}

#[napi]
impl NativeLog {
    #[napi(getter)]
    pub fn log_start_offset(&self) -> Result<i64> {
        self.with(|l| Ok(l.log_start_offset))
    }
    #[napi(getter)]
    pub fn log_end_offset(&self) -> Result<i64> {
        self.with(|l| Ok(l.log_end_offset))
    }
    #[napi(getter)]
    pub fn recovered_bytes_truncated(&self) -> Result<i64> {
        self.with(|l| Ok(l.recovered_bytes_truncated as i64))
    }

    /// Batches in recoveredBytesTruncated (segments deleted after a cut included).
    #[napi(getter)]
    pub fn recovered_batches_truncated(&self) -> Result<i64> {
        self.with(|l| Ok(l.recovered_batches_truncated as i64))
    }

    /// Leader append; rewrites `batches` in place. Packed result, see native.ts.
    #[napi(catch_unwind)]
    pub fn append(&self, mut batches: Buffer, now: i64, leader_epoch: i32) -> Result<Float64Array> {
        self.with(|l| l.append(&mut batches, now, leader_epoch))
            .map(pack)
    }

    #[napi(catch_unwind)]
    pub fn append_as_follower(&self, batches: Buffer, now: i64) -> Result<Float64Array> {
        self.with(|l| l.append_as_follower(&batches, now)).map(pack)
    }

    /// `append` for the produce path: the batches as a borrowed slice (no napi reference), the
    /// packed result in `out` when it fits (returns the count of fields written) or else as a
    /// new array. The append itself is the same: nothing is acknowledged before `append`'s
    /// write to the segment file returned.
    #[napi(catch_unwind)]
    pub fn append_into(
        &self,
        mut batches: BufferSlice,
        now: i64,
        leader_epoch: i32,
        mut out: Float64ArraySlice,
    ) -> Result<Either<u32, Float64Array>> {
        self.with(|l| l.append(&mut batches, now, leader_epoch))
            .map(|s| pack_or_return(s, &mut out))
    }

    /// `appendAsFollower` with `appendInto`'s argument and result conventions.
    #[napi(catch_unwind)]
    pub fn append_as_follower_into(
        &self,
        batches: BufferSlice,
        now: i64,
        mut out: Float64ArraySlice,
    ) -> Result<Either<u32, Float64Array>> {
        self.with(|l| l.append_as_follower(&batches, now))
            .map(|s| pack_or_return(s, &mut out))
    }

    #[napi(catch_unwind)]
    pub fn read(&self, offset: i64, max_bytes: i64, max_offset: i64) -> Result<NativeFileSlice> {
        let (fd, position, length, lease) = self.with(|l| l.read(offset, max_bytes, max_offset))?;
        Ok(NativeFileSlice {
            fd,
            position: position as i64,
            length: length as i64,
            lease: lease as i64,
        })
    }

    /// Ends a FileSlice's lease: its fd may be closed from now on (also after the log closed:
    /// the lease kept its fd open until now).
    #[napi]
    pub fn release_slice(&self, lease: i64) {
        fileio::release_lease(lease.max(0) as u64);
    }

    /// [timestamp, offset], or null.
    #[napi(catch_unwind)]
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<Vec<i64>>> {
        let found = self.with(|l| l.offset_for_timestamp(timestamp))?;
        Ok(found.map(|(ts, off)| vec![ts, off]))
    }

    /// offsetForTimestamp reading and decompressing on the libuv pool.
    #[napi(catch_unwind, ts_return_type = "Promise<number[] | null>")]
    pub fn offset_for_timestamp_async(&self, timestamp: i64) -> Result<AsyncTask<TimestampTask>> {
        let job = self.with(|l| l.offset_for_timestamp_job(timestamp))?;
        Ok(AsyncTask::new(TimestampTask { job }))
    }

    /// [timestamp, offset], or null.
    #[napi(catch_unwind)]
    pub fn max_timestamp_and_offset(&self) -> Result<Option<Vec<i64>>> {
        let found = self.with(|l| l.max_timestamp_and_offset())?;
        Ok(found.map(|(ts, off)| vec![ts, off]))
    }

    #[napi]
    pub fn segments(&self) -> Result<Vec<NativeSegmentInfo>> {
        Ok(self
            .with(|l| Ok(l.segments()))?
            .into_iter()
            .map(|s| NativeSegmentInfo {
                base_offset: s.base_offset,
                size_in_bytes: s.size_in_bytes,
                max_timestamp: s.max_timestamp,
                last_modified_ms: s.last_modified_ms,
            })
            .collect())
    }

    #[napi(catch_unwind)]
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        self.with(|l| l.truncate_to(offset))
    }

    #[napi]
    pub fn delete_segments_before(&self, offset: i64) -> Result<u32> {
        self.with(|l| l.delete_segments_before(offset))
    }

    // catch_unwind: roll asserts the segment order, which rests on offsets read back from disk.
    #[napi(catch_unwind)]
    pub fn roll(&self) -> Result<()> {
        self.with(|l| l.roll())
    }

    /// fsyncs everything written so far, on the libuv pool. Group commit is done in native.ts.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> Result<AsyncTask<FlushTask>> {
        let job = self.with(|l| l.flush_job())?;
        Ok(AsyncTask::new(FlushTask { job: Some(job) }))
    }

    /// Starts a cleaning round: snapshots the inactive segments (dup'd fds) here, does the byte
    /// work on the libuv pool; the promise resolves when the `.cleaned` segments are written and
    /// fsynced, and cleanFinish then swaps them in. Refused while a round of this log runs.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn clean_start(&self, options: NativeCleanOptions) -> Result<AsyncTask<CleanTask>> {
        if self.cleaning.get() {
            return Err(to_napi(StorageErr::new(
                error::KAFKA_STORAGE_ERROR,
                format!(
                    "{}: a cleaning round of this log is already running",
                    self.dir.display()
                ),
            )));
        }
        let mut producer_last_offsets = std::collections::HashMap::new();
        for pair in &options.producer_last_offsets {
            if let [pid, last] = pair[..] {
                producer_last_offsets.insert(pid, last);
            } else {
                return Err(napi::Error::new(
                    Status::InvalidArg,
                    "producerLastOffsets entries must be [producerId, lastOffset]",
                ));
            }
        }
        let opts = cleaner::CleanOptions {
            first_dirty_offset: options.first_dirty_offset,
            end_offset: options.end_offset,
            now: options.now,
            delete_retention_ms: options.delete_retention_ms,
            max_map_entries: options.max_map_entries,
            segment_bytes: options.segment_bytes,
            io_max_bytes_per_second: options.io_max_bytes_per_second,
            aborted_txns: options
                .aborted_txns
                .iter()
                .map(|t| cleaner::AbortedTxn {
                    producer_id: t.producer_id,
                    first_offset: t.first_offset,
                    last_offset: t.last_offset,
                })
                .collect(),
            producer_last_offsets,
        };
        self.clean_cancel.store(false, Ordering::Relaxed);
        let job = self.with(|l| l.clean_job(opts, self.clean_cancel.clone()))?;
        self.cleaning.set(true);
        *self.clean_slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(AsyncTask::new(CleanTask {
            job: Some(job),
            slot: self.clean_slot.clone(),
        }))
    }

    /// Ends the round cleanStart began: swaps the cleaned segments in (or abandons the round
    /// when a segment it read was deleted or truncated meanwhile).
    #[napi(catch_unwind)]
    pub fn clean_finish(&self) -> Result<NativeCleanResult> {
        self.cleaning.set(false);
        let outcome = self
            .clean_slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some((signatures, first_dirty, outcome)) = outcome else {
            return Err(to_napi(StorageErr::new(
                error::KAFKA_STORAGE_ERROR,
                "cleanFinish without a finished cleaning round",
            )));
        };
        let abandoned = log::CleanSummary {
            cleaned_up_to: first_dirty,
            abandoned: true,
            stats: Default::default(),
            groups: Vec::new(),
        };
        let mut guard = self.inner.borrow_mut();
        let mut summary = match (guard.as_mut(), outcome) {
            // Closed meanwhile: the round is abandoned (open removes any `.cleaned` left).
            (None, outcome) => {
                if let Ok(p) = outcome {
                    p.discard();
                }
                abandoned
            }
            (Some(log), Ok(prepared)) => {
                log.close_expired_deletes();
                log.clean_commit(prepared).map_err(to_napi)?
            }
            // Cancelled by close, or the pool thread tripped over a segment deleted or
            // truncated under it.
            (Some(log), Err(_))
                if self.clean_cancel.load(Ordering::Relaxed)
                    || !log.segments_unchanged(&signatures) =>
            {
                abandoned
            }
            (Some(_), Err(e)) => return Err(to_napi(e)),
        };
        if summary.abandoned {
            // Nothing was written: the cleaner checkpoint stays where it was.
            summary.cleaned_up_to = first_dirty;
        }
        Ok(NativeCleanResult {
            cleaned_up_to: summary.cleaned_up_to,
            abandoned: summary.abandoned,
            bytes_read: summary.stats.bytes_read as i64,
            bytes_written: summary.stats.bytes_written as i64,
            records_read: summary.stats.records_read as i64,
            records_retained: summary.stats.records_retained as i64,
            groups: summary
                .groups
                .into_iter()
                .map(|(base_offset, replaced, size)| NativeCleanGroup {
                    base_offset,
                    replaced,
                    size_in_bytes: size as i64,
                })
                .collect(),
        })
    }

    /// The topic was deleted (its directory is renamed next): nothing more by path (log.rs).
    #[napi]
    pub fn mark_deleted(&self) -> Result<()> {
        self.with(|l| {
            l.mark_deleted();
            Ok(())
        })
    }

    /// Makes a running cleaning round stop at its next read (close() calls it first).
    #[napi]
    pub fn cancel_clean(&self) {
        self.clean_cancel.store(true, Ordering::Relaxed);
    }

    /// Seals indexes and fsyncs on the libuv pool; every later call fails.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<CloseTask> {
        self.clean_cancel.store(true, Ordering::Relaxed);
        AsyncTask::new(CloseTask {
            log: self.inner.borrow_mut().take(),
        })
    }
}

pub struct TimestampTask {
    job: log::TimestampJob,
}

impl Task for TimestampTask {
    type Output = Option<(i64, i64)>;
    type JsValue = Option<Vec<i64>>;
    fn compute(&mut self) -> Result<Self::Output> {
        self.job.run().map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.map(|(ts, off)| vec![ts, off]))
    }
}

/// spool.log.max.open.segment.files: open .log handles of sealed segments, process-wide.
#[napi]
pub fn set_max_open_segment_files(n: u32) {
    fileio::set_max_open_segment_files(n as usize);
}

/// Open .log handles of sealed segments right now.
#[napi]
pub fn open_segment_files() -> u32 {
    fileio::open_segment_files() as u32
}

/// [FileSlice leases held now, leak alarms so far (leases held past their expiry)].
#[napi]
pub fn segment_leases() -> Vec<i64> {
    let (held, expired) = fileio::segment_leases();
    vec![held as i64, expired as i64]
}

pub struct FlushTask {
    job: Option<log::FlushJob>,
}

impl Task for FlushTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        match self.job.take() {
            Some(job) => job.run().map_err(to_napi),
            None => Ok(()),
        }
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct CleanTask {
    job: Option<cleaner::CleanJob>,
    slot: Arc<Mutex<Option<CleanOutcome>>>,
}

impl Task for CleanTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        if let Some(job) = self.job.take() {
            let signatures = job.signatures();
            let first_dirty = job.opts.first_dirty_offset;
            // A panic in the byte work must not abort the broker: it becomes the round's error.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()))
                .unwrap_or_else(|_| {
                    Err(StorageErr::new(
                        error::KAFKA_STORAGE_ERROR,
                        "cleaning round panicked",
                    ))
                });
            *self.slot.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((signatures, first_dirty, outcome));
        }
        Ok(())
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct CloseTask {
    log: Option<log::Log>,
}

impl Task for CloseTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        match self.log.take() {
            Some(log) => log.close().map_err(to_napi),
            None => Ok(()),
        }
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct OpenTask {
    dir: PathBuf,
    config: log::LogConfig,
    log_start_offset: Option<i64>,
    recovery: log::Recovery,
}

impl Task for OpenTask {
    type Output = log::Log;
    type JsValue = NativeLog;
    fn compute(&mut self) -> Result<log::Log> {
        log::Log::open_with(&self.dir, self.config, self.log_start_offset, self.recovery)
            .map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, output: log::Log) -> Result<NativeLog> {
        Ok(NativeLog {
            dir: self.dir.clone(),
            inner: RefCell::new(Some(output)),
            cleaning: Cell::new(false),
            clean_slot: Arc::new(Mutex::new(None)),
            clean_cancel: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// Opens (creating if needed) a partition directory and recovers it, on the libuv pool.
/// `had_clean_shutdown`: nothing is cut; else with `recovery_point` every segment from the one
/// holding it is CRC-checked, without only the active one (OpenOptions in src/storage/engine.ts).
#[napi(ts_return_type = "Promise<NativeLog>")]
pub fn open_log(
    dir: String,
    config: NativeLogConfig,
    log_start_offset: Option<i64>,
    recovery_point: Option<i64>,
    had_clean_shutdown: Option<bool>,
) -> Result<AsyncTask<OpenTask>> {
    let recovery = match (had_clean_shutdown.unwrap_or(false), recovery_point) {
        (true, _) => log::Recovery::Clean,
        (false, Some(point)) => log::Recovery::From(point.max(0)),
        (false, None) => log::Recovery::ActiveOnly,
    };
    let log_append_time = match config.message_timestamp_type.as_str() {
        "CreateTime" => false,
        "LogAppendTime" => true,
        other => {
            return Err(napi::Error::new(
                Status::InvalidArg,
                format!("message.timestamp.type must be CreateTime or LogAppendTime, got {other}"),
            ))
        }
    };
    Ok(AsyncTask::new(OpenTask {
        dir: PathBuf::from(dir),
        config: log::LogConfig {
            segment_bytes: config.segment_bytes,
            segment_ms: config.segment_ms,
            index_interval_bytes: config.index_interval_bytes,
            max_index_size: config.max_index_size,
            max_message_bytes: config.max_message_bytes,
            log_append_time,
            file_delete_delay_ms: config.file_delete_delay_ms.unwrap_or(60_000),
            compacted: config.compacted.unwrap_or(false),
            timestamp_before_max_ms: config.message_timestamp_before_max_ms,
            timestamp_after_max_ms: config.message_timestamp_after_max_ms,
        },
        log_start_offset,
        recovery,
    }))
}

#[napi(catch_unwind)]
pub fn compress(codec: u32, data: Buffer) -> Result<Buffer> {
    codec::compress(codec.min(255) as u8, &data)
        .map(Buffer::from)
        .map_err(to_napi)
}

#[napi(catch_unwind)]
pub fn decompress(codec: u32, data: Buffer) -> Result<Buffer> {
    codec::decompress(codec.min(255) as u8, &data)
        .map(Buffer::from)
        .map_err(to_napi)
}

#[napi(js_name = "crc32c")]
pub fn crc32c(data: Buffer) -> u32 {
    batch::crc32c(&data)
}

#[cfg(unix)]
pub struct SendFileTask {
    sock: transfer::OwnedFd,
    file: transfer::OwnedFd,
    position: u64,
    length: u64,
}

#[cfg(unix)]
impl Task for SendFileTask {
    type Output = u64;
    type JsValue = i64;
    fn compute(&mut self) -> Result<u64> {
        transfer::send_file(&self.sock, &self.file, self.position, self.length).map_err(to_napi)
    }
    fn resolve(&mut self, _env: Env, output: u64) -> Result<i64> {
        Ok(output as i64)
    }
}

/// Sends a segment slice to a (non-blocking) socket fd with sendfile(2) on the libuv pool.
/// Both fds are dup'd here, on the JS thread, so closing either meanwhile cannot race.
#[cfg(unix)]
#[napi(ts_return_type = "Promise<number>")]
pub fn send_file(
    socket_fd: i64,
    fd: i64,
    position: i64,
    length: i64,
) -> Result<AsyncTask<SendFileTask>> {
    if position < 0 || length < 0 {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "sendFile: negative position or length",
        ));
    }
    let sock = transfer::OwnedFd::dup(socket_fd).map_err(to_napi)?;
    let file = transfer::OwnedFd::dup(fd).map_err(to_napi)?;
    Ok(AsyncTask::new(SendFileTask {
        sock,
        file,
        position: position as u64,
        length: length as u64,
    }))
}

/// Sends a response's parts to a non-blocking socket now, on the JS thread, without waiting:
/// `buffers[0]`, the file range `slices[0..3]` (fd, position, length), `buffers[1]`, ... —
/// `buffers` has one more entry than there are ranges. Returns the bytes sent; fewer than the
/// total means the socket was full (or sendfile does not apply) and the caller sends the rest.
#[cfg(unix)]
#[napi]
pub fn send_now(socket_fd: i64, buffers: Vec<Buffer>, slices: Vec<i64>) -> Result<i64> {
    if !slices.len().is_multiple_of(3) || buffers.len() != slices.len() / 3 + 1 {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "sendNow: buffers must have one more entry than slices has triples",
        ));
    }
    let mut parts = Vec::with_capacity(buffers.len() + slices.len() / 3);
    for (i, b) in buffers.iter().enumerate() {
        parts.push(transfer::Part::Bytes(b.as_ref()));
        if let Some(s) = slices.get(i * 3..i * 3 + 3) {
            if s[0] < 0 || s[1] < 0 || s[2] < 0 {
                return Err(napi::Error::new(
                    Status::InvalidArg,
                    "sendNow: negative fd, position or length",
                ));
            }
            parts.push(transfer::Part::File {
                fd: s[0] as i32,
                position: s[1] as u64,
                length: s[2] as u64,
            });
        }
    }
    transfer::send_now(socket_fd as i32, &parts)
        .map(|n| n as i64)
        .map_err(to_napi)
}

/// Whether the last sendNow (on the JS thread) stopped because the socket was full (EAGAIN);
/// false when it sent everything or stopped at file data not known to be in the page cache.
#[cfg(unix)]
#[napi]
pub fn send_now_stopped_full() -> bool {
    transfer::last_send_stopped_full()
}

/// Up to `length` bytes (at most 1 MiB) of `fd` at `position`, from the page cache on the JS
/// thread: null when some of it would have to come from the disk. What sendNow's caller writes
/// through the socket stream to learn when a full socket takes data again, with no pool thread.
#[cfg(unix)]
#[napi]
pub fn read_now(fd: i64, position: i64, length: u32) -> Result<Option<Buffer>> {
    if fd < 0 || position < 0 || length > 1 << 20 {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "readNow: negative fd or position, or more than 1 MiB",
        ));
    }
    transfer::read_cached(fd as i32, position as u64, length as usize)
        .map(|b| b.map(Buffer::from))
        .map_err(to_napi)
}

/// Whether this build has a sendFile; native.ts leaves StorageEngine.sendFile undefined otherwise.
#[napi]
pub fn has_send_file() -> bool {
    cfg!(unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch::BatchHeader;

    fn header(base_offset: i64, count: i32, attributes: i16) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes,
            last_offset_delta: count - 1,
            base_timestamp: 1000,
            max_timestamp: 1000 + base_offset,
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: base_offset as i32,
            records_count: count,
        }
    }

    #[test]
    fn pack_into_lays_out_the_header_then_nine_fields_per_batch() {
        // Transactional (0x10) then control + transactional (0x30).
        let s = log::AppendSummary {
            batches: vec![header(5, 2, 0x10), header(7, 3, 0x30)],
            first_offset: 5,
            last_offset: 9,
            max_timestamp: 1007,
            log_append_time: -1,
            log_end_offset: 10,
        };
        assert_eq!(
            packed_len(&s),
            APPEND_HEADER_FIELDS + 2 * APPEND_BATCH_FIELDS
        );
        // A longer array keeps what follows the packed fields.
        let mut out = vec![-9.0; packed_len(&s) + 3];
        pack_into(&s, &mut out);
        assert_eq!(&out[..5], &[5.0, 9.0, 1007.0, -1.0, 10.0]);
        assert_eq!(
            &out[5..14],
            &[5.0, 6.0, 1005.0, 7.0, 1.0, 5.0, 2.0, 1.0, 112.0]
        );
        assert_eq!(
            &out[14..23],
            &[7.0, 9.0, 1007.0, 7.0, 1.0, 7.0, 3.0, 3.0, 112.0]
        );
        assert_eq!(&out[23..], &[-9.0, -9.0, -9.0]);
    }
}
