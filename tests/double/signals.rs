//! SIGINT handling: a flag set by the handler and polled by long-running commands.
//!
//! Real Stata reacts to SIGINT by abandoning the running command with `--Break--` /
//! `r(1);`. An async-signal-safe handler may only touch atomics, so it just raises a
//! flag; `sleep`, loops and `_double burst` check it every few milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};

static BREAK_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: nix::libc::c_int) {
    BREAK_REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT handler. SA_RESTART keeps blocking reads and writes going, as
/// Stata's own reads of stdin are not disturbed by an idle interrupt.
pub(crate) fn install() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    if let Err(e) = unsafe { sigaction(Signal::SIGINT, &action) } {
        eprintln!("stata-double: cannot install SIGINT handler: {e}");
    }
}

/// `_double ignore_sigint`: from now on SIGINT does nothing at all.
pub(crate) fn ignore() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_IGN installs no Rust code as a handler.
    if let Err(e) = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) } {
        eprintln!("stata-double: cannot ignore SIGINT: {e}");
    }
}

/// True once if a break was requested since the last call (the request is consumed).
pub(crate) fn take_break() -> bool {
    BREAK_REQUESTED.swap(false, Ordering::SeqCst)
}

/// Drops a pending request without acting on it (an interrupt at an idle prompt).
pub(crate) fn clear() {
    BREAK_REQUESTED.store(false, Ordering::SeqCst);
}

/// True if a break is pending, without consuming it.
pub(crate) fn pending() -> bool {
    BREAK_REQUESTED.load(Ordering::SeqCst)
}

/// `_double crash`: dies the way an OOM kill or `kill -9` would, with no cleanup.
pub(crate) fn crash() -> ! {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let _ = kill(Pid::this(), Signal::SIGKILL);
    // SIGKILL cannot be caught; if kill() itself failed, abort is the next best thing.
    std::process::abort()
}
