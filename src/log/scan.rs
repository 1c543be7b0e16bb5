//! Finds the errors in a stream of user-visible log lines: `r(N);`, its message and the failing command.
//!
//! [`ErrorScanner`] reads one line at a time (the runner's own lines already removed) and keeps
//! only bounded state: the current command, the last few output lines, the open do-files and
//! a few captured-error candidates. It never keeps the log, so a 100 MB trace log costs the
//! same memory as a ten-line one.
//!
//! What it recognises (the specification, `../shared/stata-behavior.md`, sections 3 and 5):
//! - an uncaptured error: a line that is only `r(N);`. The first one is the run's error; the
//!   later ones are the trailers Stata prints for each enclosing do-file;
//! - `--Break--` followed by `r(1);`: an interruption;
//! - an error message that Stata printed without `r(N);` (`capture noisily`): a warning;
//! - a licence failure (`License is invalid`, a message about `stata.lic`) before any command.

use std::collections::VecDeque;

use crate::run::error::ErrorInfo;
use crate::stata::command::{DoVerb, do_target, strip_prefixes};
use crate::stata::log_lines::{body_number, echo_text, is_trace_rule, rc_line, trace_command};
use crate::stata::messages::{Audience, hint, known_message};
use crate::text::cut::{contains_ignore_ascii_case, cut_bytes};

/// At most this many lines of an error's message are kept (the last ones before `r(N);`).
const MAX_MESSAGE_LINES: usize = 20;
/// At most this many characters of an error's message are kept.
const MAX_MESSAGE_CHARS: usize = 2_000;
/// A command echo is kept up to this many characters.
const MAX_COMMAND_CHARS: usize = 2_000;
/// Open do-files remembered; deeper nesting is counted but not named.
const MAX_STACK: usize = 32;
/// Warnings kept; later ones are only counted.
const MAX_WARNINGS: usize = 20;
/// Captured-error candidates held while waiting to see whether `r(N);` follows.
const MAX_PENDING: usize = 32;
/// The licence message is kept up to this many characters.
const MAX_LICENSE_CHARS: usize = 1_000;
/// Stata's default line size in batch logs: an echo line this long was wrapped by Stata.
const WRAP_WIDTH: usize = 79;
/// A do-file name on the stack is kept up to this many bytes.
const MAX_DO_NAME: usize = 500;

/// What the scanner found, once the log is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The error that ended the run: the first uncaptured `r(N);`.
    pub error: Option<ErrorInfo>,
    /// Errors whose message was printed but which did not stop the run (`capture noisily`).
    /// Their code is read from the message (Stata logs no `r(N);` for them); identical ones
    /// are reported once.
    pub warnings: Vec<ErrorInfo>,
    /// Warnings found beyond the first [`MAX_WARNINGS`] distinct ones.
    pub warnings_omitted: u64,
    /// Stata was interrupted (`--Break--` then `r(1);`, or `--Break--` as the last word).
    pub interrupted: bool,
    /// Stata refused to run because of its licence: the message it printed.
    pub license: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    /// Nothing yet, a blank line, `end of do-file`, `r(N);`.
    #[default]
    Other,
    /// A command echo (`. cmd`), possibly continued by `> ` lines.
    Echo,
    /// A numbered line of a loop or program body echoed before it runs.
    Body,
    /// A `set trace on` line (`- cmd`, `= cmd`, a begin/end rule).
    Trace,
    /// Anything else: what commands print.
    Output,
}

#[derive(Debug, Clone)]
struct DoFile {
    path: String,
    /// Run without output (`run`, `quietly do`): no echo and no `end of do-file` will show.
    silent: bool,
}

#[derive(Debug, Clone)]
struct Candidate {
    code: i32,
    message: String,
    command: Option<String>,
    line_no: u64,
}

/// Streaming error finder over user-visible log lines. See the module documentation.
#[derive(Debug, Default)]
pub struct ErrorScanner {
    line_no: u64,
    kind: Kind,
    /// Characters in the previous line (to tell Stata's wrapping from a source line break).
    prev_len: usize,
    seen_echo: bool,

    /// The current top-level command, continuation lines joined.
    command: String,
    command_full: bool,
    /// Its echo starts with `capture noisily` (or `cap noi`, `cap n`, ...).
    command_cap_noi: bool,
    /// The latest trace line (`- cmd`) at its depth is a `capture noisily` command: its
    /// indentation and text.
    trace_cap_noi: Option<(usize, String)>,
    /// Expected number of the next body line while a loop or program body is being echoed.
    body_next: Option<u32>,

    /// Output lines since the last echo or trace command (the last few).
    message: VecDeque<String>,
    message_chars: usize,
    message_start: u64,

    stack: Vec<DoFile>,
    /// Do-files opened beyond [`MAX_STACK`].
    stack_hidden: usize,
    /// The do-file pushed by the previous line: its opening is confirmed by the next line.
    just_pushed: bool,

    pending: Vec<Candidate>,
    warnings: Vec<ErrorInfo>,
    warnings_omitted: u64,

    error: Option<ErrorInfo>,
    /// A `--Break--` line was seen.
    saw_break: bool,
    /// The last non-blank line was `--Break--`.
    break_last: bool,
    interrupted: bool,
    license: Option<String>,
    working_dir: Option<String>,
}

impl ErrorScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names Stata's working directory in the hint of a `file ... not found` error.
    pub fn with_working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Feeds one complete line, without its newline.
    pub fn push_line(&mut self, line: &str) {
        self.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let len = if line.is_ascii() {
            line.len()
        } else {
            line.chars().count()
        };
        self.classify(line);
        self.prev_len = len;
    }

    fn classify(&mut self, line: &str) {
        let trimmed = line.trim();

        if !self.seen_echo && self.check_license(trimmed) {
            self.kind = Kind::Other;
            return;
        }

        // A continuation line: `> ` at column 0.
        if let Some(rest) = line.strip_prefix('>')
            && (rest.is_empty() || rest.starts_with(' '))
        {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            match self.kind {
                Kind::Echo => self.continue_command(rest),
                Kind::Output => self.continue_message(rest),
                _ => {}
            }
            return;
        }

        if self.just_pushed {
            self.just_pushed = false;
            // `do missing.do` fails before the file opens: it is not on the stack.
            if matches!(known_message(line.trim_end()), Some((601 | 603, _))) {
                self.pop_do_file();
            }
        }

        if trimmed.is_empty() {
            self.body_next = None;
            self.kind = Kind::Other;
            return;
        }
        if trimmed != "--Break--" {
            self.break_last = false;
        }

        if let Some(code) = rc_line(trimmed) {
            // `display "r(198);"` prints the very text of its echo: output, not an error.
            if self.kind == Kind::Echo && self.command.contains(trimmed) {
                self.on_output(line);
                return;
            }
            self.on_rc(code);
            self.kind = Kind::Other;
            return;
        }
        if trimmed == "end of do-file" {
            self.on_end_of_do_file();
            self.kind = Kind::Other;
            return;
        }
        if trimmed == "--Break--" {
            self.saw_break = true;
            self.break_last = true;
            self.kind = Kind::Other;
            return;
        }

        // Echoes of a loop or program body: numbered from 1 or 2, right after the echo.
        if let Some(n) = body_number(line)
            && matches!(self.kind, Kind::Echo | Kind::Body)
        {
            let expected = self.body_next.unwrap_or(0);
            let starts = self.kind == Kind::Echo && self.body_next.is_none() && (n == 1 || n == 2);
            if starts || n == expected {
                self.body_next = Some(n + 1);
                self.kind = Kind::Body;
                return;
            }
        }

        if let Some(cmd) = echo_text(line) {
            if self.body_next.is_some() {
                // Inside a body being echoed, Stata echoes some lines with `. ` (comments,
                // lines after a blank one); they belong to the block, not a new command.
                self.kind = Kind::Body;
                return;
            }
            self.on_echo(cmd);
            return;
        }

        self.body_next = None;
        if let Some(cmd) = trace_command(line) {
            let indent = line.len() - line.trim_start_matches(' ').len();
            self.on_trace(indent, cmd);
            self.kind = Kind::Trace;
            return;
        }
        if is_trace_rule(trimmed) {
            self.kind = Kind::Trace;
            return;
        }
        self.on_output(line);
    }

    /// A licence failure printed before any command. Returns whether the line was one.
    fn check_license(&mut self, trimmed: &str) -> bool {
        if trimmed.is_empty() || trimmed == "." || trimmed.starts_with(". ") {
            return false;
        }
        let is_license = trimmed.eq_ignore_ascii_case("license is invalid")
            || contains_ignore_ascii_case(trimmed.as_bytes(), b"stata.lic");
        match &mut self.license {
            None if is_license => {
                self.license = Some(cut_bytes(trimmed, MAX_LICENSE_CHARS).to_owned());
                true
            }
            Some(text) if !trimmed.starts_with(". ") => {
                // What Stata printed after the licence message belongs to it.
                if text.len() + trimmed.len() < MAX_LICENSE_CHARS {
                    text.push('\n');
                    text.push_str(trimmed);
                }
                true
            }
            _ => false,
        }
    }

    fn on_echo(&mut self, cmd: &str) {
        self.seen_echo = true;
        self.kind = Kind::Echo;

        // The error was followed by more commands: it was captured (`capture noisily do`).
        if let Some(err) = self.error.take() {
            if self.interrupted {
                self.error = Some(err);
            } else {
                self.add_warning(err);
            }
        }
        self.commit_pending();

        // Do-files run silently show no echo: a new echo means they are over.
        while self.stack.last().is_some_and(|d| d.silent) && self.stack_hidden == 0 {
            self.stack.pop();
        }

        self.command.clear();
        self.command_full = false;
        self.append_command(cmd);
        self.trace_cap_noi = None;
        self.clear_message();

        let prefixed = strip_prefixes(cmd);
        self.command_cap_noi = prefixed.capture_noisily;
        if let Some(target) = do_target(prefixed.rest) {
            let silent = prefixed.silent || target.verb == DoVerb::Run;
            self.push_do_file(cut_bytes(&target.name, MAX_DO_NAME).to_owned(), silent);
        }
    }

    fn continue_command(&mut self, rest: &str) {
        if self.prev_len < WRAP_WIDTH {
            // A line break in the source (`///`, `#delimit ;`, a comment): not Stata's wrapping.
            let kept = self.command.trim_end().len();
            self.command.truncate(kept);
            if let Some(s) = self.command.strip_suffix("///") {
                let kept = s.trim_end().len();
                self.command.truncate(kept);
            }
            if !self.command.is_empty() {
                self.command.push(' ');
            }
            self.append_command(rest.trim_start());
        } else {
            self.append_command(rest);
        }
        // A wrapped echo's continuation may reveal `capture noisily` only now (rare); recheck.
        self.command_cap_noi = strip_prefixes(&self.command).capture_noisily;
    }

    fn append_command(&mut self, text: &str) {
        if self.command_full {
            return;
        }
        let room = MAX_COMMAND_CHARS.saturating_sub(self.command.len());
        if text.len() <= room {
            self.command.push_str(text);
        } else {
            self.command.push_str(cut_bytes(text, room));
            self.command.push('…');
            self.command_full = true;
        }
    }

    fn on_trace(&mut self, indent: usize, cmd: &str) {
        self.clear_message();
        // Lines deeper than a `capture noisily` line run inside it (the captured command's code).
        if self
            .trace_cap_noi
            .as_ref()
            .is_some_and(|(d, _)| indent > *d)
        {
            return;
        }
        if strip_prefixes(cmd).capture_noisily {
            let mut text = self
                .trace_cap_noi
                .take()
                .map(|(_, t)| t)
                .unwrap_or_default();
            text.clear();
            text.push_str(cut_bytes(cmd.trim_end(), MAX_COMMAND_CHARS));
            self.trace_cap_noi = Some((indent, text));
        } else {
            self.trace_cap_noi = None;
        }
    }

    fn on_output(&mut self, line: &str) {
        self.kind = Kind::Output;
        self.push_message(line.trim_end());

        if let Some((code, strong)) = known_message(line.trim_end()) {
            let captured = self.command_cap_noi || self.trace_cap_noi.is_some();
            if strong || captured {
                let command = match &self.trace_cap_noi {
                    Some((_, t)) => Some(t.clone()),
                    None => self.current_command(),
                };
                if self.pending.len() >= MAX_PENDING {
                    let first = self.pending.remove(0);
                    self.add_candidate_warning(first);
                }
                self.pending.push(Candidate {
                    code,
                    message: line.trim().to_owned(),
                    command,
                    line_no: self.line_no,
                });
            }
        }
    }

    fn on_rc(&mut self, code: i32) {
        if self.error.is_some() {
            // A trailer of the same error, printed by an enclosing do-file.
            return;
        }
        let interrupted = code == 1 && (self.break_last || self.saw_break);
        // The candidate printed just before is this error's message, not a warning.
        let mut pending = std::mem::take(&mut self.pending);
        if let Some(last) = pending.last()
            && last.code == code
            && last.line_no >= self.message_start
        {
            pending.pop();
        }
        for c in pending {
            self.add_candidate_warning(c);
        }

        let mut err = ErrorInfo::new(code, String::new());
        if interrupted {
            self.interrupted = true;
            err.message = "--Break--".to_owned();
        } else {
            err.message = self.message_text(code);
        }
        err.command = self.current_command();
        err.stack = self.stack_names();
        err.hint = hint(
            code,
            &err.message,
            err.command.as_deref(),
            self.working_dir.as_deref(),
            Audience::Model,
        );
        self.error = Some(err);
        self.break_last = false;
        self.clear_message();
    }

    fn on_end_of_do_file(&mut self) {
        if self.error.is_some() {
            return;
        }
        while self.stack.last().is_some_and(|d| d.silent) && self.stack_hidden == 0 {
            self.stack.pop();
        }
        self.pop_do_file();
        self.commit_pending();
        self.clear_message();
    }

    fn push_do_file(&mut self, path: String, silent: bool) {
        if self.stack.len() >= MAX_STACK {
            self.stack_hidden += 1;
        } else {
            self.stack.push(DoFile { path, silent });
        }
        self.just_pushed = true;
    }

    fn pop_do_file(&mut self) {
        if self.stack_hidden > 0 {
            self.stack_hidden -= 1;
        } else {
            self.stack.pop();
        }
    }

    fn stack_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.stack.iter().map(|d| d.path.clone()).collect();
        if self.stack_hidden > 0 {
            names.push(format!("… {} more", self.stack_hidden));
        }
        names
    }

    fn current_command(&self) -> Option<String> {
        let c = self.command.trim();
        if c.is_empty() {
            None
        } else {
            Some(c.to_owned())
        }
    }

    // --- the message lines ---------------------------------------------------------------

    fn clear_message(&mut self) {
        self.message.clear();
        self.message_chars = 0;
        self.message_start = self.line_no;
    }

    fn push_message(&mut self, line: &str) {
        let line = cut_bytes(line, MAX_MESSAGE_CHARS);
        let mut buf = if self.message.len() >= MAX_MESSAGE_LINES {
            let old = self.message.pop_front().unwrap_or_default();
            self.message_chars -= old.len();
            old
        } else {
            String::new()
        };
        buf.clear();
        buf.push_str(line);
        self.message_chars += buf.len();
        self.message.push_back(buf);
        while self.message_chars > MAX_MESSAGE_CHARS && self.message.len() > 1 {
            let old = self.message.pop_front().unwrap_or_default();
            self.message_chars -= old.len();
        }
    }

    fn continue_message(&mut self, rest: &str) {
        if let Some(last) = self.message.back_mut() {
            let room = MAX_MESSAGE_CHARS.saturating_sub(last.len());
            let add = cut_bytes(rest, room);
            last.push_str(add);
            self.message_chars += add.len();
            while self.message_chars > MAX_MESSAGE_CHARS && self.message.len() > 1 {
                let old = self.message.pop_front().unwrap_or_default();
                self.message_chars -= old.len();
            }
        }
    }

    /// The message of an error with `code`: the output lines before `r(N);`, starting at the
    /// last line that is a known message for this code, if any (earlier lines are the
    /// output of the loop or program that failed).
    fn message_text(&self, code: i32) -> String {
        let start = self
            .message
            .iter()
            .rposition(|l| known_message(l).is_some_and(|(c, _)| c == code))
            .unwrap_or(0);
        let lines: Vec<&str> = self
            .message
            .iter()
            .skip(start)
            .map(String::as_str)
            .collect();
        lines.join("\n")
    }

    // --- warnings ------------------------------------------------------------------------

    fn commit_pending(&mut self) {
        for c in std::mem::take(&mut self.pending) {
            self.add_candidate_warning(c);
        }
    }

    fn add_candidate_warning(&mut self, c: Candidate) {
        let mut w = ErrorInfo::new(c.code, c.message);
        w.command = c.command;
        self.add_warning(w);
    }

    fn add_warning(&mut self, w: ErrorInfo) {
        let seen = self
            .warnings
            .iter()
            .any(|x| x.code == w.code && x.message == w.message && x.command == w.command);
        if seen {
            return;
        }
        if self.warnings.len() >= MAX_WARNINGS {
            self.warnings_omitted += 1;
        } else {
            self.warnings.push(w);
        }
    }

    /// The log is complete.
    pub fn finish(mut self) -> Scan {
        self.commit_pending();
        if self.break_last {
            // Stopped right after `--Break--`, before `r(1);` reached the log.
            self.interrupted = true;
            if self.error.is_none() {
                let mut err = ErrorInfo::new(1, "--Break--");
                err.command = self.current_command();
                err.stack = self.stack_names();
                self.error = Some(err);
            }
        }
        Scan {
            error: self.error,
            warnings: self.warnings,
            warnings_omitted: self.warnings_omitted,
            interrupted: self.interrupted,
            license: self.license,
        }
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
