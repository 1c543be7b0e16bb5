//! Sends a run's live output to the client as `notifications/progress` for one request:
//! at once after a quiet spell, at most one frame per interval under a flood, a heartbeat
//! when Stata is silent, and nothing at all once the request is cancelled or answered.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::log::live::{Commands, LiveOutput};
use crate::text::human::human_duration;

#[derive(Debug, Clone, Copy)]
pub(crate) struct ProgressSettings {
    /// At most one frame per this interval.
    pub interval: Duration,
    /// A heartbeat after this much silence.
    pub heartbeat: Duration,
    /// The most text one frame carries.
    pub max_frame_bytes: usize,
}

/// Runs `work` with a live output whose text reaches the client as the progress frames of
/// the request in `context`, when the request asked for them (the protocol forbids them
/// otherwise). Every frame is written before this returns, so none can follow the response.
pub(crate) async fn streaming<T, Fut>(
    context: &RequestContext<RoleServer>,
    settings: ProgressSettings,
    work: impl FnOnce(Arc<LiveOutput>) -> Fut,
) -> T
where
    Fut: Future<Output = T>,
{
    let live = Arc::new(LiveOutput::new(settings.max_frame_bytes));
    let done = CancellationToken::new();
    let pump_task = context.meta.get_progress_token().map(|token| {
        tokio::spawn(pump(
            live.clone(),
            PeerSink {
                peer: context.peer.clone(),
                token,
            },
            settings,
            done.clone(),
            context.ct.clone(),
        ))
    });
    let answer = work(live).await;
    done.cancel();
    if let Some(task) = pump_task
        && let Ok(Some(last_frame)) = task.await
    {
        // Clients that handle notifications a turn later than responses (the TypeScript
        // SDK) lose a frame that arrives with the response: let the last one go first.
        tokio::time::sleep_until(last_frame + LAST_FRAME_LEAD).await;
    }
    answer
}

/// How long the response waits after the last frame, when that frame has just left.
pub(crate) const LAST_FRAME_LEAD: Duration = Duration::from_millis(5);

/// Where frames go; a trait so the pacing can be tested without a client.
pub(crate) trait FrameSink: Send + Sync {
    /// Sends one frame; `progress` strictly increases from one call to the next, and stays
    /// below `total` when there is one.
    fn send(
        &self,
        progress: f64,
        total: Option<f64>,
        message: String,
    ) -> impl Future<Output = bool> + Send;
}

/// Frames to an MCP peer for one progress token.
pub(crate) struct PeerSink {
    pub peer: Peer<RoleServer>,
    pub token: ProgressToken,
}

impl FrameSink for PeerSink {
    async fn send(&self, progress: f64, total: Option<f64>, message: String) -> bool {
        let mut param =
            ProgressNotificationParam::new(self.token.clone(), progress).with_message(message);
        if let Some(total) = total {
            param = param.with_total(total);
        }
        self.peer.notify_progress(param).await.is_ok()
    }
}

/// The `progress` of each frame: the commands done when their number is known (plus a
/// fraction that grows with each frame at the same count, so it still strictly increases),
/// else the frame's number.
#[derive(Default)]
struct Counter {
    frames: u64,
    /// The commands done at the last frame, and frames sent since that count changed.
    at: Option<(u64, u64)>,
}

impl Counter {
    fn next(&mut self, commands: Option<Commands>) -> (f64, Option<f64>) {
        self.frames += 1;
        let Some(c) = commands else {
            return (self.frames as f64, None);
        };
        let k = match self.at {
            Some((done, k)) if done >= c.done => k + 1,
            _ => 0,
        };
        let done = self.at.map_or(c.done, |(d, _)| d.max(c.done));
        self.at = Some((done, k));
        let fraction = 1.0 - 1.0 / (k as f64 + 1.0);
        (done as f64 + fraction, Some(c.total.max(done + 1) as f64))
    }
}

/// Streams `live` to `sink` until `done` fires; then sends what is left (unless the
/// request was cancelled) and returns when the last frame was sent. The caller awaits
/// this before writing the response, so no frame can follow the response.
pub(crate) async fn pump<S: FrameSink>(
    live: Arc<LiveOutput>,
    sink: S,
    settings: ProgressSettings,
    done: CancellationToken,
    request_cancelled: CancellationToken,
) -> Option<Instant> {
    let started = Instant::now();
    let mut counter = Counter::default();
    let mut last_frame: Option<Instant> = None;
    let mut last_news = Instant::now();
    let mut next_heartbeat = started + settings.heartbeat;
    loop {
        // Wait for news, the heartbeat, or the end of the run.
        let finished = tokio::select! {
            _ = done.cancelled() => true,
            _ = request_cancelled.cancelled() => return None,
            _ = live.changed() => false,
            _ = tokio::time::sleep_until(next_heartbeat) => false,
        };
        if request_cancelled.is_cancelled() {
            return None;
        }
        if !finished && let Some(prev) = last_frame {
            // Coalesce a flood: wait out the rest of the interval, collecting more news.
            let ready_at = prev + settings.interval;
            if Instant::now() < ready_at {
                tokio::select! {
                    _ = done.cancelled() => {}
                    _ = request_cancelled.cancelled() => return None,
                    _ = tokio::time::sleep_until(ready_at) => {}
                }
            }
        }
        let message = match live.take() {
            Some(chunk) => {
                last_news = Instant::now();
                Some(chunk.message)
            }
            None if !finished && Instant::now() >= next_heartbeat => Some(heartbeat(
                started.elapsed(),
                last_news.elapsed(),
                live.last_command(),
            )),
            None => None,
        };
        if let Some(message) = message {
            if request_cancelled.is_cancelled() {
                return None;
            }
            let (progress, total) = counter.next(live.commands());
            if !sink.send(progress, total, message).await {
                return None;
            }
            last_frame = Some(Instant::now());
            next_heartbeat = Instant::now() + settings.heartbeat;
        }
        if finished || done.is_cancelled() {
            // One last look: lines pushed just before the end.
            if let Some(chunk) = live.take()
                && !request_cancelled.is_cancelled()
            {
                let (progress, total) = counter.next(live.commands());
                sink.send(progress, total, chunk.message).await;
                last_frame = Some(Instant::now());
            }
            return last_frame;
        }
    }
}

fn heartbeat(elapsed: Duration, silent: Duration, command: Option<String>) -> String {
    let mut s = format!(
        "still running ({} elapsed, no new output for {})",
        human_duration(elapsed),
        human_duration(silent)
    );
    if let Some(cmd) = command {
        let _ = write!(s, ": {cmd}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<(f64, String, Instant)>>>);

    impl FrameSink for Recorder {
        async fn send(&self, progress: f64, _total: Option<f64>, message: String) -> bool {
            self.0
                .lock()
                .expect("lock")
                .push((progress, message, Instant::now()));
            true
        }
    }

    /// Starts a pump from `live` into a fresh recorder.
    fn start(
        live: &Arc<LiveOutput>,
        done: CancellationToken,
        cancelled: CancellationToken,
    ) -> (Recorder, tokio::task::JoinHandle<()>) {
        let rec = Recorder::default();
        let (live, sink) = (live.clone(), rec.clone());
        let task = tokio::spawn(async move {
            pump(live, sink, settings(), done, cancelled).await;
        });
        (rec, task)
    }

    fn settings() -> ProgressSettings {
        ProgressSettings {
            interval: Duration::from_millis(100),
            heartbeat: Duration::from_secs(10),
            max_frame_bytes: 8192,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_is_paced_and_nothing_is_lost_from_the_stream() {
        let live = Arc::new(LiveOutput::new(1 << 20));
        let done = CancellationToken::new();
        let (rec, task) = start(&live, done.clone(), CancellationToken::new());
        for i in 0..100 {
            live.push_lines(&format!("line {i}\n"));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        done.cancel();
        task.await.expect("pump");
        let frames = rec.0.lock().expect("lock").clone();
        // 1 s of output at 100 ms pacing: about 10 frames, never 100.
        assert!(
            frames.len() >= 5 && frames.len() <= 13,
            "{} frames",
            frames.len()
        );
        for w in frames.windows(2) {
            assert!(w[1].0 > w[0].0, "progress must increase");
            assert!(
                w[1].2 - w[0].2 >= Duration::from_millis(100),
                "frames closer than the interval"
            );
        }
        let all: String = frames.iter().map(|f| f.1.as_str()).collect();
        for i in 0..100 {
            assert!(all.contains(&format!("line {i}\n")), "line {i} missing");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silence_brings_a_heartbeat_naming_the_command() {
        let live = Arc::new(LiveOutput::new(8192));
        let done = CancellationToken::new();
        let (rec, task) = start(&live, done.clone(), CancellationToken::new());
        live.push_lines(". sleep 30000\n");
        tokio::time::sleep(Duration::from_secs(25)).await;
        done.cancel();
        task.await.expect("pump");
        let frames = rec.0.lock().expect("lock").clone();
        assert_eq!(frames[0].1, ". sleep 30000\n");
        assert!(frames.len() >= 3, "{frames:?}");
        assert!(frames[1].1.starts_with("still running"), "{}", frames[1].1);
        assert!(frames[1].1.ends_with(": sleep 30000"), "{}", frames[1].1);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_sent_after_cancellation() {
        let live = Arc::new(LiveOutput::new(8192));
        let cancelled = CancellationToken::new();
        let (rec, task) = start(&live, CancellationToken::new(), cancelled.clone());
        live.push_lines("a\n");
        tokio::time::sleep(Duration::from_millis(1)).await;
        cancelled.cancel();
        live.push_lines("b\n");
        task.await.expect("pump");
        let frames = rec.0.lock().expect("lock").clone();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].1, "a\n");
    }

    #[test]
    fn progress_counts_commands_and_still_rises_with_every_frame() {
        let mut c = Counter::default();
        let at = |done, total| Some(Commands { done, total });
        let seen: Vec<(f64, Option<f64>)> = [
            at(0, 3),
            at(0, 3),
            at(1, 3),
            at(1, 3),
            at(1, 3),
            at(3, 3),
            at(3, 3),
        ]
        .into_iter()
        .map(|x| c.next(x))
        .collect();
        assert_eq!(seen[0], (0.0, Some(3.0)));
        assert_eq!(seen[2].0, 1.0, "a new count starts at the count");
        for w in seen.windows(2) {
            assert!(w[1].0 > w[0].0, "{seen:?}");
        }
        for (p, total) in &seen {
            assert!(*p < total.expect("a total"), "{seen:?}");
        }
        let mut plain = Counter::default();
        assert_eq!(plain.next(None), (1.0, None));
        assert_eq!(plain.next(None), (2.0, None));
    }
}
