//! The OS whose install layout and binary names the search follows.

use std::path::{Path, PathBuf};

use super::{linux, macos, windows};

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
    pub(super) fn path_names(self) -> &'static [&'static str] {
        match self {
            Os::Linux | Os::MacOs => linux::CONSOLE_NAMES,
            Os::Windows => windows::EXE_NAMES,
        }
    }

    /// Whether a file inside an install folder is a binary this server can run.
    pub(super) fn is_console_name(self, name: &str) -> bool {
        match self {
            Os::Linux => linux::is_console_name(name),
            Os::MacOs => macos::is_console_name(name),
            Os::Windows => windows::is_exe_name(name),
        }
    }

    /// Folders inside an install folder (or bundle) that may hold the binaries.
    pub(super) fn binary_dirs(self, folder: &Path) -> Vec<PathBuf> {
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
pub(crate) fn is_gui_binary_name(name: &str, os: Os) -> bool {
    match os {
        Os::Linux => linux::is_gui_name(name),
        Os::MacOs => macos::is_gui_name(name),
        // Windows has only the GUI executables, and batch mode runs them.
        Os::Windows => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
