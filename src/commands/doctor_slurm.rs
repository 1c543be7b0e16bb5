//! `doctor --mode slurm`: the cluster's tools, its partitions, whether the log dir is on
//! storage the compute nodes can see, then one tiny job (`display c(stata_version)`) with its
//! queue wait, run time and the version Stata printed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::probe::{CHECK_CODE, Report, ask_version, fail, find, run_failure};
use super::runner;
use crate::cli::ServerOptions;
use crate::log::remote::remote_file_system;
use crate::run::RunStatus;
use crate::settings::{Settings, SlurmSettings};
use crate::text::human::human_duration;

/// The commands --mode slurm uses.
const TOOLS: [&str; 5] = ["sbatch", "squeue", "scancel", "scontrol", "sinfo"];

pub(super) async fn checks(
    opts: &ServerOptions,
    log_dir: &Path,
    workdir: &Path,
    out: &mut Report,
) -> bool {
    let slurm = SlurmSettings::from(&opts.slurm);
    let _ = writeln!(out, "\nChecking the cluster (--mode slurm)");
    let mut ok = true;
    for tool in TOOLS {
        match on_path(tool) {
            Some(p) => {
                let _ = writeln!(out, "  {tool:<9} {}", p.display());
            }
            None => {
                fail(
                    out,
                    &format!("`{tool}` is not on PATH"),
                    "--mode slurm runs where SLURM's commands work: a login node of the cluster \
                     (or load its module, e.g. `module load slurm`, before starting the server).",
                );
                ok = false;
            }
        }
    }
    if !ok {
        return false;
    }
    if !partitions(&slurm, out) {
        return false;
    }
    match remote_file_system(log_dir) {
        Some(fs) => {
            let _ = writeln!(
                out,
                "  log dir:  on {fs}: compute nodes that mount it see each run's folder and log"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  log dir:  on a local file system: only jobs that run on this machine can write \
                 their logs there. On a cluster, put --log-dir on shared storage (home or project \
                 space) that the compute nodes mount."
            );
        }
    }

    let stata = match &slurm.stata_path {
        Some(p) => {
            let _ = writeln!(
                out,
                "  Stata:    {} (--slurm-stata-path, as the compute nodes see it)",
                p.display()
            );
            p.clone()
        }
        None => {
            let _ = writeln!(
                out,
                "\nFinding Stata (on this machine; the nodes must see the same path)"
            );
            match find(opts, out) {
                Some(found) => found.chosen.path,
                None => {
                    let _ = writeln!(
                        out,
                        "  If Stata exists only on the compute nodes, name it there with \
                         --slurm-stata-path (and --slurm-setup 'module load stata' if a module \
                         provides it)."
                    );
                    return false;
                }
            }
        }
    };
    for line in &slurm.setup {
        let _ = writeln!(out, "  setup:    {line}");
    }

    let _ = writeln!(out, "\nSubmitting one job that runs `{}`", CHECK_CODE);
    let Ok(settings) = Settings::resolve(opts) else {
        return false;
    };
    let runner = runner(&settings);
    let answer = ask_version(&runner, &stata, workdir).await;
    runner.shut_down().await;
    let outcome = &answer.outcome;
    if outcome.status != RunStatus::Ok {
        fail(
            out,
            "the test job did not run",
            &run_failure(outcome, &stata),
        );
        return false;
    }
    for note in outcome
        .notes
        .iter()
        .filter(|n| n.starts_with("ran on the cluster"))
    {
        let _ = writeln!(out, "  {note}");
    }
    let _ = writeln!(
        out,
        "  submitted, queued, run and read back in {} (each call pays at least this)",
        human_duration(outcome.duration)
    );
    match answer.version {
        Some(v) => {
            let _ = writeln!(out, "  Stata says its version is {v}");
            true
        }
        None => {
            fail(
                out,
                "the job ran but printed no version number",
                &format!("it printed:\n{}", outcome.output.render("")),
            );
            false
        }
    }
}

/// Lists the partitions (`sinfo`) and checks the one --slurm-partition names.
fn partitions(slurm: &SlurmSettings, out: &mut Report) -> bool {
    let listed = std::process::Command::new("sinfo")
        .args(["-h", "-o", "%P|%a|%D|%T"])
        .output();
    let text = match listed {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            fail(
                out,
                "`sinfo` could not reach the cluster",
                &format!(
                    "{}\nIs the controller up, and is this a machine of the cluster?",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            return false;
        }
        Err(e) => {
            fail(out, "`sinfo` could not be run", &e.to_string());
            return false;
        }
    };
    let mut names = Vec::new();
    for line in text.lines() {
        let mut p = line.split('|');
        let (Some(name), Some(avail), Some(nodes), Some(state)) =
            (p.next(), p.next(), p.next(), p.next())
        else {
            continue;
        };
        let _ = writeln!(
            out,
            "  partition {name}: {avail}, {nodes} node(s) {state}{}",
            if name.ends_with('*') {
                " (the default)"
            } else {
                ""
            }
        );
        names.push(name.trim_end_matches('*').to_owned());
    }
    if let Some(want) = &slurm.partition
        && !names.iter().any(|n| n == want)
    {
        fail(
            out,
            &format!("the partition {want:?} (--slurm-partition) does not exist"),
            &format!("The cluster has: {}.", names.join(", ")),
        );
        return false;
    }
    true
}

/// Where `tool` is on PATH.
fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}
