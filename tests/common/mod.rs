//! Test support: a fake Stata install backed by the project's double, and an MCP client
//! that drives the real `stata-mcp` binary over pipes, recording when each line arrives.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The shared specification beside the project (`../shared`), which holds the real Stata
/// logs some tests read; they are not copied into the project.
pub(crate) fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// Stops a test that reads `../shared`'s real logs when they are not there. Such tests are
/// `#[ignore]`d with that reason, and `tests/run.sh` runs them (`--ignored`) only when
/// `../shared` is beside the checkout, so none passes without having run.
pub(crate) fn require_shared() {
    let there = shared_dir().join("fixtures/stata-logs").is_dir()
        && shared_dir().join("real-logs").is_dir();
    assert!(
        there,
        "this test reads the real Stata logs in {}, which is not there",
        shared_dir().display()
    );
}

/// A real Stata log from `../shared/fixtures/stata-logs`, decoded lossily (some are Latin-1).
pub(crate) fn fixture(name: &str) -> String {
    let path = shared_dir().join("fixtures/stata-logs").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The test double of Stata, built by `cargo test` as the `stata-double` example.
pub(crate) fn double_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target/<profile>/examples/stata-double
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = profile_dir.join("examples").join("stata-double");
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build --examples`",
        p.display()
    );
    p
}

pub(crate) fn server_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stata-mcp"))
}

/// A temp dir holding `bin/stata-mp` (a link to the double), a work dir, a log dir and a
/// home folder for the server (so nothing a test runs touches the real one).
pub(crate) struct FakeStata {
    pub dir: tempfile::TempDir,
}

impl FakeStata {
    pub(crate) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stata-mcp-test")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("bin")).expect("bin");
        std::fs::create_dir_all(dir.path().join("work")).expect("work");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        // A link, as installs have; the edition comes from the link's name.
        #[cfg(unix)]
        std::os::unix::fs::symlink(double_path(), dir.path().join("bin/stata-mp")).expect("link");
        #[cfg(not(unix))]
        std::fs::copy(double_path(), dir.path().join("bin/stata-mp")).expect("copy");
        Self { dir }
    }
    pub(crate) fn stata(&self) -> PathBuf {
        self.dir.path().join("bin/stata-mp")
    }
    pub(crate) fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    pub(crate) fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }
    /// The server's `HOME` (its `~/ado` folders, anything else Stata would keep there).
    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    /// A folder standing in for SSC (`STATA_DOUBLE_SSC`) holding the package `hello`, whose
    /// ado-file says `*! version 1.2.0` and prints "hello from the package".
    pub(crate) fn ssc_with_hello(&self) -> PathBuf {
        let ssc = self.work().parent().expect("root").join("ssc");
        std::fs::create_dir_all(&ssc).expect("ssc");
        std::fs::write(
            ssc.join("hello.ado"),
            "*! version 1.2.0 07dec2026\nprogram hello\ndisplay \"hello from the package\"\nend\n",
        )
        .expect("ado");
        ssc
    }

    pub(crate) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.work().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
    /// Live processes of the Stata double started from this fake install.
    pub(crate) fn live_processes(&self) -> Vec<u32> {
        processes_running(&self.stata())
    }
}

/// Pids of live (non-zombie) processes whose program (argv[0]) is `program`.
pub(crate) fn processes_running(program: &Path) -> Vec<u32> {
    let needle = program.to_string_lossy().into_owned();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        if !zombie && String::from_utf8_lossy(argv0) == needle {
            out.push(pid);
        }
    }
    out
}

/// One line the server wrote, and when the test read it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub at: Instant,
    pub msg: Value,
}

pub(crate) struct Client {
    pub child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Received>,
    /// Everything received so far, in order.
    pub seen: Vec<Received>,
    next_id: i64,
    /// The server's HOME when the test gave none; removed with the client.
    _home: tempfile::TempDir,
    /// The folder it runs in when the test named none (never the project's own checkout:
    /// the server keeps its research record in the folder it serves).
    _work: tempfile::TempDir,
}

impl Client {
    /// Starts the server with `args` (plus `--stata-path`, `--log-dir` and `--workdir` of `fake`).
    pub(crate) fn start(fake: &FakeStata, extra: &[&str]) -> Self {
        Self::start_with_env(fake, extra, &[])
    }

    /// Starts `cmd` as a client would. These tests read results as a program would,
    /// structuredContent included, unless `cmd` says otherwise; what each real client hands
    /// its model is checked in tests/clients_e2e.rs.
    pub(crate) fn spawn(mut cmd: Command) -> Self {
        if !cmd
            .get_envs()
            .any(|(k, _)| k == "STATA_MCP_STRUCTURED_CONTENT")
        {
            cmd.env("STATA_MCP_STRUCTURED_CONTENT", "always");
        }
        // A home of its own: nothing the server or Stata keeps there (~/ado) reaches the real one.
        let home = tempfile::Builder::new()
            .prefix("stata-mcp-home")
            .tempdir()
            .expect("home");
        if !cmd.get_envs().any(|(k, _)| k == "HOME") {
            cmd.env("HOME", home.path());
        }
        let work = tempfile::Builder::new()
            .prefix("stata-mcp-work")
            .tempdir()
            .expect("work");
        if cmd.get_current_dir().is_none() {
            cmd.current_dir(work.path());
        }
        // A green run stays quiet: the warnings tests of bad input provoke are expected.
        if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
            cmd.env("RUST_LOG", "error");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stata-mcp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("stdout carried a line that is not JSON ({e}): {line}")
                });
                if tx.send(Received { at, msg }).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            rx,
            seen: Vec::new(),
            next_id: 1,
            _home: home,
            _work: work,
        }
    }

    pub(crate) fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    pub(crate) fn send(&mut self, v: &Value) {
        self.send_raw(&v.to_string());
    }

    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next message, or None after `timeout`.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Option<Received> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => {
                self.seen.push(r.clone());
                Some(r)
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the response to `id`, collecting everything before it.
    pub(crate) fn wait_response(&mut self, id: i64, timeout: Duration) -> Value {
        let is_response = |m: &Value| m.get("id") == Some(&json!(id)) && m.get("method").is_none();
        // It may have come already, while waiting for another.
        if let Some(r) = self.seen.iter().find(|r| is_response(&r.msg)) {
            return r.msg.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self
                .recv(left)
                .unwrap_or_else(|| panic!("no response to request {id} within {timeout:?}"));
            if r.msg.get("id") == Some(&json!(id)) && r.msg.get("method").is_none() {
                return r.msg;
            }
        }
    }

    pub(crate) fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// `initialize` as the client called `name` sends it, with its `capabilities`; the
    /// response's result.
    pub(crate) fn initialize_as(&mut self, name: &str, capabilities: Value) -> Value {
        let id = self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": {"name": name, "version": "1.0.0"}}),
        );
        let resp = self.wait_response(id, Duration::from_secs(10));
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        resp["result"].clone()
    }

    /// Waits for the server's `roots/list` request and answers it with `uris`.
    pub(crate) fn answer_roots(&mut self, uris: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self
                .recv(left)
                .unwrap_or_else(|| panic!("the server never asked for roots"));
            if r.msg.get("method") == Some(&json!("roots/list")) {
                let roots: Vec<Value> = uris.iter().map(|u| json!({"uri": u})).collect();
                let id = r.msg["id"].clone();
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": {"roots": roots}}));
                return;
            }
        }
    }

    pub(crate) fn initialize(&mut self) {
        let id = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}),
        );
        let resp = self.wait_response(id, Duration::from_secs(10));
        assert!(resp.get("result").is_some(), "initialize failed: {resp}");
        // Clients show serverInfo to users: it names this server, not the SDK it is built on.
        assert_eq!(
            resp.pointer("/result/serverInfo/name"),
            Some(&json!("stata-mcp")),
            "{resp}"
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    /// Sends a tools/call; with `token`, asks for progress.
    pub(crate) fn call_tool(&mut self, name: &str, args: Value, token: Option<&str>) -> i64 {
        let mut params = json!({"name": name, "arguments": args});
        if let Some(t) = token {
            params["_meta"] = json!({"progressToken": t});
        }
        self.request("tools/call", params)
    }

    /// Progress frames seen so far for `token`.
    pub(crate) fn frames(&self, token: &str) -> Vec<Received> {
        self.seen
            .iter()
            .filter(|r| {
                r.msg.get("method").and_then(Value::as_str) == Some("notifications/progress")
                    && r.msg
                        .pointer("/params/progressToken")
                        .and_then(Value::as_str)
                        == Some(token)
            })
            .cloned()
            .collect()
    }

    /// Waits for the server to exit, up to `timeout`.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text block of a tools/call result.
/// A tool result's structured content.
pub(crate) fn structured(resp: &Value) -> &Value {
    resp.pointer("/result/structuredContent")
        .unwrap_or_else(|| panic!("no structuredContent in {resp}"))
}

/// Whether a tool result is marked as an error.
pub(crate) fn is_error(resp: &Value) -> bool {
    resp.pointer("/result/isError") == Some(&json!(true))
}

pub(crate) fn result_text(resp: &Value) -> String {
    resp.pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The message text of a progress frame.
pub(crate) fn frame_message(r: &Received) -> String {
    r.msg
        .pointer("/params/message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Waits until `cond` holds, polling, up to `timeout`.
pub(crate) fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

impl Client {
    /// Starts the server like [`Client::start`], with extra environment variables for it
    /// (and so for the Stata double it starts).
    pub(crate) fn start_with_env(fake: &FakeStata, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(server_path());
        cmd.arg("--stata-path")
            .arg(fake.stata())
            .arg("--log-dir")
            .arg(fake.log_dir())
            .arg("--workdir")
            .arg(fake.work())
            .args(extra)
            .env_remove("STATA_PATH")
            .env("HOME", fake.home())
            .env("RUST_LOG", "error");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd)
    }

    /// Calls a tool and waits for its response.
    pub(crate) fn call(&mut self, name: &str, args: Value, timeout: Duration) -> Value {
        let id = self.call_tool(name, args, None);
        self.wait_response(id, timeout)
    }
}

/// Whether this kernel has Landlock for the sandbox tests (`what`); where it has none they
/// say so once and return.
#[cfg(target_os = "linux")]
pub(crate) fn landlock_available(what: &str) -> bool {
    match stata_mcp::landlock_abi() {
        Ok(_) => true,
        Err(why) => {
            eprintln!("NOTE: the {what} tests are skipped: {why}");
            false
        }
    }
}
