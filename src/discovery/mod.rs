//! Finding the Stata console binary: explicit path, `PATH`, then the usual install places.
//!
//! The search is a pure function of a [`SearchEnv`] (explicit path, `PATH`, install
//! roots, registry folders, OS), so tests can point it at fake install trees in temp
//! folders and check each OS layout on any host. [`SearchEnv::from_system`] fills
//! it from the real environment.
//!
//! An explicit path that names a binary wins outright. An explicit folder is the only
//! place searched. Otherwise everything found on `PATH` and in the usual install places
//! is ranked: newest version first, then edition MP > SE > BE/IC > SM.
//!
//! On Windows there is no console Stata: the `StataMP-64.exe`-style executables are what
//! batch mode runs, so there they count as the binary to run.

mod error;
mod linux;
mod macos;
mod windows;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

pub use error::{DiscoveryError, NotFound};

/// The OS whose file layout and names the search follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The OS this program was built for. Other Unixes use the Linux layout, the
    /// closest match to how Stata installs there.
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }

    /// Binary names looked for in each `PATH` directory, best edition first.
    fn path_names(self) -> &'static [&'static str] {
        match self {
            Os::Linux | Os::MacOs => linux::CONSOLE_NAMES,
            Os::Windows => windows::EXE_NAMES,
        }
    }

    /// Whether a file inside an install folder is a binary this server can run.
    fn is_console_name(self, name: &str) -> bool {
        match self {
            Os::Linux => linux::is_console_name(name),
            Os::MacOs => macos::is_console_name(name),
            Os::Windows => windows::is_exe_name(name),
        }
    }

    /// Folders inside an install folder (or bundle) that may hold the binaries.
    fn binary_dirs(self, folder: &Path) -> Vec<PathBuf> {
        match self {
            Os::Linux | Os::Windows => vec![folder.to_path_buf()],
            Os::MacOs => macos::binary_dirs(folder),
        }
    }

    /// The usual parents of install folders (`/usr/local`, `/Applications`, `C:\Program Files`).
    pub fn default_install_roots(self) -> Vec<PathBuf> {
        match self {
            Os::Linux => linux::default_install_roots(),
            Os::MacOs => macos::default_install_roots(),
            Os::Windows => windows::default_install_roots(),
        }
    }

    /// Extra directories searched like `PATH` entries (where a symlink to Stata often lives).
    pub fn default_bin_dirs(self) -> Vec<PathBuf> {
        match self {
            Os::Linux | Os::MacOs => vec![PathBuf::from("/usr/local/bin")],
            Os::Windows => Vec::new(),
        }
    }
}

/// Whether `name` is one of Stata's GUI binaries on `os` (`xstata-mp`, macOS `StataMP`),
/// which must never be run as a batch or console process.
pub fn is_gui_binary_name(name: &str, os: Os) -> bool {
    match os {
        Os::Linux => linux::is_gui_name(name),
        Os::MacOs => macos::is_gui_name(name),
        // Windows has only the GUI executables, and batch mode runs them.
        Os::Windows => false,
    }
}

/// Stata's editions. `IC` is what Stata 16 and older called `BE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edition {
    MP,
    SE,
    BE,
    IC,
    SM,
    Unknown,
}

impl Edition {
    /// Preference among editions: MP > SE > BE = IC > SM > unknown.
    pub fn rank(self) -> u8 {
        match self {
            Edition::MP => 4,
            Edition::SE => 3,
            Edition::BE | Edition::IC => 2,
            Edition::SM => 1,
            Edition::Unknown => 0,
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Edition::MP => "MP",
            Edition::SE => "SE",
            Edition::BE => "BE",
            Edition::IC => "IC",
            Edition::SM => "SM",
            Edition::Unknown => "unknown edition",
        })
    }
}

/// The edition a binary's file name says: `stata-mp` / `StataMP-64.exe` / `xstata-mp` → MP.
///
/// The bare names (`stata`, `Stata-64.exe`) give `BE`; Stata 16 and older called that
/// edition IC, which [`discover`] corrects when it knows the version.
pub fn edition_from_binary_name(name: &str) -> Edition {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".exe").unwrap_or(&lower);
    let stem = stem.strip_suffix("-64").unwrap_or(stem);
    // The GUI names carry the edition too (`xstata-se`).
    let stem = match stem.strip_prefix('x') {
        Some(rest) if rest.starts_with("stata") => rest,
        _ => stem,
    };
    if stem == "smstata" {
        return Edition::SM;
    }
    let Some(rest) = stem.strip_prefix("stata") else {
        return Edition::Unknown;
    };
    match rest.trim_start_matches(['-', '_']) {
        "mp" => Edition::MP,
        "se" => Edition::SE,
        "be" | "" => Edition::BE,
        "ic" => Edition::IC,
        "sm" => Edition::SM,
        _ => Edition::Unknown,
    }
}

/// A Stata release: 18 is `{18, 0}`, StataNow 19 is `{19, 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

/// What a bare `StataNow` folder (no number in it) is taken to hold: the StataNow current
/// when this was written. Only used when nothing better is known.
const STATANOW_ASSUMED: Version = Version {
    major: 19,
    minor: 5,
};

impl Version {
    /// Parses `18`, `18.0`, `19.5`, `18.5.1` (the rest ignored). Majors outside 10..=99 are
    /// refused: no such Stata is in use, so such a number is not a Stata version.
    pub fn parse(text: &str) -> Option<Version> {
        let (major, rest) = leading_number(text)?;
        let minor = rest
            .strip_prefix('.')
            .and_then(leading_number)
            .map_or(0, |(n, _)| n);
        (10..=99)
            .contains(&major)
            .then_some(Version { major, minor })
    }
}

/// The decimal number at the start of `text` and what follows it.
fn leading_number(text: &str) -> Option<(u32, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number = text[..end].parse().ok()?;
    Some((number, &text[end..]))
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor == 0 {
            write!(f, "{}", self.major)
        } else {
            write!(f, "{}.{}", self.major, self.minor)
        }
    }
}

/// The version an install folder's name gives: `stata18` → 18, `Stata 14` → 14,
/// `statanow19` → 19.5, a bare `StataNow` → the assumed current StataNow.
fn version_from_folder_name(name: &str) -> Option<Version> {
    let lower = name.to_ascii_lowercase();
    let rest = lower.strip_prefix("stata")?;
    let (now, rest) = match rest.strip_prefix("now") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches([' ', '-', '_']);
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        // `stata-mp`, `StataMP.app`, a plain `stata` folder: no version here.
        return now.then_some(STATANOW_ASSUMED);
    }
    let mut version = Version::parse(rest)?;
    // StataNow NN is release NN.5 unless the folder says otherwise.
    if now
        && !rest
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with('.')
    {
        version.minor = 5;
    }
    Some(version)
}

/// The version the folders above a binary give, nearest folder first:
/// `/usr/local/stata18/stata-mp` → 18, `/Applications/StataNow/StataMP.app/...` → 19.5.
pub fn version_from_path(binary: &Path) -> Option<Version> {
    binary
        .ancestors()
        .skip(1)
        .filter_map(|dir| dir.file_name()?.to_str())
        .find_map(version_from_folder_name)
}

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
            None => write!(f, "Stata (version unknown) {}", self.edition)?,
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

/// The environment variable that replaces the usual install places (a `PATH`-style list).
pub const INSTALL_ROOTS_VAR: &str = "STATA_MCP_INSTALL_ROOTS";

/// Where to look. Build it with [`SearchEnv::from_system`], or by hand in tests.
#[derive(Debug, Clone)]
pub struct SearchEnv {
    /// `--stata-path` / `STATA_PATH`: a binary, or a folder to search instead of everything else.
    pub explicit: Option<PathBuf>,
    /// The value of `PATH`.
    pub path_var: Option<OsString>,
    /// Parents of install folders: each child named `stata*` (any case) is an install folder.
    pub install_roots: Vec<PathBuf>,
    /// Directories searched like `PATH` entries after `PATH` (`/usr/local/bin`).
    pub bin_dirs: Vec<PathBuf>,
    /// Install folders the Windows registry names.
    pub registry_dirs: Vec<PathBuf>,
    pub os: Os,
}

impl SearchEnv {
    /// A search of nothing, for `os`: fill in the fields to use.
    pub fn new(os: Os) -> SearchEnv {
        SearchEnv {
            explicit: None,
            path_var: None,
            install_roots: Vec::new(),
            bin_dirs: Vec::new(),
            registry_dirs: Vec::new(),
            os,
        }
    }

    /// The real environment: `explicit` (from `--stata-path`), else `STATA_PATH`, then
    /// `PATH`, this OS's install places and, on Windows, the registry.
    pub fn from_system(explicit: Option<PathBuf>) -> SearchEnv {
        let os = Os::current();
        let explicit = explicit
            .or_else(|| std::env::var_os("STATA_PATH").map(PathBuf::from))
            .and_then(normalize_explicit);
        // Reading the registry spawns `reg.exe`; pointless when the user named the path.
        #[cfg(windows)]
        let registry_dirs = if explicit.is_none() {
            windows::registry_install_dirs()
        } else {
            Vec::new()
        };
        #[cfg(not(windows))]
        let registry_dirs = Vec::new();
        // STATA_MCP_INSTALL_ROOTS replaces the usual install places (and the symlink folder
        // and registry with them): tests point it at temp folders, and a site with Stata
        // in an unusual place can name that place's parent.
        let (install_roots, bin_dirs, registry_dirs) = match std::env::var_os(INSTALL_ROOTS_VAR) {
            Some(list) => (
                std::env::split_paths(&list)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect(),
                Vec::new(),
                Vec::new(),
            ),
            None => (
                os.default_install_roots(),
                os.default_bin_dirs(),
                registry_dirs,
            ),
        };
        SearchEnv {
            explicit,
            path_var: std::env::var_os("PATH"),
            install_roots,
            bin_dirs,
            registry_dirs,
            os,
        }
    }
}

/// Cleans what users put in MCP client configs: an empty value means unset, surrounding
/// quotes (copied from a shell) are dropped, and a leading `~/` is expanded because no
/// shell does it for a client's `"env"`.
fn normalize_explicit(path: PathBuf) -> Option<PathBuf> {
    let Some(text) = path.to_str() else {
        return Some(path);
    };
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text.strip_prefix("~/").or(text.strip_prefix("~\\")) {
        let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
        if let Some(home) = home {
            return Some(PathBuf::from(home).join(rest));
        }
    }
    Some(PathBuf::from(text))
}

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

/// The binary to run, searching the real environment, or the message to show the user:
/// [`discover`] for callers that need only the path (the server's tools).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, String> {
    match discover(&SearchEnv::from_system(explicit.map(Path::to_path_buf))) {
        Ok(found) => {
            tracing::debug!("{found}");
            Ok(found.chosen.path)
        }
        Err(err) => Err(err.to_string()),
    }
}

/// `--stata-path` / `STATA_PATH`: a binary is taken as is (unless it is the GUI); a
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editions_from_names() {
        let cases = [
            ("stata-mp", Edition::MP),
            ("stata-se", Edition::SE),
            ("stata", Edition::BE),
            ("stata-sm", Edition::SM),
            ("xstata-mp", Edition::MP),
            ("StataMP", Edition::MP),
            ("StataMP-64.exe", Edition::MP),
            ("StataSE-64.exe", Edition::SE),
            ("StataBE-64.exe", Edition::BE),
            ("StataIC-64.exe", Edition::IC),
            ("Stata-64.exe", Edition::BE),
            ("StataSE.exe", Edition::SE),
            ("smStata.exe", Edition::SM),
            ("stata-double", Edition::Unknown),
            ("python3", Edition::Unknown),
        ];
        for (name, edition) in cases {
            assert_eq!(edition_from_binary_name(name), edition, "{name}");
        }
    }

    #[test]
    fn gui_names() {
        assert!(is_gui_binary_name("xstata-mp", Os::Linux));
        assert!(is_gui_binary_name("xstata", Os::Linux));
        assert!(!is_gui_binary_name("stata-mp", Os::Linux));
        assert!(is_gui_binary_name("StataMP", Os::MacOs));
        assert!(is_gui_binary_name("StataSE", Os::MacOs));
        assert!(!is_gui_binary_name("stata-mp", Os::MacOs));
        assert!(!is_gui_binary_name("StataMP-64.exe", Os::Windows));
    }

    #[test]
    fn versions_from_folder_names() {
        let v = |major, minor| Some(Version { major, minor });
        assert_eq!(version_from_folder_name("stata18"), v(18, 0));
        assert_eq!(version_from_folder_name("Stata 14"), v(14, 0));
        assert_eq!(version_from_folder_name("Stata17"), v(17, 0));
        assert_eq!(version_from_folder_name("statanow19"), v(19, 5));
        assert_eq!(version_from_folder_name("StataNow18.5"), v(18, 5));
        assert_eq!(version_from_folder_name("StataNow"), Some(STATANOW_ASSUMED));
        assert_eq!(version_from_folder_name("stata"), None);
        assert_eq!(version_from_folder_name("StataMP.app"), None);
        assert_eq!(version_from_folder_name("stata-mcp"), None);
        assert_eq!(version_from_folder_name("local"), None);
    }

    #[test]
    fn versions_from_paths() {
        let v = |major, minor| Some(Version { major, minor });
        assert_eq!(
            version_from_path(Path::new("/usr/local/stata18/stata-mp")),
            v(18, 0)
        );
        assert_eq!(
            version_from_path(Path::new(
                "/Applications/StataNow/StataMP.app/Contents/MacOS/stata-mp"
            )),
            v(19, 5)
        );
        assert_eq!(
            version_from_path(Path::new("/usr/local/stata/stata-mp")),
            None
        );
        // The binary's own name is not a folder name.
        assert_eq!(version_from_path(Path::new("/usr/bin/stata18")), None);
    }

    #[test]
    fn version_parse_and_display() {
        assert_eq!(
            Version::parse("19.5"),
            Some(Version {
                major: 19,
                minor: 5
            })
        );
        assert_eq!(
            Version::parse("18.0").map(|v| v.to_string()).as_deref(),
            Some("18")
        );
        assert_eq!(
            Version::parse("19.5").map(|v| v.to_string()).as_deref(),
            Some("19.5")
        );
        assert_eq!(Version::parse("1.0"), None);
        assert_eq!(Version::parse("abc"), None);
        assert!(Version::parse("19.5") > Version::parse("19"));
        assert!(Version::parse("18") > None);
    }

    #[test]
    fn explicit_values_are_cleaned() {
        assert_eq!(normalize_explicit(PathBuf::from("")), None);
        assert_eq!(normalize_explicit(PathBuf::from("  ")), None);
        assert_eq!(
            normalize_explicit(PathBuf::from("\"/usr/local/stata18/stata-mp\"")),
            Some(PathBuf::from("/usr/local/stata18/stata-mp"))
        );
    }
}
