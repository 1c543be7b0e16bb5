//! The errors a run survived (`capture noisily`, `do, nostop`, a captured `do`): gathered
//! as the scanner meets them, each with the code the log shows for it, or none.

use crate::run::error::ErrorInfo;

/// Captured errors kept; later ones are only counted.
pub(crate) const MAX_WARNINGS: usize = 20;
/// Candidates held while waiting to see whether `r(N);` follows.
pub(crate) const MAX_PENDING: usize = 32;

/// A message printed without `r(N);` so far: a captured error unless `r(N);` follows.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The code its text is known for: only to match it with an `r(N);` that follows.
    pub guessed: i32,
    /// The code the log itself shows (Mata prints it in the message), if any.
    pub shown: Option<i32>,
    pub message: String,
    pub command: Option<String>,
    pub line_no: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Captured {
    pending: Vec<Candidate>,
    warnings: Vec<ErrorInfo>,
    omitted: u64,
    /// The warning the previous command left, whose code a `display _rc` may show next.
    last: Option<usize>,
    /// The warning whose code the current command's output shows (`display "_rc = " _rc`).
    probing: Option<usize>,
}

impl Captured {
    pub(crate) fn hold(&mut self, c: Candidate) {
        if self.pending.len() >= MAX_PENDING {
            let first = self.pending.remove(0);
            self.keep_candidate(first);
        }
        self.pending.push(c);
    }

    /// `r(N);` has come: the candidate printed just before it (from `since` on) with this
    /// code is that error's message, not a captured error; the others are captured.
    pub(crate) fn settle(&mut self, code: i32, since: u64) {
        let mut pending = std::mem::take(&mut self.pending);
        if let Some(last) = pending.last()
            && (last.guessed == code || last.guessed == crate::stata::messages::ANY_CODE)
            && last.line_no >= since
        {
            pending.pop();
        }
        for c in pending {
            self.keep_candidate(c);
        }
    }

    /// A new command starts: what the last one printed without `r(N);` was captured.
    /// `shows_rc`: the new command displays `_rc`, so its output gives the code.
    pub(crate) fn next_command(&mut self, shows_rc: bool) {
        self.last = None;
        for c in std::mem::take(&mut self.pending) {
            self.keep_candidate(c);
        }
        self.probing = if shows_rc { self.last.take() } else { None };
    }

    /// A line the current command printed: when it shows `_rc`, the last number in it is
    /// the captured error's code (0: the command did not fail after all).
    pub(crate) fn output(&mut self, line: &str) {
        let Some(i) = self.probing.take() else { return };
        let Some(code) = line
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|w| !w.is_empty())
            .and_then(|w| w.parse::<i32>().ok())
        else {
            return;
        };
        if code == 0 {
            self.warnings.remove(i);
        } else if let Some(w) = self.warnings.get_mut(i) {
            w.code = Some(code);
        }
    }

    /// An error with `r(N);` that the run went on after.
    pub(crate) fn keep(&mut self, w: ErrorInfo) -> Option<usize> {
        if let Some(i) = self
            .warnings
            .iter()
            .position(|x| x.code == w.code && x.message == w.message && x.command == w.command)
        {
            return Some(i);
        }
        if self.warnings.len() >= MAX_WARNINGS {
            self.omitted += 1;
            return None;
        }
        self.warnings.push(w);
        Some(self.warnings.len() - 1)
    }

    /// Takes back the warning at `i` (it was the run's error after all), if it is the last.
    pub(crate) fn take_back(&mut self, i: usize) {
        if i + 1 == self.warnings.len() {
            self.warnings.pop();
            self.last = None;
        }
    }

    fn keep_candidate(&mut self, c: Candidate) {
        // Its code is what the log shows; the message table's guess is not reported.
        let mut w = ErrorInfo::with_code(c.shown, c.message);
        w.command = c.command;
        self.last = self.keep(w).or(self.last);
    }

    /// Candidates held now (bounded by [`MAX_PENDING`]).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.pending.len()
    }

    /// The log is complete.
    pub(crate) fn finish(mut self) -> (Vec<ErrorInfo>, u64) {
        self.next_command(false);
        (self.warnings, self.omitted)
    }
}
