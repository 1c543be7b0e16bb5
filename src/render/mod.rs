//! How results are shown: the text and structured content of a run's outcome, jobs, log
//! pages and query reports, and graphs as images.

pub mod job;
pub mod log_page;
pub mod outcome;
pub mod query;
pub mod started;
pub mod sweep;
