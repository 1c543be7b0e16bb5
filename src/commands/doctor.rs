//! `stata-mcp doctor`: reports which Stata is used and why, then proves it runs by asking its version.
//!
//! The report goes to stdout; each problem also goes to stderr with what to do about it
//! (unless both are the same terminal), so a script sees the reason even when it discards
//! the report.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{mode_name, runner, shut_down, this_binary};
use crate::cli::{Mode, ServerOptions};
use crate::client::policy::Policy;
use crate::discovery::{Found, INSTALL_ROOTS_VAR, SearchEnv, Version, discover};
use crate::log::live::LiveOutput;
use crate::log::watch::Wake;
use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::runner::Runner;
use crate::runner::request::RunRequest;
use crate::settings::{Settings, log_dir, mode, overrides, workdir};
use crate::text::human::human_duration;

/// What the check asks Stata.
pub const CHECK_CODE: &str = "display c(stata_version)";

/// The longest the check waits for Stata. Start-up takes seconds; a licence server that
/// does not answer must not keep `doctor` waiting for the server's hour-long default.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the checks; the process exit code is 0 when everything passed, else 1.
pub async fn doctor(opts: &ServerOptions) -> u8 {
    let mut out = Report::default();
    let ok = checks(opts, &mut out).await;
    if ok {
        let _ = writeln!(out, "\nAll checks passed: stata-mcp can run Stata.");
        0
    } else {
        let _ = writeln!(out, "\nSome checks failed: the fix for each is above.");
        // The report may be going to a file: one line on stderr says where to look.
        if let Some(first) = &out.first_failure
            && !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal())
        {
            eprintln!("stata-mcp doctor: {first}; the report on stdout says how to fix it");
        }
        1
    }
}

/// The report, printed line by line as the checks go, so a slow Stata start shows where it is.
#[derive(Default)]
pub(super) struct Report {
    /// The first problem found, for the one line on stderr.
    first_failure: Option<String>,
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
pub(super) fn fail(out: &mut Report, what: &str, detail: &str) {
    let _ = writeln!(out, "  FAILED: {what}");
    for line in detail.lines() {
        let _ = writeln!(out, "    {line}");
    }
    out.first_failure.get_or_insert_with(|| what.to_owned());
}

async fn checks(opts: &ServerOptions, out: &mut Report) -> bool {
    let _ = writeln!(out, "stata-mcp {}", env!("CARGO_PKG_VERSION"));
    match this_binary() {
        Ok(p) => {
            let _ = writeln!(out, "  binary:   {}", p.display());
        }
        Err(e) => {
            let _ = writeln!(out, "  binary:   unknown ({e})");
        }
    }
    let (mode, default) = mode(opts);
    let _ = writeln!(
        out,
        "  mode:     {}{}",
        mode_name(mode),
        if default {
            " (this OS's default; choose with --mode / STATA_MCP_MODE)"
        } else {
            ""
        }
    );

    if mode == Mode::Session {
        let _ = writeln!(
            out,
            "  sessions: up to {} at once (--max-sessions), idle ones other than main closed after {} \
             (--session-idle-secs). A call may name a session (default main), each a separate \
             Stata with its own data, so a long job in one does not hold up work in another.",
            opts.max_sessions,
            if opts.session_idle_secs == 0 {
                "never".to_owned()
            } else {
                human_duration(Duration::from_secs(opts.session_idle_secs))
            }
        );
    }
    if mode == Mode::Slurm {
        let _ = writeln!(
            out,
            "  sandbox:  none for cluster jobs: they run on compute nodes, under the cluster's own rules"
        );
    } else {
        let _ = writeln!(
            out,
            "  sandbox:  {}",
            crate::sandbox::describe(opts.sandbox)
        );
    }
    for extra in &opts.sandbox_allow_write {
        let _ = writeln!(out, "            also writable: {}", extra.display());
    }
    report_client(opts, out);
    let Some(log_dir) = check_log_dir(opts, out) else {
        return false;
    };
    // Run folders are made under the log dir: its file system decides.
    if mode == Mode::Slurm {
        let _ = writeln!(
            out,
            "  follow:   reading each job's log every {} ms (other machines' writes raise no \
             change events here)",
            crate::runner::slurm::LOG_POLL.as_millis()
        );
    } else {
        let wake = Wake::new(&log_dir, opts.follow);
        let _ = writeln!(out, "  follow:   {}", wake.strategy());
    }
    let Some(workdir) = check_workdir(opts, out) else {
        return false;
    };
    if mode == Mode::Slurm {
        return super::doctor_slurm::checks(opts, &log_dir, &workdir, out).await;
    }

    let _ = writeln!(out, "\nFinding Stata");
    let Some(found) = find(opts, out) else {
        return false;
    };

    let _ = writeln!(
        out,
        "\nStarting Stata ({} mode) and running `{CHECK_CODE}`",
        mode_name(mode)
    );
    // The folders were resolved above, so this cannot fail now.
    let Ok(settings) = Settings::resolve(opts) else {
        return false;
    };
    let runner = runner(&settings);
    let ok = check_run(&runner, mode, &found, &workdir, out).await;
    shut_down(&runner).await;
    if !ok {
        suggest_other_mode(settings, &found, &workdir, out).await;
    }
    ok
}

/// The client profile: chosen by each client's `initialize`, unless the options force it.
fn report_client(opts: &ServerOptions, out: &mut Report) {
    let policy = Policy::before_initialize(&overrides(opts));
    let forced = policy.reasons.iter().filter(|r| r.contains("(--"));
    if opts.client_profile.is_none() {
        let _ = writeln!(
            out,
            "  client:   profile chosen from each client's initialize (clientInfo.name); \
             --client-profile / STATA_MCP_CLIENT_PROFILE forces one"
        );
    }
    for reason in forced {
        let _ = writeln!(out, "  client:   {reason}");
    }
}

/// The log dir must exist (or be creatable) and be writable: every run keeps its log there.
fn check_log_dir(opts: &ServerOptions, out: &mut Report) -> Option<PathBuf> {
    let dir = match log_dir(opts) {
        Ok(d) => d,
        Err(e) => {
            fail(
                out,
                "the log dir could not be resolved",
                &format!(
                    "the current directory is unreadable ({e}); pass an absolute --log-dir / STATA_MCP_LOG_DIR"
                ),
            );
            return None;
        }
    };
    let probe = dir.join(format!(".stata-mcp-doctor-{}", std::process::id()));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&probe, b"probe"));
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => {
            let _ = writeln!(out, "  log dir:  {} (writable)", dir.display());
            Some(dir)
        }
        Err(e) => {
            let _ = writeln!(out, "  log dir:  {}", dir.display());
            fail(
                out,
                &format!("the log dir {} is not writable", dir.display()),
                &format!(
                    "creating a file there failed: {e}\n\
                     Fix its permissions, or choose another folder with --log-dir or STATA_MCP_LOG_DIR."
                ),
            );
            None
        }
    }
}

/// Where code runs when a call names no folder: must be an existing folder.
fn check_workdir(opts: &ServerOptions, out: &mut Report) -> Option<PathBuf> {
    match workdir(opts) {
        Ok(d) if d.is_dir() => {
            let _ = writeln!(out, "  workdir:  {}", d.display());
            Some(d)
        }
        Ok(d) => {
            fail(
                out,
                &format!("the working directory {} is not a folder", d.display()),
                "Create it, or name an existing folder with --workdir or STATA_MCP_WORKDIR.",
            );
            None
        }
        Err(e) => {
            fail(
                out,
                "the current directory cannot be read",
                &format!(
                    "{e}; run from an existing folder, or pass --workdir / STATA_MCP_WORKDIR."
                ),
            );
            None
        }
    }
}

/// Runs discovery and reports everything it did: searched, skipped, chosen, passed over.
pub(super) fn find(opts: &ServerOptions, out: &mut Report) -> Option<Found> {
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
pub(super) struct Answer {
    pub outcome: RunOutcome,
    /// The version as Stata printed it.
    pub version: Option<String>,
    /// How long starting Stata took (session mode: the start alone; batch: the whole run).
    pub startup: Duration,
}

pub(super) async fn ask_version(runner: &Runner, stata: &Path, workdir: &Path) -> Answer {
    let started = Instant::now();
    // A session starts on its own first, so its start-up time can be told apart from the call.
    let warmed = match runner {
        Runner::Session(session) => Some(session.warm(stata, workdir, None).await),
        Runner::Batch(_) | Runner::Slurm(_) => None,
    };
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
pub fn version_in(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('.'))
        .find(|l| Version::parse(l).is_some() && l.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_owned)
}

async fn check_run(
    runner: &Runner,
    mode: Mode,
    found: &Found,
    workdir: &Path,
    out: &mut Report,
) -> bool {
    let answer = ask_version(runner, &found.chosen.path, workdir).await;
    let outcome = &answer.outcome;
    if outcome.status != RunStatus::Ok {
        fail(
            out,
            &format!("Stata did not run `{CHECK_CODE}`"),
            &run_failure(outcome, &found.chosen.path),
        );
        return false;
    }
    let Some(version) = answer.version else {
        let printed = outcome.output.render("");
        fail(
            out,
            "Stata ran but printed no version number",
            &format!(
                "it printed:\n{}\nThis binary may not be Stata. Point --stata-path / STATA_PATH at Stata's console binary.",
                if printed.trim().is_empty() {
                    "(nothing)"
                } else {
                    printed.trim_end()
                }
            ),
        );
        return false;
    };
    match mode {
        Mode::Session => {
            let _ = writeln!(
                out,
                "  started in {}; answered in {}",
                human_duration(answer.startup),
                human_duration(outcome.duration)
            );
        }
        Mode::Batch => {
            let _ = writeln!(
                out,
                "  started, answered and exited in {} (each batch call pays this start-up)",
                human_duration(answer.startup)
            );
        }
        Mode::Slurm => {
            let _ = writeln!(
                out,
                "  submitted, queued, run and read back in {} (each call pays this)",
                human_duration(answer.startup)
            );
        }
    }
    let _ = writeln!(out, "  Stata says its version is {version}");
    if let (Some(said), Some(from_path)) = (Version::parse(&version), found.chosen.version)
        && said.major != from_path.major
    {
        let _ = writeln!(
            out,
            "  note: its folder suggested Stata {from_path}; Stata's own answer ({version}) is what counts"
        );
    }
    if let Some(log) = &outcome.log_path {
        let _ = writeln!(out, "  log:      {}", log.display());
    }
    true
}

/// Why the check failed, and what to do, from the outcome's status and error.
pub(super) fn run_failure(outcome: &RunOutcome, stata: &Path) -> String {
    let said = outcome.error.as_ref().map_or("", |e| e.message.trim_end());
    // A start failure's message says so itself; the status line would repeat it.
    let mut text = if said.starts_with("Stata did not start") {
        String::new()
    } else {
        let line =
            crate::render::outcome::status_line(outcome.status, outcome.rc, outcome.duration);
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

/// After a failure, tries the other mode: if it works, saying so is the quickest fix.
async fn suggest_other_mode(
    mut settings: Settings,
    found: &Found,
    workdir: &Path,
    out: &mut Report,
) {
    // Windows has no console Stata, so there is no other mode to try.
    if cfg!(windows) {
        return;
    }
    let other = match settings.mode {
        Mode::Batch => Mode::Session,
        Mode::Session => Mode::Batch,
        // The cluster's own checks say what is wrong there.
        Mode::Slurm => return,
    };
    settings.mode = other;
    let runner = runner(&settings);
    let answer = ask_version(&runner, &found.chosen.path, workdir).await;
    shut_down(&runner).await;
    if answer.outcome.status == RunStatus::Ok && answer.version.is_some() {
        let line = format!(
            "{} mode works with this Stata: use --mode {} (or STATA_MCP_MODE={} in the client's \"env\").",
            mode_name(other),
            mode_name(other),
            mode_name(other)
        );
        let _ = writeln!(out, "  hint: {line}");
        eprintln!("stata-mcp doctor: hint: {line}");
    }
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
