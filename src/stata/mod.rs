//! Stata's language and log grammar, as pure functions: one home for each rule.

pub(crate) mod code_facts;
pub(crate) mod command;
pub(crate) mod estimates;
pub(crate) mod input;
pub(crate) mod log_lines;
pub(crate) mod messages;
pub(crate) mod query_commands;
pub(crate) mod query_output;
pub(crate) mod quote;
pub(crate) mod statements;
pub(crate) mod stored;
