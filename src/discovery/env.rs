//! Where the search looks: the explicit path, `PATH`, the install roots and the OS, read
//! from the real environment or built by hand in tests.

use std::ffi::OsString;
use std::path::PathBuf;

use super::os::Os;

/// The environment variable that replaces the usual install places (a `PATH`-style list).
pub(crate) const INSTALL_ROOTS_VAR: &str = "STATA_MCP_INSTALL_ROOTS";

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
            super::windows::registry_install_dirs()
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
    if let Some(rest) = text.strip_prefix("~/").or(text.strip_prefix("~\\"))
        && let Some(home) = dirs::home_dir()
    {
        return Some(home.join(rest));
    }
    Some(PathBuf::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

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
