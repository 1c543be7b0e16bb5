//! The tools that answer from the live Stata session: data in memory, stored results, help, status.

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool};
use rmcp::service::RequestContext;

use super::tools::{ServerState, tool_error};

pub const NAMES: &[&str] = &[];

pub fn tools(_state: &ServerState) -> Vec<Tool> {
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
