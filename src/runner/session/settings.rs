//! What every session of a server is set up with.

use std::sync::Arc;
use std::time::Duration;

use crate::log::watch::FollowMode;
use crate::runner::rundir::RunDirs;

/// How every session of a server runs Stata; shared by the sessions of a pool.
#[derive(Clone)]
pub(crate) struct SessionSettings {
    pub dirs: Arc<RunDirs>,
    pub max_output_chars: usize,
    pub follow: FollowMode,
    /// How long Stata gets to come back to its prompt after a break before it is killed.
    pub grace: Duration,
}
