//! What both doctors (`doctor`, and `doctor --mode slurm`) share: the report printed as the
//! checks go, finding Stata, asking its version, and saying why a check run failed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::cli::ServerOptions;
use crate::discovery::{Found, INSTALL_ROOTS_VAR, SearchEnv, Version, discover};
use crate::log::live::LiveOutput;
use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::runner::Runner;
use crate::runner::request::RunRequest;

/// What the check asks Stata.
pub(crate) const CHECK_CODE: &str = "display c(stata_version)";

/// The longest the check waits for Stata. Start-up takes seconds; a licence server that
/// does not answer must not keep `doctor` waiting for the server's hour-long default.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// The report, printed line by line as the checks go, so a slow Stata start shows where it is.
#[derive(Default)]
pub(crate) struct Report {
    /// The first problem found, for the one line on stderr.
    pub first_failure: Option<String>,
}

impl std::fmt::Write for Report {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout must not stop the checks: their result is in the exit code.
        let _ = stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush());
        Ok(())
    }
}

/// Reports a problem, with its fix, in the report (once: stderr only points at it).
pub(crate) fn fail(out: &mut Report, what: &str, detail: &str) {
    let _ = writeln!(out, "  FAILED: {what}");
    for line in detail.lines() {
        let _ = writeln!(out, "    {line}");
    }
    out.first_failure.get_or_insert_with(|| what.to_owned());
}

/// Runs discovery and reports everything it did: searched, skipped, chosen, passed over.
pub(crate) fn find(opts: &ServerOptions, out: &mut Report) -> Option<Found> {
    if std::env::var_os(INSTALL_ROOTS_VAR).is_some() {
        let _ = writeln!(
            out,
            "  note: {INSTALL_ROOTS_VAR} is set: it replaces the usual install places"
        );
    }
    match discover(&SearchEnv::from_system(opts.stata_path.clone())) {
        Ok(found) => {
            list(out, "searched:", &found.searched);
            list(out, "skipped:", &found.skipped);
            let _ = writeln!(out, "  using:    {}", found.chosen);
            for (other, why) in &found.others {
                let _ = writeln!(out, "  not used: {other}: {why}");
            }
            Some(found)
        }
        Err(err) => {
            fail(out, "no Stata to run", &err.to_string());
            None
        }
    }
}

fn list(out: &mut Report, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {title}");
    for item in items {
        let _ = writeln!(out, "    - {item}");
    }
}

/// What the version check found out.
pub(crate) struct Answer {
    pub outcome: RunOutcome,
    /// The version as Stata printed it.
    pub version: Option<String>,
    /// How long starting Stata took (session mode: the start alone; batch: the whole run).
    pub startup: Duration,
}

pub(crate) async fn ask_version(runner: &Runner, stata: &Path, workdir: &Path) -> Answer {
    let started = Instant::now();
    // A session starts on its own first, so its start-up time can be told apart from the call.
    let warmed = runner.warm(stata, workdir, None).await;
    let startup = started.elapsed();
    if let Some(Err(msg)) = warmed {
        let outcome = RunOutcome::not_started(None, started, None, msg);
        return Answer {
            outcome,
            version: None,
            startup,
        };
    }
    let req = RunRequest {
        stata: stata.to_path_buf(),
        source: RunSource::Code(CHECK_CODE.to_owned()),
        cwd: workdir.to_path_buf(),
        change_dir: false,
        run_dir: None,
        turn: None,
        timeout: CHECK_TIMEOUT,
        session: Default::default(),
        label: "stata-mcp doctor".to_owned(),
        sandbox: None,
        detach: Default::default(),
        notes: Vec::new(),
    };
    let live = Arc::new(LiveOutput::new(64 * 1024));
    let outcome = runner.run(req, live, CancellationToken::new()).await;
    let startup = if warmed.is_some() {
        startup
    } else {
        outcome.duration
    };
    let version = version_in(&outcome.output.render(""));
    Answer {
        outcome,
        version,
        startup,
    }
}

/// The first output line that is a version number (`18`, `19.5`), skipping command echoes.
pub(crate) fn version_in(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('.'))
        .find(|l| Version::parse(l).is_some() && l.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_owned)
}

/// Why the check failed, and what to do, from the outcome's status and error.
pub(crate) fn run_failure(outcome: &RunOutcome, stata: &Path) -> String {
    let said = outcome.error.as_ref().map_or("", |e| e.message.trim_end());
    // A start failure's message says so itself; the status line would repeat it.
    let mut text = if said.starts_with("Stata did not start") {
        String::new()
    } else {
        let line = crate::render::result::status_line(outcome.status, outcome.rc, outcome.duration);
        format!("{line}\n")
    };
    if !said.is_empty() {
        let _ = writeln!(text, "{said}");
    }
    for note in &outcome.notes {
        let _ = writeln!(text, "note: {}", note.trim_end());
    }
    let message = outcome
        .error
        .as_ref()
        .map(|e| e.message.to_ascii_lowercase())
        .unwrap_or_default();
    let fix = if message.contains("licen") {
        if message.contains("stinit") {
            // The runner's message already gives the fix.
            return text.trim_end().to_owned();
        }
        "Stata's licence is not valid for this binary: run Stata once by hand (it explains, \
         and `stinit` re-enters the licence), or point --stata-path at the Stata your licence is for."
            .to_owned()
    } else if outcome.status == RunStatus::Timeout {
        format!(
            "Stata did not answer within {} s. Start {} by hand to see whether it waits for \
             something (a licence server, a network drive, a prompt).",
            CHECK_TIMEOUT.as_secs(),
            stata.display()
        )
    } else {
        format!(
            "Start {} by hand in a terminal to see its own message. If it is the GUI or not \
             Stata, point --stata-path / STATA_PATH at the console binary (stata-mp, stata-se, stata).",
            stata.display()
        )
    };
    text.push_str(&fix);
    text
}

#[cfg(test)]
mod tests {
    use super::version_in;

    #[test]
    fn the_version_is_the_first_number_line_after_the_echo() {
        assert_eq!(
            version_in(". display c(stata_version)\n18\n").as_deref(),
            Some("18")
        );
        assert_eq!(version_in("\n19.5\n\n").as_deref(), Some("19.5"));
        // The echo holds no number to mistake; other text is not a version.
        assert_eq!(version_in(". display 18\nhello\n"), None);
        assert_eq!(version_in("18 observations\n"), None);
        assert_eq!(version_in(""), None);
    }
}
