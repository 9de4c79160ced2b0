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
// while none of its leases is live. A lease ends when JS releases it, or at the latest when its
// expiry passes (file.delete.delay.ms, the bound the deleted-segment path already promises).
// Closing bumps the handle's generation, so a late release of an older lease changes nothing.
//
// The process-wide bound (spool.log.max.open.segment.files) counts the open handles of sealed
// segments; past it the least recently used idle ones are closed. Active segments (pinned) are
// never closed and not counted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Default of spool.log.max.open.segment.files.
pub const DEFAULT_MAX_OPEN_SEGMENT_FILES: usize = 1024;

static MAX_OPEN: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_OPEN_SEGMENT_FILES);
static USE_CLOCK: AtomicU64 = AtomicU64::new(1);
static OPEN_SEALED: Mutex<Vec<Weak<LogFile>>> = Mutex::new(Vec::new());

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

    /// A lease on the handle for a FileSlice: (fd for JS, lease generation). The handle stays
    /// open until release(generation) or `expiry` from now.
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
        if newly_listed {
            self.list();
        }
        Ok(leased)
    }

    /// The fd for JS without a lease (only for a pinned handle, which nothing closes).
    pub fn fd(self: &Arc<Self>) -> io::Result<i64> {
        let mut s = self.lock();
        Self::ensure_open(&mut s)?;
        Ok(s.open.as_ref().map(|(_, js)| js.get()).unwrap_or(-1))
    }

    /// Ends one lease of `generation`; past the bound, the idle handles close now.
    pub fn release(&self, generation: u64) {
        let idle = {
            let mut s = self.lock();
            if s.generation == generation && s.leases > 0 {
                s.leases -= 1;
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

    fn leased(s: &LogFileState) -> bool {
        s.leases > 0 && s.lease_until.is_some_and(|u| Instant::now() < u)
    }

    /// Closes the handle unless it is pinned or leased; true when it is closed now.
    fn close_if_idle(s: &mut LogFileState) -> bool {
        if s.open.is_none() {
            return true;
        }
        if s.pinned || Self::leased(s) {
            return false;
        }
        s.open = None;
        s.generation += 1;
        s.leases = 0;
        s.lease_until = None;
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

    /// Closes the handle whatever its leases (the segment's files are being removed).
    pub fn close_now(&self) {
        let mut s = self.lock();
        s.open = None;
        s.generation += 1;
        s.leases = 0;
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
