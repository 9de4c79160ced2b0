// native room: positional file I/O that works on every platform the addon ships for.
use std::fs::File;
use std::io;

#[cfg(unix)]
pub fn write_all_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(buf, offset)
}

#[cfg(windows)]
pub fn write_all_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_write(buf, offset)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// Reads up to `buf.len()` bytes; fewer only at end of file.
#[cfg(unix)]
pub fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(windows)]
pub fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match f.seek_read(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The descriptor JS uses for a segment's .log (fs.read, sendFile): valid while the segment is.
#[cfg(unix)]
pub struct JsFd(i64);

#[cfg(unix)]
impl JsFd {
    pub fn new(f: &File) -> io::Result<JsFd> {
        use std::os::unix::io::AsRawFd;
        Ok(JsFd(f.as_raw_fd() as i64))
    }
    pub fn get(&self) -> i64 {
        self.0
    }
}

// Node's fs on Windows speaks CRT descriptors, so the segment gets one of its own, over a
// duplicate of the file handle, closed with the segment.
#[cfg(windows)]
pub struct JsFd(i32);

#[cfg(windows)]
impl JsFd {
    pub fn new(f: &File) -> io::Result<JsFd> {
        use std::os::windows::io::IntoRawHandle;
        let handle = f.try_clone()?.into_raw_handle();
        let fd = unsafe { libc::open_osfhandle(handle as libc::intptr_t, libc::O_RDONLY) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(JsFd(fd))
    }
    pub fn get(&self) -> i64 {
        self.0 as i64
    }
}

#[cfg(windows)]
impl Drop for JsFd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

// ---------------------------------------------------------------------------------------------
// Segment .log handles: open lazily, closed when idle, bounded process-wide.
//
// A sealed segment needs its .log only to serve reads, so its handle is opened on first use and
// may be closed again. What keeps that safe is the lease: every FileSlice handed to JS carries
// one (its fd goes to fs.read or sendfile(2) after the read returned), and a handle is closed only
// while none of its leases is live. A lease ends only when JS releases it: a send may still use
// the fd number, and a closed number is reused by the next open() (another segment's bytes would
// go out). Past its expiry (file.delete.delay.ms, at least 10 s) a lease is reported as a leak
// (warned once per segment, counted) and still holds. The lease table (LEASES) owns the handle
// while a lease is live, so a segment deleted or a log closed meanwhile (retention, topic
// deletion) closes its handle at the last release.
//
// The process-wide bound (spool.log.max.open.segment.files) counts the open handles of sealed
// segments; past it the least recently used idle ones are closed. Active segments (pinned) are
// never closed and not counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Default of spool.log.max.open.segment.files.
pub const DEFAULT_MAX_OPEN_SEGMENT_FILES: usize = 1024;

static MAX_OPEN: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_OPEN_SEGMENT_FILES);
static USE_CLOCK: AtomicU64 = AtomicU64::new(1);
static OPEN_SEALED: Mutex<Vec<Weak<LogFile>>> = Mutex::new(Vec::new());
/// Live FileSlice leases by token: (handle, generation). Holds the handle (not a Weak) so its
/// file stays open whatever happens to the segment until the lease is released.
static LEASES: Mutex<BTreeMap<u64, (Arc<LogFile>, u64)>> = Mutex::new(BTreeMap::new());
static NEXT_LEASE: AtomicU64 = AtomicU64::new(1);
/// Leak alarms: segments found holding a lease past its expiry.
static EXPIRED_LEASES: AtomicU64 = AtomicU64::new(0);

/// Ends the FileSlice lease `token` (JS is done with its fd). Unknown or repeated tokens are
/// ignored; works after the segment was deleted or its log closed.
pub fn release_lease(token: u64) {
    let entry = LEASES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&token);
    if let Some((handle, generation)) = entry {
        handle.release(generation);
        // The last owner of a deleted segment's handle may be this entry: dropped here, which
        // closes the file.
        drop(handle);
    }
}

/// (live leases, leak alarms so far), process-wide (tests, metrics).
pub fn segment_leases() -> (usize, u64) {
    let held = LEASES.lock().unwrap_or_else(|e| e.into_inner()).len();
    (held, EXPIRED_LEASES.load(Ordering::Relaxed))
}

/// Sets the bound on open sealed-segment handles (at least 1) and applies it at once.
pub fn set_max_open_segment_files(n: usize) {
    MAX_OPEN.store(n.max(1), Ordering::Relaxed);
    enforce_bound(None);
}

/// Open handles of sealed segments right now (tests, metrics).
pub fn open_segment_files() -> usize {
    let list = OPEN_SEALED.lock().unwrap_or_else(|e| e.into_inner());
    list.iter()
        .filter_map(Weak::upgrade)
        .filter(|h| h.counts_open())
        .count()
}

struct LogFileState {
    path: PathBuf,
    open: Option<(Arc<File>, JsFd)>,
    /// An active segment: never closed by the bound, not counted.
    pinned: bool,
    /// Leases handed out since the handle was opened and not released yet.
    leases: u32,
    /// When the last lease handed out expires.
    lease_until: Option<Instant>,
    /// Bumped each time the handle closes: leases of an older generation are void.
    generation: u64,
    last_use: u64,
    /// In OPEN_SEALED.
    listed: bool,
    /// The segment's files are being removed: the last release closes the handle.
    close_on_release: bool,
    /// The leak alarm was raised for this handle.
    leak_warned: bool,
}

/// The .log file of one segment, shared with the process-wide list of open handles.
pub struct LogFile {
    state: Mutex<LogFileState>,
}

fn open_rw(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
}

impl LogFile {
    /// Wraps a handle already open on `path`; the segment starts active (pinned).
    pub fn new(path: PathBuf, file: File) -> io::Result<Arc<LogFile>> {
        let js = JsFd::new(&file)?;
        Ok(Arc::new(LogFile {
            state: Mutex::new(LogFileState {
                path,
                open: Some((Arc::new(file), js)),
                pinned: true,
                leases: 0,
                lease_until: None,
                generation: 0,
                last_use: USE_CLOCK.fetch_add(1, Ordering::Relaxed),
                listed: false,
                close_on_release: false,
                leak_warned: false,
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogFileState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counts_open(&self) -> bool {
        match self.state.try_lock() {
            Ok(s) => s.open.is_some() && !s.pinned,
            Err(_) => true,
        }
    }

    /// Opens the file when it is closed; true when the handle must join OPEN_SEALED.
    fn ensure_open(s: &mut LogFileState) -> io::Result<bool> {
        s.last_use = USE_CLOCK.fetch_add(1, Ordering::Relaxed);
        let mut opened = false;
        if s.open.is_none() {
            let f = open_rw(&s.path)?;
            let js = JsFd::new(&f)?;
            s.open = Some((Arc::new(f), js));
            opened = true;
        }
        let newly_listed = opened && !s.pinned && !s.listed;
        if newly_listed {
            s.listed = true;
        }
        Ok(newly_listed)
    }

    /// The open file, opening it again when it was closed. The Arc keeps the file open for the
    /// caller even if the bound closes the handle meanwhile.
    pub fn file(self: &Arc<Self>) -> io::Result<Arc<File>> {
        let (file, newly_listed) = {
            let mut s = self.lock();
            let newly_listed = Self::ensure_open(&mut s)?;
            (s.open.as_ref().map(|(f, _)| f.clone()), newly_listed)
        };
        if newly_listed {
            self.list();
        }
        Ok(file.expect("opened above"))
    }

    fn list(self: &Arc<Self>) {
        OPEN_SEALED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(self));
        enforce_bound(Some(self));
    }

    /// A lease on the handle for a FileSlice: (fd for JS, lease token for release_lease). The
    /// handle stays open until the lease is released; still held `expiry` from now, it is
    /// reported as a leak.
    pub fn lease(self: &Arc<Self>, expiry: Duration) -> io::Result<(i64, u64)> {
        // Opened and leased under one lock: the bound (run by list below) sees it leased.
        let (leased, newly_listed) = {
            let mut s = self.lock();
            let newly_listed = Self::ensure_open(&mut s)?;
            s.leases += 1;
            let until = Instant::now() + expiry;
            s.lease_until = Some(s.lease_until.map_or(until, |u| u.max(until)));
            let fd = s.open.as_ref().map(|(_, js)| js.get()).unwrap_or(-1);
            ((fd, s.generation), newly_listed)
        };
        let (fd, generation) = leased;
        let token = NEXT_LEASE.fetch_add(1, Ordering::Relaxed);
        LEASES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, (self.clone(), generation));
        if newly_listed {
            self.list();
        }
        Ok((fd, token))
    }

    /// The fd for JS without a lease (only for a pinned handle, which nothing closes).
    pub fn fd(self: &Arc<Self>) -> io::Result<i64> {
        let mut s = self.lock();
        Self::ensure_open(&mut s)?;
        Ok(s.open.as_ref().map(|(_, js)| js.get()).unwrap_or(-1))
    }

    /// Ends one lease of `generation`; past the bound, the idle handles close now.
    fn release(&self, generation: u64) {
        let idle = {
            let mut s = self.lock();
            if s.generation == generation && s.leases > 0 {
                s.leases -= 1;
            }
            if s.leases == 0 && s.close_on_release {
                Self::close(&mut s);
                return;
            }
            s.leases == 0 && !s.pinned && s.open.is_some()
        };
        if idle {
            let over = OPEN_SEALED.lock().unwrap_or_else(|e| e.into_inner()).len()
                > MAX_OPEN.load(Ordering::Relaxed);
            if over {
                enforce_bound(None);
            }
        }
    }

    /// A lease held past its expiry: warned once per handle and counted; it still holds.
    fn leak_alarm(s: &mut LogFileState) {
        if s.leak_warned || s.lease_until.is_some_and(|u| Instant::now() < u) {
            return;
        }
        s.leak_warned = true;
        EXPIRED_LEASES.fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "spool: a FileSlice lease on {} was held past its expiry (never released; {} live): the fd stays open until it is",
            s.path.display(),
            s.leases
        );
    }

    fn close(s: &mut LogFileState) {
        s.open = None;
        s.generation += 1;
        s.leases = 0;
        s.lease_until = None;
        s.close_on_release = false;
    }

    /// Closes the handle unless it is pinned or leased; true when it is closed now.
    fn close_if_idle(s: &mut LogFileState) -> bool {
        if s.open.is_none() {
            return true;
        }
        if s.pinned {
            return false;
        }
        if s.leases > 0 {
            Self::leak_alarm(s);
            return false;
        }
        Self::close(s);
        true
    }

    /// The segment became active: its handle stays open.
    pub fn pin(self: &Arc<Self>) -> io::Result<()> {
        self.lock().pinned = true;
        self.file().map(|_| ())
    }

    /// The segment is sealed: its handle closes now unless a lease holds it, and from then on
    /// it counts against the bound while open.
    pub fn unpin(self: &Arc<Self>) {
        let list = {
            let mut s = self.lock();
            s.pinned = false;
            Self::close_if_idle(&mut s);
            let list = s.open.is_some() && !s.listed;
            if list {
                s.listed = true;
            }
            list
        };
        if list {
            self.list();
        }
    }

    /// The segment's files are being removed: the handle closes now, or, while a lease is live,
    /// at the last release (a send may still use the fd).
    pub fn close_now(&self) {
        let mut s = self.lock();
        if s.leases > 0 {
            s.close_on_release = true;
        } else {
            Self::close(&mut s);
        }
    }

    /// Live leases of this handle (tests).
    pub fn live_leases(&self) -> u32 {
        self.lock().leases
    }

    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    pub fn set_path(&self, path: PathBuf) {
        self.lock().path = path;
    }

    pub fn is_open(&self) -> bool {
        self.lock().open.is_some()
    }
}

/// Closes least recently used idle handles of sealed segments while more than the bound are
/// open. Never waits on a handle's lock (a handle busy right now counts as open and stays).
fn enforce_bound(except: Option<&Arc<LogFile>>) {
    let max = MAX_OPEN.load(Ordering::Relaxed);
    let mut list = OPEN_SEALED.lock().unwrap_or_else(|e| e.into_inner());
    // (last use, handle) of every listed handle still open and unpinned.
    let mut open: Vec<(u64, Arc<LogFile>)> = Vec::with_capacity(list.len());
    list.retain(|w| {
        let Some(h) = w.upgrade() else {
            return false;
        };
        let keep = match h.state.try_lock() {
            Ok(mut s) => {
                if s.open.is_some() && !s.pinned {
                    open.push((s.last_use, h.clone()));
                    true
                } else {
                    s.listed = false;
                    false
                }
            }
            Err(_) => true,
        };
        keep
    });
    if open.len() <= max {
        return;
    }
    open.sort_unstable_by_key(|(u, _)| *u);
    let mut excess = open.len() - max;
    for (_, h) in &open {
        if excess == 0 {
            break;
        }
        if except.is_some_and(|e| Arc::ptr_eq(e, h)) {
            continue;
        }
        if let Ok(mut s) = h.state.try_lock() {
            if LogFile::close_if_idle(&mut s) {
                s.listed = false;
                excess -= 1;
            }
        }
    }
    list.retain(|w| {
        w.upgrade()
            .is_some_and(|h| h.state.try_lock().map_or(true, |s| s.listed))
    });
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn pread(fd: i64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        let n = unsafe { libc::pread(fd as libc::c_int, buf.as_mut_ptr().cast(), len, 0) };
        assert_eq!(n, len as isize, "pread of fd {fd}");
        buf
    }

    #[test]
    fn a_live_lease_keeps_its_handle_through_expiry_delete_and_drop() {
        let d = TempDir::new("spool-fileio", "lease");
        let p = d.join("00000000000000000000.log");
        std::fs::write(&p, b"segment bytes").unwrap();
        let h = LogFile::new(p.clone(), open_rw(&p).unwrap()).unwrap();
        h.unpin();
        assert!(!h.is_open(), "sealed and not leased: closed");
        // Expired at once: the bound may try it, it stays open (a leak alarm at most).
        let (fd, token) = h.lease(Duration::ZERO).unwrap();
        {
            let mut s = h.lock();
            assert!(
                !LogFile::close_if_idle(&mut s),
                "an expired live lease still holds"
            );
        }
        // The segment is deleted, then dropped (its log closed): the lease owns the handle.
        h.close_now();
        assert!(h.is_open());
        assert_eq!(h.live_leases(), 1);
        let weak = Arc::downgrade(&h);
        drop(h);
        assert!(weak.upgrade().is_some(), "the lease table holds the handle");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(pread(fd, 13), b"segment bytes");
        release_lease(token);
        release_lease(token); // twice: ignored
        assert!(weak.upgrade().is_none(), "the last release closes it");
    }
}
