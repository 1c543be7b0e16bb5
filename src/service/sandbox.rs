//! Which folders the sandbox opens to Stata for a call, and what a result says about it:
//! that a refusal may be the sandbox's, or (once) that there is no sandbox here.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::Service;
use super::folders::{BaseFrom, is_no_project};
use crate::cli::SandboxMode;
use crate::run::RunOutcome;
use crate::sandbox::{Plan, landlock_abi, system_reads};

impl Service {
    /// The sandbox of a run in `cwd` with Stata `stata` (and the do-file `file`, if any):
    /// none when `--sandbox off` or where Landlock is missing.
    pub async fn sandbox_plan(
        &self,
        cwd: &Path,
        file: Option<&Path>,
        stata: &Path,
    ) -> Option<Plan> {
        let s = &self.settings;
        // A cluster job runs on a compute node, out of this machine's reach.
        if s.sandbox == SandboxMode::Off
            || s.mode == crate::cli::Mode::Slurm
            || landlock_abi().is_err()
        {
            return None;
        }
        let mut write: Vec<PathBuf> = Vec::new();
        let mut add = |p: &Path| {
            // Never the whole disk or the home folder: that would be no sandbox at all.
            if !is_no_project(p) && !write.iter().any(|w| w == p) {
                write.push(p.to_path_buf());
            }
        };
        add(cwd);
        if let Some(dir) = file.and_then(Path::parent) {
            add(dir);
        }
        let base = self.base().await;
        if base.from != BaseFrom::Unknown {
            add(&base.dir);
        }
        for root in self.client.roots.all() {
            add(&root);
        }
        if s.workdir_given {
            add(&s.workdir);
        }
        add(&s.log_dir);
        add(&stata_temp());
        if let Some(home) = dirs::home_dir() {
            // `ssc install` and `net install` write here; Stata makes them when missing.
            for ado in ["ado/plus", "ado/personal"] {
                let dir = home.join(ado);
                let _ = std::fs::create_dir_all(&dir);
                add(&dir);
            }
        }
        for extra in &s.sandbox_write {
            add(extra);
        }
        let strict = s.sandbox == SandboxMode::Strict;
        let mut read = Vec::new();
        if strict {
            read.extend(write.iter().cloned());
            read.extend(system_reads(stata));
            if let Some(home) = dirs::home_dir() {
                read.push(home.join("ado"));
            }
            read.extend(s.sandbox_read.iter().cloned());
        }
        Some(Plan {
            strict,
            network: s.allow_network,
            write,
            read,
        })
    }

    /// Notes for a finished run: that the sandbox may be why something failed, or (on the
    /// first run only) that this system has no sandbox.
    pub fn sandbox_notes(&self, plan: Option<&Plan>, outcome: &mut RunOutcome) {
        match plan {
            Some(plan) => {
                let refused = outcome.reported_rc() == Some(603)
                    || outcome.output.render("").contains("Permission denied");
                if refused {
                    outcome.notes.push(plan.refusal_note());
                }
            }
            None if self.settings.sandbox != SandboxMode::Off => {
                if self.settings.mode == crate::cli::Mode::Slurm {
                    if !self.told_unsandboxed.swap(true, Ordering::SeqCst) {
                        outcome.notes.push(
                            "Stata runs without this server's sandbox: a cluster job runs on a \
                             compute node, confined only by the cluster's own rules"
                                .into(),
                        );
                    }
                } else if let Err(why) = landlock_abi()
                    && !self.told_unsandboxed.swap(true, Ordering::SeqCst)
                {
                    outcome
                        .notes
                        .push(format!("Stata runs without a sandbox: {why}"));
                }
            }
            None => {}
        }
    }
}

/// Stata's temporary folder: `STATATMP`, else the system's.
fn stata_temp() -> PathBuf {
    std::env::var_os("STATATMP")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(std::env::temp_dir)
}
