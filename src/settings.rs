//! The command-line options resolved once: absolute folders, the mode, durations and limits.
//!
//! Every consumer (the server, `doctor`, `run`) reads these rather than re-deriving them
//! from the raw options, so a default or a rule (the retention size in bytes, the log dir made
//! absolute) lives in one place.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{Mode, SandboxMode, ServerOptions};
use crate::client::policy::{AutoBackground, Overrides};
use crate::log::watch::FollowMode;

/// The options as the program uses them.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `--stata-path`: the Stata binary the user named, if any (found anew on each call).
    pub stata_path: Option<PathBuf>,
    pub mode: Mode,
    /// The mode is this OS's default, not the user's choice.
    pub mode_is_default: bool,
    /// `--warm`: start the session as the server starts.
    pub warm: bool,
    /// Batch runs (and a sweep's tasks) at once (`--max-parallel`).
    pub max_parallel: usize,
    /// `--mode slurm`: how jobs are submitted.
    pub slurm: SlurmSettings,
    /// How long a session gets to come back after a break before it is killed.
    pub break_grace: Duration,
    /// Session mode: named sessions running at once (`--max-sessions`).
    pub max_sessions: usize,
    /// Session mode: a session other than `main` idle this long is closed (none: never).
    pub session_idle: Option<Duration>,
    /// The server's working directory: where relative paths in calls are taken from when the
    /// client names no project folder.
    pub workdir: PathBuf,
    /// `--workdir` was given: it wins over the client's roots.
    pub workdir_given: bool,
    /// The project folder the client named in the environment (`CLAUDE_PROJECT_DIR`).
    pub client_project: Option<PathBuf>,
    /// Where every run's folder and log go.
    pub log_dir: PathBuf,
    /// A call's time limit unless it names one.
    pub timeout: Duration,
    /// `--client-profile`, `--structured-content`, `--auto-background-secs`: what overrides the
    /// connected client's profile.
    pub client: Overrides,
    /// At most one progress frame per this interval.
    pub progress_interval: Duration,
    /// A frame saying Stata is still running after this much silence.
    pub heartbeat: Duration,
    pub max_frame_bytes: usize,
    pub max_output_chars: usize,
    /// Retention: run directories and bytes of them to keep.
    pub keep_runs: usize,
    pub keep_bytes: u64,
    pub max_images: usize,
    pub no_images: bool,
    /// `--record`: runs are appended to the project's research record.
    pub record: bool,
    /// `--follow`: how running logs are followed.
    pub follow: FollowMode,
    pub allow_shell: bool,
    /// `--sandbox` and its folders (absolute), `--allow-network`.
    pub sandbox: SandboxMode,
    pub sandbox_write: Vec<PathBuf>,
    pub sandbox_read: Vec<PathBuf>,
    pub allow_network: bool,
}

impl Settings {
    /// Resolves `opts`; fails only when a relative folder cannot be made absolute (the
    /// current directory is gone).
    pub(crate) fn resolve(opts: &ServerOptions) -> io::Result<Self> {
        let (mode, mode_is_default) = mode(opts);
        Ok(Self {
            stata_path: opts.stata_path.clone(),
            mode,
            mode_is_default,
            warm: opts.warm,
            max_parallel: usize::try_from(opts.max_parallel).unwrap_or(usize::MAX),
            slurm: SlurmSettings::from(&opts.slurm),
            break_grace: Duration::from_secs(opts.break_grace_secs),
            max_sessions: usize::try_from(opts.max_sessions).unwrap_or(usize::MAX),
            session_idle: (opts.session_idle_secs > 0)
                .then(|| Duration::from_secs(opts.session_idle_secs)),
            workdir: workdir(opts)?,
            workdir_given: opts.workdir.is_some(),
            client_project: client_project_dir(),
            log_dir: log_dir(opts)?,
            timeout: Duration::from_secs(opts.timeout_secs),
            client: overrides(opts),
            progress_interval: Duration::from_millis(opts.progress_interval_ms),
            heartbeat: Duration::from_secs(opts.heartbeat_secs),
            max_frame_bytes: opts.max_frame_bytes,
            max_output_chars: opts.max_output_chars,
            keep_runs: opts.keep_runs,
            keep_bytes: opts.keep_mb.saturating_mul(1024 * 1024),
            max_images: opts.max_images,
            no_images: opts.no_images,
            record: opts.record == crate::cli::RecordMode::On,
            follow: opts.follow,
            allow_shell: opts.allow_shell,
            sandbox: opts.sandbox,
            sandbox_write: opts
                .sandbox_allow_write
                .iter()
                .map(|p| absolute(p))
                .collect::<io::Result<_>>()?,
            sandbox_read: opts
                .sandbox_allow_read
                .iter()
                .map(|p| absolute(p))
                .collect::<io::Result<_>>()?,
            allow_network: opts.allow_network,
        })
    }
}

impl Settings {
    /// The Stata runs use, found anew on each call (so installing it or fixing STATA_PATH
    /// needs no restart). In slurm mode `--slurm-stata-path` is Stata as the compute nodes
    /// see it, which need not exist here (a login node).
    pub(crate) fn stata(&self) -> Result<PathBuf, crate::discovery::DiscoveryError> {
        if self.mode == Mode::Slurm
            && let Some(path) = &self.slurm.stata_path
        {
            return Ok(path.clone());
        }
        crate::discovery::locate(self.stata_path.as_deref())
    }
}

/// `--mode slurm`'s options as the runner uses them.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlurmSettings {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub time: Option<String>,
    pub cpus: Option<u32>,
    pub mem: Option<String>,
    /// Shell lines run before Stata in every job script.
    pub setup: Vec<String>,
    /// Stata on the compute nodes; none: the discovered one.
    pub stata_path: Option<PathBuf>,
    pub sbatch_args: Vec<String>,
}

impl From<&crate::cli::SlurmOptions> for SlurmSettings {
    fn from(o: &crate::cli::SlurmOptions) -> Self {
        let given = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        Self {
            partition: given(&o.slurm_partition),
            account: given(&o.slurm_account),
            time: given(&o.slurm_time),
            cpus: o.slurm_cpus,
            mem: given(&o.slurm_mem),
            setup: o.slurm_setup.clone(),
            stata_path: o.slurm_stata_path.clone(),
            sbatch_args: o.slurm_sbatch_arg.clone(),
        }
    }
}

/// The mode `opts` ask for, and whether it is this OS's default rather than a choice.
pub(crate) fn mode(opts: &ServerOptions) -> (Mode, bool) {
    match opts.mode {
        Some(m) => (m, false),
        None => (Mode::platform_default(), true),
    }
}

/// What the options say over the connected client's profile.
pub(crate) fn overrides(opts: &ServerOptions) -> Overrides {
    Overrides {
        client: opts.client_profile,
        structured_content: opts.structured_content,
        auto_background: AutoBackground::from_secs(opts.auto_background_secs),
        client_limit: client_limit(),
    }
}

/// The client's own limit on a tool call, where the client put it in the server's
/// environment: Claude Code's `MCP_TOOL_TIMEOUT` (milliseconds), when the user set it.
pub(crate) fn client_limit() -> Option<Duration> {
    let ms = std::env::var("MCP_TOOL_TIMEOUT")
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// The project folder the client names in the server's environment: Claude Code's
/// `CLAUDE_PROJECT_DIR`, the only word of it in the 2026-07-28 revision, which has no roots
/// request. An existing folder, made absolute.
pub(crate) fn client_project_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("CLAUDE_PROJECT_DIR")?);
    (dir.is_absolute() && dir.is_dir()).then_some(dir)
}

/// `--workdir` made absolute, or the current directory.
pub(crate) fn workdir(opts: &ServerOptions) -> io::Result<PathBuf> {
    match &opts.workdir {
        Some(w) => absolute(w),
        None => std::env::current_dir(),
    }
}

/// `--log-dir` made absolute, or the default one.
pub(crate) fn log_dir(opts: &ServerOptions) -> io::Result<PathBuf> {
    match &opts.log_dir {
        Some(d) => absolute(d),
        None => Ok(default_log_dir()),
    }
}

/// The default place for logs: the user's cache folder (`~/.cache`, `~/Library/Caches`,
/// `%LOCALAPPDATA%`), else the temp folder.
pub(crate) fn default_log_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("stata-mcp")
}

/// `p` made absolute against the current directory (not canonicalised: a symlink the
/// user chose stays as given).
pub(crate) fn absolute(p: &Path) -> io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> Settings {
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("stata-mcp").chain(args.iter().copied()),
        )
        .expect("options parse");
        Settings::resolve(&cli.options).expect("resolve")
    }

    #[test]
    fn zero_time_limits_are_refused_not_changed() {
        for args in [["--timeout", "0"], ["--heartbeat-secs", "0"]] {
            let err = crate::cli::Cli::try_parse_from(std::iter::once("stata-mcp").chain(args))
                .expect_err("0 is refused");
            assert!(err.to_string().contains("0 is not in 1.."), "{err}");
        }
    }

    #[test]
    fn folders_are_absolute_and_sizes_in_bytes() {
        let s = settings(&["--workdir", "w", "--log-dir", "l", "--keep-mb", "2"]);
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(s.workdir, cwd.join("w"));
        assert_eq!(s.log_dir, cwd.join("l"));
        assert_eq!(s.timeout, Duration::from_secs(3600));
        assert_eq!(s.keep_bytes, 2 * 1024 * 1024);
        let s = settings(&["--mode", "batch", "--auto-background-secs", "0"]);
        assert_eq!((s.mode, s.mode_is_default), (Mode::Batch, false));
        assert_eq!(
            s.client.auto_background,
            AutoBackground::Off,
            "0 turns it off"
        );
    }
}
