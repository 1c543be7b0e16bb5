//! `stata_read_log`: pages through, tails or searches the full log of a past run (the
//! reading itself is `log::read`).

use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Deserialize;

use super::arguments::{bad_arguments, parse_args};
use super::reply::{report, tool_error};
use crate::log::read::{LogPage, LogQuery, read_log};
use crate::log::read_error::ReadError;
use crate::render::log_page::render_log_page;
use crate::run::tool::ToolName;
use crate::service::Service;

/// A correct call, shown with a bad one.
const EXAMPLE: &str = r#"{"run_id": "20250101-120000-4242-0", "tail_lines": 50}"#;

/// Arguments of `stata_read_log`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadLogArgs {
    /// The run whose log to read: the `run_id` of a run result (e.g. `20250101-120000-4242-0`).
    #[serde(default)]
    pub run_id: Option<String>,
    /// Or a file under the log dir: absolute (a result's `log_path`) or relative to the log dir.
    #[serde(default)]
    pub path: Option<String>,
    /// Byte offset to start reading at (default 0); pass a result's `next_offset` to read on.
    #[serde(default)]
    pub offset: Option<u64>,
    /// Bytes to return at most (default 65536, at most 1048576). Pages end at a line end.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Return the last N lines instead of a byte range.
    #[serde(default)]
    pub tail_lines: Option<u64>,
    /// Return the lines containing this text (case-insensitive, plain text, not a regex),
    /// with their line numbers; at most 200 lines are returned, all are counted.
    #[serde(default)]
    pub grep: Option<String>,
    /// Read the whole file, the runner's own lines (wrapper, sentinel) included, instead of
    /// only the user's output (the default for a run's log). Offsets are the file's either way.
    #[serde(default)]
    pub raw: bool,
}

impl From<ReadLogArgs> for LogQuery {
    fn from(a: ReadLogArgs) -> Self {
        LogQuery {
            run_id: a.run_id,
            path: a.path,
            offset: a.offset,
            max_bytes: a.max_bytes,
            tail_lines: a.tail_lines,
            grep: a.grep,
            raw: a.raw,
        }
    }
}

pub(crate) fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::ReadLog.as_str(),
            "Read the full log of a past run (its run_id is in every run result; the result \
             itself shows only the head and tail of long output). Give run_id (or path), then \
             one of: offset/max_bytes for a page (use next_offset to read on), tail_lines for \
             the last lines, or grep to find lines containing a text with their line numbers. \
             A run's log shows the user's output only; raw: true reads the whole file.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<ReadLogArgs>()
        .with_output_schema::<LogPage>()
        .with_annotations(
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
    ]
}

/// Runs `stata_read_log`.
pub(crate) async fn call(service: &Service, args: JsonObject) -> CallToolResult {
    let query: LogQuery = match parse_args::<ReadLogArgs>(ToolName::ReadLog.as_str(), args, EXAMPLE)
    {
        Ok(a) => a.into(),
        Err(e) => return tool_error(e),
    };
    let log_dir = service.shared.settings.log_dir.clone();
    // File I/O (a grep may read 100 MB): off the async threads.
    let answer = tokio::task::spawn_blocking(move || read_log(&log_dir, &query)).await;
    match answer {
        Ok(Ok(page)) => report(render_log_page(&page), &page),
        // Arguments that do not fit together are answered as every bad argument is.
        Ok(Err(e @ ReadError::Arguments(_))) => tool_error(bad_arguments(
            ToolName::ReadLog.as_str(),
            &e.to_string(),
            EXAMPLE,
        )),
        Ok(Err(e)) => tool_error(e.to_string()),
        Err(e) => tool_error(format!("reading the log failed: {e}")),
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn the_tool_lists_with_object_schemas() {
        let tools = tools();
        assert_eq!(tools.len(), 1);
        let t = &tools[0];
        assert_eq!(t.name, "stata_read_log");
        let out =
            serde_json::to_value(t.output_schema.as_ref().expect("output schema")).expect("json");
        assert_eq!(out["type"], "object");
        let input = serde_json::to_value(&*t.input_schema).expect("json");
        assert_eq!(input["type"], "object");
        assert!(input["properties"]["grep"].is_object());
    }
}
