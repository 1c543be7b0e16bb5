//! What the tool adapters share: the service, and how progress frames are paced.

use std::sync::Arc;

use super::progress::ProgressSettings;
use crate::runner::turns::Turns;
use crate::service::Service;

#[derive(Clone)]
pub(crate) struct StataServer {
    service: Arc<Service>,
    progress: ProgressSettings,
    /// The arrival order the transport stamps; a call claims its place here.
    turns: Arc<Turns>,
}

impl StataServer {
    pub(crate) fn new(service: Arc<Service>, turns: Arc<Turns>) -> Self {
        let s = &service.shared.settings;
        let progress = ProgressSettings {
            interval: s.progress_interval,
            heartbeat: s.heartbeat,
            max_frame_bytes: s.max_frame_bytes,
        };
        Self {
            service,
            progress,
            turns,
        }
    }

    pub(crate) fn service(&self) -> &Arc<Service> {
        &self.service
    }

    pub(crate) fn progress(&self) -> ProgressSettings {
        self.progress
    }

    pub(crate) fn turns(&self) -> &Arc<Turns> {
        &self.turns
    }
}
