//! The names of the files in a run's folder.

/// File name of the wrapper in the run directory; batch Stata names its log after it (`run.log`).
pub const WRAPPER_FILE: &str = "run.do";
/// The log batch Stata writes for [`WRAPPER_FILE`].
pub const WRAPPER_LOG: &str = "run.log";
/// Where `stata_run_code` puts the user's code.
pub const CODE_FILE: &str = "code.do";
