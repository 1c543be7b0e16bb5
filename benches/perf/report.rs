//! The machine the numbers come from, and the document they are written to.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::*;

pub(crate) struct Machine {
    pub(crate) nproc: String,
    pub(crate) cpu: String,
    pub(crate) memory: String,
    pub(crate) os: String,
    pub(crate) rustc: String,
    pub(crate) date: String,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews the numbers.
pub(crate) fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    pub(crate) fn probe() -> Self {
        let cmd = |prog: &str, args: &[&str]| -> String {
            Command::new(prog)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_else(|| "unknown".into())
        };
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown".into(), |(_, v)| v.trim().to_owned());
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or("unknown".into(), |kb| {
                format!("{:.1} GiB", kb / 1024.0 / 1024.0)
            });
        let os_release = fs::read_to_string("/etc/os-release").unwrap_or_default();
        let distro = os_release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or("Linux".into(), |v| v.trim_matches('"').to_owned());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        Self {
            nproc: cmd("nproc", &[]),
            cpu,
            memory,
            os: format!("{distro}, kernel {}", kernel.trim()),
            rustc: cmd(&rustc, &["--version"]),
            date: cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            load_before: load_average(),
            load_after: String::new(),
        }
    }

    pub(crate) fn one_line(&self) -> String {
        format!(
            "{} cpus ({}), {}, {}, {}",
            self.nproc, self.cpu, self.memory, self.os, self.rustc
        )
    }

    pub(crate) fn write(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "Reproduce: `{COMMAND}` (builds the release server and double first; \
             `-- --no-python` skips the mcp-stata comparison, which needs the network).\n"
        );
        let _ = writeln!(md, "| machine | |\n|---|---|");
        let _ = writeln!(md, "| date | {} |", self.date);
        let _ = writeln!(md, "| `nproc` | {} |", self.nproc);
        let _ = writeln!(md, "| CPU | {} |", self.cpu);
        let _ = writeln!(md, "| memory | {} |", self.memory);
        let _ = writeln!(md, "| OS | {} |", self.os);
        let _ = writeln!(md, "| rustc | {} |", self.rustc);
        let _ = writeln!(
            md,
            "| load average (1/5/15 min) before / after | {} / {} |",
            self.load_before, self.load_after
        );
        let _ = writeln!(md);
    }
}

/// Replaces the generated part of the document, keeping the hand-written text around it;
/// a document without the markers gets the generated part appended.
pub(crate) fn write_doc(path: &Path, generated: &str, begin: &str, end: &str) -> Result<()> {
    let old = match fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "# Performance\n\n".to_owned(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let new = match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{}{}",
                &old[..b],
                generated.trim_end(),
                &old[e + end.len()..]
            )
        }
        _ => format!("{}\n{}", old.trim_end(), generated),
    };
    fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
