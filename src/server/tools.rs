//! The MCP tool surface: the server handler, the table of tools, and dispatch of each call
//! to its family's adapter.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeRequestParams,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use super::handler::StataServer;
use super::schema::portable_tool;
use super::{handshake, job_tools, log_tools, record_tools, run_tools, session_tools, sweep_tools};
use crate::run::tool::ToolName;
use crate::runner::turns::Arrival;

/// Every tool, its schemas in portable JSON Schema.
fn all_tools() -> Vec<rmcp::model::Tool> {
    run_tools::tools()
        .into_iter()
        .chain(session_tools::tools())
        .chain(log_tools::tools())
        .chain(sweep_tools::tools())
        .chain(job_tools::tools())
        .chain(record_tools::tools())
        .map(portable_tool)
        .collect()
}

impl ServerHandler for StataServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            // Clients show this in their logs and UIs: it names the server, not its library.
            .with_server_info(
                Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                    .with_title("Stata")
                    .with_description(env!("CARGO_PKG_DESCRIPTION")),
            )
            .with_instructions(
                "Runs Stata. Use stata_run_code for code and stata_run_file for do-files. Output \
                 streams as progress notifications while Stata runs; the final result holds the \
                 status, any error (r(N) and message) and the output. For long runs pass \
                 background: true and follow the job with stata_job. To run one do-file over \
                 many argument lists in parallel, use stata_sweep. In session mode every call \
                 may name a session (default main), each a separate Stata with its own data: \
                 while a long job runs in one, explore or run other work in another (e.g. \
                 session: \"explore\"), and see them with stata_session {\"action\": \"list\"}.",
            )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        handshake::introduce(self, &request);
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        handshake::ask_roots(self, context.peer);
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        handshake::ask_roots(self, context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        handshake::introduce_from_request(self, &context);
        let mut tools = all_tools();
        // A client that gets no structuredContent must not be promised any (the TypeScript
        // SDK fails a successful call whose schema-declared content is missing).
        if !self.service().shared.client.policy().structured {
            for tool in &mut tools {
                tool.output_schema = None;
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        handshake::introduce_from_request(self, &context);
        let args = request.arguments.unwrap_or_default();
        // The call has started: it holds its place in the line only if it runs Stata code
        // (other tools give it up at once, as `turn` is dropped).
        let turn = context
            .extensions
            .get::<Arrival>()
            .map(|a| self.turns().claim(a.0));
        let Some(tool) = ToolName::parse(request.name.as_ref()) else {
            // The 2025-11-25 specification: an unknown tool is a protocol error, not a result.
            let known: Vec<&str> = ToolName::ALL.iter().map(|t| t.as_str()).collect();
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool {:?}; the tools are {} (tools/list describes them)",
                    request.name.as_ref(),
                    known.join(", ")
                ),
                None,
            ));
        };
        let turn = turn.filter(|_| tool.runs_user_code());
        // Code runs in the user's project: a 2026-07-28 client may be asked for it first.
        if matches!(
            tool,
            ToolName::RunCode | ToolName::RunFile | ToolName::Sweep
        ) && let Some(ask) =
            handshake::roots_by_input(self, &context, request.input_responses.as_ref())
        {
            return Ok(ask);
        }
        let service = self.service();
        let result = match tool {
            ToolName::RunCode | ToolName::RunFile => {
                run_tools::call(self, tool, args, &context, turn).await
            }
            ToolName::Sweep => sweep_tools::call(self, args).await,
            ToolName::Job => job_tools::call(self, args, &context).await,
            ToolName::ReadLog => log_tools::call(service, args).await,
            ToolName::Record => record_tools::call(self, args, &context).await,
            ToolName::Inspect
            | ToolName::Results
            | ToolName::Help
            | ToolName::Session
            | ToolName::SessionInfo => session_tools::call(service, tool, args, &context).await,
        };
        let mut result = result;
        if !self.service().shared.client.policy().structured {
            result.structured_content = None;
        }
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_tool_has_a_name_in_the_table() {
        let mut listed: Vec<String> = all_tools()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        listed.sort();
        let mut table: Vec<String> = ToolName::ALL
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        table.sort();
        assert_eq!(listed, table);
        assert_eq!(ToolName::parse("stata_run_file"), Some(ToolName::RunFile));
        assert_eq!(ToolName::parse("stata_nothing"), None);
    }

    #[test]
    fn listed_schemas_use_only_portable_json_schema() {
        fn check(v: &serde_json::Value, tool: &str) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(f) = m.get("format").and_then(|f| f.as_str()) {
                        assert!(!f.contains("int") && f != "double", "{tool}: format {f}");
                    }
                    assert!(!m.get("type").is_some_and(|t| t.is_array()), "{tool}: {v}");
                    m.values().for_each(|c| check(c, tool));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|c| check(c, tool)),
                _ => {}
            }
        }
        for t in all_tools() {
            check(
                &serde_json::Value::Object((*t.input_schema).clone()),
                &t.name,
            );
            let out = t
                .output_schema
                .as_ref()
                .expect("every tool has an output schema");
            check(&serde_json::Value::Object((**out).clone()), &t.name);
        }
    }
}
