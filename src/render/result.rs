//! Turns a `RunOutcome` into the text and structured content of an MCP tool result.
//!
//! The text is what a model reads: a status line, the error (always before the output),
//! the captured errors, the runner's notes, then the output, head and tail. The structured
//! content carries the same facts as JSON (its schema is [`RunResultJson`]), including the
//! output text, since some clients show a model only the structured content.

use std::fmt::Write as _;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::text::human::{group, human_duration};

/// What a run tool returns: the text block, the structured content, and the error flag.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub text: String,
    pub structured: serde_json::Value,
    pub is_error: bool,
}

/// The structured result of a Stata run (the tool's `outputSchema`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct RunResultJson {
    /// How the run ended: ok, error, timeout, cancelled or failed_to_start.
    pub status: RunStatus,
    /// The run's id (names its log for stata_read_log).
    pub run_id: String,
    /// Stata's return code of the failure, `N` of `r(N);`; null when there was none.
    pub rc: Option<i32>,
    /// The error that ended the run; null on success.
    pub error: Option<ErrorInfo>,
    /// Errors printed but captured (`capture noisily`, `do, nostop`): the run went on. Each
    /// code is the one the log shows (its `r(N);`, a displayed `_rc`, Mata's own), null
    /// when the log does not show it.
    pub warnings: Vec<ErrorInfo>,
    /// The full log on disk; null when there is none.
    pub log_path: Option<String>,
    /// Wall-clock time of the run, in milliseconds.
    pub duration_ms: u64,
    /// Whether `output` lacks part of what Stata printed (read the rest from the log).
    pub truncated: bool,
    /// Lines Stata printed (the user's output, all of it).
    pub output_lines: u64,
    /// Lines left out of `output` (its middle).
    pub omitted_lines: u64,
    /// Messages from the runner to read (e.g. why the run stopped).
    pub notes: Vec<String>,
    /// Graph files (PNG or SVG) the run exported, absolute paths; the first `--max-images`
    /// of them also come as image content unless the server runs with `--no-images`.
    pub graphs: Vec<String>,
    /// What Stata printed: all of it, or its head and tail around one line saying what is missing.
    pub output: String,
}

/// Builds the tool result of a finished run.
pub(crate) fn render(outcome: &RunOutcome) -> Rendered {
    let log_path = outcome
        .log_path
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let output = outcome.output.render(log_path.as_deref().unwrap_or(""));
    let rc = outcome.reported_rc();

    let mut text = String::with_capacity(output.len() + 512);
    if outcome.refused {
        text.push_str("Refused by the server before Stata started: nothing ran");
    } else {
        text.push_str(&status_line(outcome.status, rc, outcome.duration));
    }
    text.push('\n');
    if let Some(err) = &outcome.error {
        write_error(&mut text, err, "");
    }
    if !outcome.warnings.is_empty() {
        let n = outcome.warnings.len();
        let _ = writeln!(
            text,
            "{} captured error{} (capture, do with nostop; the run went on):",
            n,
            if n == 1 { "" } else { "s" }
        );
        for w in &outcome.warnings {
            write_error(&mut text, w, "  ");
        }
    }
    for note in &outcome.notes {
        let _ = writeln!(text, "note: {}", note.trim_end());
    }
    write_graphs(&mut text, outcome);
    if outcome.output.is_empty() {
        text.push_str("(no output)\n");
    } else {
        let lines = outcome.output.total_lines();
        let _ = writeln!(
            text,
            "--- output ({} line{}) ---",
            group(lines),
            if lines == 1 { "" } else { "s" }
        );
        text.push_str(&output);
    }
    // Clients that hand the model no structuredContent still give it the run's id (for
    // stata_read_log) and where its full log is.
    if let (Some(id), Some(path)) = (outcome.run_id, log_path.as_deref()) {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = writeln!(text, "--- run {id}, full log {path} ---");
    }

    let json = RunResultJson {
        status: outcome.status,
        run_id: run_id_text(outcome),
        rc,
        error: outcome.error.clone(),
        warnings: outcome.warnings.clone(),
        log_path,
        duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        truncated: outcome.output.is_truncated(),
        output_lines: outcome.output.total_lines(),
        omitted_lines: outcome.output.omitted_lines(),
        notes: outcome.notes.clone(),
        graphs: outcome
            .graphs
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        output,
    };
    let structured = serde_json::to_value(&json).unwrap_or(serde_json::Value::Null);

    Rendered {
        text,
        structured,
        is_error: outcome.status != RunStatus::Ok,
    }
}

/// A run's id as results print it: `-` for a run that never got a folder.
pub(crate) fn run_id_text(outcome: &RunOutcome) -> String {
    outcome
        .run_id
        .map_or_else(|| "-".to_owned(), |id| id.to_string())
}

/// `Stata run ok in 1.2 s`, `Stata error r(111) in 0.4 s`, `Timed out after 30 s`, ...
pub(crate) fn status_line(status: RunStatus, rc: Option<i32>, duration: Duration) -> String {
    let d = human_duration(duration);
    match status {
        RunStatus::Ok => format!("Stata run ok in {d}"),
        RunStatus::Error => match rc {
            Some(rc) => format!("Stata error r({rc}) in {d}"),
            None => format!("Stata error in {d}"),
        },
        RunStatus::Timeout => format!("Timed out after {d}"),
        RunStatus::Cancelled => format!("Cancelled after {d}"),
        RunStatus::FailedToStart => "Stata did not start".to_owned(),
    }
}

/// One error as a few lines: `r(111): message`, then `in:`, `in do-file:`, `at:` and
/// `hint:`; the tool results and `stata-mcp run` both write errors so.
pub(crate) fn write_error(text: &mut String, err: &ErrorInfo, indent: &str) {
    let mut lines = err.message.lines();
    let first = match lines.next().unwrap_or("").trim_end() {
        "" => "(Stata printed no message)",
        first => first,
    };
    match err.code.filter(|c| *c > 0) {
        Some(code) => {
            let _ = writeln!(text, "{indent}r({code}): {first}");
        }
        // A captured error whose code the log does not show.
        None if !indent.is_empty() => {
            let _ = writeln!(
                text,
                "{indent}r(?): {first} (the log does not show its code)"
            );
        }
        None => {
            let _ = writeln!(text, "{indent}error: {first}");
        }
    }
    for l in lines {
        let _ = writeln!(text, "{indent}  {}", l.trim_end());
    }
    if let Some(cmd) = &err.command {
        let _ = writeln!(text, "{indent}  in: {cmd}");
    }
    if !err.stack.is_empty() {
        let _ = writeln!(text, "{indent}  in do-file: {}", err.stack.join(" > "));
    }
    if let (Some(file), Some(line)) = (&err.file, err.line) {
        let _ = writeln!(text, "{indent}  at: {file}, line {line}");
    }
    if let Some(hint) = &err.hint {
        let _ = writeln!(text, "{indent}  hint: {hint}");
    }
}

/// One line per graph file, saying which are attached as images.
fn write_graphs(text: &mut String, outcome: &RunOutcome) {
    for g in &outcome.graphs {
        let shown = if outcome.images.iter().any(|im| im.source == *g) {
            " (attached as an image)"
        } else {
            ""
        };
        let _ = writeln!(text, "graph: {}{shown}", g.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::output::CappedOutput;
    use std::path::PathBuf;

    fn outcome(status: RunStatus) -> RunOutcome {
        let mut output = CappedOutput::new(10_000);
        for l in [". gen y = foo + 1", "foo not found", "r(111);"] {
            output.push_line(l);
        }
        let mut o = RunOutcome::from_log(Vec::new(), 0, output, Vec::new());
        o.status = status;
        o.run_id = crate::run::id::RunId::parse("20250101-000000-1-0");
        o.log_path = Some(PathBuf::from("/tmp/runs/r1/run.log"));
        o.duration = Duration::from_millis(1234);
        o
    }

    #[test]
    fn ok_run() {
        let r = render(&outcome(RunStatus::Ok));
        assert!(!r.is_error);
        assert!(
            r.text
                .starts_with("Stata run ok in 1.2 s\n--- output (3 lines) ---\n")
        );
        assert_eq!(r.structured["status"], "ok");
        // Its id and log reach a model that gets the text alone.
        assert!(
            r.text
                .ends_with("--- run 20250101-000000-1-0, full log /tmp/runs/r1/run.log ---\n"),
            "{}",
            r.text
        );
        assert_eq!(r.structured["rc"], serde_json::Value::Null);
        assert_eq!(r.structured["duration_ms"], 1234);
        assert_eq!(r.structured["output_lines"], 3);
        assert_eq!(r.structured["truncated"], false);
    }

    #[test]
    fn error_block_comes_before_the_output() {
        let mut o = outcome(RunStatus::Error);
        o.rc = Some(111);
        let mut e = ErrorInfo::new(111, "foo not found");
        e.command = Some("gen y = foo + 1".into());
        e.stack = vec!["a.do".into(), "b.do".into()];
        e.hint = Some("list the variables".into());
        o.error = Some(e);
        o.warnings = vec![ErrorInfo::new(111, "variable z not found")];
        o.notes = vec!["a note".into()];
        let r = render(&o);
        assert!(r.is_error);
        let expected = "\
Stata error r(111) in 1.2 s
r(111): foo not found
  in: gen y = foo + 1
  in do-file: a.do > b.do
  hint: list the variables
1 captured error (capture, do with nostop; the run went on):
  r(111): variable z not found
note: a note
--- output (3 lines) ---
";
        assert!(r.text.starts_with(expected), "{}", r.text);
        assert_eq!(r.structured["error"]["code"], 111);
        assert_eq!(r.structured["error"]["stack"][1], "b.do");
        assert_eq!(
            r.structured["warnings"][0]["message"],
            "variable z not found"
        );
        assert!(r.structured["error"].get("command").is_some());
    }

    #[test]
    fn other_statuses() {
        for (status, start) in [
            (RunStatus::Timeout, "Timed out after 1.2 s"),
            (RunStatus::Cancelled, "Cancelled after 1.2 s"),
            (RunStatus::FailedToStart, "Stata did not start"),
        ] {
            let mut o = outcome(status);
            if status == RunStatus::FailedToStart {
                o.error = Some(ErrorInfo::uncoded("License is invalid"));
                o.output = CappedOutput::new(0);
            }
            let r = render(&o);
            assert!(r.is_error);
            assert!(r.text.starts_with(start), "{}", r.text);
            assert_eq!(r.structured["status"], status.as_str());
            if status == RunStatus::FailedToStart {
                assert!(r.text.contains("error: License is invalid\n(no output)"));
            }
        }
    }

    #[test]
    fn truncated_output_points_at_the_log() {
        let mut o = outcome(RunStatus::Ok);
        o.output = CappedOutput::new(200);
        for i in 0..1000 {
            o.output.push_line(&format!("row {i}"));
        }
        let r = render(&o);
        assert!(
            r.text
                .contains("omitted; read them with stata_read_log (/tmp/runs/r1/run.log)")
        );
        assert!(
            r.text
                .contains("row 999\n--- run 20250101-000000-1-0, full log")
        );
        assert_eq!(r.structured["truncated"], true);
        assert_eq!(r.structured["output_lines"], 1000);
    }

    #[test]
    fn schema_is_an_object() {
        let schema = schemars::schema_for!(RunResultJson);
        let v = serde_json::to_value(&schema).unwrap();
        assert_eq!(v["type"], "object");
        assert!(v["properties"]["status"].is_object());
    }
}
