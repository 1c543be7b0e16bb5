//! 3. Cold start and idle memory of this server.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::build::*;
use crate::client::*;
use crate::peers::*;
use crate::stats::*;

pub(crate) struct ColdStart {
    pub(crate) start: Stats,
    pub(crate) rss_kb: Stats,
    pub(crate) hwm_kb: Stats,
}

pub(crate) fn cold_start(bins: &Binaries, runs: usize) -> Result<ColdStart> {
    let fake = FakeStata::new(&bins.double)?;
    let (mut starts, mut rss, mut hwm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut server = Server::spawn(fake.server_command(&bins.server, &[]))?;
        let reply = server.initialize()?;
        starts.push(ms(reply.at - t0));
        // Let it settle into idle before reading its memory.
        std::thread::sleep(Duration::from_millis(100));
        rss.push(proc_status_kb(server.pid(), "VmRSS")? as f64);
        hwm.push(proc_status_kb(server.pid(), "VmHWM")? as f64);
        server.shutdown();
    }
    Ok(ColdStart {
        start: stats(starts),
        rss_kb: stats(rss),
        hwm_kb: stats(hwm),
    })
}

pub(crate) fn cold_start_section(bins: &Binaries, python: bool, md: &mut String) -> Result<()> {
    let ours = cold_start(bins, 20)?;
    let py = if python {
        python_comparison()
    } else {
        PyReport::skipped("skipped (`--no-python`)")
    };
    let _ = writeln!(md, "### 3. Cold start and idle memory\n");
    let _ = writeln!(
        md,
        "Cold start: from spawning the server to reading its `initialize` response. Idle \
         memory: VmRSS from /proc/<pid>/status 100 ms after `initialize` (session mode, \
         Stata not started yet). Targets: cold start < 10 ms, idle memory < 10 MB.\n"
    );
    let _ = writeln!(
        md,
        "| server | runs | cold start p50 ms | p90 ms | max ms | idle VmRSS MiB (p50) | VmHWM MiB (p50) | targets |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    let s = ours.start;
    let _ = writeln!(
        md,
        "| stata-mcp (this) | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | start {}, memory {} |",
        s.n,
        s.p50,
        s.p90,
        s.max,
        ours.rss_kb.p50 / 1024.0,
        ours.hwm_kb.p50 / 1024.0,
        verdict(s.p50 < 10.0),
        verdict(ours.rss_kb.p50 / 1024.0 < 10.0),
    );
    for row in &py.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {:.1} | — |",
            row.what,
            row.time.n,
            row.time.p50,
            row.time.p90,
            row.time.max,
            row.rss_kb.map_or("— (never idle)".to_owned(), |k| format!(
                "{:.1}",
                k / 1024.0
            )),
            row.peak_kb / 1024.0,
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "Python `mcp-stata` (PyPI): {}\n", py.summary);
    for n in &py.notes {
        let _ = writeln!(md, "- {n}");
    }
    if !py.notes.is_empty() {
        let _ = writeln!(md);
    }
    for row in &py.rows {
        let _ = writeln!(
            md,
            "- Ratio for {}: time {:.0}× our cold start, peak memory {:.0}× our idle VmRSS.",
            row.what,
            row.time.p50 / ours.start.p50,
            row.peak_kb / ours.rss_kb.p50,
        );
    }
    if !py.rows.is_empty() {
        let _ = writeln!(md);
    }
    Ok(())
}
