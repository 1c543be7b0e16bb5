//! The connected client as the server knows it: the policy chosen when it said who it is
//! (`initialize`, or a request's `_meta` in the 2026-07-28 revision), and its roots.

use parking_lot::RwLock;
use std::sync::Arc;

use super::policy::{Overrides, Policy};
use super::roots::Roots;

/// What is known of the client on stdin.
pub(crate) struct Connection {
    overrides: Overrides,
    policy: RwLock<Arc<Policy>>,
    /// The client has said who it is (by `initialize`, or in a request's `_meta`).
    introduced: std::sync::atomic::AtomicBool,
    pub roots: Roots,
}

impl Connection {
    pub(crate) fn new(overrides: Overrides) -> Self {
        Self {
            overrides,
            policy: RwLock::new(Arc::new(Policy::before_initialize(&overrides))),
            introduced: std::sync::atomic::AtomicBool::new(false),
            roots: Roots::default(),
        }
    }

    /// The policy in force (the default one until the client has said who it is).
    pub(crate) fn policy(&self) -> Arc<Policy> {
        self.policy.read().clone()
    }

    /// The client has introduced itself: choose its policy.
    pub(crate) fn initialized(&self, client_name: &str, has_roots: bool) -> Arc<Policy> {
        let policy = Arc::new(Policy::choose(client_name, has_roots, &self.overrides));
        *self.policy.write() = policy.clone();
        self.introduced
            .store(true, std::sync::atomic::Ordering::SeqCst);
        policy
    }

    /// Whether the client has said who it is.
    pub(crate) fn is_introduced(&self) -> bool {
        self.introduced.load(std::sync::atomic::Ordering::SeqCst)
    }
}
