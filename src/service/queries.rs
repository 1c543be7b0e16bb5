//! Questions answered from the live session (the data in memory, stored results, help,
//! status), each run as one exclusive query and returned as a typed report.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use super::shared::Shared;
use crate::discovery::DiscoveryError;
use crate::run::tool::ToolName;
use crate::run::{RunOutcome, RunSource, RunStatus};
use crate::runner::request::RunRequest;
use crate::runner::session::pool::PoolError;
use crate::runner::session::{Exclusive, SessionRunner};
use crate::service::calls::StartError;
use crate::stata::input::{check_condition, check_topic, check_vars, is_stata_name};
use crate::stata::query_commands::{
    InspectWhat, help_command, inspect_plan, matrix_list, read_counts, read_matching,
};
use crate::stata::query_output::{SummaryRow, parse_summary, split_sections};
use crate::stata::stored::{ResultClass, StoredMatrix, parse_list, parse_matrix};

/// Output a query keeps whole (a bounded `list`, a help page, a codebook of many variables).
const QUERY_MAX_CHARS: usize = 400_000;
/// `list` shows this many rows unless asked, and never more than `MAX_LIST_ROWS`.
const DEFAULT_LIST_ROWS: u32 = 20;
pub(crate) const MAX_LIST_ROWS: u32 = 1000;
/// Matrices larger than this are listed by name and size only.
const MAX_MATRIX_CELLS: usize = 10_000;
const MAX_MATRICES: usize = 50;

/// Why a query gave no report.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QueryError {
    /// The arguments cannot make a safe query.
    #[error("{0}")]
    BadArgument(String),
    #[error("cancelled while waiting for the session")]
    Cancelled,
    /// Stata is not to be found.
    #[error(transparent)]
    NoStata(#[from] DiscoveryError),
    /// The query did not run cleanly: the run, whose report gives Stata's message.
    #[error("the query ended with status {}", .0.status.as_str())]
    Failed(Box<RunOutcome>),
    #[error("the session was ended but a new one did not start: {0}")]
    Restart(String),
    /// The session named cannot be had (too many, or no such session).
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    BadSession(#[from] StartError),
}

/// What `stata_inspect_data` asks.
#[derive(Debug, Clone)]
pub(crate) struct InspectQuery {
    pub what: InspectWhat,
    pub vars: Vec<String>,
    /// Rows for `list`, as given.
    pub n: Option<f64>,
    pub condition: Option<String>,
}

/// The structured result of `stata_inspect_data`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct InspectJson {
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
pub(crate) struct ResultsJson {
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
pub(crate) struct HelpJson {
    pub topic: String,
    pub text: String,
}

/// Questions answered from a live session: the data, stored results, help, the sessions.
pub(crate) struct Queries {
    pub(super) shared: Arc<Shared>,
}

impl Queries {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs commands (one per line) as a query and returns the output of each, in order,
    /// and the runner's notes.
    pub(super) async fn run_commands(
        &self,
        session: &mut Exclusive<'_>,
        commands: &[String],
        cancel: &CancellationToken,
        park_r: bool,
    ) -> Result<(Vec<Vec<String>>, Vec<String>), QueryError> {
        let mut code = commands.join("\n");
        code.push('\n');
        let req = RunRequest {
            stata: self.shared.locate_stata()?,
            source: RunSource::Code(code),
            cwd: self.shared.base().await.dir,
            change_dir: false,
            run_dir: None,
            turn: None,
            timeout: self.shared.settings.timeout,
            session: Default::default(),
            label: String::new(),
            sandbox: None,
            detach: Default::default(),
            notes: Vec::new(),
        };
        let outcome = session
            .query(req, cancel.clone(), QUERY_MAX_CHARS, park_r)
            .await;
        // The query's folder is done with: retention may count it like any other.
        if let Some(id) = outcome.run_id {
            self.shared.dirs.finished(id);
        }
        if outcome.status != RunStatus::Ok {
            return Err(QueryError::Failed(Box::new(outcome)));
        }
        let text = outcome.output.render("");
        Ok((split_sections(&text, commands), outcome.notes))
    }

    /// `stata_inspect_data`.
    pub(crate) async fn inspect(
        &self,
        runner: &SessionRunner,
        q: InspectQuery,
        cancel: &CancellationToken,
    ) -> Result<InspectJson, QueryError> {
        let bad = QueryError::BadArgument;
        let vars = check_vars(&q.vars).map_err(bad)?;
        let cond = q
            .condition
            .as_deref()
            .map(check_condition)
            .transpose()
            .map_err(bad)?;
        let rows = match q.n {
            None => DEFAULT_LIST_ROWS,
            Some(n) if n.fract() == 0.0 && (1.0..=f64::from(MAX_LIST_ROWS)).contains(&n) => {
                n as u32
            }
            Some(n) => {
                return Err(bad(format!(
                    "n must be a whole number of rows from 1 to {MAX_LIST_ROWS}, not {n}"
                )));
            }
        };
        if q.n.is_some() && q.what != InspectWhat::List {
            return Err(bad("n applies to what = list only".into()));
        }
        let plan = inspect_plan(q.what, &vars, cond.as_deref(), rows).map_err(bad)?;

        let mut session = runner
            .exclusive(ToolName::Inspect.as_str(), cancel)
            .await
            .ok_or(QueryError::Cancelled)?;
        let (sections, mut notes) = self
            .run_commands(&mut session, &plan.commands, cancel, true)
            .await?;
        drop(session);
        let (observations, variables) = read_counts(&sections[0]);
        let matching = read_matching(&sections);
        let main = &sections[plan.main_at];
        let summary = if q.what == InspectWhat::Summarize {
            parse_summary(main)
        } else {
            Vec::new()
        };
        if q.what == InspectWhat::List {
            let total = if cond.is_some() {
                matching
            } else {
                observations
            };
            if let Some(t) = total
                && t > u64::from(rows)
            {
                notes.push(format!(
                    "showing the first {rows} of {t} observations; pass n (up to \
                     {MAX_LIST_ROWS}) or an if condition to see others"
                ));
            }
        }
        Ok(InspectJson {
            what: q.what,
            command: plan.main,
            observations,
            variables,
            matching,
            summary,
            output: main.join("\n"),
            notes,
        })
    }

    /// `stata_get_results`: the stored results, matrices read at full precision.
    pub(crate) async fn results(
        &self,
        runner: &SessionRunner,
        class: ResultClass,
        cancel: &CancellationToken,
    ) -> Result<ResultsJson, QueryError> {
        let mut session = runner
            .exclusive(ToolName::Results.as_str(), cancel)
            .await
            .ok_or(QueryError::Cancelled)?;
        let list_cmd = class.list_command().to_owned();
        let (sections, mut notes) = self
            .run_commands(&mut session, std::slice::from_ref(&list_cmd), cancel, false)
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
            let commands: Vec<String> = wanted.iter().map(|m| matrix_list(class, m)).collect();
            let (sections, more) = self
                .run_commands(&mut session, &commands, cancel, false)
                .await?;
            notes.extend(more);
            for (name, section) in wanted.iter().zip(&sections) {
                match parse_matrix(&section.join("\n")) {
                    Ok(m) => {
                        matrices.insert(name.clone(), m);
                    }
                    Err(e) => {
                        // Stata's own words when it refused, else what the parser found.
                        let why = section
                            .iter()
                            .map(|l| l.trim())
                            .find(|l| !l.is_empty() && !l.starts_with("r("))
                            .map_or_else(|| e.to_string(), str::to_owned);
                        notes.push(format!(
                            "{c}({name}) could not be listed ({why}); the other results are here"
                        ));
                    }
                }
            }
        }
        drop(session);
        Ok(ResultsJson {
            class,
            scalars: list.scalars,
            macros: list.macros,
            matrices,
            functions: list.functions,
            notes,
        })
    }

    /// `stata_help`: the text of the help for `topic`.
    pub(crate) async fn help(
        &self,
        runner: &SessionRunner,
        topic: &str,
        cancel: &CancellationToken,
    ) -> Result<HelpJson, QueryError> {
        let topic = check_topic(topic).map_err(QueryError::BadArgument)?;
        let cmd = help_command(&topic);
        let mut session = runner
            .exclusive(ToolName::Help.as_str(), cancel)
            .await
            .ok_or(QueryError::Cancelled)?;
        let (sections, _) = self
            .run_commands(&mut session, std::slice::from_ref(&cmd), cancel, true)
            .await?;
        drop(session);
        Ok(HelpJson {
            topic,
            text: sections[0].join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
