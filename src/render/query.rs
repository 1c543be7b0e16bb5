//! The text of the session queries' answers: the data shown, stored results, status.

use std::fmt::Write as _;
use std::time::Duration;

use crate::render::result::status_line;
use crate::run::RunOutcome;
use crate::service::queries::{InspectJson, ResultsJson};
use crate::service::sessions::{SessionEntryJson, SessionJson};
use crate::stata::stored::ResultClass;
use crate::text::human::{human_bytes, human_duration};

/// Why a query failed, in the user's terms: Stata's message and hint, and the runner's
/// notes, but none of the query's own commands (they are the server's plumbing).
/// Why a session tool cannot answer here: the server runs no live session.
pub(crate) fn needs_session(tool: &str) -> String {
    format!(
        "{tool} needs the live Stata session, but this server runs in batch mode (a fresh Stata \
         per call, nothing kept in memory). Start the server with `--mode session` (or \
         STATA_MCP_MODE=session; Linux and macOS only) to use it; in batch mode, run the \
         commands with stata_run_code instead."
    )
}

pub(crate) fn query_failure(outcome: &RunOutcome) -> String {
    let mut text = match &outcome.error {
        Some(err) if !err.message.trim().is_empty() => err.message.trim_end().to_owned(),
        _ => status_line(outcome.status, outcome.reported_rc(), outcome.duration),
    };
    if let Some(hint) = outcome.error.as_ref().and_then(|e| e.hint.as_deref()) {
        let _ = write!(text, "\nhint: {hint}");
    }
    for n in &outcome.notes {
        let _ = write!(text, "\nnote: {n}");
    }
    text.push('\n');
    text
}

/// `stata_inspect_data`: the command, the counts, any notes, then what Stata printed.
pub(crate) fn inspect_text(j: &InspectJson) -> String {
    let mut text = format!(
        "{}\n({} observations, {} variables in memory)\n",
        j.command,
        j.observations.map_or("?".into(), |n| n.to_string()),
        j.variables.map_or("?".into(), |n| n.to_string())
    );
    for n in &j.notes {
        let _ = writeln!(text, "note: {n}");
    }
    text.push_str(&j.output);
    text.push('\n');
    text
}

/// `stata_get_results`: a line when nothing is stored, the notes, then the JSON itself,
/// which is the clearest text for a model: every number exact.
pub(crate) fn results_text(j: &ResultsJson) -> String {
    let mut text = String::new();
    if j.scalars.is_empty() && j.macros.is_empty() && j.matrices.is_empty() {
        let _ = writeln!(
            text,
            "no {}() results are stored (run {} command first)",
            j.class.letter(),
            if j.class == ResultClass::E {
                "an estimation"
            } else {
                "an r-class"
            }
        );
    }
    for n in &j.notes {
        let _ = writeln!(text, "note: {n}");
    }
    text.push_str(&serde_json::to_string_pretty(j).unwrap_or_default());
    text
}

pub(crate) fn session_text(j: &SessionJson) -> String {
    let mut t = String::new();
    let name = if j.session.is_empty() || j.session == "main" {
        String::new()
    } else {
        format!(" \"{}\"", j.session)
    };
    if !j.sessions.is_empty() {
        let _ = writeln!(t, "Stata sessions:");
        for s in &j.sessions {
            let _ = writeln!(t, "- {}", entry_line(s));
        }
    } else if j.state == "closed" {
        let _ = writeln!(t, "Stata session{name} closed");
    } else if j.running {
        let _ = writeln!(
            t,
            "Stata session{name} running (pid {}): Stata {} {}",
            j.pid.map_or("?".into(), |p| p.to_string()),
            j.version.map_or("?".into(), |v| v.to_string()),
            j.edition.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            t,
            "state: {}\nworking directory: {}\nin memory: {} observations, {} variables\nuptime: {}, calls: {}{}",
            j.state,
            j.pwd.as_deref().unwrap_or("?"),
            j.observations.map_or("?".into(), |n| n.to_string()),
            j.variables.map_or("?".into(), |n| n.to_string()),
            j.uptime_s
                .map_or("?".into(), |s| human_duration(Duration::from_secs_f64(s))),
            j.calls,
            j.memory_bytes
                .map(|b| format!(", memory: {}", human_bytes(b)))
                .unwrap_or_default()
        );
    } else {
        let _ = writeln!(t, "no Stata session{name} is running");
    }
    if !j.sandbox.is_empty() {
        let _ = writeln!(t, "sandbox: {}", j.sandbox);
    }
    for reason in &j.client.reasons {
        let _ = writeln!(t, "client: {reason}");
    }
    for n in &j.notes {
        let _ = writeln!(t, "note: {n}");
    }
    t
}

/// One session in the list: `main: idle for 2 s; pid 41, up 3 min, 2 calls, 310 MiB`.
fn entry_line(s: &SessionEntryJson) -> String {
    let mut line = format!("{}: {}", s.session, s.state);
    if let Some(pid) = s.pid {
        let _ = write!(line, "; pid {pid}");
        if let Some(up) = s.uptime_s {
            let _ = write!(line, ", up {}", human_duration(Duration::from_secs_f64(up)));
        }
        let _ = write!(
            line,
            ", {} call{}",
            s.calls,
            if s.calls == 1 { "" } else { "s" }
        );
        if let Some(b) = s.memory_bytes {
            let _ = write!(line, ", {}", human_bytes(b));
        }
    } else if let Some(why) = &s.lost {
        let _ = write!(line, " ({why}; a call naming it starts a new one)");
    }
    line
}
