//! The MCP side: the stdio transport, the tool surface, and progress notifications.

pub(crate) mod arguments;
pub(crate) mod handler;
pub(crate) mod handshake;
pub(crate) mod job_tools;
pub(crate) mod log_tools;
pub(crate) mod progress;
pub(crate) mod record_tools;
pub(crate) mod reply;
pub(crate) mod run_tools;
pub(crate) mod schema;
pub(crate) mod session_tools;
pub(crate) mod sweep_tools;
pub(crate) mod tools;
pub(crate) mod transport;

use anyhow::Context;
use rmcp::ServiceExt;

use std::sync::Arc;

use crate::cli::ServerOptions;
use crate::runner::process::{Shutdown, kill_all_groups};
use crate::runner::signals::Signals;
use crate::runner::turns::Turns;
use crate::service::Service;
use crate::settings::Settings;

/// How long handlers get to finish once stdin has closed and Stata was stopped.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(1000);

/// Serves MCP on stdin/stdout until stdin closes; then stops every Stata process it started.
pub async fn serve(options: ServerOptions) -> anyhow::Result<()> {
    // A person who typed `stata-mcp` alone would otherwise wait at a silent prompt.
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!(
            "stata-mcp: this is an MCP server waiting for a client on stdin (press Ctrl-D to \
             end). To set it up: stata-mcp doctor, then stata-mcp config <client> --write; to \
             run a do-file here: stata-mcp run FILE.do"
        );
    }
    let settings = Settings::resolve(&options).context("could not set up the server")?;
    let service = Arc::new(Service::new(settings));
    let turns = Turns::new();
    let reattached = service.background.reattach();
    if reattached > 0 {
        tracing::info!("re-attached {reattached} background cluster jobs of earlier servers");
    }
    let server = handler::StataServer::new(service.clone(), turns.clone());
    spawn_signal_handler();
    if service.shared.settings.warm {
        service.spawn_warm();
    }
    let transport = transport::StdioTransport::new(tokio::io::stdin(), tokio::io::stdout(), turns);
    let stdin_closed = transport.closed_token();
    match server.serve(transport).await {
        Ok(running) => {
            let waiting = running.waiting();
            tokio::pin!(waiting);
            tokio::select! {
                reason = &mut waiting => tracing::info!(?reason, "MCP session ended"),
                _ = stdin_closed.cancelled() => {
                    // The client is gone: stop Stata now rather than letting runs finish,
                    // then give the handlers a moment to wind down.
                    service.shared.runner.release().await;
                    kill_all_groups(Shutdown::ClientGone);
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut waiting).await;
                }
            }
        }
        Err(e) => tracing::info!("MCP session ended before it began: {e}"),
    }
    service.shared.runner.release().await;
    kill_all_groups(Shutdown::ClientGone);
    Ok(())
}

/// A client that kills the server (or Ctrl-C in a terminal) must not leave Stata running:
/// Stata is in its own process group, so the terminal's SIGINT does not reach it.
fn spawn_signal_handler() {
    tokio::spawn(async {
        let Some(mut signals) = Signals::new() else {
            tracing::warn!("could not install signal handlers");
            return;
        };
        signals.next().await;
        tracing::info!("signal received: stopping Stata and exiting");
        kill_all_groups(Shutdown::Signal);
        std::process::exit(130);
    });
}
