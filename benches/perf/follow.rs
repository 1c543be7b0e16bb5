//! 5. Following the log: notifications beside polling, measured in the same run.

use std::fmt::Write as _;

use anyhow::Result;

use crate::flood::flood_run;
use crate::latency::{idle_cpu, latency_run};
use crate::*;

/// Seconds of silence measured for the CPU a silent run costs.
const SILENT_SECS: u64 = 60;

pub(crate) fn follow_section(bins: &Binaries, md: &mut String) -> Result<()> {
    let _ = writeln!(md, "### 5. Following the log: notifications and polling\n");
    let _ = writeln!(
        md,
        "The same measurements with `--follow auto` (inotify, with a read every 5 s in case an \
         event is missed) and `--follow poll` (a read every 2 ms), one after the other in this \
         run. Latency: isolated lines as in section 1 (200 × 120 ms). Silent run: server CPU \
         during `sleep {}000` in batch mode. Flood: as in section 4. Targets with \
         notifications: p50 < 0.3 ms, p99 < 1 ms, silent CPU < 30 ms (0.05% of a core); the \
         flood no worse than polling.\n",
        SILENT_SECS
    );
    let _ = writeln!(
        md,
        "| `--follow` | mode | latency p50 / p99 ms | silent {SILENT_SECS} s: server CPU | flood: CPU per 100 MiB, peak RSS |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for follow in ["auto", "poll"] {
        let batch = latency_run(bins, "batch", 200, 120, DEFAULT_INTERVAL_MS, follow)?;
        let session = latency_run(bins, "session", 200, 120, DEFAULT_INTERVAL_MS, follow)?;
        let (cpu, wall) = idle_cpu(bins, follow, SILENT_SECS)?;
        let flood = flood_run(bins, follow)?;
        for (i, r) in [batch, session].iter().enumerate() {
            let (idle, flood_text) = if i == 0 {
                (
                    format!(
                        "{:.0} ms in {wall:.1} s ({:.3}% of a core)",
                        cpu * 1000.0,
                        100.0 * cpu / wall
                    ),
                    format!(
                        "{:.2} s, {:.1} MiB",
                        flood.cpu_per_100_mib(),
                        flood.peak_rss_mib
                    ),
                )
            } else {
                ("(batch only)".into(), "(batch only)".into())
            };
            let _ = writeln!(
                md,
                "| {follow} | {} | {:.2} / {:.2} ({}/{} lines) | {idle} | {flood_text} |",
                r.mode, r.stats.p50, r.stats.p99, r.seen, r.lines
            );
        }
    }
    let _ = writeln!(
        md,
        "\nCPU is read from /proc ticks (10 ms resolution). Logs on network file systems (NFS, \
         SMB, Lustre, GPFS, BeeGFS, CephFS, FUSE) are always polled: writes from other machines \
         raise no event here.\n"
    );
    Ok(())
}
