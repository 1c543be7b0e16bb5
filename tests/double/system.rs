//! What Stata's plugins, Python or Mata could do to the system, as `_double` commands: start a
//! program without a shell, signal a process, open sockets of each kind, type into a terminal,
//! leave a process behind in a session of its own. Tests of the sandbox use them.

use std::time::Duration;

use crate::error::{R, fail};
use crate::interp::{Interp, split_word, unquote};

/// `_double exec|signal|udp|unix|abstract|listen|tiocsti|daemon ...`; `None` if `sub` is
/// none of these.
pub(crate) fn probe(it: &mut Interp, sub: &str, tail: &str) -> Option<R> {
    let tail = tail.trim();
    Some(match sub {
        // A program started directly (execve), as a plugin or Python's subprocess would.
        "exec" => {
            let words: Vec<&str> = tail.split_whitespace().collect();
            let Some((prog, args)) = words.split_first() else {
                return Some(fail(198, "invalid syntax"));
            };
            match std::process::Command::new(prog).args(args).output() {
                Ok(o) => {
                    crate::commands::show_output(it, &o);
                    Ok(())
                }
                Err(e) => fail(693, format!("could not start {prog}: {e}")),
            }
        }
        "signal" => {
            let (pid, sig) = split_word(tail);
            let sig = match sig.trim() {
                "" | "KILL" => nix::sys::signal::Signal::SIGKILL,
                "TERM" => nix::sys::signal::Signal::SIGTERM,
                "INT" => nix::sys::signal::Signal::SIGINT,
                _ => return Some(fail(198, "invalid syntax")),
            };
            let Ok(pid) = pid.parse::<i32>() else {
                return Some(fail(198, "invalid syntax"));
            };
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
                Ok(()) => {
                    it.out.line(&format!("signalled {pid}"));
                    Ok(())
                }
                Err(e) => fail(1, format!("could not signal {pid}: {e}")),
            }
        }
        "udp" => said(
            it,
            std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.send_to(b"x", tail)),
            &format!("sent a datagram to {tail}"),
        ),
        "listen" => said(
            it,
            std::net::TcpListener::bind(tail).map(drop),
            &format!("listening on {tail}"),
        ),
        "unix" => said(
            it,
            std::os::unix::net::UnixStream::connect(unquote(tail)).map(drop),
            &format!("connected to {tail}"),
        ),
        "abstract" => said(it, connect_abstract(tail), &format!("connected to @{tail}")),
        "tiocsti" => said(it, type_into(unquote(tail)), &format!("typed into {tail}")),
        "daemon" => {
            let secs = tail.parse::<u64>().unwrap_or(300);
            match daemon(secs) {
                Ok(pid) => {
                    it.out.line(&format!("daemon {pid}"));
                    Ok(())
                }
                Err(e) => fail(1, format!("could not fork: {e}")),
            }
        }
        _ => return None,
    })
}

fn said<T>(it: &mut Interp, r: std::io::Result<T>, ok: &str) -> R {
    match r {
        Ok(_) => {
            it.out.line(ok);
            Ok(())
        }
        Err(e) => fail(1, format!("refused: {e}")),
    }
}

#[cfg(target_os = "linux")]
fn connect_abstract(name: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    std::os::unix::net::UnixStream::connect_addr(&addr).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("no abstract sockets here"))
}

/// Pushes one character into the input of the terminal at `path` (TIOCSTI).
fn type_into(path: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path)?;
    let c: u8 = b'#';
    // SAFETY: TIOCSTI reads one byte from the pointer given.
    let r = unsafe { nix::libc::ioctl(f.as_raw_fd(), nix::libc::TIOCSTI, &c as *const u8) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Forks a child that leaves Stata's session (`setsid`) and sleeps `secs`: what a program
/// that wants to outlive its run does. Returns its pid.
fn daemon(secs: u64) -> nix::Result<i32> {
    // SAFETY: the child only calls setsid, sleeps and exits.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let _ = nix::unistd::setsid();
            std::thread::sleep(Duration::from_secs(secs));
            // SAFETY: ends the forked child without running the parent's handlers.
            unsafe { nix::libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw()),
    }
}
