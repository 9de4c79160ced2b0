// native room: zero-copy transfer of a segment slice to a socket (sendfile(2)), for a
// non-blocking socket owned by libuv. Runs on a libuv pool thread: the caller dups both fds so
// they stay valid for the whole transfer, and writability is awaited with poll(2), never by
// spinning on EAGAIN.
use crate::error::*;
use std::io;

/// Longest wait for the peer to make room before the transfer fails.
pub const WRITABLE_TIMEOUT_MS: i32 = 30_000;
/// Chunk size of the read+write fallback and of each sendfile call.
const CHUNK: usize = 1 << 20;

fn storage_err(what: &str, e: io::Error) -> StorageErr {
    StorageErr::new(KAFKA_STORAGE_ERROR, format!("sendFile {what}: {e}"))
}

/// Owns a dup'd descriptor, closed on drop.
#[cfg(unix)]
pub struct OwnedFd(pub i32);

#[cfg(unix)]
impl OwnedFd {
    pub fn dup(fd: i64) -> SResult<OwnedFd> {
        let r = unsafe { libc::dup(fd as i32) };
        if r < 0 {
            return Err(storage_err("dup", io::Error::last_os_error()));
        }
        Ok(OwnedFd(r))
    }
}

#[cfg(unix)]
impl Drop for OwnedFd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

#[cfg(unix)]
fn wait_writable(sock: i32) -> SResult<()> {
    let mut pfd = libc::pollfd {
        fd: sock,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        let r = unsafe { libc::poll(&mut pfd, 1, WRITABLE_TIMEOUT_MS) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(storage_err("poll", e));
        }
        if r == 0 {
            return Err(StorageErr::new(
                KAFKA_STORAGE_ERROR,
                format!("sendFile: socket not writable within {WRITABLE_TIMEOUT_MS} ms"),
            ));
        }
        if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
            && pfd.revents & libc::POLLOUT == 0
        {
            return Err(StorageErr::new(
                KAFKA_STORAGE_ERROR,
                "sendFile: socket closed or in error",
            ));
        }
        return Ok(());
    }
}

enum Step {
    Sent(usize),
    WouldBlock,
    Unsupported,
}

#[cfg(target_os = "linux")]
fn sendfile_once(sock: i32, file: i32, position: u64, len: usize) -> SResult<Step> {
    let mut off = position as libc::off_t;
    let r = unsafe { libc::sendfile(sock, file, &mut off, len) };
    if r >= 0 {
        return Ok(Step::Sent(r as usize));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Step::WouldBlock),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(Step::Unsupported),
        _ => Err(storage_err("sendfile", e)),
    }
}

#[cfg(target_os = "macos")]
fn sendfile_once(sock: i32, file: i32, position: u64, len: usize) -> SResult<Step> {
    // macOS reports the bytes sent through `len` even when it fails with EAGAIN.
    let mut sent: libc::off_t = len as libc::off_t;
    let r = unsafe {
        libc::sendfile(
            file,
            sock,
            position as libc::off_t,
            &mut sent,
            std::ptr::null_mut(),
            0,
        )
    };
    if r == 0 {
        return Ok(Step::Sent(sent as usize));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) if sent > 0 => Ok(Step::Sent(sent as usize)),
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Step::WouldBlock),
        Some(libc::EINVAL) | Some(libc::ENOTSUP) | Some(libc::ENOTSOCK) => Ok(Step::Unsupported),
        _ => Err(storage_err("sendfile", e)),
    }
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
fn sendfile_once(_sock: i32, _file: i32, _position: u64, _len: usize) -> SResult<Step> {
    Ok(Step::Unsupported)
}

/// pread + write, for kernels or descriptors where sendfile does not apply.
#[cfg(unix)]
fn copy_once(sock: i32, file: i32, position: u64, len: usize, buf: &mut Vec<u8>) -> SResult<Step> {
    let want = len.min(CHUNK);
    buf.resize(want, 0);
    let n = unsafe {
        libc::pread(
            file,
            buf.as_mut_ptr() as *mut libc::c_void,
            want,
            position as libc::off_t,
        )
    };
    if n < 0 {
        return Err(storage_err("pread", io::Error::last_os_error()));
    }
    if n == 0 {
        return Ok(Step::Sent(0));
    }
    let w = unsafe { libc::write(sock, buf.as_ptr() as *const libc::c_void, n as usize) };
    if w >= 0 {
        return Ok(Step::Sent(w as usize));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Step::WouldBlock),
        _ => Err(storage_err("write", e)),
    }
}

/// Sends `length` bytes of `file` from `position` to `sock`; returns the bytes sent.
#[cfg(unix)]
pub fn send_file(sock: &OwnedFd, file: &OwnedFd, position: u64, length: u64) -> SResult<u64> {
    let mut done: u64 = 0;
    let mut use_sendfile = true;
    let mut buf = Vec::new();
    while done < length {
        let remaining = ((length - done) as usize).min(if use_sendfile { 1 << 30 } else { CHUNK });
        let step = if use_sendfile {
            sendfile_once(sock.0, file.0, position + done, remaining)?
        } else {
            copy_once(sock.0, file.0, position + done, remaining, &mut buf)?
        };
        match step {
            Step::Sent(0) => {
                return Err(StorageErr::new(
                    KAFKA_STORAGE_ERROR,
                    format!(
                        "sendFile: file ended at {} before {} bytes were sent",
                        position + done,
                        length
                    ),
                ));
            }
            Step::Sent(n) => done += n as u64,
            Step::WouldBlock => wait_writable(sock.0)?,
            Step::Unsupported => use_sendfile = false,
        }
    }
    Ok(done)
}

/// One part of a response for [`send_now`]: bytes in memory, or a range of a file.
#[cfg(unix)]
pub enum Part<'a> {
    Bytes(&'a [u8]),
    File { fd: i32, position: u64, length: u64 },
}

/// How many iovecs one sendmsg takes at most (Linux's UIO_MAXIOV is 1024).
#[cfg(unix)]
const MAX_IOV: usize = 64;

#[cfg(target_os = "linux")]
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
#[cfg(all(unix, not(target_os = "linux")))]
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT;
#[cfg(target_os = "linux")]
const MORE: i32 = libc::MSG_MORE;
#[cfg(all(unix, not(target_os = "linux")))]
const MORE: i32 = 0;

/// sendmsg of consecutive in-memory parts; `more` when file data follows (Linux: MSG_MORE, so
/// a short header goes out in one segment with the data after it).
#[cfg(unix)]
fn send_bytes(sock: i32, bufs: &[&[u8]], more: bool) -> SResult<Step> {
    let iov: Vec<libc::iovec> = bufs
        .iter()
        .take(MAX_IOV)
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len() as _;
    let flags = SEND_FLAGS
        | if more || bufs.len() > MAX_IOV {
            MORE
        } else {
            0
        };
    let r = unsafe { libc::sendmsg(sock, &msg, flags) };
    if r >= 0 {
        return Ok(Step::Sent(r as usize));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Step::WouldBlock),
        _ => Err(storage_err("sendmsg", e)),
    }
}

/// TCP_CORK held for the life of the value (Linux; elsewhere nothing).
#[cfg(unix)]
struct Cork(i32);

#[cfg(unix)]
impl Cork {
    #[cfg(target_os = "linux")]
    fn new(sock: i32) -> Option<Cork> {
        set_cork(sock, 1).then_some(Cork(sock))
    }
    #[cfg(not(target_os = "linux"))]
    fn new(_sock: i32) -> Option<Cork> {
        None
    }
}

#[cfg(target_os = "linux")]
fn set_cork(sock: i32, on: libc::c_int) -> bool {
    let r = unsafe {
        libc::setsockopt(
            sock,
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
}

#[cfg(unix)]
impl Drop for Cork {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        set_cork(self.0, 0);
    }
}

/// File ranges up to this size are read and sent with the bytes around them (one sendmsg for
/// many small partitions); larger ones go by sendfile.
#[cfg(unix)]
const SMALL_FILE: u64 = 64 * 1024;
/// Most bytes gathered into one sendmsg.
#[cfg(unix)]
const GATHER_MAX: usize = 1 << 20;

#[cfg(unix)]
thread_local! {
    /// Where small file ranges are read before sending (the JS thread's, reused).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The last send_now on this thread stopped because the socket was full (EAGAIN), not
    /// because file data was (or could not be known to be) in the page cache.
    static STOPPED_FULL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the last send_now on the calling thread stopped at a full socket (EAGAIN): only then
/// does writing on through the socket stream make sense; otherwise the rest belongs to the pool.
#[cfg(unix)]
pub fn last_send_stopped_full() -> bool {
    STOPPED_FULL.with(|f| f.get())
}

/// One pread that does not wait for the disk (Linux: RWF_NOWAIT; None when the data is not in
/// the page cache). Where the flag is not supported: a plain pread, or None when `strict`.
#[cfg(target_os = "linux")]
fn pread_nowait(fd: i32, buf: &mut [u8], position: u64, strict: bool) -> Option<isize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let n = unsafe { libc::preadv2(fd, &iov, 1, position as libc::off_t, libc::RWF_NOWAIT) };
    if n < 0 {
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => return None,
            Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) | Some(libc::ENOSYS) => {
                if strict {
                    return None;
                }
            }
            _ => return Some(n),
        }
        return Some(unsafe {
            libc::pread(
                fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                position as libc::off_t,
            )
        });
    }
    Some(n)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn pread_nowait(fd: i32, buf: &mut [u8], position: u64, strict: bool) -> Option<isize> {
    if strict {
        return None;
    }
    Some(unsafe {
        libc::pread(
            fd,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            position as libc::off_t,
        )
    })
}

/// Whether every page of `[position, position + length)` is in the page cache, so sendfile(2) on
/// the calling (JS) thread will not wait for the disk. Linux ≥ 6.5 answers with cachestat(2);
/// elsewhere, or when the kernel does not have it, the answer is "no" and the caller leaves the
/// range to the pool.
#[cfg(target_os = "linux")]
fn resident(fd: i32, position: u64, length: u64) -> bool {
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    // cachestat has the same number on every architecture that has it (new system calls are
    // numbered uniformly since 5.x).
    const SYS_CACHESTAT: libc::c_long = 451;
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as u64,
        _ => return false,
    };
    let start = position / page * page;
    let end = (position + length).div_ceil(page) * page;
    let range = Range {
        off: start,
        len: end - start,
    };
    let mut stat = Stat::default();
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd,
            &range as *const Range,
            &mut stat as *mut Stat,
            0u32,
        )
    };
    r == 0 && stat.nr_cache >= (end - start) / page
}

#[cfg(all(unix, not(target_os = "linux")))]
fn resident(_fd: i32, _position: u64, _length: u64) -> bool {
    false
}

/// Reads exactly `buf.len()` bytes at `position` from the page cache; Ok(false) when some of it
/// would have to come from the disk (the caller leaves that range to the pool). Where RWF_NOWAIT
/// is not supported: a plain (possibly blocking) pread, or Ok(false) when `strict`.
#[cfg(unix)]
fn pread_full(fd: i32, buf: &mut [u8], position: u64, strict: bool) -> SResult<bool> {
    let mut done = 0usize;
    while done < buf.len() {
        let Some(n) = pread_nowait(fd, &mut buf[done..], position + done as u64, strict) else {
            return Ok(false);
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(storage_err("pread", e));
        }
        if n == 0 {
            return Err(StorageErr::new(
                KAFKA_STORAGE_ERROR,
                format!(
                    "sendFile: file ended at {} before {} bytes were read",
                    position + done as u64,
                    buf.len()
                ),
            ));
        }
        done += n as usize;
    }
    Ok(true)
}

/// Up to `length` bytes of `fd` at `position` from the page cache, on the calling thread without
/// waiting for the disk: None when some of it is not cached, or when the system cannot read
/// without waiting (no RWF_NOWAIT: the caller uses the pool). An error when the file ends first.
#[cfg(unix)]
pub fn read_cached(fd: i32, position: u64, length: usize) -> SResult<Option<Vec<u8>>> {
    let mut buf = vec![0u8; length];
    Ok(pread_full(fd, &mut buf, position, true)?.then_some(buf))
}

/// Sends `parts` in order to a non-blocking socket from the calling thread, never waiting: it
/// stops at the first EAGAIN (or where sendfile does not apply) and returns the bytes sent, so
/// the caller finishes the rest another way (the event loop for bytes, the pool for file data).
/// Most responses fit the socket buffer whole: then no thread hand-off happens at all.
#[cfg(unix)]
pub fn send_now(sock: i32, parts: &[Part]) -> SResult<u64> {
    // Several file ranges (a fetch over many partitions): corked, so the small ones share TCP
    // segments instead of each sendfile pushing its own; uncorked (flushed) on every way out.
    let files = parts
        .iter()
        .filter(|p| matches!(p, Part::File { length, .. } if *length > 0))
        .count();
    let _cork = if files >= 2 { Cork::new(sock) } else { None };
    STOPPED_FULL.with(|f| f.set(false));
    let mut total: u64 = 0;
    let mut i = 0;
    while i < parts.len() {
        match parts[i] {
            Part::File { length, .. } if length > SMALL_FILE => {}
            _ => {
                // In-memory parts and small file ranges (read into the scratch buffer) up to the
                // next large range, in one sendmsg: many small partitions cost one send, not
                // one sendfile each.
                let (j, sent_all) = SCRATCH.with(|scratch| -> SResult<(usize, bool)> {
                    let mut scratch = scratch.borrow_mut();
                    let mut j = i;
                    let mut gathered = 0usize;
                    let mut used = 0usize;
                    let mut cold = false;
                    // (is file data, start in scratch or index into parts, length)
                    let mut segs: Vec<(bool, usize, usize)> = Vec::new();
                    while j < parts.len() && gathered < GATHER_MAX {
                        match parts[j] {
                            Part::Bytes(b) => {
                                if !b.is_empty() {
                                    segs.push((false, j, b.len()));
                                    gathered += b.len();
                                }
                            }
                            Part::File {
                                fd,
                                position,
                                length,
                            } => {
                                if length > SMALL_FILE {
                                    break;
                                }
                                let len = length as usize;
                                let at = used;
                                used += len;
                                if scratch.len() < at + len {
                                    scratch.resize(at + len, 0);
                                }
                                if !pread_full(fd, &mut scratch[at..at + len], position, false)? {
                                    // Not in the page cache: send what is gathered, then stop
                                    // here; the caller reads this range off the event loop.
                                    cold = true;
                                    break;
                                }
                                segs.push((true, at, len));
                                gathered += len;
                            }
                        }
                        j += 1;
                    }
                    let bufs: Vec<&[u8]> = segs
                        .iter()
                        .map(|&(file, at, len)| {
                            if file {
                                &scratch[at..at + len]
                            } else {
                                match parts[at] {
                                    Part::Bytes(b) => b,
                                    Part::File { .. } => &[][..],
                                }
                            }
                        })
                        .collect();
                    let want: usize = bufs.iter().map(|b| b.len()).sum();
                    let mut sent = 0usize;
                    while sent < want {
                        // The buffers not yet (fully) sent.
                        let mut skip = sent;
                        let mut rest: Vec<&[u8]> = Vec::with_capacity(bufs.len());
                        for b in &bufs {
                            if skip >= b.len() {
                                skip -= b.len();
                            } else {
                                rest.push(&b[skip..]);
                                skip = 0;
                            }
                        }
                        match send_bytes(sock, &rest, j < parts.len())? {
                            Step::Sent(n) => {
                                sent += n;
                                total += n as u64;
                            }
                            Step::WouldBlock => {
                                STOPPED_FULL.with(|f| f.set(true));
                                return Ok((j, false));
                            }
                            Step::Unsupported => return Ok((j, false)),
                        }
                    }
                    Ok((j, !cold))
                })?;
                if !sent_all {
                    return Ok(total);
                }
                i = j;
                continue;
            }
        }
        match parts[i] {
            Part::Bytes(_) => i += 1,
            Part::File {
                fd,
                position,
                length,
            } => {
                // sendfile here runs on the JS thread: only for data already in the page cache,
                // never waiting for the disk; a cold range goes to the pool.
                if !resident(fd, position, length) {
                    return Ok(total);
                }
                let mut done: u64 = 0;
                while done < length {
                    let remaining = ((length - done) as usize).min(1 << 30);
                    match sendfile_once(sock, fd, position + done, remaining)? {
                        Step::Sent(0) => {
                            return Err(StorageErr::new(
                                KAFKA_STORAGE_ERROR,
                                format!(
                                    "sendFile: file ended at {} before {} bytes were sent",
                                    position + done,
                                    length
                                ),
                            ));
                        }
                        Step::Sent(n) => {
                            done += n as u64;
                            total += n as u64;
                        }
                        Step::WouldBlock => {
                            STOPPED_FULL.with(|f| f.set(true));
                            return Ok(total);
                        }
                        Step::Unsupported => return Ok(total),
                    }
                }
                i += 1;
            }
        }
    }
    Ok(total)
}

#[cfg(unix)]
#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::io::AsRawFd;

    #[test]
    fn sends_a_file_range_over_a_nonblocking_socket_with_a_slow_reader() {
        let dir = std::env::temp_dir().join(format!("spool-transfer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.log");
        let data: Vec<u8> = (0..(4 << 20))
            .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut out = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                std::thread::sleep(std::time::Duration::from_millis(1));
                let n = s.read(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..n]);
            }
            out
        });
        let client = std::net::TcpStream::connect(addr).unwrap();
        client.set_nonblocking(true).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let sock = OwnedFd::dup(client.as_raw_fd() as i64).unwrap();
        let f = OwnedFd::dup(file.as_raw_fd() as i64).unwrap();
        let sent = send_file(&sock, &f, 1000, (data.len() - 2000) as u64).unwrap();
        assert_eq!(sent, (data.len() - 2000) as u64);
        drop(sock);
        let mut client = client;
        client.flush().unwrap();
        drop(client);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), data.len() - 2000);
        assert!(got == data[1000..data.len() - 1000]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn send_now_leaves_a_small_range_that_is_not_in_the_page_cache_to_the_caller() {
        let dir = std::env::temp_dir().join(format!("spool-send-cold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.log");
        let data: Vec<u8> = (0..(256 << 10)).map(|i: u32| (i % 241) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        file.sync_all().unwrap();
        // Drop the file's pages (advice: the kernel may keep some, e.g. on tmpfs).
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let parts = [
            Part::Bytes(b"h"),
            Part::File {
                fd: file.as_raw_fd(),
                position: 100_000,
                length: 4000,
            },
        ];
        let sent = send_now(client.as_raw_fd(), &parts).unwrap();
        // Either the range came from the page cache, or nothing of it was sent (and never a
        // part of it).
        assert!(sent == 1 || sent == 4001, "sent {sent}");
        let mut got = vec![0u8; sent as usize];
        server.read_exact(&mut got).unwrap();
        assert_eq!(got[0], b'h');
        if sent == 4001 {
            assert!(got[1..] == data[100_000..104_000]);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn send_now_sends_a_large_range_only_when_it_is_in_the_page_cache() {
        let dir = std::env::temp_dir().join(format!("spool-send-large-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.log");
        let data: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 239) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // Just written: in the page cache. resident() says so wherever cachestat(2) exists.
        let warm = resident(file.as_raw_fd(), 200_000, 300_000);
        file.sync_all().unwrap();
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let cold = resident(file.as_raw_fd(), 200_000, 300_000);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let parts = [
            Part::Bytes(b"h"),
            Part::File {
                fd: file.as_raw_fd(),
                position: 200_000,
                length: 300_000,
            },
        ];
        let sent = send_now(client.as_raw_fd(), &parts).unwrap();
        if !cold {
            // Not resident (or no cachestat): nothing of the range goes out on this thread.
            assert_eq!(sent, 1, "warm={warm}");
        }
        if sent == 1 {
            // Stopped before the range, the socket had room: not a full socket.
            assert!(!last_send_stopped_full());
        }
        let mut got = vec![0u8; sent as usize];
        server.read_exact(&mut got).unwrap();
        assert_eq!(got[0], b'h');
        assert!(got[1..] == data[200_000..200_000 + (sent as usize - 1)]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn send_now_writes_bytes_and_file_ranges_in_order_and_stops_when_the_socket_is_full() {
        let dir = std::env::temp_dir().join(format!("spool-send-now-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.log");
        let data: Vec<u8> = (0..(8 << 20)).map(|i: u32| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let sock = client.as_raw_fd();
        let fd = file.as_raw_fd();
        // Small: all of it at once, in order.
        let parts = [
            Part::Bytes(b"head"),
            Part::File {
                fd,
                position: 10,
                length: 1000,
            },
            Part::Bytes(b""),
            Part::Bytes(b"mid"),
            Part::File {
                fd,
                position: 5,
                length: 7,
            },
            Part::Bytes(b"tail"),
        ];
        assert_eq!(send_now(sock, &parts).unwrap(), 4 + 1000 + 3 + 7 + 4);
        assert!(!last_send_stopped_full());
        let mut got = vec![0u8; 1018];
        server.read_exact(&mut got).unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[10..1010]);
        want.extend_from_slice(b"mid");
        want.extend_from_slice(&data[5..12]);
        want.extend_from_slice(b"tail");
        assert!(got == want);
        // Large, nobody reading: returns what fit, without waiting.
        let big = [
            Part::Bytes(b"h"),
            Part::File {
                fd,
                position: 0,
                length: data.len() as u64,
            },
        ];
        let sent = send_now(sock, &big).unwrap();
        assert!(sent > 1 && sent < 1 + data.len() as u64, "sent {sent}");
        assert!(last_send_stopped_full(), "stopped at a full socket");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
