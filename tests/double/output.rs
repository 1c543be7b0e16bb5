//! Where Stata's text goes: the batch log, `log using` logs, and console stdout.
//!
//! Every line passes through [`Out`], which wraps it at the line size with `> `
//! continuation lines (as Stata does at 79 columns) and copies it to each open sink.
//! Logs are unbuffered and written a line at a time, so a reader tailing them sees
//! each line promptly; console stdout is block-buffered when it is not a terminal,
//! like real Stata's, so a runner cannot stream from it.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;

/// Stata's default line size in batch logs and non-terminal consoles.
pub(crate) const LINESIZE: usize = 79;

/// Splits a line the way Stata wraps long lines: the first piece holds `width`
/// characters, every following piece starts with `> ` and holds `width - 2` more.
pub(crate) fn wrap(line: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= width {
        return vec![line.to_string()];
    }
    let mut pieces = vec![chars[..width].iter().collect::<String>()];
    let mut rest = &chars[width..];
    let step = width.saturating_sub(2).max(1);
    while !rest.is_empty() {
        let n = rest.len().min(step);
        pieces.push(format!("> {}", rest[..n].iter().collect::<String>()));
        rest = &rest[n..];
    }
    pieces
}

/// Whether a line is the echo of a command or output, which only matters to SMCL logs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Echo,
    Output,
}

/// A log file written line by line with no user-space buffering.
pub(crate) struct LogSink {
    file: File,
    smcl: bool,
}

impl LogSink {
    pub(crate) fn new(file: File, smcl: bool) -> io::Result<Self> {
        let mut sink = LogSink { file, smcl };
        if smcl {
            sink.file.write_all(b"{smcl}\n")?;
        }
        Ok(sink)
    }

    /// Writes one physical line. The text and its newline go out in two writes, so a
    /// reader racing the writer can see a partial last line, as the spec warns.
    pub(crate) fn write_line(&mut self, text: &str, kind: Kind) -> io::Result<()> {
        let tagged;
        let text = if self.smcl {
            tagged = format!(
                "{}{}",
                if kind == Kind::Echo { "{com}" } else { "{txt}" },
                text
            );
            tagged.as_str()
        } else {
            text
        };
        if !text.is_empty() {
            self.file.write_all(text.as_bytes())?;
        }
        self.file.write_all(b"\n")
    }

    /// Writes preformatted complete lines in one go (`_double burst`).
    pub(crate) fn write_bulk(&mut self, block: &[u8]) -> io::Result<()> {
        self.file.write_all(block)
    }
}

/// A log opened with `log using`.
pub(crate) struct UserLog {
    /// `<unnamed>` for the unnamed log, as `log query` shows it.
    pub name: String,
    pub path: PathBuf,
    pub smcl: bool,
    pub on: bool,
    pub sink: LogSink,
}

/// Console stdout: block-buffered unless it is a terminal.
pub(crate) struct Console {
    writer: Box<dyn Write>,
    /// Lines written since the last `--more--` (only counted when more is on).
    lines_on_page: usize,
}

impl Console {
    pub(crate) fn new() -> io::Result<Self> {
        let stdout = io::stdout();
        let tty = stdout.is_terminal();
        // Rust's own stdout is line-buffered; write to a duplicate of fd 1 instead so
        // that the buffering policy is ours: 4 KiB blocks, like C stdio on a pipe.
        let file = File::from(stdout.as_fd().try_clone_to_owned()?);
        let writer: Box<dyn Write> = if tty {
            Box::new(io::LineWriter::new(file))
        } else {
            Box::new(BufWriter::with_capacity(4096, file))
        };
        Ok(Console {
            writer,
            lines_on_page: 0,
        })
    }

    pub(crate) fn write_str(&mut self, s: &str) {
        // A closed stdout (the reader went away) must not kill a batch of work mid-way;
        // real Stata carries on writing its logs too.
        let _ = self.writer.write_all(s.as_bytes());
    }

    pub(crate) fn flush(&mut self) {
        let _ = self.writer.flush();
    }
}

/// Screen height used for `--more--` paging when more is on.
const PAGE_LINES: usize = 23;

/// All the places output goes to, plus the `quietly` state.
pub(crate) struct Out {
    pub batch: Option<LogSink>,
    pub logs: Vec<UserLog>,
    pub console: Option<Console>,
    /// True under `quietly` (and `capture`): output lines are dropped.
    pub quiet: bool,
    /// `set more on`: console output pauses at `--more--` every screenful.
    pub more: bool,
    /// Called to wait for a key at `--more--`; returns false at end of input.
    pub more_wait: Option<Box<dyn FnMut() -> bool>>,
    pub linesize: usize,
    /// Set when a log write fails, reported once on stderr.
    warned: bool,
}

impl Out {
    pub(crate) fn new() -> Self {
        Out {
            batch: None,
            logs: Vec::new(),
            console: None,
            quiet: false,
            more: false,
            more_wait: None,
            linesize: LINESIZE,
            warned: false,
        }
    }

    /// The echo of a command (`. cmd`, `  2.     body line`), wrapped.
    pub(crate) fn echo(&mut self, text: &str) {
        self.emit(text, Kind::Echo);
    }

    /// One line of output, wrapped.
    pub(crate) fn line(&mut self, text: &str) {
        self.emit(text, Kind::Output);
    }

    pub(crate) fn blank(&mut self) {
        self.emit("", Kind::Output);
    }

    fn emit(&mut self, text: &str, kind: Kind) {
        if self.quiet {
            return;
        }
        for piece in wrap(text, self.linesize) {
            self.raw_line(&piece, kind);
        }
    }

    /// Writes a line that is already wrapped (or must not be) to every sink.
    pub(crate) fn raw_line(&mut self, text: &str, kind: Kind) {
        let mut failed = None;
        if let Some(b) = self.batch.as_mut()
            && let Err(e) = b.write_line(text, kind)
        {
            failed = Some(e);
        }
        for log in self.logs.iter_mut().filter(|l| l.on) {
            if let Err(e) = log.sink.write_line(text, kind) {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            self.warn(e);
        }
        if self.console.is_some() {
            self.console_line(text);
        }
    }

    fn console_line(&mut self, text: &str) {
        let Some(c) = self.console.as_mut() else {
            return;
        };
        c.write_str(text);
        c.write_str("\n");
        if !self.more {
            return;
        }
        c.lines_on_page += 1;
        if c.lines_on_page < PAGE_LINES {
            return;
        }
        c.lines_on_page = 0;
        // The one moment real Stata must show its screen: it is waiting for a key.
        c.write_str("--more--");
        c.flush();
        if let Some(wait) = self.more_wait.as_mut() {
            wait();
        }
        if let Some(c) = self.console.as_mut() {
            c.write_str("\n");
        }
    }

    /// Resets the `--more--` page count (a new command starts a new page).
    pub(crate) fn new_page(&mut self) {
        if let Some(c) = self.console.as_mut() {
            c.lines_on_page = 0;
        }
    }

    /// Echoes a command typed at the console prompt. The prompt `. ` is already on
    /// stdout, so stdout gets the rest; the logs get the whole `. cmd` line.
    pub(crate) fn prompt_echo(&mut self, prompt: &str, cmd: &str) {
        let pieces = wrap(&format!("{prompt}{cmd}"), self.linesize);
        let console = self.console.take();
        for p in &pieces {
            self.raw_line(p, Kind::Echo);
        }
        self.console = console;
        if let Some(c) = self.console.as_mut() {
            for (k, p) in pieces.iter().enumerate() {
                let text = if k == 0 {
                    p.get(prompt.len()..).unwrap_or("")
                } else {
                    p.as_str()
                };
                c.write_str(text);
                c.write_str("\n");
            }
        }
    }

    /// Writes text to console stdout only, without a newline (the prompt).
    pub(crate) fn console_text(&mut self, text: &str) {
        if let Some(c) = self.console.as_mut() {
            c.write_str(text);
        }
    }

    /// Many complete lines at once, for `_double burst`: one write per sink.
    pub(crate) fn bulk(&mut self, block: &str) {
        self.bulk_bytes(block.as_bytes());
    }

    /// Complete lines as bytes, whatever their encoding (`_double replay`).
    pub(crate) fn bulk_bytes(&mut self, block: &[u8]) {
        if self.quiet {
            return;
        }
        let mut failed = None;
        if let Some(b) = self.batch.as_mut()
            && let Err(e) = b.write_bulk(block)
        {
            failed = Some(e);
        }
        for log in self.logs.iter_mut().filter(|l| l.on) {
            if let Err(e) = log.sink.write_bulk(block) {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            self.warn(e);
        }
        if let Some(c) = self.console.as_mut() {
            c.write_str(&String::from_utf8_lossy(block));
        }
    }

    pub(crate) fn flush_console(&mut self) {
        if let Some(c) = self.console.as_mut() {
            c.flush();
        }
    }

    fn warn(&mut self, e: io::Error) {
        if !self.warned {
            self.warned = true;
            eprintln!("stata-double: log write failed: {e}");
        }
    }
}

/// Local time as Stata prints it in log headers: `22 Nov 2026, 05:51:33`.
pub(crate) fn stata_timestamp() -> String {
    let (date, time) = local_date_time();
    format!("{date}, {time}")
}

/// (`22 Nov 2026`, `05:51:33`) in local time, as `c(current_date)` / `c(current_time)`.
pub(crate) fn local_date_time() -> (String, String) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as nix::libc::time_t)
        .unwrap_or(0);
    // SAFETY: localtime_r writes into the zeroed struct we own; no shared state.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&now, &mut tm).is_null() };
    if !ok {
        return ("1 Jan 1970".into(), "00:00:00".into());
    }
    let month = MONTHS[(tm.tm_mon.clamp(0, 11)) as usize];
    (
        format!("{:2} {} {}", tm.tm_mday, month, tm.tm_year + 1900)
            .trim_start()
            .to_string(),
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec),
    )
}
