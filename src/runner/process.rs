//! Spawns Stata in its own process group, signals and kills the whole group, and reaps it.
//! On Linux the group's leader is this binary's launcher, which supervises Stata's tree: a
//! stop is a SIGTERM to it (it kills every descendant, and ends as Stata did), a break a
//! SIGINT it passes on.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// Every process group this server started and has not yet seen end, so that a
/// shutdown (stdin closed, SIGTERM) can kill them all, helpers of Stata-MP included.
fn live_groups() -> &'static Mutex<HashSet<u32>> {
    static GROUPS: OnceLock<Mutex<HashSet<u32>>> = OnceLock::new();
    GROUPS.get_or_init(|| Mutex::new(HashSet::new()))
}

fn groups() -> parking_lot::MutexGuard<'static, HashSet<u32>> {
    live_groups().lock()
}

/// Why every Stata is being stopped: said in the result of a run this cuts short, which
/// would otherwise look like Stata dying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shutdown {
    /// The client closed the server's stdin (it went away, or it piped its input and ended).
    ClientGone,
    /// A stop signal (Ctrl-C, SIGTERM, SIGHUP).
    Signal,
    /// A terminal command is done.
    Done,
}

impl Shutdown {
    /// Why a run stopped by this ended, in a sentence.
    pub(crate) fn explain(self) -> &'static str {
        match self {
            Shutdown::ClientGone => {
                "the server stopped Stata on purpose because its client closed the server's \
                 input (stdin): when the client goes, every Stata the server started is stopped. \
                 Piping a file of requests by hand? Keep the input open while a call runs: \
                 (cat calls.jsonl; cat) | stata-mcp"
            }
            Shutdown::Signal => {
                "the server stopped Stata on purpose because it was told to stop (a signal such \
                 as Ctrl-C or SIGTERM)"
            }
            Shutdown::Done => "the server stopped Stata as it exited",
        }
    }
}

/// Set once the server is shutting down (0: not): no new Stata may start after that.
static SHUTTING_DOWN: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Why the server is shutting down, once it is.
pub(crate) fn shutting_down() -> Option<Shutdown> {
    match SHUTTING_DOWN.load(std::sync::atomic::Ordering::SeqCst) {
        1 => Some(Shutdown::ClientGone),
        2 => Some(Shutdown::Signal),
        3 => Some(Shutdown::Done),
        _ => None,
    }
}

/// Kills every process group the server started, and refuses new ones. Called on shutdown;
/// the first reason given is the one kept.
pub(crate) fn kill_all_groups(why: Shutdown) {
    let code = match why {
        Shutdown::ClientGone => 1,
        Shutdown::Signal => 2,
        Shutdown::Done => 3,
    };
    let _ = SHUTTING_DOWN.compare_exchange(
        0,
        code,
        std::sync::atomic::Ordering::SeqCst,
        std::sync::atomic::Ordering::SeqCst,
    );
    let pgids: Vec<u32> = groups().drain().collect();
    for pgid in pgids {
        signal_group(pgid, Signal::Stop);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Stata's break: interrupts the running command.
    Interrupt,
    /// Ends Stata and everything it started.
    Stop,
    /// The last resort, for a supervisor that does not end on `Stop`.
    Kill,
}

/// Whether Stata runs under this binary's supervising launcher.
const SUPERVISED: bool = cfg!(target_os = "linux");
/// How long the supervisor gets to stop Stata's tree before it is killed itself.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

#[cfg(unix)]
fn signal_group(pgid: u32, sig: Signal) {
    use nix::sys::signal::{Signal as NixSignal, killpg};
    use nix::unistd::Pid;
    let s = match sig {
        Signal::Interrupt => NixSignal::SIGINT,
        // The supervisor stops the tree on SIGTERM; killing it instead would leave Stata's
        // descendants to init.
        Signal::Stop if SUPERVISED => NixSignal::SIGTERM,
        Signal::Stop | Signal::Kill => NixSignal::SIGKILL,
    };
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    // ESRCH (the group is already gone) is the expected race; nothing else can be done
    // about other errors, so they are only logged.
    if let Err(e) = killpg(Pid::from_raw(raw), s)
        && e != nix::errno::Errno::ESRCH
    {
        tracing::warn!(pgid, error = %e, "could not signal Stata's process group");
    }
}

#[cfg(windows)]
fn signal_group(pid: u32, sig: Signal) {
    // Windows has no process groups to signal and no console Stata to interrupt:
    // end the process tree.
    if sig != Signal::Interrupt {
        let _ = std::process::Command::new("taskkill")
            .args(["/F", "/T", "/PID", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// How to start Stata: whether its stdin is a pipe, and the sandbox it runs in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Launch<'a> {
    pub stdin: bool,
    /// The confinement this binary's launcher applies before it starts Stata.
    pub sandbox: Option<&'a crate::sandbox::Plan>,
    /// A private temporary folder (created if missing) for Stata and all it starts
    /// (`STATATMP`, `TMPDIR`), instead of the system's shared one.
    pub temp: Option<&'a Path>,
}

/// A running Stata process, leader of its own process group.
///
/// Dropping it kills the group, so no early return or panic can leave Stata running.
pub(crate) struct StataProcess {
    child: Child,
    pgid: u32,
    exited: Option<ExitStatus>,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

impl StataProcess {
    pub(crate) fn spawn<I, S>(
        program: &Path,
        args: I,
        cwd: &Path,
        pipes: Launch<'_>,
    ) -> io::Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        // Relative to the server's folder, not to the run's (where the launcher starts it).
        let absolute = std::path::absolute(program)?;
        let program = absolute.as_path();
        let args: Vec<std::ffi::OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut cmd = if SUPERVISED || pipes.sandbox.is_some() {
            let mut c = Command::new(this_binary()?);
            c.args(crate::sandbox::launcher_args(
                pipes.sandbox,
                std::process::id(),
                program,
                &args,
            ));
            c
        } else {
            let mut c = Command::new(program);
            c.args(&args);
            c
        };
        if let Some(temp) = pipes.temp {
            crate::runner::rundir::ensure_private_dir(temp)?;
            cmd.env("STATATMP", temp).env("TMPDIR", temp);
        }
        cmd.current_dir(cwd)
            .stdin(if pipes.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Belt and braces: if this handle is leaked somehow, tokio still kills the leader
            // (not the supervisor: killed, it could not stop the tree; `Drop` stops it).
            .kill_on_drop(!SUPERVISED);
        #[cfg(unix)]
        cmd.process_group(0);
        // Hold the registry while spawning so a shutdown cannot slip in between.
        let mut registry = groups();
        if shutting_down().is_some() {
            return Err(io::Error::other("the server is shutting down"));
        }
        let mut child = cmd.spawn()?;
        let pgid = child
            .id()
            .ok_or_else(|| io::Error::other("Stata exited before its process id could be read"))?;
        registry.insert(pgid);
        drop(registry);
        Ok(Self {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child,
            pgid,
            exited: None,
        })
    }

    pub(crate) fn pgid(&self) -> u32 {
        self.pgid
    }

    /// Sends SIGINT to the whole group: Stata's break key.
    pub(crate) fn interrupt(&self) {
        if self.exited.is_none() {
            signal_group(self.pgid, Signal::Interrupt);
        }
    }

    /// Stops Stata and everything it started, and reaps the leader.
    pub(crate) async fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        signal_group(self.pgid, Signal::Stop);
        if SUPERVISED {
            match tokio::time::timeout(STOP_GRACE, self.wait()).await {
                Ok(status) => return status,
                Err(_) => signal_group(self.pgid, Signal::Kill),
            }
        }
        self.wait().await
    }

    /// Waits for the leader to exit; then kills what is left of its group (helpers).
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let status = self.child.wait().await?;
        self.exited = Some(status);
        // Stata-MP may leave helper processes behind in the group.
        signal_group(self.pgid, Signal::Stop);
        groups().remove(&self.pgid);
        Ok(status)
    }

    /// Whether the leader has exited, without waiting.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.exited {
            return Ok(Some(status));
        }
        let status = self.child.try_wait()?;
        if let Some(s) = status {
            self.exited = Some(s);
            signal_group(self.pgid, Signal::Stop);
            groups().remove(&self.pgid);
        }
        Ok(status)
    }
}

impl Drop for StataProcess {
    fn drop(&mut self) {
        if self.exited.is_none() {
            signal_group(self.pgid, Signal::Stop);
            groups().remove(&self.pgid);
            // tokio reaps a dropped child in the background once it has exited.
        }
    }
}

/// This binary, to start as the launcher. On Linux `/proc/self/exe`, which still names the
/// running binary after an upgrade replaced (or removed) its file.
fn this_binary() -> io::Result<std::path::PathBuf> {
    if cfg!(target_os = "linux") {
        Ok(std::path::PathBuf::from("/proc/self/exe"))
    } else {
        std::env::current_exe()
    }
}

/// Describes how a process ended, for messages: "exit code 1", "killed by signal 9".
pub(crate) fn describe_exit(status: &ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => "unknown exit status".to_owned(),
    }
}

/// The resident memory of process `pid` and all it started (Stata under its supervisor), in
/// bytes, where the system tells (Linux).
pub(crate) fn process_memory(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let rss = |pid: i32| -> Option<u64> {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let kb = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()?;
            Some(kb * 1024)
        };
        let root = i32::try_from(pid).ok()?;
        let own = rss(root)?;
        Some(
            own + crate::sandbox::descendants(root)
                .into_iter()
                .filter_map(rss)
                .sum::<u64>(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}
