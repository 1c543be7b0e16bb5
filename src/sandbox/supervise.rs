//! The launcher as Stata's supervisor (Linux): it forks Stata into a session of its own, stays
//! as the child subreaper of Stata's whole tree, and stops every descendant when Stata ends,
//! when told to stop, or when the server that started it dies (by `kill -9` too).

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use nix::libc;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, killpg, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid, setsid};

use super::plan::Plan;

/// How long stopping the tree may take before the supervisor gives up on a process that
/// will not die (one stuck in the kernel): SIGKILL normally takes effect in microseconds.
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// Runs `program` supervised (confined by `plan` when given); returns the exit code to end
/// with, after mirroring a death by signal on itself.
pub(super) fn supervise(
    plan: Option<&Plan>,
    server: Option<i32>,
    program: &OsString,
    args: &[OsString],
) -> i32 {
    // SAFETY: prctl with these constants only sets a flag on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // The server's death is seen through a pidfd; if it is already gone, nothing starts.
    let server_fd = match server {
        Some(pid) => match pidfd(pid) {
            Some(fd) if getppid().as_raw() == pid => Some(fd),
            _ => {
                eprintln!(
                    "stata-mcp: the server that asked for this run has stopped; Stata was not started"
                );
                return 125;
            }
        },
        None => None,
    };
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        mask.add(s);
    }
    let mut old = SigSet::empty();
    if let Err(e) = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old)) {
        eprintln!("stata-mcp: could not set up the supervisor: {e}");
        return 126;
    }
    let signals = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("stata-mcp: could not set up the supervisor: {e}");
            return 126;
        }
    };
    let me = getpid();
    // SAFETY: the launcher is single-threaded (it runs before any thread starts), so the
    // child may allocate and call anything before it execs.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            start_stata(me, plan, program, args)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("stata-mcp: could not start Stata: {e}");
            return 126;
        }
    };
    // The supervisor keeps no pipe of Stata's open: Stata's end of input and output is its own.
    detach_stdio();
    let mut tree = Tree {
        root: me,
        stata: child,
        status: None,
    };
    tree.watch(&signals, server_fd.as_ref());
    tree.stop();
    mirror(tree.status)
}

/// The forked child: a session of its own (no controlling terminal), killed if the
/// supervisor dies, confined, then Stata.
fn start_stata(supervisor: Pid, plan: Option<&Plan>, program: &OsString, args: &[OsString]) -> ! {
    let _ = setsid();
    // SAFETY: prctl with these constants only sets this process's parent-death signal.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if getppid() != supervisor {
        exit_now(125);
    }
    if let Some(plan) = plan
        && let Err(e) = super::confine::apply(plan)
    {
        eprintln!("stata-mcp: {e}");
        exit_now(126);
    }
    let Ok(prog) = CString::new(program.as_bytes()) else {
        exit_now(127);
    };
    let argv: Vec<CString> = std::iter::once(prog.clone())
        .chain(args.iter().filter_map(|a| CString::new(a.as_bytes()).ok()))
        .collect();
    let err = nix::unistd::execv(&prog, &argv).err();
    eprintln!(
        "stata-mcp: could not start {}: {}",
        program.to_string_lossy(),
        err.map_or_else(String::new, |e| e.desc().to_owned())
    );
    exit_now(127)
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the forked child without running the parent's atexit handlers.
    unsafe { libc::_exit(code) }
}

/// Stata's tree as the supervisor sees it: itself at the root, Stata, and how Stata ended.
struct Tree {
    root: Pid,
    stata: Pid,
    status: Option<WaitStatus>,
}

impl Tree {
    /// Waits for Stata to end, passing a break on to it and stopping the tree when told to
    /// or when the server dies.
    fn watch(&mut self, signals: &SignalFd, server: Option<&OwnedFd>) {
        while self.status.is_none() {
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            if let Some(fd) = server {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            let _ = poll(&mut fds, PollTimeout::NONE);
            let mut stop = fds
                .get(1)
                .and_then(PollFd::revents)
                .is_some_and(|r| !r.is_empty());
            while let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    // Stata's break key: to its whole process group.
                    Ok(Signal::SIGINT) => {
                        let _ = killpg(self.stata, Signal::SIGINT);
                    }
                    Ok(Signal::SIGCHLD) | Err(_) => {}
                    Ok(_) => stop = true,
                }
            }
            if stop {
                self.stop();
            }
            self.reap();
        }
    }

    /// Reaps every child that has ended (orphans of the tree come to the supervisor),
    /// keeping Stata's own status.
    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    if status.pid() == Some(self.stata) {
                        self.status = Some(status);
                    }
                }
            }
        }
    }

    /// Kills every descendant (those that called `setsid` included: as the subreaper, the
    /// supervisor inherits every orphan of the tree) until none is left.
    fn stop(&mut self) {
        let start = Instant::now();
        while start.elapsed() < STOP_LIMIT {
            let alive = super::proctree::descendants(self.root.as_raw());
            if alive.is_empty() {
                // The last ones killed may have just died: their zombies are ours to reap.
                self.reap();
                return;
            }
            for pid in alive {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            self.reap();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A pidfd for `pid`, readable once that process has exited.
fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the descriptor was just returned to us and is owned by no one else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Points the supervisor's stdin and stdout at /dev/null (stderr stays, for its messages).
fn detach_stdio() {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto the standard descriptors of this single-threaded process.
        unsafe {
            libc::dup2(null.as_raw_fd(), 0);
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
}

/// The supervisor ends as Stata did: the same exit code, or the same signal.
fn mirror(status: Option<WaitStatus>) -> i32 {
    match status {
        Some(WaitStatus::Exited(_, code)) => code,
        Some(WaitStatus::Signaled(_, sig, _)) => {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: plain system calls on this process: no core file, default action, raise.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                libc::signal(sig as i32, libc::SIG_DFL);
            }
            let mut set = SigSet::empty();
            set.add(sig);
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
            let _ = kill(getpid(), sig);
            128 + sig as i32
        }
        _ => 1,
    }
}
