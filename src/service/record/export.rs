//! The replication package of a record: a master do-file that replays the steps of one
//! session in order (failed ones as comments with their error), opened by what makes it
//! reproducible (the Stata version, the packages and where they are, the data files' hashes,
//! the seed), and a README in the shape replication packages use.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::step::{Step, StepSource};
use crate::stata::quote::stata_quote;

/// The line a step's part of the master do-file starts with; its echo in the replay's log
/// tells the steps apart.
pub(crate) const STEP_MARK: &str = "* --- stata-mcp step ";

/// The seed Stata starts with in a fresh process (StataCorp): a replay of unseeded draws
/// repeats them only from this state.
const LAUNCH_SEED: u64 = 123_456_789;

/// A package the steps installed, with what `which` says of it now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Package {
    pub name: String,
    /// Where its ado-file is, and its `*!` lines (its version, as its author wrote it).
    pub path: Option<String>,
    pub version_lines: Vec<String>,
    /// The step that installed it, and how (`ssc install reghdfe`).
    pub installed_by: Option<(u32, String)>,
}

impl Package {
    /// Its first `*!` line, as its author wrote its version.
    pub(crate) fn version(&self) -> &str {
        self.version_lines
            .first()
            .map_or("no version line", String::as_str)
    }

    /// ` (installed by step 8: ssc install hello)`, or nothing.
    fn installed_note(&self) -> String {
        self.installed_by
            .as_ref()
            .map_or(String::new(), |(n, how)| {
                format!(" (installed by step {n}: {how})")
            })
    }
}

/// Everything the master do-file and its README say.
pub(crate) struct Replication<'a> {
    pub project: &'a Path,
    pub session: &'a str,
    pub steps: &'a [Step],
    /// `c(stata_version)` of the Stata that is here now.
    pub stata_version: Option<String>,
    pub packages: &'a [Package],
    /// The project's own package folder (`ado/plus`), where the sandbox installs.
    pub project_ado: Option<PathBuf>,
}

fn q(s: &str) -> String {
    stata_quote(s).unwrap_or_else(|_| format!("\"{s}\""))
}

impl Replication<'_> {
    /// Steps that drew random numbers with no seed set before them.
    pub(crate) fn unseeded(&self) -> Vec<u32> {
        self.steps
            .iter()
            .filter(|s| s.ok() && s.random && !s.seeded)
            .map(|s| s.number)
            .collect()
    }

    /// The master do-file.
    pub(crate) fn master_do(&self) -> String {
        let mut t = String::new();
        let first = self.steps.first().map_or("", |s| s.time.as_str());
        let last = self.steps.last().map_or("", |s| s.time.as_str());
        let _ = writeln!(
            t,
            "* Replication do-file written by stata-mcp from the research record of {}",
            self.project.display()
        );
        let _ = writeln!(
            t,
            "* Session {}: {} steps recorded {first} to {last}; failed steps are kept as comments.",
            self.session,
            self.steps.len()
        );
        let _ = writeln!(t, "* Run it in a fresh Stata:  stata -b do master.do");
        match &self.stata_version {
            Some(v) => {
                let _ = writeln!(t, "version {v}");
            }
            None => {
                let _ = writeln!(
                    t,
                    "* (the Stata version could not be asked: set `version` here)"
                );
            }
        }
        t.push_str("clear all\nset more off\n");
        if !self.packages.is_empty() || self.project_ado.is_some() {
            t.push_str("* Packages\n");
            for p in self.packages {
                let _ = writeln!(t, "*   {}: {}{}", p.name, p.version(), p.installed_note());
            }
            if let Some(ado) = &self.project_ado {
                let _ = writeln!(
                    t,
                    "* the project's own packages come first, as in the recorded session\n\
                     sysdir set PLUS {}\nadopath ++ PLUS",
                    q(&ado.display().to_string())
                );
            }
        }
        let reads = self.data_reads();
        if !reads.is_empty() {
            t.push_str("* Data files read, with their SHA-256 when the steps read them\n");
            for (path, hash, steps) in &reads {
                let _ = writeln!(
                    t,
                    "*   {}  {}  (step{} {})",
                    path.display(),
                    hash.as_deref().unwrap_or("(no hash)"),
                    if steps.len() == 1 { "" } else { "s" },
                    join(steps)
                );
            }
        }
        let unseeded = self.unseeded();
        if !unseeded.is_empty() {
            let _ = writeln!(
                t,
                "* Steps {} drew random numbers with no seed set before them: the replay starts \
                 from the seed a fresh Stata has,\n* which repeats those draws only if the \
                 recorded session had drawn nothing before them.\nset seed {LAUNCH_SEED}",
                join(&unseeded)
            );
        }
        let fresh = self.session == "batch";
        let mut cwd: Option<&Path> = None;
        for step in self.steps {
            t.push('\n');
            if !step.ok() {
                let why = match (step.rc, &step.error) {
                    (Some(rc), Some(e)) => format!("r({rc}) {e}"),
                    (None, Some(e)) => e.clone(),
                    (Some(rc), None) => format!("r({rc})"),
                    (None, None) => step.status.clone(),
                };
                let _ = writeln!(t, "{STEP_MARK}{} ({}: {why}) ---", step.number, step.status);
                for line in step.body().lines() {
                    let _ = writeln!(t, "* {line}");
                }
                continue;
            }
            let _ = writeln!(t, "{STEP_MARK}{} ---", step.number);
            if fresh {
                // Each recorded run had a Stata of its own.
                t.push_str("clear all\n");
            }
            // The first step starts where the session started; later ones move only where
            // the recorded run moved (a session keeps the folder of its own `cd`).
            let moves = cwd.is_none()
                || step.changed_dir
                || fresh
                || matches!(step.source, StepSource::File { .. });
            if moves && cwd != Some(step.cwd.as_path()) {
                let _ = writeln!(t, "cd {}", q(&step.cwd.display().to_string()));
                cwd = Some(&step.cwd);
            }
            if let StepSource::File {
                sha256: Some(h), ..
            } = &step.source
            {
                let _ = writeln!(t, "* the do-file's SHA-256 when it ran: {h}");
            }
            t.push_str(&step.body());
            if !t.ends_with('\n') {
                t.push('\n');
            }
        }
        t
    }

    /// Each data file the replayed steps read that no earlier step wrote: its first hash and
    /// the steps reading it.
    pub(crate) fn data_reads(&self) -> Vec<(PathBuf, Option<String>, Vec<u32>)> {
        let mut out: Vec<(PathBuf, Option<String>, Vec<u32>)> = Vec::new();
        let mut written: Vec<&Path> = Vec::new();
        for step in self.steps.iter().filter(|s| s.ok()) {
            for r in &step.reads {
                if written.contains(&r.path.as_path()) {
                    continue;
                }
                match out.iter_mut().find(|(p, _, _)| *p == r.path) {
                    Some((_, _, steps)) => steps.push(step.number),
                    None => out.push((r.path.clone(), r.sha256.clone(), vec![step.number])),
                }
            }
            written.extend(step.writes.iter().map(PathBuf::as_path));
        }
        out
    }

    /// The README beside the master do-file.
    pub(crate) fn readme(&self) -> String {
        let mut t = String::from("# Replication package\n\n");
        let _ = writeln!(
            t,
            "Written by stata-mcp from the research record of `{}` (session `{}`, {} steps; \
             `stata-record/steps/` holds each step as it ran, with its output).\n",
            self.project.display(),
            self.session,
            self.steps.len()
        );
        t.push_str("## Software\n\n");
        let _ = writeln!(
            t,
            "- Stata {} (`version` at the top of `master.do`).",
            self.stata_version.as_deref().unwrap_or("(version unknown)")
        );
        if self.packages.is_empty() {
            t.push_str("- No packages were installed by the recorded steps.\n");
        }
        for p in self.packages {
            let at = p
                .path
                .as_ref()
                .map_or(String::new(), |path| format!(", at `{path}`"));
            let _ = writeln!(t, "- {}: {}{at}{}", p.name, p.version(), p.installed_note());
        }
        t.push_str("\n## Data\n\n");
        let reads = self.data_reads();
        if reads.is_empty() {
            t.push_str("No data files of the project were read (built-in datasets only).\n");
        } else {
            t.push_str("| file | SHA-256 when read | steps |\n|---|---|---|\n");
            for (path, hash, steps) in &reads {
                let _ = writeln!(
                    t,
                    "| `{}` | {} | {} |",
                    path.display(),
                    hash.as_deref().unwrap_or("(none)"),
                    join(steps)
                );
            }
        }
        t.push_str("\n## How to run\n\n");
        t.push_str(
            "Run `master.do` in a fresh Stata (`stata -b do master.do`, or `do master.do` in a \
             new session); it changes to each step's folder itself. `stata-mcp record verify` \
             (or the `stata_record` tool's `verify`) re-runs it and compares every step.\n",
        );
        let unseeded = self.unseeded();
        if !unseeded.is_empty() {
            let _ = writeln!(
                t,
                "\nSteps {} drew random numbers with no seed set before them; their results \
                 may not repeat.",
                join(&unseeded)
            );
        }
        let runtime: f64 = self
            .steps
            .iter()
            .filter(|s| s.ok())
            .map(|s| s.duration_s)
            .sum();
        let _ = writeln!(
            t,
            "\n## Runtime\n\nThe recorded steps took {} in all.",
            crate::text::human::human_duration(std::time::Duration::from_secs_f64(runtime))
        );
        t
    }
}

pub(crate) fn join(steps: &[u32]) -> String {
    steps
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
