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
}
