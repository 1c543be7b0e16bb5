//! The user's folders: where relative paths in a call are taken from (`--workdir`, else the
//! client's first root, else `CLAUDE_PROJECT_DIR`, else where the client started the server,
//! unless that is `/` or the home folder, which no user means as their project), and the only
//! folders a call's paths may point into (those, and `--sandbox-allow-write`).

use std::path::{Path, PathBuf};

use crate::client::connection::Connection;
use crate::client::roots::FIRST_ANSWER_WAIT;
use crate::settings::Settings;

/// Where relative paths are taken from, and why there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base {
    pub dir: PathBuf,
    pub from: BaseFrom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BaseFrom {
    /// `--workdir` (or `STATA_MCP_WORKDIR`).
    Workdir,
    /// The client's first root: the user's project folder as the client knows it.
    Root,
    /// The project folder the client named in the server's environment (`CLAUDE_PROJECT_DIR`).
    ClientEnv,
    /// The server's own working directory, a real folder.
    ServerStart,
    /// The server's own working directory, `/` or the home folder: no project folder is known.
    Unknown,
}

impl Base {
    /// The note a result carries when its relative paths or default folder came from `self`.
    pub(crate) fn note(&self) -> Option<String> {
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
            BaseFrom::ClientEnv => Some(format!(
                "relative paths and the default folder are the client's project folder {} \
                 (CLAUDE_PROJECT_DIR)",
                self.dir.display()
            )),
            BaseFrom::Workdir | BaseFrom::ServerStart => None,
        }
    }
}

/// Whether `dir` is a folder no one means as their project: the file system's root or home.
pub(crate) fn is_no_project(dir: &Path) -> bool {
    dir.parent().is_none() || dirs::home_dir().is_some_and(|home| home == dir)
}

/// The folders the user chose for this server's work, symlinks resolved: a call's folder and
/// do-file must lie in one of them, and (with a sandbox) Stata writes nowhere else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserFolders {
    pub dirs: Vec<PathBuf>,
}

/// A call's path outside the user's folders.
#[derive(Debug, thiserror::Error)]
#[error("{}", outside_text(path, what, folders))]
pub(crate) struct Outside {
    pub path: PathBuf,
    pub what: &'static str,
    pub folders: UserFolders,
}

fn outside_text(path: &Path, what: &str, folders: &UserFolders) -> String {
    if folders.dirs.is_empty() {
        return format!(
            "refused: the {what} {} is outside the user's folders, and this server has none: the \
             client names no project folder (roots) and the server was started in / or the home \
             folder. Add the project with --workdir /path/to/project (`stata-mcp config <client> \
             --workdir /path/to/project --write`), or allow a folder with --sandbox-allow-write DIR",
            path.display()
        );
    }
    let list: Vec<String> = folders
        .dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(
        "refused: the {what} {} is outside the folders this server may use ({}); the user \
         chooses them (the client's roots, --workdir, --sandbox-allow-write), a call cannot. Use \
         a path inside one of them, or ask the user to add the folder with \
         --sandbox-allow-write DIR",
        path.display(),
        list.join(", ")
    )
}

impl UserFolders {
    /// `path` with symlinks resolved (`..`, `/proc/self/root` and the like included), if it
    /// lies in one of the folders.
    pub(crate) fn admit(&self, path: &Path, what: &'static str) -> Result<PathBuf, Outside> {
        let outside = || Outside {
            path: path.to_path_buf(),
            what,
            folders: self.clone(),
        };
        let real = std::fs::canonicalize(path).map_err(|_| outside())?;
        if self.dirs.iter().any(|d| real.starts_with(d)) {
            Ok(real)
        } else {
            Err(outside())
        }
    }
}

impl UserFolders {
    /// The user's folders: the client's roots, `--workdir`, `CLAUDE_PROJECT_DIR`,
    /// `--sandbox-allow-write`; with none of the first three, the server's own folder unless
    /// it is `/` or home.
    pub(crate) async fn of(s: &Settings, client: &Connection) -> UserFolders {
        let base = Base::of(s, client).await;
        let mut given: Vec<PathBuf> = client.roots.all();
        if s.workdir_given {
            given.push(s.workdir.clone());
        }
        given.extend(s.client_project.iter().cloned());
        if given.is_empty() && base.from != BaseFrom::Unknown {
            given.push(base.dir.clone());
        }
        given.extend(s.sandbox_write.iter().cloned());
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in given {
            if let Ok(real) = std::fs::canonicalize(&d)
                && real.is_dir()
                && !dirs.contains(&real)
            {
                dirs.push(real);
            }
        }
        UserFolders { dirs }
    }
}

impl Base {
    /// Where a call's relative paths are taken from (waiting briefly for the client's
    /// first answer to `roots/list` if it is on its way).
    pub(crate) async fn of(s: &Settings, client: &Connection) -> Base {
        let workdir = &s.workdir;
        if s.workdir_given {
            return Base {
                dir: workdir.clone(),
                from: BaseFrom::Workdir,
            };
        }
        if let Some(root) = client.roots.first(FIRST_ANSWER_WAIT).await
            && root.is_dir()
        {
            return Base {
                dir: root,
                from: BaseFrom::Root,
            };
        }
        if let Some(dir) = &s.client_project {
            return Base {
                dir: dir.clone(),
                from: BaseFrom::ClientEnv,
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
