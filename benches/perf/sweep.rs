//! 6. Following a sweep: the server's CPU and memory while N batch tasks run at once, each
//!    printing a line a second, with a caller waiting on the job and getting every line as
//!    progress; N from 10 to 200.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::client::*;
use crate::stats::*;
use crate::*;

/// The sweep sizes measured.
const SIZES: [usize; 4] = [10, 50, 100, 200];
/// How long the server is watched once every task runs.
const WINDOW: Duration = Duration::from_secs(20);
/// Targets at 200 tasks.
const CPU_TARGET_PCT: f64 = 2.0;
const RSS_TARGET_MIB: f64 = 32.0;

/// A task: a line a second, for longer than the measurement.
const TASK: &str =
    "args n\nforvalues i = 1/90 {\n    display \"task `n' line `i'\"\n    sleep 1000\n}\n";

pub(crate) struct SweepRun {
    pub(crate) tasks: usize,
    /// Server CPU over the window, in % of one core.
    pub(crate) cpu_pct: f64,
    pub(crate) rss_mib: f64,
    pub(crate) peak_mib: f64,
    /// Task lines that reached the waiting caller as progress, per second.
    pub(crate) lines_per_s: f64,
    pub(crate) frames_per_s: f64,
}

/// Live processes whose program is `program` (the fake install's Stata).
fn running(program: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let p = e.path();
            let argv0 = std::fs::read(p.join("cmdline")).ok().and_then(|c| {
                c.split(|b| *b == 0)
                    .next()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
            });
            let zombie = std::fs::read_to_string(p.join("stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            });
            argv0.as_deref() == Some(&*program.to_string_lossy()) && !zombie
        })
        .count()
}

pub(crate) fn sweep_run(bins: &Binaries, tasks: usize) -> Result<SweepRun> {
    let fake = FakeStata::new(&bins.double)?;
    std::fs::write(fake.dir.path().join("work/task.do"), TASK).context("writing task.do")?;
    let stata = fake.dir.path().join("bin/stata-mp");
    let cap = tasks.to_string();
    let mut server = Server::spawn(
        fake.server_command(&bins.server, &["--mode", "batch", "--max-parallel", &cap]),
    )?;
    server.initialize()?;
    let pid = server.pid();
    let args: Vec<Value> = (0..tasks).map(|i| json!([i.to_string()])).collect();
    let id = server.request(
        "tools/call",
        json!({"name": "stata_sweep", "arguments": {"path": "task.do", "args": args, "max_parallel": tasks}}),
    )?;
    let reply = server.wait_response(id, Duration::from_secs(60))?;
    let Some(job) = reply
        .msg
        .pointer("/result/structuredContent/job_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        bail!("the sweep did not start: {}", reply.msg);
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while running(&stata) < tasks {
        if Instant::now() > deadline {
            bail!(
                "only {} of {tasks} tasks started within 2 min",
                running(&stata)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let start-up settle, then watch a caller wait on the job for the window.
    std::thread::sleep(Duration::from_secs(3));
    let cpu0 = proc_cpu_secs(pid)?;
    let t0 = Instant::now();
    let id = server.request(
        "tools/call",
        json!({"name": "stata_job", "arguments": {"job_id": job, "wait_s": WINDOW.as_secs()},
               "_meta": {"progressToken": "sweep"}}),
    )?;
    let reply = server.wait_response(id, WINDOW + Duration::from_secs(30))?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = proc_cpu_secs(pid)? - cpu0;
    let rss_mib = proc_status_kb(pid, "VmRSS")? as f64 / 1024.0;
    let peak_mib = proc_status_kb(pid, "VmHWM")? as f64 / 1024.0;
    let lines: usize = reply
        .frames
        .iter()
        .map(|f| f.message.lines().filter(|l| l.contains(" line ")).count())
        .sum();
    let still = running(&stata);
    if still < tasks {
        bail!("{} of {tasks} tasks ended during the window", tasks - still);
    }
    let cancel = server.request(
        "tools/call",
        json!({"name": "stata_job", "arguments": {"job_id": job, "cancel": true}}),
    )?;
    server.wait_response(cancel, Duration::from_secs(120))?;
    server.shutdown();
    Ok(SweepRun {
        tasks,
        cpu_pct: cpu / wall * 100.0,
        rss_mib,
        peak_mib,
        lines_per_s: lines as f64 / wall,
        frames_per_s: reply.frames.len() as f64 / wall,
    })
}

pub(crate) fn sweep_section(bins: &Binaries, md: &mut String) -> Result<()> {
    let mut runs = Vec::new();
    for n in SIZES {
        eprintln!("perf: sweep of {n} tasks");
        runs.push(sweep_run(bins, n)?);
    }
    let _ = writeln!(md, "### Following a sweep\n");
    let _ = writeln!(
        md,
        "`stata_sweep` of N tasks in batch mode (`--max-parallel N`), every task a double \
         printing `task <n> line <i>` once a second; once all N run, a caller waits {} s on \
         the job with a progress token. Server CPU = utime + stime of the server process over \
         that wait (not the doubles'), RSS = VmRSS after it, peak = VmHWM.\n",
        WINDOW.as_secs()
    );
    let _ = writeln!(
        md,
        "| tasks | server CPU (% of a core) | RSS (MiB) | peak RSS (MiB) | task lines to the caller / s | frames / s |\n|---:|---:|---:|---:|---:|---:|"
    );
    for r in &runs {
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.1} | {:.1} | {:.0} | {:.1} |",
            r.tasks, r.cpu_pct, r.rss_mib, r.peak_mib, r.lines_per_s, r.frames_per_s
        );
    }
    if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
        let _ = writeln!(
            md,
            "\nFrom {} to {} tasks: CPU × {:.1}, RSS + {:.1} MiB ({:.0} KiB per task). \
             Targets at {}: under {CPU_TARGET_PCT}% of a core ({}), under {RSS_TARGET_MIB} MiB ({}).\n",
            first.tasks,
            last.tasks,
            last.cpu_pct / first.cpu_pct.max(0.001),
            last.rss_mib - first.rss_mib,
            (last.rss_mib - first.rss_mib) * 1024.0 / (last.tasks - first.tasks).max(1) as f64,
            last.tasks,
            verdict(last.cpu_pct < CPU_TARGET_PCT),
            verdict(last.peak_mib < RSS_TARGET_MIB),
        );
    }
    Ok(())
}
