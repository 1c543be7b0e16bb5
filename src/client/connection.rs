//! The connected client as the server knows it: the policy chosen at `initialize`, and its roots.

use std::sync::{Arc, RwLock};

use super::policy::{Overrides, Policy};
use super::roots::Roots;

/// What is known of the client on stdin.
pub struct Connection {
    overrides: Overrides,
    policy: RwLock<Arc<Policy>>,
    pub roots: Roots,
}

impl Connection {
    pub fn new(overrides: Overrides) -> Self {
        Self {
            overrides,
            policy: RwLock::new(Arc::new(Policy::before_initialize(&overrides))),
            roots: Roots::default(),
        }
    }

    /// The policy in force (the default one until the client has said who it is).
    pub fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The client has introduced itself: choose its policy.
    pub fn initialized(&self, client_name: &str, has_roots: bool) -> Arc<Policy> {
        let policy = Arc::new(Policy::choose(client_name, has_roots, &self.overrides));
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = policy.clone();
        policy
    }
}
