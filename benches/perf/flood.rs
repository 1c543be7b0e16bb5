//! 4. A 100 MiB flood: bounded memory, paced frames, nothing lost.

use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

use crate::client::*;
use crate::stats::*;
use crate::*;

// 1 310 720 lines of 79 characters plus a newline: 100 MiB, no wrapping at 79 columns.
const LINES: u64 = 1_310_720;
const WIDTH: u64 = 79;

/// One flood run, as the server bore it.
pub(crate) struct FloodRun {
    pub(crate) reply: Reply,
    pub(crate) wall: Duration,
    /// Server CPU seconds for the call.
    pub(crate) cpu: f64,
    pub(crate) peak_rss_mib: f64,
    pub(crate) log_bytes: f64,
    pub(crate) truncated: bool,
}

impl FloodRun {
    pub(crate) fn cpu_per_100_mib(&self) -> f64 {
        self.cpu * 100.0 * 1024.0 * 1024.0 / self.log_bytes
    }
}

/// The flood in batch mode, the log followed as `follow` says.
pub(crate) fn flood_run(bins: &Binaries, follow: &str) -> Result<FloodRun> {
    let fake = FakeStata::new(&bins.double)?;
    let mut server =
        Server::spawn(fake.server_command(&bins.server, &["--mode", "batch", "--follow", follow]))?;
    server.initialize()?;
    let pid = server.pid();
    let cpu0 = proc_cpu_secs(pid)?;
    let (sent, reply) = server.run_code(
        &format!("_double burst {LINES} {WIDTH}"),
        "flood",
        Duration::from_secs(240),
    )?;
    let cpu = proc_cpu_secs(pid)? - cpu0;
    let peak_rss_mib = proc_status_kb(pid, "VmHWM")? as f64 / 1024.0;
    let log_path = reply
        .msg
        .pointer("/result/structuredContent/log_path")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no log_path in the result"))?;
    let log_bytes = fs::metadata(log_path)
        .with_context(|| format!("reading {log_path}"))?
        .len() as f64;
    let truncated = reply
        .msg
        .pointer("/result/structuredContent/truncated")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    server.shutdown();
    Ok(FloodRun {
        wall: reply.at - sent,
        reply,
        cpu,
        peak_rss_mib,
        log_bytes,
        truncated,
    })
}

pub(crate) fn flood_section(bins: &Binaries, md: &mut String) -> Result<()> {
    let run = flood_run(bins, "auto")?;
    let (reply, wall, cpu, hwm_mb, log_bytes, truncated) = (
        &run.reply,
        run.wall,
        run.cpu,
        run.peak_rss_mib,
        run.log_bytes,
        run.truncated,
    );
    let frames = &reply.frames;
    let skipped: u64 = frames
        .iter()
        .filter_map(|f| {
            let rest = f.message.strip_prefix("[… ")?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    let shown: usize = frames.iter().map(|f| f.message.len()).sum();
    // The busiest second, and the closest two frames came.
    let times: Vec<Instant> = frames.iter().map(|f| f.at).collect();
    let mut busiest = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while j < times.len() && times[j] - times[i] < Duration::from_secs(1) {
            j += 1;
        }
        busiest = busiest.max(j - i);
    }
    // A frame gap much longer than the interval means the sender was starved.
    let max_gap = times
        .windows(2)
        .map(|w| ms(w[1] - w[0]))
        .fold(0.0, f64::max);
    let min_gap = times
        .windows(2)
        .map(|w| ms(w[1] - w[0]))
        .fold(f64::INFINITY, f64::min);
    let cpu_per_100 = run.cpu_per_100_mib();

    let _ = writeln!(md, "### 4. Flood (batch mode)\n");
    let _ = writeln!(
        md,
        "`_double burst {LINES} {WIDTH}`: {:.1} MiB of log written as fast as the double can. \
         Server CPU = utime + stime of the server process (not its children) from \
         /proc/<pid>/stat before and after the call; peak RSS = VmHWM. Targets: < 1 s CPU per \
         100 MiB, peak RSS < 64 MB.\n",
        log_bytes / 1024.0 / 1024.0
    );
    let _ = writeln!(md, "| measure | value | target |");
    let _ = writeln!(md, "|---|---|---|");
    let _ = writeln!(
        md,
        "| wall time of the call | {:.2} s ({:.0} MiB/s) | — |",
        wall.as_secs_f64(),
        log_bytes / 1024.0 / 1024.0 / wall.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "| server CPU per 100 MiB of log | {cpu_per_100:.2} s ({cpu:.2} s for this run) | {} |",
        verdict(cpu_per_100 < 1.0)
    );
    let _ = writeln!(
        md,
        "| server peak RSS (VmHWM) | {hwm_mb:.1} MiB | {} |",
        verdict(hwm_mb < 64.0)
    );
    let _ = writeln!(md, "| progress frames | {} | — |", frames.len());
    let _ = writeln!(
        md,
        "| most frames in any 1 s / closest two frames | {busiest} / {min_gap:.1} ms | ≤ {} per s at `--progress-interval-ms {DEFAULT_INTERVAL_MS}` |",
        1000 / DEFAULT_INTERVAL_MS
    );
    let _ = writeln!(
        md,
        "| longest gap between two frames | {max_gap:.1} ms | about {DEFAULT_INTERVAL_MS} ms expected |"
    );
    let _ = writeln!(
        md,
        "| frame text capped | {} ({:.1} KiB shown, {:.1} MiB marked as skipped) | — |",
        if skipped > 0 { "yes" } else { "no" },
        shown as f64 / 1024.0,
        skipped as f64 / 1024.0 / 1024.0
    );
    let _ = writeln!(
        md,
        "| result output truncated (`truncated`) | {truncated} | — |"
    );
    let _ = writeln!(md);
    Ok(())
}
