//! The process's stdout as an async stream: a pipe (as every client starts us) is written
//! through the reactor, so a progress frame goes out with no hand-off to a blocking thread;
//! anything else (a terminal, a file) through tokio's blocking stdout.

use tokio::io::AsyncWrite;

/// Where JSON-RPC goes out.
pub fn stdout() -> Box<dyn AsyncWrite + Send + Unpin> {
    #[cfg(unix)]
    if let Some(pipe) = stdout_pipe() {
        return Box::new(pipe);
    }
    Box::new(tokio::io::stdout())
}

/// Stdout as a non-blocking pipe, when it is one.
#[cfg(unix)]
fn stdout_pipe() -> Option<tokio::net::unix::pipe::Sender> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    // Refuses anything but a FIFO; sets O_NONBLOCK, which only this process's writer uses
    // (logs go to stderr, and Stata gets pipes of its own).
    match tokio::net::unix::pipe::Sender::from_owned_fd(fd) {
        Ok(pipe) => Some(pipe),
        Err(e) => {
            tracing::debug!("stdout is not a pipe ({e}); writing it through a blocking thread");
            None
        }
    }
}
