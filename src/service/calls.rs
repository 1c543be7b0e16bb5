//! A call that runs user code, checked and turned into a run request: paths resolved, the
//! working directory and time limit checked, the shell guard applied, Stata found.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Service;
use super::shell_guard::{ShellEscape, find_shell_escape};
use crate::discovery::DiscoveryError;
use crate::run::RunSource;
use crate::runner::request::RunRequest;
use crate::runner::turns::Ticket;

/// The longest time limit a call may ask for: a week.
const MAX_TIMEOUT_S: f64 = 7.0 * 86_400.0;

/// What a run tool was asked to run, as given.
#[derive(Debug, Clone)]
pub enum CallSource {
    /// `stata_run_code`: the code.
    Code(String),
    /// `stata_run_file`: the do-file as given, and its arguments.
    File { path: String, args: Vec<String> },
}

/// A run tool's arguments, as given.
#[derive(Debug, Clone)]
pub struct RunCall {
    pub source: CallSource,
    pub cwd: Option<String>,
    pub timeout_s: Option<f64>,
}

/// Why a call could not start; `rc` is the return code Stata gives the same failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("timeout_s must be a number of seconds between 0 and 604800, not {0}")]
    BadTimeout(f64),
    #[error(
        "file {} not found (the path given was {given:?}; relative paths are taken from the \
         server's working directory {})",
        path.display(),
        workdir.display()
    )]
    FileNotFound {
        path: PathBuf,
        given: String,
        workdir: PathBuf,
    },
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
    /// Discovery's own explanation of where it looked.
    #[error(transparent)]
    StataNotFound(#[from] DiscoveryError),
}

impl StartError {
    /// Whether an argument itself is wrong (rather than what it names).
    pub fn is_argument(&self) -> bool {
        matches!(self, StartError::BadTimeout(_))
    }

    /// Stata's return code for the same failure, where it has one.
    pub fn rc(&self) -> Option<i32> {
        match self {
            StartError::FileNotFound { .. } => Some(601),
            StartError::NotADirectory(_) => Some(170),
            _ => None,
        }
    }
}

impl Service {
    /// Checks `call` and makes its run request, holding `turn` (its place in the line).
    pub fn request(&self, call: RunCall, turn: Option<Ticket>) -> Result<RunRequest, StartError> {
        let workdir = &self.settings.workdir;
        let (source, cwd, change_dir) = match call.source {
            CallSource::Code(code) => {
                let cwd = call
                    .cwd
                    .as_deref()
                    .map_or_else(|| workdir.clone(), |c| resolve(workdir, c));
                check_dir(&cwd)?;
                (RunSource::Code(code), cwd, call.cwd.is_some())
            }
            CallSource::File { path: given, args } => {
                let path = resolve(workdir, &given);
                if !path.is_file() {
                    return Err(StartError::FileNotFound {
                        path,
                        given,
                        workdir: workdir.clone(),
                    });
                }
                let cwd = match &call.cwd {
                    Some(c) => resolve(workdir, c),
                    // Relative paths in a do-file are written against its own folder.
                    None => path
                        .parent()
                        .map_or_else(|| workdir.clone(), Path::to_path_buf),
                };
                check_dir(&cwd)?;
                (RunSource::File { path, args }, cwd, true)
            }
        };
        let timeout = self.timeout(call.timeout_s)?;
        if !self.settings.allow_shell {
            self.guard(&source, &cwd)?;
        }
        let stata = self.locate_stata()?;
        Ok(RunRequest {
            stata,
            source,
            cwd,
            change_dir,
            run_dir: None,
            turn,
            timeout,
        })
    }

    fn timeout(&self, timeout_s: Option<f64>) -> Result<Duration, StartError> {
        match timeout_s {
            None => Ok(self.settings.timeout),
            Some(t) if t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT_S => {
                Ok(Duration::from_secs_f64(t))
            }
            Some(t) => Err(StartError::BadTimeout(t)),
        }
    }

    /// The shell guard over the code, or over the do-file and what it runs.
    fn guard(&self, source: &RunSource, cwd: &Path) -> Result<(), StartError> {
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
}

/// A user-supplied path resolved against `base`.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn check_dir(dir: &Path) -> Result<(), StartError> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(StartError::NotADirectory(dir.to_path_buf()))
    }
}
