//! Finding the Stata console binary: explicit path, `PATH`, then the usual install places.
//!
//! The search is a pure function of a [`SearchEnv`] (explicit path, `PATH`, install
//! roots, registry folders, OS), so tests can point it at fake install trees in temp
//! folders and check each OS layout on any host. [`SearchEnv::from_system`] fills
//! it from the real environment.
//!
//! An explicit path that names a binary wins outright. An explicit folder is the only
//! place searched. Otherwise everything found on `PATH` and in the usual install places
//! is ranked: newest version first, then edition MP > SE > BE/IC > SM.
//!
//! On Windows there is no console Stata: the `StataMP-64.exe`-style executables are what
//! batch mode runs, so there they count as the binary to run.

mod env;
mod error;
mod found;
mod linux;
mod macos;
mod os;
mod search;
mod version;
mod windows;

use std::path::{Path, PathBuf};

pub(crate) use env::INSTALL_ROOTS_VAR;
pub use env::SearchEnv;
pub use error::DiscoveryError;
pub(crate) use found::Found;
pub use found::FoundVia;
pub use os::Os;
pub use search::discover;
pub use version::{Edition, Version, edition_from_binary_name};

/// The binary to run, searching the real environment, or the message to show the user:
/// [`discover`] for callers that need only the path (the server's tools).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, DiscoveryError> {
    match discover(&SearchEnv::from_system(explicit.map(Path::to_path_buf))) {
        Ok(found) => {
            tracing::debug!("{found}");
            Ok(found.chosen.path)
        }
        Err(err) => Err(err),
    }
}
