//! How results are shown: the text and structured content of a run's outcome, jobs, log
//! pages and query reports, and graphs as images.

pub(crate) mod job;
pub(crate) mod log_page;
pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod result;
pub(crate) mod started;
pub(crate) mod sweep;
