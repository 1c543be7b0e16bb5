//! Reading Stata's log while it is written: tailing, decoding, filtering runner lines, chunking for progress.

pub mod chunk;
pub mod decode;
pub mod filter;
pub mod tail;
