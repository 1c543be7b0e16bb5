//! Reading Stata's log while it is written: tailing, decoding, filtering the runner's lines,
//! one pass that feeds the live output, the error scan and graph detection.

pub(crate) mod beneath;
pub(crate) mod captured;
pub(crate) mod decode;
pub(crate) mod error_message;
pub(crate) mod exports;
pub(crate) mod filter;
pub(crate) mod find;
pub(crate) mod grep;
mod license;
pub(crate) mod live;
pub(crate) mod pipeline;
pub(crate) mod read;
pub(crate) mod read_error;
pub(crate) mod remote;
pub(crate) mod scan;
pub(crate) mod smcl;
pub(crate) mod stack;
pub(crate) mod tail;
pub(crate) mod watch;
#[cfg(any(target_os = "linux", windows))]
pub(crate) mod watcher;
