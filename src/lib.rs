//! stata-mcp: a Model Context Protocol server that runs Stata and streams its log live.
//!
//! Data flows top to bottom through the module tree:
//! `server` (JSON-RPC transport and tool surface) hands a run to `runner`
//! (batch or session), which follows Stata's log with `log` (tailing, filtering,
//! chunking into progress frames) and finally builds the tool result with `result`.

pub mod cli;
pub mod commands;
pub mod discovery;
pub mod log;
pub mod result;
pub mod runner;
pub mod server;
