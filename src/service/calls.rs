//! A call that runs user code, checked and turned into a run request: paths resolved, the
//! working directory and time limit checked, the shell guard applied, Stata found.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use super::folders::{Base, BaseFrom};
use super::shared::Shared;
use super::shell_guard::{ShellEscape, find_shell_escape};
use crate::discovery::DiscoveryError;
use crate::run::RunSource;
use crate::run::session_name::{BadSessionName, SessionName};
use crate::run::tool::ToolName;
use crate::runner::request::RunRequest;
use crate::runner::turns::Ticket;
use crate::settings::Settings;

/// The longest time limit a call may ask for: a week.
const MAX_TIMEOUT_S: f64 = 7.0 * 86_400.0;

/// What a run tool was asked to run, as given.
#[derive(Debug, Clone)]
pub(crate) enum CallSource {
    /// `stata_run_code`: the code.
    Code(String),
    /// `stata_run_file`: the do-file as given, and its arguments.
    File { path: String, args: Vec<String> },
}

/// A run tool's arguments, as given.
#[derive(Debug, Clone)]
pub(crate) struct RunCall {
    pub source: CallSource,
    pub cwd: Option<String>,
    pub timeout_s: Option<f64>,
    /// Session mode: the session to run in, as given (`main` when none).
    pub session: Option<String>,
}

/// Why a call could not start; `rc` is the return code Stata gives the same failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("timeout_s must be a number of seconds between 0 and 604800, not {0}")]
    BadTimeout(f64),
    #[error(
        "file {} not found (the path given was {given:?}; relative paths are taken from {})",
        path.display(),
        base_text(base)
    )]
    FileNotFound {
        path: PathBuf,
        given: String,
        base: Base,
    },
    #[error(
        "the relative path {given:?} has no folder to be taken from: the server runs in {}, \
         where the client started it, and the client names no project folder (roots). Pass an \
         absolute path (or an absolute cwd), or start the server in your project with \
         --workdir: `stata-mcp config <client> --workdir /path/to/project --write` writes it \
         into the client's config",
        dir.display()
    )]
    NoProjectFolder { given: String, dir: PathBuf },
    #[error(
        "the working directory {} does not exist (or is not a folder); pass an existing cwd",
        .0.display()
    )]
    NotADirectory(PathBuf),
    #[error("could not read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    ShellEscape(ShellEscape),
    /// A folder or file outside the user's folders.
    #[error(transparent)]
    Outside(#[from] super::folders::Outside),
    #[error(transparent)]
    BadSession(#[from] BadSessionName),
    #[error(
        "the `session` argument names one of the server's Stata sessions, but this server runs \
         in {0} mode (a fresh Stata per call, no sessions); leave it out, or start the server \
         with --mode session (Linux and macOS) to keep named sessions"
    )]
    NoSessions(&'static str),
    /// Discovery's own explanation of where it looked.
    #[error(transparent)]
    StataNotFound(#[from] DiscoveryError),
}

impl StartError {
    /// Whether an argument itself is wrong (rather than what it names).
    pub(crate) fn is_argument(&self) -> bool {
        matches!(
            self,
            StartError::BadTimeout(_) | StartError::BadSession(_) | StartError::NoSessions(_)
        )
    }

    /// Whether the server itself refused the call (a rule, not a missing thing): the shell
    /// guard, or a path outside the user's folders.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, StartError::ShellEscape(_) | StartError::Outside(_))
    }

    /// Stata's return code for the same failure, where it has one.
    pub(crate) fn rc(&self) -> Option<i32> {
        match self {
            StartError::FileNotFound { .. } | StartError::NoProjectFolder { .. } => Some(601),
            StartError::NotADirectory(_) => Some(170),
            _ => None,
        }
    }
}

/// Turns run calls into run requests: checked, resolved, guarded, sandboxed.
pub(crate) struct Calls {
    shared: Arc<Shared>,
}

impl Calls {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Checks `call` and makes its run request, holding `turn` (its place in the line).
    pub(crate) async fn request(
        &self,
        call: RunCall,
        turn: Option<Ticket>,
    ) -> Result<RunRequest, StartError> {
        let shared = &self.shared;
        let settings = &shared.settings;
        let session = session_name(settings, call.session.as_deref())?;
        let base = shared.base().await;
        // Whether the base folder was used, and so the result should say which it was.
        let mut used_base = false;
        let (source, cwd, change_dir) = match call.source {
            CallSource::Code(code) => {
                let cwd = match call.cwd.as_deref() {
                    Some(c) => resolve(&base, c, &mut used_base)?,
                    None => {
                        used_base = true;
                        base.dir.clone()
                    }
                };
                check_dir(&cwd)?;
                (RunSource::Code(code), cwd, call.cwd.is_some())
            }
            CallSource::File { path: given, args } => {
                let path = resolve(&base, &given, &mut used_base)?;
                if !path.is_file() {
                    return Err(StartError::FileNotFound { path, given, base });
                }
                let cwd = match &call.cwd {
                    Some(c) => resolve(&base, c, &mut used_base)?,
                    // Relative paths in a do-file are written against its own folder.
                    None => path
                        .parent()
                        .map_or_else(|| base.dir.clone(), Path::to_path_buf),
                };
                check_dir(&cwd)?;
                (RunSource::File { path, args }, cwd, true)
            }
        };
        let timeout = timeout(settings, call.timeout_s)?;
        // The user's folders bound what a call may name: resolved, links and all, before
        // Stata starts (and Stata is then given the resolved paths, which no link can move).
        let folders = shared.user_folders().await;
        let (source, cwd) = if settings.sandbox == crate::cli::SandboxMode::Off {
            (source, cwd)
        } else {
            let cwd = folders.admit(&cwd, "working folder")?;
            let source = match source {
                RunSource::File { path, args } => RunSource::File {
                    path: folders.admit(&path, "do-file")?,
                    args,
                },
                code => code,
            };
            (source, cwd)
        };
        if !settings.allow_shell {
            guard(&source, &cwd)?;
        }
        let stata = shared.locate_stata()?;
        // A session keeps the folder of its own `cd`s: the base is news only where it is used.
        let notes = if used_base && (change_dir || settings.mode == crate::cli::Mode::Batch) {
            base.note().into_iter().collect()
        } else {
            Vec::new()
        };
        let label = format!(
            "{}: {}",
            ToolName::running(&source),
            crate::service::background::summary_of(&source)
        );
        let sandbox = shared.sandbox_plan(&folders, &stata).await;
        Ok(RunRequest {
            stata,
            source,
            cwd,
            change_dir,
            run_dir: None,
            turn,
            timeout,
            session,
            label,
            sandbox,
            detach: Default::default(),
            notes,
        })
    }
}

/// The session a call names (`main` when none); refused in batch mode, which has none.
pub(crate) fn session_name(s: &Settings, given: Option<&str>) -> Result<SessionName, StartError> {
    match given {
        None => Ok(SessionName::main()),
        Some(_) if s.mode != crate::cli::Mode::Session => {
            Err(StartError::NoSessions(s.mode.name()))
        }
        Some(name) => Ok(SessionName::parse(name)?),
    }
}

/// The top-level commands of a do-file run, so progress frames can say how far it is;
/// `None` for code (whose frames count themselves) or a file that cannot be read.
pub(crate) fn command_total(source: &RunSource) -> Option<u64> {
    let RunSource::File { path, .. } = source else {
        return None;
    };
    let text = std::fs::read(path).ok()?;
    let n = crate::stata::statements::top_level_commands(&String::from_utf8_lossy(&text));
    (n > 0).then_some(n as u64)
}

fn timeout(s: &Settings, timeout_s: Option<f64>) -> Result<Duration, StartError> {
    match timeout_s {
        None => Ok(s.timeout),
        Some(t) if t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT_S => Ok(Duration::from_secs_f64(t)),
        Some(t) => Err(StartError::BadTimeout(t)),
    }
}

/// The shell guard over the code, or over the do-file and what it runs.
fn guard(source: &RunSource, cwd: &Path) -> Result<(), StartError> {
    let found = match source {
        RunSource::Code(code) => find_shell_escape(code, None, cwd),
        RunSource::File { path, .. } => {
            let text = std::fs::read(path).map_err(|source| StartError::Unreadable {
                path: path.clone(),
                source,
            })?;
            find_shell_escape(&String::from_utf8_lossy(&text), Some(path), cwd)
        }
    };
    found.map_or(Ok(()), |escape| Err(StartError::ShellEscape(escape)))
}

/// A user-supplied path resolved against `base`; a relative one is refused when no project
/// folder is known. `used` records that the base was needed.
fn resolve(base: &Base, given: &str, used: &mut bool) -> Result<PathBuf, StartError> {
    let p = Path::new(given);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    if base.from == BaseFrom::Unknown {
        return Err(StartError::NoProjectFolder {
            given: given.to_owned(),
            dir: base.dir.clone(),
        });
    }
    *used = true;
    Ok(base.dir.join(p))
}

fn base_text(base: &Base) -> String {
    let what = match base.from {
        BaseFrom::Workdir => "the server's --workdir",
        BaseFrom::Root => "the client's project folder (its first root)",
        BaseFrom::ClientEnv => "the client's project folder (CLAUDE_PROJECT_DIR)",
        BaseFrom::ServerStart | BaseFrom::Unknown => "the server's working directory",
    };
    format!("{what} {}", base.dir.display())
}

fn check_dir(dir: &Path) -> Result<(), StartError> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(StartError::NotADirectory(dir.to_path_buf()))
    }
}
