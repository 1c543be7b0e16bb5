//! A minimal MCP client over pipes that notes when each line arrived.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};

/// One line the server wrote, and when we read it (monotonic, and Unix time in ns to
/// compare with the double's stamps).
pub(crate) struct Line {
    pub(crate) at: Instant,
    pub(crate) wall_ns: i128,
    pub(crate) text: String,
}

pub(crate) struct Frame {
    pub(crate) at: Instant,
    pub(crate) wall_ns: i128,
    pub(crate) message: String,
}

pub(crate) struct Reply {
    pub(crate) msg: Value,
    pub(crate) at: Instant,
    pub(crate) frames: Vec<Frame>,
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) rx: Receiver<Line>,
    pub(crate) next_id: i64,
}

pub(crate) fn unix_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl Server {
    pub(crate) fn spawn(mut cmd: Command) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {:?}", cmd.get_program()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let (tx, rx) = channel();
        // A thread of its own, so a line's arrival time is not delayed by our bookkeeping.
        std::thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 16, stdout);
            loop {
                let mut text = String::new();
                match r.read_line(&mut text) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = Line {
                            at: Instant::now(),
                            wall_ns: unix_ns(),
                            text,
                        };
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stdin = child.stdin.take();
        Ok(Self {
            child,
            stdin,
            rx,
            next_id: 1,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn send(&mut self, v: &Value) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("stdin already closed"))?;
        let mut line = v.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .context("writing to the server's stdin")
    }

    pub(crate) fn request(&mut self, method: &str, params: Value) -> Result<i64> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        Ok(id)
    }

    /// Waits for the response to `id`, keeping the progress frames that came before it.
    pub(crate) fn wait_response(&mut self, id: i64, timeout: Duration) -> Result<Reply> {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.rx.recv_timeout(left) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => {
                    bail!("no response to request {id} within {timeout:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("the server closed its stdout before answering request {id}")
                }
            };
            let msg: Value = serde_json::from_str(&line.text)
                .with_context(|| format!("stdout carried a non-JSON line: {}", line.text))?;
            if msg.get("method").and_then(Value::as_str) == Some("notifications/progress") {
                frames.push(Frame {
                    at: line.at,
                    wall_ns: line.wall_ns,
                    message: msg
                        .pointer("/params/message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            } else if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return Ok(Reply {
                    msg,
                    at: line.at,
                    frames,
                });
            }
        }
    }

    pub(crate) fn initialize(&mut self) -> Result<Reply> {
        let id = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "perf", "version": "0"}}),
        )?;
        let reply = self.wait_response(id, Duration::from_secs(20))?;
        ensure!(
            reply.msg.get("result").is_some(),
            "initialize failed: {}",
            reply.msg
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(reply)
    }

    /// Runs `code` with `stata_run_code` (asking for progress, as Claude Code and Cursor
    /// do) and checks that it succeeded. Returns the reply and when the request went out.
    pub(crate) fn run_code(
        &mut self,
        code: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<(Instant, Reply)> {
        let sent = Instant::now();
        let id = self.request(
            "tools/call",
            json!({"name": "stata_run_code", "arguments": {"code": code},
                   "_meta": {"progressToken": token}}),
        )?;
        let reply = self.wait_response(id, timeout)?;
        let status = reply
            .msg
            .pointer("/result/structuredContent/status")
            .and_then(Value::as_str)
            .unwrap_or("?");
        ensure!(
            status == "ok",
            "`{code}` ended with status {status}: {}",
            reply.msg
        );
        Ok((sent, reply))
    }

    /// Closes stdin (the server then stops Stata and exits); kills it if it lingers.
    pub(crate) fn shutdown(mut self) {
        self.stop();
    }

    pub(crate) fn stop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}
