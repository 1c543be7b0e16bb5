//! The graphs a session call drew without exporting them: after the call, the graphs in
//! memory are listed and the new or changed ones exported as SVG into the call's run folder,
//! so the result can show them like exported graphs.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{CallKind, SessionRunner, Slot};
use crate::log::live::LiveOutput;
use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::runner::request::RunRequest;
use crate::stata::queries::{GRAPH_DIR, graph_export_svg, graph_names, may_draw};
use crate::stata::query_output::split_sections;

/// Graphs in memory looked at after a call; more are left alone.
const MAX_GRAPHS: usize = 16;
/// How long the listing and the exports may take together.
const QUERY_LIMIT: Duration = Duration::from_secs(60);
/// Output a graph query keeps (the listing of names).
const QUERY_CHARS: usize = 64 * 1024;

/// What each graph in memory looked like when last seen (a hash of its SVG), by name.
#[derive(Debug, Default)]
pub struct Seen(std::sync::Mutex<HashMap<String, u64>>);

/// What the graph queries after a call need of its request (taken before the call runs).
pub(super) struct Probe {
    stata: PathBuf,
    cwd: PathBuf,
    session: crate::run::session_name::SessionName,
    /// The call's code may have drawn a graph.
    drew: bool,
}

impl Probe {
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

impl SessionRunner {
    /// After a user call that may have drawn: adds the graphs in memory that are new or
    /// changed since the last call to `outcome.graphs` (as SVG files in its run folder),
    /// unless the call exported graphs itself (those are the ones the user meant to show).
    pub(super) async fn add_memory_graphs(
        &self,
        slot: &mut Slot,
        req: &Probe,
        outcome: &mut RunOutcome,
        cancel: &CancellationToken,
    ) {
        let Some(dir) = outcome.log_path.as_deref().and_then(Path::parent) else {
            return;
        };
        if !req.drew || slot.live.is_none() || matches!(outcome.status, RunStatus::Cancelled) {
            return;
        }
        let dir = dir.to_path_buf();
        let names = match self.query(slot, req, GRAPH_DIR.to_owned(), cancel).await {
            Some(text) => {
                let section = split_sections(&text, &[GRAPH_DIR.to_owned()]).remove(0);
                let mut names = graph_names(&section.join("\n"));
                names.truncate(MAX_GRAPHS);
                names
            }
            None => return,
        };
        if names.is_empty() {
            self.seen
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
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
        if self.query(slot, req, code, cancel).await.is_none() {
            return;
        }
        let mut seen = self.seen.0.lock().unwrap_or_else(|p| p.into_inner());
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

    /// Runs `code` as a query of the runner's own, its output kept whole; `None` when it
    /// did not run cleanly.
    async fn query(
        &self,
        slot: &mut Slot,
        req: &Probe,
        code: String,
        cancel: &CancellationToken,
    ) -> Option<String> {
        let q = RunRequest {
            stata: req.stata.clone(),
            source: RunSource::Code(code),
            cwd: req.cwd.clone(),
            change_dir: false,
            run_dir: None,
            turn: None,
            timeout: QUERY_LIMIT,
            session: req.session.clone(),
            label: "looking for graphs in memory".to_owned(),
            notes: Vec::new(),
        };
        let live = Arc::new(LiveOutput::new(4096));
        let kind = CallKind::Query { park_r: true };
        let out = self
            .run_locked(
                slot,
                q,
                live,
                cancel.clone(),
                kind,
                QUERY_CHARS,
                Instant::now(),
            )
            .await;
        if let Some(id) = out.run_id {
            self.settings.dirs.finished(id);
        }
        (out.status == RunStatus::Ok).then(|| out.output.render(""))
    }
}
