//! Stata in a sandbox: on Linux the kernel (Landlock) lets Stata, and everything it starts,
//! write only in the folders of the user's work, and in `strict` mode read only those and
//! what Stata needs, with no TCP connections. Applied by this binary's own launcher
//! (`stata-mcp __sandbox ... -- stata ...`), which confines itself and then becomes Stata.

#[cfg(target_os = "linux")]
mod landlock;
pub mod launch;
mod plan;

use std::path::{Path, PathBuf};

pub use plan::{LAUNCHER, Plan};

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
pub fn describe(mode: SandboxMode) -> String {
    match (mode, landlock_abi()) {
        (SandboxMode::Off, _) => {
            "off (--sandbox off): Stata may write wherever the user can".to_owned()
        }
        (m, Ok(abi)) => format!(
            "{} (Landlock ABI {abi}): Stata writes only in the call's folder, the client's \
             roots, --workdir, the log dir, its temp folder and ~/ado/plus, ~/ado/personal{}",
            m.as_str(),
            if m == SandboxMode::Strict {
                "; it reads only those, its install and the system's libraries, and opens no \
                 TCP connection"
            } else {
                ""
            }
        ),
        (m, Err(why)) => format!("none, though --sandbox {} was asked: {why}", m.as_str()),
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
pub fn system_reads(stata: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        "/usr",
        "/lib",
        "/lib64",
        "/lib32",
        "/bin",
        "/sbin",
        "/etc",
        "/dev",
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
