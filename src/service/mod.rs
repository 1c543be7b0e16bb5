//! What the tools share, with no MCP types: jobs, retention, the shell guard.

pub mod jobs;
pub mod retention;
pub mod shell_guard;
