//! Follows a growing log file and hands out its new complete lines, holding back a partial last line.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Reads what has been appended to a file since the last call.
///
/// Polling a plain file is used rather than filesystem notifications: it is the same
/// code on Linux, macOS and Windows, works on network drives, and costs one `read`
/// returning 0 per poll when nothing is new (see docs/performance.md for the latency).
pub(crate) struct LogTail {
    path: PathBuf,
    file: Option<File>,
    /// Bytes after the last newline: a line Stata has not finished writing yet.
    partial: Vec<u8>,
    /// Total bytes read so far.
    offset: u64,
    chunk: Vec<u8>,
    /// The last poll stopped at its read limit with more to read.
    behind: bool,
}

/// Most bytes one `poll` reads. When Stata floods faster than lines are processed, an
/// unbounded poll would run until the flood ends, holding its thread, so no progress frame
/// or heartbeat could go out meanwhile; the caller yields between polls instead.
const MAX_READ_PER_POLL: u64 = 1 << 20;

/// Longest partial line kept while waiting for its newline; a longer one is handed out as is
/// so a run that prints without newlines cannot grow memory without bound.
const MAX_PARTIAL: usize = 1 << 20;

impl LogTail {
    pub(crate) fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            file: None,
            partial: Vec::new(),
            offset: 0,
            chunk: vec![0; 64 * 1024],
            behind: false,
        }
    }

    /// Whether the last poll stopped at its read limit: poll again soon, after yielding.
    pub(crate) fn behind(&self) -> bool {
        self.behind
    }

    /// Reads to the end of what is written now, however much that is (the run is over).
    pub(crate) fn drain(&mut self, mut on_line: impl FnMut(&[u8])) -> io::Result<()> {
        self.poll(&mut on_line)?;
        while self.behind {
            self.poll(&mut on_line)?;
        }
        Ok(())
    }

    /// Bytes of log read so far.
    #[cfg(test)]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads what is new (up to a limit, see [`LogTail::behind`]) and calls `on_line` for
    /// each complete line, its newline included (so a reader can count bytes). Returns whether anything was read. A log that does not exist yet
    /// (Stata still starting) is not an error.
    pub(crate) fn poll(&mut self, mut on_line: impl FnMut(&[u8])) -> io::Result<bool> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(false);
        };
        let mut any = false;
        let limit = self.offset + MAX_READ_PER_POLL;
        self.behind = false;
        loop {
            let n = match file.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            any = true;
            self.offset += n as u64;
            let mut data = &self.chunk[..n];
            while let Some(pos) = data.iter().position(|&b| b == b'\n') {
                if self.partial.is_empty() {
                    on_line(&data[..=pos]);
                } else {
                    self.partial.extend_from_slice(&data[..=pos]);
                    on_line(&self.partial);
                    self.partial.clear();
                }
                data = &data[pos + 1..];
            }
            self.partial.extend_from_slice(data);
            if self.partial.len() > MAX_PARTIAL {
                on_line(&self.partial);
                self.partial.clear();
            }
            if n < self.chunk.len() {
                break;
            }
            if self.offset >= limit {
                self.behind = true;
                break;
            }
        }
        Ok(any)
    }

    /// The run is over: hand out a last line that never got its newline.
    pub(crate) fn finish(&mut self, mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            on_line(&self.partial);
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(tail: &mut LogTail) -> Vec<String> {
        let mut out = Vec::new();
        tail.poll(|l| out.push(String::from_utf8_lossy(l).into_owned()))
            .expect("poll");
        out
    }

    #[test]
    fn partial_lines_are_held_until_their_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let mut tail = LogTail::new(&path);
        assert!(
            collect(&mut tail).is_empty(),
            "missing file is not an error"
        );

        let mut f = File::create(&path).expect("create");
        f.write_all(b"first\nsec").expect("write");
        assert_eq!(collect(&mut tail), vec!["first\n"], "with its newline");
        f.write_all(b"ond\r\nthird").expect("write");
        assert_eq!(collect(&mut tail), vec!["second\r\n"]);
        let mut rest = Vec::new();
        tail.finish(|l| rest.push(String::from_utf8_lossy(l).into_owned()));
        assert_eq!(rest, vec!["third"]);
        assert_eq!(tail.offset(), 19);
    }

    #[test]
    fn a_flood_is_read_in_bounded_steps_and_drained_at_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let line = "x".repeat(99) + "\n";
        std::fs::write(&path, line.repeat(30_000)).expect("write");
        let mut tail = LogTail::new(&path);
        let mut lines = 0;
        tail.poll(|_| lines += 1).expect("poll");
        assert!(tail.behind(), "3 MB cannot be read in one step");
        assert!(lines < 30_000);
        tail.drain(|_| lines += 1).expect("drain");
        assert!(!tail.behind());
        assert_eq!(lines, 30_000);
    }
}
