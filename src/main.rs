//! The `stata-mcp` binary: parses the command line, sends diagnostics to stderr, runs the command.

use clap::FromArgMatches;
use stata_mcp::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    // The sandbox launcher confines itself and becomes Stata: first, before any thread starts.
    let mut argv = std::env::args_os().skip(1);
    if argv.next().as_deref() == Some(std::ffi::OsStr::new(stata_mcp::LAUNCHER)) {
        let code = stata_mcp::launch(argv.collect());
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // The raw matches are kept besides the parsed options: `config` needs to know which
    // options the user set (and how) rather than their values alone.
    let matches = stata_mcp::matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // stdout carries JSON-RPC (serve) or the command's output: every diagnostic goes to stderr.
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
    let code = runtime.block_on(async {
        match &cli.command {
            None | Some(Command::Serve) => match stata_mcp::serve(cli.options).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("stata-mcp: {e:#}");
                    1
                }
            },
            Some(Command::Doctor) => stata_mcp::doctor(&cli.options).await,
            Some(Command::Config(args)) => stata_mcp::config(&cli.options, args, &matches),
            Some(Command::Run(args)) => stata_mcp::run(&cli.options, args).await,
            Some(Command::Record(args)) => stata_mcp::record(&cli.options, args).await,
        }
    });
    // tokio's stdin reader sits in a blocking read that runtime shutdown would wait on;
    // everything that matters (Stata's processes) has been stopped already.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::ExitCode::from(code)
}
