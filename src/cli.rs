//! Command-line options and their environment variables (clap).

use std::path::PathBuf;

use crate::client::policy::StructuredContent;
use crate::client::profile::ClientKind;
use crate::log::watch::FollowMode;
use clap::builder::BoolishValueParser;
use clap::{ArgMatches, Args, CommandFactory, Parser, Subcommand, ValueEnum};

pub(crate) use crate::sandbox::SandboxMode;

#[derive(Debug, Parser)]
#[command(
    name = "stata-mcp",
    version = version_text(),
    about = "An MCP server that runs Stata and streams its log to the client as it is written",
    long_about = "An MCP server that runs Stata and streams its log to the client as it is written.\n\n\
                  With no subcommand it serves MCP over stdin/stdout (newline-delimited JSON-RPC); \
                  an MCP client (Claude Desktop, Cursor, Claude Code) launches it as a child process."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub options: ServerOptions,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP on stdin/stdout (the default).
    Serve,
    /// Check the setup: which Stata is found (and why), then start it and ask its version.
    ///
    /// Exits 0 when Stata started and answered, 1 otherwise, with what to do about it.
    Doctor,
    /// Print (or, with --write, install) the configuration an MCP client needs to start this server.
    ///
    /// The server options given here (e.g. --stata-path, --mode), or set through their
    /// environment variables, go into the configuration as environment variables.
    Config(ConfigArgs),
    /// Run a do-file from a terminal through the same runner the server uses, printing its log as it streams.
    ///
    /// Exit codes: 0 ok, 1 Stata reported an error, 2 Stata did not start (or bad
    /// arguments), 3 time limit reached, 130 interrupted (Ctrl-C).
    // clap would list in the usage line every option an environment variable set
    // (`--stata-path <STATA_PATH>`), as if it were required.
    #[command(override_usage = "stata-mcp run [OPTIONS] <FILE> [ARGS]...")]
    Run(RunArgs),
    /// The research record of this project (`stata-record/`): show, export, verify, compare.
    Record(RecordArgs),
}

/// Whether runs are recorded (`--record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordMode {
    On,
    Off,
}

/// What `stata-mcp record` does (`stata_record`'s actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordAction {
    /// List the recorded steps.
    Show,
    /// Write the replication do-file and its README.
    Export,
    /// Re-run the exported do-file in a fresh Stata and compare every step.
    Verify,
    /// Compare the estimates of two steps (default: the last two estimations).
    Compare,
}

/// `stata-mcp record`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    #[arg(value_enum)]
    pub action: RecordAction,
    /// compare: the two steps, by number.
    pub steps: Vec<u32>,
    /// show: the page (50 steps each), 1 first.
    #[arg(long, default_value_t = 1)]
    pub page: u32,
}

/// An MCP client `config` can write for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Client {
    /// Claude Desktop (claude_desktop_config.json).
    ClaudeDesktop,
    /// Cursor (~/.cursor/mcp.json).
    Cursor,
    /// Claude Code (`claude mcp add`, or ~/.claude.json with --write).
    ClaudeCode,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The client to configure.
    #[arg(value_enum)]
    pub client: Client,

    /// Merge the configuration into the client's configuration file (backed up first) instead of printing it.
    #[arg(long, env = "STATA_MCP_CONFIG_WRITE", value_parser = BoolishValueParser::new())]
    pub write: bool,

    /// The client configuration file to write [default: the client's standard location for this OS].
    #[arg(long, env = "STATA_MCP_CONFIG_FILE", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// The name the server gets in the client's configuration.
    #[arg(long, env = "STATA_MCP_SERVER_NAME", default_value = "stata")]
    pub name: String,

    /// Claude Code: print the JSON entry instead of the `claude mcp add` command line.
    #[arg(long, env = "STATA_MCP_CONFIG_JSON", value_parser = BoolishValueParser::new())]
    pub json: bool,

    /// Run the server on this host over ssh (`ssh -T HOST stata-mcp --mode slurm ...`), e.g. a
    /// cluster's login node where `sbatch` works; the options given here go to that server.
    #[arg(long, value_name = "HOST")]
    pub ssh: Option<String>,

    /// With --ssh: the stata-mcp binary on that host [default: stata-mcp on its PATH].
    #[arg(long, value_name = "PATH", requires = "ssh")]
    pub remote_binary: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The do-file to run (it runs in the current directory, or in --workdir, as `stata -b do` would).
    pub file: PathBuf,

    /// Arguments passed to the do-file (read there with `args`); put `--` before them if the first starts with `-`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,

    /// Never show the progress line on stderr, even on a terminal.
    #[arg(long, env = "STATA_MCP_NO_PROGRESS", value_parser = BoolishValueParser::new())]
    pub no_progress: bool,
}

/// How each call reaches Stata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// A fresh `stata -b` process per call (the only mode on Windows, which has no console Stata).
    Batch,
    /// One console Stata kept alive across calls: data, macros and estimates persist.
    Session,
    /// Each run is a SLURM batch job (`sbatch`) on a cluster; the log is followed on shared storage.
    Slurm,
}

impl Mode {
    /// The mode as `--mode` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Batch => "batch",
            Mode::Session => "session",
            Mode::Slurm => "slurm",
        }
    }

    /// Session where a console Stata exists (Linux, macOS), batch on Windows.
    pub const fn platform_default() -> Mode {
        if cfg!(windows) {
            Mode::Batch
        } else {
            Mode::Session
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServerOptions {
    /// The Stata console binary (e.g. /usr/local/stata18/stata-mp), or an install folder to look in.
    #[arg(long, env = "STATA_PATH", global = true)]
    pub stata_path: Option<PathBuf>,

    /// How calls run Stata [default: session on Linux and macOS, batch on Windows].
    #[arg(long, env = "STATA_MCP_MODE", value_enum, global = true)]
    pub mode: Option<Mode>,

    /// Session mode: start Stata when the server starts instead of at the first call.
    #[arg(long, env = "STATA_MCP_WARM", value_parser = BoolishValueParser::new(), global = true)]
    pub warm: bool,

    /// At most this many batch Stata processes (or a sweep's cluster jobs) at once: each Stata MP uses several cores, and licences limit seats; at least 1.
    #[arg(
        long,
        env = "STATA_MCP_MAX_PARALLEL",
        default_value_t = 2,
        value_parser = clap::value_parser!(u64).range(1..=1024),
        global = true
    )]
    pub max_parallel: u64,

    #[command(flatten)]
    pub slurm: SlurmOptions,

    /// Session mode: seconds Stata gets to return to its prompt after a break before it is killed.
    #[arg(
        long,
        env = "STATA_MCP_BREAK_GRACE_SECS",
        default_value_t = 5,
        global = true
    )]
    pub break_grace_secs: u64,

    /// Session mode: at most this many named sessions (each its own Stata, licence seat and memory) at once; at least 1.
    #[arg(
        long,
        env = "STATA_MCP_MAX_SESSIONS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u64).range(1..=64),
        global = true
    )]
    pub max_sessions: u64,

    /// Session mode: a session other than `main` with nothing to do for this many seconds is closed (its state is lost); 0 = never.
    #[arg(
        long,
        env = "STATA_MCP_SESSION_IDLE_SECS",
        default_value_t = 1800,
        global = true
    )]
    pub session_idle_secs: u64,

    /// Confine Stata with the kernel (Linux Landlock): `write` lets it write only in the project's folders, its run folder, the temp folder and the ado folders; `strict` also limits reads and refuses TCP connections; `off` does neither [default: write where Landlock is available].
    #[arg(long, env = "STATA_MCP_SANDBOX", value_enum, default_value_t = SandboxMode::Write, global = true)]
    pub sandbox: SandboxMode,

    /// A further folder the sandbox lets Stata write in (repeatable).
    #[arg(long = "sandbox-allow-write", value_name = "DIR", global = true)]
    pub sandbox_allow_write: Vec<PathBuf>,

    /// Strict sandbox: a further folder Stata may read (repeatable).
    #[arg(long = "sandbox-allow-read", value_name = "DIR", global = true)]
    pub sandbox_allow_read: Vec<PathBuf>,

    /// Strict sandbox: let Stata open TCP connections.
    #[arg(long, env = "STATA_MCP_ALLOW_NETWORK", value_parser = BoolishValueParser::new(), global = true)]
    pub allow_network: bool,

    /// Directory Stata code runs in when a call gives no `cwd` [default: where the server started].
    #[arg(long, env = "STATA_MCP_WORKDIR", global = true)]
    pub workdir: Option<PathBuf>,

    /// Default time limit of one run, in seconds (a call may pass its own `timeout_s`); at least 1.
    #[arg(
        long = "timeout",
        env = "STATA_MCP_TIMEOUT",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub timeout_secs: u64,

    /// A run still going after this many seconds becomes a background job: the call returns its
    /// id (follow it with stata_job) instead of being cut off by the client; 0 turns it off
    /// [default: a margin below the connected client's own time limit; off for clients that wait].
    #[arg(
        long,
        env = "STATA_MCP_AUTO_BACKGROUND_SECS",
        value_name = "SECS",
        global = true
    )]
    pub auto_background_secs: Option<u64>,

    /// Treat the client as this one, whatever its `initialize` says [default: from clientInfo.name].
    #[arg(
        long,
        env = "STATA_MCP_CLIENT_PROFILE",
        value_enum,
        value_name = "CLIENT",
        global = true
    )]
    pub client_profile: Option<ClientKind>,

    /// Whether results carry structuredContent: auto leaves it out for clients that would hand
    /// the model only that JSON instead of the text and graphs.
    #[arg(
        long,
        env = "STATA_MCP_STRUCTURED_CONTENT",
        value_enum,
        default_value_t = StructuredContent::Auto,
        global = true
    )]
    pub structured_content: StructuredContent,

    /// How a running log is followed: auto uses the OS's change notifications (Linux, Windows;
    /// not for logs on network file systems), poll reads it every 2 ms.
    #[arg(long, env = "STATA_MCP_FOLLOW", value_enum, default_value_t = FollowMode::Auto, global = true)]
    pub follow: FollowMode,

    /// Where run directories and full logs are kept [default: the user's cache folder, else the temp folder].
    #[arg(long, env = "STATA_MCP_LOG_DIR", global = true)]
    pub log_dir: Option<PathBuf>,

    /// Under a flood of output, at most one progress notification per this many milliseconds.
    #[arg(
        long,
        env = "STATA_MCP_PROGRESS_INTERVAL_MS",
        default_value_t = 100,
        global = true
    )]
    pub progress_interval_ms: u64,

    /// When Stata prints nothing for this many seconds, send a heartbeat progress notification; at least 1.
    #[arg(
        long,
        env = "STATA_MCP_HEARTBEAT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub heartbeat_secs: u64,

    /// Largest text (in bytes) one progress notification carries; the rest stays in the log.
    #[arg(
        long,
        env = "STATA_MCP_MAX_FRAME_BYTES",
        default_value_t = 8192,
        global = true
    )]
    pub max_frame_bytes: usize,

    /// Output characters a tool result shows in full before keeping only its head and tail.
    #[arg(
        long,
        env = "STATA_MCP_MAX_OUTPUT_CHARS",
        default_value_t = 20_000,
        global = true
    )]
    pub max_output_chars: usize,

    /// Keep the run directories (and full logs) of at most this many runs; older ones are removed first.
    #[arg(
        long,
        env = "STATA_MCP_KEEP_RUNS",
        default_value_t = 200,
        global = true
    )]
    pub keep_runs: usize,

    /// Keep at most this many megabytes of run directories; older runs are removed first.
    #[arg(long, env = "STATA_MCP_KEEP_MB", default_value_t = 2048, global = true)]
    pub keep_mb: u64,

    /// At most this many graphs are returned as images per call.
    #[arg(long, env = "STATA_MCP_MAX_IMAGES", default_value_t = 4, global = true)]
    pub max_images: usize,

    /// Return no images (graph files are still listed in the structured result).
    #[arg(long, env = "STATA_MCP_NO_IMAGES", value_parser = BoolishValueParser::new(), global = true)]
    pub no_images: bool,

    /// Keep the research record: every run's code, status and estimates appended to
    /// `stata-record/` in the project (`stata_record` shows, exports and verifies it).
    #[arg(long, env = "STATA_MCP_RECORD", value_enum, default_value_t = RecordMode::On, global = true)]
    pub record: RecordMode,

    /// Allow shell escapes (`shell`, `!`, `winexec`, ...) in Stata code; refused by default.
    #[arg(long, env = "STATA_MCP_ALLOW_SHELL", value_parser = BoolishValueParser::new(), global = true)]
    pub allow_shell: bool,

    /// Log filter for stderr diagnostics (overridden by RUST_LOG), e.g. `info`, `debug`.
    #[arg(
        long,
        env = "STATA_MCP_LOG_LEVEL",
        default_value = "warn",
        global = true
    )]
    pub log_level: String,
}

/// `--mode slurm`: how jobs are submitted. Each option also comes from the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct SlurmOptions {
    /// SLURM partition (`sbatch --partition`) [default: the cluster's].
    #[arg(long, env = "STATA_MCP_SLURM_PARTITION", global = true)]
    pub slurm_partition: Option<String>,

    /// SLURM account to charge (`sbatch --account`).
    #[arg(long, env = "STATA_MCP_SLURM_ACCOUNT", global = true)]
    pub slurm_account: Option<String>,

    /// The cluster's time limit per job (`sbatch --time`, e.g. 2:00:00) [default: the partition's].
    #[arg(long, env = "STATA_MCP_SLURM_TIME", global = true)]
    pub slurm_time: Option<String>,

    /// Cores per job (`sbatch --cpus-per-task`): the cores of the Stata MP licence.
    #[arg(long, env = "STATA_MCP_SLURM_CPUS", global = true)]
    pub slurm_cpus: Option<u32>,

    /// Memory per job (`sbatch --mem`, e.g. 16G).
    #[arg(long, env = "STATA_MCP_SLURM_MEM", global = true)]
    pub slurm_mem: Option<String>,

    /// A shell line the job script runs before Stata, e.g. `module load stata/18` (repeatable).
    #[arg(
        long = "slurm-setup",
        env = "STATA_MCP_SLURM_SETUP",
        value_name = "LINE",
        global = true
    )]
    pub slurm_setup: Vec<String>,

    /// Stata as the compute nodes see it (e.g. stata-mp after `module load`) [default: the discovered one].
    #[arg(long, env = "STATA_MCP_SLURM_STATA_PATH", global = true)]
    pub slurm_stata_path: Option<PathBuf>,

    /// A further `sbatch` argument, passed as given (repeatable; several in one value are split at spaces), e.g. --slurm-sbatch-arg=--qos=short.
    #[arg(
        long = "slurm-sbatch-arg",
        env = "STATA_MCP_SLURM_SBATCH_ARGS",
        value_delimiter = ' ',
        value_name = "ARG",
        allow_hyphen_values = true,
        global = true
    )]
    pub slurm_sbatch_arg: Vec<String>,
}

/// Parses the command line, or exits with clap's message; a bad value that came from an
/// environment variable (not a flag) also names the variable, since that is where to fix it.
pub fn matches() -> ArgMatches {
    // A setting left blank in a client's form (a Claude Desktop bundle's optional Stata path)
    // arrives as a variable set to "": that means unset, not an empty value. clap reads the
    // variables as the command is built, so they go before it is built for parsing.
    for var in Cli::command().get_arguments().filter_map(|a| a.get_env()) {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // SAFETY: called first thing in `main`, before any other thread exists.
            unsafe { std::env::remove_var(var) };
        }
    }
    let cmd = Cli::command();
    match cmd.clone().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            if let Some(var) = env_source(&cmd, &e) {
                let _ = e.print();
                eprintln!(
                    "The value comes from the environment variable {var}: fix it, or unset it \
                     to get the default."
                );
                std::process::exit(2);
            }
            e.exit()
        }
    }
}

/// The environment variable a rejected value came from, when it was not given as a flag.
fn env_source(cmd: &clap::Command, e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let ContextValue::String(arg) = e.get(ContextKind::InvalidArg)? else {
        return None;
    };
    // `--mode <MODE>`
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let flag = format!("--{long}");
    let on_line = std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
    if on_line {
        return None;
    }
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long))?;
    arg.get_env().map(|v| v.to_string_lossy().into_owned())
}

/// What `--version` prints after the name (and `doctor` first): the version and the
/// platform it was built for, `0.1.0 (x86_64-linux)`.
pub(crate) fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} ({}-{})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            std::env::consts::OS
        )
    })
}
