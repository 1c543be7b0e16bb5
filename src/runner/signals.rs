//! The signals that mean "stop" (Ctrl-C, and SIGTERM and SIGHUP on Unix), for the server
//! and `stata-mcp run` alike: Stata runs in its own process group, so they never reach it
//! by themselves, and whoever receives them must stop it.

/// The signals that mean "stop", watched from before a run starts so none is missed.
pub(crate) struct Signals {
    #[cfg(unix)]
    streams: [tokio::signal::unix::Signal; 3],
}

impl Signals {
    /// Starts watching; None where the signals cannot be watched.
    pub(crate) fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Some(Self {
                streams: [
                    signal(SignalKind::interrupt()).ok()?,
                    signal(SignalKind::terminate()).ok()?,
                    signal(SignalKind::hangup()).ok()?,
                ],
            })
        }
        #[cfg(not(unix))]
        {
            Some(Self {})
        }
    }

    /// Waits for the next one.
    pub(crate) async fn next(&mut self) {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.streams;
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            // Without a handler, waiting forever is the safe answer: the run ends normally.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
