//! What one sandboxed Stata may touch, and the launcher's command line that carries it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The subcommand the launcher answers to; not for users.
pub const LAUNCHER: &str = "__sandbox";

/// What one Stata process may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub strict: bool,
    /// Strict mode: TCP connections allowed anyway (`--allow-network`).
    pub network: bool,
    pub write: Vec<PathBuf>,
    /// Strict mode: folders readable besides the writable ones.
    pub read: Vec<PathBuf>,
    /// The only files and folders whose programs may be started (Stata's install and its
    /// loader); `None` with `--allow-shell`, where any program may start.
    pub exec: Option<Vec<PathBuf>>,
    /// Where `ssc install` and `net install` put packages (Stata's PLUS folder), in the
    /// project; set by the runner's first lines, not by the launcher.
    pub packages: Option<PathBuf>,
}

/// The launcher's command line running `program` with `args`, supervised for the server
/// `server` (its death stops the run), confined to `plan` when there is one.
pub(crate) fn launcher_args(
    plan: Option<&Plan>,
    server: u32,
    program: &Path,
    args: &[OsString],
) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec![
        LAUNCHER.into(),
        "--server-pid".into(),
        server.to_string().into(),
    ];
    if let Some(plan) = plan {
        out.push("--confine".into());
        out.extend(plan.args());
    }
    out.push("--".into());
    out.push(program.into());
    out.extend(args.iter().cloned());
    out
}

impl Plan {
    /// The plan as the launcher's options.
    fn args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = Vec::new();
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
        match &self.exec {
            None => out.push("--allow-exec".into()),
            Some(exec) => {
                for x in exec {
                    out.push("--exec".into());
                    out.push(x.into());
                }
            }
        }
        out
    }

    /// This plan with the run's own folder writable (and readable in strict mode).
    pub(crate) fn with_run_folder(&self, dir: &Path) -> Plan {
        let mut plan = self.clone();
        plan.write.push(dir.to_path_buf());
        if plan.strict {
            plan.read.push(dir.to_path_buf());
        }
        plan
    }

    /// The one line a result adds when the sandbox may have refused something.
    pub(crate) fn refusal_note(&self) -> String {
        let folders: Vec<String> = self.write.iter().map(|p| p.display().to_string()).collect();
        format!(
            "the sandbox (--sandbox {}) lets Stata write only in {}{}; a file elsewhere cannot be \
             opened for writing (r(603)), moved there (cross-device link) or, in strict mode, read. \
             Work inside the project, or ask the user to allow a folder with \
             --sandbox-allow-write DIR{}",
            if self.strict { "strict" } else { "write" },
            folders.join(", "),
            if self.exec.is_some() {
                ", and start no program (shell, !, python's subprocess fail with permission denied)"
            } else {
                ""
            },
            if self.exec.is_some() {
                " (programs: --allow-shell)"
            } else {
                ""
            }
        )
    }
}
