//! Appending to the research record: each run that ran the user's code becomes the next
//! step, with its output, the files it read (hashed as they were), its estimates, and
//! whether it drew random numbers with a seed set.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::files::{create_new, file_sha256, record_folder, sha256_hex};
use super::step::{DataRead, RECORD_DIR, STEPS_DIR, Step, StepSource};
use crate::run::{RunOutcome, RunSource};
use crate::runner::request::RunRequest;
use crate::stata::code_facts::code_facts;
use crate::stata::estimates::estimates;

/// A step's output kept beside it, at most this many bytes (the rest is in the run's log).
const MAX_STEP_LOG: usize = 1024 * 1024;
/// The most of a run's log read for its estimates.
const MAX_READ: u64 = 64 * 1024 * 1024;

/// What the server remembers while it appends: whether a result has said where the record
/// is, and which sessions have set a seed.
#[derive(Default)]
pub(crate) struct Recorder {
    announced: AtomicBool,
    seeded: Mutex<HashSet<String>>,
}

/// What one run was, for its step.
pub(crate) struct Ran {
    source: RunSource,
    cwd: PathBuf,
    /// Whether the run changed to `cwd` first.
    changed_dir: bool,
    /// The session it ran in, or `batch`.
    session: String,
    /// Each run is a fresh Stata (batch, a cluster job, a sweep's task).
    fresh: bool,
}

impl Ran {
    /// What `req` runs, taken before it goes to the runner; `fresh` when it gets a Stata of
    /// its own.
    pub(crate) fn of(req: &RunRequest, fresh: bool) -> Self {
        Self {
            source: req.source.clone(),
            cwd: req.cwd.clone(),
            changed_dir: req.change_dir || fresh,
            session: if fresh {
                "batch".to_owned()
            } else {
                req.session.to_string()
            },
            fresh,
        }
    }
}

impl Recorder {
    /// Appends `ran`, ended as `o`, to the record of `project` (data files hashed only in
    /// the user's `folders`); the step's number, and whether this is the first step this
    /// server recorded (its result then says where the record is).
    pub(crate) fn append(
        &self,
        project: &Path,
        ran: &Ran,
        o: &RunOutcome,
        folders: &[PathBuf],
    ) -> std::io::Result<(u32, bool)> {
        let dir = record_folder(project, STEPS_DIR)?;
        let (source, text) = match &ran.source {
            RunSource::Code(code) => (StepSource::Code(code.clone()), code.clone()),
            RunSource::File { path, args } => {
                let bytes = std::fs::read(path).unwrap_or_default();
                let sha256 = (!bytes.is_empty()).then(|| sha256_hex(&bytes));
                let source = StepSource::File {
                    path: path.clone(),
                    args: args.clone(),
                    sha256,
                };
                (source, String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        let facts = code_facts(&text);
        let session_seeded = {
            let mut seeded = self.seeded.lock();
            let before = !ran.fresh && seeded.contains(&ran.session);
            if facts.seeds && !ran.fresh {
                seeded.insert(ran.session.clone());
            }
            before
        };
        // Read line by line: a run may have printed far more than is kept.
        let mut output = String::new();
        let mut kept = true;
        let found = estimates(region_lines(o).inspect(|l| {
            if kept && output.len() + l.len() < MAX_STEP_LOG {
                output.push_str(l);
                output.push('\n');
            } else {
                kept = false;
            }
        }));
        let mut step = Step {
            number: 0,
            time: now_utc(),
            session: ran.session.clone(),
            cwd: ran.cwd.clone(),
            changed_dir: ran.changed_dir,
            duration_s: o.duration.as_secs_f64(),
            source,
            status: o.status.as_str().to_owned(),
            rc: o.reported_rc(),
            error: o.error.as_ref().map(|e| e.message.clone()),
            run_id: o.run_id.map(|id| id.to_string()),
            reads: facts
                .reads
                .iter()
                .map(|f| {
                    let path = ran.cwd.join(f);
                    DataRead {
                        sha256: file_sha256(&path, folders),
                        path,
                    }
                })
                .collect(),
            writes: facts.writes.iter().map(|f| ran.cwd.join(f)).collect(),
            random: facts.random,
            seeded: facts.seeds_first || session_seeded,
            installs: facts.installs,
            estimates: found,
        };
        // The next number: one past the highest there; a file made by another server at
        // the same moment is not overwritten (create_new), the next number is tried.
        let mut number = next_number(&dir);
        for _ in 0..20 {
            step.number = number;
            let path = dir.join(Step::file_name(number));
            match create_new(&path, step.to_text().as_bytes()) {
                Ok(()) => {
                    create_new(&path.with_extension("log"), output.as_bytes())?;
                    let first = !self.announced.swap(true, Ordering::SeqCst);
                    return Ok((number, first));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => number += 1,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free step number"))
    }
}

/// One past the highest step number in `dir` (1 in an empty record).
pub(crate) fn next_number(dir: &Path) -> u32 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            name.to_str()?.strip_suffix(".do")?.parse::<u32>().ok()
        })
        .max()
        .map_or(1, |n| n + 1)
}

/// The lines of a run's user output: its region of the full log where the runner says where
/// that is (so a long run's estimates are all read), else the output the result holds.
fn region_lines(o: &RunOutcome) -> Box<dyn Iterator<Item = String> + '_> {
    if let (Some(log), Some(region)) = (o.log_path.as_deref(), o.user_region.as_ref())
        && let Ok(mut f) = std::fs::File::open(log)
        && f.seek(SeekFrom::Start(region.start)).is_ok()
    {
        let len = (region.end - region.start).min(MAX_READ);
        let reader = BufReader::new(f.take(len));
        return Box::new(reader.split(b'\n').map_while(Result::ok).map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\r')
                .to_owned()
        }));
    }
    Box::new(
        o.output
            .render("")
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

/// The user's output of a run, whole (a replay's or a probe's, to be cut into steps).
pub(crate) fn step_output(o: &RunOutcome) -> String {
    let mut text = String::new();
    for line in region_lines(o) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn now_utc() -> String {
    let now: chrono::DateTime<chrono::Utc> = std::time::SystemTime::now().into();
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The record folder of `project`.
pub(crate) fn record_dir(project: &Path) -> PathBuf {
    project.join(RECORD_DIR)
}
