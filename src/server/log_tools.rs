//! The tools that read the full logs of past runs.

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool};
use rmcp::service::RequestContext;

use super::tools::{ServerState, tool_error};

pub const NAMES: &[&str] = &[];

pub fn tools() -> Vec<Tool> {
    Vec::new()
}

pub async fn call(
    _state: &ServerState,
    name: &str,
    _args: JsonObject,
    _context: &RequestContext<RoleServer>,
) -> CallToolResult {
    tool_error(format!("{name} is not available"))
}
