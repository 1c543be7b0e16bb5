//! Linux layout: `/usr/local/stataNN/stata-mp`, GUI `xstata-*` beside it. macOS shares the `PATH` names.

use std::path::PathBuf;

/// Console binaries, best edition first: MP, SE, BE/IC (`stata`), old Small Stata.
pub(super) const CONSOLE_NAMES: &[&str] = &["stata-mp", "stata-se", "stata", "stata-sm"];

pub(super) fn is_console_name(name: &str) -> bool {
    CONSOLE_NAMES.contains(&name)
}

/// `xstata`, `xstata-mp`, `xstata-se`: the GUI, which needs a display and never exits by itself.
pub(super) fn is_gui_name(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("xstata")
}

/// `/usr/local/stata18`, `/usr/local/statanow19`, Docker's `/usr/local/stata`, `/opt/stata*`.
pub(super) fn default_install_roots() -> Vec<PathBuf> {
    vec![PathBuf::from("/usr/local"), PathBuf::from("/opt")]
}
