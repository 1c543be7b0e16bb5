//! What the search found: each install, how it was found, and the one chosen.

use std::fmt;
use std::path::PathBuf;

use super::version::{Edition, Version};

/// How a binary was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FoundVia {
    /// `--stata-path` / `STATA_PATH`.
    Explicit,
    /// A directory on `PATH`.
    Path,
    /// One of the usual install places.
    InstallDir,
    /// The Windows registry's `StataNNDo` file association.
    Registry,
}

impl fmt::Display for FoundVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FoundVia::Explicit => "--stata-path / STATA_PATH",
            FoundVia::Path => "PATH",
            FoundVia::InstallDir => "install folder",
            FoundVia::Registry => "Windows registry",
        })
    }
}

/// One runnable Stata binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StataInstall {
    /// The binary to run, as found (a symlink stays a symlink).
    pub path: PathBuf,
    pub edition: Edition,
    /// `None` when neither the folders nor the app bundle say.
    pub version: Option<Version>,
    pub source: FoundVia,
}

impl fmt::Display for StataInstall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "Stata {v} {}", self.edition)?,
            // Its version is asked of Stata itself (doctor): not guessed here.
            None => write!(f, "Stata {}", self.edition)?,
        }
        write!(f, " at {} (via {})", self.path.display(), self.source)
    }
}

/// The outcome of a successful search.
#[derive(Debug, Clone)]
pub struct Found {
    pub chosen: StataInstall,
    /// Every other runnable binary found, best first, each with why it lost.
    pub others: Vec<(StataInstall, String)>,
    /// Every place looked in, for the log.
    pub searched: Vec<String>,
    /// Files seen and refused (GUI binaries, missing execute permission).
    pub skipped: Vec<String>,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "using {}", self.chosen)?;
        for (other, why) in &self.others {
            write!(f, "\n  also found {other}: not chosen, {why}")?;
        }
        Ok(())
    }
}
