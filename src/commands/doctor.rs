//! `stata-mcp doctor`: reports which Stata is used and why, then proves it runs by asking its version.
//!
//! The report goes to stdout; each problem also goes to stderr with what to do about it
//! (unless both are the same terminal), so a script sees the reason even when it discards
//! the report.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::probe::{CHECK_CODE, Report, ask_version, fail, find, run_failure};
use super::{runner, this_binary};
use crate::cli::{Mode, ServerOptions};
use crate::client::policy::Policy;
use crate::discovery::{Found, Version};
use crate::log::watch::Wake;
use crate::run::RunStatus;
use crate::runner::Runner;
use crate::settings::{Settings, log_dir, mode, overrides, workdir};
use crate::text::human::human_duration;

/// Runs the checks; the process exit code is 0 when everything passed, else 1.
pub async fn doctor(opts: &ServerOptions) -> u8 {
    let mut out = Report::default();
    let ok = checks(opts, &mut out).await;
    if ok {
        let _ = writeln!(
            out,
            "\nAll checks passed: stata-mcp can run Stata.\nNext: stata-mcp config \
             claude-desktop|cursor|claude-code --write (with the options you gave here), then \
             restart the client."
        );
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

async fn checks(opts: &ServerOptions, out: &mut Report) -> bool {
    let _ = writeln!(out, "stata-mcp {}", crate::cli::version_text());
    match this_binary() {
        Ok(p) => {
            let _ = writeln!(out, "  binary:   {}", p.display());
            if let Some((route, upgrade)) = super::install_route::install_route(&p) {
                let _ = writeln!(out, "  installed by {route}; to upgrade: {upgrade}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  binary:   unknown ({e})");
        }
    }
    let (mode, default) = mode(opts);
    let _ = writeln!(
        out,
        "  mode:     {}{}",
        mode.name(),
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
    let cut_off = crate::runner::cutoff::cut_off_runs(&log_dir.join("runs"));
    for line in crate::render::job::cut_off_text(&cut_off).lines() {
        let _ = writeln!(out, "  note:     {line}");
    }
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
        mode.name()
    );
    // The folders were resolved above, so this cannot fail now.
    let Ok(settings) = Settings::resolve(opts) else {
        return false;
    };
    let runner = runner(&settings);
    let ok = check_run(&runner, mode, &found, &workdir, out).await;
    runner.shut_down().await;
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
    runner.shut_down().await;
    if answer.outcome.status == RunStatus::Ok && answer.version.is_some() {
        let line = format!(
            "{} mode works with this Stata: use --mode {} (or STATA_MCP_MODE={} in the client's \"env\").",
            other.name(),
            other.name(),
            other.name()
        );
        let _ = writeln!(out, "  hint: {line}");
        eprintln!("stata-mcp doctor: hint: {line}");
    }
}
