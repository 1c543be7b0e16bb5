//! `stata-mcp run FILE.do`: runs a do-file from a terminal through the server's runner, streaming its log.
//!
//! It exits with a code scripts and Makefiles can test (see [`exit_code`]).
//!
//! The log goes to stdout as plain lines (pipe it, redirect it). When stderr is a terminal,
//! a one-line progress indicator is drawn there and erased before each batch of lines, so
//! it never ends up mixed into the log. The final status and error go to stderr.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::trim_old_runs;
use crate::cli::{RunArgs, ServerOptions};
use crate::log::live::LiveOutput;
use crate::render::result::{status_line, write_error};
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::runner::signals::Signals;
use crate::service::Service;
use crate::service::calls::{CallSource, RunCall};
use crate::settings::{Settings, absolute};
use crate::stata::messages::{Audience, hint};
use crate::text::human::human_duration;

/// Exit codes, documented in docs/configuration.md.
pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_STATA_ERROR: u8 = 1;
pub(crate) const EXIT_NOT_STARTED: u8 = 2;
pub(crate) const EXIT_TIMEOUT: u8 = 3;
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// The most unprinted output held while stdout is slow; beyond it the oldest is skipped
/// (and said so). Large, since a terminal or pipe normally keeps up.
const LIVE_BUFFER_BYTES: usize = 4 * 1024 * 1024;

pub(crate) fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Ok => EXIT_OK,
        RunStatus::Error => EXIT_STATA_ERROR,
        RunStatus::FailedToStart => EXIT_NOT_STARTED,
        RunStatus::Timeout => EXIT_TIMEOUT,
        RunStatus::Cancelled => EXIT_INTERRUPTED,
    }
}

/// Runs the do-file; returns the process exit code.
pub async fn run(opts: &ServerOptions, args: &RunArgs) -> u8 {
    let mut settings = match Settings::resolve(opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "stata-mcp run: the current directory cannot be read ({e}); pass absolute \
                 paths (--workdir, --log-dir)"
            );
            return EXIT_NOT_STARTED;
        }
    };
    // One run, then Stata exits: a session would keep nothing, so unless the user chose a
    // mode, the run is a batch run (and its notes never speak of data kept in memory).
    if settings.mode_is_default {
        settings.mode = crate::cli::Mode::Batch;
    }
    // The person at the terminal chose the current folder and the do-file they named: those
    // are the folders of this run, as a client's roots are a server's.
    settings.workdir_given = true;
    if let Some(dir) = absolute(&args.file).ok().as_deref().and_then(Path::parent) {
        settings.sandbox_write.push(dir.to_path_buf());
    }
    // The shell guard is a first word to a model; this is the person's own do-file, run
    // from their own terminal (the sandbox's file limits still apply).
    settings.allow_shell = true;
    // A terminal's do-file is not a step of an assistant's research record.
    settings.record = false;
    // Nothing shows images here: graphs are listed by path.
    settings.no_images = true;
    trim_old_runs(&settings).await;
    let service = Service::new(settings);
    // The server's own request builder (paths resolved and checked, the sandbox's plan), so a
    // do-file runs the same way from a terminal as from a client.
    let call = RunCall {
        source: CallSource::File {
            path: args.file.display().to_string(),
            args: args.args.clone(),
        },
        // As with `stata -b do FILE`, the code runs in the current directory, not the do-file's.
        cwd: Some(service.shared.settings.workdir.display().to_string()),
        timeout_s: None,
        session: None,
    };
    let mut req = match service.calls.request(call, None).await {
        Ok(req) => req,
        Err(e) => {
            eprintln!("stata-mcp run: {e}");
            return EXIT_NOT_STARTED;
        }
    };
    req.label = "stata-mcp run".to_owned();
    let runner = &service.shared.runner;
    let cancel = CancellationToken::new();
    spawn_interrupt_handler(cancel.clone());

    let live = Arc::new(LiveOutput::new(LIVE_BUFFER_BYTES));
    let label = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let spinner = !args.no_progress && io::stderr().is_terminal();
    let mut printer = Printer::new(label, spinner);

    let run = service.shared.run(req, live.clone(), cancel.clone());
    tokio::pin!(run);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let outcome = loop {
        tokio::select! {
            outcome = &mut run => break outcome,
            () = live.changed() => {
                if let Some(chunk) = live.take() {
                    printer.print(&chunk.message, live.last_command());
                }
            }
            _ = tick.tick(), if spinner => printer.redraw(live.last_command(), cancel.is_cancelled()),
        }
    };
    // The runner pushes its last lines before returning: print what is left.
    if let Some(chunk) = live.take() {
        printer.print(&chunk.message, None);
    }
    printer.clear();
    runner.shut_down().await;
    eprint!("{}", summary(&outcome));
    exit_code(outcome.status)
}

/// Ctrl-C (or SIGTERM/SIGHUP) cancels the run, which stops Stata's whole process group;
/// Stata sits in its own group, so the terminal's Ctrl-C never reaches it directly. A
/// second signal kills everything at once and exits.
fn spawn_interrupt_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        let Some(mut signals) = Signals::new() else {
            tracing::warn!(
                "could not watch for Ctrl-C; Stata is still stopped when stata-mcp exits"
            );
            return;
        };
        signals.next().await;
        eprintln!(
            "\nstata-mcp run: interrupted; stopping Stata (press Ctrl-C again to kill it now)"
        );
        cancel.cancel();
        signals.next().await;
        crate::runner::process::kill_all_groups(crate::runner::process::Shutdown::Signal);
        eprintln!("\nstata-mcp run: killed Stata");
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    });
}

/// Writes log text to stdout and keeps the progress line on stderr out of its way.
struct Printer {
    label: String,
    spinner: bool,
    /// Whether the progress line is on screen now.
    shown: bool,
    frame: usize,
    started: Instant,
    stdout_broken: bool,
}

const FRAMES: &[char] = &['|', '/', '-', '\\'];
/// Narrow enough for any terminal, so the line never wraps (a wrapped line cannot be erased).
const PROGRESS_WIDTH: usize = 78;

impl Printer {
    fn new(label: String, spinner: bool) -> Self {
        Self {
            label,
            spinner,
            shown: false,
            frame: 0,
            started: Instant::now(),
            stdout_broken: false,
        }
    }

    fn print(&mut self, text: &str, last_command: Option<String>) {
        self.clear();
        if !self.stdout_broken {
            let mut out = io::stdout().lock();
            let mut result = out.write_all(text.as_bytes());
            if result.is_ok() && !text.ends_with('\n') {
                result = out.write_all(b"\n");
            }
            // A closed pipe (`| head`) is the reader's choice: keep running, stop printing.
            if result.and_then(|()| out.flush()).is_err() {
                self.stdout_broken = true;
            }
        }
        if last_command.is_some() {
            self.redraw(last_command, false);
        }
    }

    /// Draws the progress line: spinner, file, elapsed time, the command Stata is on.
    fn redraw(&mut self, last_command: Option<String>, stopping: bool) {
        if !self.spinner {
            return;
        }
        self.frame = (self.frame + 1) % FRAMES.len();
        let mut line = format!(
            "{} {} {} {}",
            FRAMES[self.frame],
            if stopping { "stopping" } else { "running" },
            self.label,
            human_duration(self.started.elapsed())
        );
        if let Some(cmd) = last_command {
            line.push_str(": ");
            line.push_str(&cmd);
        }
        let line: String = line.chars().take(PROGRESS_WIDTH).collect();
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

/// `err` with its hint worded for a person at a terminal (Stata commands, not MCP tools).
fn for_terminal(err: &ErrorInfo) -> ErrorInfo {
    let mut err = err.clone();
    if err.hint.is_some()
        && let Some(code) = err.code
    {
        err.hint = hint(
            code,
            &err.message,
            err.command.as_deref(),
            None,
            Audience::Terminal,
        );
    }
    err
}

/// The status line, the error and notes, and where the full log is.
pub(crate) fn summary(outcome: &RunOutcome) -> String {
    let mut text = String::new();
    let rc = outcome.reported_rc();
    text.push_str(&status_line(outcome.status, rc, outcome.duration));
    text.push('\n');
    if let Some(err) = &outcome.error {
        write_error(&mut text, &for_terminal(err), "");
    }
    if !outcome.warnings.is_empty() {
        text.push_str("captured errors (capture, do with nostop; the run went on):\n");
        for w in &outcome.warnings {
            write_error(&mut text, &for_terminal(w), "  ");
        }
    }
    for note in &outcome.notes {
        let _ = writeln!(text, "note: {}", note.trim_end());
    }
    if let Some(log) = outcome.log_path.as_deref().filter(|p| Path::exists(p)) {
        let _ = writeln!(text, "log: {}", log.display());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::output::CappedOutput;

    #[test]
    fn the_summary_says_where_the_error_is() {
        let mut outcome = RunOutcome::from_log(Vec::new(), 0, CappedOutput::new(100), Vec::new());
        outcome.status = RunStatus::Error;
        let mut err = ErrorInfo::new(111, "variable foo not found");
        err.command = Some("gen y = foo".into());
        err.hint = Some("for the model: stata_inspect_data".into());
        err.file = Some("/w/main.do".into());
        err.line = Some(12);
        outcome.error = Some(err);
        outcome.duration = Duration::from_millis(400);
        let text = summary(&outcome);
        assert!(text.starts_with("Stata error r(111) in 0.4 s\n"), "{text}");
        assert!(text.contains("r(111): variable foo not found\n"), "{text}");
        assert!(text.contains("  in: gen y = foo\n"), "{text}");
        assert!(text.contains("  at: /w/main.do, line 12\n"), "{text}");
        // Advice a person at a terminal can follow: Stata commands, not MCP tools.
        assert!(
            text.contains("list the variables with `describe`"),
            "{text}"
        );
        assert!(!text.contains("stata_inspect_data"), "{text}");
        assert_eq!(exit_code(outcome.status), EXIT_STATA_ERROR);
    }
}
