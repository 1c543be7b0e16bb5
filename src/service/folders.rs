//! The folder relative paths in a call are taken from: `--workdir`, else the client's first
//! root, else where the client started the server (unless that is `/` or the home folder,
//! which no user means as their project).

use std::path::{Path, PathBuf};

use super::Service;
use crate::client::roots::FIRST_ANSWER_WAIT;

/// Where relative paths are taken from, and why there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub dir: PathBuf,
    pub from: BaseFrom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseFrom {
    /// `--workdir` (or `STATA_MCP_WORKDIR`).
    Workdir,
    /// The client's first root: the user's project folder as the client knows it.
    Root,
    /// The server's own working directory, a real folder.
    ServerStart,
    /// The server's own working directory, `/` or the home folder: no project folder is known.
    Unknown,
}

impl Base {
    /// The note a result carries when its relative paths or default folder came from `self`.
    pub fn note(&self) -> Option<String> {
        match self.from {
            BaseFrom::Root => Some(format!(
                "relative paths and the default folder are the client's project folder {} (its \
                 first root)",
                self.dir.display()
            )),
            BaseFrom::Unknown => Some(format!(
                "Stata ran in {}, where the client started the server, since the client names no \
                 project folder; pass cwd, or add --workdir to the server's arguments",
                self.dir.display()
            )),
            BaseFrom::Workdir | BaseFrom::ServerStart => None,
        }
    }
}

/// Whether `dir` is a folder no one means as their project: the file system's root or home.
pub fn is_no_project(dir: &Path) -> bool {
    dir.parent().is_none() || dirs::home_dir().is_some_and(|home| home == dir)
}

impl Service {
    /// Where this call's relative paths are taken from (waiting briefly for the client's
    /// first answer to `roots/list` if it is on its way).
    pub async fn base(&self) -> Base {
        let workdir = &self.settings.workdir;
        if self.settings.workdir_given {
            return Base {
                dir: workdir.clone(),
                from: BaseFrom::Workdir,
            };
        }
        if let Some(root) = self.client.roots.first(FIRST_ANSWER_WAIT).await
            && root.is_dir()
        {
            return Base {
                dir: root,
                from: BaseFrom::Root,
            };
        }
        let from = if is_no_project(workdir) {
            BaseFrom::Unknown
        } else {
            BaseFrom::ServerStart
        };
        Base {
            dir: workdir.clone(),
            from,
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn root_and_home_are_no_ones_project() {
        assert!(is_no_project(Path::new("/")));
        if let Some(home) = dirs::home_dir() {
            assert!(is_no_project(&home));
            assert!(!is_no_project(&home.join("thesis")));
        }
        assert!(!is_no_project(Path::new("/srv/project")));
    }
}
