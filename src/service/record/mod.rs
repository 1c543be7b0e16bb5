//! The research record, a part of the service: every run of the user's code kept as a step
//! in the project (`recorder.rs` appends, `step.rs` is the format), shown, exported as a
//! replication package (`export.rs`), re-run and compared step by step (`verify.rs`), two
//! estimations compared (`compare.rs`); `answers.rs` is the part the tools call.

pub(crate) mod answers;
pub(crate) mod compare;
pub(crate) mod export;
pub(crate) mod files;
pub(crate) mod recorder;
pub(crate) mod step;
pub(crate) mod verify;
