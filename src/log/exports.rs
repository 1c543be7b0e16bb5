//! Spots the graph files a run wrote, from Stata's `graph export` messages in its output.

use std::path::PathBuf;

/// The most distinct graph files one run reports; a loop exporting thousands of graphs
/// must not grow the result without bound.
pub(crate) const MAX_TRACKED: usize = 256;

/// The file formats a graph can be shown from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GraphFormat {
    Png,
    Svg,
}

impl GraphFormat {
    /// The format from the label Stata prints (`PNG`, `SVG`); other formats cannot be shown.
    fn from_label(label: &str) -> Option<Self> {
        match label {
            "PNG" => Some(GraphFormat::Png),
            "SVG" => Some(GraphFormat::Svg),
            _ => None,
        }
    }
}

/// The file named by a `graph export` message, if `line` is one for a PNG or SVG file.
///
/// Stata 15 and 16: `(file x.svg written in SVG format)`; 17 and later:
/// `file x.png saved as PNG format` or `file x.png written in PNG format`. The path may
/// contain spaces, so the format suffix is matched from the end. `(file x.png not found)`,
/// which 17+ prints before exporting a new file with `replace`, is not an export. The line
/// must be the whole message (line-anchored), so a `display` of some other text mentioning a
/// file is not taken for one.
pub(crate) fn export_message(line: &str) -> Option<(PathBuf, GraphFormat)> {
    let line = line.trim_end();
    let inner = match line.strip_prefix("(file ") {
        Some(rest) => rest.strip_suffix(" format)")?,
        None => line.strip_prefix("file ")?.strip_suffix(" format")?,
    };
    let (path, label) = inner
        .rsplit_once(" written in ")
        .or_else(|| inner.rsplit_once(" saved as "))?;
    let format = GraphFormat::from_label(label)?;
    let path = path.trim();
    if path.is_empty() {
        return None;
    }
    Some((PathBuf::from(path), format))
}

/// The most lines one export message is gathered over (a long path wraps more than once).
const MAX_WRAPPED_LINES: usize = 6;

/// Collects the graph files a run's output says it exported, in order, each once.
///
/// A long message wraps: mid-word after `> ` (`… written in PNG f` / `> ormat`), or at a
/// space onto an indented line (`… saved as PDF` / `    format`); the pieces are joined
/// before the message is read.
#[derive(Debug, Default)]
pub struct GraphExports {
    paths: Vec<PathBuf>,
    /// The start of a message that may continue on the next lines, and how many lines it has.
    pending: Option<(String, usize)>,
}

impl GraphExports {
    pub fn new() -> Self {
        Self::default()
    }

    /// One line of the user's output.
    pub fn push_line(&mut self, line: &str) {
        if let Some((mut text, lines)) = self.pending.take() {
            let joined = if let Some(rest) = line.strip_prefix("> ") {
                // Stata cut where the line was full: a space it cut at ends the line before.
                text.push_str(rest);
                true
            } else if (line.starts_with("    ") && !line.trim().is_empty())
                // Stata 18 prints `file`, the path and `saved as PNG format` on lines of
                // their own when the path is long.
                || text.trim_end() == "file"
                || line.starts_with("saved as ")
                || line.starts_with("written in ")
            {
                let kept = text.trim_end().len();
                text.truncate(kept);
                text.push(' ');
                text.push_str(line.trim());
                true
            } else {
                false
            };
            if joined {
                if !self.record(&text) && lines < MAX_WRAPPED_LINES {
                    self.pending = Some((text, lines + 1));
                }
                return;
            }
        }
        // Cheap pre-check: nearly every line fails it, and the pipeline sees every line.
        if !line.starts_with("(file ") && !line.starts_with("file ") && line.trim_end() != "file" {
            return;
        }
        if !self.record(line) {
            self.pending = Some((line.to_owned(), 1));
        }
    }

    /// Records the export `text` names; false when it names none (yet).
    fn record(&mut self, text: &str) -> bool {
        let Some((path, _)) = export_message(text) else {
            return false;
        };
        if self.paths.len() < MAX_TRACKED && !self.paths.contains(&path) {
            self.paths.push(path);
        }
        true
    }

    /// The files, as Stata printed them (relative ones are relative to Stata's working directory).
    pub fn into_paths(self) -> Vec<PathBuf> {
        self.paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_export_wordings_are_found() {
        assert_eq!(
            export_message("(file g.svg written in SVG format)"),
            Some((PathBuf::from("g.svg"), GraphFormat::Svg))
        );
        assert_eq!(
            export_message("file /tmp/my graphs/a b.png saved as PNG format"),
            Some((PathBuf::from("/tmp/my graphs/a b.png"), GraphFormat::Png))
        );
        assert_eq!(export_message("(file g.png not found)"), None);
        assert_eq!(export_message("file g.pdf saved as PDF format"), None);
        assert_eq!(export_message("file g.gph saved"), None);
        assert_eq!(export_message(". graph export g.svg, replace"), None);
        assert_eq!(export_message("  see file g.png saved as PNG format"), None);
    }

    #[test]
    fn exports_are_listed_once_in_order() {
        let mut g = GraphExports::new();
        for l in [
            "(file b.png not found)",
            "file b.png saved as PNG format",
            "some output",
            "(file a.svg written in SVG format)",
            "file b.png saved as PNG format",
        ] {
            g.push_line(l);
        }
        assert_eq!(
            g.into_paths(),
            vec![PathBuf::from("b.png"), PathBuf::from("a.svg")]
        );
    }

    #[test]
    fn stata_18_splits_a_long_message_over_lines_of_its_own() {
        let mut g = GraphExports::new();
        for l in [
            "file",
            "/home/ana/projects/replication/output/figures/event_study_main.png",
            "saved as PNG format",
            "file",
            "/home/ana/projects/replication/output/figures/a_graph_with_a_name_that_is_lo",
            "> ng.svg",
            "saved as SVG format",
            // A bare word `file` in other output, then something else: no export.
            "file",
            "not a path at all and no format after it",
        ] {
            g.push_line(l);
        }
        assert_eq!(
            g.into_paths(),
            vec![
                PathBuf::from("/home/ana/projects/replication/output/figures/event_study_main.png"),
                PathBuf::from(
                    "/home/ana/projects/replication/output/figures/a_graph_with_a_name_that_is_long.svg"
                ),
            ]
        );
    }

    #[test]
    fn stata_17_wordings_and_wrapped_messages_are_found() {
        assert_eq!(
            export_message("file out/g.png written in PNG format"),
            Some((PathBuf::from("out/g.png"), GraphFormat::Png))
        );
        let mut g = GraphExports::new();
        for l in [
            "file /project/Analysis/Output/eci_total_comp_allciv_wnotes.pdf saved as PDF",
            "    format",
            "(file /project/Analysis/Output/eci_total_comp_allciv_wnotes.png not found)",
            "file /project/Analysis/Output/eci_total_comp_allciv_wnotes.png written in PNG f",
            "> ormat",
            ">    ",
            "file C:\\Users\\me\\My Documents\\figures\\a very long name for a graph.sv",
            "> g saved as SVG format",
            "file short.png saved as PNG format",
            // Cut at a space, which ends the first line.
            "(file /Users/k/output/figure/event_study/foreign_hire_only_lnK.png written in PNG ",
            "> format)",
        ] {
            g.push_line(l);
        }
        assert_eq!(
            g.into_paths(),
            vec![
                PathBuf::from("/project/Analysis/Output/eci_total_comp_allciv_wnotes.png"),
                PathBuf::from(
                    "C:\\Users\\me\\My Documents\\figures\\a very long name for a graph.svg"
                ),
                PathBuf::from("short.png"),
                PathBuf::from("/Users/k/output/figure/event_study/foreign_hire_only_lnK.png"),
            ]
        );
    }
}
