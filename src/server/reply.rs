//! Tool results as MCP carries them: a run's outcome, a report with its structured twin,
//! and tool errors the model can read (bad arguments are results, not JSON-RPC errors).

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use crate::render::result::render;
use crate::run::RunOutcome;
use crate::service::images::PNG_MIME;

/// The tool result of a run: text for the model, structured content for programs.
pub(crate) fn run_result(outcome: &RunOutcome) -> CallToolResult {
    run_result_after(String::new(), outcome)
}

/// The tool result of a run, its text following `preface` (e.g. a line naming a job).
pub(crate) fn run_result_after(mut preface: String, outcome: &RunOutcome) -> CallToolResult {
    let rendered = render(outcome);
    preface.push_str(&rendered.text);
    let mut content = vec![ContentBlock::text(preface)];
    // The graphs, after the text that lists them (`graph: <path> (attached as an image)`).
    content.extend(
        outcome
            .images
            .iter()
            .map(|image| ContentBlock::image(image.base64(), PNG_MIME)),
    );
    let mut result = if rendered.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = Some(rendered.structured);
    result
}

/// A successful answer: `text` for the model and the same facts as structured content.
pub(crate) fn report<T: Serialize>(text: String, structured: &T) -> CallToolResult {
    match serde_json::to_value(structured) {
        Ok(value) => {
            let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
            r.structured_content = Some(value);
            r
        }
        Err(e) => tool_error(format!("could not encode the result: {e}")),
    }
}

/// A tool error that is not a run: bad arguments the model can correct.
pub(crate) fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}
