//! A finished run's graphs: paths made absolute, and up to `--max-images` of them loaded as
//! images for the result.

use std::path::{Path, PathBuf};

use super::images::{MAX_WIDTH, load_png};
use crate::run::RunOutcome;
use crate::settings::Settings;

/// Resolves the run's graph paths against `cwd` and loads up to `--max-images` of them
/// as PNG (none with `--no-images`); a graph that cannot be shown gets a note saying why.
pub(crate) async fn attach(settings: &Settings, outcome: &mut RunOutcome, cwd: &Path) {
    for g in &mut outcome.graphs {
        if g.is_relative() {
            *g = cwd.join(&*g);
        }
    }
    if settings.no_images || settings.max_images == 0 || outcome.graphs.is_empty() {
        return;
    }
    let wanted: Vec<PathBuf> = outcome
        .graphs
        .iter()
        .take(settings.max_images)
        .cloned()
        .collect();
    let skipped = outcome.graphs.len() - wanted.len();
    // Rasterising an SVG takes milliseconds to tens of them: off the async threads.
    let loaded = tokio::task::spawn_blocking(move || {
        wanted
            .iter()
            .map(|p| load_png(p, MAX_WIDTH))
            .collect::<Vec<_>>()
    })
    .await;
    match loaded {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(image) => outcome.images.push(image),
                    Err(e) => outcome.notes.push(format!("graph not shown: {e}")),
                }
            }
        }
        Err(e) => outcome
            .notes
            .push(format!("graphs not shown: loading them failed ({e})")),
    }
    if skipped > 0 {
        outcome.notes.push(format!(
            "{skipped} more graph{} not shown as images (at most {} per call, \
             --max-images); their paths are listed",
            if skipped == 1 { " is" } else { "s are" },
            settings.max_images
        ));
    }
}
