//! 3b. The same for the Python mcp-stata, installed into a throwaway venv.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};

use crate::client::*;
use crate::stats::*;

/// One measured way of starting the Python server (or part of it).
pub(crate) struct PyRow {
    pub(crate) what: String,
    pub(crate) time: Stats,
    /// VmRSS once it answered `initialize`, when it did.
    pub(crate) rss_kb: Option<f64>,
    /// Peak RSS over its life (ru_maxrss from wait4), p50 over the runs.
    pub(crate) peak_kb: f64,
}

pub(crate) struct PyReport {
    pub(crate) summary: String,
    pub(crate) notes: Vec<String>,
    pub(crate) rows: Vec<PyRow>,
}

impl PyReport {
    pub(crate) fn skipped(why: &str) -> Self {
        Self {
            summary: why.to_owned(),
            notes: Vec::new(),
            rows: Vec::new(),
        }
    }
}

/// Installs `mcp-stata` into a throwaway venv and measures how fast it starts, or how far
/// it gets without Stata. Never fails the benchmark: what went wrong goes into the report.
pub(crate) fn python_comparison() -> PyReport {
    match python_comparison_inner() {
        Ok(r) => r,
        Err(e) => PyReport::skipped(&format!("not measured: {e:#}")),
    }
}

pub(crate) fn python_comparison_inner() -> Result<PyReport> {
    let dir = tempfile::Builder::new()
        .prefix("stata-mcp-perf-py")
        .tempdir()
        .context("could not create a temp dir")?;
    let venv = dir.path().join("venv");
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(Stdio::null())
        .status()
        .context("python3 is not available")?;
    ensure!(status.success(), "`python3 -m venv` failed ({status})");
    let py = venv.join("bin/python");
    let mut notes = Vec::new();

    let t0 = Instant::now();
    pip_install(&py, &["mcp-stata"])
        .context("`pip install mcp-stata` failed (no network?); only our numbers are reported")?;
    notes.push(format!(
        "`pip install mcp-stata` into a fresh venv took {:.0} s.",
        t0.elapsed().as_secs_f64()
    ));
    let (version, entry) = mcp_stata_entry_point(&venv)?;
    let exe = venv.join("bin/mcp-stata");
    notes.push(format!(
        "mcp-stata {version}, {}; launched as `{}` with no Stata on the machine.",
        python_package_versions(&py, &["mcp", "pandas", "numpy"]),
        entry
    ));

    let mut first = launch(&exe, Duration::from_secs(60))?;
    if first.answered.is_none() && mentions_mcp2(&first.stderr_tail) {
        notes.push(format!(
            "As installed, it does not start: `{}`. Pinning `mcp<2` (as that message advises) \
             and measuring again.",
            first.stderr_tail.lines().last().unwrap_or_default().trim()
        ));
        pip_install(&py, &["mcp<2"]).context("`pip install \"mcp<2\"` failed")?;
        notes.push(format!(
            "Measured again with {} pinned.",
            python_package_versions(&py, &["mcp"])
        ));
        first = launch(&exe, Duration::from_secs(60))?;
    }
    let mut launches = vec![first];
    for _ in 0..4 {
        launches.push(launch(&exe, Duration::from_secs(60))?);
    }
    let mut rows = Vec::new();
    let answered: Vec<&Launch> = launches.iter().filter(|l| l.answered.is_some()).collect();
    if answered.len() == launches.len() {
        rows.push(PyRow {
            what: "mcp-stata: spawn → `initialize` response".into(),
            time: stats(answered.iter().filter_map(|l| l.answered).map(ms).collect()),
            rss_kb: Some(stats(launches.iter().filter_map(|l| l.rss_kb).collect()).p50),
            peak_kb: stats(launches.iter().map(|l| l.peak_kb).collect()).p50,
        });
        notes.push("It answered `initialize` without Stata.".into());
    } else {
        let last = launches
            .last()
            .map(|l| {
                l.stderr_tail
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        let exits: Vec<String> = launches.iter().map(|l| l.ended.clone()).collect();
        rows.push(PyRow {
            what: "mcp-stata: spawn → gives up (never answers)".into(),
            time: stats(launches.iter().map(|l| ms(l.elapsed)).collect()),
            rss_kb: None,
            peak_kb: stats(launches.iter().map(|l| l.peak_kb).collect()).p50,
        });
        notes.push(format!(
            "It refuses to start without Stata: it starts its Stata worker before serving MCP, \
             so `initialize` is never answered ({}); last stderr line: `{last}`. The time shown \
             is how long it takes to get that far.",
            exits.join(", ")
        ));
    }
    // A floor for any launch of it: Python importing its server module.
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let child = Command::new(&py)
            .args(["-c", "import mcp_stata.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("running python")?;
        let (_, ru) = wait4_until(child.id(), Instant::now() + Duration::from_secs(60))?
            .ok_or_else(|| anyhow!("importing mcp_stata.server took over 60 s"))?;
        times.push(ms(t0.elapsed()));
        peaks.push(ru.ru_maxrss as f64);
    }
    rows.push(PyRow {
        what: "floor: `python -c \"import mcp_stata.server\"`".into(),
        time: stats(times),
        rss_kb: None,
        peak_kb: stats(peaks).p50,
    });
    Ok(PyReport {
        summary: format!("{} launches measured.", launches.len()),
        notes,
        rows,
    })
}

pub(crate) fn mentions_mcp2(stderr: &str) -> bool {
    stderr.contains("mcp.server.fastmcp") || stderr.contains("mcp<2")
}

/// pip with few retries, so an offline machine fails in seconds rather than minutes.
pub(crate) fn pip_install(py: &Path, what: &[&str]) -> Result<()> {
    let mut child = Command::new(py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--retries",
            "1",
            "--timeout",
            "20",
        ])
        .args(what)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running pip")?;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().context("waiting for pip")?;
    ensure!(
        status.success(),
        "pip exited with {status}: {}",
        err.lines().last().unwrap_or_default()
    );
    Ok(())
}

/// Reads the installed package's `console_scripts` entry for `mcp-stata` and its version.
pub(crate) fn mcp_stata_entry_point(venv: &Path) -> Result<(String, String)> {
    let lib = venv.join("lib");
    for py in fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
        let site = py?.path().join("site-packages");
        let Ok(entries) = fs::read_dir(&site) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(version) = name
                .strip_prefix("mcp_stata-")
                .and_then(|n| n.strip_suffix(".dist-info"))
            else {
                continue;
            };
            let eps = fs::read_to_string(e.path().join("entry_points.txt"))
                .context("mcp-stata has no entry_points.txt")?;
            let entry = eps
                .lines()
                .find(|l| l.trim_start().starts_with("mcp-stata"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .ok_or_else(|| anyhow!("no mcp-stata console script"))?;
            return Ok((version.to_owned(), format!("mcp-stata ({entry})")));
        }
    }
    bail!("mcp-stata's dist-info was not found in {}", lib.display())
}

pub(crate) fn python_package_versions(py: &Path, names: &[&str]) -> String {
    let code =
        format!("import importlib.metadata as m\nfor n in {names:?}:\n    print(n, m.version(n))");
    Command::new(py)
        .args(["-c", &code])
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub(crate) struct Launch {
    pub(crate) answered: Option<Duration>,
    pub(crate) elapsed: Duration,
    pub(crate) rss_kb: Option<f64>,
    pub(crate) peak_kb: f64,
    pub(crate) ended: String,
    pub(crate) stderr_tail: String,
}

/// Starts the Python server in its own process group, sends `initialize`, and waits for
/// an answer or for it to exit. Its peak RSS comes from wait4 once it is gone.
pub(crate) fn launch(exe: &Path, timeout: Duration) -> Result<Launch> {
    let err_file = tempfile::NamedTempFile::new().context("temp file for stderr")?;
    let t0 = Instant::now();
    let mut cmd = Command::new(exe);
    cmd.process_group(0)
        .env_remove("STATA_PATH")
        .stderr(err_file.reopen().context("reopening the stderr file")?);
    let mut server = Server::spawn(cmd)?;
    let pid = server.pid();
    server.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "perf", "version": "0"}}),
    )?;
    let deadline = t0 + timeout;
    let mut answered = None;
    let mut rss_kb = None;
    let mut exited = None;
    while Instant::now() < deadline {
        match server.rx.recv_timeout(Duration::from_millis(2)) {
            Ok(line) if is_response_to(&line.text, 1) => {
                answered = Some(line.at - t0);
                rss_kb = proc_status_kb(pid, "VmRSS").ok().map(|k| k as f64);
                break;
            }
            Ok(_) | Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
        }
        if let Some(done) = wait4_until(pid, Instant::now())? {
            exited = Some((t0.elapsed(), done));
            break;
        }
    }
    let elapsed = t0.elapsed();
    let (ended, ru) = match exited {
        Some((_, (status, ru))) => (describe_wait_status(status), ru),
        None => {
            // Answered, or still trying at the deadline: stop it and its helpers.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let (_, ru) = wait4_until(pid, Instant::now() + Duration::from_secs(10))?
                .ok_or_else(|| anyhow!("mcp-stata did not die after SIGKILL"))?;
            let ended = if answered.is_some() {
                "answered".to_owned()
            } else {
                format!("no answer in {timeout:?}")
            };
            (ended, ru)
        }
    };
    // Already reaped by wait4: dropping it finds nothing left to stop.
    drop(server);
    let stderr_tail = fs::read_to_string(err_file.path()).unwrap_or_default();
    let stderr_tail = stderr_tail
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Launch {
        answered,
        elapsed: exited.map_or(elapsed, |(t, _)| t),
        rss_kb,
        peak_kb: ru.ru_maxrss as f64,
        ended,
        stderr_tail,
    })
}

pub(crate) fn is_response_to(line: &str, id: i64) -> bool {
    serde_json::from_str::<Value>(line)
        .is_ok_and(|v| v.get("id") == Some(&json!(id)) && v.get("method").is_none())
}

pub(crate) fn describe_wait_status(status: i32) -> String {
    if nix::libc::WIFEXITED(status) {
        format!("exit code {}", nix::libc::WEXITSTATUS(status))
    } else if nix::libc::WIFSIGNALED(status) {
        format!("signal {}", nix::libc::WTERMSIG(status))
    } else {
        format!("wait status {status}")
    }
}

/// Reaps `pid` if it has exited by `deadline` (polling), with its resource usage. Used
/// instead of `Child::wait` because only wait4 reports the peak RSS of a finished process.
pub(crate) fn wait4_until(pid: u32, deadline: Instant) -> Result<Option<(i32, nix::libc::rusage)>> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it and `status` for our own child.
        let mut ru: nix::libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { nix::libc::wait4(pid as i32, &mut status, nix::libc::WNOHANG, &mut ru) };
        if r == pid as i32 {
            return Ok(Some((status, ru)));
        }
        if r < 0 {
            return Err(std::io::Error::last_os_error()).context("wait4");
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
