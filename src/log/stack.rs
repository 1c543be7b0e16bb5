//! The do-files open at each point of a log, as the scanner sees them start (`. do x`) and
//! end (`end of do-file`), bounded whatever the nesting.

/// Open do-files remembered; deeper nesting is counted but not named.
const MAX_STACK: usize = 32;

#[derive(Debug, Clone)]
pub(crate) struct DoFile {
    pub path: String,
    /// Run without output (`run`, `quietly do`): no echo and no `end of do-file` will show.
    pub silent: bool,
    /// The command that ran it, current again once it ends.
    pub caller: String,
}

#[derive(Debug, Default)]
pub(crate) struct DoStack {
    open: Vec<DoFile>,
    /// Do-files opened beyond [`MAX_STACK`].
    hidden: usize,
    /// Do-files that ended, newest last: an error's trailer may show one was still open
    /// (a do-file run from a `quietly` block ends without its start having shown).
    ended: Vec<String>,
}

impl DoStack {
    pub(crate) fn push(&mut self, file: DoFile) {
        if self.open.len() >= MAX_STACK {
            self.hidden += 1;
        } else {
            self.open.push(file);
        }
    }

    /// The innermost do-file has ended (or failed to open); `None` when it was one past
    /// [`MAX_STACK`] or none was known to be open.
    pub(crate) fn pop(&mut self) -> Option<DoFile> {
        if self.hidden > 0 {
            self.hidden -= 1;
            None
        } else {
            self.open.pop()
        }
    }

    /// The innermost do-file's name (and the command that ran it) as a wrapped echo's rest
    /// completes them.
    pub(crate) fn rename_top(&mut self, path: String, caller: String) {
        if self.hidden == 0
            && let Some(top) = self.open.last_mut()
        {
            top.path = path;
            top.caller = caller;
        }
    }

    /// `end of do-file`: the innermost one ended, after any silent ones above it (they show
    /// no end of their own). Returns it, remembered as ended.
    pub(crate) fn end(&mut self) -> Option<DoFile> {
        self.drop_silent();
        let done = self.pop()?;
        if self.ended.len() >= MAX_STACK {
            self.ended.remove(0);
        }
        self.ended.push(done.path.clone());
        Some(done)
    }

    /// A new echo shows that silent do-files (which echo nothing) are over.
    pub(crate) fn drop_silent(&mut self) {
        while self.open.last().is_some_and(|d| d.silent) && self.hidden == 0 {
            self.open.pop();
        }
    }

    /// The names, outermost first.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.open.iter().map(|d| d.path.clone()).collect();
        if self.hidden > 0 {
            names.push(format!("… {} more", self.hidden));
        }
        names
    }

    /// `stack` made as deep as the error's trailer showed (`depth` ends after it), from the
    /// do-files whose end was seen too early: another file's `end of do-file`, whose start
    /// did not show, was taken for theirs.
    pub(crate) fn complete(&mut self, stack: &mut Vec<String>, depth: usize) {
        while stack.len() < depth
            && let Some(path) = self.ended.pop()
        {
            stack.insert(0, path);
        }
    }
}
