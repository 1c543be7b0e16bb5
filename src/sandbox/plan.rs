//! What one sandboxed Stata may touch, and the launcher's command line that carries it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The subcommand the launcher answers to; not for users.
pub const LAUNCHER: &str = "__sandbox";

/// What one Stata process may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub strict: bool,
    /// Strict mode: TCP connections allowed anyway (`--allow-network`).
    pub network: bool,
    pub write: Vec<PathBuf>,
    /// Strict mode: folders readable besides the writable ones.
    pub read: Vec<PathBuf>,
}

impl Plan {
    /// The launcher's command line running `program` with `args` under this plan.
    pub fn launcher_args(&self, program: &Path, args: &[OsString]) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![LAUNCHER.into()];
        if self.strict {
            out.push("--strict".into());
        }
        if self.network {
            out.push("--network".into());
        }
        for w in &self.write {
            out.push("--write".into());
            out.push(w.into());
        }
        for r in &self.read {
            out.push("--read".into());
            out.push(r.into());
        }
        out.push("--".into());
        out.push(program.into());
        out.extend(args.iter().cloned());
        out
    }

    /// The one line a result adds when the sandbox may have refused something.
    pub fn refusal_note(&self) -> String {
        let folders: Vec<String> = self.write.iter().map(|p| p.display().to_string()).collect();
        format!(
            "the sandbox (--sandbox {}) lets Stata write only in {}; a file elsewhere cannot be \
             opened for writing (r(603)) and a shell command writing there fails. Write inside \
             the project, or allow a folder with --sandbox-allow-write DIR",
            if self.strict { "strict" } else { "write" },
            folders.join(", ")
        )
    }
}
