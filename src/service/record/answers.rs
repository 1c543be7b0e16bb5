//! The record's part of the service: `show`, `export`, `verify` and `compare`, answered
//! from the project's `stata-record/` (and, for `export` and `verify`, a fresh Stata).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::compare::{self, ComparisonJson};
use super::export::{Package, Replication};
use super::files::{file_sha256, read_record_file, record_folder, replace};
use super::recorder::step_output;
use super::step::{RECORD_DIR, STEPS_DIR, Step};
use super::verify::{self, ChangedFileJson, NotRunJson, StepDiffJson};
use crate::discovery::DiscoveryError;
use crate::log::live::LiveOutput;
use crate::run::RunSource;
use crate::run::tool::ToolName;
use crate::runner::request::RunRequest;
use crate::service::folders::BaseFrom;
use crate::service::shared::Shared;
use crate::stata::estimates::Estimate;

/// Steps `show` lists per page.
pub(crate) const PAGE: usize = 50;
/// Where `export` writes, in the record's folder.
pub(crate) const REPLICATION_DIR: &str = "replication";

/// Why the record could not answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error(
        "there is no project folder to keep a record in: the client names no folder (roots) and \
         the server runs in {0}; start the server with --workdir /path/to/project"
    )]
    NoProject(PathBuf),
    #[error(
        "the research record {} has no steps yet: runs of stata_run_code, stata_run_file and \
         stata_sweep are recorded as they end{}",
        .dir.display(),
        if *.off { " (but this server runs with --record off)" } else { "" }
    )]
    Empty { dir: PathBuf, off: bool },
    #[error("the record has no step {0}; stata_record show lists them")]
    NoSuchStep(u32),
    #[error("{0}")]
    Compare(String),
    #[error("the verification stopped before its verdict: {0}")]
    Replay(String),
    #[error(transparent)]
    NoStata(#[from] DiscoveryError),
    #[error("could not write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One step as `show` lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct StepJson {
    pub step: u32,
    pub time: String,
    pub session: String,
    pub status: String,
    pub rc: Option<i32>,
    /// What it ran: the code, or `do "file" args`.
    pub code: String,
    pub cwd: String,
    pub error: Option<String>,
    pub estimates: Vec<Estimate>,
    /// Data files it read.
    pub reads: Vec<String>,
    pub random_without_seed: bool,
}

/// `stata_record show`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct ShowJson {
    pub record: String,
    pub total: usize,
    pub page: u32,
    pub pages: u32,
    pub steps: Vec<StepJson>,
}

/// `stata_record export`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct ExportJson {
    pub master_do: String,
    pub readme: String,
    pub session: String,
    /// Steps replayed, and failed steps kept as comments.
    pub replayed: Vec<u32>,
    pub commented: Vec<u32>,
    pub stata_version: Option<String>,
    pub packages: Vec<String>,
    pub data_files: Vec<String>,
    pub random_without_seed: Vec<u32>,
}

/// `stata_record verify`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct VerifyJson {
    pub master_do: String,
    /// The replay's run and its full log.
    pub run_id: Option<String>,
    pub log_path: Option<String>,
    pub identical: Vec<u32>,
    pub differing: Vec<StepDiffJson>,
    pub not_run: Vec<NotRunJson>,
    pub changed_files: Vec<ChangedFileJson>,
    pub random_without_seed: Vec<u32>,
}

/// A verification in progress: its task, and when it started.
type InFlight = Option<(JoinHandle<Result<VerifyJson, RecordError>>, Instant)>;

/// How a `verify` call ended.
pub(crate) enum Verifying {
    Done(VerifyJson),
    /// The replay goes on (a long analysis): the next `verify` call waits for the same one.
    Running {
        since: Duration,
    },
}

/// The record's questions, answered from the project's `stata-record/`.
#[derive(Clone)]
pub(crate) struct Record {
    shared: Arc<Shared>,
    /// At most one verification runs at a time, outliving the call that started it.
    verifying: Arc<tokio::sync::Mutex<InFlight>>,
}

impl Record {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            verifying: Arc::default(),
        }
    }

    /// `verify`, waiting at most `wait` (none: to its end): a replay that outlasts the
    /// client's patience goes on, and the next `verify` call takes up the same one.
    pub(crate) async fn verify_within(
        &self,
        session: Option<String>,
        wait: Option<Duration>,
    ) -> Result<Verifying, RecordError> {
        let mut slot = self.verifying.lock().await;
        let (handle, since) = slot.get_or_insert_with(|| {
            let me = self.clone();
            let task = tokio::spawn(async move {
                me.verify(session.as_deref(), &CancellationToken::new())
                    .await
            });
            (task, Instant::now())
        });
        let ended = match wait {
            None => Some(handle.await),
            Some(w) => tokio::time::timeout(w, &mut *handle).await.ok(),
        };
        let Some(ended) = ended else {
            return Ok(Verifying::Running {
                since: since.elapsed(),
            });
        };
        *slot = None;
        match ended {
            Ok(r) => r.map(Verifying::Done),
            Err(e) => Err(RecordError::Replay(e.to_string())),
        }
    }

    /// The project the record is kept in.
    async fn project(&self) -> Result<PathBuf, RecordError> {
        let base = self.shared.base().await;
        if base.from == BaseFrom::Unknown {
            return Err(RecordError::NoProject(base.dir));
        }
        Ok(base.dir)
    }

    /// Every step, in order.
    async fn steps(&self) -> Result<(PathBuf, Vec<Step>), RecordError> {
        let project = self.project().await?;
        let steps = load_steps(&project);
        if steps.is_empty() {
            return Err(RecordError::Empty {
                dir: project.join(RECORD_DIR),
                off: !self.shared.settings.record,
            });
        }
        Ok((project, steps))
    }

    /// `show`: the steps, `PAGE` a page, page 1 the first.
    pub(crate) async fn show(&self, page: u32) -> Result<ShowJson, RecordError> {
        let (project, steps) = self.steps().await?;
        let pages = steps.len().div_ceil(PAGE).max(1) as u32;
        let page = page.clamp(1, pages);
        let listed = steps
            .iter()
            .skip((page as usize - 1) * PAGE)
            .take(PAGE)
            .map(|s| StepJson {
                step: s.number,
                time: s.time.clone(),
                session: s.session.clone(),
                status: s.status.clone(),
                rc: s.rc,
                code: s.body(),
                cwd: s.cwd.display().to_string(),
                error: s.error.clone(),
                estimates: s.estimates.clone(),
                reads: s
                    .reads
                    .iter()
                    .map(|r| r.path.display().to_string())
                    .collect(),
                random_without_seed: s.random && !s.seeded,
            })
            .collect();
        Ok(ShowJson {
            record: project.join(RECORD_DIR).display().to_string(),
            total: steps.len(),
            page,
            pages,
            steps: listed,
        })
    }

    /// `compare`: two steps' estimations (the last of each), by number; with none, the last
    /// two estimations of the record.
    pub(crate) async fn compare(&self, wanted: &[u32]) -> Result<ComparisonJson, RecordError> {
        let (_, steps) = self.steps().await?;
        let last_of = |n: u32| -> Result<(u32, Estimate), RecordError> {
            let step = steps
                .iter()
                .find(|s| s.number == n)
                .ok_or(RecordError::NoSuchStep(n))?;
            let e = step.estimates.last().cloned().ok_or_else(|| {
                RecordError::Compare(format!(
                    "step {n} has no estimation to compare (it ran {})",
                    step.body().lines().next().unwrap_or("")
                ))
            })?;
            Ok((n, e))
        };
        let (a, b) = match wanted {
            [a, b] => (last_of(*a)?, last_of(*b)?),
            [] => {
                let mut all: Vec<(u32, Estimate)> = steps
                    .iter()
                    .filter(|s| s.ok())
                    .flat_map(|s| s.estimates.iter().map(|e| (s.number, e.clone())))
                    .collect();
                if all.len() < 2 {
                    return Err(RecordError::Compare(format!(
                        "the record holds {} estimation{}; compare needs two",
                        all.len(),
                        if all.len() == 1 { "" } else { "s" }
                    )));
                }
                let b = all.pop().unwrap_or_else(|| unreachable!());
                let a = all.pop().unwrap_or_else(|| unreachable!());
                (a, b)
            }
            _ => {
                return Err(RecordError::Compare(
                    "steps names two steps to compare, e.g. [4, 6], or none for the last two \
                     estimations"
                        .into(),
                ));
            }
        };
        Ok(compare::compare(a.0, &a.1, b.0, &b.1))
    }

    /// `export`: the replication do-file and README of `session` (default: the last step's).
    pub(crate) async fn export(
        &self,
        session: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<ExportJson, RecordError> {
        let (project, steps) = self.steps().await?;
        let (json, _) = self
            .write_package(&project, &steps, session, cancel)
            .await?;
        Ok(json)
    }

    async fn write_package(
        &self,
        project: &Path,
        all: &[Step],
        session: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<(ExportJson, Vec<Step>), RecordError> {
        let session = session
            .map(str::to_owned)
            .or_else(|| all.last().map(|s| s.session.clone()))
            .unwrap_or_default();
        let steps: Vec<Step> = all
            .iter()
            .filter(|s| s.session == session)
            .cloned()
            .collect();
        let project_ado =
            Some(project.join(crate::service::sandbox::PROJECT_ADO)).filter(|p| p.is_dir());
        let mut installs: Vec<(String, u32, String)> = Vec::new();
        for s in steps.iter().filter(|s| s.ok()) {
            for name in &s.installs {
                if !installs.iter().any(|(n, _, _)| n == name) {
                    let how = s
                        .body()
                        .lines()
                        .find(|l| l.contains("install") && l.contains(name.as_str()))
                        .unwrap_or("")
                        .trim()
                        .to_owned();
                    installs.push((name.clone(), s.number, how));
                }
            }
        }
        let (version, found) = self
            .probe(project, project_ado.as_deref(), &installs, cancel)
            .await?;
        let packages: Vec<Package> = installs
            .into_iter()
            .map(|(name, step, how)| {
                let (path, version_lines) = found
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, p, v)| (p.clone(), v.clone()))
                    .unwrap_or_default();
                Package {
                    name,
                    path,
                    version_lines,
                    installed_by: Some((step, how)),
                }
            })
            .collect();
        let rep = Replication {
            project,
            session: &session,
            steps: &steps,
            stata_version: version,
            packages: &packages,
            project_ado,
        };
        let dir = project.join(RECORD_DIR).join(REPLICATION_DIR);
        let write = |name: &str, text: String| -> Result<PathBuf, RecordError> {
            let path = dir.join(name);
            record_folder(project, REPLICATION_DIR)
                .and_then(|_| replace(&path, text.as_bytes()))
                .map_err(|source| RecordError::Write {
                    path: path.clone(),
                    source,
                })?;
            Ok(path)
        };
        let master = write("master.do", rep.master_do())?;
        let readme = write("README.md", rep.readme())?;
        let json = ExportJson {
            master_do: master.display().to_string(),
            readme: readme.display().to_string(),
            session: session.clone(),
            replayed: steps.iter().filter(|s| s.ok()).map(|s| s.number).collect(),
            commented: steps.iter().filter(|s| !s.ok()).map(|s| s.number).collect(),
            stata_version: rep.stata_version.clone(),
            packages: packages
                .iter()
                .map(|p| match p.version_lines.first() {
                    Some(v) => format!("{} ({v})", p.name),
                    None => p.name.clone(),
                })
                .collect(),
            data_files: rep
                .data_reads()
                .iter()
                .map(|(p, _, _)| p.display().to_string())
                .collect(),
            random_without_seed: rep.unseeded(),
        };
        Ok((json, steps))
    }

    /// Asks the Stata here its version and, for each package, what `which` says: one short
    /// run in a fresh Stata.
    async fn probe(
        &self,
        project: &Path,
        project_ado: Option<&Path>,
        installs: &[(String, u32, String)],
        cancel: &CancellationToken,
    ) -> Result<(Option<String>, Vec<(String, Option<String>, Vec<String>)>), RecordError> {
        const VERSION: &str = "stata-mcp-version: ";
        const WHICH: &str = "stata-mcp-which: ";
        let mut code = String::new();
        if let Some(ado) = project_ado
            && let Ok(q) = crate::stata::quote::stata_quote(&ado.display().to_string())
        {
            let _ = writeln!(code, "sysdir set PLUS {q}\nadopath ++ PLUS");
        }
        let _ = writeln!(code, "display \"{VERSION}\" c(stata_version)");
        for (name, _, _) in installs {
            let _ = writeln!(
                code,
                "display \"{WHICH}{name}\"\ncapture noisily which {name}"
            );
        }
        let outcome = self
            .run_fresh(project, RunSource::Code(code), cancel)
            .await?;
        let text = step_output(&outcome);
        let mut version = None;
        let mut found: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix(VERSION) {
                version = Some(v.trim().to_owned());
            } else if let Some(n) = line.strip_prefix(WHICH) {
                found.push((n.trim().to_owned(), None, Vec::new()));
            } else if let Some((_, path, lines)) = found.last_mut()
                && !line.starts_with(". ")
                && !line.trim().is_empty()
            {
                if line.starts_with("*!") {
                    lines.push(line.trim().to_owned());
                } else if path.is_none() && !line.contains("not found") && !line.starts_with("r(") {
                    *path = Some(line.trim().to_owned());
                }
            }
        }
        Ok((version, found))
    }

    /// Runs `source` in a fresh Stata from `project`, its outcome finished as every run's.
    async fn run_fresh(
        &self,
        project: &Path,
        source: RunSource,
        cancel: &CancellationToken,
    ) -> Result<crate::run::RunOutcome, RecordError> {
        let shared = &self.shared;
        let stata = shared.locate_stata()?;
        let plan = shared
            .sandbox_plan(&shared.user_folders().await, &stata)
            .await;
        let req = RunRequest {
            stata,
            source,
            cwd: project.to_path_buf(),
            change_dir: true,
            run_dir: None,
            turn: None,
            timeout: shared.settings.timeout,
            session: Default::default(),
            label: ToolName::Record.as_str().to_owned(),
            sandbox: plan.clone(),
            detach: Default::default(),
            notes: Vec::new(),
        };
        let live = Arc::new(LiveOutput::new(64 * 1024));
        let outcome = shared.runner.run_fresh(req, live, cancel.clone()).await;
        Ok(shared
            .finish_run(outcome, project, plan.as_ref(), Vec::new())
            .await)
    }

    /// `verify`: exports, re-runs the master do-file in a fresh Stata, and compares each step.
    async fn verify(
        &self,
        session: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<VerifyJson, RecordError> {
        let (project, all) = self.steps().await?;
        let (export, steps) = self.write_package(&project, &all, session, cancel).await?;
        let folders = self.shared.user_folders().await.dirs;
        let rep_changed = changed_files(&steps, &folders);
        let master = PathBuf::from(&export.master_do);
        let outcome = self
            .run_fresh(
                &project,
                RunSource::File {
                    path: master,
                    args: Vec::new(),
                },
                cancel,
            )
            .await?;
        let text = step_output(&outcome);
        let lines: Vec<&str> = text.lines().collect();
        let recorded = |n: u32| {
            let log = Path::new(STEPS_DIR)
                .join(Step::file_name(n))
                .with_extension("log");
            read_record_file(&project, &log)
        };
        let verdicts = verify::judge(&steps, &lines, recorded, &rep_changed, &project);
        Ok(VerifyJson {
            master_do: export.master_do,
            run_id: outcome.run_id.map(|id| id.to_string()),
            log_path: outcome.log_path.map(|p| p.display().to_string()),
            identical: verdicts.identical,
            differing: verdicts.differing,
            not_run: verdicts.not_run,
            changed_files: rep_changed,
            random_without_seed: export.random_without_seed,
        })
    }
}

/// The data files the steps read whose bytes are not what they were (files an earlier step
/// wrote are remade by the replay and left out).
fn changed_files(steps: &[Step], folders: &[PathBuf]) -> Vec<ChangedFileJson> {
    let rep = Replication {
        project: Path::new(""),
        session: "",
        steps,
        stata_version: None,
        packages: &[],
        project_ado: None,
    };
    rep.data_reads()
        .into_iter()
        .filter_map(|(path, hash, readers)| {
            let was = hash?;
            let now = file_sha256(&path, folders);
            (now.as_deref() != Some(was.as_str())).then(|| ChangedFileJson {
                path: path.display().to_string(),
                step: readers.first().copied().unwrap_or(0),
                how: if path.exists() { "changed" } else { "missing" }.to_owned(),
            })
        })
        .collect()
}

/// The steps of `project`'s record, by number.
fn load_steps(project: &Path) -> Vec<Step> {
    let dir = project.join(RECORD_DIR).join(STEPS_DIR);
    let mut steps: Vec<Step> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n: u32 = name.to_str()?.strip_suffix(".do")?.parse().ok()?;
            let text = read_record_file(project, &Path::new(STEPS_DIR).join(&name))?;
            Step::parse(n, &text)
        })
        .collect();
    steps.sort_by_key(|s| s.number);
    steps
}
