//! Builds the release server and double, and the fake Stata install the runs use.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, ensure};

/// Builds the release server and double; cargo makes this a no-op when they are fresh.
pub(crate) fn build_binaries(root: &Path) -> Result<()> {
    // `cargo bench` tells us which cargo is running it; a plain `cargo` is the fallback.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--bin",
            "stata-mcp",
            "--example",
            "stata-double",
        ])
        .status()
        .with_context(|| format!("could not run {}", cargo.to_string_lossy()))?;
    ensure!(
        status.success(),
        "`cargo build --release --bin stata-mcp --example stata-double` failed ({status})"
    );
    Ok(())
}

pub(crate) struct Binaries {
    pub(crate) server: PathBuf,
    pub(crate) double: PathBuf,
}

impl Binaries {
    /// The bench runs from target/release/deps/, so the binaries are two folders up.
    pub(crate) fn find() -> Result<Self> {
        let exe = std::env::current_exe().context("where is this benchmark?")?;
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| anyhow!("unexpected benchmark location {}", exe.display()))?;
        let b = Self {
            server: profile.join("stata-mcp"),
            double: profile.join("examples").join("stata-double"),
        };
        for p in [&b.server, &b.double] {
            ensure!(
                p.exists(),
                "{} is missing: run `cargo build --release --bin stata-mcp --example stata-double`",
                p.display()
            );
        }
        Ok(b)
    }
}

/// A temp dir holding `bin/stata-mp` (a link to the double), a work dir and a log dir.
pub(crate) struct FakeStata {
    pub(crate) dir: tempfile::TempDir,
}

impl FakeStata {
    pub(crate) fn new(double: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("stata-mcp-perf")
            .tempdir()
            .context("could not create a temp dir")?;
        fs::create_dir_all(dir.path().join("bin")).context("mkdir bin")?;
        fs::create_dir_all(dir.path().join("work")).context("mkdir work")?;
        std::os::unix::fs::symlink(double, dir.path().join("bin/stata-mp"))
            .context("could not link the double as stata-mp")?;
        Ok(Self { dir })
    }

    pub(crate) fn server_command(&self, server: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(server);
        cmd.arg("--stata-path")
            .arg(self.dir.path().join("bin/stata-mp"))
            .arg("--log-dir")
            .arg(self.dir.path().join("logs"))
            .arg("--workdir")
            .arg(self.dir.path().join("work"))
            // The benchmark reads results as a program does (status, log path), and waits
            // for every run however long (no client limit to stay under).
            .args([
                "--structured-content",
                "always",
                "--auto-background-secs",
                "0",
            ])
            .args(extra)
            .env("RUST_LOG", "warn");
        // The user's own settings must not change what is measured.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("STATA_MCP_") || k == "STATA_PATH" {
                cmd.env_remove(&*k);
            }
        }
        cmd
    }
}
