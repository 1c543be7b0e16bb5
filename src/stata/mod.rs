//! Stata's language and log grammar, as pure functions: one home for each rule.

pub mod command;
pub mod input;
pub mod log_lines;
pub mod messages;
pub mod queries;
pub mod query_output;
pub mod quote;
pub mod statements;
pub mod stored;
