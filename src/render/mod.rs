//! How results are shown: the text and structured content of a run's outcome, and images.

pub mod image;
pub mod log_page;
pub mod outcome;
