//! Reading Stata's log while it is written: tailing, decoding, filtering the runner's lines,
//! one pass that feeds the live output, the error scan and graph detection.

pub mod beneath;
pub mod captured;
pub mod decode;
pub mod filter;
pub mod find;
pub mod graphs;
pub mod grep;
mod license;
pub mod live;
pub mod message;
pub mod pipeline;
pub mod read;
pub mod read_error;
pub mod remote;
pub mod scan;
pub mod smcl;
pub mod stack;
pub mod tail;
pub mod watch;
#[cfg(any(target_os = "linux", windows))]
pub mod watcher;
