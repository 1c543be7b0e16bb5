//! The tools that answer from the live Stata session: data in memory, stored results, help, status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::tools::{ServerState, parse_args, tool_error};
use crate::render::outcome::render;
use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::runner::Runner;
use crate::runner::request::RunRequest;
use crate::runner::session::{Exclusive, SessionRunner};
use crate::stata::stored::{ResultClass, StoredMatrix, parse_list, parse_matrix};

pub const NAMES: &[&str] = &[
    "stata_inspect_data",
    "stata_get_results",
    "stata_help",
    "stata_session",
];

/// Output a query keeps whole (a bounded `list`, a help page, a codebook of many variables).
const QUERY_MAX_CHARS: usize = 400_000;
/// `list` shows this many rows unless asked, and never more than `MAX_LIST_ROWS`.
const DEFAULT_LIST_ROWS: u32 = 20;
const MAX_LIST_ROWS: u32 = 1000;
const MAX_VARS: usize = 300;
const MAX_IF_CHARS: usize = 1000;
/// Matrices larger than this are listed by name and size only.
const MAX_MATRIX_CELLS: usize = 10_000;
const MAX_MATRICES: usize = 50;
/// Full precision for matrix values (the default `%10.0g` keeps about 8 digits).
const MATRIX_FORMAT: &str = "%18.0g";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InspectWhat {
    Describe,
    Summarize,
    List,
    Codebook,
}

/// Arguments of `stata_inspect_data`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectArgs {
    /// What to show: describe (variables and types), summarize (statistics), list (rows), codebook.
    pub what: InspectWhat,
    /// Variables to show (Stata names); default: all.
    #[serde(default)]
    pub vars: Option<Vec<String>>,
    /// For list: how many rows (default 20, at most 1000).
    #[serde(default)]
    pub n: Option<f64>,
    /// A Stata condition selecting observations (summarize, list, codebook), e.g. `foreign == 1`.
    #[serde(default, rename = "if")]
    pub condition: Option<String>,
}

/// Arguments of `stata_get_results`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetResultsArgs {
    /// `r` for the results of the last r-class command (summarize, count...), `e` for the last estimation (regress...).
    pub class: ResultClass,
}

/// Arguments of `stata_help`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelpArgs {
    /// The command or topic, e.g. `regress` or `regress postestimation`.
    pub topic: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionAction {
    Status,
    Restart,
}

/// Arguments of `stata_session`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionArgs {
    /// `status`: what the session is doing; `restart`: end it and start a fresh one (clears everything).
    pub action: SessionAction,
}

/// One row of `summarize`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SummaryRow {
    pub variable: String,
    pub obs: Option<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The structured result of `stata_inspect_data`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InspectJson {
    pub what: InspectWhat,
    /// The Stata command that produced `output`.
    pub command: String,
    /// Observations in memory (`c(N)`).
    pub observations: Option<u64>,
    /// Variables in memory (`c(k)`).
    pub variables: Option<u64>,
    /// For list with a condition: how many observations meet it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<u64>,
    /// For summarize: the table as numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<SummaryRow>,
    /// What Stata printed.
    pub output: String,
    pub notes: Vec<String>,
}

/// The structured result of `stata_get_results`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResultsJson {
    pub class: ResultClass,
    /// Scalars by name (missing values are null).
    pub scalars: BTreeMap<String, Option<f64>>,
    /// Macros by name.
    pub macros: BTreeMap<String, String>,
    /// Matrices by name: `rows`, `cols`, `rownames`, `colnames`, `values` (row by row).
    pub matrices: BTreeMap<String, StoredMatrix>,
    /// Functions such as `e(sample)`.
    pub functions: Vec<String>,
    pub notes: Vec<String>,
}

/// The structured result of `stata_help`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HelpJson {
    pub topic: String,
    pub text: String,
}

/// The structured result of `stata_session`.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct SessionJson {
    pub running: bool,
    /// Process id of Stata (leader of its process group).
    pub pid: Option<u32>,
    pub stata_path: Option<String>,
    /// `c(stata_version)`, e.g. 18 or 18.5.
    pub version: Option<f64>,
    /// MP, SE, BE (IC before Stata 17).
    pub edition: Option<String>,
    /// Stata's working directory (`c(pwd)`).
    pub pwd: Option<String>,
    /// Observations in memory (`c(N)`).
    pub observations: Option<u64>,
    /// Variables in memory (`c(k)`).
    pub variables: Option<u64>,
    pub uptime_s: Option<f64>,
    /// Calls run in this session (stata_run_code / stata_run_file).
    pub calls: u64,
    pub notes: Vec<String>,
}

/// `--warm`: starts the session in the background as the server starts, so the first call
/// does not wait for Stata. A failure is only logged; the first call retries and reports it.
pub fn spawn_warm(state: Arc<ServerState>) {
    tokio::spawn(async move {
        let Runner::Session(runner) = &state.runner else {
            tracing::warn!("--warm has no effect in batch mode");
            return;
        };
        let started = match state.locate_stata() {
            Ok(stata) => runner.warm(&stata, &state.workdir).await,
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            tracing::warn!("--warm: the Stata session did not start: {e}");
        }
    });
}

pub fn tools(_state: &ServerState) -> Vec<Tool> {
    let read_only = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    let empty = || Arc::new(JsonObject::new());
    vec![
        Tool::new(
            "stata_inspect_data",
            "Show the data in memory in the live Stata session: describe, summarize, list (first \
             n rows, default 20) or codebook, for some variables and an optional if condition. \
             Needs session mode.",
            empty(),
        )
        .with_input_schema::<InspectArgs>()
        .with_output_schema::<InspectJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            "stata_get_results",
            "The stored results of the last command in the live Stata session as JSON: class r \
             (summarize, count...) or e (regress and other estimations): scalars as numbers, \
             macros as strings, matrices with row and column names. Needs session mode.",
            empty(),
        )
        .with_input_schema::<GetResultsArgs>()
        .with_output_schema::<ResultsJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            "stata_help",
            "The text of Stata's help for a command or topic (help regress). Needs session mode.",
            empty(),
        )
        .with_input_schema::<HelpArgs>()
        .with_output_schema::<HelpJson>()
        .with_annotations(read_only),
        Tool::new(
            "stata_session",
            "The live Stata session: status (running or not, version and edition, working \
             directory, observations and variables in memory, uptime, calls) or restart (end it \
             and start a fresh one: clears data, macros, programs and estimates). Needs session \
             mode.",
            empty(),
        )
        .with_input_schema::<SessionArgs>()
        .with_output_schema::<SessionJson>()
        .with_annotations(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(false),
        ),
    ]
}

pub async fn call(
    state: &ServerState,
    name: &str,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let Runner::Session(runner) = &state.runner else {
        return tool_error(format!(
            "{name} needs the live Stata session, but this server runs in batch mode (a fresh \
             Stata per call, nothing kept in memory). Start the server with `--mode session` \
             (or STATA_MCP_MODE=session; Linux and macOS only) to use it; in batch mode, \
             run the commands with stata_run_code instead."
        ));
    };
    let cancel = context.ct.clone();
    let result = match name {
        "stata_inspect_data" => match parse_args::<InspectArgs>(name, args) {
            Ok(a) => inspect(state, runner, a, &cancel).await,
            Err(e) => Err(e),
        },
        "stata_get_results" => match parse_args::<GetResultsArgs>(name, args) {
            Ok(a) => get_results(state, runner, a.class, &cancel).await,
            Err(e) => Err(e),
        },
        "stata_help" => match parse_args::<HelpArgs>(name, args) {
            Ok(a) => help(state, runner, a, &cancel).await,
            Err(e) => Err(e),
        },
        "stata_session" => match parse_args::<SessionArgs>(name, args) {
            Ok(a) => session(state, runner, a.action, &cancel).await,
            Err(e) => Err(e),
        },
        other => Err(format!("unknown tool {other:?}")),
    };
    match result {
        Ok(r) => r,
        Err(msg) => tool_error(msg),
    }
}

/// A successful result: the text for the model and the same facts as structured content.
fn success<T: Serialize>(text: String, structured: &T) -> Result<CallToolResult, String> {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = Some(
        serde_json::to_value(structured)
            .map_err(|e| format!("could not encode the result: {e}"))?,
    );
    Ok(r)
}

/// Whether `s` is a Stata name: a letter or `_`, then letters, digits, `_`; at most 32.
pub fn is_stata_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 32
}

fn check_vars(vars: &[String]) -> Result<String, String> {
    if vars.len() > MAX_VARS {
        return Err(format!(
            "vars: at most {MAX_VARS} variables, not {}",
            vars.len()
        ));
    }
    for v in vars {
        if !is_stata_name(v) {
            return Err(format!(
                "vars: {v:?} is not a Stata variable name (a letter or _, then letters, digits \
                 or _, at most 32 characters)"
            ));
        }
    }
    Ok(vars.join(" "))
}

/// An `if` condition goes into Stata code: it may not end the line, start a comment, open
/// a block or expand macros.
fn check_condition(c: &str) -> Result<String, String> {
    let c = c.trim();
    if c.is_empty() {
        return Err("if: the condition is empty".into());
    }
    if c.len() > MAX_IF_CHARS {
        return Err(format!("if: at most {MAX_IF_CHARS} characters"));
    }
    let bad = ['\n', '\r', ';', '`', '$', '{', '}'];
    if let Some(ch) = c.chars().find(|ch| bad.contains(ch) || ch.is_control()) {
        return Err(format!(
            "if: {ch:?} is not allowed in a condition (no newlines, `;`, macros, braces)"
        ));
    }
    if c.contains("//") || c.contains("/*") || c.contains("*/") {
        return Err("if: comments (//, /* */) are not allowed in a condition".into());
    }
    Ok(c.to_owned())
}

fn query_request(state: &ServerState, code: String) -> Result<RunRequest, String> {
    Ok(RunRequest {
        stata: state.locate_stata()?,
        source: RunSource::Code(code),
        cwd: state.workdir.clone(),
        change_dir: false,
        run_dir: None,
        turn: None,
        timeout: state.default_timeout,
    })
}

/// Runs commands (one per line) as a query and returns the output of each, in order.
async fn run_commands(
    state: &ServerState,
    session: &mut Exclusive<'_>,
    commands: &[String],
    cancel: &CancellationToken,
    park_r: bool,
) -> Result<(Vec<Vec<String>>, Vec<String>), String> {
    let mut code = commands.join("\n");
    code.push('\n');
    let req = query_request(state, code)?;
    let outcome = session
        .query(req, cancel.clone(), QUERY_MAX_CHARS, park_r)
        .await;
    check_outcome(&outcome)?;
    let text = outcome.output.render("");
    Ok((split_sections(&text, commands), outcome.notes))
}

/// A query that did not run cleanly becomes the tool's error, with Stata's message.
fn check_outcome(outcome: &RunOutcome) -> Result<(), String> {
    if outcome.status == RunStatus::Ok {
        return Ok(());
    }
    Err(render(outcome).text)
}

/// Splits a query's output at the echo of each command (`. cmd`, wrapped or not).
pub fn split_sections(text: &str, commands: &[String]) -> Vec<Vec<String>> {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let wanted: Vec<String> = commands.iter().map(|c| squash(c)).collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut sections: Vec<Vec<String>> = vec![Vec::new(); commands.len()];
    let mut current: Option<usize> = None;
    let mut next = 0;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if next < commands.len()
            && let Some(first) = l.strip_prefix(". ")
        {
            // Join the echo's continuation lines while they still match the command.
            let mut joined = squash(first);
            let mut j = i + 1;
            while joined.len() < wanted[next].len()
                && wanted[next].starts_with(&joined)
                && let Some(more) = lines.get(j).and_then(|m| m.strip_prefix("> "))
            {
                joined.push_str(&squash(more));
                j += 1;
            }
            if joined == wanted[next] {
                current = Some(next);
                next += 1;
                i = j;
                continue;
            }
        }
        if let Some(k) = current {
            sections[k].push(l.to_owned());
        }
        i += 1;
    }
    for s in &mut sections {
        while s.last().is_some_and(|l| l.trim().is_empty()) {
            s.pop();
        }
        while s.first().is_some_and(|l| l.trim().is_empty()) {
            s.remove(0);
        }
    }
    sections
}

/// The value a `display "MARK:" ...` line printed, joining wrapped continuation lines.
fn marked(section: &[String], mark: &str) -> Option<String> {
    let k = section.iter().position(|l| l.starts_with(mark))?;
    let mut v = section[k][mark.len()..].to_owned();
    for l in &section[k + 1..] {
        match l.strip_prefix("> ") {
            Some(more) => v.push_str(more),
            None => break,
        }
    }
    Some(v)
}

fn count_of(s: Option<String>) -> Option<u64> {
    let x: f64 = s?.trim().parse().ok()?;
    (x.is_finite() && x >= 0.0).then_some(x as u64)
}

const NK_MARK: &str = "STATA_MCP_NK:";
const COUNT_MARK: &str = "STATA_MCP_COUNT:";

async fn inspect(
    state: &ServerState,
    runner: &SessionRunner,
    a: InspectArgs,
    cancel: &CancellationToken,
) -> Result<CallToolResult, String> {
    let vars = check_vars(a.vars.as_deref().unwrap_or(&[]))?;
    let cond = a.condition.as_deref().map(check_condition).transpose()?;
    let rows = match a.n {
        None => DEFAULT_LIST_ROWS,
        Some(n) if n.fract() == 0.0 && (1.0..=f64::from(MAX_LIST_ROWS)).contains(&n) => n as u32,
        Some(n) => {
            return Err(format!(
                "n must be a whole number of rows from 1 to {MAX_LIST_ROWS}, not {n}"
            ));
        }
    };
    if a.n.is_some() && a.what != InspectWhat::List {
        return Err("n applies to what = list only".into());
    }
    let if_part = cond
        .as_deref()
        .map(|c| format!(" if ({c})"))
        .unwrap_or_default();
    let with_vars = |cmd: &str| {
        if vars.is_empty() {
            cmd.to_owned()
        } else {
            format!("{cmd} {vars}")
        }
    };
    let nk = format!("display \"{NK_MARK}\" c(N) \" \" c(k)");
    let mut commands = vec![nk];
    let main = match a.what {
        InspectWhat::Describe => {
            if cond.is_some() {
                return Err(
                    "if does not apply to describe (it describes variables, not observations)"
                        .into(),
                );
            }
            with_vars("describe")
        }
        InspectWhat::Summarize => format!("{}{if_part}", with_vars("summarize")),
        InspectWhat::Codebook => format!("{}{if_part}", with_vars("codebook")),
        InspectWhat::List => {
            if !vars.is_empty() {
                // Checked first so that a misspelt name fails before anything changes.
                commands.push(format!("confirm variable {vars}"));
            }
            if let Some(c) = &cond {
                commands.push(format!("quietly count if ({c})"));
                commands.push(format!("display \"{COUNT_MARK}\" r(N)"));
                // The first n matching rows: keep them in a preserved copy, then restore.
                commands.push("preserve".into());
                commands.push(format!("quietly keep if ({c})"));
            }
            format!("{} if _n <= {rows}", with_vars("list"))
        }
    };
    commands.push(main.clone());
    let main_at = commands.len() - 1;
    if a.what == InspectWhat::List && cond.is_some() {
        commands.push("restore".into());
    }

    let mut session = runner
        .exclusive(cancel)
        .await
        .ok_or("cancelled while waiting for the session")?;
    let (sections, mut notes) = run_commands(state, &mut session, &commands, cancel, true).await?;
    drop(session);
    let nk = marked(&sections[0], NK_MARK).unwrap_or_default();
    let mut nk = nk.split_whitespace();
    let observations = count_of(nk.next().map(str::to_owned));
    let variables = count_of(nk.next().map(str::to_owned));
    let matching = sections
        .iter()
        .find_map(|s| marked(s, COUNT_MARK))
        .and_then(|v| count_of(Some(v)));
    let output = sections[main_at].join("\n");
    let summary = if a.what == InspectWhat::Summarize {
        parse_summary(&sections[main_at])
    } else {
        Vec::new()
    };
    if a.what == InspectWhat::List {
        let total = if cond.is_some() {
            matching
        } else {
            observations
        };
        if let Some(t) = total
            && t > u64::from(rows)
        {
            notes.push(format!(
                "showing the first {rows} of {t} observations; pass n (up to {MAX_LIST_ROWS}) \
                 or an if condition to see others"
            ));
        }
    }
    let mut text = format!(
        "{main}\n({} observations, {} variables in memory)\n",
        observations.map_or("?".into(), |n| n.to_string()),
        variables.map_or("?".into(), |n| n.to_string())
    );
    for n in &notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text.push_str(&output);
    text.push('\n');
    success(
        text,
        &InspectJson {
            what: a.what,
            command: main,
            observations,
            variables,
            matching,
            summary,
            output,
            notes,
        },
    )
}

/// Reads `summarize`'s table: `   price |   74   6165.257   2949.496   3291   15906`.
pub fn parse_summary(lines: &[String]) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for l in lines {
        let Some((name, rest)) = l.split_once('|') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name == "Variable" || name.starts_with('-') {
            continue;
        }
        let nums: Vec<Option<f64>> = rest
            .split_whitespace()
            .map(crate::stata::stored::parse_number)
            .collect();
        let get = |k: usize| nums.get(k).copied().flatten();
        rows.push(SummaryRow {
            variable: name.to_owned(),
            obs: get(0),
            mean: get(1),
            sd: get(2),
            min: get(3),
            max: get(4),
        });
    }
    rows
}

async fn get_results(
    state: &ServerState,
    runner: &SessionRunner,
    class: ResultClass,
    cancel: &CancellationToken,
) -> Result<CallToolResult, String> {
    let mut session = runner
        .exclusive(cancel)
        .await
        .ok_or("cancelled while waiting for the session")?;
    let list_cmd = class.list_command().to_owned();
    let (sections, mut notes) = run_commands(
        state,
        &mut session,
        std::slice::from_ref(&list_cmd),
        cancel,
        false,
    )
    .await?;
    let list = parse_list(&sections[0].join("\n"), class);
    let c = class.letter();
    let mut wanted = Vec::new();
    for (name, r, k) in &list.matrix_dims {
        if !is_stata_name(name) {
            continue;
        }
        if r.saturating_mul(*k) > MAX_MATRIX_CELLS || wanted.len() >= MAX_MATRICES {
            notes.push(format!(
                "{c}({name}) ({r} x {k}) is not included; read it with stata_run_code \
                 (matrix list {c}({name}))"
            ));
            continue;
        }
        wanted.push(name.clone());
    }
    let mut matrices = BTreeMap::new();
    if !wanted.is_empty() {
        let commands: Vec<String> = wanted
            .iter()
            .map(|m| format!("matrix list {c}({m}), format({MATRIX_FORMAT})"))
            .collect();
        let (sections, more) = run_commands(state, &mut session, &commands, cancel, false).await?;
        notes.extend(more);
        for (name, section) in wanted.iter().zip(&sections) {
            match parse_matrix(&section.join("\n")) {
                Ok(m) => {
                    matrices.insert(name.clone(), m);
                }
                Err(e) => notes.push(format!("{c}({name}) could not be read: {e}")),
            }
        }
    }
    drop(session);

    let json = ResultsJson {
        class,
        scalars: list.scalars,
        macros: list.macros,
        matrices,
        functions: list.functions,
        notes,
    };
    let mut text = String::new();
    if json.scalars.is_empty() && json.macros.is_empty() && json.matrices.is_empty() {
        text.push_str(&format!(
            "no {c}() results are stored (run {} command first)\n",
            if class == ResultClass::E {
                "an estimation"
            } else {
                "an r-class"
            }
        ));
    }
    for n in &json.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    // The JSON itself is the clearest text for a model: every number exact.
    text.push_str(&serde_json::to_string_pretty(&json).unwrap_or_default());
    success(text, &json)
}

fn check_topic(t: &str) -> Result<String, String> {
    let t = t.trim();
    let ok = !t.is_empty()
        && t.len() <= 80
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.()#-:".contains(c));
    if ok {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "topic {t:?} is not a help topic: use a command name such as regress (letters, \
             digits, spaces, _ . ( ) # - :, at most 80 characters)"
        ))
    }
}

async fn help(
    state: &ServerState,
    runner: &SessionRunner,
    a: HelpArgs,
    cancel: &CancellationToken,
) -> Result<CallToolResult, String> {
    let topic = check_topic(&a.topic)?;
    let cmd = format!("help {topic}");
    let mut session = runner
        .exclusive(cancel)
        .await
        .ok_or("cancelled while waiting for the session")?;
    let (sections, _) = run_commands(
        state,
        &mut session,
        std::slice::from_ref(&cmd),
        cancel,
        true,
    )
    .await?;
    drop(session);
    let text = sections[0].join("\n");
    success(format!("{text}\n"), &HelpJson { topic, text })
}

const VERSION_MARK: &str = "STATA_MCP_VER:";
const PWD_MARK: &str = "STATA_MCP_PWD:";

async fn session(
    state: &ServerState,
    runner: &SessionRunner,
    action: SessionAction,
    cancel: &CancellationToken,
) -> Result<CallToolResult, String> {
    let mut notes = Vec::new();
    if action == SessionAction::Restart {
        let stata = state.locate_stata()?;
        runner
            .restart(&stata, &state.workdir, cancel)
            .await
            .map_err(|e| format!("the session was ended but a new one did not start: {e}"))?;
        notes.push(
            "the session was restarted: data, macros, programs and estimates are cleared".into(),
        );
    }
    let mut session = runner
        .exclusive(cancel)
        .await
        .ok_or("cancelled while waiting for the session")?;
    let info = session.info();
    let mut json = SessionJson {
        running: info.running,
        pid: info.pid,
        stata_path: info.stata.map(|p| p.display().to_string()),
        uptime_s: info.uptime.map(|d| d.as_secs_f64()),
        calls: info.calls,
        ..SessionJson::default()
    };
    if let Some(why) = info.lost {
        notes.push(format!(
            "no session is running: {why}; the next call starts one"
        ));
    } else if !info.running {
        notes.push("no session is running yet; the first call starts one".into());
    }
    if info.running {
        // Version and edition from flags every Stata since 11 has (c(edition) is newer).
        let commands = vec![
            format!(
                "display \"{VERSION_MARK}\" c(stata_version) \" \" c(MP) \" \" c(SE) \" \" \
                 c(N) \" \" c(k)"
            ),
            format!("display \"{PWD_MARK}\" c(pwd)"),
        ];
        let (sections, more) = run_commands(state, &mut session, &commands, cancel, true).await?;
        notes.extend(more);
        if let Some(v) = marked(&sections[0], VERSION_MARK) {
            let f: Vec<&str> = v.split_whitespace().collect();
            let num = |k: usize| f.get(k).and_then(|s| s.parse::<f64>().ok());
            json.version = num(0);
            let flag = |k: usize| num(k) == Some(1.0);
            let edition = if flag(1) {
                "MP"
            } else if flag(2) {
                "SE"
            } else if json.version.is_some_and(|v| v < 17.0) {
                "IC"
            } else {
                "BE"
            };
            json.edition = Some(edition.to_owned());
            json.observations = count_of(f.get(3).map(|s| (*s).to_owned()));
            json.variables = count_of(f.get(4).map(|s| (*s).to_owned()));
        }
        json.pwd = marked(&sections[1], PWD_MARK).map(|p| p.trim().to_owned());
        // A session the status query had to start is new: report it as it is now.
        let now = session.info();
        json.pid = now.pid;
        json.uptime_s = now.uptime.map(|d| d.as_secs_f64());
    }
    drop(session);
    json.notes = notes;
    let text = session_text(&json);
    success(text, &json)
}

fn session_text(j: &SessionJson) -> String {
    let mut t = String::new();
    if j.running {
        t.push_str(&format!(
            "Stata session running (pid {}): Stata {} {}\n",
            j.pid.map_or("?".into(), |p| p.to_string()),
            j.version.map_or("?".into(), |v| v.to_string()),
            j.edition.as_deref().unwrap_or("?")
        ));
        t.push_str(&format!(
            "working directory: {}\nin memory: {} observations, {} variables\nuptime: {}, calls: {}\n",
            j.pwd.as_deref().unwrap_or("?"),
            j.observations.map_or("?".into(), |n| n.to_string()),
            j.variables.map_or("?".into(), |n| n.to_string()),
            j.uptime_s.map_or("?".into(), |s| crate::text::human::human_duration(
                Duration::from_secs_f64(s)
            )),
            j.calls
        ));
    } else {
        t.push_str("no Stata session is running\n");
    }
    for n in &j.notes {
        t.push_str(&format!("note: {n}\n"));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_conditions_are_checked() {
        assert!(is_stata_name("mpg") && is_stata_name("_cons") && is_stata_name("x1"));
        assert!(!is_stata_name("1x") && !is_stata_name("a b") && !is_stata_name(""));
        assert!(!is_stata_name("m*") && !is_stata_name(&"a".repeat(33)));
        assert!(check_condition("foreign == 1 & inlist(rep78, 3, 4)").is_ok());
        for bad in ["x\ny", "x; drop _all", "`x'", "$x > 1", "x // c", "{", ""] {
            assert!(check_condition(bad).is_err(), "{bad:?}");
        }
        assert!(check_topic("regress postestimation").is_ok());
        assert!(check_topic("regress\ndrop _all").is_err());
        assert!(check_topic("x;y").is_err());
    }

    #[test]
    fn sections_split_at_echoes_even_when_wrapped() {
        let cmds = vec![
            "display \"M:\" c(N)".to_owned(),
            format!("summarize {}", "averyveryverylongname ".repeat(5).trim()),
        ];
        let text = format!(
            ". display \"M:\" c(N)\nM:74\n\n. {}\n> {}\n\n    Variable |   Obs\n",
            &format!("summarize {}", "averyveryverylongname ".repeat(5).trim())[..60],
            &format!("summarize {}", "averyveryverylongname ".repeat(5).trim())[60..],
        );
        let s = split_sections(&text, &cmds);
        assert_eq!(s[0], vec!["M:74"]);
        assert_eq!(s[1], vec!["    Variable |   Obs"]);
    }

    #[test]
    fn fields_left_out_of_the_json_are_not_required_by_the_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(InspectJson)).expect("schema");
        let required: Vec<&str> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(required.contains(&"output"), "{required:?}");
        assert!(!required.contains(&"summary") && !required.contains(&"matching"));
    }

    #[test]
    fn summary_rows_are_numbers() {
        let lines: Vec<String> =
            "    Variable |        Obs        Mean    Std. dev.       Min        Max
-------------+---------------------------------------------------------
       price |         74    6165.257    2949.496       3291      15906
        make |          0"
                .lines()
                .map(str::to_owned)
                .collect();
        let rows = parse_summary(&lines);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].variable, "price");
        assert_eq!(rows[0].max, Some(15906.0));
        assert_eq!(rows[1].obs, Some(0.0));
        assert_eq!(rows[1].mean, None);
    }
}
