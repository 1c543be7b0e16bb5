//! stata-mcp: a Model Context Protocol server that runs Stata and streams its log live.
//!
//! Data flows through the module tree (docs/architecture.md draws it): `server` (JSON-RPC
//! transport, thin tool adapters) hands a call to `service` (what the tools share), which
//! runs it with `runner` (batch or session); the runner follows Stata's log with `log`
//! (tail, filter, scan, live output), reading Stata's grammar from `stata`; the outcome, in
//! the vocabulary of `run`, is shown by `render`.

pub mod cli;
pub mod client;
pub mod commands;
pub mod discovery;
pub mod log;
pub mod render;
pub mod run;
pub mod runner;
pub mod sandbox;
pub mod server;
pub mod service;
pub mod settings;
pub mod stata;
pub mod text;
