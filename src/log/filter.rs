//! Separates the user's output from the runner's own lines in a streaming log: banner and
//! wrapper lines before the user's code, and the `end of do-file` trailer after it.

use std::collections::VecDeque;

use crate::stata::log_lines::rc_line;

/// Lines kept from before the user's code starts, for reporting start-up failures
/// (a licence message, a failed `cd`): the last few, not all, since a banner is long.
const PRE_START_KEEP: usize = 40;
/// Trailer-like lines held back at most; past this they cannot all be a trailer.
const MAX_HELD: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Banner, licence block and wrapper lines: dropped.
    BeforeStart,
    /// Just saw the opening echo; the blank line Stata prints after it is the runner's.
    AfterStart,
    /// The user's code is running.
    Inside,
    /// The end sentinel's echo was seen (session mode): the rest is the runner's.
    Ended,
}

/// A streaming filter over decoded log lines.
///
/// The user region opens at `start_echo`, the echo of the wrapper's last command.
/// Inside it, lines that look like a do-file trailer (blank, `. `, `end of do-file`,
/// `r(N);`) are held back until a line of real output proves they were not the end;
/// at `finish` the held lines up to the first `end of do-file` are kept (that keeps an
/// error's `r(N);`) and the rest, the runner's own trailer, is dropped.
pub struct RunnerFilter {
    start_echo: String,
    /// Session mode: the echo of the sentinel command that follows the user's code.
    end_echo: Option<String>,
    /// Session mode: the text the sentinel prints, followed by the return code.
    end_output: Option<String>,
    /// The return code the sentinel printed, once seen: the call is over.
    end_rc: Option<i32>,
    state: State,
    /// Held lines, each with where it ends in the log (as the caller counts).
    held: VecDeque<(String, u64)>,
    pre_start: VecDeque<String>,
}

fn is_trailer_like(line: &str) -> bool {
    let t = line.trim_end();
    t.is_empty() || t == "." || t == "end of do-file" || rc_line(t).is_some()
}

fn is_blank_echo(line: &str) -> bool {
    let t = line.trim_end();
    t.is_empty() || t == "."
}

impl RunnerFilter {
    pub fn new(start_echo: impl Into<String>) -> Self {
        Self {
            start_echo: start_echo.into(),
            end_echo: None,
            end_output: None,
            end_rc: None,
            state: State::BeforeStart,
            held: VecDeque::new(),
            pre_start: VecDeque::new(),
        }
    }

    /// Session mode: the user's code ends where `echo` (the sentinel command's echo) appears,
    /// and the call is over when the sentinel's output, `output` followed by a number, is seen.
    pub fn with_end(mut self, echo: impl Into<String>, output: impl Into<String>) -> Self {
        self.end_echo = Some(echo.into());
        self.end_output = Some(output.into());
        self
    }

    /// Session mode: the number the sentinel printed once it has run (the call is over).
    pub fn ended_with(&self) -> Option<i32> {
        self.end_rc
    }

    /// Whether the user's code was reached at all.
    pub fn started(&self) -> bool {
        self.state != State::BeforeStart
    }

    /// The non-blank lines seen before the user's code (the last few of them).
    pub fn pre_start_lines(&self) -> impl Iterator<Item = &str> {
        self.pre_start.iter().map(String::as_str)
    }

    /// Feeds one line; calls `emit` for each line the user should see, in order.
    pub fn push(&mut self, line: &str, mut emit: impl FnMut(&str)) {
        self.push_at(line, 0, |l, _| emit(l));
    }

    /// The log is complete (or the run was stopped): emits what of the held lines is the user's.
    pub fn finish(&mut self, mut emit: impl FnMut(&str)) {
        self.finish_at(|l, _| emit(l));
    }

    /// As [`RunnerFilter::push`], for a line that ends at `end` in the log; each line emitted
    /// comes with its own end, so the caller knows where the user's region of the log ends.
    pub fn push_at(&mut self, line: &str, end: u64, mut emit: impl FnMut(&str, u64)) {
        match self.state {
            State::BeforeStart => {
                if line.trim_end() == self.start_echo {
                    self.state = State::AfterStart;
                } else if !line.trim().is_empty() {
                    if self.pre_start.len() == PRE_START_KEEP {
                        self.pre_start.pop_front();
                    }
                    self.pre_start.push_back(line.to_owned());
                }
            }
            State::AfterStart => {
                self.state = State::Inside;
                if !line.trim().is_empty() {
                    self.push_at(line, end, emit);
                }
            }
            State::Ended => {
                if self.end_rc.is_none()
                    && let Some(rest) = self
                        .end_output
                        .as_deref()
                        .and_then(|marker| line.trim().strip_prefix(marker))
                {
                    self.end_rc = Some(rest.trim().parse().unwrap_or(0));
                }
            }
            State::Inside if self.end_echo.as_deref() == Some(line.trim_end()) => {
                self.state = State::Ended;
                self.finish_at(emit);
            }
            State::Inside => {
                if is_trailer_like(line) {
                    if self.held.len() == MAX_HELD
                        && let Some((old, at)) = self.held.pop_front()
                    {
                        emit(&old, at);
                    }
                    self.held.push_back((line.to_owned(), end));
                } else {
                    for (h, at) in self.held.drain(..) {
                        emit(&h, at);
                    }
                    emit(line, end);
                }
            }
        }
    }

    /// As [`RunnerFilter::finish`], each line emitted with its end in the log.
    pub fn finish_at(&mut self, mut emit: impl FnMut(&str, u64)) {
        let end = self
            .held
            .iter()
            .position(|(l, _)| l.trim_end() == "end of do-file")
            .unwrap_or(self.held.len());
        let mut keep: Vec<(String, u64)> = self.held.drain(..).take(end).collect();
        while keep.last().is_some_and(|(l, _)| is_blank_echo(l)) {
            keep.pop();
        }
        for (l, at) in &keep {
            emit(l, *at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_sentinel_ends_the_user_region() {
        let mut f = RunnerFilter::new(START).with_end(". display \"END_x_\" c(rc)", "END_x_");
        let mut out = Vec::new();
        for l in [
            START,
            "",
            ". gen y = bad + 1",
            "bad not found",
            "r(111);",
            "",
            "end of do-file",
            "r(111);",
            "",
            ". display \"END_x_\" c(rc)",
        ] {
            f.push(l, |s| out.push(s.to_owned()));
        }
        assert_eq!(f.ended_with(), None, "the sentinel has not printed yet");
        f.push("END_x_111", |s| out.push(s.to_owned()));
        f.push(". log close stata_mcp", |s| out.push(s.to_owned()));
        assert_eq!(f.ended_with(), Some(111));
        f.finish(|s| out.push(s.to_owned()));
        assert_eq!(out, vec![". gen y = bad + 1", "bad not found", "r(111);"]);
    }

    const START: &str = ". do `\"`STATA_MCP_do'\"' `STATA_MCP_args'";

    fn run(lines: &[&str]) -> Vec<String> {
        let mut f = RunnerFilter::new(START);
        let mut out = Vec::new();
        for l in lines {
            f.push(l, |s| out.push(s.to_owned()));
        }
        f.finish(|s| out.push(s.to_owned()));
        out
    }

    #[test]
    fn success_keeps_only_the_users_lines() {
        let out = run(&[
            "",
            ". quietly cd `\"/home/u\"'",
            "",
            START,
            "",
            ". display \"hi\"",
            "hi",
            "",
            ". ",
            "end of do-file",
            "",
            ". ",
            "end of do-file",
        ]);
        assert_eq!(out, vec![". display \"hi\"", "hi"]);
    }

    #[test]
    fn error_keeps_the_rc_line_but_not_the_trailers() {
        let out = run(&[
            START,
            "",
            ". gen y = bad_var + 1",
            "bad_var not found",
            "r(111);",
            "",
            "end of do-file",
            "r(111);",
            "",
            "end of do-file",
            "r(111);",
        ]);
        assert_eq!(
            out,
            vec![". gen y = bad_var + 1", "bad_var not found", "r(111);"]
        );
    }

    #[test]
    fn nested_do_file_trailers_mid_run_are_output() {
        let out = run(&[
            START,
            "",
            ". do helper.do",
            "",
            ". display 1",
            "1",
            "",
            ". ",
            "end of do-file",
            "",
            ". display 2",
            "2",
            "",
            ". ",
            "end of do-file",
            "",
            ". ",
            "end of do-file",
        ]);
        assert_eq!(
            out,
            vec![
                ". do helper.do",
                "",
                ". display 1",
                "1",
                "",
                ". ",
                "end of do-file",
                "",
                ". display 2",
                "2"
            ]
        );
    }

    #[test]
    fn nothing_before_start_is_emitted_but_it_is_kept_for_failures() {
        let mut f = RunnerFilter::new(START);
        let mut out = Vec::new();
        f.push("License is invalid", |s| out.push(s.to_owned()));
        f.finish(|s| out.push(s.to_owned()));
        assert!(out.is_empty());
        assert!(!f.started());
        assert_eq!(
            f.pre_start_lines().collect::<Vec<_>>(),
            vec!["License is invalid"]
        );
    }
}
