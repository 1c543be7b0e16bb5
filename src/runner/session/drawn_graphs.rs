//! The graphs a session call drew without exporting them: after the call, the graphs in
//! memory are listed and the new or changed ones exported as SVG into the call's run folder,
//! so the result can show them like exported graphs.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::runner::request::RunRequest;
use crate::stata::query_commands::{GRAPH_DIR, graph_export_svg, graph_names, may_draw};
use crate::stata::query_output::split_sections;

/// Graphs in memory looked at after a call; more are left alone.
const MAX_GRAPHS: usize = 16;
/// How long the listing and the exports may take together.
const QUERY_LIMIT: Duration = Duration::from_secs(60);
/// Output a graph query keeps (the listing of names).
pub(super) const QUERY_CHARS: usize = 64 * 1024;

/// Runs the runner's own Stata code in the session held for the call, giving its output
/// when it ran cleanly.
pub(super) trait Query {
    fn query(&mut self, req: RunRequest) -> impl Future<Output = Option<String>> + Send;
}

/// What each graph in memory looked like when last seen (a hash of its SVG), by name.
#[derive(Debug, Default)]
pub(super) struct Seen(parking_lot::Mutex<HashMap<String, u64>>);

/// What the graph queries after a call need of its request (taken before the call runs).
pub(super) struct Probe {
    stata: PathBuf,
    cwd: PathBuf,
    session: crate::run::session_name::SessionName,
    /// The call's code may have drawn a graph.
    drew: bool,
}

impl Probe {
    /// A query of the runner's own, run like the call (same Stata, same folder).
    fn request(&self, code: String) -> RunRequest {
        RunRequest {
            stata: self.stata.clone(),
            source: RunSource::Code(code),
            cwd: self.cwd.clone(),
            change_dir: false,
            run_dir: None,
            turn: None,
            timeout: QUERY_LIMIT,
            session: self.session.clone(),
            label: "looking for graphs in memory".to_owned(),
            sandbox: None,
            detach: Default::default(),
            notes: Vec::new(),
        }
    }

    pub(super) fn of(req: &RunRequest) -> Self {
        Self {
            stata: req.stata.clone(),
            cwd: req.cwd.clone(),
            session: req.session.clone(),
            drew: match &req.source {
                RunSource::Code(code) => may_draw(code),
                RunSource::File { .. } => true,
            },
        }
    }
}

impl Seen {
    /// After a user call that may have drawn: adds the graphs in memory that are new or
    /// changed since the last call to `outcome.graphs` (as SVG files in its run folder),
    /// unless the call exported graphs itself (those are the ones the user meant to show).
    pub(super) async fn add(
        &self,
        probe: &Probe,
        outcome: &mut RunOutcome,
        session: &mut impl Query,
    ) {
        let Some(dir) = outcome.log_path.as_deref().and_then(Path::parent) else {
            return;
        };
        if !probe.drew || matches!(outcome.status, RunStatus::Cancelled) {
            return;
        }
        let dir = dir.to_path_buf();
        let Some(text) = session.query(probe.request(GRAPH_DIR.to_owned())).await else {
            return;
        };
        let section = split_sections(&text, &[GRAPH_DIR.to_owned()]).remove(0);
        let mut names = graph_names(&section.join("\n"));
        names.truncate(MAX_GRAPHS);
        if names.is_empty() {
            self.marks().clear();
            return;
        }
        let files: Vec<(String, PathBuf)> = names
            .iter()
            .map(|n| (n.clone(), dir.join(format!("graph-{n}.svg"))))
            .collect();
        let mut code = String::new();
        for (name, path) in &files {
            match graph_export_svg(name, &path.to_string_lossy()) {
                Ok(line) => {
                    code.push_str(&line);
                    code.push('\n');
                }
                Err(e) => tracing::warn!("graph {name}: {e}"),
            }
        }
        if session.query(probe.request(code)).await.is_none() {
            return;
        }
        let mut seen = self.marks();
        seen.retain(|name, _| names.contains(name));
        let user_exported = !outcome.graphs.is_empty();
        let mut shown = Vec::new();
        for (name, path) in files {
            let Ok(svg) = std::fs::read(&path) else {
                continue;
            };
            let mut h = std::collections::hash_map::DefaultHasher::new();
            svg.hash(&mut h);
            let hash = h.finish();
            let new = seen.insert(name.clone(), hash) != Some(hash);
            if new && !user_exported {
                outcome.graphs.push(path);
                shown.push(name);
            }
        }
        if !shown.is_empty() {
            outcome.notes.push(format!(
                "the graph{} drawn in this call ({}) {} shown from an SVG the server exported into \
                 the run folder; save a copy of your own with graph export",
                if shown.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if shown.len() == 1 { "is" } else { "are" },
            ));
        }
    }

    fn marks(&self) -> parking_lot::MutexGuard<'_, HashMap<String, u64>> {
        self.0.lock()
    }
}
