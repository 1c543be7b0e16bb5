//! What the scanner knows of the command being run: its echo and continuation lines, the
//! trace's lines, and the stack of do-files it runs in.

use super::{ErrorScanner, Kind, MAX_COMMAND_CHARS, MAX_DO_NAME, WRAP_WIDTH};
use crate::log::stack::DoFile;
use crate::stata::command::{DoVerb, displays_rc, do_target, strip_prefixes};
use crate::text::cut::cut_bytes;

impl ErrorScanner {
    pub(super) fn on_echo(&mut self, cmd: &str) {
        self.seen_echo = true;
        self.kind = Kind::Echo;

        // The error was followed by more commands: it was captured (`capture noisily do`).
        self.demote_error(true);
        self.captured.next_command(displays_rc(cmd));

        // Do-files run silently show no echo: a new echo means they are over.
        self.stack.drop_silent();

        self.command.clear();
        self.command_full = false;
        self.append_command(cmd);
        self.trace_cap_noi = None;
        self.clear_message();
        self.bare_echo = cmd.trim().is_empty().then_some(true);

        let prefixed = strip_prefixes(cmd);
        self.command_cap_noi = prefixed.capture_noisily;
        let in_block = self.echo_blocks > 0;
        match cmd.trim() {
            "}" => self.echo_blocks = self.echo_blocks.saturating_sub(1),
            c if c.ends_with('{') => self.echo_blocks += 1,
            _ => {}
        }
        self.echo_pushed_do = false;
        if let Some(target) = do_target(prefixed.rest)
            && !in_block
            && target.verb != DoVerb::Include
        {
            // (A `do` inside an echoed block is left off the stack: the block echoes
            // whether or not it runs, and a false `if` is the common case. An `include`d
            // file prints no `end of do-file`: on the stack, it would take its includer's.)
            let silent = prefixed.silent || target.verb == DoVerb::Run;
            self.push_do_file(cut_bytes(&target.name, MAX_DO_NAME).to_owned(), silent);
            self.echo_pushed_do = true;
        }
    }

    /// The run went on after its error, so the error was captured. `by_echo`: a command
    /// came next, which a block's own `r(N);` may still follow.
    pub(super) fn demote_error(&mut self, by_echo: bool) {
        if let Some(err) = self.error.take() {
            let at = self.captured.keep(err.clone());
            self.demoted = by_echo.then_some((err, at));
            self.error_ends = 0;
        } else if !by_echo {
            self.demoted = None;
        }
    }

    pub(super) fn continue_command(&mut self, rest: &str) {
        if self.bare_echo.is_some() {
            // A command holding line breaks wraps by the whole command's width: every
            // `> ` is Stata's cut, whatever the length of the line before.
            self.append_command(rest);
        } else if self.prev_len < WRAP_WIDTH {
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
        // The rest may reveal `capture noisily` (rare), or the rest of a `do`'s wrapped path.
        let prefixed = strip_prefixes(&self.command);
        self.command_cap_noi = prefixed.capture_noisily;
        if self.echo_pushed_do
            && let Some(target) = do_target(prefixed.rest)
        {
            let name = cut_bytes(&target.name, MAX_DO_NAME).to_owned();
            self.stack.rename_top(name, self.command.clone());
        }
    }

    pub(super) fn append_command(&mut self, text: &str) {
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

    pub(super) fn on_trace(&mut self, indent: usize, cmd: &str) {
        self.clear_message();
        // Lines deeper than a `capture noisily` line run inside it (the captured command's code).
        if self
            .trace_cap_noi
            .as_ref()
            .is_some_and(|(d, _)| indent > *d)
        {
            // Its `error 111` shows the code the captured command fails with.
            if let Some(n) = strip_prefixes(cmd).rest.strip_prefix("error ") {
                self.trace_rc = n.trim().parse().ok();
            }
            return;
        }
        if strip_prefixes(cmd).capture_noisily {
            self.trace_rc = None;
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

    pub(super) fn on_end_of_do_file(&mut self) {
        if self.error.is_some() {
            // The error leaves one more do-file (its stack was taken when it was raised).
            self.error_ends += 1;
            self.stack.drop_silent();
            self.stack.pop();
            return;
        }
        match self.stack.end() {
            Some(done) => self.command = done.caller,
            // A do-file whose start did not show ended: one a loop's body ran.
            None => {
                if let Some(cmd) = &self.loop_with_do {
                    self.command = cmd.clone();
                }
            }
        }
        self.captured.next_command(false);
        self.clear_message();
    }

    pub(super) fn push_do_file(&mut self, path: String, silent: bool) {
        let caller = self.command.clone();
        self.stack.push(DoFile {
            path,
            silent,
            caller,
        });
        self.just_pushed = true;
    }

    pub(super) fn current_command(&self) -> Option<String> {
        let c = self.command.trim();
        if c.is_empty() {
            None
        } else {
            Some(c.to_owned())
        }
    }
}
