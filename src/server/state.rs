//! What the tool adapters share: the service, and how progress frames are paced.

use std::sync::Arc;

use super::progress::ProgressSettings;
use crate::service::Service;

#[derive(Clone)]
pub struct StataServer {
    service: Arc<Service>,
    progress: ProgressSettings,
}

impl StataServer {
    pub fn new(service: Arc<Service>) -> Self {
        let s = &service.settings;
        let progress = ProgressSettings {
            interval: s.progress_interval,
            heartbeat: s.heartbeat,
            max_frame_bytes: s.max_frame_bytes,
        };
        Self { service, progress }
    }

    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    pub fn progress(&self) -> ProgressSettings {
        self.progress
    }
}
