//! 2. Per-call overhead, batch and session.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;

use crate::build::*;
use crate::client::*;
use crate::stats::*;

pub(crate) fn per_call(bins: &Binaries, mode: &str, calls: usize) -> Result<Stats> {
    let fake = FakeStata::new(&bins.double)?;
    let mut server = Server::spawn(fake.server_command(&bins.server, &["--mode", mode]))?;
    server.initialize()?;
    for i in 0..5 {
        server.run_code("display 1", &format!("warm{i}"), Duration::from_secs(30))?;
    }
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls {
        let (sent, reply) =
            server.run_code("display 1", &format!("call{i}"), Duration::from_secs(30))?;
        times.push(ms(reply.at - sent));
    }
    server.shutdown();
    Ok(stats(times))
}

pub(crate) fn per_call_section(bins: &Binaries, md: &mut String) -> Result<()> {
    let session = per_call(bins, "session", 200)?;
    let batch = per_call(bins, "batch", 50)?;
    let _ = writeln!(md, "### 2. Per-call overhead\n");
    let _ = writeln!(
        md,
        "Wall time of a `stata_run_code` call running `display 1` (with a progress token), \
         from writing the request to reading the response, after 5 warm-up calls. The double \
         starts instantly; real Stata adds its own start-up (0.5–3 s) to every batch call. \
         Target (session): < 5 ms.\n"
    );
    let _ = writeln!(
        md,
        "| mode | calls | p50 ms | p90 ms | p99 ms | max ms | target |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (mode, s, target) in [
        ("session", session, verdict(session.p50 < 5.0)),
        ("batch (a process per call)", batch, "—"),
    ] {
        let _ = writeln!(
            md,
            "| {mode} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {target} |",
            s.n, s.p50, s.p90, s.p99, s.max
        );
    }
    let _ = writeln!(md);
    Ok(())
}
