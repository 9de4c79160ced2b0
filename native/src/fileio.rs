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
