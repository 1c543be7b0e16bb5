//! 1. Log-write-to-frame latency, and the CPU a silent run costs.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;

use crate::client::*;
use crate::stats::*;
use crate::*;

pub(crate) struct LatencyRun {
    pub(crate) mode: &'static str,
    pub(crate) lines: u64,
    pub(crate) spacing_ms: u64,
    pub(crate) interval_ms: u64,
    pub(crate) frames: usize,
    pub(crate) seen: usize,
    pub(crate) stats: Stats,
}

/// Runs `_double stamp` and measures, for every stamp line, the time from the double
/// writing it to the client reading the frame that carries it.
pub(crate) fn latency_run(
    bins: &Binaries,
    mode: &'static str,
    lines: u64,
    spacing_ms: u64,
    interval_ms: u64,
    follow: &str,
) -> Result<LatencyRun> {
    let fake = FakeStata::new(&bins.double)?;
    let interval = interval_ms.to_string();
    let mut server = Server::spawn(fake.server_command(
        &bins.server,
        &[
            "--mode",
            mode,
            "--progress-interval-ms",
            &interval,
            "--follow",
            follow,
        ],
    ))?;
    server.initialize()?;
    // Session mode starts Stata at the first call: pay that before measuring.
    server.run_code("display 1", "warm", Duration::from_secs(30))?;
    let budget = Duration::from_millis(lines * spacing_ms) + Duration::from_secs(30);
    let (_, reply) = server.run_code(
        &format!("_double stamp {lines} {spacing_ms}"),
        "lat",
        budget,
    )?;
    let mut latencies = Vec::new();
    let mut seen = 0;
    for f in &reply.frames {
        for l in f.message.lines() {
            let mut w = l.split_whitespace();
            // Stamp 1 follows the command's own echo at once, so pacing may hold it back
            // behind the echo's frame: it is not an isolated line.
            if let (Some("stamp"), Some(i), Some(ns)) = (w.next(), w.next(), w.next())
                && let Ok(ns) = ns.parse::<i128>()
            {
                seen += 1;
                if i == "1" {
                    continue;
                }
                latencies.push((f.wall_ns - ns) as f64 / 1e6);
            }
        }
    }
    server.shutdown();
    Ok(LatencyRun {
        mode,
        lines,
        spacing_ms,
        interval_ms,
        frames: reply.frames.len(),
        seen,
        stats: stats(latencies),
    })
}

/// Server CPU seconds over the wall seconds of a call in which Stata prints nothing for
/// `secs` seconds, the log followed as `follow` says.
pub(crate) fn idle_cpu(bins: &Binaries, follow: &str, secs: u64) -> Result<(f64, f64)> {
    let fake = FakeStata::new(&bins.double)?;
    let mut server =
        Server::spawn(fake.server_command(&bins.server, &["--mode", "batch", "--follow", follow]))?;
    server.initialize()?;
    let cpu0 = proc_cpu_secs(server.pid())?;
    let (sent, reply) = server.run_code(
        &format!("sleep {}", secs * 1000),
        "idle",
        Duration::from_secs(secs + 30),
    )?;
    let cpu = proc_cpu_secs(server.pid())? - cpu0;
    let wall = (reply.at - sent).as_secs_f64();
    server.shutdown();
    Ok((cpu, wall))
}

pub(crate) fn latency_section(bins: &Binaries, md: &mut String) -> Result<()> {
    let mut runs = Vec::new();
    for mode in ["batch", "session"] {
        // Isolated lines: further apart than the frame interval, so pacing never holds one back.
        runs.push(latency_run(
            bins,
            mode,
            200,
            120,
            DEFAULT_INTERVAL_MS,
            "auto",
        )?);
        // The same 20 lines a second with a 25 ms interval: isolated again.
        runs.push(latency_run(bins, mode, 200, 50, 25, "auto")?);
        // 20 lines a second at the default 100 ms interval: pacing merges pairs of lines.
        runs.push(latency_run(
            bins,
            mode,
            200,
            50,
            DEFAULT_INTERVAL_MS,
            "auto",
        )?);
    }
    let _ = writeln!(md, "### 1. Log-write-to-frame latency\n");
    let _ = writeln!(
        md,
        "Each line is `stamp <i> <unix ns>`, written by the double (`_double stamp N MS`) and \
         stamped the moment it goes to the log; latency = when the client read the progress \
         frame carrying it from the server's stdout − that stamp. The log is followed with \
         change notifications (`--follow auto`; polling is compared in section 5). Targets \
         for isolated lines: p50 < 5 ms, p99 < 20 ms.\n"
    );
    let _ = writeln!(
        md,
        "| mode | lines × spacing | `--progress-interval-ms` | frames | lines seen | p50 ms | p90 ms | p99 ms | max ms | p50 < 5, p99 < 20 |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let s = r.stats;
        let isolated = r.spacing_ms > r.interval_ms;
        let target = if isolated {
            verdict(s.p50 < 5.0 && s.p99 < 20.0)
        } else {
            "n/a (not isolated)"
        };
        let _ = writeln!(
            md,
            "| {} | {} × {} ms | {} | {} | {}/{} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            r.mode,
            r.lines,
            r.spacing_ms,
            r.interval_ms,
            r.frames,
            r.seen,
            r.lines,
            s.p50,
            s.p90,
            s.p99,
            s.max,
            target
        );
    }
    let _ = writeln!(
        md,
        "\nA line is isolated when it comes more than `--progress-interval-ms` after the \
         previous frame; a line that comes sooner waits for the interval to run out (at most \
         one frame per interval), which is what the last row of each mode shows.\n"
    );
    Ok(())
}
