//! The search itself: an explicit path or folder, else everything on `PATH` and in the
//! install places, ranked newest version first, then edition.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::env::SearchEnv;
use super::error::{DiscoveryError, NotFound};
use super::found::{Found, FoundVia, StataInstall};
use super::os::{Os, is_gui_binary_name};
use super::version::{Edition, Version, edition_from_binary_name, version_from_path};
use super::{macos, windows};

/// Finds the Stata binary to run. See the module documentation for the order and ranking.
pub fn discover(env: &SearchEnv) -> Result<Found, DiscoveryError> {
    if let Some(explicit) = &env.explicit {
        return discover_explicit(env.os, explicit);
    }
    let mut search = Search::new(env.os);
    search
        .searched
        .push("--stata-path / STATA_PATH: not set".to_string());
    if let Some(path_var) = &env.path_var {
        for dir in std::env::split_paths(path_var) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            if dir.is_relative() {
                // A relative entry means "wherever the server was started": not a place
                // to pick up a binary from.
                search.skipped.push(format!(
                    "PATH entry {}: relative, not searched",
                    dir.display()
                ));
                continue;
            }
            search.scan_bin_dir(&dir, FoundVia::Path, "on PATH");
        }
    } else {
        search.searched.push("PATH: not set".to_string());
    }
    for dir in &env.bin_dirs {
        search.scan_bin_dir(dir, FoundVia::InstallDir, "usual place for a symlink");
    }
    for root in &env.install_roots {
        search.scan_install_root(root, FoundVia::InstallDir);
    }
    if env.os == Os::Windows {
        if env.registry_dirs.is_empty() {
            search.searched.push(format!(
                "registry {}: no Stata entries",
                windows::REGISTRY_KEY
            ));
        }
        for dir in &env.registry_dirs {
            search.searched.push(format!(
                "{} (named by registry {})",
                dir.display(),
                windows::REGISTRY_KEY
            ));
            search.scan_install_folder(dir, FoundVia::Registry);
        }
    }
    match search.ranked() {
        Some(found) => Ok(found),
        None => Err(DiscoveryError::NotFound(NotFound {
            searched: search.searched,
            skipped: search.skipped,
            os: env.os,
        })),
    }
}
/// folder is the only place searched. Never falls back to `PATH`: the user asked for
/// this one, and silently running another Stata would hide their mistake.
fn discover_explicit(os: Os, path: &Path) -> Result<Found, DiscoveryError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(DiscoveryError::ExplicitMissing {
                path: path.to_path_buf(),
                broken_symlink: fs::symlink_metadata(path).is_ok(),
                os,
            });
        }
        Err(err) => {
            return Err(DiscoveryError::ExplicitUnreadable {
                path: path.to_path_buf(),
                error: err.to_string(),
                os,
            });
        }
    };
    let mut search = Search::new(os);
    if meta.is_dir() {
        search.searched.push(format!(
            "{} (the folder given with --stata-path / STATA_PATH)",
            path.display()
        ));
        search.scan_install_folder(path, FoundVia::Explicit);
        if search.found.is_empty() {
            // Perhaps the parent of install folders (`/usr/local`, `/Applications`).
            search.scan_install_root(path, FoundVia::Explicit);
        }
        return search
            .ranked()
            .ok_or_else(|| DiscoveryError::ExplicitFolderEmpty {
                path: path.to_path_buf(),
                searched: search.searched,
                skipped: search.skipped,
                os,
            });
    }
    let canonical = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if is_gui_binary_name(file_name(path), os) || is_gui_binary_name(file_name(&canonical), os) {
        return Err(DiscoveryError::ExplicitGui {
            path: path.to_path_buf(),
            console: console_beside(os, &canonical),
            os,
        });
    }
    if !meta.is_file() || !is_executable(&meta) {
        return Err(DiscoveryError::ExplicitNotExecutable {
            path: path.to_path_buf(),
            os,
        });
    }
    Ok(Found {
        chosen: search.describe(path.to_path_buf(), &canonical, FoundVia::Explicit),
        others: Vec::new(),
        searched: vec![format!("--stata-path / STATA_PATH: {}", path.display())],
        skipped: Vec::new(),
    })
}

/// The best console binary in the folder of a GUI binary, to suggest instead of it.
fn console_beside(os: Os, gui: &Path) -> Option<PathBuf> {
    let mut search = Search::new(os);
    search.scan_install_folder(gui.parent()?, FoundVia::Explicit);
    search.ranked().map(|found| found.chosen.path)
}

/// Whether the file a path names is an executable regular file.
enum FileCheck {
    Runnable,
    NotExecutable,
    NotAFile,
    Missing,
}

fn check_file(path: &Path) -> FileCheck {
    // `metadata` follows symlinks: a link is judged by what it points to.
    match fs::metadata(path) {
        Err(_) => FileCheck::Missing,
        Ok(meta) if !meta.is_file() => FileCheck::NotAFile,
        Ok(meta) if !is_executable(&meta) => FileCheck::NotExecutable,
        Ok(_) => FileCheck::Runnable,
    }
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    // Windows has no execute bit; the name (`.exe`) already decided.
    true
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// One search in progress: what was found, and the trail of where it looked.
struct Search {
    os: Os,
    found: Vec<StataInstall>,
    /// Canonical paths of found binaries: a `PATH` symlink and the install folder it
    /// points into are one Stata, listed once.
    seen_binaries: HashSet<PathBuf>,
    /// Canonical paths of scanned folders, so `/usr/local/bin` on `PATH` is not searched twice.
    seen_dirs: HashSet<PathBuf>,
    searched: Vec<String>,
    skipped: Vec<String>,
}

impl Search {
    fn new(os: Os) -> Search {
        Search {
            os,
            found: Vec::new(),
            seen_binaries: HashSet::new(),
            seen_dirs: HashSet::new(),
            searched: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// True the first time a folder is seen.
    fn first_visit(&mut self, dir: &Path) -> bool {
        let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.seen_dirs.insert(key)
    }

    /// A `PATH`-like directory: only the known binary names are looked up, since such
    /// folders (`/usr/bin`) hold thousands of files.
    fn scan_bin_dir(&mut self, dir: &Path, via: FoundVia, what: &str) {
        if !self.first_visit(dir) {
            return;
        }
        self.searched.push(format!("{} ({what})", dir.display()));
        for name in self.os.path_names() {
            self.consider(dir.join(name), via);
        }
    }

    /// An install folder: every file is looked at, so GUI-only installs can be explained.
    fn scan_install_folder(&mut self, folder: &Path, via: FoundVia) {
        for dir in self.os.binary_dirs(folder) {
            if !self.first_visit(&dir) {
                continue;
            }
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<(String, PathBuf)> = entries
                .filter_map(|entry| {
                    let entry = entry.ok()?;
                    Some((entry.file_name().into_string().ok()?, entry.path()))
                })
                .collect();
            files.sort();
            for (name, path) in files {
                if is_gui_binary_name(&name, self.os) {
                    self.skipped.push(format!(
                        "{}: Stata's GUI binary, never run (the console binary is a lower-case stata-* file)",
                        path.display()
                    ));
                } else if self.os.is_console_name(&name) {
                    self.consider(path, via);
                }
            }
        }
    }

    /// A parent of install folders: each `stata*` child (any case) is searched.
    fn scan_install_root(&mut self, root: &Path, via: FoundVia) {
        let pattern = root.join(match self.os {
            Os::Linux => "stata*",
            Os::MacOs | Os::Windows => "Stata*",
        });
        let mut folders: Vec<PathBuf> = match fs::read_dir(root) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok())
                .filter(|entry| {
                    entry
                        .file_name()
                        .to_str()
                        .is_some_and(|n| n.to_ascii_lowercase().starts_with("stata"))
                })
                .map(|entry| entry.path())
                .filter(|path| path.is_dir())
                .collect(),
            Err(_) => {
                self.searched.push(format!(
                    "{}: {} does not exist",
                    pattern.display(),
                    root.display()
                ));
                return;
            }
        };
        folders.sort();
        let listed = if folders.is_empty() {
            "none".to_string()
        } else {
            folders
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.searched
            .push(format!("{}: {listed}", pattern.display()));
        for folder in folders {
            self.scan_install_folder(&folder, via);
        }
    }

    fn consider(&mut self, path: PathBuf, via: FoundVia) {
        match check_file(&path) {
            FileCheck::Missing => {}
            FileCheck::NotAFile => self
                .skipped
                .push(format!("{}: not a regular file", path.display())),
            FileCheck::NotExecutable => self.skipped.push(format!(
                "{}: not executable (no execute permission)",
                path.display()
            )),
            FileCheck::Runnable => {
                let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if is_gui_binary_name(file_name(&canonical), self.os) {
                    self.skipped.push(format!(
                        "{}: links to Stata's GUI binary {}, never run",
                        path.display(),
                        canonical.display()
                    ));
                    return;
                }
                if self.seen_binaries.insert(canonical.clone()) {
                    let install = self.describe(path, &canonical, via);
                    self.found.push(install);
                }
            }
        }
    }

    /// Edition and version of a runnable binary. A symlink (`/usr/local/bin/stata`) is
    /// judged by its target, whose folder names the version and whose name the edition.
    fn describe(&self, path: PathBuf, canonical: &Path, via: FoundVia) -> StataInstall {
        let edition = match edition_from_binary_name(file_name(canonical)) {
            Edition::Unknown => edition_from_binary_name(file_name(&path)),
            edition => edition,
        };
        let version = match self.os {
            Os::MacOs => macos::version_from_bundle(canonical),
            Os::Linux | Os::Windows => None,
        }
        .or_else(|| version_from_path(canonical))
        .or_else(|| version_from_path(&path));
        // The basic edition was IC until Stata 17 renamed it BE.
        let edition = match (edition, version) {
            (Edition::BE, Some(v)) if v.major < 17 => Edition::IC,
            (edition, _) => edition,
        };
        StataInstall {
            path,
            edition,
            version,
            source: via,
        }
    }

    /// Ranks what was found; `None` when nothing was.
    fn ranked(&mut self) -> Option<Found> {
        let os = self.os;
        let mut found = std::mem::take(&mut self.found);
        // Stable: among equals, the one found first (PATH before install folders) wins.
        found.sort_by_key(|install| std::cmp::Reverse(rank_key(os, install)));
        let mut found = found.into_iter();
        let chosen = found.next()?;
        let others = found
            .map(|other| {
                let why = why_not_chosen(os, &other, &chosen);
                (other, why)
            })
            .collect();
        Some(Found {
            chosen,
            others,
            searched: self.searched.clone(),
            skipped: self.skipped.clone(),
        })
    }
}

/// Bigger is better: newest version (unknown last), best edition, then on Windows the
/// 64-bit build over the old 32-bit one.
fn rank_key(os: Os, install: &StataInstall) -> (Option<Version>, u8, bool) {
    (
        install.version,
        install.edition.rank(),
        is_64_bit(os, &install.path),
    )
}

fn is_64_bit(os: Os, path: &Path) -> bool {
    os != Os::Windows || file_name(path).to_ascii_lowercase().contains("-64")
}

fn why_not_chosen(os: Os, other: &StataInstall, chosen: &StataInstall) -> String {
    match (other.version, chosen.version) {
        (None, Some(newer)) => return format!("version unknown (Stata {newer} preferred)"),
        (Some(older), Some(newer)) if older < newer => {
            return format!("older version (Stata {older}; {newer} preferred)");
        }
        _ => {}
    }
    if other.edition.rank() < chosen.edition.rank() {
        format!(
            "lesser edition ({}; {} preferred)",
            other.edition, chosen.edition
        )
    } else if !is_64_bit(os, &other.path) && is_64_bit(os, &chosen.path) {
        "32-bit build (the 64-bit one preferred)".to_string()
    } else {
        "same version and edition as the chosen one, which was found first".to_string()
    }
}
