//! The `stata-mcp` binary: parses the command line, sends diagnostics to stderr, runs the command.

use clap::Parser;
use stata_mcp::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // stdout carries JSON-RPC only: every diagnostic goes to stderr.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cli.options.log_level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stata-mcp: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            None | Some(Command::Serve) => stata_mcp::server::serve(cli.options).await,
        }
    });
    let code = match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stata-mcp: {e:#}");
            std::process::ExitCode::FAILURE
        }
    };
    // tokio's stdin reader sits in a blocking read that runtime shutdown would wait on;
    // everything that matters (Stata's processes) has been stopped already.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}
