//! The commands for people at a terminal (`doctor`, `config`, `run`) and what they share.

pub(crate) mod config;
pub(crate) mod config_file;
pub(crate) mod doctor;
pub(crate) mod doctor_slurm;
pub(crate) mod install_route;
pub(crate) mod probe;
pub(crate) mod record;
pub(crate) mod run;

use std::path::PathBuf;
use std::sync::Arc;

use crate::runner::Runner;
use crate::runner::rundir::RunDirs;
use crate::service::retention::{Policy, Retention};
use crate::settings::Settings;

/// The runner the server would build from `settings`.
pub(crate) fn runner(settings: &Settings) -> Runner {
    Runner::new(settings, Arc::new(RunDirs::new(&settings.log_dir)))
}

/// Trims the log dir to `--keep-runs` / `--keep-mb` as the server does when it starts, so
/// a script calling `run` over and over does not fill the disk. Done before the run, so the
/// log of the run about to happen is never the one removed.
pub(crate) async fn trim_old_runs(settings: &Settings) {
    let log_dir = &settings.log_dir;
    let retention = Retention::new(
        RunDirs::new(log_dir).root().to_path_buf(),
        Policy::of(settings),
        None,
    );
    match tokio::task::spawn_blocking(move || retention.sweep_now()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!("could not trim old runs under {}: {e}", log_dir.display()),
        Err(e) => tracing::warn!("could not trim old runs: {e}"),
    }
}

/// The absolute, canonical path of this `stata-mcp` binary, for client configurations
/// (clients start servers without the user's shell, so only an absolute path is safe).
pub(crate) fn this_binary() -> Result<PathBuf, String> {
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
