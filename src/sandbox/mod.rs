//! Stata in a sandbox: on Linux the kernel (Landlock, seccomp) lets Stata, and everything it
//! starts, write only in the user's folders, start no program but Stata, signal and connect
//! to nothing outside, and in `strict` mode read only those folders and what Stata needs,
//! with no network. Applied by this binary's own launcher (`stata-mcp __sandbox ... -- stata
//! ...`), which also supervises Stata's whole tree so that nothing outlives its run.

#[cfg(target_os = "linux")]
mod confine;
mod executables;
#[cfg(target_os = "linux")]
mod landlock;
pub(crate) mod launch;
mod plan;
#[cfg(target_os = "linux")]
mod proctree;
#[cfg(target_os = "linux")]
mod seccomp;
#[cfg(target_os = "linux")]
mod supervise;

use std::path::{Path, PathBuf};

pub(crate) use executables::stata_executables;
pub use plan::LAUNCHER;
pub(crate) use plan::{Plan, launcher_args};
#[cfg(target_os = "linux")]
pub(crate) use proctree::descendants;

/// `--sandbox`: how far Stata is confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// As without a sandbox.
    Off,
    /// Stata may read anything the user can, and write only in the allowed folders.
    Write,
    /// As `write`, and reads limited to those folders, Stata's install and the system's
    /// libraries; TCP connections refused unless `--allow-network`.
    Strict,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Off => "off",
            SandboxMode::Write => "write",
            SandboxMode::Strict => "strict",
        }
    }
}

/// What `mode` amounts to on this system, in a line for `doctor` and `stata_session status`.
pub(crate) fn describe(mode: SandboxMode) -> String {
    match (mode, landlock_abi()) {
        (SandboxMode::Off, _) => {
            "off (--sandbox off): Stata may write wherever the user can".to_owned()
        }
        (m, Ok(abi)) => format!(
            "{} (Landlock ABI {abi}{}): Stata writes only in the client's roots, --workdir, \
             --sandbox-allow-write folders and its own run folder; it starts no program but \
             Stata unless --allow-shell, opens no terminal, and signals no process outside{}",
            m.as_str(),
            missing_parts(abi),
            if m == SandboxMode::Strict {
                "; it reads only those folders, its install and the system's libraries, and \
                 has no network unless --allow-network"
            } else {
                "; Unix sockets are refused"
            }
        ),
        (m, Err(why)) => format!("none, though --sandbox {} was asked: {why}", m.as_str()),
    }
}

/// What an older kernel's Landlock leaves out, as a clause (empty when nothing is missing).
pub(crate) fn missing_parts(abi: u8) -> String {
    let mut missing = Vec::new();
    if abi < 4 {
        missing.push("TCP limits (ABI 4)");
    }
    if abi < 5 {
        missing.push("device ioctl limits, so a terminal may take keystrokes (ABI 5)");
    }
    if abi < 6 {
        missing.push(
            "signal and abstract-socket scoping, so Stata may signal other processes (ABI 6)",
        );
    }
    if missing.is_empty() {
        String::new()
    } else {
        format!("; this kernel lacks {}", missing.join(", "))
    }
}

/// The Landlock ABI this kernel offers, or why there is none.
pub fn landlock_abi() -> Result<u8, String> {
    #[cfg(target_os = "linux")]
    {
        landlock::abi()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err("the sandbox uses Linux's Landlock; this system is not sandboxed yet".to_owned())
    }
}

/// Folders Stata itself needs to read in strict mode: its install (symlinks resolved) and
/// the system's libraries and settings.
pub(crate) fn system_reads(stata: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        "/usr",
        "/lib",
        "/lib64",
        "/lib32",
        "/bin",
        "/sbin",
        "/etc",
        "/proc",
        "/sys",
        "/opt/homebrew",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.exists())
    .collect();
    for p in [
        stata.to_path_buf(),
        std::fs::canonicalize(stata).unwrap_or_default(),
    ] {
        if let Some(dir) = p.parent()
            && !dir.as_os_str().is_empty()
        {
            out.push(dir.to_path_buf());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_kernel_says_which_parts_it_lacks() {
        let old = missing_parts(3);
        for part in ["TCP", "ioctl", "signal"] {
            assert!(old.contains(part), "{old}");
        }
        assert!(!missing_parts(5).contains("ioctl") && missing_parts(5).contains("signal"));
        assert_eq!(missing_parts(7), "");
    }
}
