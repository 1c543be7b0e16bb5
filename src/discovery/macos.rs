//! macOS layout: app bundles under `/Applications/Stata*/`, the console binary being the
//! lower-case `stata-mp` in `Contents/MacOS` beside the capitalised GUI `StataMP`.

use std::fs;
use std::path::{Path, PathBuf};

use super::version::Version;

/// A lower-case `stata*` file (`stata-mp`, `stata-se`, `stata`): StataCorp names the
/// console binary so for every edition, while the GUI one is capitalised.
pub(super) fn is_console_name(name: &str) -> bool {
    name.starts_with("stata")
        && !name.contains('.')
        && !name.bytes().any(|b| b.is_ascii_uppercase())
}

/// The capitalised `StataMP`, `StataSE`, `Stata` in `Contents/MacOS` (and `xstata*` for safety).
pub(super) fn is_gui_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("xstata")
        || (name.starts_with('S') && lower.starts_with("stata") && !name.contains('.'))
}

/// Where binaries may sit for an install folder: a `.app` bundle's `Contents/MacOS`; for
/// a plain folder (`/Applications/Stata`), the folder itself and each bundle inside it.
pub(super) fn binary_dirs(folder: &Path) -> Vec<PathBuf> {
    if is_bundle(folder) {
        return vec![folder.join("Contents").join("MacOS")];
    }
    let mut dirs = vec![folder.to_path_buf()];
    if let Ok(entries) = fs::read_dir(folder) {
        let mut bundles: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path())
            .filter(|path| is_bundle(path) && path.is_dir())
            .collect();
        bundles.sort();
        dirs.extend(bundles.iter().map(|b| b.join("Contents").join("MacOS")));
    }
    dirs
}

fn is_bundle(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("app"))
}

/// `/Applications` and the per-user `~/Applications`.
pub(super) fn default_install_roots() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("/Applications")];
    if let Some(home) = dirs::home_dir() {
        roots.push(home.join("Applications"));
    }
    roots
}

/// The version the enclosing app bundle's `Info.plist` states, when it is an XML plist:
/// more reliable than a folder name (`/Applications/Stata` carries none). A binary plist
/// is not valid UTF-8 or has no such text, and gives `None`.
pub(super) fn version_from_bundle(binary: &Path) -> Option<Version> {
    let bundle = binary.ancestors().find(|dir| is_bundle(dir))?;
    let plist = fs::read_to_string(bundle.join("Contents").join("Info.plist")).ok()?;
    plist_string(&plist, "CFBundleShortVersionString").and_then(Version::parse)
}

/// The `<string>` value following `<key>{key}</key>` in an XML plist.
fn plist_string<'a>(plist: &'a str, key: &str) -> Option<&'a str> {
    let after_key = plist.split_once(&format!("<key>{key}</key>"))?.1;
    let value = after_key.trim_start().strip_prefix("<string>")?;
    Some(value.split_once("</string>")?.0.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_and_gui_names() {
        assert!(is_console_name("stata-mp"));
        assert!(is_console_name("stata"));
        assert!(!is_console_name("StataMP"));
        assert!(!is_console_name("stata.icns"));
        assert!(is_gui_name("StataMP"));
        assert!(is_gui_name("Stata"));
        assert!(!is_gui_name("stata-mp"));
        assert!(!is_gui_name("StataMP.app"));
    }

    #[test]
    fn reads_the_plist_version() {
        let plist = "<dict>\n\t<key>CFBundleName</key>\n\t<string>StataMP</string>\n\
                     \t<key>CFBundleShortVersionString</key>\n\t<string>18.5</string>\n</dict>";
        assert_eq!(
            plist_string(plist, "CFBundleShortVersionString"),
            Some("18.5")
        );
        assert_eq!(plist_string(plist, "CFBundleVersion"), None);
    }
}
