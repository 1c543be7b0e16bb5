//! stata-mcp: a Model Context Protocol server that runs Stata and streams its log live.
//!
//! Data flows through the module tree (docs/architecture.md draws it): `server` (JSON-RPC
//! transport, thin tool adapters) hands a call to `service` (what the tools share), which
//! runs it with `runner` (batch, session or a cluster); the runner follows Stata's log with
//! `log` (tail, filter, scan, live output), reading Stata's grammar from `stata`; the
//! outcome, in the vocabulary of `run`, is shown by `render`.
//!
//! The modules are the crate's own. What is exported below is what the `stata-mcp` binary,
//! the integration tests and the fuzz targets use, and nothing else: the compiler then sees
//! every item no one uses.

mod cli;
mod client;
mod commands;
mod discovery;
mod log;
mod render;
mod run;
mod runner;
mod sandbox;
mod server;
mod service;
mod settings;
mod stata;
mod text;

// The binary: its command line, its commands, the sandbox launcher it becomes.
pub use cli::{Cli, Command, matches};
pub use commands::config::config;
pub use commands::doctor::doctor;
pub use commands::record::record;
pub use commands::run::run;
pub use sandbox::launch::launch;
pub use sandbox::{LAUNCHER, landlock_abi};
pub use server::serve;

// The tests and fuzz targets: reading Stata's log, JSON-RPC lines, finding Stata.
pub use discovery::{
    DiscoveryError, Edition, FoundVia, Os, SearchEnv, Version, discover, edition_from_binary_name,
    locate,
};
pub use log::decode::{LineDecoder, decode_line, trim_eol};
pub use log::exports::GraphExports;
pub use log::filter::RunnerFilter;
pub use log::scan::{ErrorScanner, Scan};
pub use run::output::CappedOutput;
pub use runner::wrapper::START_ECHO;
pub use server::transport::{Inbox, Verdict};
pub use stata::estimates::{Coef, Estimate, estimates};
