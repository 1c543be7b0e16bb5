//! The commands for people at a terminal (`doctor`, `config`, `run`) and what they share.

pub mod config;
pub mod doctor;
pub mod run;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{Mode, ServerOptions};
use crate::runner::Runner;
use crate::runner::rundir::{RunDirs, default_log_dir};
use crate::server::tools::build_runner;
use crate::service::retention::{Policy, Retention};

/// The log dir `opts` name (made absolute), or the default one.
pub fn log_dir(opts: &ServerOptions) -> io::Result<PathBuf> {
    match &opts.log_dir {
        Some(d) => absolute(d),
        None => Ok(default_log_dir()),
    }
}

/// The mode `opts` ask for, and whether it is this OS's default rather than a choice.
pub fn mode(opts: &ServerOptions) -> (Mode, bool) {
    match opts.mode {
        Some(m) => (m, false),
        None => (Mode::platform_default(), true),
    }
}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Batch => "batch",
        Mode::Session => "session",
    }
}

/// The runner the server would build from `opts`, with its run directories under `log_dir`.
pub fn runner(opts: &ServerOptions, log_dir: &Path) -> Runner {
    build_runner(opts, Arc::new(RunDirs::new(log_dir)))
}

/// Trims the log dir to `--keep-runs` / `--keep-mb` as the server does when it starts, so
/// a script calling `run` over and over does not fill the disk. Done before the run, so the
/// log of the run about to happen is never the one removed.
pub async fn trim_old_runs(opts: &ServerOptions, log_dir: &Path) {
    let retention = Retention::new(
        RunDirs::new(log_dir).root().to_path_buf(),
        Policy {
            keep_runs: opts.keep_runs,
            keep_bytes: opts.keep_mb.saturating_mul(1024 * 1024),
        },
    );
    match tokio::task::spawn_blocking(move || retention.sweep_now()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!("could not trim old runs under {}: {e}", log_dir.display()),
        Err(e) => tracing::warn!("could not trim old runs: {e}"),
    }
}

/// Ends whatever Stata the runner still has running: a session outlives its calls, and
/// nothing may be left behind when the command exits.
pub async fn shut_down(runner: &Runner) {
    if let Runner::Session(session) = runner {
        session.stop().await;
    }
    crate::runner::process::kill_all_groups();
}

/// `p` made absolute against the current directory (not canonicalised: a symlink the
/// user chose stays as given).
pub fn absolute(p: &Path) -> io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// The absolute, canonical path of this `stata-mcp` binary, for client configurations
/// (clients start servers without the user's shell, so only an absolute path is safe).
pub fn this_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("could not tell where this stata-mcp binary is: {e}"))?;
    let canonical = std::fs::canonicalize(&exe).map_err(|e| {
        format!(
            "could not resolve the path of this stata-mcp binary ({}): {e}",
            exe.display()
        )
    })?;
    Ok(strip_verbatim(canonical))
}

/// Windows' canonical paths start with `\\?\`, which some clients cannot launch.
fn strip_verbatim(p: PathBuf) -> PathBuf {
    #[cfg(windows)]
    {
        if let Some(rest) = p.to_str().and_then(|s| s.strip_prefix(r"\\?\"))
            && !rest.starts_with("UNC\\")
        {
            return PathBuf::from(rest);
        }
    }
    p
}
