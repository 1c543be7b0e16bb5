//! Which folders the sandbox opens to Stata, and what a result says about it: that a refusal
//! may be the sandbox's, or (once) that there is no sandbox here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::folders::{Base, BaseFrom, UserFolders};
use crate::cli::SandboxMode;
use crate::run::RunOutcome;
use crate::sandbox::{Plan, landlock_abi, stata_executables, system_reads};
use crate::settings::Settings;

/// Where a sandboxed run's `ssc install` and `net install` put packages, in the project.
pub(crate) const PROJECT_ADO: &str = "ado/plus";

/// The sandbox of a run with Stata `stata` in the user's `folders` (relative paths taken from
/// `base`): none when `--sandbox off`, in slurm mode, or where Landlock is missing. The runner
/// adds the run's own folder.
pub(crate) fn plan(s: &Settings, folders: &UserFolders, base: &Base, stata: &Path) -> Option<Plan> {
    // A cluster job runs on a compute node, out of this machine's reach.
    if s.sandbox == SandboxMode::Off || s.mode == crate::cli::Mode::Slurm || landlock_abi().is_err()
    {
        return None;
    }
    let write: Vec<PathBuf> = folders.dirs.clone();
    let packages = (base.from != BaseFrom::Unknown)
        .then(|| base.dir.join(PROJECT_ADO))
        .filter(|p| folders.dirs.iter().any(|d| p.starts_with(d)));
    let strict = s.sandbox == SandboxMode::Strict;
    let mut read = Vec::new();
    if strict {
        read.extend(write.iter().cloned());
        read.extend(system_reads(stata));
        if let Some(home) = dirs::home_dir() {
            // The user's own packages stay readable (not writable).
            read.push(home.join("ado"));
        }
        read.extend(s.sandbox_read.iter().cloned());
    }
    let exec = (!s.allow_shell).then(|| stata_executables(stata));
    Some(Plan {
        strict,
        network: s.allow_network,
        write,
        read,
        exec,
        packages,
    })
}

/// Notes for a finished run: that the sandbox may be why something failed, or (on the first
/// run only, `told` remembering it) that this system has no sandbox or an older one lacking
/// some parts.
pub(crate) fn notes(
    s: &Settings,
    told: &AtomicBool,
    plan: Option<&Plan>,
    outcome: &mut RunOutcome,
) {
    if plan.is_some()
        && let Ok(abi) = landlock_abi()
        && let lacking = crate::sandbox::missing_parts(abi)
        && !lacking.is_empty()
        && !told.swap(true, Ordering::SeqCst)
    {
        outcome
            .notes
            .push(format!("the sandbox is only partly enforced{lacking}"));
    }
    if let Some(dir) = plan.and_then(|p| p.packages.as_deref())
        && outcome.output.render("").contains("installing into")
    {
        outcome.notes.push(format!(
            "packages go into the project's own folder {} (Stata's PLUS here), which later \
                 runs in this project find first; the sandbox keeps the user's ~/ado unwritable",
            dir.display()
        ));
    }
    match plan {
        Some(plan)
            if outcome.reported_rc() == Some(603) || looks_refused(&outcome.output.render("")) =>
        {
            outcome.notes.push(plan.refusal_note());
        }
        Some(_) => {}
        None if s.sandbox != SandboxMode::Off => {
            if s.mode == crate::cli::Mode::Slurm {
                if !told.swap(true, Ordering::SeqCst) {
                    outcome.notes.push(
                        "Stata runs without this server's sandbox: a cluster job runs on a \
                             compute node, confined only by the cluster's own rules"
                            .into(),
                    );
                }
            } else if let Err(why) = landlock_abi()
                && !told.swap(true, Ordering::SeqCst)
            {
                outcome
                    .notes
                    .push(format!("Stata runs without a sandbox: {why}"));
            }
        }
        None => {}
    }
}

/// Whether Stata's output shows a refusal the sandbox may have caused: permission denied
/// (also where Stata's wrap split it over lines), or a move across folders (EXDEV).
fn looks_refused(output: &str) -> bool {
    // Compared without spaces or wraps: Stata's wrap may cut inside a word or at a space.
    let squeezed: String = output
        .replace("\n> ", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    [
        "permissiondenied",
        "operationnotpermitted",
        "cross-devicelink",
    ]
    .iter()
    .any(|w| squeezed.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_seen_however_stata_wrapped_it() {
        assert!(looks_refused("sh: 1: /bin/ls: Permission denied"));
        assert!(looks_refused("could not write: Permis\n> sion denied"));
        assert!(looks_refused(
            "mv: cannot move 'a' to 'b': Invalid cross-device link"
        ));
        assert!(looks_refused(
            "rename failed: Invalid cross-\n> device link (os error 18)"
        ));
        assert!(!looks_refused("file results.dta saved"));
    }
}
