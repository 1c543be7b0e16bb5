//! Windows layout: `C:\Program Files\StataNN\StataMP-64.exe`, and the registry's
//! `StataNNDo` file association naming the install. There is no console Stata on
//! Windows: batch mode runs these executables.

use std::path::PathBuf;

/// Executables, best first: 64-bit MP, SE, BE (17+), IC (16 and older), unnamed
/// edition, then the old 32-bit builds and Small Stata.
pub(super) const EXE_NAMES: &[&str] = &[
    "StataMP-64.exe",
    "StataSE-64.exe",
    "StataBE-64.exe",
    "StataIC-64.exe",
    "Stata-64.exe",
    "StataMP.exe",
    "StataSE.exe",
    "StataBE.exe",
    "StataIC.exe",
    "Stata.exe",
    "smStata.exe",
];

/// The key whose default value is the command that runs a do-file, in `reg` syntax.
pub(super) const REGISTRY_KEY: &str = r"HKEY_CLASSES_ROOT\StataNNDo\shell\do\command";

/// Windows file names are case-insensitive.
pub(super) fn is_exe_name(name: &str) -> bool {
    EXE_NAMES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name))
}

/// `C:\Program Files` and `C:\Program Files (x86)`, from the environment when set (a
/// 32-bit process sees `ProgramFiles` as the x86 folder; `ProgramW6432` is the real one).
pub(super) fn default_install_roots() -> Vec<PathBuf> {
    let from_env = ["ProgramW6432", "ProgramFiles", "ProgramFiles(x86)"]
        .into_iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from);
    let fallback = [r"C:\Program Files", r"C:\Program Files (x86)"].map(PathBuf::from);
    let mut roots: Vec<PathBuf> = Vec::new();
    for root in from_env.chain(fallback) {
        let lower = root.to_string_lossy().to_ascii_lowercase();
        if !roots
            .iter()
            .any(|r| r.to_string_lossy().to_ascii_lowercase() == lower)
        {
            roots.push(root);
        }
    }
    roots
}

/// Install folders named by `HKEY_CLASSES_ROOT\StataNNDo\shell\do\command`, read with
/// `reg.exe` (no registry crate needed for two queries). Failures give an empty list:
/// the registry is only one of the places searched.
#[cfg(windows)]
pub(super) fn registry_install_dirs() -> Vec<PathBuf> {
    // Without /s, /f searches only HKCR's direct subkeys, matching names containing "Stata".
    let Some(listing) = reg(&["query", "HKCR", "/f", "Stata", "/k"]) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for key in stata_do_keys(&listing) {
        let command_key = format!(r"HKCR\{key}\shell\do\command");
        let Some(value) = reg(&["query", &command_key, "/ve"]) else {
            continue;
        };
        let Some(exe) = default_value_exe(&value) else {
            continue;
        };
        if let Some(dir) = exe.parent()
            && !dirs.iter().any(|d| d == dir)
        {
            dirs.push(dir.to_path_buf());
        }
    }
    dirs
}

/// Runs `reg.exe` without flashing a console window; its output as text, or `None`.
#[cfg(windows)]
fn reg(args: &[&str]) -> Option<String> {
    use std::os::windows::process::CommandExt;
    use std::process::{Command, Stdio};
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    // The full path, so a `reg.exe` in the working folder is never run.
    let reg = std::env::var_os("SystemRoot")
        .map(|root| PathBuf::from(root).join("System32").join("reg.exe"))
        .unwrap_or_else(|| PathBuf::from("reg.exe"));
    let output = Command::new(reg)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .creation_flags(CREATE_NO_WINDOW)
        .output()
        .ok()?;
    // reg.exe writes in the OEM code page; paths with non-ASCII letters may not survive.
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `StataNNDo` key names in `reg query HKCR /f Stata /k` output, which lists one
/// key per line (`HKEY_CLASSES_ROOT\Stata18Do`) before an "End of search" line.
#[cfg(any(windows, test))]
fn stata_do_keys(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|line| {
            let key = line.trim().strip_prefix(r"HKEY_CLASSES_ROOT\")?;
            let lower = key.to_ascii_lowercase();
            let digits = lower.strip_prefix("stata")?.strip_suffix("do")?;
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| key.to_string())
        })
        .collect()
}

/// The executable in `reg query <key> /ve` output, whose value line reads
/// `    (Default)    REG_SZ    "C:\Program Files\Stata18\StataMP-64.exe" /e do "%1"`.
/// The `(Default)` label is translated on other-language Windows, so the line is found
/// by its type instead.
#[cfg(any(windows, test))]
fn default_value_exe(output: &str) -> Option<PathBuf> {
    let value = output.lines().find_map(|line| {
        ["REG_EXPAND_SZ", "REG_SZ"]
            .iter()
            .find_map(|kind| line.split_once(&format!(" {kind} ")))
            .map(|(_, value)| value.trim())
    })?;
    let exe = match value.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?.0,
        // Unquoted: the path runs to `.exe`, spaces and all.
        None => {
            let end = value.to_ascii_lowercase().find(".exe")? + ".exe".len();
            &value[..end]
        }
    };
    (!exe.is_empty()).then(|| PathBuf::from(exe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_stata_do_keys() {
        let listing = "\r\nHKEY_CLASSES_ROOT\\Stata18Do\r\nHKEY_CLASSES_ROOT\\Stata18Dta\r\n\
                       HKEY_CLASSES_ROOT\\Stata19Do\r\nHKEY_CLASSES_ROOT\\StataDo\r\n\
                       End of search: 4 match(es) found.\r\n";
        assert_eq!(stata_do_keys(listing), vec!["Stata18Do", "Stata19Do"]);
    }

    #[test]
    fn reads_the_command_value() {
        let quoted = "\r\nHKEY_CLASSES_ROOT\\Stata18Do\\shell\\do\\command\r\n    (Default)    REG_SZ    \
                      \"C:\\Program Files\\Stata18\\StataMP-64.exe\" /e do \"%1\"\r\n\r\n";
        assert_eq!(
            default_value_exe(quoted),
            Some(PathBuf::from(r"C:\Program Files\Stata18\StataMP-64.exe"))
        );
        let unquoted = "    (Standard)    REG_EXPAND_SZ    C:\\Program Files\\Stata17\\StataSE-64.exe /e do \"%1\"";
        assert_eq!(
            default_value_exe(unquoted),
            Some(PathBuf::from(r"C:\Program Files\Stata17\StataSE-64.exe"))
        );
        assert_eq!(default_value_exe("ERROR: nothing"), None);
    }

    #[test]
    fn exe_names_ignore_case() {
        assert!(is_exe_name("statamp-64.exe"));
        assert!(is_exe_name("StataBE-64.exe"));
        assert!(!is_exe_name("xstata-mp"));
        assert!(!is_exe_name("Stata18.lnk"));
    }
}
